//! `ConnectionPool`: a bounded set of threads, each owning one blocking connection.
//!
//! Why threads of its own rather than fate-core's `ThreadPool`: a connection belongs to one
//! thread for its whole life (it is opened, used, checked and replaced there, and a
//! transaction never hops threads), the number of threads *is* the number of connections the
//! database sees, and long queries never starve `defer_to_thread` or DNS lookups of threads.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use fate_core::reactor::{Phase, SystemEvent};
use fate_deferred::Deferred;

use crate::{Connection, Driver, Error, FromRow, Params, Transaction};
use fate_core::threads::Reply;

/// A job for a pool thread: gets the thread's connection (or why there is none) and returns
/// whether that connection must be replaced.
type Job<C> = Box<dyn FnOnce(Result<&mut C, Error>) -> bool + Send>;

/// A pool of blocking database connections on threads of their own, with results as
/// Deferreds: Twisted's `adbapi.ConnectionPool`.
///
/// - At most `max_connections` threads, started on demand, each opening its connection on
///   first use and keeping it. Work beyond that waits in a FIFO queue: the caller's loop never
///   blocks, however busy the pool.
/// - After a failed call the connection is checked ([`Connection::is_broken`]); a broken one
///   is dropped and the next job on that thread opens a new one (adbapi's `cp_reconnect`).
///   The failed call itself reports its error: it is not retried, as it may not be idempotent.
/// - Made on a reactor's thread, the pool registers a `before shutdown` trigger that closes it
///   and delays the shutdown until the work in progress and in the queue has finished.
///
/// `Clone + Send + Sync`: clones share the pool. Each Deferred fires on the reactor of the
/// thread that made the call. Dropping the last clone closes the pool.
///
/// # Examples
///
/// ```
/// use fate::db::{ConnectionPool, Sqlite};
///
/// fate::run(|| {
///     let pool = ConnectionPool::new(Sqlite::memory("pool-doc"), 4);
///     let _ = pool
///         .run_query::<(i64, String)>("SELECT 6 * 7, 'answer'", ())
///         .add_callback(|rows| {
///             assert_eq!(rows, [(42, "answer".to_owned())]);
///             fate::reactor().stop(); // closes the pool, then stops
///         });
/// })
/// .unwrap();
/// ```
pub struct ConnectionPool<D: Driver> {
    handle: Arc<Handle<D>>,
}

/// The users' share of a pool: when the last one goes, the pool closes.
struct Handle<D: Driver> {
    shared: Arc<Shared<D>>,
}

/// What the pool's handles, its threads and its shutdown trigger share.
struct Shared<D: Driver> {
    driver: D,
    max_connections: usize,
    state: Mutex<State<D::Connection>>,
    /// Signalled when a job is queued or the pool closes.
    work: Condvar,
}

/// The pool's state, under its mutex.
struct State<C> {
    jobs: VecDeque<Job<C>>,
    /// Live pool threads (each with at most one connection).
    threads: usize,
    /// Threads waiting for a job.
    idle: usize,
    /// No new work is accepted; threads exit once the queue is empty.
    closed: bool,
    /// `close()` callers, answered when the last thread has exited.
    closing: Vec<Reply<()>>,
}

