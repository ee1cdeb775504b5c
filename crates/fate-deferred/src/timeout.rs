//! `add_timeout`: cancel a Deferred that takes too long (twisted-semantics 2.13).

use std::cell::Cell;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::error::{Cancelled, TimedOut};
use crate::{Deferred, Failure, IntoOutcome, Outcome};

impl<T: 'static> Deferred<T> {
    /// Cancels this Deferred if it has not fired within `timeout`, turning the resulting
    /// [`Cancelled`] into [`TimedOut`] (Twisted's `addTimeout`).
    ///
    /// This crate has no clock: `schedule(delay, f)` must arrange for `f` to run after
    /// `delay` and return a function that cancels that arrangement — with fate-core,
    /// `|delay, f| { let call = reactor.call_later(delay, f); move || call.cancel() }`.
    ///
    /// - Only callbacks added before `add_timeout` are inside the timeout; the translation runs
    ///   after them and before callbacks added later.
    /// - Firing (either way) before the timeout cancels the timer; nothing else changes.
    /// - A manual `cancel()` before the timeout stays `Cancelled`.
    /// - When the Deferred waits on another Deferred, the timeout cancels that one.
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{Deferred, TimedOut};
    /// use std::{cell::RefCell, rc::Rc, time::Duration};
    ///
    /// let timers: Rc<RefCell<Vec<Box<dyn FnOnce()>>>> = Rc::default();
    /// let t = timers.clone();
    /// let (d, _fire) = Deferred::<i64>::pending();
    /// let d = d.add_timeout(Duration::from_secs(10), move |_delay, f| {
    ///     t.borrow_mut().push(f);
    ///     || {} // cancelling the timer: nothing to do in this toy
    /// });
    /// let expire = timers.borrow_mut().pop().unwrap();
    /// expire(); // ten seconds pass
    /// let f = d.try_result().ok().and_then(|r| r.err()).unwrap();
    /// assert_eq!(f.downcast_ref::<TimedOut>().map(|t| t.timeout()), Some(Duration::from_secs(10)));
    /// ```
    #[track_caller]
    pub fn add_timeout<S, C>(self, timeout: Duration, schedule: S) -> Deferred<T>
    where
        S: FnOnce(Duration, Box<dyn FnOnce()>) -> C,
        C: FnOnce() + 'static,
    {
        let at = Location::caller();
        self.add_timeout_with(timeout, schedule, move |r, timeout| match r {
            Err(f) if f.check::<Cancelled>() => Err(Failure::at(TimedOut::new(timeout), at)),
            r => r,
        })
    }

    /// [`add_timeout`](Deferred::add_timeout) with Twisted's `onTimeoutCancel`: when the
    /// timeout fired, `on_timeout_cancel(result, timeout)` replaces the result — whatever it is,
    /// even a success a canceller produced. It is not called when the Deferred fired
    /// before the timeout, or was cancelled by hand.
    ///
    /// # Examples
    /// ```
    /// use fate::Deferred;
    /// use std::{cell::RefCell, rc::Rc, time::Duration};
    ///
    /// let timers: Rc<RefCell<Vec<Box<dyn FnOnce()>>>> = Rc::default();
    /// let t = timers.clone();
    /// let (d, _fire) = Deferred::<&str>::pending();
    /// let d = d.add_timeout_with(
    ///     Duration::from_secs(10),
    ///     move |_delay, f| { t.borrow_mut().push(f); || {} },
    ///     |_result, _timeout| "OVERRIDDEN",
    /// );
    /// (timers.borrow_mut().pop().unwrap())();
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some("OVERRIDDEN"));
    /// ```
    #[track_caller]
    pub fn add_timeout_with<S, C, F, R, M>(
        self,
        timeout: Duration,
        schedule: S,
        on_timeout_cancel: F,
    ) -> Deferred<T>
    where
        S: FnOnce(Duration, Box<dyn FnOnce()>) -> C,
        C: FnOnce() + 'static,
        F: FnOnce(Result<T, Failure>, Duration) -> R + 'static,
        R: IntoOutcome<T, M>,
    {
        let timed_out = Rc::new(Cell::new(false));
        let control = self.control();
        let flag = timed_out.clone();
        let cancel_timer = schedule(
            timeout,
            Box::new(move || {
                flag.set(true);
                let _cause = TimingOut::enter(timeout);
                control.cancel();
            }),
        );
        let cancel_timer = Cell::new(Some(cancel_timer));
        self.add_both(move |r| {
            if let Some(cancel) = cancel_timer.take() {
                cancel();
            }
            if timed_out.get() {
                on_timeout_cancel(r, timeout).into_outcome()
            } else {
                Outcome::from_result(r)
            }
        })
    }
}

thread_local! {
    /// The timeout whose expiry is cancelling Deferreds right now, if any.
    static TIMING_OUT: Cell<Option<Duration>> = const { Cell::new(None) };
}

/// Marks the cancellation running while it lives as caused by a timeout (nesting restores
/// the outer cause).
struct TimingOut(Option<Duration>);

impl TimingOut {
    fn enter(timeout: Duration) -> TimingOut {
        TimingOut(TIMING_OUT.with(|t| t.replace(Some(timeout))))
    }
}

impl Drop for TimingOut {
    fn drop(&mut self) {
        TIMING_OUT.with(|t| t.set(self.0));
    }
}

/// The timeout that is cancelling Deferreds right now: a `DeferredList` cut by a timeout
/// records its unfinished inputs as [`TimedOut`] rather than [`Cancelled`].
pub(crate) fn timing_out() -> Option<Duration> {
    TIMING_OUT.with(Cell::get)
}
