//! A hierarchical timing wheel with exact deadlines: the store behind every timer.
//!
//! Deadlines are `u64` nanoseconds since the owner's epoch. Entries live in a slab (a `Vec`
//! with a free list and a generation per slot), so after warm-up no timer allocates. A handle
//! ([`Key`]) is a slab index plus the slot's generation: a key whose entry fired or was removed
//! is recognised as stale and never touches a newer entry that reuses the slot.
//!
//! # Structure
//!
//! - **Levels.** [`LEVELS`] levels of 64 slots. A level-0 slot spans 2^[`RES_BITS`] ns
//!   (65.5 µs); each level up is 64 times coarser, and the top level spans the whole `u64`
//!   range, so nothing is ever clamped. A slot is a `Vec<u32>` of slab indices; each entry
//!   knows its position in that vector, so removal is a `swap_remove`: O(1). Each level keeps
//!   a 64-bit occupancy bitmap, so the next non-empty slot is found with a rotate and a
//!   trailing-zero count per level: O(levels).
//! - **Ready set.** Exact ordering inside a level-0 slot comes from the ready set. When a
//!   level-0 slot becomes current its entries are sorted once by (deadline, sequence) into
//!   `run`; entries scheduled later with a deadline before `ready_until` go to the small
//!   `late` heap. Popping compares the two heads. Removing a ready entry is lazy: its item
//!   stays behind as a stale item (recognised by its sequence number) and is skipped, and the
//!   ready set is compacted when stale items outnumber live ones.
//! - **Lazy cascading.** A slot of level ≥ 1 is redistributed into lower levels only when
//!   time reaches its start, and at most [`CASCADE_BUDGET`] entries per call of
//!   [`Wheel::pop_expired`]: a slot holding a million timers is moved over many loop turns
//!   instead of stalling one.
//!
//! # Invariants
//!
//! 1. Every live ready item has `when < ready_until`; every wheel entry has
//!    `when >= ready_until`. So the ready set always holds the earliest entries.
//! 2. `elapsed <= ready_until`; `elapsed` is the start of the slot most recently made current
//!    and is the reference for placing entries: an entry sits at the level of the highest bit
//!    in which its deadline differs from `elapsed` (above the level-0 resolution).
//! 3. For levels ≥ 1, an occupied slot index is greater than `elapsed`'s digit at that level
//!    (entries share all higher digits with `elapsed`), except the slot being cascaded.
//!    Hence the lowest occupied level holds the earliest wheel entries.
//! 4. The heads of `run` and `late` are live (stale heads are dropped eagerly).
//!
//! # Ordering
//!
//! [`Wheel::pop_expired`] yields entries with deadline ≤ `now` in (deadline, sequence) order,
//! where the sequence number is taken at insertion and again at each reschedule; it never
//! yields an entry whose deadline is after `now`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Bits of the level-0 resolution: a level-0 slot spans 2^16 ns = 65.536 µs.
pub(crate) const RES_BITS: u32 = 16;
/// Bits per level: 64 slots.
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// Enough levels to cover all 64 bits of a deadline: (64 - 16) / 6.
pub(crate) const LEVELS: usize = ((64 - RES_BITS) / SLOT_BITS) as usize;
/// Entries moved by one call of [`Wheel::pop_expired`] while cascading a coarse slot.
pub(crate) const CASCADE_BUDGET: usize = 4096;
/// No free slot (end of the free list).
const NIL: u32 = u32::MAX;
/// Stale ready items tolerated before a compaction is considered.
const STALE_SLACK: usize = 64;

/// A handle to one entry of a [`Wheel`]: slab index and generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    index: u32,
    generation: u32,
}

/// Where an occupied entry is currently filed.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// In `levels[level].slots[slot][pos]`.
    Wheel { level: u8, slot: u8, pos: u32 },
    /// In the ready set (`run` or `late`), as an item carrying this entry's `seq`.
    Ready,
}

struct Node<T> {
    /// Deadline, ns since the epoch.
    when: u64,
    /// Insertion sequence number: tie-break for equal deadlines, and the identity of this
    /// entry's (only live) ready item.
    seq: u64,
    place: Place,
    value: T,
}

enum State<T> {
    Vacant { next_free: u32 },
    Occupied(Node<T>),
}

struct Slot<T> {
    /// Bumped each time the slot is vacated, so old keys go stale.
    generation: u32,
    state: State<T>,
}

