//! The control block every Deferred shares, and where a chain's current result is kept.
//!
//! # Shape
//! A Deferred is one allocation, [`Core`]: the untyped control block [`State`] followed by a
//! typed slot for values of the type it was created with ([`TypedSlot<T>`]). Every handle
//! sees it as a [`Chain`] (`Core<dyn Any>`), so the control block is a plain field, never a
//! virtual call. Each `add_callback` queues one [`Stage`](crate::stage::Stage) — the handler
//! closure, boxed (free when the closure captures nothing) — in the chain's
//! [`Stages`](crate::stages::Stages): three inline slots that spill to the heap beyond.
//!
//! # Where the current result is ([`Held`])
//! Values move from stage to stage on the stack (see `stage::proceed`). When a chain stops —
//! idle after its last stage, paused, at the end of a trampoline step, or fired with nothing
//! queued — the result is *parked*:
//! - a failure in [`State::failure`], whatever the chain's type at that point;
//! - a value of the type the Deferred was created with in the head's [`TypedSlot`];
//! - any other value boxed in [`State::boxed`] (boxed twice, so the field takes one word).
//!
//! The type of a parked value is always the input type of the next queued stage (or, with
//! none queued, the type of the `Deferred<U>` handle): the typed API guarantees it, and the
//! `Any` downcasts only recover it.
//!
//! # States of a chain ([`State`])
//! - *unfired*: `fired == false`; callbacks only queue up. `cancel()` runs the canceller.
//! - *fired, idle*: a result is parked and no stage is queued. Adding a callback runs it at
//!   once (twisted-semantics D7).
//! - *running*: a trampoline loop owns the chain; additions queue and the loop picks them up
//!   (D8); a fire/unpause of this chain from inside returns at once.
//! - *paused*: `paused > 0` (user) or `waiting` (a callback returned an unfired Deferred, C1;
//!   nothing is parked until that Deferred hands its result over).
//!   Forbidden: running while paused; `waiting` without `waiting_on` pointing at the inner
//!   chain; firing twice (the second fire is `AlreadyCalled` and changes nothing); a parked
//!   result while `waiting`.

use std::any::Any;
use std::cell::Cell;
use std::collections::VecDeque;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::rc::{Rc, Weak};

use crate::debug::{self, DebugSites};
use crate::release::{release, Garbage};
use crate::stages::{Cursor, Entry, Stages};
use crate::{unhandled, Failure};

/// Where a node's value is: nothing yet (or moved on), or a result.
#[derive(Default)]
pub(crate) enum Slot<T> {
    #[default]
    Empty,
    Ready(Result<T, Failure>),
}

/// One Deferred: its control block, then the slot typed by the type it was created with.
pub(crate) struct Core<S: ?Sized> {
    pub(crate) state: State,
    pub(crate) slot: S,
}

/// A Deferred as every handle but the producer's sees it: the slot's type erased.
pub(crate) type Chain = Core<dyn Any>;

/// A parked value of another type than the head's: boxed, and the box boxed again so that
/// [`State::boxed`] takes one word.
type Boxed = Box<Box<dyn Any>>;

/// The head's slot: a parked value of the Deferred's original type.
pub(crate) struct TypedSlot<T>(pub(crate) Cell<Option<T>>);

impl<S: ?Sized> Core<S> {
    #[inline]
    pub(crate) fn state(&self) -> &State {
        &self.state
    }
}

/// Where the current result of a chain is parked (see the module docs).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Held {
    /// No result: unfired, waiting, handed to a future, or on the stack of a running stage.
    Nothing = 0,
    /// A value in the head's [`TypedSlot`].
    Slot = 1,
    /// A value in [`State::boxed`].
    Boxed = 2,
    /// A failure in [`State::failure`].
    Failure = 3,
}

impl Held {
    #[inline]
    fn from_bits(bits: u32) -> Held {
        match bits & 3 {
            0 => Held::Nothing,
            1 => Held::Slot,
            2 => Held::Boxed,
            _ => Held::Failure,
        }
    }
}

