//! `LoopingCall`: call a function every interval (Twisted's `task.LoopingCall`).

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::rc::Rc;
use std::time::Duration;

use fate_deferred::{maybe_deferred, succeed, Deferred, Failure, Fire, IntoOutcome};

use super::timeline::duration_ns;
use super::{DelayedCall, Timeline};
use crate::reactor::watchdog::Site;

/// Calls a function repeatedly, every `interval`, on a [`Timeline`].
///
/// Calls land on the grid `start + k × interval` (aligned to when the loop started, not to
/// when the previous call ended), always strictly in the future: grid points missed because
/// the loop was busy or the function was slow are skipped, not replayed
/// ([`with_count`](Self::with_count) tells the function how many passed). An interval of
/// zero calls the function again as soon as possible.
///
/// The function may return `()`, a `Result<_, Failure>` or a [`Deferred`] (anything
/// [`IntoOutcome`] accepts; an `async` job becomes a Deferred with `Deferred::from_future`):
/// while a returned Deferred is pending, the function is not called again, and the next call
/// is scheduled from the time it fires. A failure (an `Err`, a failed Deferred, or a panic)
/// stops the loop.
///
/// [`start`](Self::start) returns the loop's completion Deferred: it fires with the
/// `LoopingCall` when [`stop`](Self::stop) is called (once a pending Deferred of the function
/// has fired), or fails with the function's failure. `LoopingCall` is a cheap handle: clones
/// share the loop. A function that stops or resets its own loop takes the handle as an
/// argument ([`with_handle`](Self::with_handle)) rather than keeping a clone, which would be
/// a reference cycle: the loop holds its function, the function would hold the loop.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// use fate::testing::Clock;
/// use fate::time::LoopingCall;
///
/// let clock = Clock::new();
/// let ticks = Rc::new(Cell::new(0));
/// let lc = LoopingCall::new(&clock, { let ticks = ticks.clone(); move || ticks.set(ticks.get() + 1) });
/// let done = lc.start(Duration::from_secs(1), true).unwrap(); // ticks at t = 0, 1, 2, ...
/// clock.pump(&[Duration::from_secs(1); 2]);
/// assert_eq!(ticks.get(), 3);
/// clock.advance(Duration::from_secs(3)); // t = 3 and 4 are late: one call at t = 5
/// assert_eq!(ticks.get(), 4);
/// lc.stop();
/// assert!(done.has_result());
/// assert!(clock.pending_calls().is_empty());
/// ```
///
/// # Errors
///
/// [`LoopingCallError`] for starting a running loop, or resetting (or `try_stop`ping) a
/// stopped one.
///
/// # Cancellation
///
/// Dropping every `LoopingCall` handle does not stop a running loop: its next call holds
/// one. Cancelling the completion Deferred does not stop it either; call `stop`.
///
/// # Ordering
///
/// With `now = true`, the first call runs inside `start`. Each later call is a delayed call
/// on the timeline and runs in deadline order with the others.
#[derive(Clone)]
pub struct LoopingCall {
    inner: Rc<Inner>,
}

struct Inner {
    timeline: Timeline,
    /// Where the loop was made: the watchdog names it when the function runs long.
    site: Site,
    /// Taken out while it runs, so that it may use its own `LoopingCall`.
    body: RefCell<Option<Body>>,
    state: RefCell<State>,
}

/// The user's function, returning a Deferred of `()` whatever it returned itself.
enum Body {
    Plain(Box<dyn FnMut() -> Deferred<()>>),
    Counted(Box<dyn FnMut(u64) -> Deferred<()>>),
    Handle(Box<WithHandle>),
}

/// A function of [`LoopingCall::with_handle`], given its own loop.
type WithHandle = dyn FnMut(&LoopingCall) -> Deferred<()>;

