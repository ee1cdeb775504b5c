//! The timeline: one source of time plus the timers scheduled on it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::IntoFuture;
use std::panic::Location;
use std::rc::Rc;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::wheel::Wheel;
use super::{DelayedCall, Sleep, Timeout};
use crate::reactor::watchdog::Site;
use crate::sys::InlineFn;

/// A source of time and the calls scheduled on it: what the reactor and `testing::Clock` both
/// run timers on.
///
/// A `Timeline` is a cheap handle (an `Rc`): clones share the same time and the same pending
/// calls. Its time is either real (monotonic, [`Instant::now`]) — the reactor's — or virtual,
/// standing still until a test advances it. Code that waits should take
/// `impl AsRef<Timeline>` so that it runs on both.
///
/// Scheduling never makes a system call: the loop re-arms its own timer before it sleeps.
/// Calls are stored in a hierarchical timing wheel: scheduling, cancelling and resetting are
/// O(1), and no timer allocates once the wheel is warm (a boxed callback aside).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// use fate::testing::Clock;
/// use fate::time::Timeline;
///
/// fn remind(timeline: &impl AsRef<Timeline>, fired: Rc<Cell<bool>>) {
///     let _ = timeline.as_ref().call_later(Duration::from_secs(5), move || fired.set(true));
/// }
///
/// let clock = Clock::new();
/// let fired = Rc::new(Cell::new(false));
/// remind(&clock, fired.clone());
/// clock.advance(Duration::from_secs(5));
/// assert!(fired.get());
/// assert_eq!(clock.seconds(), 5.0);
/// ```
///
/// A `Timeline` belongs to its thread:
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(fate::testing::Clock::new().timeline().clone());
/// ```
///
/// # Ordering
///
/// Calls run in deadline order; calls with the same deadline run in the order they were
/// scheduled (a [`reset`](DelayedCall::reset) counts as scheduling anew). A call never runs
/// before its deadline. On the reactor, due calls run at the start of a turn, before the
/// ready queue and I/O; calls scheduled while they run wait for the next turn. On a
/// `testing::Clock`, calls that become due during an `advance` run within it.
#[derive(Clone)]
pub struct Timeline {
    inner: Rc<Inner>,
}

struct Inner {
    /// Time zero of [`Timeline::seconds`] and of the wheel's `u64` nanoseconds.
    epoch: Instant,
    /// The current time of a virtual timeline; `None` for real time.
    manual_now: Option<Cell<Instant>>,
    wheel: RefCell<Wheel<Entry>>,
    /// The last `now` given to [`Timeline::pop_due`], in nanoseconds: the loop pops many
    /// calls with one `now` per turn, and converting it costs more than comparing it.
    due_now: Cell<Option<(Instant, u64)>>,
    /// Whether to keep where each call was scheduled: only on the timeline of a reactor whose
    /// loop watchdog is on, so that scheduling costs nothing more without one.
    keep_sites: Cell<bool>,
    /// While `keep_sites`: where the call in each wheel node was scheduled, by node index (a
    /// stale value where the node holds no call; each call's is written as it is scheduled).
    sites: RefCell<Vec<Option<Site>>>,
}

/// What a timer does when it fires.
pub(super) enum Entry {
    /// A `call_later` callback (where it was scheduled is in `Inner::sites`, when kept).
    Call(InlineFn),
    /// The task waiting in a [`Sleep`] (or a [`Timeout`]).
    Wake(Waker),
}

/// What a vacant wheel node holds: a no-op waker (no allocation, nothing to drop).
impl Default for Entry {
    fn default() -> Entry {
        Entry::Wake(Waker::noop().clone())
    }
}

/// A timer that is due, taken off its timeline: [`run`](DueCall::run) it once the timeline is
/// no longer borrowed (the reactor wraps `run` in its panic guard).
#[must_use = "a due call does nothing until it is run"]
pub(crate) struct DueCall(Entry, Option<Site>);

impl DueCall {
    /// Runs the callback, or wakes the waiting task.
    pub(crate) fn run(self) {
        match self.0 {
            Entry::Call(f) => f.call(),
            Entry::Wake(waker) => waker.wake(),
        }
    }

    /// Where a callback was scheduled, if its timeline keeps sites; `None` for a task's wake.
    pub(crate) fn site(&self) -> Option<Site> {
        self.1
    }
}