impl<D: Driver> ConnectionPool<D> {
    /// A pool of at most `max_connections` connections (at least 1) opened by `driver`.
    ///
    /// No connection is opened yet; each starts with the first job its thread takes. On a
    /// reactor's thread, the pool closes when that reactor shuts down (see the type's docs).
    pub fn new(driver: D, max_connections: usize) -> ConnectionPool<D> {
        let shared = Arc::new(Shared {
            driver,
            max_connections: max_connections.max(1),
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                threads: 0,
                idle: 0,
                closed: false,
                closing: Vec::new(),
            }),
            work: Condvar::new(),
        });
        if let Some(reactor) = fate_core::reactor::try_current() {
            let closing = shared.clone();
            reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
                closing.close()
            });
        }
        ConnectionPool {
            handle: Arc::new(Handle { shared }),
        }
    }

    /// Runs one statement that returns rows and converts each row to a `T` (adbapi's
    /// `runQuery`). The statement runs on its own, outside any explicit transaction.
    ///
    /// # Errors
    ///
    /// The Deferred fails with an [`Error`]: the pool is closed, no connection could be
    /// opened, the statement failed, or a row did not convert.
    ///
    /// # Panics
    ///
    /// If this thread has no reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fate::db::{ConnectionPool, Sqlite};
    /// let pool = ConnectionPool::new(Sqlite::memory("run-query-doc"), 1);
    /// let squares = fate::block_on(async move {
    ///     pool.run_query::<i64>("SELECT value * value FROM json_each('[1,2,3]')", ()).await
    /// })
    /// .unwrap()
    /// .unwrap();
    /// assert_eq!(squares, [1, 4, 9]);
    /// ```
    #[track_caller]
    pub fn run_query<T: FromRow>(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: impl Params,
    ) -> Deferred<Vec<T>> {
        let sql = sql.into();
        self.submit(move |conn| {
            let rows = conn.query(&sql, &params.into_values())?;
            rows.into_iter().map(T::from_row).collect()
        })
    }

    /// Runs one statement for its effect and returns the number of rows it changed (adbapi's
    /// `runOperation`).
    ///
    /// # Errors
    ///
    /// As [`run_query`](ConnectionPool::run_query).
    ///
    /// # Panics
    ///
    /// If this thread has no reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fate::db::{ConnectionPool, Sqlite};
    /// let pool = ConnectionPool::new(Sqlite::memory("run-operation-doc"), 1);
    /// let changed = fate::block_on(async move {
    ///     pool.run_operation("CREATE TABLE t (x)", ()).await?;
    ///     pool.run_operation("INSERT INTO t VALUES (1), (2)", ()).await
    /// })
    /// .unwrap()
    /// .unwrap();
    /// assert_eq!(changed, 2);
    /// ```
    #[track_caller]
    pub fn run_operation(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: impl Params,
    ) -> Deferred<u64> {
        let sql = sql.into();
        self.submit(move |conn| conn.execute(&sql, &params.into_values()))
    }

    /// Runs `interaction` in a transaction on a pool thread (adbapi's `runInteraction`):
    /// commits if it returns `Ok`, rolls back if it returns `Err` or panics. The Deferred
    /// fires with its value, or fails with its error (as the error's own type), a
    /// [`Panicked`](fate_deferred::Panicked) failure, or the [`Error`] of `BEGIN`/`COMMIT`.
    ///
    /// The closure blocks a pool thread, never the loop: it may run many statements, loops
    /// and Rust code between them.
    ///
    /// # Panics
    ///
    /// If this thread has no reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fate::db::{ConnectionPool, Sqlite};
    /// let pool = ConnectionPool::new(Sqlite::memory("run-interaction-doc"), 1);
    /// let left = fate::block_on(async move {
    ///     pool.run_operation("CREATE TABLE cups (n INTEGER)", ()).await?;
    ///     let failed = pool
    ///         .run_interaction(|tx| -> Result<(), fate::db::Error> {
    ///             tx.execute("INSERT INTO cups VALUES (1)", ())?;
    ///             tx.execute("INSERT INTO no_such_table VALUES (2)", ())?; // fails: rolled back
    ///             Ok(())
    ///         })
    ///         .await;
    ///     assert!(failed.is_err());
    ///     pool.run_query::<i64>("SELECT count(*) FROM cups", ()).await
    /// })
    /// .unwrap()
    /// .unwrap();
    /// assert_eq!(left, [0]);
    /// ```
    #[track_caller]
    pub fn run_interaction<T, E, F>(&self, interaction: F) -> Deferred<T>
    where
        F: FnOnce(&mut Transaction<'_, D::Connection>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: std::error::Error + Send + 'static,
    {
        self.with_connection(move |conn, reply| {
            if let Err(e) = conn.begin() {
                reply.send_error(e);
                return conn.is_broken();
            }
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                interaction(&mut Transaction::new(conn))
            }));
            match outcome {
                Ok(Ok(value)) => match conn.commit() {
                    Ok(()) => {
                        reply.send(value);
                        false
                    }
                    Err(e) => {
                        rollback(conn);
                        reply.send_error(e);
                        conn.is_broken()
                    }
                },
                Ok(Err(e)) => {
                    rollback(conn);
                    reply.send_error(e);
                    conn.is_broken()
                }
                Err(panic) => {
                    rollback(conn);
                    reply.send_panic(panic);
                    conn.is_broken()
                }
            }
        })
    }

    /// Closes the pool (adbapi's `close`): new calls fail with [`Error::is_closed`]; the work
    /// in progress and in the queue finishes; then each thread closes its connection and
    /// exits, and the Deferred fires. Closing again waits for the same end.
    ///
    /// # Panics
    ///
    /// If this thread has no reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// # use fate::db::{ConnectionPool, Sqlite};
    /// let pool = ConnectionPool::new(Sqlite::memory("close-doc"), 1);
    /// let after = fate::block_on(async move {
    ///     let one = pool.run_query::<i64>("SELECT 1", ());
    ///     pool.close().await.unwrap();
    ///     assert_eq!(one.await.unwrap(), [1]); // queued before the close: it ran
    ///     pool.run_query::<i64>("SELECT 1", ()).await
    /// })
    /// .unwrap();
    /// let failure = after.unwrap_err();
    /// assert!(failure.downcast_ref::<fate::db::Error>().unwrap().is_closed());
    /// ```
    #[track_caller]
    pub fn close(&self) -> Deferred<()> {
        self.handle.shared.close()
    }

    /// Runs `call` on a pool thread with its connection; a failed call gets its connection
    /// checked.
    #[track_caller]
    fn submit<T: Send + 'static>(
        &self,
        call: impl FnOnce(&mut D::Connection) -> Result<T, Error> + Send + 'static,
    ) -> Deferred<T> {
        self.with_connection(move |conn, reply| {
            match catch_unwind(AssertUnwindSafe(|| call(conn))) {
                Ok(Ok(value)) => {
                    reply.send(value);
                    false
                }
                Ok(Err(e)) => {
                    reply.send_error(e);
                    conn.is_broken()
                }
                Err(panic) => {
                    reply.send_panic(panic);
                    conn.is_broken()
                }
            }
        })
    }

    /// Queues `job` for a pool thread, which runs it with its connection and the reply to
    /// send; `job` returns whether the connection should be checked for breakage. A thread
    /// that has no connection (its connect failed) answers with that error instead.
    #[track_caller]
    fn with_connection<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut D::Connection, Reply<T>) -> bool + Send + 'static,
    ) -> Deferred<T> {
        let (deferred, reply) = Reply::<T>::pending();
        self.handle.shared.queue(
            Box::new(move |conn: Result<&mut D::Connection, Error>| match conn {
                Ok(conn) => job(conn, reply),
                Err(e) => {
                    reply.send_error(e);
                    false
                }
            }),
            deferred,
        )
    }
}

