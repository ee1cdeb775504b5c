//! The connection pool end to end on SQLite files: throughput without stalling the loop,
//! transactions, broken connections, and shutdown.

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fate_db::{Connection, ConnectionPool, Driver, Error, FromRow, Row, Sqlite, Value};
use fate_deferred::Panicked;

/// A fresh database file for one test, removed when dropped.
struct TempDb(PathBuf);

impl TempDb {
    fn new(test: &str) -> TempDb {
        let path =
            std::env::temp_dir().join(format!("fate-db-{test}-{}.sqlite", std::process::id()));
        let db = TempDb(path);
        db.remove();
        db
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }

    /// The rows of `sql`, read with a connection of its own (after the pool is done).
    fn count(&self, sql: &str) -> i64 {
        rusqlite_count(&self.0, sql)
    }
}

fn rusqlite_count(path: &PathBuf, sql: &str) -> i64 {
    let mut conn = Sqlite::open(path).connect().unwrap();
    Connection::query(&mut conn, sql, &[]).unwrap()[0]
        .get(0)
        .unwrap()
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A driver whose connections can all be killed at once: a killed connection fails every
/// call, as one whose server went away, and reports itself broken. Counts connections opened.
#[derive(Clone)]
struct Killable {
    inner: Sqlite,
    generation: Arc<AtomicUsize>,
    opened: Arc<AtomicUsize>,
}

struct KillableConnection {
    inner: rusqlite::Connection,
    generation: usize,
    current: Arc<AtomicUsize>,
}

impl Killable {
    fn new(inner: Sqlite) -> Killable {
        Killable {
            inner,
            generation: Arc::default(),
            opened: Arc::default(),
        }
    }

    fn kill_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl Driver for Killable {
    type Connection = KillableConnection;

    fn connect(&self) -> Result<KillableConnection, Error> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        Ok(KillableConnection {
            inner: self.inner.connect()?,
            generation: self.generation.load(Ordering::SeqCst),
            current: self.generation.clone(),
        })
    }
}

impl KillableConnection {
    fn alive(&self) -> Result<(), Error> {
        if self.generation == self.current.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(Error::query(std::io::Error::from(
                std::io::ErrorKind::ConnectionReset,
            )))
        }
    }
}

impl Connection for KillableConnection {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        self.alive()?;
        Connection::execute(&mut self.inner, sql, params)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        self.alive()?;
        Connection::query(&mut self.inner, sql, params)
    }
}

/// How long this thread has waited on a run queue for a CPU (Linux schedstat; zero where
/// that is not available).
fn runqueue_wait() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

#[test]
fn a_thousand_queries_through_four_connections_never_stall_the_loop() {
    let db = TempDb::new("thousand");
    let driver = Killable::new(Sqlite::open(&db.0));
    let opened = driver.opened.clone();
    let done = Rc::new(Cell::new(0usize));
    let worst_late = Rc::new(Cell::new(Duration::ZERO));
    let (done2, worst2) = (done.clone(), worst_late.clone());
    fate_core::run(move || {
        let pool = ConnectionPool::new(driver, 4);
        // The heartbeat: every 5 ms, measuring how late each beat is, less the time this
        // thread waited for a CPU meanwhile (the machine's load, not the loop's doing; a loop
        // that blocks sleeps instead, and that time counts).
        fn beat(expected: Instant, waited: Duration, worst: Rc<Cell<Duration>>) {
            let now_waited = runqueue_wait();
            let late = Instant::now().saturating_duration_since(expected);
            let late = late.saturating_sub(now_waited.saturating_sub(waited));
            worst.set(worst.get().max(late));
            let next = Instant::now() + Duration::from_millis(5);
            let _ = fate_core::call_later(Duration::from_millis(5), move || {
                beat(next, now_waited, worst)
            });
        }
        beat(Instant::now(), runqueue_wait(), worst2);
        for i in 0..1000i64 {
            let done = done2.clone();
            let _ = pool
                .run_query::<(i64, String)>("SELECT ?, 'row ' || ?", (i, i))
                .add_callback(move |rows| {
                    assert_eq!(rows, [(i, format!("row {i}"))]);
                    done.set(done.get() + 1);
                    if done.get() == 1000 {
                        fate_core::reactor().stop();
                    }
                });
        }
    })
    .unwrap();
    assert_eq!(done.get(), 1000);
    assert!(opened.load(Ordering::SeqCst) <= 4);
    let worst = worst_late.get();
    assert!(
        worst <= Duration::from_millis(20),
        "a heartbeat was {worst:?} late"
    );
}

