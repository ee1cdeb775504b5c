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
//! Where the queue stands is a [`Cursor`] of four bits, which the owner packs into the lowest
//! bits of its flag word: a separate field would cost the block a word of padding.

use std::cell::Cell;

use crate::stage::Stage;

/// How many entries live inline: three handlers plus the control block fill 128 bytes, a
/// fourth would take a Deferred to the allocator's next size, 160.
const INLINE: usize = 3;

/// One queued handler: for a closure that captures nothing, two words and no allocation.
pub(crate) type Entry = Box<dyn Stage>;

/// The inline slots; those whose bit is set in the cursor hold the oldest entries, in order.
pub(crate) struct Stages {
    inline: [Cell<Option<Entry>>; INLINE],
}

/// Where a queue stands: which inline slots hold an entry (bit `i` for slot `i`), and whether
/// entries wait in the spill. The occupied slots are one run, the oldest entry at the lowest
/// bit: a push goes just above the highest occupied slot, a pop takes the lowest. Taking the
/// last one leaves no bit set, and pushes start again at slot 0; an empty queue is the all-zero
/// cursor.
///
/// The owner keeps the cursor in the lowest bits of its word, so a pop is one subtraction and
/// one `and` on that word (clearing its lowest set bit), and a push one `or`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Cursor(u32);

impl Cursor {
    /// How many bits of its owner's word a cursor takes.
    pub(crate) const BITS: u32 = INLINE as u32 + 1;
    /// No entry, inline or spilled.
    pub(crate) const EMPTY: Cursor = Cursor(0);
    /// One bit per inline slot.
    const OCCUPIED: u32 = (1 << INLINE) - 1;
    const SPILLED: u32 = 1 << INLINE;

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
    fn occupied(self) -> u32 {
        self.0 & Cursor::OCCUPIED
    }

    /// The word holding a cursor after its oldest inline entry was taken: the word's lowest
    /// set bit is that entry's, since the occupied bits are its lowest ones.
    #[inline]
    pub(crate) fn popped(word: u32) -> u32 {
        word & word.wrapping_sub(1)
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
        self.occupied().count_ones() as usize
    }
}

/// The slot a push goes to, by cursor: the one above the highest occupied slot, or none
/// (`INLINE`, past the end) when the spill holds entries. One load instead of a bit scan and
/// a test of the spill bit.
const PUSH_SLOT: [u8; 1 << Cursor::BITS] = {
    let mut slots = [INLINE as u8; 1 << Cursor::BITS];
    let mut occupied = 0;
    while occupied <= Cursor::OCCUPIED {
        slots[occupied as usize] = (u32::BITS - occupied.leading_zeros()) as u8;
        occupied += 1;
    }
    slots
};

impl Stages {
    #[inline]
    pub(crate) fn new() -> Stages {
        Stages {
            inline: [const { Cell::new(None) }; INLINE],
        }
    }

    /// Queues `entry` in the inline slot above the occupied ones, and returns that slot's bit
    /// for the owner to set in its word. Hands `entry` back when it belongs in the spill (no
    /// slot is free above the occupied ones, or the spill already holds entries).
    #[inline]
    pub(crate) fn push(&self, cur: Cursor, entry: Entry) -> Result<u32, Entry> {
        let end = PUSH_SLOT[cur.0 as usize];
        match self.inline.get(usize::from(end)) {
            Some(slot) => {
                // The cursor says the slot is free, so what `replace` hands back is `None`:
                // forgetting it saves the drop check `set` would make on every push.
                std::mem::forget(slot.replace(Some(entry)));
                Ok(1 << end)
            }
            None => Err(entry),
        }
    }

    /// Takes the oldest inline entry; the owner then clears its bit with [`Cursor::popped`].
    /// `None` when the inline slots are empty (the spill, if `cur.spilled()`, is next).
    #[inline]
    pub(crate) fn pop(&self, cur: Cursor) -> Option<Entry> {
        let occupied = cur.occupied();
        if occupied == 0 {
            return None;
        }
        self.inline
            .get(occupied.trailing_zeros() as usize)
            .and_then(Cell::take)
    }

    /// Moves the inline entries out, leaving the slots empty.
    pub(crate) fn take(&mut self) -> Stages {
        std::mem::replace(self, Stages::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::Handler;
    use crate::{Failure, Outcome};

    /// An entry, and its address to recognise it when it comes back out.
    fn entry(id: u32) -> (Entry, *const ()) {
        let entry: Entry = Box::new(Handler::<u32, u32, _>::new(
            move |r: Result<u32, Failure>| Outcome::from_result(r.map(|x| x + id)),
        ));
        let at = &*entry as *const dyn Stage as *const ();
        (entry, at)
    }

    fn popped_is(stages: &Stages, word: &mut u32, expected: *const ()) {
        let entry = stages
            .pop(Cursor::from_bits(*word))
            .expect("an inline entry");
        assert!(std::ptr::addr_eq(&*entry as *const dyn Stage, expected));
        *word = Cursor::popped(*word);
    }

    #[test]
    fn slots_fill_upwards_are_taken_oldest_first_and_free_up_only_when_all_are_taken() {
        let stages = Stages::new();
        let mut word = 0;
        let mut at = Vec::new();
        for (id, bit) in [(1, 0b001), (2, 0b010), (3, 0b100)] {
            let (e, a) = entry(id);
            assert_eq!(stages.push(Cursor::from_bits(word), e).ok(), Some(bit));
            word |= bit;
            at.push(a);
        }
        assert_eq!(Cursor::from_bits(word).inline_count(), 3);
        assert!(
            stages.push(Cursor::from_bits(word), entry(4).0).is_err(),
            "full"
        );
        popped_is(&stages, &mut word, at[0]);
        // Slot 0 is free, but a newer entry must not go below the queued ones.
        assert!(stages.push(Cursor::from_bits(word), entry(5).0).is_err());
        popped_is(&stages, &mut word, at[1]);
        popped_is(&stages, &mut word, at[2]);
        assert!(Cursor::from_bits(word).is_empty());
        assert!(stages.pop(Cursor::from_bits(word)).is_none());
        assert_eq!(
            stages.push(Cursor::from_bits(word), entry(6).0).ok(),
            Some(0b001)
        );
    }

    #[test]
    fn nothing_goes_inline_while_the_spill_holds_entries() {
        let stages = Stages::new();
        let spilled = Cursor::EMPTY.with_spilled(true);
        assert!(stages.push(spilled, entry(1).0).is_err());
        assert!(!Cursor::from_bits(spilled.bits()).is_empty());
    }
}
