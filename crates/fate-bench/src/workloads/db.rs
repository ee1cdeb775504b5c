//! `db`: N one-row `SELECT` round trips through a database pool, one query in flight at a
//! time, on a SQLite file.
//!
//! Each implementation creates its own file in the temp directory (WAL journal, one row in
//! `t`), opens a pool of `--connections` connections, and then measures N queries
//! `SELECT id, name FROM t WHERE id = ?`, each issued when the previous one's row is back.
//! `secs` covers the N round trips only; the check is that every row came back right.
//!
//! - `fate`: `fate::db::ConnectionPool::run_query`, each callback issuing the next query.
//! - `fate-async`: the same pool, awaited in a loop in a task.
//! - `tokio`: sqlx's SQLite pool on a current-thread tokio runtime, `fetch_one` in a loop.

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use std::str::FromStr;
use std::time::{Duration, Instant};

use fate::db::{ConnectionPool, Sqlite};

use crate::args::{Args, Flag};
use crate::measure;
use crate::report::Report;
use crate::workloads::{fail, tokio_runtime, Impl, Workload};

pub(crate) const WORKLOAD: Workload = Workload {
    name: "db",
    about: "N one-row SELECT round trips through a database pool (fate::db vs sqlx), SQLite",
    flags: &[
        Flag::value("n", "20000", "round trips"),
        Flag::value("connections", "1", "connections in the pool"),
    ],
    impls: &[
        (Impl::Fate, fate),
        (Impl::FateAsync, fate_async),
        (Impl::Tokio, tokio),
    ],
};

const QUERY: &str = "SELECT id, name FROM t WHERE id = ?";

/// A fresh database file with table `t` holding row (1, 'hatter'); removed when dropped.
struct BenchDb(PathBuf);

impl BenchDb {
    fn new(imp: &str) -> BenchDb {
        let path =
            std::env::temp_dir().join(format!("fate-bench-db-{imp}-{}.sqlite", std::process::id()));
        let db = BenchDb(path);
        db.remove();
        db
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        self.remove();
    }
}

fn check(row: &(i64, String)) {
    if row.0 != 1 || row.1 != "hatter" {
        fail("db", format!("wrong row {row:?}"));
    }
}

fn report(n: u64, elapsed: Duration, cpu: Duration, peer: &str) -> Report {
    Report::new(n, elapsed)
        .with("peer", peer)
        .with_us("cpu_us_per_op", cpu.as_secs_f64() * 1e6 / n.max(1) as f64)
}

/// A pool on a fresh file with its one row, made on this thread's reactor.
async fn fate_pool(db: &BenchDb, connections: usize) -> ConnectionPool<Sqlite> {
    let pool = ConnectionPool::new(Sqlite::open(&db.0), connections);
    let setup = pool.run_interaction(|tx| {
        tx.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
            (),
        )?;
        tx.execute("INSERT INTO t VALUES (1, 'hatter')", ())
    });
    if let Err(e) = setup.await {
        fail("db", format!("setup failed: {e}"));
    }
    // Warm every connection's statement cache (and open the connections) before measuring.
    for _ in 0..connections {
        let _ = pool.run_query::<(i64, String)>(QUERY, (1,)).await;
    }
    pool
}

fn fate_reactor() -> fate::reactor::Reactor {
    fate::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("fate reactor")
}

/// Callback style: each query's callback issues the next.
pub(crate) fn fate(args: &Args) -> Report {
    let (n, connections): (u64, usize) = (args.get("n"), args.get("connections"));
    let db = BenchDb::new("fate");
    let reactor = fate_reactor();
    let pool = reactor
        .block_on(async move { fate_pool(&db, connections).await })
        .expect("setup");
    let done = Rc::new(Cell::new(None));
    fn next(
        pool: ConnectionPool<Sqlite>,
        left: u64,
        done: Rc<Cell<Option<(Duration, Duration)>>>,
        t0: Instant,
        cpu0: Duration,
    ) {
        let _ = pool
            .clone()
            .run_query::<(i64, String)>(QUERY, (1,))
            .add_callback(move |rows| {
                check(&rows[0]);
                if left > 1 {
                    next(pool, left - 1, done, t0, cpu0);
                } else {
                    done.set(Some((t0.elapsed(), measure::thread_cpu() - cpu0)));
                }
            });
    }
    let finished = done.clone();
    reactor.call_soon(move || next(pool, n, finished, Instant::now(), measure::thread_cpu()));
    reactor.run_until_idle().expect("run");
    let Some((elapsed, cpu)) = done.get() else {
        fail("db", "the queries did not all complete");
    };
    report(n, elapsed, cpu, "fate::db run_query callbacks, rusqlite")
}

/// Async style: a task awaits each query in turn.
pub(crate) fn fate_async(args: &Args) -> Report {
    let (n, connections): (u64, usize) = (args.get("n"), args.get("connections"));
    let db = BenchDb::new("fate-async");
    let reactor = fate_reactor();
    let (elapsed, cpu) = reactor
        .block_on(async move {
            let pool = fate_pool(&db, connections).await;
            let (t0, cpu0) = (Instant::now(), measure::thread_cpu());
            for _ in 0..n {
                match pool.run_query::<(i64, String)>(QUERY, (1,)).await {
                    Ok(rows) => check(&rows[0]),
                    Err(e) => fail("db", e),
                }
            }
            (t0.elapsed(), measure::thread_cpu() - cpu0)
        })
        .expect("run");
    report(n, elapsed, cpu, "fate::db run_query awaited, rusqlite")
}

/// sqlx's SQLite pool on a current-thread runtime, `fetch_one` in a loop.
pub(crate) fn tokio(args: &Args) -> Report {
    let (n, connections): (u64, u32) = (args.get("n"), args.get("connections"));
    let db = BenchDb::new("tokio");
    let rt = tokio_runtime();
    let (elapsed, cpu) = rt.block_on(async move {
        let options =
            sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite://{}", db.0.display()))
                .expect("sqlite options")
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(connections)
            .min_connections(connections)
            .connect_with(options)
            .await
            .unwrap_or_else(|e| fail("db", e));
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap_or_else(|e| fail("db", e));
        sqlx::query("INSERT INTO t VALUES (1, 'hatter')")
            .execute(&pool)
            .await
            .unwrap_or_else(|e| fail("db", e));
        for _ in 0..connections {
            let _ = sqlx::query_as::<_, (i64, String)>(QUERY)
                .bind(1)
                .fetch_one(&pool)
                .await;
        }
        let (t0, cpu0) = (Instant::now(), measure::thread_cpu());
        for _ in 0..n {
            match sqlx::query_as::<_, (i64, String)>(QUERY)
                .bind(1)
                .fetch_one(&pool)
                .await
            {
                Ok(row) => check(&row),
                Err(e) => fail("db", e),
            }
        }
        let measured = (t0.elapsed(), measure::thread_cpu() - cpu0);
        pool.close().await;
        drop(db);
        measured
    });
    report(n, elapsed, cpu, "sqlx SqlitePool fetch_one, current_thread")
}
