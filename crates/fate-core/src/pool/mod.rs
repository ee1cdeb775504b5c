//! A pool of reactors: one independent event loop per thread, for servers that use every
//! core without giving up the single-threaded model.
//!
//! [`Pool::run`] starts `n` threads (default: the available cores), builds a reactor on each,
//! runs the setup closure there with the worker's index, and returns once every worker has
//! stopped. Inside a worker everything is as on a lone reactor: callbacks, protocols and tasks
//! are `!Send`, state lives in `Rc`/`RefCell`, `fate::reactor()` is this worker's reactor.
//! Nothing on a reactor's hot path knows that a pool exists.
//!
//! # Shared listening ports
//!
//! A TCP listener opened on a worker gets `SO_REUSEPORT`, so every worker that listens on the
//! same address gets its own socket on the same port, and the kernel spreads new connections
//! between those sockets by a hash of the connection's addresses and ports. A listener asked
//! for port 0 on several workers gets one port: the first worker's bind picks it, the others
//! join it. Limits of this balancing:
//! - it balances **connections, not load**: a connection stays on the worker that accepted
//!   it for its whole life, so a few long-lived busy connections can load one worker more
//!   than another;
//! - a hash over few client addresses and ports can be uneven;
//! - connections the kernel queued for a worker's socket when that worker stops listening
//!   are reset, so stop a pool as a whole (its workers close their listeners in their
//!   shutdown triggers) rather than one worker of a busy port;
//! - Unix-socket listeners are not shared (a second bind of a path fails): open those on
//!   one worker.
//!
//! `ListenOptions::reuse_port(false)` (or `reusePort=false` in an endpoint string) opts a
//! listener out: it is then a worker's own, port 0 included.
//!
//! # Messages between loops
//!
//! [`WorkerHandle::call`] runs a `Send` closure on another worker's loop and fires a Deferred
//! with its result on the caller's own loop; [`PoolHandle::broadcast`] does so on every
//! worker. A message is a closure on the target's remote queue (the
//! [`call_from_thread`](crate::reactor::RemoteHandle::call_from_thread) door), so sending to
//! a worker that is awake costs no system call; nothing ever blocks waiting for another loop.
//!
//! # Stopping
//!
//! [`PoolHandle::stop`], or SIGINT/SIGTERM (watched by the pool, on the thread that runs it,
//! never by the workers), stops every worker gracefully: each runs its shutdown triggers, so
//! listeners close and connections drain as on one reactor. A second signal exits the
//! process at once. A worker whose setup panics stops the pool with
//! [`PoolError::WorkerPanicked`] naming its index. A panic in a callback follows the
//! workers' [`PanicPolicy`](crate::reactor::PanicPolicy): logged by default (the worker goes
//! on); with `PanicPolicy::Stop` the worker stops and the pool either stops with the error
//! or, with [`Pool::restart_panicked`], starts that worker again on a fresh thread.
//!
//! # Examples
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//!
//! let started = Arc::new(AtomicUsize::new(0));
//! let count = started.clone();
//! fate::run_threads(2, move |worker| {
//!     count.fetch_add(1, Ordering::SeqCst);
//!     // Each worker ends its own loop; the pool returns when both have.
//!     fate::call_soon(|| fate::reactor().stop());
//!     let _ = worker;
//! })
//! .unwrap();
//! assert_eq!(started.load(Ordering::SeqCst), 2);
//! ```
#![forbid(unsafe_code)]

mod error;
mod handle;
#[cfg(feature = "net")]
pub(crate) mod ports;
mod run;

use std::cell::RefCell;
use std::sync::Arc;

pub use error::{PoolError, WorkerGone};
pub use handle::{PoolHandle, Worker, WorkerHandle};
pub use run::RunningPool;

use crate::reactor::ReactorBuilder;
use handle::Shared;

thread_local! {
    /// On a worker thread: its index and its pool.
    static WORKER: RefCell<Option<(usize, Arc<Shared>)>> = const { RefCell::new(None) };
}

/// The index of the pool worker running on this thread, or `None` off a pool.
///
/// # Examples
///
/// ```
/// assert_eq!(fate::pool::current_worker(), None);
/// fate::run_threads(1, |_| {
///     assert_eq!(fate::pool::current_worker(), Some(0));
///     fate::reactor().stop();
/// })
/// .unwrap();
/// ```
pub fn current_worker() -> Option<usize> {
    WORKER
        .try_with(|w| w.borrow().as_ref().map(|(index, _)| *index))
        .ok()
        .flatten()
}

