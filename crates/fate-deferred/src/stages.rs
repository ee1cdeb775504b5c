//! `Stages`: a chain's queue of handlers not run yet — three inline, the rest on the heap.
//!
//! Most chains get a few callbacks, added before they fire and run in order. Keeping the
//! first three in the chain's own allocation means such a Deferred costs one allocation in
//! all (a handler that captures nothing boxes for free), in a 128-byte block. The inline
//! slots fill from the front and are read in order; when the last one queued has been taken
//! they are all free again. Entries spill into a queue on the heap (the owner keeps it, see
//! `State::push_stage`) only while the slots are full; nothing goes back into them while the
//! spill holds entries, so the slots always hold the oldest ones and order is FIFO.
//!
//! Where the queue stands is a [`Cursor`] of five bits, which the owner packs into its flag
//! word: a separate field would cost the block a word of padding.

use std::cell::Cell;

use crate::stage::Stage;

/// How many entries live inline: three handlers plus the control block fill 128 bytes, a
/// fourth would take a Deferred to the allocator's next size, 160.
const INLINE: usize = 3;

/// One queued handler: for a closure that captures nothing, two words and no allocation.
pub(crate) type Entry = Box<dyn Stage>;

/// The inline slots; `inline[cursor.next..cursor.end]` are the oldest entries, in order.
pub(crate) struct Stages {
    inline: [Cell<Option<Entry>>; INLINE],
}

/// Where a queue stands: the next inline entry to take, the end of the inline entries, and
/// whether entries wait in the spill. `next == end` only when both are 0 (taking the last
/// inline entry rewinds), so an empty queue is the all-zero cursor.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Cursor(u32);

impl Cursor {
    /// How many bits of its owner's word a cursor takes.
    pub(crate) const BITS: u32 = 5;
    /// No entry, inline or spilled.
    pub(crate) const EMPTY: Cursor = Cursor(0);
    const SPILLED: u32 = 1 << 4;
    /// Added to the word holding a cursor when an entry was pushed inline: `end + 1`. The
    /// end field never carries over (it is below 3 before a push).
    pub(crate) const PUSHED: u32 = 1 << 2;
    /// Added when an entry was popped and more remain inline: `next + 1`.
    pub(crate) const POPPED: u32 = 1;
    /// Kept of the word when the last inline entry was popped: `next` and `end` go to 0.
    pub(crate) const REWIND_MASK: u32 = !0b1111;

    /// The cursor stored in the low [`Cursor::BITS`] of `bits`.
    #[inline]
    pub(crate) fn from_bits(bits: u32) -> Cursor {
        Cursor(bits & ((1 << Cursor::BITS) - 1))
    }

    /// The cursor as the low [`Cursor::BITS`] bits of a word.
    #[inline]
    pub(crate) fn bits(self) -> u32 {
        self.0
    }

    #[inline]
    fn next(self) -> usize {
        (self.0 & 3) as usize
    }

    #[inline]
    fn end(self) -> usize {
        ((self.0 >> 2) & 3) as usize
    }

    /// Entries wait in the spill.
    #[inline]
    pub(crate) fn spilled(self) -> bool {
        self.0 & Cursor::SPILLED != 0
    }

    /// The same cursor with the spill marked full or empty.
    #[inline]
    pub(crate) fn with_spilled(self, spilled: bool) -> Cursor {
        Cursor(if spilled {
            self.0 | Cursor::SPILLED
        } else {
            self.0 & !Cursor::SPILLED
        })
    }

    /// No entry is queued.
    #[inline]
    pub(crate) fn is_empty(self) -> bool {
        self == Cursor::EMPTY
    }

    /// How many entries the inline slots hold.
    #[inline]
    pub(crate) fn inline_count(self) -> usize {
        self.end() - self.next()
    }
}

/// What taking an inline entry left: more inline entries, or none (the cursor rewinds).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Popped {
    More,
    Last,
}

impl Stages {
    #[inline]
    pub(crate) fn new() -> Stages {
        Stages {
            inline: [const { Cell::new(None) }; INLINE],
        }
    }

    /// Queues `entry` in the next inline slot; the owner then moves its cursor by
    /// [`Cursor::PUSHED`]. Hands `entry` back when it belongs in the spill (the slots are
    /// full, or the spill already holds entries).
    #[inline]
    pub(crate) fn push(&self, cur: Cursor, entry: Entry) -> Result<(), Entry> {
        if cur.spilled() {
            return Err(entry);
        }
        match self.inline.get(cur.end()) {
            Some(slot) => {
                // The cursor says the slot is free, so what `replace` hands back is `None`:
                // forgetting it saves the drop check `set` would make on every push.
                std::mem::forget(slot.replace(Some(entry)));
                Ok(())
            }
            None => Err(entry),
        }
    }

    /// Takes the oldest inline entry, with how the owner's cursor moves: add
    /// [`Cursor::POPPED`], or, when it was the last, rewind with [`Cursor::REWIND_MASK`].
    /// `None` when the inline slots are empty (the spill, if `cur.spilled()`, is next).
    #[inline]
    pub(crate) fn pop(&self, cur: Cursor) -> Option<(Entry, Popped)> {
        let (next, end) = (cur.next(), cur.end());
        if next >= end {
            return None;
        }
        let entry = self.inline.get(next).and_then(Cell::take)?;
        let popped = if next + 1 == end {
            Popped::Last
        } else {
            Popped::More
        };
        Some((entry, popped))
    }

    /// Moves the inline entries out, leaving the slots empty.
    pub(crate) fn take(&mut self) -> Stages {
        std::mem::replace(self, Stages::new())
    }
}
