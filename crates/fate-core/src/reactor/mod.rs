//! The reactor: one event loop per thread that runs timers, callbacks, tasks and I/O.
//!
//! A [`Reactor`] owns an epoll instance (through mio), a timeline of delayed calls, a ready
//! queue, and the registrations of every I/O source. Nothing in it is `Send`: callbacks,
//! protocols and tasks run on the reactor's thread and need no locks. The one thread-safe door
//! is [`RemoteHandle::call_from_thread`].
//!
//! # One turn of the loop
//!
//! Each turn, in this order:
//!
//! 1. **Remote work**: closures from `call_from_thread` and tasks woken on other threads are
//!    moved onto the ready queue.
//! 2. **Timers**: the clock is read once; every delayed call whose time has come runs, in
//!    deadline order, equal deadlines in the order they were scheduled. A call scheduled by one
//!    of them that is already due runs in this same step.
//! 3. **Ready queue**: `call_soon` callbacks and woken tasks run in FIFO order, at most
//!    `budget` of them (default 256), so I/O is never starved by a busy task.
//! 4. **Poll**: if work remains on the ready queue the loop polls epoll without sleeping;
//!    otherwise it arms a timerfd with the next deadline (to the nanosecond) and sleeps until
//!    that, an I/O event, or a wake from another thread.
//! 5. **Dispatch**: each I/O event goes to the handler of its source.
//!
//! Registering a timer or a callback from the loop thread costs no syscall; the timerfd is
//! armed once per sleep, only when the next deadline changed.
//!
//! # Panics
//!
//! Every callback, timed call, task poll and I/O handler runs behind a panic boundary; see
//! [`PanicPolicy`].
//!
//! # Slow callbacks
//!
//! A callback, timed call, task poll or I/O handler that runs long holds up everything else.
//! With [`ReactorBuilder::slow_callback_duration`] set (100 ms by default in debug builds, off
//! in release builds), the reactor reports each one that held the loop at least that long,
//! with where it was created; see the builder method.

mod error;
#[cfg(all(feature = "testing", feature = "net"))]
pub(crate) mod hosted;
pub(crate) mod io;
mod outstanding;
mod panic;
pub(crate) mod ready;
pub(crate) mod remote;
pub(crate) mod report;
mod signals;
mod triggers;
mod turn;
pub(crate) mod watchdog;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use slab::Slab;

pub use error::ReactorError;
pub use outstanding::Outstanding;
pub(crate) use panic::panic_message;
pub use panic::PanicPolicy;
pub use remote::RemoteHandle;
pub(crate) use remote::{Remote, RemoteWork};
pub use triggers::{Phase, SystemEvent, TriggerId, TriggerWait, UnknownTrigger};

use crate::sys::TimerFd;
use crate::time::{DelayedCall, Timeline};
use io::IoEntry;
use ready::{Ready, LOCAL};
use triggers::Triggers;

/// The state of a reactor's life cycle; transitions only go down this list, except that
/// `crash` sends a running reactor back to `Idle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunState {
    /// Built, not running (never run, or crashed).
    Idle,
    /// In `run`/`run_until_idle`/`block_on`.
    Running,
    /// `stop` was called; shutdown triggers are running or being waited for.
    Stopping,
    /// Shut down for good; `run` again is `NotRestartable`.
    Stopped,
}

/// A handle to the reactor of the current thread. Cheap to clone; `!Send`.
///
/// # Examples
///
/// The article's first program, on the reactor: a fuse burns for a while, then its handler
/// runs, and the reactor stops.
///
/// ```
/// use std::time::Duration;
/// use fate::reactor::Reactor;
///
/// let reactor = Reactor::new().unwrap();
/// reactor.call_later(Duration::from_millis(10), || {
///     println!("BOOM");
///     fate::reactor::current().stop();
/// });
/// reactor.run().unwrap();
/// ```
///
/// A reactor is tied to its thread:
///
/// ```compile_fail
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// std::thread::spawn(move || drop(reactor));
/// ```
#[derive(Clone)]
pub struct Reactor {
    pub(crate) inner: Rc<Inner>,
}