/// The control block of one Deferred (Twisted's `Deferred` attributes, twisted-semantics 2.1).
pub(crate) struct State {
    /// Whether the chain fired, runs, waits, how often it is paused, where its result is
    /// ([`Held`]) and where its queue stands ([`Cursor`]), in one word (see [`Flags`]): "may
    /// this chain run now?" is one comparison, and the block stays at 128 bytes.
    flags: Cell<u32>,
    /// Live `Fire` ends; when the last one goes unfired the chain errbacks `Abandoned`.
    pub(crate) firers: Cell<u32>,
    /// The parked failure (`held == Failure`); reported as unhandled if dropped here.
    failure: ManuallyDrop<Cell<Option<Failure>>>,
    /// A parked value of another type than the head's (`held == Boxed`). Boxed twice so the
    /// field is one word: a value that changed type and stopped costs a second small
    /// allocation, a Deferred that never does costs nothing.
    boxed: ManuallyDrop<Cell<Option<Boxed>>>,
    /// The inline part of the queue of handlers not run yet, oldest first; the rest spill
    /// into [`Rare`].
    stages: ManuallyDrop<Stages>,
    /// The links few chains have, allocated the first time one is set.
    rare: ManuallyDrop<Cell<Option<Box<Rare>>>>,
    /// Where the Deferred was created (`#[track_caller]` on constructors).
    pub(crate) created: &'static Location<'static>,
    /// Where it was first fired (for `AlreadyCalled`).
    pub(crate) first_fired: Cell<Option<&'static Location<'static>>>,
}

impl State {
    #[inline]
    pub(crate) fn new(created: &'static Location<'static>) -> State {
        State {
            flags: Cell::new(0),
            firers: Cell::new(0),
            failure: ManuallyDrop::new(Cell::new(None)),
            boxed: ManuallyDrop::new(Cell::new(None)),
            stages: ManuallyDrop::new(Stages::new()),
            rare: ManuallyDrop::new(Cell::new(Rare::new_if_debugging())),
            created,
            first_fired: Cell::new(None),
        }
    }

    /// Set by the first fire; never reset.
    #[inline]
    pub(crate) fn fired(&self) -> bool {
        self.flags.get() & Flags::FIRED != 0
    }

    /// Marks a trampoline loop processing this chain (Twisted's `_runningCallbacks`).
    #[inline]
    pub(crate) fn set_running(&self, running: bool) {
        self.set_flag(Flags::RUNNING, running);
    }

    /// A callback returned an unfired Deferred; cleared when it hands its result over.
    #[inline]
    pub(crate) fn waiting(&self) -> bool {
        self.flags.get() & Flags::WAITING != 0
    }

    #[inline]
    pub(crate) fn set_waiting(&self, waiting: bool) {
        self.set_flag(Flags::WAITING, waiting);
    }

    #[inline]
    fn set_flag(&self, flag: u32, on: bool) {
        let flags = self.flags.get() & !flag;
        self.flags.set(if on { flags | flag } else { flags });
    }

    /// `cancel()` without a canceller swallows exactly one later fire (A2).
    pub(crate) fn set_suppress_already_called(&self, on: bool) {
        self.set_flag(Flags::SUPPRESS, on);
    }

    /// Whether one later fire is to be swallowed; clears the mark (it swallows one).
    pub(crate) fn take_suppress_already_called(&self) -> bool {
        let on = self.flags.get() & Flags::SUPPRESS != 0;
        self.set_flag(Flags::SUPPRESS, false);
        on
    }

    /// `cancel()` only runs the canceller and never errbacks `Cancelled` itself (a
    /// `DeferredList` overrides `cancel` this way in Twisted, L8).
    pub(crate) fn cancel_only_forwards(&self) -> bool {
        self.flags.get() & Flags::CANCEL_ONLY != 0
    }

    pub(crate) fn set_cancel_only_forwards(&self) {
        self.set_flag(Flags::CANCEL_ONLY, true);
    }

    /// Where the current result is parked, if it is.
    #[inline]
    pub(crate) fn held(&self) -> Held {
        Held::from_bits(self.flags.get() >> Flags::HELD_SHIFT)
    }

    #[inline]
    fn set_held(&self, held: Held) {
        let flags = self.flags.get() & !(3 << Flags::HELD_SHIFT);
        self.flags.set(flags | ((held as u32) << Flags::HELD_SHIFT));
    }

    #[inline]
    fn cursor(&self) -> Cursor {
        Cursor::from_bits(self.flags.get())
    }

    #[inline]
    fn set_cursor(&self, cursor: Cursor) {
        let flags = self.flags.get() & !Flags::CURSOR_MASK;
        self.flags.set(flags | cursor.bits());
    }

    /// Queues a handler behind the others.
    #[inline]
    pub(crate) fn push_stage(&self, entry: Entry) {
        match self.stages.push(self.cursor(), entry) {
            Ok(bit) => self.flags.set(self.flags.get() | bit),
            Err(entry) => self.push_spill(entry),
        }
    }

    #[cold]
    #[inline(never)]
    fn push_spill(&self, entry: Entry) {
        self.with_rare(|r| r.spill.push_back(entry));
        self.set_cursor(self.cursor().with_spilled(true));
    }

