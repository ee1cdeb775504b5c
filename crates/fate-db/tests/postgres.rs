//! The pool against a real PostgreSQL server (feature `postgres`).
//!
//! These tests need a server: set `FATE_TEST_POSTGRES_URL` to a libpq connection string for
//! a database where the user may create tables, e.g.
//!
//! ```text
//! FATE_TEST_POSTGRES_URL="host=127.0.0.1 port=54329 user=postgres dbname=postgres" \
//!     cargo test -p fate-db --test postgres
//! ```
//!
//! `.ci/run` starts a throwaway cluster and sets it. Without it, each test prints that it is
//! skipped and passes.
#![cfg(feature = "postgres")]

use fate_db::{ConnectionPool, Error, Postgres};
use fate_deferred::Panicked;

/// The server's connection string, or `None` (with a note) when no server is configured.
fn server(test: &str) -> Option<String> {
    let url = std::env::var("FATE_TEST_POSTGRES_URL").ok();
    if url.is_none() {
        println!("{test}: skipped, FATE_TEST_POSTGRES_URL is not set");
    }
    url
}

#[test]
fn queries_and_transactions_on_postgres() {
    let Some(url) = server("queries_and_transactions_on_postgres") else {
        return;
    };
    let pool = ConnectionPool::new(Postgres::new(url), 2);
    let (rows, after_err, after_panic) = fate_core::block_on(async move {
        pool.run_operation("DROP TABLE IF EXISTS fate_guests", ()).await.unwrap();
        pool.run_operation(
            "CREATE TABLE fate_guests (id SERIAL PRIMARY KEY, name TEXT NOT NULL, cups INT4, ok BOOL)",
            (),
        )
        .await
        .unwrap();
        pool.run_interaction(|tx| {
            tx.execute("INSERT INTO fate_guests (name, cups, ok) VALUES ($1, $2, $3)", ("Alice", 2, true))?;
            tx.execute("INSERT INTO fate_guests (name, cups, ok) VALUES ($1, $2, $3)", ("Hatter", None::<i64>, false))
        })
        .await
        .unwrap();
        let rows = pool
            .run_query::<(i64, String, Option<i64>, bool)>(
                "SELECT id::int8, name, cups, ok FROM fate_guests WHERE id >= $1 ORDER BY id",
                (1,),
            )
            .await
            .unwrap();
        let failed = pool
            .run_interaction(|tx| {
                tx.execute("DELETE FROM fate_guests", ())?;
                tx.execute("INSERT INTO no_such_table VALUES (1)", ())
            })
            .await;
        assert!(failed.unwrap_err().downcast_ref::<Error>().is_some());
        let after_err = pool.run_query::<i64>("SELECT count(*) FROM fate_guests", ()).await.unwrap();
        let panicked = pool
            .run_interaction(|tx| -> Result<(), Error> {
                tx.execute("DELETE FROM fate_guests", ())?;
                panic!("spilled the tea");
            })
            .await;
        assert!(panicked.unwrap_err().check::<Panicked>());
        let after_panic = pool.run_query::<i64>("SELECT count(*) FROM fate_guests", ()).await.unwrap();
        pool.run_operation("DROP TABLE fate_guests", ()).await.unwrap();
        (rows, after_err, after_panic)
    })
    .unwrap();
    assert_eq!(
        rows,
        [
            (1, "Alice".to_owned(), Some(2), true),
            (2, "Hatter".to_owned(), None, false)
        ]
    );
    assert_eq!((after_err, after_panic), (vec![2], vec![2]));
}

#[test]
fn connections_killed_by_the_server_are_replaced() {
    let Some(url) = server("connections_killed_by_the_server_are_replaced") else {
        return;
    };
    let tag = format!("fate-db-kill-{}", std::process::id());
    let pool = ConnectionPool::new(Postgres::new(format!("{url} application_name={tag}")), 1);
    let admin = ConnectionPool::new(Postgres::new(url), 1);
    let (before, killed, failed, after) = fate_core::block_on(async move {
        let before = pool.run_query::<i64>("SELECT 1::int8", ()).await.unwrap();
        let killed = admin
            .run_query::<bool>(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                (tag,),
            )
            .await
            .unwrap();
        // The one connection is gone: this call fails, and the connection is replaced.
        let failed = pool.run_query::<i64>("SELECT 2::int8", ()).await.is_err();
        let after = pool.run_query::<i64>("SELECT 3::int8", ()).await.unwrap();
        (before, killed, failed, after)
    })
    .unwrap();
    assert_eq!(before, [1]);
    assert_eq!(killed, [true]);
    assert!(failed);
    assert_eq!(after, [3]);
}
