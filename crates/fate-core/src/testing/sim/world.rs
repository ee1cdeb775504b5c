//! `Sim`: the hosts, the network between them, virtual time, and the loop that runs them.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::error::SimError;
use super::host::Host;
use super::link::Link;
use super::net::{HostId, NetState};
use super::socket::Attachment;

/// A scheduled change to the simulation (a fault, or whatever a test wants to do at a time).
type Control = Box<dyn FnOnce(&Sim)>;

/// A deterministic simulation of several hosts, each running ordinary Fate code on its own
/// reactor, connected by a simulated network, on virtual time, with every random choice drawn
/// from one seed.
///
/// Code on a host uses the same functions and types as anywhere else — `fate::call_later`,
/// `fate::spawn`, `sleep`, `LoopingCall`, Deferreds, `listen_tcp`/`connect_tcp`, endpoints
/// from strings (`tcp:db:5432`), `Protocol`s and `Factory`s — and its reactor sends sockets
/// and name lookups to the simulated network instead of the kernel. Host names resolve to
/// the hosts' addresses (10.0.0.1 for the first host, and so on).
///
/// # Time
///
/// Time stands still while any host has work to do; when none has, it jumps to the next
/// timer or packet. An hour of timers takes as long as running their callbacks.
///
/// # Ordering
///
/// Each step runs one turn (due timers, then the ready queue) of every host that has work,
/// in an order drawn from the seed; when none has, the next packet or scheduled control is
/// delivered (earliest first, then in the order sent); when nothing is due, time advances.
/// Nothing depends on addresses in memory, hash order or the wall clock, so a seed fixes the
/// whole run: [`trace_hash`](Sim::trace_hash) is the same on every run with the same seed and
/// the same program.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// use fate::testing::sim::Sim;
///
/// let sim = Sim::new(7);
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let l = log.clone();
/// sim.host("fuse", move || {
///     let l = l.clone();
///     fate::call_later(Duration::from_secs(3600), move || {
///         l.borrow_mut().push(fate::reactor().seconds())
///     });
/// });
/// sim.run_until_idle().unwrap();
/// assert_eq!(*log.borrow(), [3600.0]);
/// assert_eq!(sim.elapsed(), Duration::from_secs(3600));
/// ```
///
/// A simulation lives on its thread:
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(fate::testing::sim::Sim::new(1));
/// ```
pub struct Sim {
    seed: u64,
    /// Virtual time zero, as an `Instant` for the hosts' timelines. Only differences from it
    /// ever reach the trace.
    epoch: Instant,
    net: Rc<RefCell<NetState>>,
    hosts: RefCell<Vec<Host>>,
    /// Scheduled controls, by (time, sequence) in the network's sequence space, so that a
    /// control and a packet due at the same time keep the order they were scheduled in.
    controls: RefCell<BTreeMap<(u64, u64), Control>>,
    /// The first failure (a host's panic), reported by the next `run_*` call.
    failure: RefCell<Option<String>>,
    /// Set while a step runs, so that a control cannot run the loop from inside it.
    stepping: Cell<bool>,
}

/// Configures a [`Sim`]: the seed and the default link.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fate::testing::sim::{Link, Sim};
///
/// let sim = Sim::builder().seed(42).link(Link::new(Duration::from_millis(5))).build();
/// assert_eq!(sim.seed(), 42);
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct SimBuilder {
    seed: u64,
    link: Link,
}

impl SimBuilder {
    /// The seed every random choice is drawn from (default 0).
    pub fn seed(mut self, seed: u64) -> SimBuilder {
        self.seed = seed;
        self
    }

    /// The link between any two hosts unless [`Sim::set_link`] says otherwise (default: see
    /// [`Link`]).
    pub fn link(mut self, link: Link) -> SimBuilder {
        self.link = link;
        self
    }

    /// Builds the simulation, with no hosts yet.
    pub fn build(self) -> Sim {
        Sim {
            seed: self.seed,
            epoch: Instant::now(),
            net: Rc::new(RefCell::new(NetState::new(self.seed, self.link))),
            hosts: RefCell::new(Vec::new()),
            controls: RefCell::new(BTreeMap::new()),
            failure: RefCell::new(None),
            stepping: Cell::new(false),
        }
    }
}

/// What one step of the loop did.
enum Step {
    /// Something ran or was delivered, or time moved.
    Progress,
    /// Nothing is left: no work, no packet, no timer, no control.
    Idle,
    /// The next thing to happen is after the limit; time stands at the limit.
    Limit,
}

impl Sim {
    /// A simulation with `seed` and the default link.
    pub fn new(seed: u64) -> Sim {
        Sim::builder().seed(seed).build()
    }

    /// A builder, to choose the default link.
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// The seed this simulation draws from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Virtual time since the simulation began.
    pub fn elapsed(&self) -> Duration {
        self.net.borrow().now()
    }