/// The reactor's state. Every field is only touched on the reactor's thread, except `remote`.
pub(crate) struct Inner {
    /// Unique among all reactors of the process; never 0. Task wakers compare it with the
    /// thread's current reactor id to know whether they run on the right thread.
    pub(crate) id: u64,
    /// epoll; borrowed mutably only while sleeping in `poll`.
    poll: RefCell<mio::Poll>,
    /// A clone of the poll's registry, so handlers can (de)register while `poll` is borrowed.
    pub(crate) registry: mio::Registry,
    /// The event buffer `poll` fills; borrowed while a batch is dispatched.
    events: RefCell<mio::Events>,
    /// Registered I/O sources, indexed by the low half of their token.
    pub(crate) sources: RefCell<Slab<IoEntry>>,
    /// Bumped at each registration; the high half of a token, to drop stale events.
    #[cfg_attr(not(any(feature = "net", feature = "process")), allow(dead_code))]
    pub(crate) next_generation: Cell<u32>,
    /// Delayed calls and sleeps, on real time.
    pub(crate) timeline: Timeline,
    /// Wakes epoll at the next deadline with sub-millisecond precision.
    timer_fd: TimerFd,
    /// The deadline `timer_fd` is armed for, if any; saves a syscall when it is unchanged.
    armed: Cell<Option<Instant>>,
    /// The thread-safe queue other threads (and foreign wakers) send work to.
    pub(crate) remote: Arc<Remote>,
    /// Where in its life the reactor is.
    pub(crate) state: Cell<RunState>,
    /// Set by `crash` and by the end of shutdown: leave the loop after this turn.
    exit_requested: Cell<bool>,
    /// Startup and shutdown triggers.
    triggers: RefCell<Triggers>,
    /// What to do when user code panics.
    pub(crate) panic_policy: PanicPolicy,
    /// The first panic that stopped the reactor under `PanicPolicy::Stop`, for `run` to
    /// return.
    pub(crate) panicked: RefCell<Option<String>>,
    /// Whether `run` installs SIGINT/SIGTERM handlers.
    handle_signals: bool,
    /// SIGINT/SIGTERM delivery while running with signal handling on.
    signals: RefCell<Option<signals::SignalWatch>>,
    /// How many ready items one turn runs before polling I/O again.
    budget: usize,
    /// How many times the loop yields the CPU and polls again without sleeping, after a turn
    /// that had I/O, before it sleeps in `epoll_wait` (`ReactorBuilder::polls_before_sleep`).
    pub(super) polls_before_sleep: u32,
    /// The loop watchdog: user code that holds the loop this long is reported. `None`: off
    /// (and no clock is read around user code).
    pub(super) watchdog: Option<watchdog::Watchdog>,
    /// Work outside the reactor that will come back to it (thread-pool jobs, `Outstanding`
    /// guards): while non-zero the reactor is not idle even with nothing else pending.
    pub(crate) outstanding: Cell<usize>,
    /// The simulated host this reactor is, when a `testing::sim::Sim` built it: its sockets
    /// and name lookups go to the simulated network instead of the kernel. `None` for every
    /// reactor built by `ReactorBuilder::build`.
    #[cfg(all(feature = "testing", feature = "net"))]
    pub(crate) sim: Option<crate::testing::sim::Attachment>,
}

/// Reactor ids; 0 means "no reactor" in the thread-local.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The reactor of this thread, while one exists.
    static CURRENT: RefCell<Weak<Inner>> = const { RefCell::new(Weak::new()) };
}

const WAKER_TOKEN: mio::Token = mio::Token(0);
const TIMER_TOKEN: mio::Token = mio::Token(1);
const SIGNAL_TOKEN: mio::Token = mio::Token(2);

/// Configures a reactor before building it.
///
/// # Examples
///
/// ```
/// use fate::reactor::{PanicPolicy, Reactor};
///
/// let reactor = Reactor::builder()
///     .panic_policy(PanicPolicy::Log)
///     .handle_signals(false)
///     .budget(128)
///     .slow_callback_duration(Some(std::time::Duration::from_millis(50)))
///     .build()
///     .unwrap();
/// # drop(reactor);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ReactorBuilder {
    panic_policy: PanicPolicy,
    handle_signals: bool,
    budget: usize,
    events_capacity: usize,
    slow_callback_duration: Option<Duration>,
    polls_before_sleep: u32,
}

impl Default for ReactorBuilder {
    fn default() -> Self {
        ReactorBuilder {
            panic_policy: PanicPolicy::Log,
            handle_signals: true,
            budget: 256,
            events_capacity: 1024,
            slow_callback_duration: watchdog::DEFAULT_THRESHOLD,
            polls_before_sleep: 0,
        }
    }
}