    /// Takes the oldest queued handler.
    #[inline]
    pub(crate) fn pop_stage(&self) -> Option<Entry> {
        let cursor = self.cursor();
        if let Some(entry) = self.stages.pop(cursor) {
            self.flags.set(Cursor::popped(self.flags.get()));
            return Some(entry);
        }
        if !cursor.spilled() {
            return None;
        }
        self.pop_spill()
    }

    #[cold]
    #[inline(never)]
    fn pop_spill(&self) -> Option<Entry> {
        let (entry, left) = self.with_rare(|r| (r.spill.pop_front(), !r.spill.is_empty()));
        self.set_cursor(self.cursor().with_spilled(left));
        entry
    }

    /// Whether any handler is queued.
    #[inline]
    pub(crate) fn has_stages(&self) -> bool {
        !self.cursor().is_empty()
    }

    /// How many handlers are queued.
    pub(crate) fn stage_count(&self) -> usize {
        let cursor = self.cursor();
        let spilled = if cursor.spilled() {
            self.with_rare(|r| r.spill.len())
        } else {
            0
        };
        cursor.inline_count() + spilled
    }

    /// Outstanding user `pause()`s. Counted apart from `waiting` so a stray `unpause()` cannot
    /// release a chain that waits on another Deferred.
    #[inline]
    pub(crate) fn paused(&self) -> u32 {
        self.flags.get() >> Flags::PAUSE_SHIFT
    }

    /// One more user `pause()` (the count saturates at 2^20 - 1).
    pub(crate) fn pause(&self) {
        let flags = self.flags.get();
        if flags < Flags::PAUSE_MAX {
            self.flags.set(flags + Flags::PAUSE_ONE);
        }
    }

    /// Undoes one user `pause()`; the caller checked `paused() > 0`.
    pub(crate) fn unpause(&self) {
        self.flags.set(self.flags.get() - Flags::PAUSE_ONE);
    }

    /// Paused by the user or waiting on another Deferred.
    #[inline]
    pub(crate) fn is_paused(&self) -> bool {
        self.flags.get() >> Flags::WAITING_SHIFT != 0
    }

    /// Fired, not paused, not already being processed.
    #[inline]
    pub(crate) fn runnable(&self) -> bool {
        self.flags.get() >> Flags::FIRED_SHIFT == 1
    }

    /// A result is parked and no handler is left to take it: what `try_result` reads.
    #[inline]
    pub(crate) fn has_final(&self) -> bool {
        self.held() != Held::Nothing && !self.has_stages()
    }

    /// Marks the chain fired and drops the canceller (X7: breaks reference cycles).
    #[inline]
    pub(crate) fn mark_fired(&self) {
        self.set_flag(Flags::FIRED, true);
        // Most chains have no rare links, so no canceller: one load tells.
        if let Some(rare) = self.rare.take() {
            self.drop_canceller(rare);
        }
    }

    #[cold]
    #[inline(never)]
    fn drop_canceller(&self, mut rare: Box<Rare>) {
        let canceller = rare.canceller.take();
        self.rare.set(Some(rare));
        drop(canceller);
    }

    /// Reads or updates the rare links; `f` must not call back into this chain.
    fn with_rare<R>(&self, f: impl FnOnce(&mut Rare) -> R) -> R {
        let mut rare = self.rare.take().unwrap_or_default();
        let out = f(&mut rare);
        self.rare.set(Some(rare));
        out
    }

    /// Takes the canceller, to run it (with no borrow held) or drop it.
    #[inline]
    pub(crate) fn take_canceller(&self) -> Option<Box<dyn FnOnce()>> {
        let mut rare = self.rare.take()?;
        let canceller = rare.canceller.take();
        self.rare.set(Some(rare));
        canceller
    }

    pub(crate) fn set_canceller(&self, canceller: Box<dyn FnOnce()>) {
        self.with_rare(|r| r.canceller = Some(canceller));
    }

    pub(crate) fn set_waiter(&self, waiter: Option<Weak<Chain>>) {
        if waiter.is_some() || self.has_rare() {
            self.with_rare(|r| r.waiter = waiter);
        }
    }

    pub(crate) fn waiter(&self) -> Option<Weak<Chain>> {
        if !self.has_rare() {
            return None;
        }
        self.with_rare(|r| r.waiter.clone())
    }

    pub(crate) fn set_waiting_on(&self, inner: Option<Weak<Chain>>) {
        if inner.is_some() || self.has_rare() {
            self.with_rare(|r| r.waiting_on = inner);
        }
    }

    fn has_rare(&self) -> bool {
        let rare = self.rare.take();
        let has = rare.is_some();
        self.rare.set(rare);
        has
    }

