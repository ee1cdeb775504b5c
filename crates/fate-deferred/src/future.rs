//! Awaiting a Deferred: `Deferred<T>: IntoFuture<Output = Result<T, Failure>>`.

use std::cell::Cell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::chain::{Chain, Slot};
use crate::error::Cancelled;
use crate::stage::{take_input, ChainRef, Input, Stage};
use crate::{control, trampoline, unhandled, Deferred, Failure};

impl<T: 'static> IntoFuture for Deferred<T> {
    type Output = Result<T, Failure>;
    type IntoFuture = DeferredFuture<T>;

    /// Appends a final node that stores the result and wakes the awaiting task. Works under
    /// any executor (it only uses the `Waker`); the result is taken by the `await`, so the
    /// failure, if any, is the awaiter's to handle.
    ///
    /// # Examples
    /// ```
    /// use fate::Deferred;
    /// use std::{future::Future, pin::pin, task::{Context, Poll, Waker}};
    ///
    /// let (d, fire) = Deferred::<i64>::pending();
    /// let mut fut = pin!(async move { d.await.map(|x| x + 1) });
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(fut.as_mut().poll(&mut cx).is_pending());
    /// fire.callback(41);
    /// assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(42))));
    /// ```
    #[track_caller]
    fn into_future(self) -> DeferredFuture<T> {
        let sink = Rc::new(FutureSink {
            slot: Cell::new(Slot::Empty),
            waker: Cell::new(None),
            detached: Cell::new(false),
            created: self.chain.state.created,
        });
        let chain = self.into_chain();
        chain.state.push_stage(Box::new(SinkStage(sink.clone())));
        trampoline::run_if_runnable(&chain);
        DeferredFuture {
            sink,
            chain,
            done: false,
        }
    }
}

/// The future of an awaited [`Deferred`]: resolves to its final `Result<T, Failure>`.
///
/// # Cancellation
/// Dropping the future before it completes **cancels the Deferred** (its canceller runs, or it
/// errbacks with `Cancelled`), as dropping a future means "I no longer want this" in Rust and
/// as cancelling an asyncio future cancels its Deferred in Twisted. What the Deferred
/// then fires with is not lost silently: a `Cancelled` failure is dropped quietly (it is the
/// cancellation we asked for), a value is dropped (nobody wants it any more), and any other
/// failure is reported through the unhandled-failure hook. A result that arrived before the
/// drop but was never polled is treated the same way.
///
/// # Examples
/// ```
/// use fate::deferred::{Deferred, Cancelled};
/// use std::future::IntoFuture;
///
/// let (d, _fire) = Deferred::<i64>::pending();
/// let ctl = d.control();
/// drop(d.into_future()); // as when a `select!` drops the losing branch
/// assert!(ctl.is_called()); // cancelled
/// ```
#[must_use = "futures do nothing unless polled; dropping this one cancels the Deferred"]
pub struct DeferredFuture<T> {
    sink: Rc<FutureSink<T>>,
    chain: Rc<Chain>,
    done: bool,
}

impl<T: 'static> Future for DeferredFuture<T> {
    type Output = Result<T, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, Failure>> {
        if self.done {
            return Poll::Pending; // polled after completion: a contract violation, stay inert
        }
        match self.sink.slot.take() {
            Slot::Ready(result) => {
                self.done = true;
                Poll::Ready(result)
            }
            Slot::Empty => {
                let waker = self.sink.waker.take();
                let waker = match waker {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                self.sink.waker.set(Some(waker));
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for DeferredFuture<T> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.sink.detached.set(true);
        if let Slot::Ready(Err(failure)) = self.sink.slot.take() {
            if !failure.check::<Cancelled>() {
                unhandled::report(self.sink.created, failure, None);
            }
        }
        control::cancel(&self.chain, Location::caller());
    }
}

impl<T> fmt::Debug for DeferredFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredFuture")
            .field("created", &format_args!("{}", self.sink.created))
            .field("done", &self.done)
            .finish()
    }
}

/// The last node of an awaited chain: parks the result for the future and wakes it.
struct FutureSink<T> {
    slot: Cell<Slot<T>>,
    waker: Cell<Option<Waker>>,
    /// The future was dropped: results are dropped (Cancelled quietly), not parked.
    detached: Cell<bool>,
    created: &'static Location<'static>,
}

impl<T> FutureSink<T> {
    /// Parks the result for the future and wakes it; once the future is gone, drops it
    /// (reporting failures other than `Cancelled`).
    fn deliver(&self, input: Result<T, Failure>) {
        if self.detached.get() {
            if let Err(failure) = input {
                if !failure.check::<Cancelled>() {
                    unhandled::report(self.created, failure, None);
                }
            }
        } else {
            self.slot.set(Slot::Ready(input));
            if let Some(waker) = self.waker.take() {
                waker.wake();
            }
        }
    }
}

/// The stage an awaited chain ends with: hands its result to the [`FutureSink`].
struct SinkStage<T>(Rc<FutureSink<T>>);

impl<T: 'static> Stage for SinkStage<T> {
    fn run(
        self: Box<Self>,
        input: Input<'_>,
        chain: ChainRef<'_>,
        _depth: u32,
    ) -> Option<Rc<Chain>> {
        self.0.deliver(take_input::<T>(input, chain));
        None
    }
}

impl<T> Drop for FutureSink<T> {
    fn drop(&mut self) {
        if let Slot::Ready(Err(failure)) = self.slot.take() {
            unhandled::report(self.created, failure, None);
        }
    }
}
