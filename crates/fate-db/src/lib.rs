//! Twisted's `adbapi` for Fate: blocking database drivers on threads, results as Deferreds.
//!
//! Database drivers block. Twisted's answer, `twisted.enterprise.adbapi`, keeps them: a
//! `ConnectionPool` runs each query on a thread that owns a connection and hands the result
//! back to the reactor as a Deferred. This crate is that, typed:
//!
//! - [`ConnectionPool`] owns up to `max_connections` threads, each with one blocking
//!   connection. [`run_query`](ConnectionPool::run_query),
//!   [`run_operation`](ConnectionPool::run_operation) and
//!   [`run_interaction`](ConnectionPool::run_interaction) (a closure in a transaction: commit
//!   on `Ok`, rollback on `Err` or panic) return Deferreds that fire on the caller's reactor.
//!   A busy pool queues the work; the loop never blocks.
//! - Rows come back typed: [`FromRow`] for tuples of [`FromValue`]s, for [`Row`] itself, or
//!   for your own structs.
//! - A connection that broke is replaced; [`close`](ConnectionPool::close) and the reactor's
//!   shutdown wait for the work in progress.
//! - Drivers plug in through two small traits, [`Driver`] and [`Connection`]. SQLite
//!   ([`Sqlite`], rusqlite with its bundled SQLite) is built in (feature `sqlite`, default);
//!   PostgreSQL (`Postgres`, the blocking `postgres` crate) is feature `postgres`.
//!
//! # Features
//!
//! - `sqlite` (default): [`Sqlite`], through rusqlite with its own copy of SQLite compiled in.
//! - `postgres`: `Postgres`, through the blocking `postgres` crate, without TLS.
//!
//! # Examples
//!
//! ```
//! use fate::db::{ConnectionPool, Sqlite};
//!
//! let pool = ConnectionPool::new(Sqlite::memory("doc-example"), 2);
//! let names = fate::block_on(async move {
//!     pool.run_operation("CREATE TABLE hatters (name TEXT)", ()).await?;
//!     pool.run_operation("INSERT INTO hatters VALUES (?), (?)", ("Alice", "Hatter")).await?;
//!     pool.run_query::<String>("SELECT name FROM hatters ORDER BY name", ()).await
//! })
//! .unwrap()
//! .unwrap();
//! assert_eq!(names, ["Alice", "Hatter"]);
//! ```
#![forbid(unsafe_code)]

mod connection;
mod error;
mod pool;
#[cfg(feature = "postgres")]
mod postgres;
mod row;
#[cfg(feature = "sqlite")]
mod sqlite;
mod transaction;
mod value;

pub use connection::{Connection, Driver};
pub use error::Error;
pub use pool::ConnectionPool;
#[cfg(feature = "postgres")]
pub use postgres::Postgres;
pub use row::{FromRow, Row};
#[cfg(feature = "sqlite")]
pub use sqlite::Sqlite;
pub use transaction::Transaction;
pub use value::{FromValue, Params, Value};
