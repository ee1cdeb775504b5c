//! The `Send` handles of a pool: [`PoolHandle`] (stop, broadcast) and [`WorkerHandle`] (call
//! one worker), and [`Worker`], what a worker's setup receives.
//!
//! A message to a worker is a `Send` closure pushed on that worker's remote queue — the same
//! door as [`RemoteHandle::call_from_thread`], so sending to an awake worker costs no
//! syscall. A call's result comes back the same way to the caller's own reactor, where it
//! fires the caller's Deferred: nothing ever blocks waiting for another loop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use fate_deferred::{Deferred, Failure};

use super::WorkerGone;
use crate::reactor::RemoteHandle;
use crate::threads::reply::Reply;

/// What the threads of one pool share. Nothing here is touched on a reactor's hot path: only
/// sending a message, stopping and binding a listener reach it.
pub(crate) struct Shared {
    /// Each worker's door while its reactor runs: `None` before it is built and once it has
    /// ended. Senders hold the read lock while they push, and a worker takes the write lock to
    /// close its door before it drains its queue, so no message is left where nothing runs it.
    pub(crate) doors: Vec<RwLock<Option<RemoteHandle>>>,
    /// Set once the pool was asked to stop: a worker that starts (or restarts) after that
    /// stops at once.
    pub(crate) stopping: AtomicBool,
    /// Listening addresses the workers asked for with port 0, and the port the first of them
    /// got: the others bind that same port (see `ports`).
    #[cfg_attr(not(feature = "net"), allow(dead_code))]
    pub(crate) ports: Mutex<Vec<(std::net::SocketAddr, std::net::SocketAddr)>>,
}

impl Shared {
    pub(crate) fn new(threads: usize) -> Shared {
        Shared {
            doors: (0..threads).map(|_| RwLock::new(None)).collect(),
            stopping: AtomicBool::new(false),
            ports: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` with worker `index`'s door, if it is open.
    fn with_door<R>(&self, index: usize, f: impl FnOnce(&RemoteHandle) -> R) -> Option<R> {
        let door = self.doors[index]
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        door.as_ref().map(f)
    }

    /// Opens or closes worker `index`'s door.
    pub(crate) fn set_door(&self, index: usize, door: Option<RemoteHandle>) {
        *self.doors[index]
            .write()
            .unwrap_or_else(PoisonError::into_inner) = door;
    }
}

/// A `Send + Sync + Clone` handle to a running pool: stop it, reach its workers.
///
/// Get one from [`Worker::pool`] inside a worker, or from
/// [`RunningPool::handle`](super::RunningPool::handle) outside.
///
/// # Examples
///
/// Worker 0 asks every worker for its index; the answers arrive on worker 0's own loop.
///
/// ```
/// use fate::pool::Pool;
///
/// Pool::new()
///     .threads(2)
///     .handle_signals(false)
///     .run(|worker| {
///         if worker.index() == 0 {
///             let pool = worker.pool().clone();
///             let _ = pool
///                 .broadcast(|| fate::pool::current_worker().unwrap())
///                 .add_callback(move |indices| {
///                     assert_eq!(indices, vec![0, 1]);
///                     pool.stop();
///                 });
///         }
///     })
///     .unwrap();
/// ```
#[derive(Clone)]
pub struct PoolHandle {
    pub(crate) shared: Arc<Shared>,
}

impl PoolHandle {
    /// How many workers the pool has.
    pub fn len(&self) -> usize {
        self.shared.doors.len()
    }

    /// Always false: a pool has at least one worker.
    pub fn is_empty(&self) -> bool {
        self.shared.doors.is_empty()
    }

    /// A handle to worker `index`.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`len`](PoolHandle::len).
    #[track_caller]
    pub fn worker(&self, index: usize) -> WorkerHandle {
        assert!(
            index < self.len(),
            "worker {index} of a pool of {}",
            self.len()
        );
        WorkerHandle {
            shared: self.shared.clone(),
            index,
        }
    }

    /// Handles to every worker, in index order.
    pub fn workers(&self) -> impl Iterator<Item = WorkerHandle> + '_ {
        (0..self.len()).map(|index| self.worker(index))
    }

    /// Stops every worker gracefully, as SIGTERM does: each runs its shutdown triggers
    /// (listeners close, connections drain) and its thread ends; then the pool's `run` (or
    /// `join`) returns. A worker that is still starting stops as soon as it runs. Calling it
    /// again does nothing more.
    pub fn stop(&self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        for worker in self.workers() {
            let _ = worker.call_from_thread(stop_this_reactor);
        }
    }

    /// Whether [`stop`](PoolHandle::stop) was called (or a signal or a failed worker stopped
    /// the pool).
    pub fn is_stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
    }

    /// Runs `f` on every worker and fires, on the caller's loop, with the results in index
    /// order.
    ///
    /// # Errors
    ///
    /// The Deferred fails with a [`FirstError`](fate_deferred::FirstError) wrapping the first
    /// failure: a worker not running ([`WorkerGone`]) or a panic in `f` on a worker.
    ///
    /// # Panics
    ///
    /// If the calling thread has no reactor (the results need a loop to come back to).
    #[track_caller]
    pub fn broadcast<T, F>(&self, f: F) -> Deferred<Vec<T>>
    where
        F: Fn() -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        let calls: Vec<Deferred<T>> = self
            .workers()
            .map(|worker| {
                let f = f.clone();
                worker.call(move || f())
            })
            .collect();
        fate_deferred::gather_results(calls)
    }
}