    /// Adds a host named `name` and boots it now: `boot` runs on the host's new reactor, as
    /// `main` runs in `fate::run`; it runs again at every [`restart`](Sim::restart).
    ///
    /// # Panics
    ///
    /// If a host of that name exists.
    pub fn host(&self, name: &str, boot: impl Fn() + 'static) {
        let id = {
            let mut net = self.net.borrow_mut();
            assert!(
                net.host_by_name(name).is_none(),
                "the simulation already has a host named {name:?}"
            );
            let id = net.add_host(name);
            let now = net.now();
            let ip = net.hosts[id].ip;
            net.trace
                .record(now, "host", &[id as u64], || format!("{name} is {ip}"));
            id
        };
        let mut host = Host::new(id, name, Rc::new(boot));
        host.boot(self.instant(), self.attachment(id));
        self.hosts.borrow_mut().push(host);
        self.collect_panics();
    }

    /// Runs `f` on host `name` (its reactor current), now, and returns what it returns; `None`
    /// if the host is down.
    ///
    /// # Panics
    ///
    /// If there is no such host.
    ///
    /// # Examples
    ///
    /// ```
    /// let sim = fate::testing::sim::Sim::new(1);
    /// sim.host("a", || {});
    /// assert_eq!(sim.on("a", || fate::reactor().seconds()), Some(0.0));
    /// ```
    pub fn on<R>(&self, name: &str, f: impl FnOnce() -> R) -> Option<R> {
        let id = self.host_id(name);
        let out = self.hosts.borrow_mut()[id].within(|_| f());
        self.collect_panics();
        out
    }

    /// Spawns `fut` (a future, or a Deferred) on host `name` and runs the simulation until it
    /// completes; returns its output.
    ///
    /// # Errors
    ///
    /// [`SimError`] if a host panicked, if nothing is left to run before `fut` completes
    /// (a deadlock), or if the host crashed and took `fut` with it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sim = fate::testing::sim::Sim::new(1);
    /// sim.host("a", || {});
    /// let t = sim
    ///     .block_on("a", async {
    ///         fate::sleep(Duration::from_secs(90)).await;
    ///         fate::reactor().seconds()
    ///     })
    ///     .unwrap();
    /// assert_eq!(t, 90.0);
    /// ```
    pub fn block_on<F>(&self, name: &str, fut: F) -> Result<F::Output, SimError>
    where
        F: IntoFuture + 'static,
        F::IntoFuture: 'static,
        F::Output: 'static,
    {
        let id = self.host_id(name);
        let handle = self.hosts.borrow_mut()[id]
            .within(|r| r.spawn_local(fut.into_future()))
            .ok_or_else(|| self.error(format!("host {name:?} is down")))?;
        let mut handle = handle;
        let finished = Cell::new(false);
        self.run_loop(None, || {
            finished.set(handle.is_finished());
            finished.get()
        })?;
        if !finished.get() {
            return Err(self.error(format!(
                "deadlock: nothing is left to run and the task on {name:?} has not finished"
            )));
        }
        let mut cx = Context::from_waker(Waker::noop());
        match std::pin::Pin::new(&mut handle).poll(&mut cx) {
            Poll::Ready(Ok(out)) => Ok(out),
            Poll::Ready(Err(e)) => Err(self.error(format!("the task on {name:?} ended: {e}"))),
            Poll::Pending => unreachable!("a finished task is ready"),
        }
    }

    /// Runs until nothing is left to do: no work on any host, no packet on the wire, no
    /// timer, no scheduled control.
    ///
    /// # Errors
    ///
    /// [`SimError`] if a host panicked.
    pub fn run_until_idle(&self) -> Result<(), SimError> {
        self.run_loop(None, || false)
    }

    /// Runs for `duration` of virtual time (less if everything goes idle first); time then
    /// stands at the end of it.
    ///
    /// # Errors
    ///
    /// [`SimError`] if a host panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sim = fate::testing::sim::Sim::new(1);
    /// sim.host("ticker", || {
    ///     let ticker = fate::time::LoopingCall::new(fate::reactor(), || ());
    ///     let _ = ticker.start(Duration::from_secs(1), true);
    /// });
    /// sim.run_for(Duration::from_secs(10)).unwrap();
    /// assert_eq!(sim.elapsed(), Duration::from_secs(10));
    /// ```
    pub fn run_for(&self, duration: Duration) -> Result<(), SimError> {
        let limit = self.net.borrow().now + duration.as_nanos() as u64;
        self.run_loop(Some(limit), || false)?;
        self.advance_to(limit);
        Ok(())
    }