impl Timeline {
    /// A timeline on real, monotonic time, whose epoch is now: the reactor's.
    pub(crate) fn real() -> Timeline {
        Timeline::with_source(Instant::now(), None)
    }

    /// A timeline on virtual time that starts, and stands, at `start`.
    #[cfg(feature = "testing")]
    pub(crate) fn manual(start: Instant) -> Timeline {
        Timeline::with_source(start, Some(Cell::new(start)))
    }

    fn with_source(epoch: Instant, manual_now: Option<Cell<Instant>>) -> Timeline {
        Timeline {
            inner: Rc::new(Inner {
                epoch,
                manual_now,
                wheel: RefCell::new(Wheel::new()),
                due_now: Cell::new(None),
                keep_sites: Cell::new(false),
                sites: RefCell::new(Vec::new()),
            }),
        }
    }

    /// Moves a virtual timeline's time to `now` (never backwards).
    ///
    /// # Panics
    ///
    /// If the timeline runs on real time.
    #[cfg(feature = "testing")]
    pub(crate) fn set_now(&self, now: Instant) {
        let cell = self
            .inner
            .manual_now
            .as_ref()
            .expect("only a virtual timeline can be moved");
        cell.set(cell.get().max(now));
    }

    /// The current time: the real monotonic time, or the virtual time of a clock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let clock = fate::testing::Clock::new();
    /// let start = clock.now();
    /// clock.advance(Duration::from_millis(1500));
    /// assert_eq!(clock.now() - start, Duration::from_millis(1500));
    /// ```
    pub fn now(&self) -> Instant {
        match &self.inner.manual_now {
            Some(now) => now.get(),
            None => Instant::now(),
        }
    }

    /// Seconds since the timeline's [`epoch`](Self::epoch): Twisted's `seconds()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let clock = fate::testing::Clock::new();
    /// assert_eq!(clock.seconds(), 0.0);
    /// clock.advance(Duration::from_millis(250));
    /// assert_eq!(clock.seconds(), 0.25);
    /// ```
    pub fn seconds(&self) -> f64 {
        self.now()
            .saturating_duration_since(self.inner.epoch)
            .as_secs_f64()
    }

    /// Time zero of [`seconds`](Self::seconds): when the reactor or clock was created.
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = fate::testing::Clock::new();
    /// assert_eq!(clock.epoch(), clock.now());
    /// ```
    pub fn epoch(&self) -> Instant {
        self.inner.epoch
    }

    /// Schedules `f` to run once, `delay` from now; returns the handle that cancels or moves it.
    ///
    /// Dropping the returned [`DelayedCall`] does not cancel the call.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let clock = fate::testing::Clock::new();
    /// let log = Rc::new(RefCell::new(Vec::new()));
    /// for name in ["a", "b"] {
    ///     let log = log.clone();
    ///     let _ = clock.call_later(Duration::from_secs(1), move || log.borrow_mut().push(name));
    /// }
    /// let c = clock.call_later(Duration::ZERO, { let log = log.clone(); move || log.borrow_mut().push("c") });
    /// assert!(c.active());
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(*log.borrow(), ["c", "a", "b"]);
    /// ```
    ///
    /// # Ordering
    ///
    /// See [`Timeline`]: deadline order, then the order of scheduling.
    #[track_caller]
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> DelayedCall {
        let when = self.now_ns().saturating_add(duration_ns(delay));
        self.schedule(when, Entry::Call(InlineFn::new(f)), Location::caller())
    }

    /// Schedules `f` to run once at `when` (at once, on the next turn, if `when` has passed).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let clock = fate::testing::Clock::new();
    /// let ran = Rc::new(Cell::new(false));
    /// let at = clock.now() + Duration::from_secs(3);
    /// let call = clock.call_at(at, { let ran = ran.clone(); move || ran.set(true) });
    /// assert_eq!(call.time(), at);
    /// clock.advance(Duration::from_secs(3));
    /// assert!(ran.get());
    /// ```
    #[track_caller]
    pub fn call_at(&self, when: Instant, f: impl FnOnce() + 'static) -> DelayedCall {
        let site = Location::caller();
        self.schedule(self.to_ns(when), Entry::Call(InlineFn::new(f)), site)
    }

