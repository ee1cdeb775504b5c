//! The tokio runtime beside a reactor: started at first use, stopped with the reactor.
//!
//! Each thread's reactor gets its own runtime, kept in a thread-local together with a token.
//! Starting it registers an `after shutdown` trigger on the reactor that owns a [`StopGuard`]
//! for that token: the guard shuts the runtime down when the trigger runs (the reactor
//! stopped) or when it is dropped unrun (the reactor was dropped without stopping, as after
//! `run_until_idle` or `block_on`). The trigger holds no strong reference to the runtime, so
//! there is no cycle between the reactor and the runtime.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::rc::{Rc, Weak};
use std::time::Duration;

use fate_core::reactor::{Phase, SystemEvent};
use tokio::runtime::{Handle, Runtime};

thread_local! {
    /// The settings the next runtime of this thread starts with.
    static CONFIG: Cell<Builder> = const { Cell::new(Builder::new()) };
    /// This thread's running runtime, if any.
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
}

/// A started runtime and what stopping it needs.
struct Running {
    runtime: Runtime,
    /// Identifies this runtime to the [`StopGuard`] of its reactor's trigger.
    token: Rc<()>,
    shutdown_timeout: Duration,
}

/// Settings of the tokio runtime that `fate_compat` starts for this thread's reactor.
///
/// The runtime is multi-threaded (it drives itself; the reactor's thread never runs tokio's
/// scheduler), with its I/O and timer drivers enabled.
///
/// # Examples
///
/// ```
/// fate::compat::Builder::new()
///     .worker_threads(2)
///     .shutdown_timeout(std::time::Duration::from_millis(100))
///     .install()
///     .unwrap();
/// let threads = fate::block_on(async {
///     fate::compat::handle().metrics().num_workers()
/// })
/// .unwrap();
/// assert_eq!(threads, 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a builder does nothing until `install` is called"]
pub struct Builder {
    worker_threads: usize,
    shutdown_timeout: Duration,
}

impl Builder {
    /// The defaults: one worker thread (the reactor's thread does the rest of the work), and
    /// up to one second for tokio tasks to wind down when the reactor stops.
    pub const fn new() -> Builder {
        Builder {
            worker_threads: 1,
            shutdown_timeout: Duration::from_secs(1),
        }
    }

    /// How many worker threads the runtime runs (at least 1).
    pub const fn worker_threads(mut self, threads: usize) -> Builder {
        self.worker_threads = if threads == 0 { 1 } else { threads };
        self
    }

    /// How long stopping the reactor waits for the runtime's threads to finish (tokio's
    /// `shutdown_timeout`); tasks still running are dropped at their next `.await`, and a
    /// thread blocked in synchronous code is left behind after this time.
    pub const fn shutdown_timeout(mut self, timeout: Duration) -> Builder {
        self.shutdown_timeout = timeout;
        self
    }

    /// Makes these the settings of this thread's runtime, which starts at its first use.
    ///
    /// # Errors
    ///
    /// [`AlreadyStarted`] if this thread's runtime is running; the settings apply to the next
    /// one (after the reactor stopped).
    pub fn install(self) -> Result<(), AlreadyStarted> {
        CONFIG.with(|c| c.set(self));
        if is_started() {
            return Err(AlreadyStarted);
        }
        Ok(())
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

/// [`Builder::install`] was called while this thread's runtime was running.
///
/// # Examples
///
/// ```
/// fate::block_on(async {
///     let _ = fate::compat::handle(); // starts the runtime
///     assert_eq!(fate::compat::Builder::new().install(), Err(fate::compat::AlreadyStarted));
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlreadyStarted;

impl fmt::Display for AlreadyStarted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the tokio runtime of this thread is already running")
    }
}

impl std::error::Error for AlreadyStarted {}

/// The tokio runtime of this thread's reactor, started if it is not running yet.
///
/// Use it to reach tokio directly (`handle().spawn(...)`, `handle().block_on` on *another*
/// thread); [`spawn`](crate::spawn) is the way to get a result back as a Deferred.
///
/// # Panics
///
/// If this thread has no reactor, or the runtime's threads cannot be started.
///
/// # Examples
///
/// ```
/// fate::block_on(async {
///     assert!(!fate::compat::is_started());
///     let handle = fate::compat::handle();
///     assert!(fate::compat::is_started());
///     drop(handle);
/// })
/// .unwrap();
/// // The reactor is gone, and its runtime with it.
/// assert!(!fate::compat::is_started());
/// ```
#[track_caller]
pub fn handle() -> Handle {
    try_handle().unwrap_or_else(|e| panic!("cannot start the tokio runtime: {e}"))
}

/// Whether this thread's runtime is running.
///
/// # Examples
///
/// ```
/// assert!(!fate::compat::is_started());
/// ```
pub fn is_started() -> bool {
    RUNNING.with(|r| r.borrow().is_some())
}

/// [`handle`], with the error of starting the runtime's threads.
pub(crate) fn try_handle() -> io::Result<Handle> {
    if let Some(handle) = RUNNING.with(|r| r.borrow().as_ref().map(|r| r.runtime.handle().clone()))
    {
        return Ok(handle);
    }
    let reactor = fate_core::reactor::current();
    let config = CONFIG.with(Cell::get);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads)
        .thread_name("fate-compat")
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    let token = Rc::new(());
    let guard = StopGuard {
        token: Rc::downgrade(&token),
    };
    RUNNING.with(|r| {
        *r.borrow_mut() = Some(Running {
            runtime,
            token,
            shutdown_timeout: config.shutdown_timeout,
        });
    });
    reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, move || drop(guard));
    Ok(handle)
}

/// Shuts its runtime down when dropped: owned by the reactor's shutdown trigger.
struct StopGuard {
    token: Weak<()>,
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        // `try_with`: a reactor kept in a thread-local may go after this one is gone.
        let running = RUNNING
            .try_with(|r| {
                let mut r = r.borrow_mut();
                let ours = r.as_ref().is_some_and(|running| {
                    Weak::ptr_eq(&Rc::downgrade(&running.token), &self.token)
                });
                if ours {
                    r.take()
                } else {
                    None
                }
            })
            .ok()
            .flatten();
        // Outside the borrow: shutting down drops tasks, whose drop code may start a runtime.
        if let Some(running) = running {
            running.runtime.shutdown_timeout(running.shutdown_timeout);
        }
    }
}