    /// What debugging recorded about this Deferred (`None` unless it was created while
    /// debugging was on).
    pub(crate) fn debug_sites(&self) -> Option<Rc<DebugSites>> {
        if !self.has_rare() {
            return None;
        }
        self.with_rare(|r| r.debug.clone())
    }

    /// Records the first firing site when debugging recorded the creation site.
    #[inline]
    pub(crate) fn record_first_fire(&self) {
        if debug::ever_on() {
            self.record_first_fire_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn record_first_fire_slow(&self) {
        if debug::debugging() {
            if let Some(sites) = self.debug_sites() {
                sites.fired();
            }
        }
    }

    /// Fires an unfired chain with a failure (cancellation, abandonment); the caller checked
    /// `fired`.
    pub(crate) fn fail_head(&self, failure: Failure) {
        self.park_failure(failure);
        self.mark_fired();
    }

    #[inline]
    pub(crate) fn park_failure(&self, failure: Failure) {
        self.failure.set(Some(failure));
        self.set_held(Held::Failure);
    }

    /// The chain this one waits on, if any and still alive.
    pub(crate) fn waited_on(&self) -> Option<Rc<Chain>> {
        if !self.has_rare() {
            return None;
        }
        self.with_rare(|r| r.waiting_on.as_ref().and_then(Weak::upgrade))
    }
}

/// The bits of [`State`]'s flag word, from the lowest: the queue's [`Cursor`], where the
/// result is ([`Held`], two bits), two marks for `cancel()`, then `fired`, `running`,
/// `waiting` and the user's pause count. Whatever lies above `FIRED` decides whether the
/// chain may run, so that test is one shift and one comparison.
struct Flags;

impl Flags {
    const CURSOR_MASK: u32 = (1 << Cursor::BITS) - 1;
    const HELD_SHIFT: u32 = Cursor::BITS;
    const SUPPRESS: u32 = 1 << (Flags::HELD_SHIFT + 2);
    const CANCEL_ONLY: u32 = Flags::SUPPRESS << 1;
    const FIRED_SHIFT: u32 = Flags::HELD_SHIFT + 4;
    const FIRED: u32 = 1 << Flags::FIRED_SHIFT;
    const RUNNING: u32 = Flags::FIRED << 1;
    const WAITING_SHIFT: u32 = Flags::FIRED_SHIFT + 2;
    const WAITING: u32 = 1 << Flags::WAITING_SHIFT;
    /// The pause count starts above the flags.
    const PAUSE_SHIFT: u32 = Flags::WAITING_SHIFT + 1;
    const PAUSE_ONE: u32 = 1 << Flags::PAUSE_SHIFT;
    /// At or above this, one more pause would overflow the word: the count saturates.
    const PAUSE_MAX: u32 = u32::MAX - (Flags::PAUSE_ONE - 1);
}

/// Links of a chain that few chains have.
#[derive(Default)]
struct Rare {
    /// Handlers queued beyond the inline slots, oldest first (see `stages`).
    spill: VecDeque<Entry>,
    /// The chain waited on, so `cancel()` can be forwarded (X4). Weak: the inner chain owns us
    /// through its continuation, and that must not become a cycle.
    waiting_on: Option<Weak<Chain>>,
    /// The chain waiting on this one (set while a continuation to it is attached), so a
    /// producer that vanishes can tell whether anyone still cares (see `Fire`'s drop).
    waiter: Option<Weak<Chain>>,
    /// Run by the first `cancel()` on an unfired chain; dropped at fire (X7).
    canceller: Option<Box<dyn FnOnce()>>,
    /// Creation and first-fire backtraces, recorded only with debugging on.
    debug: Option<Rc<DebugSites>>,
}

impl Rare {
    /// With debugging on, the links a new chain starts with: its creation backtrace.
    #[inline]
    fn new_if_debugging() -> Option<Box<Rare>> {
        if debug::ever_on() {
            Rare::new_debugging()
        } else {
            None
        }
    }

    #[cold]
    #[inline(never)]
    fn new_debugging() -> Option<Box<Rare>> {
        if !debug::debugging() {
            return None;
        }
        Some(Box::new(Rare {
            debug: Some(Rc::new(DebugSites::capture())),
            ..Rare::default()
        }))
    }
}

/// The `ManuallyDrop` fields are emptied here — whatever they still hold is moved out and
/// dropped — so a finished chain's drop is these few checks, with no drop glue walking empty
/// fields after them. An empty `Stages` or `Cell<None>` owns nothing: not dropping it leaks
/// nothing.
impl Drop for State {
    #[inline]
    fn drop(&mut self) {
        // A chain whose result was read owns nothing here: four loads, no stores.
        if self.failure.get_mut().is_some()
            || self.boxed.get_mut().is_some()
            || self.rare.get_mut().is_some()
            || self.has_stages()
        {
            self.drop_owned();
        }
    }
}

impl State {
    #[cold]
    #[inline(never)]
    fn drop_owned(&mut self) {
        if let Some(failure) = self.failure.take() {
            let sites = self.rare.get_mut().as_ref().and_then(|r| r.debug.clone());
            unhandled::report(self.created, failure, sites.as_deref());
        }
        if let Some(boxed) = self.boxed.take() {
            drop(boxed);
        }
        let spill = self.rare.take().map(|mut rare| {
            let spill = std::mem::take(&mut rare.spill);
            drop(rare);
            spill
        });
        if self.has_stages() {
            self.set_cursor(Cursor::EMPTY);
            release(Garbage::Stages {
                _inline: self.stages.take(),
                _spill: spill.unwrap_or_default(),
            });
        }
    }
}

/// Parks `result`, a value of the chain's current type `U` (see the module docs).
#[inline]
pub(crate) fn park<U: 'static>(chain: &Chain, result: Result<U, Failure>) {
    let st = &chain.state;
    match result {
        Ok(v) => match chain.slot.downcast_ref::<TypedSlot<U>>() {
            Some(slot) => {
                slot.0.set(Some(v));
                st.set_held(Held::Slot);
            }
            None => park_boxed(st, v),
        },
        Err(f) => st.park_failure(f),
    }
}

/// The boxed arm of [`park`], kept out of line: most chains end at their head's type.
#[inline(never)]
fn park_boxed<U: 'static>(st: &State, value: U) {
    st.boxed.set(Some(Box::new(Box::new(value))));
    st.set_held(Held::Boxed);
}