/// How many threads a pool starts by default: the cores this process may run on (as
/// `std::thread::available_parallelism` says), or 1 if that is unknown.
///
/// # Examples
///
/// ```
/// assert!(fate::pool::available_threads() >= 1);
/// ```
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Configures a pool of reactors, then runs it.
///
/// # Examples
///
/// ```
/// use fate::pool::Pool;
/// use fate::reactor::{PanicPolicy, Reactor};
///
/// Pool::new()
///     .threads(2)
///     .reactor(Reactor::builder().budget(128).panic_policy(PanicPolicy::Log))
///     .handle_signals(false)
///     .run(|worker| {
///         if worker.index() == 0 {
///             worker.pool().stop();
///         }
///     })
///     .unwrap();
/// ```
#[derive(Clone, Debug)]
#[must_use = "a pool does nothing until `run` or `start` is called"]
pub struct Pool {
    threads: usize,
    handle_signals: bool,
    restart: bool,
    reactor: ReactorBuilder,
}

impl Default for Pool {
    fn default() -> Self {
        Pool::new()
    }
}

impl Pool {
    /// A pool of [`available_threads`] workers, watching SIGINT/SIGTERM, not restarting
    /// panicked workers, each with a default reactor.
    pub fn new() -> Pool {
        Pool {
            threads: available_threads(),
            handle_signals: true,
            restart: false,
            reactor: ReactorBuilder::default(),
        }
    }

    /// How many workers (threads, each with its reactor); at least 1.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// Whether the pool turns SIGINT and SIGTERM into a graceful stop of every worker (a
    /// second signal exits at once). Default: true. Turn it off when the program handles
    /// signals itself, or in tests.
    pub fn handle_signals(mut self, on: bool) -> Self {
        self.handle_signals = on;
        self
    }

    /// Whether a worker that panicked after its setup (with the workers' panic policy
    /// `Stop`) is started again on a fresh thread, with a new reactor and its setup run
    /// again, instead of stopping the pool. A worker whose setup itself panicked is never
    /// restarted: it would panic again. Default: false.
    pub fn restart_panicked(mut self, on: bool) -> Self {
        self.restart = on;
        self
    }

    /// The settings of every worker's reactor (panic policy, budget, events per poll). Its
    /// signal handling is ignored: the pool handles signals.
    pub fn reactor(mut self, builder: ReactorBuilder) -> Self {
        self.reactor = builder;
        self
    }

    /// Starts the workers and returns at once; [`RunningPool::join`] supervises them.
    ///
    /// # Errors
    ///
    /// [`PoolError::Io`] if a thread or the signal watch cannot be set up (the workers already
    /// started are stopped first).
    pub fn start<F>(self, setup: F) -> Result<RunningPool, PoolError>
    where
        F: Fn(Worker) + Send + Sync + 'static,
    {
        RunningPool::start(
            self.threads,
            self.handle_signals,
            self.restart,
            self.reactor,
            Arc::new(setup),
        )
    }

    /// Starts the workers, runs `setup` on each one's reactor with its [`Worker`] (index and
    /// pool), and returns once every worker has stopped.
    ///
    /// # Errors
    ///
    /// The first worker failure: a panicked setup ([`PoolError::WorkerPanicked`]), a reactor
    /// that could not be built; or [`PoolError::Io`] if the pool could not start.
    pub fn run<F>(self, setup: F) -> Result<(), PoolError>
    where
        F: Fn(Worker) + Send + Sync + 'static,
    {
        self.start(setup)?.join()
    }
}

/// Runs `threads` reactors, one per thread, each set up by `setup`, until all have stopped;
/// SIGINT/SIGTERM stop them gracefully. Short for `Pool::new().threads(threads).run(setup)`;
/// see [`Pool`] for the other settings and the module docs for what the pool does.
///
/// # Errors
///
/// As [`Pool::run`].
///
/// # Examples
///
/// ```
/// fate::run_threads(2, |worker| {
///     println!("worker {} of {}", worker.index(), worker.pool().len());
///     fate::reactor().stop();
/// })
/// .unwrap();
/// ```
pub fn run_threads<F>(threads: usize, setup: F) -> Result<(), PoolError>
where
    F: Fn(Worker) + Send + Sync + 'static,
{
    Pool::new().threads(threads).run(setup)
}