/// The loop's state. Stopped: `running` false, `call` and `completion` `None`. Running and
/// waiting for the next grid point: `call` is `Some`. Running while the function runs or
/// its Deferred is pending: `call` is `None`. Stopped while the function's Deferred is
/// pending: `running` false, `completion` still `Some` until that Deferred fires.
struct State {
    running: bool,
    /// Nanoseconds; 0 means "again as soon as possible".
    interval: u64,
    /// Grid origin, ns since the timeline's epoch.
    start: u64,
    /// Whether `start` called the function at once (the first count is then 1).
    run_at_start: bool,
    /// When the counted function last ran (for `with_count`).
    last: Option<u64>,
    /// The next call, if one is scheduled.
    call: Option<DelayedCall>,
    /// Fires the Deferred `start` returned.
    completion: Option<Fire<LoopingCall>>,
}

/// Misuse of a [`LoopingCall`].
///
/// # Examples
///
/// ```
/// # use std::time::Duration;
/// use fate::time::{LoopingCall, LoopingCallError};
///
/// let clock = fate::testing::Clock::new();
/// let lc = LoopingCall::new(&clock, || ());
/// assert_eq!(lc.try_stop().unwrap_err(), LoopingCallError::NotRunning);
/// let _done = lc.start(Duration::from_secs(1), false).unwrap();
/// assert_eq!(lc.start(Duration::from_secs(1), false).unwrap_err(), LoopingCallError::AlreadyRunning);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LoopingCallError {
    /// `start` on a loop that is running.
    AlreadyRunning,
    /// `stop` or `reset` on a loop that is not running.
    NotRunning,
}

impl fmt::Display for LoopingCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoopingCallError::AlreadyRunning => "the looping call is already running",
            LoopingCallError::NotRunning => "the looping call is not running",
        })
    }
}

impl Error for LoopingCallError {}

impl LoopingCall {
    /// A stopped loop that will call `f` on `timeline`'s time.
    ///
    /// # Examples
    ///
    /// ```
    /// use fate::time::LoopingCall;
    ///
    /// let clock = fate::testing::Clock::new();
    /// let lc = LoopingCall::new(&clock, || println!("tick"));
    /// assert!(!lc.running());
    /// ```
    #[track_caller]
    pub fn new<U, R, M>(
        timeline: impl AsRef<Timeline>,
        mut f: impl FnMut() -> R + 'static,
    ) -> LoopingCall
    where
        U: 'static,
        R: IntoOutcome<U, M>,
    {
        let body = Body::Plain(Box::new(move || {
            maybe_deferred(&mut f).add_callback(|_: U| ())
        }));
        LoopingCall::with_body(timeline.as_ref(), body)
    }

    /// A stopped loop that calls `f(count)`, where `count` is the number of grid points
    /// passed since the previous call (1 when on time; more when calls were skipped; always
    /// 1 with a zero interval): Twisted's `LoopingCall.withCount`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// use fate::time::LoopingCall;
    ///
    /// let clock = fate::testing::Clock::new();
    /// let counts = Rc::new(RefCell::new(Vec::new()));
    /// let lc = LoopingCall::with_count(&clock, { let counts = counts.clone(); move |n| counts.borrow_mut().push(n) });
    /// let _done = lc.start(Duration::from_secs(1), true).unwrap();
    /// clock.advance(Duration::from_millis(3500)); // one late call covers t = 1, 2, 3
    /// assert_eq!(*counts.borrow(), [1, 3]);
    /// ```
    #[track_caller]
    pub fn with_count<U, R, M>(
        timeline: impl AsRef<Timeline>,
        mut f: impl FnMut(u64) -> R + 'static,
    ) -> LoopingCall
    where
        U: 'static,
        R: IntoOutcome<U, M>,
    {
        let body = Body::Counted(Box::new(move |count| {
            maybe_deferred(|| f(count)).add_callback(|_: U| ())
        }));
        LoopingCall::with_body(timeline.as_ref(), body)
    }