/// An entry in the ready set, ordered by (deadline, sequence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ReadyItem {
    when: u64,
    seq: u64,
    index: u32,
}

impl ReadyItem {
    fn order(&self) -> (u64, u64) {
        (self.when, self.seq)
    }
}

/// Reversed order, so that `BinaryHeap` (a max-heap) pops the earliest item.
#[derive(PartialEq, Eq)]
struct Earliest(ReadyItem);

impl Ord for Earliest {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.order().cmp(&self.0.order())
    }
}

impl PartialOrd for Earliest {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

struct Level {
    /// Bit `s` set ⇔ `slots[s]` is non-empty.
    occupied: u64,
    slots: [Vec<u32>; SLOTS],
}

impl Level {
    fn new() -> Level {
        Level {
            occupied: 0,
            slots: std::array::from_fn(|_| Vec::new()),
        }
    }
}

/// A hierarchical timing wheel of values `T` keyed by exact `u64` deadlines.
pub(crate) struct Wheel<T> {
    /// Entry storage; indices are stable while an entry lives.
    slab: Vec<Slot<T>>,
    /// Head of the free list threaded through vacant slots.
    free_head: u32,
    /// Number of occupied entries (pending timers).
    len: usize,
    /// Next sequence number.
    next_seq: u64,
    /// Reference time for placing entries in levels (invariant 2).
    elapsed: u64,
    /// Entries with a deadline before this are in the ready set (invariant 1).
    ready_until: u64,
    levels: Box<[Level; LEVELS]>,
    /// Sorted ready items, latest first: the current level-0 slot, popped from the end.
    run: Vec<ReadyItem>,
    /// Ready items scheduled after the current slot was sorted.
    late: BinaryHeap<Earliest>,
    /// Items in `run` and `late` whose entry was removed or rescheduled.
    stale: usize,
    /// The coarse slot being redistributed, if a cascade was cut short by the budget.
    cascading: Option<(u8, u8)>,
    /// Entries moved per `pop_expired` call while cascading.
    budget: usize,
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Wheel<T> {
    /// An empty wheel whose time starts at 0.
    pub(crate) fn new() -> Wheel<T> {
        Wheel {
            slab: Vec::new(),
            free_head: NIL,
            len: 0,
            next_seq: 0,
            elapsed: 0,
            ready_until: 0,
            levels: Box::new(std::array::from_fn(|_| Level::new())),
            run: Vec::new(),
            late: BinaryHeap::new(),
            stale: 0,
            cascading: None,
            budget: CASCADE_BUDGET,
        }
    }

    /// Sets the cascade budget (tests use tiny budgets to exercise partial cascades).
    #[cfg(test)]
    pub(crate) fn set_budget(&mut self, budget: usize) {
        self.budget = budget.max(1);
    }

    /// Number of pending entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry is pending.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Schedules `value` at `when`; O(1).
    pub(crate) fn insert(&mut self, when: u64, value: T) -> Key {
        let seq = self.take_seq();
        let index = self.alloc(Node {
            when,
            seq,
            place: Place::Ready,
            value,
        });
        self.file(index, when, seq);
        Key {
            index,
            generation: self.slab[index as usize].generation,
        }
    }

    /// Removes the entry of `key`, if it is still pending; O(1).
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        self.node(key)?;
        self.unfile(key.index);
        Some(self.free(key.index).value)
    }

    /// Moves the entry of `key` to `when`, as if it were inserted now (it goes after entries
    /// already scheduled at the same deadline). Returns false if the key is stale; O(1).
    pub(crate) fn reschedule(&mut self, key: Key, when: u64) -> bool {
        if self.node(key).is_none() {
            return false;
        }
        self.unfile(key.index);
        let seq = self.take_seq();
        let node = self.node_at_mut(key.index);
        node.when = when;
        node.seq = seq;
        self.file(key.index, when, seq);
        true
    }

    /// Whether `key`'s entry is pending.
    pub(crate) fn contains(&self, key: Key) -> bool {
        self.node(key).is_some()
    }

    /// The deadline of `key`'s entry, if it is pending.
    #[cfg(test)]
    pub(crate) fn deadline(&self, key: Key) -> Option<u64> {
        self.node(key).map(|n| n.when)
    }

    /// The value of `key`'s entry, if it is pending.
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        let slot = self.slab.get_mut(key.index as usize)?;
        match &mut slot.state {
            State::Occupied(node) if slot.generation == key.generation => Some(&mut node.value),
            _ => None,
        }
    }