/// Rolls back after a failed interaction; a failing rollback is logged (the connection check
/// that follows decides whether the connection is kept).
fn rollback<C: Connection>(conn: &mut C) {
    if let Err(e) = conn.rollback() {
        tracing::warn!(target: "fate::db", "rollback failed: {e}");
    }
}

impl<D: Driver> Shared<D> {
    fn lock(&self) -> MutexGuard<'_, State<D::Connection>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` and returns `deferred`, or fails it at once if the pool is closed.
    fn queue<T: 'static>(
        self: &Arc<Self>,
        job: Job<D::Connection>,
        deferred: Deferred<T>,
    ) -> Deferred<T> {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            // The job's reply answers the Deferred with the failure, on this thread's next turn.
            let _ = job(Err(Error::closed()));
            return deferred;
        }
        state.jobs.push_back(job);
        if state.idle > 0 {
            drop(state);
            self.work.notify_one();
            return deferred;
        }
        if state.threads < self.max_connections {
            state.threads += 1;
            drop(state);
            let shared = self.clone();
            let spawned = std::thread::Builder::new()
                .name("fate-db".into())
                .spawn(move || shared.work());
            if let Err(e) = spawned {
                tracing::error!(target: "fate::db", "cannot start a pool thread: {e}");
                self.lock().threads -= 1;
            }
        }
        deferred
    }

    /// Marks the pool closed; the Deferred fires when its last thread has exited.
    #[track_caller]
    fn close(&self) -> Deferred<()> {
        let (deferred, reply) = Reply::<()>::pending();
        let mut state = self.lock();
        state.closed = true;
        if state.threads == 0 {
            drop(state);
            reply.send(());
        } else {
            state.closing.push(reply);
            drop(state);
            self.work.notify_all();
        }
        deferred
    }

    /// A pool thread: runs jobs with its connection until the pool is closed and drained.
    fn work(&self) {
        let mut conn: Option<D::Connection> = None;
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                if conn.is_none() {
                    match self.driver.connect() {
                        Ok(opened) => conn = Some(opened),
                        Err(e) => {
                            job(Err(e));
                            state = self.lock();
                            continue;
                        }
                    }
                }
                if let Some(c) = conn.as_mut() {
                    if job(Ok(c)) {
                        tracing::warn!(target: "fate::db", "a broken connection is replaced");
                        conn = None;
                    }
                }
                state = self.lock();
                continue;
            }
            if state.closed {
                break;
            }
            state.idle += 1;
            state = self
                .work
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
        drop(state);
        // The connection closes before `close()` hears that this thread is done.
        drop(conn);
        let mut state = self.lock();
        state.threads -= 1;
        let closing = if state.threads == 0 {
            std::mem::take(&mut state.closing)
        } else {
            Vec::new()
        };
        drop(state);
        for reply in closing {
            reply.send(());
        }
    }
}

impl<D: Driver> Clone for ConnectionPool<D> {
    fn clone(&self) -> ConnectionPool<D> {
        ConnectionPool {
            handle: self.handle.clone(),
        }
    }
}

impl<D: Driver> Drop for Handle<D> {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
    }
}

impl<D: Driver> std::fmt::Debug for ConnectionPool<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.handle.shared.lock();
        f.debug_struct("ConnectionPool")
            .field("max_connections", &self.handle.shared.max_connections)
            .field("threads", &state.threads)
            .field("queued", &state.jobs.len())
            .field("closed", &state.closed)
            .finish()
    }
}
