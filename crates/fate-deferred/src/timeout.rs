//! `add_timeout`: cancel a Deferred that takes too long (Twisted's `addTimeout`), on any
//! clock that implements [`Scheduler`].

use std::cell::Cell;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use crate::error::{Cancelled, TimedOut};
use crate::{Deferred, Failure, IntoOutcome, Outcome};

/// A clock [`Deferred::add_timeout`] can set its timer on: Twisted's `IReactorTime`, as far
/// as a timeout needs it.
///
/// Fate's clocks implement it: the reactor (`fate::reactor()`), any `fate::time::Timeline`
/// and the virtual `fate::testing::Clock`. So does a closure
/// `Fn(Duration, Box<dyn FnOnce()>) -> C` that schedules the call and returns a `C: FnOnce()`
/// that cancels it (write its argument types out: they are not inferred).
///
/// # Examples
///
/// A toy clock that only collects its timers:
///
/// ```
/// use std::{cell::RefCell, rc::Rc, time::Duration};
///
/// use fate::deferred::{Deferred, TimedOut};
///
/// let timers: Rc<RefCell<Vec<Box<dyn FnOnce()>>>> = Rc::default();
/// let t = timers.clone();
/// let clock = move |_delay: Duration, f: Box<dyn FnOnce()>| {
///     t.borrow_mut().push(f);
///     || {} // cancelling the timer: nothing to do in this toy
/// };
/// let (d, _fire) = Deferred::<i64>::pending();
/// let d = d.add_timeout(Duration::from_secs(10), &clock);
/// let expire = timers.borrow_mut().pop().unwrap();
/// expire(); // ten seconds pass
/// assert!(d.try_result().unwrap().unwrap_err().check::<TimedOut>());
/// ```
pub trait Scheduler {
    /// Arranges for `f` to run once, after `delay`, and returns a function that cancels
    /// that; it is called when the Deferred fires first, never after `f` ran.
    fn schedule(&self, delay: Duration, f: Box<dyn FnOnce()>) -> Box<dyn FnOnce()>;
}

impl<F, C> Scheduler for F
where
    F: Fn(Duration, Box<dyn FnOnce()>) -> C,
    C: FnOnce() + 'static,
{
    fn schedule(&self, delay: Duration, f: Box<dyn FnOnce()>) -> Box<dyn FnOnce()> {
        Box::new(self(delay, f))
    }
}

impl<T: 'static> Deferred<T> {
    /// Cancels this Deferred if it has not fired within `timeout` on `clock`, turning the
    /// resulting [`Cancelled`] into [`TimedOut`]: Twisted's `d.addTimeout(timeout, clock)`.
    ///
    /// `clock` is any [`Scheduler`]: `&fate::reactor()` for real time, a
    /// `fate::testing::Clock` in tests.
    ///
    /// - Only callbacks added before `add_timeout` are inside the timeout; the translation runs
    ///   after them and before callbacks added later.
    /// - Firing (either way) before the timeout cancels the timer; nothing else changes.
    /// - A manual `cancel()` before the timeout stays `Cancelled`.
    /// - When the Deferred waits on another Deferred, the timeout cancels that one.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    ///
    /// use fate::deferred::{Deferred, TimedOut};
    /// use fate::testing::Clock;
    ///
    /// let clock = Clock::new();
    /// let (d, _fire) = Deferred::<i64>::pending();
    /// let d = d.add_timeout(Duration::from_secs(10), &clock);
    /// clock.advance(Duration::from_secs(10));
    /// let f = d.try_result().ok().and_then(|r| r.err()).unwrap();
    /// assert_eq!(f.downcast_ref::<TimedOut>().map(|t| t.timeout()), Some(Duration::from_secs(10)));
    /// assert!(clock.pending_calls().is_empty());
    /// ```
    #[track_caller]
    pub fn add_timeout(self, timeout: Duration, clock: &(impl Scheduler + ?Sized)) -> Deferred<T> {
        let at = Location::caller();
        self.add_timeout_with(timeout, clock, move |r, timeout| match r {
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
    /// use std::time::Duration;
    ///
    /// use fate::testing::Clock;
    /// use fate::Deferred;
    ///
    /// let clock = Clock::new();
    /// let (d, _fire) = Deferred::<&str>::pending();
    /// let d = d.add_timeout_with(Duration::from_secs(10), &clock, |_result, _timeout| "OVERRIDDEN");
    /// clock.advance(Duration::from_secs(10));
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some("OVERRIDDEN"));
    /// ```
    #[track_caller]
    pub fn add_timeout_with<F, R, M>(
        self,
        timeout: Duration,
        clock: &(impl Scheduler + ?Sized),
        on_timeout_cancel: F,
    ) -> Deferred<T>
    where
        F: FnOnce(Result<T, Failure>, Duration) -> R + 'static,
        R: IntoOutcome<T, M>,
    {
        let timed_out = Rc::new(Cell::new(false));
        let control = self.control();
        let flag = timed_out.clone();
        let cancel_timer = clock.schedule(
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