    /// A stopped loop that calls `f(&loop)`: the function gets its own loop's handle, to
    /// stop, reset or re-time it without keeping a clone (which would be a reference cycle
    /// that keeps the loop and everything its function holds alive forever).
    ///
    /// # Examples
    ///
    /// A countdown that stops itself; once stopped and its handles dropped, the loop and its
    /// function are freed:
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// use fate::time::LoopingCall;
    ///
    /// let clock = fate::testing::Clock::new();
    /// let left = Rc::new(Cell::new(3));
    /// let lc = LoopingCall::with_handle(&clock, {
    ///     let left = left.clone();
    ///     move |lc: &LoopingCall| {
    ///         left.set(left.get() - 1);
    ///         if left.get() == 0 {
    ///             lc.stop();
    ///         }
    ///     }
    /// });
    /// let done = lc.start(Duration::from_secs(1), true).unwrap(); // ticks at t = 0, 1, 2
    /// clock.pump(&[Duration::from_secs(1); 2]);
    /// assert!(done.has_result() && !lc.running());
    /// drop((lc, done));
    /// assert_eq!(Rc::strong_count(&left), 1); // the function is gone
    /// ```
    #[track_caller]
    pub fn with_handle<U, R, M>(
        timeline: impl AsRef<Timeline>,
        mut f: impl FnMut(&LoopingCall) -> R + 'static,
    ) -> LoopingCall
    where
        U: 'static,
        R: IntoOutcome<U, M>,
    {
        let body = Body::Handle(Box::new(move |lc: &LoopingCall| {
            maybe_deferred(|| f(lc)).add_callback(|_: U| ())
        }));
        LoopingCall::with_body(timeline.as_ref(), body)
    }

    #[track_caller]
    fn with_body(timeline: &Timeline, body: Body) -> LoopingCall {
        LoopingCall {
            inner: Rc::new(Inner {
                timeline: timeline.clone(),
                site: Location::caller(),
                body: RefCell::new(Some(body)),
                state: RefCell::new(State {
                    running: false,
                    interval: 0,
                    start: 0,
                    run_at_start: false,
                    last: None,
                    call: None,
                    completion: None,
                }),
            }),
        }
    }

    /// Starts the loop: calls the function every `interval` from now, the first time at once
    /// if `now`, else one interval from now. Returns the completion Deferred.
    ///
    /// # Errors
    ///
    /// [`LoopingCallError::AlreadyRunning`] if the loop is running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::cell::Cell;
    /// # use std::rc::Rc;
    /// # use std::time::Duration;
    /// # use fate::time::LoopingCall;
    /// let clock = fate::testing::Clock::new();
    /// let ticks = Rc::new(Cell::new(0));
    /// let lc = LoopingCall::new(&clock, { let ticks = ticks.clone(); move || ticks.set(ticks.get() + 1) });
    /// let done = lc.start(Duration::from_secs(2), false).unwrap();
    /// assert_eq!(ticks.get(), 0);
    /// clock.advance(Duration::from_secs(2));
    /// assert_eq!(ticks.get(), 1);
    /// lc.stop();
    /// let lc_again = done.try_result().ok().and_then(|r| r.ok()).unwrap();
    /// assert!(!lc_again.running());
    /// ```
    pub fn start(
        &self,
        interval: Duration,
        now: bool,
    ) -> Result<Deferred<LoopingCall>, LoopingCallError> {
        let (done, fire) = Deferred::pending();
        let start = {
            let mut st = self.inner.state.borrow_mut();
            if st.running {
                return Err(LoopingCallError::AlreadyRunning);
            }
            st.running = true;
            st.interval = duration_ns(interval);
            st.start = self.inner.timeline.now_ns();
            st.run_at_start = now;
            st.last = None;
            st.completion = Some(fire);
            st.start
        };
        if now {
            self.call_now();
        } else {
            self.schedule_from(start);
        }
        Ok(done)
    }

    /// Stops the loop: no further calls. The completion Deferred fires with this
    /// `LoopingCall` now, or — if the function is running or its Deferred is pending — when
    /// that finishes.
    ///
    /// Stopping a loop that is not running does nothing (the function may stop its own loop,
    /// and a shutdown may stop it again); [`try_stop`](Self::try_stop) tells.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fate::time::LoopingCall;
    /// let clock = fate::testing::Clock::new();
    /// let lc = LoopingCall::new(&clock, || unreachable!());
    /// let done = lc.start(Duration::from_secs(10), false).unwrap();
    /// lc.stop();
    /// assert!(done.has_result());
    /// assert!(clock.pending_calls().is_empty());
    /// ```
    pub fn stop(&self) {
        if self.try_stop().is_err() {
            tracing::debug!(target: "fate::time", "stop() on a looping call that is not running");
        }
    }

