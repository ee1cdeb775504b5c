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
//! - any other value boxed in [`State::boxed`] (no allocation for zero-sized values).
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
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::rc::{Rc, Weak};

use crate::debug::{self, DebugSites};
use crate::release::{release, Garbage};
use crate::stages::Stages;
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
    Nothing,
    /// A value in the head's [`TypedSlot`].
    Slot,
    /// A value in [`State::boxed`].
    Boxed,
    /// A failure in [`State::failure`].
    Failure,
}

/// The control block of one Deferred (Twisted's `Deferred` attributes, twisted-semantics 2.1).
pub(crate) struct State {
    /// Set by the first fire; never reset.
    pub(crate) fired: Cell<bool>,
    /// A trampoline loop is processing this chain (Twisted's `_runningCallbacks`).
    pub(crate) running: Cell<bool>,
    /// A callback returned an unfired Deferred; cleared when it hands its result over.
    pub(crate) waiting: Cell<bool>,
    /// `cancel()` without a canceller swallows exactly one later fire (A2).
    pub(crate) suppress_already_called: Cell<bool>,
    /// `cancel()` only runs the canceller and never errbacks `Cancelled` itself (a
    /// `DeferredList` overrides `cancel` this way in Twisted, L8).
    pub(crate) cancel_only_forwards: Cell<bool>,
    /// Where the current result is parked, if it is.
    pub(crate) held: Cell<Held>,
    /// Outstanding user `pause()`s. Kept apart from `waiting` so a stray `unpause()` cannot
    /// release a chain that waits on another Deferred.
    pub(crate) paused: Cell<u32>,
    /// Live `Fire` ends; when the last one goes unfired the chain errbacks `Abandoned`.
    pub(crate) firers: Cell<u32>,
    /// The parked failure (`held == Failure`); reported as unhandled if dropped here.
    pub(crate) failure: ManuallyDrop<Cell<Option<Failure>>>,
    /// A parked value of another type than the head's (`held == Boxed`).
    pub(crate) boxed: ManuallyDrop<Cell<Option<Box<dyn Any>>>>,
    /// Handlers not run yet, oldest first.
    pub(crate) stages: ManuallyDrop<Stages>,
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
            fired: Cell::new(false),
            running: Cell::new(false),
            waiting: Cell::new(false),
            suppress_already_called: Cell::new(false),
            cancel_only_forwards: Cell::new(false),
            held: Cell::new(Held::Nothing),
            paused: Cell::new(0),
            firers: Cell::new(0),
            failure: ManuallyDrop::new(Cell::new(None)),
            boxed: ManuallyDrop::new(Cell::new(None)),
            stages: ManuallyDrop::new(Stages::new()),
            rare: ManuallyDrop::new(Cell::new(Rare::new_if_debugging())),
            created,
            first_fired: Cell::new(None),
        }
    }

    #[inline]
    pub(crate) fn is_paused(&self) -> bool {
        self.paused.get() > 0 || self.waiting.get()
    }

    /// Fired, not paused, not already being processed.
    #[inline]
    pub(crate) fn runnable(&self) -> bool {
        self.fired.get() && !self.running.get() && !self.is_paused()
    }

    /// A result is parked and no handler is left to take it: what `try_result` reads.
    #[inline]
    pub(crate) fn has_final(&self) -> bool {
        self.held.get() != Held::Nothing && self.stages.is_empty()
    }

    /// Marks the chain fired and drops the canceller (X7: breaks reference cycles).
    #[inline]
    pub(crate) fn mark_fired(&self) {
        self.fired.set(true);
        drop(self.take_canceller());
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
        self.held.set(Held::Failure);
    }

    /// The chain this one waits on, if any and still alive.
    pub(crate) fn waited_on(&self) -> Option<Rc<Chain>> {
        if !self.has_rare() {
            return None;
        }
        self.with_rare(|r| r.waiting_on.as_ref().and_then(Weak::upgrade))
    }
}

/// Links of a chain that few chains have.
#[derive(Default)]
struct Rare {
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
        if let Some(failure) = self.failure.take() {
            let sites = self.rare.get_mut().as_ref().and_then(|r| r.debug.clone());
            unhandled::report(self.created, failure, sites.as_deref());
        }
        if let Some(boxed) = self.boxed.take() {
            drop(boxed);
        }
        if let Some(rare) = self.rare.take() {
            drop(rare);
        }
        if !self.stages.is_empty() {
            release(Garbage::Stages(std::mem::replace(
                &mut *self.stages,
                Stages::new(),
            )));
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
                st.held.set(Held::Slot);
            }
            None => {
                st.boxed.set(Some(Box::new(v)));
                st.held.set(Held::Boxed);
            }
        },
        Err(f) => st.park_failure(f),
    }
}

/// Takes the parked result as a `U`, the chain's current type; `None` if nothing is parked.
#[inline]
pub(crate) fn take_parked<U: 'static>(chain: &Chain) -> Option<Result<U, Failure>> {
    let st = &chain.state;
    match st.held.replace(Held::Nothing) {
        Held::Nothing => None,
        Held::Slot => chain
            .slot
            .downcast_ref::<TypedSlot<U>>()
            .and_then(|slot| slot.0.take())
            .map(Ok),
        Held::Boxed => st
            .boxed
            .take()
            .and_then(|b| b.downcast::<U>().ok())
            .map(|v| Ok(*v)),
        Held::Failure => st.failure.take().map(Err),
    }
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
    !state.stages.is_empty() && state.stages.count() > continuation
}

/// Whether two chain pointers are the same chain (ignoring vtables).
pub(crate) fn same_chain(a: &Rc<Chain>, b: &Rc<Chain>) -> bool {
    std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b))
}
#[cfg(test)]
mod tests {
    /// A Deferred of a word-sized value with up to three callbacks is one 160-byte block
    /// (the control block, two reference counts and the head's slot): the allocator's size
    /// class below 192. `fate-bench deferred --batch` keeps a million of them alive.
    #[test]
    fn a_deferred_of_a_word_fits_160_bytes() {
        let rc_counts = 2 * std::mem::size_of::<usize>();
        assert!(std::mem::size_of::<crate::head::Head<i64>>() + rc_counts <= 160);
    }
}
