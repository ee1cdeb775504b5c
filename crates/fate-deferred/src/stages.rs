//! `Stages`: a chain's queue of handlers not run yet — three inline, the rest on the heap.
//!
//! Most chains get a few callbacks, added before they fire and run in order. Keeping the
//! first three in the chain's own allocation means such a Deferred costs one allocation in
//! all (a handler that captures nothing boxes for free), in a 160-byte block. The inline
//! slots fill from the front and are read in order; when the last one queued has been taken
//! they are all free again. Entries spill into a `VecDeque` only while the slots are full;
//! nothing goes back into them while the spill holds entries, so the slots always hold the
//! oldest ones and order is FIFO.

use std::cell::Cell;
use std::collections::VecDeque;

use crate::stage::Stage;

/// How many entries live inline: three handlers plus the control block fill 160 bytes, a
/// fourth would take a Deferred to the allocator's next size, 192.
const INLINE: usize = 3;

/// One queued handler: for a closure that captures nothing, two words and no allocation.
pub(crate) type Entry = Box<dyn Stage>;

pub(crate) struct Stages {
    /// `inline[next..end]` are the oldest entries, in order.
    inline: [Cell<Option<Entry>>; INLINE],
    next: Cell<u8>,
    end: Cell<u8>,
    /// Entries added while the inline slots were full or the spill not empty; `None` when
    /// empty, so an unspilled queue costs one word.
    spill: Cell<Option<Box<Spill>>>,
    /// `spill` is `Some`: read without moving it out of its `Cell`.
    spilled: Cell<bool>,
}

/// The entries beyond the inline slots, oldest first.
#[derive(Default)]
struct Spill(VecDeque<Entry>);

impl Stages {
    #[inline]
    pub(crate) fn new() -> Stages {
        Stages {
            inline: [const { Cell::new(None) }; INLINE],
            next: Cell::new(0),
            end: Cell::new(0),
            spill: Cell::new(None),
            spilled: Cell::new(false),
        }
    }

    #[inline]
    pub(crate) fn push(&self, entry: Entry) {
        let end = usize::from(self.end.get());
        match self.inline.get(end) {
            Some(slot) if !self.spilled.get() => {
                slot.set(Some(entry));
                self.end.set(end as u8 + 1);
            }
            _ => self.push_spill(entry),
        }
    }

    #[cold]
    #[inline(never)]
    fn push_spill(&self, entry: Entry) {
        let mut spill = self.spill.take().unwrap_or_default();
        spill.0.push_back(entry);
        self.spill.set(Some(spill));
        self.spilled.set(true);
    }

    #[inline]
    pub(crate) fn pop(&self) -> Option<Entry> {
        let (next, end) = (self.next.get(), self.end.get());
        if next < end {
            if next + 1 == end {
                self.next.set(0);
                self.end.set(0);
            } else {
                self.next.set(next + 1);
            }
            return self.inline.get(usize::from(next)).and_then(Cell::take);
        }
        if !self.spilled.get() {
            return None;
        }
        self.pop_spill()
    }

    #[cold]
    #[inline(never)]
    fn pop_spill(&self) -> Option<Entry> {
        let mut spill = self.spill.take()?;
        let entry = spill.0.pop_front();
        if spill.0.is_empty() {
            self.spilled.set(false);
        } else {
            self.spill.set(Some(spill));
        }
        entry
    }

    /// How many entries are queued.
    pub(crate) fn count(&self) -> usize {
        let spilled = match self.spill.take() {
            Some(spill) => {
                let n = spill.0.len();
                self.spill.set(Some(spill));
                n
            }
            None => 0,
        };
        usize::from(self.end.get() - self.next.get()) + spilled
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.end.get() == 0 && !self.spilled.get()
    }
}
