//! The untyped control block every Deferred shares, and the traits that link typed nodes.
//!
//! # Shape
//! A Deferred is a chain of nodes. The **head** ([`Head<T>`](crate::head::Head)) is the one
//! allocation `pending()` makes: this control block plus a slot for the fired value. Each
//! `add_callback` appends one **stage** ([`Stage`](crate::stage::Stage)): the handler plus a
//! slot for its typed output. Nodes link forward (`next`), typed by the value they pass, so no
//! value is ever type-erased; the [`Chain`] and [`Node`] traits are the untyped views the
//! trampoline drives. The handle [`Deferred<T>`](crate::Deferred) holds the chain and the
//! typed tail.
//!
//! # States of a chain ([`State`])
//! - *unfired*: `fired == false`; callbacks only queue up. `cancel()` runs the canceller.
//! - *fired, idle*: the node under the cursor holds the current result and has no successor.
//!   Adding a callback runs it at once (twisted-semantics D7).
//! - *running*: a trampoline loop owns the chain; additions queue and the loop picks them up
//!   (D8); a fire/unpause of this chain from inside returns at once.
//! - *paused*: `paused > 0` (user) or `waiting` (a callback returned an unfired Deferred, C1).
//!   Forbidden: running while paused; `waiting` without `waiting_on` pointing at the inner
//!   chain; firing twice (the second fire is `AlreadyCalled` and changes nothing).

use std::cell::Cell;
use std::panic::Location;
use std::rc::{Rc, Weak};

use crate::Failure;

/// Where a node's value is: nothing yet (or moved on), or a result.
#[derive(Default)]
pub(crate) enum Slot<T> {
    #[default]
    Empty,
    Ready(Result<T, Failure>),
}

/// What one step of the trampoline did. Feeding a node also makes it the chain's cursor, and a
/// handler that returned an unfired Deferred marks the chain `waiting` itself.
pub(crate) enum Step {
    /// The cursor node has no successor: the chain is done for now.
    Idle,
    /// The result moved one node on.
    Continue,
    /// A continuation handed a result to this waiting outer chain; it may resume.
    Resume(Rc<dyn Chain>),
}

/// Untyped view of a chain: its control block and its head node.
pub(crate) trait Chain {
    fn state(&self) -> &State;
    /// Moves the head's fired value into its successor.
    fn advance_head(&self, chain: &Rc<dyn Chain>) -> Step;
    /// Fires the head with a failure (cancellation, abandonment); the caller checked `fired`.
    fn fail_head(&self, failure: Failure);
}

/// Untyped view of a non-head node, as the cursor sees it.
pub(crate) trait Node {
    /// Moves this node's result into its successor, running the successor's handler.
    fn advance(&self, chain: &Rc<dyn Chain>) -> Step;
    /// Whether dropping this node would drop further nodes or chains (else a plain drop is
    /// shallow and needs no trampoline).
    fn has_links(&self) -> bool;
}

/// Typed view of the tail of a chain (what a `Deferred<T>` handle holds).
pub(crate) trait Output<T> {
    fn set_next(&self, next: Rc<dyn Consumer<T>>);
    fn take_ready(&self) -> Option<Result<T, Failure>>;
    fn has_ready(&self) -> bool;
}

/// Typed view of a node that accepts a `T` from its predecessor.
pub(crate) trait Consumer<T> {
    /// Runs this node's handler on `input` and makes this node the chain's cursor.
    fn feed(self: Rc<Self>, input: Result<T, Failure>, chain: &Rc<dyn Chain>) -> Step;
    fn into_node(self: Rc<Self>) -> Rc<dyn Node>;
}

/// Typed place a continuation delivers an inner Deferred's result to.
pub(crate) trait Sink<T> {
    fn put(&self, result: Result<T, Failure>);
}

