//! `ThreadPool`: a bounded set of std threads that run jobs and send results to the reactor.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use fate_deferred::Deferred;

use super::reply::Reply;

/// How long an idle worker waits for a job before its thread exits.
const IDLE_EXIT: Duration = Duration::from_secs(30);

/// Threads of the default pool (Twisted's default is 10).
const DEFAULT_THREADS: usize = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A bounded pool of worker threads for blocking work.
///
/// Threads start on demand, up to `max_threads`, and exit after 30 s without work. Jobs wait
/// in a FIFO queue when every thread is busy. `Send + Sync + Clone`; clones share the pool.
///
/// # Examples
///
/// ```
/// use fate::threads::ThreadPool;
///
/// let pool = ThreadPool::new(2);
/// let len = fate::block_on(async move {
///     pool.defer(|| std::fs::read_dir("/").map(|d| d.count()).unwrap_or(0)).await
/// })
/// .unwrap()
/// .unwrap();
/// assert!(len > 0);
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued.
    work: Condvar,
    max_threads: usize,
}

/// The pool's state, under its mutex.
struct State {
    jobs: VecDeque<Job>,
    /// Live worker threads.
    threads: usize,
    /// Workers waiting for a job.
    idle: usize,
}

impl ThreadPool {
    /// A pool of at most `max_threads` threads (at least 1).
    pub fn new(max_threads: usize) -> ThreadPool {
        ThreadPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    jobs: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                }),
                work: Condvar::new(),
                max_threads: max_threads.max(1),
            }),
        }
    }

    /// The process-wide pool that [`defer_to_thread`] and [`resolve`](super::resolve) use
    /// (10 threads).
    pub fn global() -> &'static ThreadPool {
        static GLOBAL: OnceLock<ThreadPool> = OnceLock::new();
        GLOBAL.get_or_init(|| ThreadPool::new(DEFAULT_THREADS))
    }

    /// Runs `job` on a worker thread; the Deferred fires on this thread's reactor with its
    /// result.
    ///
    /// # Errors
    ///
    /// The Deferred fails with [`Panicked`](fate_deferred::Panicked) if `job` panics.
    ///
    /// # Cancellation
    ///
    /// A job cannot be interrupted: cancelling the Deferred fails it with `Cancelled` at once
    /// and the job's result is dropped when it arrives.
    ///
    /// # Panics
    ///
    /// If this thread has no reactor.
    #[track_caller]
    pub fn defer<T, F>(&self, job: F) -> Deferred<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let reactor = crate::reactor::current();
        let (deferred, reply) = Reply::park(&reactor, 0, |_| {
            fate_deferred::Failure::msg("the thread pool dropped a job unrun")
        });
        self.submit(Box::new(move || {
            reply.send_caught(catch_unwind(AssertUnwindSafe(job)))
        }));
        deferred
    }

    /// Queues a job, starting a worker if none is idle and the pool has room.
    fn submit(&self, job: Job) {
        let mut state = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.jobs.push_back(job);
        if state.idle > 0 {
            drop(state);
            self.shared.work.notify_one();
            return;
        }
        if state.threads < self.shared.max_threads {
            state.threads += 1;
            drop(state);
            let shared = self.shared.clone();
            let spawned = std::thread::Builder::new()
                .name("fate-pool".into())
                .spawn(move || work(&shared));
            if let Err(e) = spawned {
                // The queued job waits for a running worker; with none, it never runs.
                tracing::error!(target: "fate::threads", "cannot start a pool thread: {e}");
                let mut state = self
                    .shared
                    .state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                state.threads -= 1;
            }
        }
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("max_threads", &self.shared.max_threads)
            .finish_non_exhaustive()
    }
}

/// A worker: runs jobs until none comes for `IDLE_EXIT`.
fn work(shared: &Shared) {
    let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job();
            state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        state.idle += 1;
        let (next, timeout) = shared
            .work
            .wait_timeout(state, IDLE_EXIT)
            .unwrap_or_else(PoisonError::into_inner);
        state = next;
        state.idle -= 1;
        if timeout.timed_out() && state.jobs.is_empty() {
            state.threads -= 1;
            return;
        }
    }
}

/// Runs `job` on the global [`ThreadPool`] and returns a Deferred of its result, fired on
/// this thread's reactor (Twisted's `deferToThread`).
///
/// # Errors
///
/// The Deferred fails with [`Panicked`](fate_deferred::Panicked) if `job` panics.
///
/// # Panics
///
/// If this thread has no reactor.
///
/// # Examples
///
/// ```
/// use fate::threads::defer_to_thread;
///
/// fate::run_until_idle(|| {
///     defer_to_thread(|| std::thread::current().name().map(str::to_owned))
///         .add_callback(|name| assert_eq!(name.as_deref(), Some("fate-pool")));
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn defer_to_thread<T, F>(job: F) -> Deferred<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    ThreadPool::global().defer(job)
}