impl ReactorBuilder {
    /// What happens when user code panics (default: log and go on).
    pub fn panic_policy(mut self, policy: PanicPolicy) -> Self {
        self.panic_policy = policy;
        self
    }

    /// Whether `run` turns SIGINT and SIGTERM into a graceful `stop` (a second signal exits at
    /// once). Default: true, as Twisted's `installSignalHandlers`.
    pub fn handle_signals(mut self, on: bool) -> Self {
        self.handle_signals = on;
        self
    }

    /// How many ready callbacks and task polls one turn runs before polling I/O (default 256).
    pub fn budget(mut self, budget: usize) -> Self {
        self.budget = budget.max(1);
        self
    }

    /// How many times, after a turn that handled I/O, the loop gives up the CPU
    /// (`sched_yield`) and polls epoll again without sleeping before it sleeps in
    /// `epoll_wait` (default 0: sleep at once).
    ///
    /// Under load, the next request often arrives a few microseconds after the loop ran out
    /// of work; sleeping and being woken for it costs the kernel a context switch each way.
    /// A poll that finds nothing costs one cheap syscall. Only a turn that handled I/O
    /// earns these polls, so an idle reactor still sleeps after at most one of them, and a
    /// wake from another thread still costs no syscall while the loop is awake.
    ///
    /// Whether that pays depends on what else wants the cores. Measured with `fate-bench
    /// http --threads 2` (two reactors, the load generator on the same two cores; ratios to
    /// hyper on tokio's multi-thread runtime, medians): with the machine's load average at
    /// 1.8-2.5, one such poll cut server CPU per request from 1.04x to 0.88x and raised
    /// requests/s from 0.96x to 1.23x (the workers blocked 0.004 times per request instead
    /// of 0.32); with other processes busy (load 4.5-5.4) it raised CPU per request from
    /// 0.98x to 1.13x, and on `echo --threads 2` lowered messages/s from 1.02x to 0.81x: the
    /// yield hands the core to whatever else runs. Hence off by default; turn it on for a
    /// server that has its cores to itself.
    ///
    /// ```
    /// use fate::reactor::Reactor;
    ///
    /// // After I/O, look once more before sleeping.
    /// let reactor = Reactor::builder().polls_before_sleep(1).build().unwrap();
    /// # drop(reactor);
    /// ```
    pub fn polls_before_sleep(mut self, polls: u32) -> Self {
        self.polls_before_sleep = polls;
        self
    }

    /// How many I/O events one poll can return (default 1024).
    pub fn events_capacity(mut self, capacity: usize) -> Self {
        self.events_capacity = capacity.max(16);
        self
    }

    /// The loop watchdog (asyncio's `slow_callback_duration`): report every callback, timed
    /// call, task poll and I/O handler that holds the loop for `threshold` or more; `None`
    /// for no watchdog. Default: 100 ms in debug builds (`debug_assertions`), off in release
    /// builds.
    ///
    /// Nothing else runs while user code runs, so code that blocks (a synchronous read, a
    /// `std::thread::sleep`, a long computation) stalls every connection and timer; this is
    /// how to find it. The report names the kind of code and where it was created — the
    /// `call_soon`, `call_later`, `spawn`, `listen_*`, `connect_*` or `defer_to_thread`
    /// call — as a `tracing` warning (target `fate::reactor::watchdog`, fields `kind`, `site`,
    /// `millis`, `threshold_ms`) when a subscriber is installed, else as a line on stderr:
    ///
    /// ```text
    /// fate: a task poll (task spawned at src/main.rs:12:5) held the loop for 203 ms; nothing
    /// else ran meanwhile (slow callback threshold: 100 ms)
    /// ```
    ///
    /// Time the thread spent waiting for a CPU (a loaded machine) is not counted; time spent
    /// sleeping or blocked in a system call is. Off, the watchdog reads no clock; the sites
    /// are kept either way (a pointer in each callback, timer, task and I/O source).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fate::reactor::Reactor;
    ///
    /// // Report anything that holds the loop for 20 ms or more, in release builds too.
    /// let reactor = Reactor::builder()
    ///     .slow_callback_duration(Some(Duration::from_millis(20)))
    ///     .build()
    ///     .unwrap();
    /// reactor.call_soon(|| println!("quick: not reported"));
    /// reactor.run_until_idle().unwrap();
    /// # drop(reactor);
    ///
    /// // No watchdog, in debug builds too (a program that blocks on purpose).
    /// let reactor = Reactor::builder().slow_callback_duration(None).build().unwrap();
    /// # drop(reactor);
    /// ```
    pub fn slow_callback_duration(mut self, threshold: Option<Duration>) -> Self {
        self.slow_callback_duration = threshold;
        self
    }

