//! `Stage`: one queued handler of a chain. [`Handler`] runs a callback/errback pair;
//! [`Continuation`] is what an inner Deferred hands its result to its waiting outer Deferred
//! through (C1–C2).
//!
//! # How a result travels
//! A stage takes its input from its predecessor's stack frame (`input`, a
//! `&mut Option<Result<T, Failure>>` behind `dyn Any`) or, when the chain had stopped, from
//! where it was parked ([`take_parked`]). After its handler returns it hands the result
//! straight to the next queued stage ([`proceed`]), so a chain that runs through keeps its
//! values on the stack and allocates nothing. The hand-off recurses at most [`MAX_DEPTH`]
//! stages deep; then the result is parked and the trampoline's loop goes on, so a million
//! callbacks run in constant stack.

use std::any::Any;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use crate::chain::{park, same_chain, take_parked, Chain, State};
use crate::error::{ChainedToItself, Panicked};
use crate::{Deferred, Failure, Outcome};

/// How many stages may hand their results on by direct call before one parks it and returns
/// to the trampoline.
const MAX_DEPTH: u32 = 32;

/// The input a stage is run with: its predecessor's result on the stack, or `None` to take
/// the parked one.
pub(crate) type Input<'a> = Option<&'a mut dyn Any>;

/// A running chain as its stages see it: the `Rc`, to clone or hand on, and the control
/// block, reached once by whoever starts the run. Reaching the block through the `Rc` of an
/// unsized chain looks the slot's alignment up in the vtable every time; handed down from
/// stage to stage, it stays in a register.
#[derive(Clone, Copy)]
pub(crate) struct ChainRef<'a> {
    pub(crate) rc: &'a Rc<Chain>,
    /// Always `&rc.state`: [`ChainRef::new`] reaches it through `rc`; a caller holding the
    /// typed head the `rc` was cloned from may take it from there.
    pub(crate) state: &'a State,
}

impl<'a> ChainRef<'a> {
    #[inline]
    pub(crate) fn new(rc: &'a Rc<Chain>) -> ChainRef<'a> {
        ChainRef {
            rc,
            state: &rc.state,
        }
    }
}

/// A queued handler, its types erased.
pub(crate) trait Stage {
    /// Runs the handler on the input and hands its result on. Returns an outer chain that a
    /// continuation handed a result to, for the trampoline to switch to.
    fn run(self: Box<Self>, input: Input<'_>, chain: ChainRef<'_>, depth: u32)
        -> Option<Rc<Chain>>;
}

/// Takes a stage's `T` input from its predecessor or from where it was parked.
#[inline]
pub(crate) fn take_input<T: 'static>(input: Input<'_>, chain: ChainRef<'_>) -> Result<T, Failure> {
    let taken = match input {
        Some(any) => any
            .downcast_mut::<Option<Result<T, Failure>>>()
            .and_then(Option::take),
        None => take_parked::<T>(chain.rc),
    };
    // The typed API makes a missing or mistyped input impossible; should it happen anyway,
    // the chain fails instead of panicking.
    taken.unwrap_or_else(|| Err(Failure::at(crate::Abandoned, chain.state.created)))
}

/// Hands `result` to the next queued stage, or parks it when there is none, the chain is
/// paused, or the hand-offs have gone [`MAX_DEPTH`] deep.
#[inline(always)]
pub(crate) fn proceed<U: 'static>(
    result: Result<U, Failure>,
    chain: ChainRef<'_>,
    depth: u32,
) -> Option<Rc<Chain>> {
    let st = chain.state;
    if depth < MAX_DEPTH && !st.is_paused() {
        if let Some(next) = st.pop_stage() {
            let mut input = Some(result);
            return next.run(Some(&mut input), chain, depth + 1);
        }
    }
    park(chain.rc, result);
    None
}

/// A callback/errback pair: `F` receives the result so far and says what comes next.
pub(crate) struct Handler<T, U, F> {
    handler: F,
    _types: PhantomData<fn(T) -> U>,
}

impl<T, U, F> Handler<T, U, F> {
    #[inline]
    pub(crate) fn new(handler: F) -> Handler<T, U, F> {
        Handler {
            handler,
            _types: PhantomData,
        }
    }
}

impl<T, U, F> Stage for Handler<T, U, F>
where
    T: 'static,
    U: 'static,
    F: FnOnce(Result<T, Failure>) -> Outcome<U> + 'static,
{
    #[inline]
    fn run(
        self: Box<Self>,
        input: Input<'_>,
        chain: ChainRef<'_>,
        depth: u32,
    ) -> Option<Rc<Chain>> {
        let input = take_input::<T>(input, chain);
        let Handler { handler, .. } = *self;
        // A panic's failure is located where the Deferred was created: the panic hook has
        // already reported where it panicked, and a queued handler keeps no location of its
        // own (two words, not three). `catch_unwind` and the count by hand, not `catch_panic`:
        // through the wrapper this hot path measured 19 instructions more per Deferred
        // (scorecard --instr, 594 vs 575).
        let result = match catch_unwind(AssertUnwindSafe(move || handler(input))) {
            Ok(Outcome::Value(v)) => Ok(v),
            Ok(Outcome::Failure(f)) => Err(f),
            Ok(Outcome::Chain(inner)) => wait_on(inner, chain.rc)?,
            Err(payload) => {
                crate::panics::note_caught_panic();
                Err(Failure::at(
                    Panicked::from_payload(&*payload),
                    chain.state.created,
                ))
            }
        };
        proceed(result, chain, depth)
    }
}

/// A handler returned `inner`: its result if it has a final one now (D10), else `None` after
/// appending a continuation to it and making the outer chain wait (C1).
fn wait_on<U: 'static>(inner: Deferred<U>, outer: &Rc<Chain>) -> Option<Result<U, Failure>> {
    let inner = inner.into_chain();
    if same_chain(&inner, outer) {
        return Some(Err(Failure::new(ChainedToItself)));
    }
    let st = &inner.state;
    if st.runnable() && !st.has_stages() {
        if let Some(result) = take_parked::<U>(&inner) {
            return Some(result);
        }
    }
    st.set_waiter(Some(Rc::downgrade(outer)));
    st.push_stage(Box::new(Continuation::<U> {
        outer: outer.clone(),
        _type: PhantomData,
    }));
    let outer_st = &outer.state;
    outer_st.set_waiting(true);
    outer_st.set_waiting_on(Some(Rc::downgrade(&inner)));
    None
}

/// The last stage of an inner Deferred a callback returned: parks the inner result in the
/// waiting outer chain and lets it resume (C2). Running it moves the outer chain out, so
/// finished chains do not keep each other alive.
struct Continuation<U> {
    outer: Rc<Chain>,
    _type: PhantomData<fn(U)>,
}

impl<U: 'static> Stage for Continuation<U> {
    fn run(
        self: Box<Self>,
        input: Input<'_>,
        chain: ChainRef<'_>,
        _depth: u32,
    ) -> Option<Rc<Chain>> {
        let result = take_input::<U>(input, chain);
        chain.state.set_waiter(None);
        let outer = self.outer;
        park(&outer, result);
        let outer_st = &outer.state;
        outer_st.set_waiting(false);
        outer_st.set_waiting_on(None);
        Some(outer)
    }
}