    /// Schedules `f` at `when` ns since the epoch; `site` is where the user code it runs was
    /// given to us.
    pub(super) fn call_at_ns(
        &self,
        when: u64,
        site: Site,
        f: impl FnOnce() + 'static,
    ) -> DelayedCall {
        self.schedule(when, Entry::Call(InlineFn::new(f)), site)
    }

    /// Files `entry`, a call scheduled at `site`, for `when`.
    fn schedule(&self, when: u64, entry: Entry, site: Site) -> DelayedCall {
        let key = self.inner.wheel.borrow_mut().insert(when, entry);
        if self.inner.keep_sites.get() {
            self.keep_site(key.index(), site);
        }
        DelayedCall::new(self.clone(), key, when)
    }

    /// Keeps `site` as that of the call in wheel node `index`.
    #[cold]
    #[inline(never)]
    fn keep_site(&self, index: u32, site: Site) {
        let mut sites = self.inner.sites.borrow_mut();
        let index = index as usize;
        if sites.len() <= index {
            sites.resize(index + 1, None);
        }
        sites[index] = Some(site);
    }

    /// From now on, keep where each call is scheduled, for [`DueCall::site`] (the reactor's
    /// loop watchdog names it).
    pub(crate) fn keep_sites(&self) {
        self.inner.keep_sites.set(true);
    }

    /// The deadlines of all pending timers (calls, sleeps and timeouts that have neither
    /// fired nor been cancelled), in the order they will fire: Twisted's `getDelayedCalls`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let clock = fate::testing::Clock::new();
    /// let a = clock.call_later(Duration::from_secs(2), || ());
    /// let b = clock.call_later(Duration::from_secs(1), || ());
    /// assert_eq!(clock.delayed_calls(), [b.time(), a.time()]);
    /// b.cancel().unwrap();
    /// assert_eq!(clock.delayed_calls(), [a.time()]);
    /// ```
    pub fn delayed_calls(&self) -> Vec<Instant> {
        let deadlines = self.inner.wheel.borrow().deadlines();
        deadlines.into_iter().map(|ns| self.instant(ns)).collect()
    }

    /// Handles to every pending delayed call (`call_later`, `call_at`), in the order they
    /// will run: Twisted's `getDelayedCalls`, to cancel whatever a test left behind. Timers
    /// of sleeps and timeouts are not calls and are left out.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let clock = fate::testing::Clock::new();
    /// let _a = clock.call_later(Duration::from_secs(2), || unreachable!());
    /// let _b = clock.call_later(Duration::from_secs(1), || unreachable!());
    /// let calls = clock.get_delayed_calls();
    /// assert_eq!(calls[0].time(), clock.epoch() + Duration::from_secs(1));
    /// for call in calls {
    ///     call.cancel().unwrap(); // teardown
    /// }
    /// assert!(clock.pending_calls().is_empty());
    /// ```
    pub fn get_delayed_calls(&self) -> Vec<DelayedCall> {
        let keys = self
            .inner
            .wheel
            .borrow()
            .pending_keys(|entry| matches!(entry, Entry::Call(_)));
        keys.into_iter()
            .map(|(key, when)| DelayedCall::new(self.clone(), key, when))
            .collect()
    }

