//! `Stages`: a chain's queue of handlers not run yet — four inline, the rest on the heap.
//!
//! Most chains get a few callbacks, added before they fire and run in order. Keeping the
//! first four in the chain's own allocation means such a Deferred costs one allocation in
//! all (a handler that captures nothing boxes for free). Entries spill into a `VecDeque`
//! only while the ring is full; nothing goes back into the ring while the spill holds
//! entries, so the ring always holds the oldest ones and order is FIFO.

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::Location;

use crate::stage::Stage;

/// How many entries live inline.
const INLINE: usize = 4;

/// One queued handler.
pub(crate) struct Entry {
    pub(crate) stage: Box<dyn Stage>,
    /// Where it was added, named by a `Panicked` failure.
    pub(crate) added: &'static Location<'static>,
}

pub(crate) struct Stages {
    /// The oldest entries, from `start`, `len` of them.
    ring: [Cell<Option<Entry>>; INLINE],
    start: Cell<u8>,
    len: Cell<u8>,
    /// Entries added while the ring was full or the spill not empty; `None` when empty, so
    /// an unspilled queue costs one word.
    spill: Cell<Option<Box<Spill>>>,
    /// `spill` is `Some`: read without moving it out of its `Cell`.
    spilled: Cell<bool>,
}

/// The entries beyond the ring, oldest first.
#[derive(Default)]
struct Spill(VecDeque<Entry>);

impl Stages {
    #[inline]
    pub(crate) fn new() -> Stages {
        Stages {
            ring: [const { Cell::new(None) }; INLINE],
            start: Cell::new(0),
            len: Cell::new(0),
            spill: Cell::new(None),
            spilled: Cell::new(false),
        }
    }

    #[inline]
    pub(crate) fn push(&self, entry: Entry) {
        let len = self.len.get();
        if usize::from(len) < INLINE && !self.spilled.get() {
            let at = (usize::from(self.start.get()) + usize::from(len)) % INLINE;
            self.ring[at].set(Some(entry));
            self.len.set(len + 1);
        } else {
            self.push_spill(entry);
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
        let len = self.len.get();
        if len > 0 {
            let start = usize::from(self.start.get());
            self.start.set(((start + 1) % INLINE) as u8);
            self.len.set(len - 1);
            return self.ring[start].take();
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
        usize::from(self.len.get()) + spilled
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len.get() == 0 && !self.spilled.get()
    }
}