    /// Builds the reactor for this thread.
    ///
    /// # Errors
    ///
    /// [`ReactorError::AlreadyExists`] if this thread already has a reactor;
    /// [`ReactorError::Io`] if epoll, the eventfd or the timerfd cannot be created.
    pub fn build(self) -> Result<Reactor, ReactorError> {
        if CURRENT.with(|c| c.borrow().strong_count() > 0) {
            return Err(ReactorError::AlreadyExists);
        }
        let inner = self.make(Timeline::real())?;
        // `Deferred::from_future` (and so `fate::spawn`) runs its futures as our tasks.
        fate_deferred::set_local_spawner(Some(local_spawner()));
        CURRENT.with(|c| *c.borrow_mut() = Rc::downgrade(&inner));
        LOCAL.with(|l| {
            l.reactor_id.set(inner.id);
            l.panic_policy.set(inner.panic_policy);
        });
        Ok(Reactor { inner })
    }

    /// The reactor's state on `timeline`, not yet installed as any thread's reactor.
    fn make(self, timeline: Timeline) -> Result<Rc<Inner>, ReactorError> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = mio::Waker::new(&registry, WAKER_TOKEN)?;
        let mut timer_fd = TimerFd::new()?;
        registry.register(&mut timer_fd, TIMER_TOKEN, mio::Interest::READABLE)?;
        let inner = Rc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            poll: RefCell::new(poll),
            registry,
            events: RefCell::new(mio::Events::with_capacity(self.events_capacity)),
            sources: RefCell::new(Slab::new()),
            next_generation: Cell::new(0),
            timeline,
            timer_fd,
            armed: Cell::new(None),
            remote: Arc::new(Remote::new(waker)),
            state: Cell::new(RunState::Idle),
            exit_requested: Cell::new(false),
            triggers: RefCell::new(Triggers::default()),
            panic_policy: self.panic_policy,
            panicked: RefCell::new(None),
            handle_signals: self.handle_signals,
            signals: RefCell::new(None),
            budget: self.budget,
            polls_before_sleep: self.polls_before_sleep,
            watchdog: self.slow_callback_duration.map(watchdog::Watchdog::new),
            outstanding: Cell::new(0),
            #[cfg(all(feature = "testing", feature = "net"))]
            sim: None,
        });
        if inner.watchdog.is_some() {
            inner.timeline.keep_sites();
        }
        remote::register(inner.id, &inner.remote);
        Ok(inner)
    }
}

/// The spawner a reactor installs for `fate_deferred`: futures become detached tasks.
fn local_spawner() -> fate_deferred::LocalSpawner {
    Rc::new(|fut, site| {
        crate::task::spawn_local_at(site, fut).detach();
    })
}

impl Drop for Inner {
    fn drop(&mut self) {
        remote::unregister(self.id);
        // `try_with`: a reactor kept in a thread-local may be dropped while the thread's
        // other thread-locals are already gone.
        let _ = LOCAL.try_with(|l| {
            if l.reactor_id.get() == self.id {
                l.reactor_id.set(0);
                fate_deferred::set_local_spawner(None);
            }
        });
        // Tasks, callbacks and timers still queued are dropped now, on the right thread; this
        // also breaks the cycles of callbacks that hold a handle to their own reactor.
        ready::clear();
        self.timeline.clear();
        for work in self.remote.take() {
            drop(work);
        }
    }
}

/// The current thread's reactor.
///
/// # Panics
///
/// If this thread has no reactor; see [`try_current`] for the fallible form.
///
/// # Examples
///
/// ```
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// reactor.call_soon(|| fate::reactor::current().stop());
/// reactor.run().unwrap();
/// ```
#[track_caller]
pub fn current() -> Reactor {
    try_current().expect(
        "no reactor on this thread: build one with Reactor::new() or run code inside fate::run",
    )
}

/// The current thread's reactor, or `None` if it has none.
///
/// # Examples
///
/// ```
/// assert!(fate::reactor::try_current().is_none());
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// assert!(fate::reactor::try_current().is_some());
/// # drop(reactor);
/// ```
pub fn try_current() -> Option<Reactor> {
    CURRENT
        .try_with(|c| c.borrow().upgrade())
        .ok()
        .flatten()
        .map(|inner| Reactor { inner })
}

