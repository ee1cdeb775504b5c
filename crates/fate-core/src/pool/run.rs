//! Running a pool: the worker threads, and the supervisor on the thread that called `run`.
//!
//! Each worker thread builds its reactor (with signal handling off), opens its door in the
//! shared table, waits until every first worker has done so (so a setup may call any
//! worker), runs the setup once the reactor runs, and turns until its reactor stops.
//! Then it closes its door, drains whatever was sent to it meanwhile (dropping a call fails
//! its caller's Deferred with `WorkerGone`), and reports how it ended to the supervisor.
//!
//! The supervisor sleeps in one `epoll_wait` on two sources: the workers' exit reports and
//! (unless turned off) SIGINT/SIGTERM. It is the only place that handles signals: the first
//! stops every worker gracefully, the second exits the process at once. A worker that
//! panicked stops the pool with an error, or is started again if the pool restarts
//! panicked workers.

use std::cell::RefCell;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use super::handle::{stop_this_reactor, PoolHandle, Shared, Worker};
use super::{PoolError, WORKER};
use crate::reactor::{panic_message, ReactorBuilder, ReactorError};

const EXIT_TOKEN: mio::Token = mio::Token(0);
const SIGNAL_TOKEN: mio::Token = mio::Token(1);

/// The setup closure every worker runs.
pub(crate) type Setup = Arc<dyn Fn(Worker) + Send + Sync>;

/// How a worker thread ended.
enum Exit {
    /// Its reactor stopped.
    Stopped,
    /// It panicked; `in_setup` if the setup closure did (running it again would not help).
    Panicked { message: String, in_setup: bool },
    /// Its reactor could not be built, or failed.
    Failed(ReactorError),
}

/// Holds the first workers before their loops run until every one has opened its door, so a
/// setup can call any worker. Restarted workers find it open.
struct Gate {
    /// Workers arrived, and whether the gate is open.
    state: Mutex<(usize, bool)>,
    opened: Condvar,
    workers: usize,
}