    /// Runs until `done()` holds (checked after every step), or nothing is left to do.
    /// Returns whether `done()` held.
    ///
    /// # Errors
    ///
    /// [`SimError`] if a host panicked.
    pub fn run_until(&self, mut done: impl FnMut() -> bool) -> Result<bool, SimError> {
        let mut held = false;
        self.run_loop(None, || {
            held = done();
            held
        })?;
        Ok(held)
    }

    /// Schedules `control` to run `delay` from now, between steps (never inside a host):
    /// faults, restarts, or anything else a test wants to happen at a time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sim = fate::testing::sim::Sim::new(1);
    /// sim.host("a", || {});
    /// sim.host("b", || {});
    /// sim.at(Duration::from_secs(5), |sim| sim.partition("a", "b"));
    /// sim.at(Duration::from_secs(9), |sim| sim.repair("a", "b"));
    /// sim.run_until_idle().unwrap();
    /// assert_eq!(sim.elapsed(), Duration::from_secs(9));
    /// ```
    pub fn at(&self, delay: Duration, control: impl FnOnce(&Sim) + 'static) {
        let key = {
            let mut net = self.net.borrow_mut();
            net.seq += 1;
            (net.now + delay.as_nanos() as u64, net.seq)
        };
        self.controls.borrow_mut().insert(key, Box::new(control));
    }

    /// The hash of everything that happened so far: every packet delivered, parked or lost,
    /// every host turn, fault and boot, with its virtual time. Equal seeds and programs give
    /// equal hashes.
    pub fn trace_hash(&self) -> u64 {
        self.net.borrow().trace.hash()
    }

    /// How many events the trace holds.
    pub fn trace_len(&self) -> u64 {
        self.net.borrow().trace.len()
    }

    /// The last events of the trace, in words, oldest first (for a failure report).
    pub fn recent_events(&self) -> Vec<String> {
        self.net
            .borrow()
            .trace
            .recent()
            .map(str::to_string)
            .collect()
    }

    /// The address of host `name`.
    ///
    /// # Panics
    ///
    /// If there is no such host.
    pub fn ip(&self, name: &str) -> std::net::Ipv4Addr {
        let id = self.host_id(name);
        self.net.borrow().hosts[id].ip
    }

    /// The settings of the link between hosts `a` and `b`.
    pub fn link(&self, a: &str, b: &str) -> Link {
        let (a, b) = (self.host_id(a), self.host_id(b));
        self.net.borrow().link(a, b)
    }

    /// Changes the link between hosts `a` and `b` (packets already on the wire keep their
    /// times).
    pub fn set_link(&self, a: &str, b: &str, link: Link) {
        let (a, b) = (self.host_id(a), self.host_id(b));
        self.net.borrow_mut().set_link(a, b, link);
    }

    // ---- the loop ----