    /// Stops the loop as [`stop`](Self::stop) does, or tells that it was not running
    /// (Twisted's `LoopingCall.stop` asserts that it is).
    ///
    /// # Errors
    ///
    /// [`LoopingCallError::NotRunning`] if the loop is not running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// use fate::time::{LoopingCall, LoopingCallError};
    ///
    /// let clock = fate::testing::Clock::new();
    /// let lc = LoopingCall::new(&clock, || ());
    /// let _done = lc.start(Duration::from_secs(1), false).unwrap();
    /// assert_eq!(lc.try_stop(), Ok(()));
    /// assert_eq!(lc.try_stop(), Err(LoopingCallError::NotRunning));
    /// ```
    pub fn try_stop(&self) -> Result<(), LoopingCallError> {
        let (call, fire) = {
            let mut st = self.inner.state.borrow_mut();
            if !st.running {
                return Err(LoopingCallError::NotRunning);
            }
            st.running = false;
            match st.call.take() {
                Some(call) => (Some(call), st.completion.take()),
                None => (None, None),
            }
        };
        if let Some(call) = call {
            let _ = call.cancel();
        }
        if let Some(fire) = fire {
            fire.try_callback(self.clone()).ok();
        }
        Ok(())
    }

    /// Restarts the grid from now: the next call comes one interval from now (if the loop is
    /// waiting for its next call; a running function is not disturbed).
    ///
    /// # Errors
    ///
    /// [`LoopingCallError::NotRunning`] if the loop is not running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::cell::Cell;
    /// # use std::rc::Rc;
    /// # use std::time::Duration;
    /// # use fate::time::LoopingCall;
    /// let clock = fate::testing::Clock::new();
    /// let ran = Rc::new(Cell::new(false));
    /// let lc = LoopingCall::new(&clock, { let ran = ran.clone(); move || ran.set(true) });
    /// let _done = lc.start(Duration::from_secs(2), false).unwrap();
    /// clock.advance(Duration::from_secs(1));
    /// lc.reset().unwrap(); // next call at t = 3
    /// clock.advance(Duration::from_secs(1));
    /// assert!(!ran.get());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(ran.get());
    /// ```
    pub fn reset(&self) -> Result<(), LoopingCallError> {
        let (call, now) = {
            let mut st = self.inner.state.borrow_mut();
            if !st.running {
                return Err(LoopingCallError::NotRunning);
            }
            let Some(call) = st.call.take() else {
                return Ok(());
            };
            st.start = self.inner.timeline.now_ns();
            (call, st.start)
        };
        let _ = call.cancel();
        self.schedule_from(now);
        Ok(())
    }

    /// Whether the loop is running: from `start` until `stop` or a failure (already false
    /// when the completion Deferred fires).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fate::time::LoopingCall;
    /// let clock = fate::testing::Clock::new();
    /// let lc = LoopingCall::new(&clock, || ());
    /// let _done = lc.start(Duration::from_secs(1), true).unwrap();
    /// assert!(lc.running());
    /// ```
    pub fn running(&self) -> bool {
        self.inner.state.borrow().running
    }