impl Gate {
    /// Arrives at the gate and waits for it to open.
    fn pass(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 += 1;
        if state.0 >= self.workers {
            state.1 = true;
            self.opened.notify_all();
        }
        while !state.1 {
            state = self
                .opened
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Opens the gate whoever has arrived (a worker could not be started).
    fn force_open(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.opened.notify_all();
    }
}

/// Worker exits waiting for the supervisor, and the waker that tells it.
struct Exits {
    queue: Mutex<Vec<(usize, Exit)>>,
    waker: mio::Waker,
}

impl Exits {
    fn push(&self, index: usize, exit: Exit) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((index, exit));
        if let Err(e) = self.waker.wake() {
            tracing::error!(target: "fate::pool", "cannot wake the pool's supervisor: {e}");
        }
    }

    fn take(&self) -> Vec<(usize, Exit)> {
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A started pool: its workers run on their threads; [`join`](RunningPool::join) supervises
/// them until they have all stopped.
///
/// # Cancellation
///
/// Dropping it without `join` stops the workers and waits for them.
///
/// # Examples
///
/// ```
/// use fate::pool::Pool;
///
/// let pool = Pool::new().threads(2).handle_signals(false).start(|_| {}).unwrap();
/// let handle = pool.handle();
/// std::thread::spawn(move || handle.stop());
/// pool.join().unwrap();
/// ```
#[must_use = "a started pool runs until it is joined (dropping it stops it)"]
pub struct RunningPool {
    handle: PoolHandle,
    setup: Setup,
    reactor: ReactorBuilder,
    restart: bool,
    poll: mio::Poll,
    exits: Arc<Exits>,
    gate: Arc<Gate>,
    /// SIGINT/SIGTERM, when the pool handles them.
    signals: Option<Signals>,
    /// Signals seen so far.
    signals_seen: u32,
    /// Every worker thread started, restarted ones too.
    threads: Vec<JoinHandle<()>>,
    /// Workers that have not ended for good.
    live: usize,
}

impl RunningPool {
    /// Starts the threads; see [`Pool::start`](super::Pool::start).
    pub(crate) fn start(
        threads: usize,
        handle_signals: bool,
        restart: bool,
        reactor: ReactorBuilder,
        setup: Setup,
    ) -> Result<RunningPool, PoolError> {
        let poll = mio::Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), EXIT_TOKEN)?;
        let signals = if handle_signals {
            let mut signals = Signals::new([SIGINT, SIGTERM])?;
            poll.registry()
                .register(&mut signals, SIGNAL_TOKEN, mio::Interest::READABLE)?;
            Some(signals)
        } else {
            None
        };
        let mut pool = RunningPool {
            handle: PoolHandle {
                shared: Arc::new(Shared::new(threads)),
            },
            setup,
            reactor: reactor.handle_signals(false),
            restart,
            poll,
            exits: Arc::new(Exits {
                queue: Mutex::new(Vec::new()),
                waker,
            }),
            gate: Arc::new(Gate {
                state: Mutex::new((0, false)),
                opened: Condvar::new(),
                workers: threads,
            }),
            signals,
            signals_seen: 0,
            threads: Vec::with_capacity(threads),
            live: 0,
        };
        for index in 0..threads {
            match pool.spawn_worker(index) {
                Ok(thread) => {
                    pool.threads.push(thread);
                    pool.live += 1;
                }
                Err(e) => {
                    pool.handle.stop();
                    pool.gate.force_open();
                    let _ = pool.supervise();
                    return Err(PoolError::Io(e));
                }
            }
        }
        Ok(pool)
    }

    /// A handle to stop the pool or reach its workers from any thread.
    pub fn handle(&self) -> PoolHandle {
        self.handle.clone()
    }

    /// Supervises the workers until every one has stopped: handles SIGINT/SIGTERM (unless
    /// turned off), reports panicked workers, restarts them if asked to.
    ///
    /// # Errors
    ///
    /// The first worker failure ([`PoolError`]); the pool was stopped because of it.
    pub fn join(mut self) -> Result<(), PoolError> {
        self.supervise()
    }

    fn supervise(&mut self) -> Result<(), PoolError> {
        let mut first_error = None;
        let mut events = mio::Events::with_capacity(8);
        while self.live > 0 {
            if let Err(e) = self.poll.poll(&mut events, None) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // Without a way to wait, wait for the threads themselves.
                self.handle.stop();
                first_error.get_or_insert(PoolError::Io(e));
                break;
            }
            if events.iter().any(|e| e.token() == SIGNAL_TOKEN) {
                self.on_signals();
            }
            for (index, exit) in self.exits.take() {
                if let Err(e) = self.on_exit(index, exit) {
                    first_error.get_or_insert(e);
                }
            }
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
        self.live = 0;
        first_error.map_or(Ok(()), Err)
    }

    /// The first signal stops every worker; the second exits the process at once.
    fn on_signals(&mut self) {
        let Some(signals) = self.signals.as_mut() else {
            return;
        };
        for signal in signals.pending() {
            self.signals_seen += 1;
            if self.signals_seen >= 2 {
                eprintln!("fate: second signal, exiting now");
                std::process::exit(128 + signal);
            }
            tracing::info!(target: "fate::pool", "signal {signal} received, stopping every worker");
            self.handle.stop();
        }
    }

    /// Accounts for a worker that ended; an error stops the pool.
    fn on_exit(&mut self, index: usize, exit: Exit) -> Result<(), PoolError> {
        let error = match exit {
            Exit::Stopped => None,
            Exit::Panicked { message, in_setup } => {
                tracing::error!(target: "fate::pool", "worker {index} panicked: {message}");
                if self.restart && !in_setup && !self.handle.is_stopping() {
                    match self.spawn_worker(index) {
                        Ok(thread) => {
                            tracing::warn!(target: "fate::pool", "worker {index} restarted");
                            self.threads.push(thread);
                            return Ok(());
                        }
                        Err(e) => tracing::error!(
                            target: "fate::pool",
                            "cannot restart worker {index}: {e}"
                        ),
                    }
                }
                Some(PoolError::WorkerPanicked { index, message })
            }
            Exit::Failed(error) => {
                tracing::error!(target: "fate::pool", "worker {index} failed: {error}");
                Some(PoolError::Reactor { index, error })
            }
        };
        self.live -= 1;
        match error {
            Some(error) => {
                self.handle.stop();
                Err(error)
            }
            None => Ok(()),
        }
    }

    /// Starts worker `index`'s thread.
    fn spawn_worker(&self, index: usize) -> io::Result<JoinHandle<()>> {
        let shared = self.handle.shared.clone();
        let setup = self.setup.clone();
        let reactor = self.reactor.clone();
        let exits = self.exits.clone();
        let gate = self.gate.clone();
        std::thread::Builder::new()
            .name(format!("fate-worker-{index}"))
            .spawn(move || {
                let exit = run_worker(&shared, index, setup, reactor, &gate);
                exits.push(index, exit);
            })
    }
}

impl Drop for RunningPool {
    fn drop(&mut self) {
        if self.live > 0 {
            self.handle.stop();
            let _ = self.supervise();
        }
    }
}

impl std::fmt::Debug for RunningPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningPool")
            .field("workers", &self.handle.len())
            .field("live", &self.live)
            .field("handles_signals", &self.signals.is_some())
            .finish_non_exhaustive()
    }
}

/// The body of worker `index`'s thread; see the module docs.
fn run_worker(
    shared: &Arc<Shared>,
    index: usize,
    setup: Setup,
    builder: ReactorBuilder,
    gate: &Gate,
) -> Exit {
    let reactor = match builder.build() {
        Ok(reactor) => reactor,
        Err(e) => {
            gate.pass();
            return Exit::Failed(e);
        }
    };
    let door = reactor.remote();
    WORKER.with(|w| *w.borrow_mut() = Some((index, shared.clone())));
    shared.set_door(index, Some(door.clone()));
    gate.pass();
    let setup_panic: Rc<RefCell<Option<String>>> = Rc::default();
    let seen = setup_panic.clone();
    let worker = Worker {
        index,
        pool: PoolHandle {
            shared: shared.clone(),
        },
    };
    reactor.call_when_running(move || {
        let stopping = worker.pool.shared.clone();
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| setup(worker))) {
            *seen.borrow_mut() = Some(panic_message(&*payload));
            stop_this_reactor();
        } else if stopping.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            // The pool was stopped before this worker's door opened.
            stop_this_reactor();
        }
    });
    let ran = catch_unwind(AssertUnwindSafe(|| reactor.run()));
    // Close the door, then drop what came through it before it closed: nothing sent to this
    // worker is left waiting where nothing would run it.
    shared.set_door(index, None);
    drop(door.remote.take());
    WORKER.with(|w| w.borrow_mut().take());
    drop(reactor);
    if let Some(message) = setup_panic.take() {
        return Exit::Panicked {
            message,
            in_setup: true,
        };
    }
    match ran {
        Ok(Ok(())) => Exit::Stopped,
        Ok(Err(ReactorError::Panicked(message))) => Exit::Panicked {
            message,
            in_setup: false,
        },
        Ok(Err(e)) => Exit::Failed(e),
        Err(payload) => Exit::Panicked {
            message: panic_message(&*payload),
            in_setup: false,
        },
    }
}