    fn run_loop(&self, limit: Option<u64>, mut done: impl FnMut() -> bool) -> Result<(), SimError> {
        assert!(
            !self.stepping.replace(true),
            "a simulation cannot be run from inside its own step"
        );
        struct Unset<'a>(&'a Cell<bool>);
        impl Drop for Unset<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        let _unset = Unset(&self.stepping);
        loop {
            if let Some(message) = self.failure.borrow_mut().take() {
                return Err(self.error(message));
            }
            if done() {
                return Ok(());
            }
            match self.step(limit) {
                Step::Progress => {}
                Step::Idle | Step::Limit => {
                    return match self.failure.borrow_mut().take() {
                        Some(message) => Err(self.error(message)),
                        None => Ok(()),
                    }
                }
            }
        }
    }

    fn step(&self, limit: Option<u64>) -> Step {
        let now = self.instant();
        // 1. One turn of every host that has work, in an order drawn from the seed.
        let mut runnable: Vec<usize> = (0..self.hosts.borrow().len())
            .filter(|&id| self.hosts.borrow()[id].is_runnable(now))
            .collect();
        let ran = !runnable.is_empty();
        self.shuffle(&mut runnable);
        for id in runnable {
            let mut hosts = self.hosts.borrow_mut();
            let host = &mut hosts[id];
            host.within(|r| r.turn_hosted(now));
            let name = host.name.clone();
            drop(hosts);
            self.record("turn", &[id as u64], || name);
            self.collect_panics();
        }
        if ran {
            return Step::Progress;
        }
        // 2. The next packet or control that is due.
        let now_ns = self.net.borrow().now;
        let next_packet = self.net.borrow().next_key();
        let next_control = self.controls.borrow().keys().next().copied();
        let control_first = match (next_packet, next_control) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(p), Some(c)) => c < p,
        };
        if control_first {
            if next_control.is_some_and(|(at, _)| at <= now_ns) {
                let key = next_control.expect("checked");
                let control = self
                    .controls
                    .borrow_mut()
                    .remove(&key)
                    .expect("it is there");
                control(self);
                self.collect_panics();
                return Step::Progress;
            }
        } else if next_packet.is_some_and(|(at, _)| at <= now_ns) {
            let notify = self
                .net
                .borrow_mut()
                .deliver_next(now_ns)
                .unwrap_or_default();
            for n in notify {
                let mut hosts = self.hosts.borrow_mut();
                hosts[n.host].within(|r| r.dispatch_hosted(n.token, n.readiness));
                drop(hosts);
                self.collect_panics();
            }
            return Step::Progress;
        }
        // 3. Nothing due: move time to the next thing that will be.
        let timers = self
            .hosts
            .borrow()
            .iter()
            .filter_map(Host::next_deadline)
            .map(|d| d.saturating_duration_since(self.epoch).as_nanos() as u64)
            .min();
        let next = [next_packet.map(|k| k.0), next_control.map(|k| k.0), timers]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else {
            return Step::Idle;
        };
        let next = next.max(now_ns);
        if limit.is_some_and(|limit| next > limit) {
            return Step::Limit;
        }
        if next == now_ns {
            // A timer bound that its wheel has yet to refine: the host's turn will.
            self.refine_timers(now);
            return Step::Progress;
        }
        self.advance_to(next);
        Step::Progress
    }

    /// Puts `ids` in an order drawn from the seed (Fisher–Yates), so that hosts with work at
    /// the same instant run in every order across seeds, as threads on real machines would.
    fn shuffle(&self, ids: &mut [usize]) {
        let mut net = self.net.borrow_mut();
        for i in (1..ids.len()).rev() {
            let j = net.rng.below(i as u64 + 1) as usize;
            ids.swap(i, j);
        }
    }

    /// Runs a turn of the hosts whose timer bound is at `now` (they may pop nothing, only
    /// tighten the bound).
    fn refine_timers(&self, now: Instant) {
        let mut hosts = self.hosts.borrow_mut();
        for host in hosts.iter_mut() {
            if host.next_deadline().is_some_and(|d| d <= now) {
                host.within(|r| r.turn_hosted(now));
            }
        }
    }

    /// Moves virtual time forward to `ns` on the network and on every host.
    fn advance_to(&self, ns: u64) {
        let mut net = self.net.borrow_mut();
        if ns <= net.now {
            return;
        }
        net.now = ns;
        drop(net);
        let now = self.instant();
        for host in self.hosts.borrow().iter() {
            if let Some(r) = host.reactor() {
                r.timeline().set_now(now);
            }
        }
    }

    // ---- helpers for the other modules ----

    /// Virtual now, as an `Instant`.
    pub(crate) fn instant(&self) -> Instant {
        self.epoch + self.net.borrow().now()
    }

    pub(crate) fn attachment(&self, host: HostId) -> Attachment {
        Attachment {
            net: self.net.clone(),
            host,
        }
    }

    pub(crate) fn net(&self) -> &Rc<RefCell<NetState>> {
        &self.net
    }

    pub(crate) fn hosts(&self) -> &RefCell<Vec<Host>> {
        &self.hosts
    }

    /// The id of host `name`.
    ///
    /// # Panics
    ///
    /// If there is no such host.
    pub(crate) fn host_id(&self, name: &str) -> HostId {
        self.net
            .borrow()
            .host_by_name(name)
            .unwrap_or_else(|| panic!("the simulation has no host named {name:?}"))
    }

    /// Records in the trace; `describe` is only for the words.
    pub(crate) fn record(&self, kind: &str, fields: &[u64], describe: impl FnOnce() -> String) {
        let mut net = self.net.borrow_mut();
        let now = net.now();
        net.trace.record(now, kind, fields, describe);
    }

    /// Moves the panics of hosts into `failure` (the first one wins).
    fn collect_panics(&self) {
        let hosts = self.hosts.borrow();
        for host in hosts.iter() {
            if let Some(message) = host.reactor().and_then(|r| r.take_panic()) {
                let mut failure = self.failure.borrow_mut();
                if failure.is_none() {
                    *failure = Some(format!("host {:?} panicked: {message}", host.name));
                }
            }
        }
    }

    pub(crate) fn error(&self, message: String) -> SimError {
        SimError::new(self.seed, self.elapsed(), message, self.recent_events())
    }
}

impl Drop for Sim {
    /// Halts every host, so that their reactors, tasks and connections are freed and the
    /// thread is left as it was found.
    fn drop(&mut self) {
        let hosts = std::mem::take(&mut *self.hosts.borrow_mut());
        for mut host in hosts {
            self.net.borrow_mut().crash(host.id);
            host.halt();
        }
    }
}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("elapsed", &self.elapsed())
            .field("hosts", &self.hosts.borrow().len())
            .field("trace_hash", &format_args!("{:016x}", self.trace_hash()))
            .finish()
    }
}