/// The control block of one Deferred (Twisted's `Deferred` attributes, twisted-semantics 2.1).
pub(crate) struct State {
    /// Set by the first fire; never reset.
    pub(crate) fired: Cell<bool>,
    /// A trampoline loop is processing this chain (Twisted's `_runningCallbacks`).
    pub(crate) running: Cell<bool>,
    /// Outstanding user `pause()`s. Kept apart from `waiting` so a stray `unpause()` cannot
    /// release a chain that waits on another Deferred.
    pub(crate) paused: Cell<u32>,
    /// A callback returned an unfired Deferred; cleared when it hands its result over.
    pub(crate) waiting: Cell<bool>,
    /// The chain waited on, so `cancel()` can be forwarded (X4). Weak: the inner chain owns us
    /// through its continuation, and that must not become a cycle.
    pub(crate) waiting_on: Cell<Option<Weak<dyn Chain>>>,
    /// The chain waiting on this one (set while a continuation to it is attached), so a
    /// producer that vanishes can tell whether anyone still cares (see `Fire`'s drop).
    pub(crate) waiter: Cell<Option<Weak<dyn Chain>>>,
    /// `cancel()` without a canceller swallows exactly one later fire (A2).
    pub(crate) suppress_already_called: Cell<bool>,
    /// Live `Fire` ends; when the last one goes unfired the chain errbacks `Abandoned`.
    pub(crate) firers: Cell<u32>,
    /// The head holds the current result (no callback has consumed it yet).
    pub(crate) at_head: Cell<bool>,
    /// Otherwise, the node holding the current result.
    pub(crate) cursor: Cell<Option<Rc<dyn Node>>>,
    /// Run by the first `cancel()` on an unfired chain; dropped at fire (X7).
    pub(crate) canceller: Cell<Option<Box<dyn FnOnce()>>>,
    /// `cancel()` only runs the canceller and never errbacks `Cancelled` itself (a
    /// `DeferredList` overrides `cancel` this way in Twisted, L8).
    pub(crate) cancel_only_forwards: Cell<bool>,
    /// Where the Deferred was created (`#[track_caller]` on constructors).
    pub(crate) created: &'static Location<'static>,
    /// Where it was first fired (for `AlreadyCalled`).
    pub(crate) first_fired: Cell<Option<&'static Location<'static>>>,
}

impl State {
    pub(crate) fn new(created: &'static Location<'static>) -> State {
        State {
            fired: Cell::new(false),
            running: Cell::new(false),
            paused: Cell::new(0),
            waiting: Cell::new(false),
            waiting_on: Cell::new(None),
            waiter: Cell::new(None),
            suppress_already_called: Cell::new(false),
            firers: Cell::new(0),
            at_head: Cell::new(true),
            cursor: Cell::new(None),
            canceller: Cell::new(None),
            cancel_only_forwards: Cell::new(false),
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

    /// The chain this one waits on, if any and still alive.
    pub(crate) fn waited_on(&self) -> Option<Rc<dyn Chain>> {
        let weak = self.waiting_on.take();
        let inner = weak.as_ref().and_then(Weak::upgrade);
        self.waiting_on.set(weak);
        inner
    }
}

/// Whether anyone could still see this chain's result: a handle or `Control` to it (`held`
/// tells how many references are ours), or to a chain waiting on it, transitively.
pub(crate) fn still_wanted(chain_refs: usize, held: usize, state: &State) -> bool {
    if chain_refs > held {
        return true;
    }
    let mut next = {
        let w = state.waiter.take();
        state.waiter.set(w.clone());
        w
    };
    while let Some(weak) = next {
        // The waiter is held by the continuation (one reference): anyone else counts.
        if weak.strong_count() > 1 {
            return true;
        }
        next = weak.upgrade().and_then(|outer| {
            let st = outer.state();
            let w = st.waiter.take();
            st.waiter.set(w.clone());
            w
        });
    }
    false
}

/// Whether two chain pointers are the same chain (ignoring vtables).
pub(crate) fn same_chain(a: &Rc<dyn Chain>, b: &Rc<dyn Chain>) -> bool {
    std::ptr::addr_eq(Rc::as_ptr(a), Rc::as_ptr(b))
}