    /// The interval between calls.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use fate::time::LoopingCall;
    /// let clock = fate::testing::Clock::new();
    /// let lc = LoopingCall::new(&clock, || ());
    /// let _done = lc.start(Duration::from_millis(250), false).unwrap();
    /// assert_eq!(lc.interval(), Duration::from_millis(250));
    /// ```
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.inner.state.borrow().interval)
    }

    /// Changes the interval of a running loop; it takes effect when the next call is
    /// scheduled (after the pending one, if any).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::cell::Cell;
    /// # use std::rc::Rc;
    /// # use std::time::Duration;
    /// # use fate::time::LoopingCall;
    /// let clock = fate::testing::Clock::new();
    /// let ticks = Rc::new(Cell::new(0));
    /// let lc = LoopingCall::new(&clock, { let ticks = ticks.clone(); move || ticks.set(ticks.get() + 1) });
    /// let _done = lc.start(Duration::from_secs(1), true).unwrap();
    /// lc.set_interval(Duration::from_secs(5));
    /// clock.advance(Duration::from_secs(1)); // the call already scheduled for t = 1
    /// clock.advance(Duration::from_secs(3));
    /// assert_eq!(ticks.get(), 2);
    /// clock.advance(Duration::from_secs(1)); // t = 5
    /// assert_eq!(ticks.get(), 3);
    /// ```
    pub fn set_interval(&self, interval: Duration) {
        self.inner.state.borrow_mut().interval = duration_ns(interval);
    }

    /// One iteration: run the function, then schedule the next or finish.
    fn call_now(&self) {
        let now = self.inner.timeline.now_ns();
        self.inner.state.borrow_mut().call = None;
        let Some(mut body) = self.inner.body.borrow_mut().take() else {
            // Re-entered from inside the function (it restarted its own loop): try again at
            // the next grid point instead of running the function within itself.
            self.schedule_from(now);
            return;
        };
        let result = match &mut body {
            Body::Plain(f) => f(),
            Body::Counted(f) => match self.count(now) {
                Some(count) => f(count),
                None => succeed(()),
            },
            Body::Handle(f) => f(self),
        };
        *self.inner.body.borrow_mut() = Some(body);
        let this = self.clone();
        drop(result.add_both(move |r| this.finished(r)));
    }

    /// The function's result arrived: schedule the next call, or fire the completion.
    fn finished(&self, result: Result<(), Failure>) {
        let fire = {
            let mut st = self.inner.state.borrow_mut();
            match &result {
                Ok(()) if st.running => None,
                Ok(()) => st.completion.take().map(|fire| (fire, Ok(()))),
                Err(_) => {
                    st.running = false;
                    st.completion.take().map(|fire| (fire, result))
                }
            }
        };
        match fire {
            None => self.schedule_from(self.inner.timeline.now_ns()),
            Some((fire, Ok(()))) => drop(fire.try_callback(self.clone())),
            Some((fire, Err(failure))) => drop(fire.try_errback(failure)),
        }
    }

    /// Schedules the next call at the first grid point strictly after `when` (or at `when`
    /// with a zero interval).
    fn schedule_from(&self, when: u64) {
        let next = {
            let st = self.inner.state.borrow();
            match st.interval {
                0 => when,
                interval => {
                    let into = when.saturating_sub(st.start) % interval;
                    when.saturating_add(interval - into)
                }
            }
        };
        let this = self.clone();
        let call = self
            .inner
            .timeline
            .call_at_ns(next, self.inner.site, move || this.call_now());
        self.inner.state.borrow_mut().call = Some(call);
    }

    /// Grid points passed since the previous counted call (Twisted's `withCount`), or `None`
    /// if none did (the function is then not called).
    fn count(&self, now: u64) -> Option<u64> {
        let mut st = self.inner.state.borrow_mut();
        if st.interval == 0 {
            st.last = Some(now);
            return Some(1);
        }
        let interval = i128::from(st.interval);
        let start = i128::from(st.start);
        let last = match st.last {
            Some(last) => i128::from(last),
            None if st.run_at_start => start - interval,
            None => start,
        };
        // Truncating division, as Twisted's `int()`.
        let count = (i128::from(now) - start) / interval - (last - start) / interval;
        if count <= 0 {
            return None;
        }
        st.last = Some(now);
        Some(u64::try_from(count).unwrap_or(u64::MAX))
    }
}

impl fmt::Debug for LoopingCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.state.try_borrow() {
            Ok(st) => f
                .debug_struct("LoopingCall")
                .field("running", &st.running)
                .field("interval", &Duration::from_nanos(st.interval))
                .field("scheduled", &st.call.is_some())
                .finish(),
            Err(_) => f.debug_struct("LoopingCall").finish_non_exhaustive(),
        }
    }
}