impl Reactor {
    /// Builds a reactor for this thread with the default settings.
    ///
    /// # Errors
    ///
    /// As [`ReactorBuilder::build`].
    pub fn new() -> Result<Reactor, ReactorError> {
        ReactorBuilder::default().build()
    }

    /// A builder to configure the panic policy, signal handling and turn budget.
    pub fn builder() -> ReactorBuilder {
        ReactorBuilder::default()
    }

    /// Runs `f` at the next turn, after what is already on the ready queue.
    ///
    /// # Ordering
    ///
    /// FIFO with other `call_soon` callbacks and with task wakes.
    #[track_caller]
    pub fn call_soon(&self, f: impl FnOnce() + 'static) {
        let site = std::panic::Location::caller();
        self.call_soon_as(watchdog::Kind::Callback, site, f);
    }

    /// [`call_soon`](Reactor::call_soon), reported by the watchdog as the `kind` of code made
    /// at `site` (a connection's deferred work names its `listen_*` or `connect_*` call rather
    /// than this crate's line).
    pub(crate) fn call_soon_as(
        &self,
        kind: watchdog::Kind,
        site: watchdog::Site,
        f: impl FnOnce() + 'static,
    ) {
        ready::push(Ready::Call(ready::Located::boxed(kind, site, f)));
    }

    /// Runs `f` once `delay` has passed; the returned [`DelayedCall`] can cancel, reset or
    /// delay it. Costs no syscall.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let reactor = fate::reactor::Reactor::new().unwrap();
    /// let call = reactor.call_later(Duration::from_secs(3600), || unreachable!());
    /// call.cancel().unwrap();
    /// reactor.run_until_idle().unwrap();
    /// ```
    #[track_caller]
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> DelayedCall {
        self.inner.timeline.call_later(delay, f)
    }

    /// The reactor's timeline (real time); everything time-based accepts it.
    pub fn timeline(&self) -> &Timeline {
        &self.inner.timeline
    }

    /// Seconds since the reactor was built, as Twisted's `seconds()`.
    pub fn seconds(&self) -> f64 {
        self.inner.timeline.seconds()
    }

    /// A number that names this reactor among all the reactors of the process, never reused:
    /// a thread that builds a new reactor, or a simulated host that restarts, gets a new one.
    /// For state kept per reactor outside it (a connection pool per reactor).
    ///
    /// # Examples
    ///
    /// ```
    /// let first = fate::reactor::Reactor::new().unwrap();
    /// let id = first.id();
    /// assert_eq!(fate::reactor::current().id(), id);
    /// drop(first);
    /// let second = fate::reactor::Reactor::new().unwrap();
    /// assert_ne!(second.id(), id);
    /// ```
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// A `Send` handle for other threads to run code on this reactor.
    pub fn remote(&self) -> RemoteHandle {
        RemoteHandle {
            remote: self.inner.remote.clone(),
        }
    }

    /// Whether the reactor is running (and not stopping).
    pub fn is_running(&self) -> bool {
        self.inner.state.get() == RunState::Running
    }

    /// Runs `f` once the reactor is running: now if it already is, else as an `after
    /// startup` trigger (Twisted's `callWhenRunning`).
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = fate::reactor::Reactor::new().unwrap();
    /// reactor.call_when_running(|| fate::reactor::current().stop());
    /// reactor.run().unwrap();
    /// ```
    pub fn call_when_running(&self, f: impl FnOnce() + 'static) -> Option<TriggerId> {
        if self.is_running() {
            f();
            None
        } else {
            Some(self.add_system_event_trigger(Phase::After, SystemEvent::Startup, f))
        }
    }

    /// Registers `f` to run in `phase` of `event`. A `Before` trigger may return a
    /// [`TriggerWait`] (a future or Deferred) that delays the rest of the event.
    pub fn add_system_event_trigger<R: Into<TriggerWait>>(
        &self,
        phase: Phase,
        event: SystemEvent,
        f: impl FnOnce() -> R + 'static,
    ) -> TriggerId {
        self.inner
            .triggers
            .borrow_mut()
            .add(phase, event, Box::new(move || f().into()))
    }

