//! `Stage`: one callback/errback pair and the typed slot for what it returned; `Continuation`:
//! the node an inner Deferred hands its result to its waiting outer Deferred through (C1–C2).

use std::cell::Cell;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::Rc;

use crate::chain::{same_chain, Chain, Consumer, Node, Output, Sink, Slot, Step};
use crate::error::{ChainedToItself, Panicked};
use crate::release::{release, release_node, Garbage};
use crate::{unhandled, Deferred, Failure, Outcome};

pub(crate) struct Stage<T, U, F> {
    /// The handler; taken when it runs (at most once).
    handler: Cell<Option<F>>,
    /// What the handler returned (or what an inner Deferred handed over).
    slot: Cell<Slot<U>>,
    /// The next node added.
    next: Cell<Option<Rc<dyn Consumer<U>>>>,
    /// Where the chain was created, for unhandled-failure reports.
    created: &'static Location<'static>,
    /// Where this handler was added, named by a `Panicked` failure.
    added: &'static Location<'static>,
    _input: PhantomData<fn(T)>,
}

impl<T, U, F> Stage<T, U, F>
where
    T: 'static,
    U: 'static,
    F: FnOnce(Result<T, Failure>) -> Outcome<U> + 'static,
{
    pub(crate) fn new(
        handler: F,
        created: &'static Location<'static>,
        added: &'static Location<'static>,
    ) -> Stage<T, U, F> {
        Stage {
            handler: Cell::new(Some(handler)),
            slot: Cell::new(Slot::Empty),
            next: Cell::new(None),
            created,
            added,
            _input: PhantomData,
        }
    }
}

impl<T, U, F> Consumer<T> for Stage<T, U, F>
where
    T: 'static,
    U: 'static,
    F: FnOnce(Result<T, Failure>) -> Outcome<U> + 'static,
{
    #[inline]
    fn feed(self: Rc<Self>, input: Result<T, Failure>, chain: &Rc<dyn Chain>) -> Step {
        let outcome = match self.handler.take() {
            Some(handler) => match catch_unwind(AssertUnwindSafe(move || handler(input))) {
                Ok(outcome) => outcome,
                Err(payload) => {
                    Outcome::Failure(Failure::at(Panicked::from_payload(&*payload), self.added))
                }
            },
            None => Outcome::Failure(Failure::at(crate::Abandoned, self.added)),
        };
        match outcome {
            Outcome::Value(v) => self.slot.set(Slot::Ready(Ok(v))),
            Outcome::Failure(f) => self.slot.set(Slot::Ready(Err(f))),
            Outcome::Chain(inner) => wait_on(&self, inner, chain),
        }
        chain.state().cursor.set(Some(self));
        Step::Continue
    }

    fn into_node(self: Rc<Self>) -> Rc<dyn Node> {
        self
    }
}

impl<T, U, F> Node for Stage<T, U, F>
where
    T: 'static,
    U: 'static,
    F: FnOnce(Result<T, Failure>) -> Outcome<U> + 'static,
{
    #[inline]
    fn advance(&self, chain: &Rc<dyn Chain>) -> Step {
        let Some(next) = self.next.take() else {
            return Step::Idle;
        };
        let input = match self.slot.take() {
            Slot::Ready(r) => r,
            Slot::Empty => Err(Failure::at(crate::Abandoned, self.added)),
        };
        next.feed(input, chain)
    }

    #[inline]
    fn has_links(&self) -> bool {
        let next = self.next.take();
        let has = next.is_some();
        self.next.set(next);
        has
    }
}

impl<T, U, F> Output<U> for Stage<T, U, F>
where
    T: 'static,
    U: 'static,
    F: FnOnce(Result<T, Failure>) -> Outcome<U> + 'static,
{
    #[inline]
    fn set_next(&self, next: Rc<dyn Consumer<U>>) {
        release_node(self.next.replace(Some(next)).map(Consumer::into_node));
    }

    #[inline]
    fn take_ready(&self) -> Option<Result<U, Failure>> {
        match self.slot.take() {
            Slot::Ready(r) => Some(r),
            Slot::Empty => None,
        }
    }

    fn has_ready(&self) -> bool {
        let slot = self.slot.take();
        let ready = matches!(slot, Slot::Ready(_));
        self.slot.set(slot);
        ready
    }
}

impl<T, U, F> Sink<U> for Stage<T, U, F> {
    fn put(&self, result: Result<U, Failure>) {
        self.slot.set(Slot::Ready(result));
    }
}

impl<T, U, F> Drop for Stage<T, U, F> {
    fn drop(&mut self) {
        if let Slot::Ready(Err(failure)) = self.slot.take() {
            unhandled::report(self.created, failure);
        }
        if let Some(next) = self.next.take() {
            release(Garbage::Node(next.into_node()));
        }
    }
}

/// A handler returned `inner`: take its result now if it has a final one, else append a
/// continuation to it and make the outer chain wait (C1, D10).
fn wait_on<S, U>(stage: &Rc<S>, inner: Deferred<U>, outer: &Rc<dyn Chain>)
where
    S: Sink<U> + 'static,
    U: 'static,
{
    let (inner_chain, inner_tail) = inner.into_parts();
    if same_chain(&inner_chain, outer) {
        stage.put(Err(Failure::new(ChainedToItself)));
        return;
    }
    let st = inner_chain.state();
    if st.fired.get() && !st.running.get() && !st.is_paused() {
        if let Some(result) = inner_tail.take_ready() {
            stage.put(result);
            return;
        }
    }
    st.waiter.set(Some(Rc::downgrade(outer)));
    let target: Rc<dyn Sink<U>> = stage.clone();
    inner_tail.set_next(Rc::new(Continuation {
        target: Cell::new(Some(target)),
        outer: Cell::new(Some(outer.clone())),
    }));
    let st = outer.state();
    st.waiting.set(true);
    st.waiting_on.set(Some(Rc::downgrade(&inner_chain)));
}

/// The last node of an inner Deferred a callback returned: hands the inner result to the
/// waiting outer stage and lets the outer chain resume (C2). Both links are taken at hand-off
/// so finished chains do not keep each other alive.
struct Continuation<U> {
    target: Cell<Option<Rc<dyn Sink<U>>>>,
    outer: Cell<Option<Rc<dyn Chain>>>,
}

impl<U: 'static> Consumer<U> for Continuation<U> {
    fn feed(self: Rc<Self>, input: Result<U, Failure>, chain: &Rc<dyn Chain>) -> Step {
        let st = chain.state();
        st.waiter.set(None);
        let step = match (self.target.take(), self.outer.take()) {
            (Some(target), Some(outer)) => {
                target.put(input);
                let outer_st = outer.state();
                outer_st.waiting.set(false);
                outer_st.waiting_on.set(None);
                Step::Resume(outer)
            }
            _ => Step::Continue,
        };
        st.cursor.set(Some(self));
        step
    }

    fn into_node(self: Rc<Self>) -> Rc<dyn Node> {
        self
    }
}

impl<U> Node for Continuation<U> {
    fn advance(&self, _chain: &Rc<dyn Chain>) -> Step {
        Step::Idle
    }

    fn has_links(&self) -> bool {
        let outer = self.outer.take();
        let has = outer.is_some();
        self.outer.set(outer);
        has
    }
}

impl<U> Drop for Continuation<U> {
    fn drop(&mut self) {
        if let Some(outer) = self.outer.take() {
            release(Garbage::Chain(outer));
        }
    }
}