impl std::fmt::Debug for PoolHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolHandle")
            .field("workers", &self.len())
            .field("stopping", &self.is_stopping())
            .finish()
    }
}

/// Stops the current thread's reactor once it runs (at once if it already does).
pub(crate) fn stop_this_reactor() {
    if let Some(reactor) = crate::reactor::try_current() {
        reactor.call_when_running(|| {
            if let Some(reactor) = crate::reactor::try_current() {
                // Already stopping: nothing more to do.
                reactor.stop();
            }
        });
    }
}

/// A `Send + Sync + Clone` handle to one worker of a pool: runs closures on its loop.
///
/// # Examples
///
/// Worker 1 asks worker 0 for its thread's name; the answer fires a Deferred on worker 1's
/// own thread.
///
/// ```
/// use fate::pool::Pool;
///
/// Pool::new()
///     .threads(2)
///     .handle_signals(false)
///     .run(|worker| {
///         if worker.index() == 1 {
///             let pool = worker.pool().clone();
///             let _ = pool
///                 .worker(0)
///                 .call(|| std::thread::current().name().map(str::to_owned))
///                 .add_callback(move |name| {
///                     assert_eq!(name.as_deref(), Some("fate-worker-0"));
///                     assert_eq!(std::thread::current().name(), Some("fate-worker-1"));
///                     pool.stop();
///                 });
///         }
///     })
///     .unwrap();
/// ```
#[derive(Clone)]
pub struct WorkerHandle {
    shared: Arc<Shared>,
    index: usize,
}

impl WorkerHandle {
    /// The worker's index in its pool.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Runs `f` on the worker's loop and returns a Deferred, on the caller's loop, that fires
    /// with `f`'s result. Never blocks either loop.
    ///
    /// `f` runs at the start of the worker's next turn (see
    /// [`RemoteHandle::call_from_thread`]), on its thread, where it may use that worker's
    /// reactor and `!Send` state (`fate::reactor()`, thread-locals). The caller's reactor
    /// counts the call as pending work until the answer is back.
    ///
    /// # Errors
    ///
    /// The Deferred fails with [`WorkerGone`] if the worker is not running (or stops before
    /// `f` ran), and with [`Panicked`](fate_deferred::Panicked) if `f` panics; a panic in `f`
    /// does not harm the worker.
    ///
    /// # Cancellation
    ///
    /// `f` cannot be called back: cancelling the Deferred fails it with `Cancelled` at once,
    /// and the result is dropped when it arrives.
    ///
    /// # Panics
    ///
    /// If the calling thread has no reactor.
    #[track_caller]
    pub fn call<T, F>(&self, f: F) -> Deferred<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let reactor = crate::reactor::current();
        let (deferred, reply) = Reply::park(&reactor, self.index, |index| {
            Failure::new(WorkerGone { index })
        });
        // Refused, the closure drops here with its reply, which fails the Deferred.
        let _ = self.call_from_thread(move || reply.send_caught(fate_deferred::catch_panic(f)));
        deferred
    }

    /// Runs `f` on the worker's loop at its next turn, from any thread, without a result.
    ///
    /// # Errors
    ///
    /// [`WorkerGone`] if the worker is not running; `f` is then dropped on this thread.
    pub fn call_from_thread(&self, f: impl FnOnce() + Send + 'static) -> Result<(), WorkerGone> {
        self.shared
            .with_door(self.index, |door| door.call_from_thread(f))
            .ok_or(WorkerGone { index: self.index })
    }

    /// Whether the worker's reactor is running (its door is open).
    pub fn is_running(&self) -> bool {
        self.shared.with_door(self.index, |_| ()).is_some()
    }
}

impl std::fmt::Debug for WorkerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerHandle")
            .field("index", &self.index)
            .field("running", &self.is_running())
            .finish()
    }
}

/// What a worker's setup closure receives: which worker it is, and its pool.
///
/// It is `Send` and cheap to clone; everything the setup builds on the worker's reactor stays
/// on that thread and need not be `Send`.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use fate::pool::Pool;
///
/// Pool::new()
///     .threads(2)
///     .handle_signals(false)
///     .run(|worker| {
///         // Per-worker state: an `Rc`, never shared with the other thread.
///         let ticks = Rc::new(Cell::new(0));
///         let t = ticks.clone();
///         fate::call_soon(move || t.set(t.get() + 1));
///         let pool = worker.pool().clone();
///         fate::call_later(std::time::Duration::from_millis(1), move || {
///             assert_eq!(ticks.get(), 1);
///             if worker.index() == 0 {
///                 pool.stop();
///             }
///         });
///     })
///     .unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Worker {
    pub(crate) index: usize,
    pub(crate) pool: PoolHandle,
}

impl Worker {
    /// This worker's index, from 0 to the pool's size minus one.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The pool: its other workers, `stop`, `broadcast`.
    pub fn pool(&self) -> &PoolHandle {
        &self.pool
    }
}