    /// Removes a trigger that has not run yet.
    ///
    /// # Errors
    ///
    /// [`UnknownTrigger`] if it already ran, was removed, or never existed.
    pub fn remove_system_event_trigger(&self, id: TriggerId) -> Result<(), UnknownTrigger> {
        self.inner.triggers.borrow_mut().remove(id)
    }

    /// Runs until [`stop`](Reactor::stop) (or [`crash`](Reactor::crash)).
    ///
    /// Fires the startup triggers, then loops. With signal handling on (the default), SIGINT
    /// and SIGTERM call `stop`; a second signal exits the process at once.
    ///
    /// # Errors
    ///
    /// `AlreadyRunning` if called from inside the loop; `NotRestartable` after a full stop;
    /// [`ReactorError::Panicked`] if user code panicked under [`PanicPolicy::Stop`].
    pub fn run(&self) -> Result<(), ReactorError> {
        self.enter()?;
        self.fire_event(SystemEvent::Startup);
        self.turn_until(&|| false, false)?;
        self.panicked()
    }

    /// The run's outcome as `PanicPolicy::Stop` left it.
    fn panicked(&self) -> Result<(), ReactorError> {
        match self.inner.panicked.borrow_mut().take() {
            Some(message) => Err(ReactorError::Panicked(message)),
            None => Ok(()),
        }
    }

    /// Runs until nothing is pending: no timer, no ready callback or task, no I/O source, no
    /// thread-pool job. The article's `Fate.run` loop. Startup triggers fire; shutdown
    /// triggers do not (the reactor is left idle and may run again).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let reactor = fate::reactor::Reactor::new().unwrap();
    /// reactor.call_later(Duration::from_millis(5), || println!("fired"));
    /// reactor.run_until_idle().unwrap();
    /// ```
    pub fn run_until_idle(&self) -> Result<(), ReactorError> {
        self.enter()?;
        self.fire_event(SystemEvent::Startup);
        let result = self.turn_until(&|| false, true);
        if self.inner.state.get() == RunState::Running {
            self.inner.state.set(RunState::Idle);
        }
        result?;
        self.panicked()
    }