/// Takes the parked result as a `U`, the chain's current type; `None` if nothing is parked.
#[inline]
pub(crate) fn take_parked<U: 'static>(chain: &Chain) -> Option<Result<U, Failure>> {
    let st = &chain.state;
    let held = st.held();
    st.set_held(Held::Nothing);
    match held {
        Held::Nothing => None,
        Held::Slot => chain
            .slot
            .downcast_ref::<TypedSlot<U>>()
            .and_then(|slot| slot.0.take())
            .map(Ok),
        Held::Boxed => take_boxed(st),
        Held::Failure => st.failure.take().map(Err),
    }
}

/// The boxed arm of [`take_parked`], kept out of line: most chains end at their head's type.
#[inline(never)]
fn take_boxed<U: 'static>(st: &State) -> Option<Result<U, Failure>> {
    st.boxed
        .take()
        .and_then(|b| (*b).downcast::<U>().ok())
        .map(|v| Ok(*v))
}

/// Whether anyone could still see this chain's result: a handle or `Control` to it (`held`
/// tells how many references are ours), or to a chain waiting on it, transitively.
pub(crate) fn still_wanted(chain_refs: usize, held: usize, state: &State) -> bool {
    if chain_refs > held || has_own_handlers(state) {
        return true;
    }
    let mut next = state.waiter();
    while let Some(weak) = next {
        // The waiter is held by the continuation (one reference): anyone else counts.
        if weak.strong_count() > 1 {
            return true;
        }
        let Some(outer) = weak.upgrade() else {
            break;
        };
        if has_own_handlers(&outer.state) {
            return true;
        }
        next = outer.state.waiter();
    }
    false
}

/// Whether handlers other than the continuation to a waiting chain are attached: they want
/// the result even when no handle is left (a fire-and-forget `d.add_both(stop)` must still run
/// when its producer goes away), while a bare continuation only matters if its waiter does.
fn has_own_handlers(state: &State) -> bool {
    let continuation = usize::from(state.waiter().is_some());
    state.has_stages() && state.stage_count() > continuation
}

/// Whether two chain pointers are the same chain (ignoring vtables).
pub(crate) fn same_chain(a: &Rc<Chain>, b: &Rc<Chain>) -> bool {
    std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b))
}
#[cfg(test)]
mod tests {
    /// A Deferred of a word-sized value with up to three callbacks is one 128-byte block
    /// (the control block, two reference counts and the head's slot): the allocator's size
    /// class below 160. `fate-bench deferred --batch` keeps a million of them alive.
    #[test]
    fn a_deferred_of_a_word_fits_128_bytes() {
        let rc_counts = 2 * std::mem::size_of::<usize>();
        assert!(std::mem::size_of::<crate::head::Head<i64>>() + rc_counts <= 128);
    }
}
