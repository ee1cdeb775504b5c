//! `Transaction`: what a `run_interaction` closure gets.

use crate::{Connection, Error, FromRow, Params};

/// A connection inside a transaction, lent to a
/// [`run_interaction`](crate::ConnectionPool::run_interaction) closure on a pool thread
/// (adbapi's `Transaction`, a cursor). The pool commits when the closure returns `Ok`, and
/// rolls back when it returns `Err` or panics.
///
/// # Examples
///
/// ```
/// use fate::db::{ConnectionPool, Sqlite};
///
/// let pool = ConnectionPool::new(Sqlite::memory("transaction-doc"), 1);
/// let total = fate::block_on(async move {
///     pool.run_interaction(|tx| {
///         tx.execute("CREATE TABLE cups (n INTEGER)", ())?;
///         for n in 1..=3 {
///             tx.execute("INSERT INTO cups VALUES (?)", (n,))?;
///         }
///         tx.query_one::<i64>("SELECT sum(n) FROM cups", ())
///     })
///     .await
/// })
/// .unwrap()
/// .unwrap();
/// assert_eq!(total, 6);
/// ```
pub struct Transaction<'c, C: Connection> {
    conn: &'c mut C,
}

impl<'c, C: Connection> Transaction<'c, C> {
    pub(crate) fn new(conn: &'c mut C) -> Transaction<'c, C> {
        Transaction { conn }
    }

    /// Runs one statement; returns the number of rows it changed.
    ///
    /// # Errors
    ///
    /// The driver's error, as [`Error::query`].
    pub fn execute(&mut self, sql: &str, params: impl Params) -> Result<u64, Error> {
        self.conn.execute(sql, &params.into_values())
    }

    /// Runs one statement and converts its rows.
    ///
    /// # Errors
    ///
    /// The driver's error, or a conversion error.
    pub fn query<T: FromRow>(&mut self, sql: &str, params: impl Params) -> Result<Vec<T>, Error> {
        self.conn
            .query(sql, &params.into_values())?
            .into_iter()
            .map(T::from_row)
            .collect()
    }

    /// Runs one statement and converts its first row.
    ///
    /// # Errors
    ///
    /// As [`query`](Transaction::query), and a conversion error if there is no row.
    pub fn query_one<T: FromRow>(&mut self, sql: &str, params: impl Params) -> Result<T, Error> {
        let row = self
            .conn
            .query(sql, &params.into_values())?
            .into_iter()
            .next()
            .ok_or_else(|| Error::conversion("the query returned no row"))?;
        T::from_row(row)
    }

    /// The driver's connection itself, for what the pool's API does not cover (for SQLite, a
    /// `rusqlite::Connection`).
    pub fn connection(&mut self) -> &mut C {
        self.conn
    }
}

impl<C: Connection> std::fmt::Debug for Transaction<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction").finish_non_exhaustive()
    }
}