    /// The deadlines of all pending entries, in firing order.
    pub(crate) fn deadlines(&self) -> Vec<u64> {
        let mut all: Vec<(u64, u64)> = self
            .slab
            .iter()
            .filter_map(|slot| match &slot.state {
                State::Occupied(node) => Some((node.when, node.seq)),
                State::Vacant { .. } => None,
            })
            .collect();
        all.sort_unstable();
        all.into_iter().map(|(when, _)| when).collect()
    }

    /// Removes every entry and returns the values (in no particular order). Keys go stale.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        let mut values = Vec::with_capacity(self.len);
        for index in 0..self.slab.len() {
            if matches!(self.slab[index].state, State::Occupied(_)) {
                values.push(self.free(index as u32).value);
            }
        }
        for level in self.levels.iter_mut() {
            level.occupied = 0;
            level.slots.iter_mut().for_each(Vec::clear);
        }
        self.run.clear();
        self.late.clear();
        self.stale = 0;
        self.cascading = None;
        values
    }

    /// A lower bound of the earliest pending deadline; `None` when nothing is pending.
    ///
    /// Exact when the earliest entry is in the ready set; otherwise the start of the first
    /// occupied slot, or the current reference time while a cascade is unfinished. Whenever
    /// `now >= next_deadline()`, [`pop_expired`](Self::pop_expired) makes progress: it yields
    /// an entry, or makes the current slot's entries ready, or cascades up to the budget.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        if let Some(item) = self.ready_head() {
            return Some(item.when);
        }
        if self.cascading.is_some() {
            return Some(self.elapsed);
        }
        self.next_slot().map(|(_, _, start)| start)
    }

    /// Pops the earliest entry if its deadline is ≤ `now`.
    ///
    /// Returns `None` when nothing is due, or when the cascade budget of this call ran out
    /// (then `next_deadline() <= now` still holds and the caller should call again after
    /// attending to other work).
    pub(crate) fn pop_expired(&mut self, now: u64) -> Option<(u64, T)> {
        let mut budget = self.budget;
        loop {
            if let Some(item) = self.ready_head() {
                if item.when > now {
                    return None;
                }
                self.pop_ready_head();
                let node = self.free(item.index);
                return Some((node.when, node.value));
            }
            if let Some((level, slot)) = self.cascading {
                budget = self.cascade(level as usize, slot as usize, budget);
                if budget == 0 && self.cascading.is_some() {
                    return None;
                }
                continue;
            }
            let (level, slot, start) = self.next_slot()?;
            if start > now {
                return None;
            }
            debug_assert!(start >= self.elapsed);
            self.elapsed = start;
            self.ready_until = start;
            if level == 0 {
                self.make_ready(slot);
            } else {
                self.cascading = Some((level as u8, slot as u8));
            }
        }
    }

    // ---- placement ----------------------------------------------------------------------

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Files the (occupied, unfiled) entry at `index` by its deadline.
    fn file(&mut self, index: u32, when: u64, seq: u64) {
        if when < self.ready_until {
            self.node_at_mut(index).place = Place::Ready;
            self.late.push(Earliest(ReadyItem { when, seq, index }));
        } else {
            self.file_in_wheel(index, when);
        }
    }

    fn file_in_wheel(&mut self, index: u32, when: u64) {
        let level = level_for(self.elapsed, when);
        let slot = digit(when, level);
        let lvl = &mut self.levels[level];
        let vec = &mut lvl.slots[slot];
        let pos = vec.len() as u32;
        vec.push(index);
        lvl.occupied |= 1 << slot;
        self.node_at_mut(index).place = Place::Wheel {
            level: level as u8,
            slot: slot as u8,
            pos,
        };
    }

    /// Takes the entry at `index` out of its level slot, or marks its ready item stale.
    fn unfile(&mut self, index: u32) {
        match self.node_at_mut(index).place {
            Place::Wheel { level, slot, pos } => {
                let lvl = &mut self.levels[level as usize];
                let vec = &mut lvl.slots[slot as usize];
                vec.swap_remove(pos as usize);
                if let Some(&moved) = vec.get(pos as usize) {
                    if let Place::Wheel { pos: p, .. } = &mut self.node_at_mut(moved).place {
                        *p = pos;
                    }
                } else if vec.is_empty() {
                    lvl.occupied &= !(1 << slot);
                    if self.cascading == Some((level, slot)) {
                        self.cascading = None;
                    }
                }
            }
            Place::Ready => {
                // Its item stays in `run` or `late` and goes stale once the node changes.
                self.stale += 1;
                self.node_at_mut(index).seq = u64::MAX;
                self.drop_stale_heads();
                self.maybe_compact();
            }
        }
    }

    /// The first occupied slot: `(level, slot, start)` (invariant 3).
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        for (level, lvl) in self.levels.iter().enumerate() {
            if lvl.occupied == 0 {
                continue;
            }
            let current = digit(self.elapsed, level);
            let ahead = lvl.occupied.rotate_right(current as u32).trailing_zeros() as usize;
            let slot = current + ahead;
            debug_assert!(slot < SLOTS, "occupied slot behind the wheel's time");
            let span_bits = shift(level) + SLOT_BITS;
            let base = if span_bits >= 64 {
                0
            } else {
                self.elapsed & !((1u64 << span_bits) - 1)
            };
            return Some((level, slot, base + ((slot as u64) << shift(level))));
        }
        None
    }

    /// Moves the (current) level-0 slot into the ready set, sorted.
    fn make_ready(&mut self, slot: usize) {
        debug_assert!(self.run.is_empty() && self.late.is_empty() && self.stale == 0);
        let lvl = &mut self.levels[0];
        lvl.occupied &= !(1 << slot);
        let mut indices = std::mem::take(&mut lvl.slots[slot]);
        self.run.reserve(indices.len());
        for &index in &indices {
            let node = match &mut self.slab[index as usize].state {
                State::Occupied(node) => node,
                State::Vacant { .. } => unreachable!("vacant entry filed in the wheel"),
            };
            node.place = Place::Ready;
            self.run.push(ReadyItem {
                when: node.when,
                seq: node.seq,
                index,
            });
        }
        self.run
            .sort_unstable_by_key(|item| std::cmp::Reverse(item.order()));
        self.ready_until = self.elapsed.saturating_add(1 << RES_BITS);
        indices.clear();
        self.levels[0].slots[slot] = indices;
    }

    /// Redistributes up to `budget` entries of a coarse slot; returns the budget left.
    fn cascade(&mut self, level: usize, slot: usize, mut budget: usize) -> usize {
        while budget > 0 {
            let Some(index) = self.levels[level].slots[slot].pop() else {
                break;
            };
            budget -= 1;
            let when = self.node_at_mut(index).when;
            debug_assert!(level_for(self.elapsed, when) < level);
            self.file_in_wheel(index, when);
        }
        if self.levels[level].slots[slot].is_empty() {
            self.levels[level].occupied &= !(1 << slot);
            self.cascading = None;
        }
        budget
    }

    // ---- ready set ------------------------------------------------------------------------

    fn is_live(&self, item: &ReadyItem) -> bool {
        matches!(&self.slab[item.index as usize].state,
            State::Occupied(node) if node.seq == item.seq)
    }

    fn ready_head(&self) -> Option<ReadyItem> {
        match (self.run.last(), self.late.peek()) {
            (Some(a), Some(Earliest(b))) => Some(if a.order() < b.order() { *a } else { *b }),
            (Some(a), None) => Some(*a),
            (None, Some(Earliest(b))) => Some(*b),
            (None, None) => None,
        }
    }

    /// Removes the head of the ready set (which is live), then any stale heads.
    fn pop_ready_head(&mut self) {
        let from_run = match (self.run.last(), self.late.peek()) {
            (Some(a), Some(Earliest(b))) => a.order() < b.order(),
            (run, _) => run.is_some(),
        };
        if from_run {
            self.run.pop();
        } else {
            self.late.pop();
        }
        self.drop_stale_heads();
    }

    fn drop_stale_heads(&mut self) {
        while let Some(item) = self.run.last() {
            if self.is_live(item) {
                break;
            }
            self.run.pop();
            self.stale -= 1;
        }
        while let Some(Earliest(item)) = self.late.peek() {
            if self.is_live(item) {
                break;
            }
            self.late.pop();
            self.stale -= 1;
        }
    }

    /// Drops stale ready items once they outnumber the live ones: amortised O(1).
    fn maybe_compact(&mut self) {
        let total = self.run.len() + self.late.len();
        if self.stale <= STALE_SLACK || self.stale * 2 <= total {
            return;
        }
        let slab = &self.slab;
        let live = |item: &ReadyItem| {
            matches!(&slab[item.index as usize].state,
                State::Occupied(node) if node.seq == item.seq)
        };
        self.run.retain(live);
        self.late.retain(|Earliest(item)| live(item));
        self.stale = 0;
    }

    // ---- slab -----------------------------------------------------------------------------

    fn node(&self, key: Key) -> Option<&Node<T>> {
        let slot = self.slab.get(key.index as usize)?;
        match &slot.state {
            State::Occupied(node) if slot.generation == key.generation => Some(node),
            _ => None,
        }
    }

    fn node_at_mut(&mut self, index: u32) -> &mut Node<T> {
        match &mut self.slab[index as usize].state {
            State::Occupied(node) => node,
            State::Vacant { .. } => unreachable!("vacant wheel entry used"),
        }
    }

    fn alloc(&mut self, node: Node<T>) -> u32 {
        self.len += 1;
        if self.free_head != NIL {
            let index = self.free_head;
            let slot = &mut self.slab[index as usize];
            match std::mem::replace(&mut slot.state, State::Occupied(node)) {
                State::Vacant { next_free } => self.free_head = next_free,
                State::Occupied(_) => unreachable!("occupied slot on the free list"),
            }
            index
        } else {
            let index = u32::try_from(self.slab.len())
                .ok()
                .filter(|&i| i != NIL)
                .expect("more than 2^32 - 1 pending timers");
            self.slab.push(Slot {
                generation: 0,
                state: State::Occupied(node),
            });
            index
        }
    }

    /// Vacates the slot at `index` (already unfiled) and returns its node.
    fn free(&mut self, index: u32) -> Node<T> {
        self.len -= 1;
        let slot = &mut self.slab[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        let old = std::mem::replace(
            &mut slot.state,
            State::Vacant {
                next_free: self.free_head,
            },
        );
        self.free_head = index;
        match old {
            State::Occupied(node) => node,
            State::Vacant { .. } => unreachable!("freeing a vacant slot"),
        }
    }
}