/// Runs `interaction` against a table `cups` holding one row, and returns its failure and
/// the rows left after.
fn interaction_leaves<F>(test: &str, interaction: F) -> (fate_deferred::Failure, i64)
where
    F: FnOnce(&mut fate_db::Transaction<'_, rusqlite::Connection>) -> Result<(), Error>
        + Send
        + 'static,
{
    let db = TempDb::new(test);
    let pool = ConnectionPool::new(Sqlite::open(&db.0), 2);
    let failure = fate_core::block_on(async move {
        pool.run_operation("CREATE TABLE cups (n INTEGER)", ())
            .await
            .unwrap();
        pool.run_operation("INSERT INTO cups VALUES (1)", ())
            .await
            .unwrap();
        let failure = pool.run_interaction(interaction).await.unwrap_err();
        pool.close().await.unwrap();
        failure
    })
    .unwrap();
    (failure, db.count("SELECT count(*) FROM cups"))
}

#[test]
fn an_interaction_that_fails_is_rolled_back() {
    let (failure, rows) = interaction_leaves("rollback-err", |tx| {
        tx.execute("INSERT INTO cups VALUES (2)", ())?;
        tx.execute("DELETE FROM cups WHERE n = 1", ())?;
        tx.execute("INSERT INTO no_such_table VALUES (3)", ())?;
        Ok(())
    });
    assert!(failure.downcast_ref::<Error>().is_some());
    assert_eq!(rows, 1);
}

#[test]
fn an_interaction_that_panics_is_rolled_back() {
    let (failure, rows) = interaction_leaves("rollback-panic", |tx| {
        tx.execute("INSERT INTO cups VALUES (2)", ())?;
        panic!("the dormouse fell asleep");
    });
    assert_eq!(
        failure.downcast_ref::<Panicked>().map(Panicked::message),
        Some("the dormouse fell asleep")
    );
    assert_eq!(rows, 1);
}

#[test]
fn an_interaction_that_succeeds_is_committed_with_its_typed_rows() {
    #[derive(Debug, PartialEq)]
    struct Guest {
        id: i64,
        name: String,
        note: Option<String>,
    }

    impl FromRow for Guest {
        fn from_row(row: Row) -> Result<Guest, Error> {
            let (id, name, note) = FromRow::from_row(row)?;
            Ok(Guest { id, name, note })
        }
    }

    let db = TempDb::new("commit");
    let pool = ConnectionPool::new(Sqlite::open(&db.0), 2);
    let guests = fate_core::block_on(async move {
        pool.run_interaction(|tx| {
            tx.execute(
                "CREATE TABLE guests (id INTEGER PRIMARY KEY, name TEXT, note TEXT)",
                (),
            )?;
            tx.execute(
                "INSERT INTO guests (name, note) VALUES (?, ?)",
                ("Alice", None::<String>),
            )?;
            tx.execute(
                "INSERT INTO guests (name, note) VALUES (?, ?)",
                ("Hatter", "late"),
            )?;
            tx.query::<Guest>("SELECT id, name, note FROM guests ORDER BY id", ())
        })
        .await
    })
    .unwrap()
    .unwrap();
    assert_eq!(
        guests,
        [
            Guest {
                id: 1,
                name: "Alice".into(),
                note: None
            },
            Guest {
                id: 2,
                name: "Hatter".into(),
                note: Some("late".into())
            },
        ]
    );
    assert_eq!(db.count("SELECT count(*) FROM guests"), 2);
}

#[test]
fn a_row_that_does_not_convert_fails_the_query() {
    let pool = ConnectionPool::new(Sqlite::memory("conversion-test"), 1);
    let failure =
        fate_core::block_on(
            async move { pool.run_query::<i64>("SELECT 'not a number'", ()).await },
        )
        .unwrap()
        .unwrap_err();
    assert!(failure.downcast_ref::<Error>().unwrap().is_conversion());
}

/// Issues `n` one-row queries at once and waits for them all; returns (succeeded, failed).
async fn queries(pool: &ConnectionPool<Killable>, n: i64) -> (usize, usize) {
    let pending: Vec<_> = (0..n)
        .map(|i| (i, pool.run_query::<i64>("SELECT ?", (i,))))
        .collect();
    let (mut succeeded, mut failed) = (0, 0);
    for (i, query) in pending {
        match query.await {
            Ok(rows) => {
                assert_eq!(rows, [i]);
                succeeded += 1;
            }
            Err(failure) => {
                let error = failure.downcast_ref::<Error>().unwrap();
                assert!(error.to_string().contains("reset"), "{error}");
                failed += 1;
            }
        }
    }
    (succeeded, failed)
}

#[test]
fn killed_connections_are_replaced_mid_run() {
    let db = TempDb::new("killed");
    let driver = Killable::new(Sqlite::open(&db.0));
    let killer = driver.clone();
    let opened = driver.opened.clone();
    let total = driver.opened.clone();
    let (before, at_kill, after, later) = fate_core::block_on(async move {
        let pool = ConnectionPool::new(driver, 4);
        let before = queries(&pool, 100).await;
        // A pool thread connects at its first call: let every thread have had one, so that no
        // first connection of a late thread is counted as a replacement below.
        for _ in 0..100 {
            if opened.load(Ordering::SeqCst) == 4 {
                break;
            }
            assert_eq!(queries(&pool, 20).await, (20, 0));
        }
        let at_kill = opened.load(Ordering::SeqCst);
        killer.kill_all();
        let after = queries(&pool, 100).await;
        // A thread that took no call in that batch meets its killed connection in this one.
        let later = queries(&pool, 100).await;
        (before, at_kill, after, later)
    })
    .unwrap();
    assert_eq!(before, (100, 0));
    // Each killed connection fails the one call it runs next, then is replaced when its thread
    // takes another call (a thread may take none before the batch ends): the calls after it on
    // that thread run on a new connection.
    let (succeeded, failed) = (after.0 + later.0, after.1 + later.1);
    assert!(
        (1..=at_kill).contains(&failed),
        "{failed} of {at_kill} connections failed a call"
    );
    assert_eq!(succeeded + failed, 200);
    let replaced = total.load(Ordering::SeqCst) - at_kill;
    assert!(
        (1..=failed).contains(&replaced),
        "{replaced} connections opened for {failed} killed ones"
    );
}

#[test]
fn shutdown_waits_for_an_interaction_in_progress() {
    let db = TempDb::new("shutdown");
    let path = db.0.clone();
    let finished = Arc::new(AtomicBool::new(false));
    let delivered = Rc::new(Cell::new(false));
    let (finished2, delivered2) = (finished.clone(), delivered.clone());
    fate_core::run(move || {
        let pool = ConnectionPool::new(Sqlite::open(path), 2);
        let _ = pool
            .run_interaction(move |tx| {
                tx.execute("CREATE TABLE cups (n INTEGER)", ())?;
                // A long transaction: the reactor is asked to stop meanwhile.
                std::thread::sleep(Duration::from_millis(50));
                tx.execute("INSERT INTO cups VALUES (1)", ())?;
                finished2.store(true, Ordering::SeqCst);
                Ok::<_, Error>(())
            })
            .add_callback(move |()| delivered2.set(true));
        fate_core::reactor().stop();
    })
    .unwrap();
    assert!(finished.load(Ordering::SeqCst));
    assert!(delivered.get());
    assert_eq!(db.count("SELECT count(*) FROM cups"), 1);
}