    /// A future that completes `duration` from now.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use std::task::{Context, Poll, Waker};
    /// let clock = fate::testing::Clock::new();
    /// let mut sleep = clock.sleep(Duration::from_secs(1));
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(std::pin::Pin::new(&mut sleep).poll(&mut cx).is_pending());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(std::pin::Pin::new(&mut sleep).poll(&mut cx).is_ready());
    /// # use std::future::Future;
    /// ```
    ///
    /// # Cancellation
    ///
    /// Dropping the `Sleep` removes its timer.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        Sleep::new(
            self.clone(),
            self.now_ns().saturating_add(duration_ns(duration)),
        )
    }

    /// A future that completes at `deadline` (at once if it has passed).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let sleep = clock.sleep_until(clock.now() + Duration::from_secs(2));
    /// assert_eq!(sleep.deadline() - clock.now(), Duration::from_secs(2));
    /// ```
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        Sleep::new(self.clone(), self.to_ns(deadline))
    }

    /// Runs `future` with a time limit: its output, or [`Elapsed`](super::Elapsed) if
    /// `duration` passes first.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::future::Future;
    /// # use std::task::{Context, Poll, Waker};
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let mut slow = Box::pin(clock.timeout(Duration::from_secs(1), std::future::pending::<()>()));
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(slow.as_mut().poll(&mut cx).is_pending());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(matches!(slow.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
    ///
    /// let mut quick = Box::pin(clock.timeout(Duration::from_secs(1), async { 7 }));
    /// assert_eq!(quick.as_mut().poll(&mut cx), Poll::Ready(Ok(7)));
    /// ```
    ///
    /// # Cancellation
    ///
    /// Dropping the `Timeout` drops `future` and removes the timer.
    pub fn timeout<F: IntoFuture>(&self, duration: Duration, future: F) -> Timeout<F::IntoFuture> {
        Timeout::new(future.into_future(), self.sleep(duration))
    }

    /// A lower bound of the earliest pending deadline (exact when the earliest timer sits in
    /// the current 65 µs slot); `None` when no timer is pending.
    ///
    /// If `now >= next_deadline()`, [`pop_due(now)`](Self::pop_due) makes progress, so the
    /// loop never spins: it yields a call, or refines the bound, or does a bounded share of
    /// the wheel's bookkeeping and returns `None` with the bound still ≤ `now` (then the loop
    /// should poll I/O without blocking and come back).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let ns = self.inner.wheel.borrow().next_deadline()?;
        Some(self.instant(ns))
    }

    /// Takes the earliest call whose deadline is ≤ `now`, in deadline-then-FIFO order.
    ///
    /// The timeline is not borrowed once this returns: run the call with [`DueCall::run`];
    /// it may schedule, cancel and reset calls on this timeline.
    pub(crate) fn pop_due(&self, now: Instant) -> Option<DueCall> {
        let now = match self.inner.due_now.get() {
            Some((at, ns)) if at == now => ns,
            _ => {
                let ns = self.to_ns(now);
                self.inner.due_now.set(Some((now, ns)));
                ns
            }
        };
        let (_, index, entry) = self.inner.wheel.borrow_mut().pop_expired_indexed(now)?;
        let site = match entry {
            Entry::Call(_) if self.inner.keep_sites.get() => self
                .inner
                .sites
                .borrow()
                .get(index as usize)
                .copied()
                .flatten(),
            _ => None,
        };
        Some(DueCall(entry, site))
    }

    /// Number of pending timers.
    pub(crate) fn len(&self) -> usize {
        self.inner.wheel.borrow().len()
    }

    /// Drops every pending timer without running it (their handles report `AlreadyCalled`).
    ///
    /// Callbacks often hold a handle to their own timeline; clearing breaks those cycles when
    /// the reactor is dropped.
    pub(crate) fn clear(&self) {
        let entries = self.inner.wheel.borrow_mut().drain();
        drop(entries);
    }

    // ---- for the time module ----------------------------------------------------------------

    pub(super) fn wheel(&self) -> &RefCell<Wheel<Entry>> {
        &self.inner.wheel
    }

    /// Now, in nanoseconds since the epoch.
    pub(super) fn now_ns(&self) -> u64 {
        self.to_ns(self.now())
    }

    /// `t` in nanoseconds since the epoch (saturating: before the epoch is 0).
    pub(super) fn to_ns(&self, t: Instant) -> u64 {
        duration_ns(t.saturating_duration_since(self.inner.epoch))
    }

    /// The instant `ns` nanoseconds after the epoch.
    pub(super) fn instant(&self, ns: u64) -> Instant {
        self.inner.epoch + Duration::from_nanos(ns)
    }
}

impl AsRef<Timeline> for Timeline {
    fn as_ref(&self) -> &Timeline {
        self
    }
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeline")
            .field("virtual", &self.inner.manual_now.is_some())
            .field("seconds", &self.seconds())
            .field(
                "pending",
                &self.inner.wheel.try_borrow().map(|w| w.len()).ok(),
            )
            .finish()
    }
}

/// `d` in nanoseconds, saturating at `u64::MAX` (584 years).
pub(super) fn duration_ns(d: Duration) -> u64 {
    d.as_secs()
        .checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(u64::from(d.subsec_nanos())))
        .unwrap_or(u64::MAX)
}