    /// Runs the loop until `fut` completes and returns its output.
    ///
    /// `fut` runs as a task on this reactor, so it may spawn, sleep and do I/O. The reactor is
    /// left idle afterwards and may run again.
    ///
    /// # Examples
    ///
    /// ```
    /// let reactor = fate::reactor::Reactor::new().unwrap();
    /// let answer = reactor.block_on(async { 6 * 7 }).unwrap();
    /// assert_eq!(answer, 42);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`run`](Reactor::run); [`ReactorError::MainPanicked`] if `fut` panicked (the panic
    /// policy has reported it); [`ReactorError::NotRunning`] if the reactor was stopped or
    /// crashed before `fut` completed (its output is then lost).
    #[track_caller]
    pub fn block_on<F: Future + 'static>(&self, fut: F) -> Result<F::Output, ReactorError> {
        self.enter()?;
        let mut main = crate::task::spawn_local_on(self, fut);
        let result = self.turn_until(&|| main.is_finished(), false);
        if self.inner.state.get() == RunState::Running {
            self.inner.state.set(RunState::Idle);
        }
        result?;
        if !main.is_finished() {
            return Err(ReactorError::NotRunning);
        }
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::Pin::new(&mut main).poll(&mut cx) {
            std::task::Poll::Ready(Ok(value)) => Ok(value),
            std::task::Poll::Ready(Err(crate::task::JoinError::Panicked(message))) => {
                Err(ReactorError::MainPanicked(message))
            }
            _ => Err(ReactorError::NotRunning),
        }
    }

    /// Begins a graceful shutdown: runs the `before shutdown` triggers, waits for what they
    /// returned, runs the `during` and `after` triggers, then leaves the loop.
    ///
    /// Stopping is idempotent: a second `stop()` while the shutdown runs (`quit` then end of
    /// input, Ctrl-C after `quit`) does nothing, and so does `stop()` on a reactor that is not
    /// running. [`try_stop`](Reactor::try_stop) tells those cases apart, as Twisted's
    /// `ReactorNotRunning` does.
    ///
    /// # Examples
    ///
    /// ```
    /// fate::run(|| {
    ///     fate::reactor().stop();
    ///     fate::reactor().stop(); // harmless
    /// })
    /// .unwrap();
    /// ```
    pub fn stop(&self) {
        if self.try_stop().is_err() {
            tracing::debug!(target: "fate::reactor", "stop() on a reactor that is not running");
        }
    }

    /// Begins a graceful shutdown as [`stop`](Reactor::stop) does, or tells why it cannot.
    ///
    /// # Errors
    ///
    /// [`ReactorError::NotRunning`] if the reactor is not running or is already stopping.
    ///
    /// # Examples
    ///
    /// ```
    /// use fate::reactor::ReactorError;
    ///
    /// fate::run(|| {
    ///     assert!(fate::reactor().try_stop().is_ok());
    ///     assert!(matches!(fate::reactor().try_stop(), Err(ReactorError::NotRunning)));
    /// })
    /// .unwrap();
    /// ```
    pub fn try_stop(&self) -> Result<(), ReactorError> {
        if self.inner.state.get() != RunState::Running {
            return Err(ReactorError::NotRunning);
        }
        self.inner.state.set(RunState::Stopping);
        let reactor = self.clone();
        self.call_soon(move || reactor.fire_event(SystemEvent::Shutdown));
        Ok(())
    }

    /// Leaves the loop at the end of this turn without running shutdown triggers. The reactor
    /// may run again afterwards (Twisted's `crash`).
    pub fn crash(&self) {
        self.inner.exit_requested.set(true);
        if matches!(
            self.inner.state.get(),
            RunState::Running | RunState::Stopping
        ) {
            self.inner.state.set(RunState::Idle);
        }
    }

    /// Spawns a `!Send` future on this reactor; see [`crate::task::spawn_local`].
    #[track_caller]
    pub fn spawn_local<F>(&self, fut: F) -> crate::task::JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        crate::task::spawn_local_on(self, fut)
    }

    /// Marks the start of a run; refuses nested and restarted runs.
    fn enter(&self) -> Result<(), ReactorError> {
        match self.inner.state.get() {
            RunState::Running | RunState::Stopping => return Err(ReactorError::AlreadyRunning),
            RunState::Stopped => return Err(ReactorError::NotRestartable),
            RunState::Idle => {}
        }
        self.inner.exit_requested.set(false);
        Ok(())
    }

    /// Fires a system event's three phases.
    fn fire_event(&self, event: SystemEvent) {
        let mut waits = Vec::new();
        while let Some(trigger) = self.next_trigger(event, Phase::Before) {
            let mut wait = TriggerWait(None);
            self.inner
                .panic_policy
                .guard("system event trigger", || wait = trigger());
            waits.extend(wait.0);
        }
        if waits.is_empty() {
            self.finish_event(event);
            return;
        }
        let reactor = self.clone();
        crate::task::spawn_local_on(self, async move {
            for wait in waits {
                wait.await;
            }
            reactor.finish_event(event);
        })
        .detach();
    }

    /// The `during` and `after` phases of an event, plus the reactor's own part.
    fn finish_event(&self, event: SystemEvent) {
        if event == SystemEvent::Startup {
            self.inner.state.set(RunState::Running);
            self.install_signals();
        }
        while let Some(trigger) = self.next_trigger(event, Phase::During) {
            self.inner
                .panic_policy
                .guard("system event trigger", || drop(trigger()));
        }
        if event == SystemEvent::Shutdown {
            self.inner.state.set(RunState::Stopped);
            self.inner.exit_requested.set(true);
            self.inner.signals.borrow_mut().take();
        }
        while let Some(trigger) = self.next_trigger(event, Phase::After) {
            self.inner
                .panic_policy
                .guard("system event trigger", || drop(trigger()));
        }
    }

    fn next_trigger(
        &self,
        event: SystemEvent,
        phase: Phase,
    ) -> Option<Box<dyn FnOnce() -> TriggerWait>> {
        self.inner.triggers.borrow_mut().take_next(event, phase)
    }

    fn install_signals(&self) {
        if !self.inner.handle_signals || self.inner.signals.borrow().is_some() {
            return;
        }
        match signals::SignalWatch::new(&self.inner.registry, SIGNAL_TOKEN) {
            Ok(watch) => *self.inner.signals.borrow_mut() = Some(watch),
            Err(e) => tracing::warn!(target: "fate::reactor", "no SIGINT/SIGTERM handling: {e}"),
        }
    }
}

impl AsRef<Timeline> for Reactor {
    fn as_ref(&self) -> &Timeline {
        &self.inner.timeline
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("id", &self.inner.id)
            .field("state", &self.inner.state.get())
            .field("sources", &self.inner.sources.borrow().len())
            .finish_non_exhaustive()
    }
}