/// Left shift of `level`'s digit.
fn shift(level: usize) -> u32 {
    RES_BITS + SLOT_BITS * level as u32
}

/// `when`'s slot index at `level`.
fn digit(when: u64, level: usize) -> usize {
    ((when >> shift(level)) & (SLOTS as u64 - 1)) as usize
}

/// The level of a deadline relative to `elapsed`: where their highest differing digit is.
fn level_for(elapsed: u64, when: u64) -> usize {
    let diff = (elapsed ^ when) >> RES_BITS;
    if diff == 0 {
        0
    } else {
        ((63 - diff.leading_zeros()) / SLOT_BITS) as usize
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// xorshift64*: deterministic, dependency-free randomness for the model test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        /// A delay on a random scale, from 0 to about 2^50 ns.
        fn delay(&mut self) -> u64 {
            match self.below(10) {
                0 => 0,
                1 => self.below(1 << RES_BITS),
                _ => {
                    let bits = self.below(50) as u32 + 1;
                    self.below(1u64 << bits)
                }
            }
        }
    }

    #[test]
    fn level_and_digits() {
        assert_eq!(LEVELS, 8);
        assert_eq!(level_for(0, 0), 0);
        assert_eq!(level_for(0, (1 << RES_BITS) - 1), 0);
        assert_eq!(level_for(0, 63 << RES_BITS), 0);
        assert_eq!(level_for(0, 64 << RES_BITS), 1);
        assert_eq!(level_for(0, u64::MAX), LEVELS - 1);
        assert_eq!(digit(u64::MAX, LEVELS - 1), 63);
    }

    #[test]
    fn pops_in_deadline_then_fifo_order() {
        let mut wheel = Wheel::new();
        wheel.insert(5_000_000, "c");
        wheel.insert(1_000, "a");
        wheel.insert(5_000_000, "d");
        wheel.insert(1_000, "b");
        assert_eq!(wheel.next_deadline(), Some(0));
        assert_eq!(wheel.pop_expired(999), None);
        assert_eq!(
            wheel.next_deadline(),
            Some(1_000),
            "exact once the slot is ready"
        );
        assert_eq!(wheel.pop_expired(1_000), Some((1_000, "a")));
        assert_eq!(wheel.pop_expired(1_000), Some((1_000, "b")));
        assert_eq!(wheel.pop_expired(4_999_999), None);
        assert_eq!(wheel.pop_expired(u64::MAX), Some((5_000_000, "c")));
        assert_eq!(wheel.pop_expired(u64::MAX), Some((5_000_000, "d")));
        assert_eq!(wheel.pop_expired(u64::MAX), None);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_deadline(), None);
    }

    #[test]
    fn remove_and_reschedule_with_stale_keys() {
        let mut wheel = Wheel::new();
        let a = wheel.insert(10, 'a');
        let b = wheel.insert(20, 'b');
        assert_eq!(wheel.remove(a), Some('a'));
        assert_eq!(wheel.remove(a), None);
        let c = wheel.insert(30, 'c');
        assert_eq!(c.index, a.index, "slot reused");
        assert!(!wheel.contains(a) && wheel.contains(c));
        assert!(wheel.reschedule(b, 40));
        assert_eq!(wheel.deadline(b), Some(40));
        assert_eq!(wheel.pop_expired(100), Some((30, 'c')));
        assert!(!wheel.reschedule(c, 50));
        assert_eq!(wheel.pop_expired(100), Some((40, 'b')));
        assert_eq!(wheel.len(), 0);
    }

    #[test]
    fn late_inserts_keep_order_with_the_sorted_run() {
        let mut wheel = Wheel::new();
        wheel.insert(100, 1);
        wheel.insert(300, 3);
        assert_eq!(wheel.pop_expired(100), Some((100, 1)));
        // The slot is current: these go to the late heap.
        wheel.insert(200, 2);
        wheel.insert(300, 4);
        wheel.insert(50, 0);
        let popped: Vec<_> = std::iter::from_fn(|| wheel.pop_expired(1_000)).collect();
        assert_eq!(popped, vec![(50, 0), (200, 2), (300, 3), (300, 4)]);
    }

    #[test]
    fn stale_ready_items_are_compacted() {
        let mut wheel = Wheel::new();
        wheel.insert(1, ());
        assert!(wheel.pop_expired(1).is_some());
        let keep = wheel.insert(2, ());
        for _ in 0..10_000 {
            let key = wheel.insert(0, ());
            wheel.remove(key);
        }
        assert!(wheel.run.len() + wheel.late.len() <= 2 * STALE_SLACK + 2);
        assert!(wheel.contains(keep));
        assert_eq!(wheel.pop_expired(2), Some((2, ())));
    }

    #[test]
    fn cascades_a_big_slot_in_bounded_steps() {
        let mut wheel = Wheel::new();
        wheel.set_budget(100);
        let start = 1u64 << 40;
        for i in 0..1_000u64 {
            wheel.insert(start + i * 7, i);
        }
        let mut nones = 0;
        let mut popped = 0;
        loop {
            match wheel.pop_expired(start + 10_000) {
                Some((when, i)) => {
                    assert_eq!(when, start + i * 7);
                    assert_eq!(i, popped);
                    popped += 1;
                }
                None if wheel.next_deadline().is_some_and(|d| d <= start + 10_000) => nones += 1,
                None => break,
            }
        }
        assert_eq!(popped, 1_000);
        assert!(
            nones >= 9,
            "the cascade took several bounded calls: {nones}"
        );
        assert!(nones < 100);
    }

    #[test]
    fn drain_empties_everything() {
        let mut wheel = Wheel::new();
        let keys: Vec<_> = (0..100u64).map(|i| wheel.insert(i << 20, i)).collect();
        wheel.pop_expired(0);
        let mut values = wheel.drain();
        values.sort_unstable();
        assert_eq!(values, (1..100).collect::<Vec<_>>());
        assert!(keys.iter().all(|&k| !wheel.contains(k)));
        assert_eq!(wheel.next_deadline(), None);
        wheel.insert(5, 5);
        assert_eq!(wheel.pop_expired(5 << 20), Some((5, 5)));
    }

    /// The wheel against a `BTreeMap<(deadline, seq), value>`, with every operation interleaved
    /// and time moving on every scale.
    fn model_run(seed: u64, budget: usize, steps: usize) {
        let mut rng = Rng(seed);
        let mut wheel = Wheel::new();
        wheel.set_budget(budget);
        let mut model: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        let mut keys: Vec<(Key, u64, u64)> = Vec::new(); // key, when, seq (as in the model)
        let mut seq = 0u64;
        let mut now = 0u64;
        let mut value = 0u64;
        for _ in 0..steps {
            match rng.below(100) {
                0..=39 => {
                    let when = now.saturating_add(rng.delay());
                    let when = if rng.below(20) == 0 {
                        now.saturating_sub(rng.delay())
                    } else {
                        when
                    };
                    value += 1;
                    let key = wheel.insert(when, value);
                    model.insert((when, seq), value);
                    keys.push((key, when, seq));
                    seq += 1;
                }
                40..=54 if !keys.is_empty() => {
                    let i = rng.below(keys.len() as u64) as usize;
                    let (key, when, s) = keys.swap_remove(i);
                    let expected = model.remove(&(when, s));
                    assert_eq!(wheel.remove(key), expected);
                }
                55..=64 if !keys.is_empty() => {
                    let i = rng.below(keys.len() as u64) as usize;
                    let (key, when, s) = keys[i];
                    let new_when = now.saturating_add(rng.delay());
                    let live = model.remove(&(when, s));
                    assert_eq!(wheel.reschedule(key, new_when), live.is_some());
                    match live {
                        Some(v) => {
                            model.insert((new_when, seq), v);
                            keys[i] = (key, new_when, seq);
                            seq += 1;
                        }
                        None => {
                            keys.swap_remove(i);
                        }
                    }
                }
                _ => {
                    now = now.saturating_add(rng.delay() >> rng.below(30));
                    let mut idle_calls = 0;
                    loop {
                        if let Some(&min) = model.keys().next() {
                            let nd = wheel.next_deadline().expect("pending entries");
                            assert!(nd <= min.0, "next_deadline {nd} above the minimum {min:?}");
                        } else {
                            assert_eq!(wheel.next_deadline(), None);
                        }
                        match wheel.pop_expired(now) {
                            Some((when, v)) => {
                                let (&(w, _), &mv) = model.iter().next().expect("model empty");
                                assert_eq!((when, v), (w, mv), "wrong order at now={now}");
                                assert!(when <= now, "fired early");
                                model.pop_first();
                                idle_calls = 0;
                            }
                            None => {
                                let due = model.keys().next().is_some_and(|k| k.0 <= now);
                                let progress = wheel.next_deadline().is_some_and(|d| d <= now);
                                assert!(!due || progress, "a due entry is stuck");
                                if !progress {
                                    break;
                                }
                                idle_calls += 1;
                                assert!(idle_calls < 100_000, "no progress");
                            }
                        }
                        if rng.below(8) == 0 {
                            break; // leave some due work for later, as a busy loop might
                        }
                    }
                    keys.retain(|(_, when, s)| model.contains_key(&(*when, *s)));
                }
            }
            assert_eq!(wheel.len(), model.len());
        }
        // Drain everything at the end of time.
        loop {
            match wheel.pop_expired(u64::MAX) {
                Some((when, v)) => {
                    let ((w, _), mv) = model.pop_first().expect("model empty");
                    assert_eq!((when, v), (w, mv));
                }
                None if wheel.next_deadline().is_some() => {}
                None => break,
            }
        }
        assert!(model.is_empty());
    }

    #[test]
    fn model_random_operations() {
        for seed in 1..=40u64 {
            model_run(
                seed.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                CASCADE_BUDGET,
                4_000,
            );
        }
    }

    #[test]
    fn model_random_operations_tiny_budget() {
        for seed in 1..=40u64 {
            model_run(
                seed.wrapping_mul(0xD1B5_4A32_D192_ED03),
                1 + (seed as usize % 5),
                4_000,
            );
        }
    }

    #[test]
    fn model_dense_deadlines() {
        // Many equal and nearby deadlines: FIFO ties and late inserts into the current slot.
        let mut wheel = Wheel::new();
        let mut model = BTreeMap::new();
        let mut rng = Rng(7);
        let mut now = 0;
        let mut seq = 0;
        for round in 0..200u64 {
            for _ in 0..50 {
                let when = now + rng.below(4) * 1_000;
                wheel.insert(when, round * 100 + seq % 100);
                model.insert((when, seq), round * 100 + seq % 100);
                seq += 1;
            }
            now += rng.below(3_000);
            while let Some((when, v)) = wheel.pop_expired(now) {
                let ((w, _), mv) = model.pop_first().unwrap();
                assert_eq!((when, v), (w, mv));
            }
            assert!(model.keys().next().is_none_or(|k| k.0 > now));
        }
    }
}
