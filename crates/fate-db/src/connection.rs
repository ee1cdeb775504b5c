//! The driver seam: a way to open connections, and what a blocking connection must do.

use crate::{Error, Row, Value};

/// Opens blocking connections: a driver and its settings (adbapi's `dbapiName` and connection
/// arguments). Shared by the pool's threads.
///
/// # Examples
///
/// ```
/// use fate::db::{Driver, Sqlite};
///
/// use fate::db::Connection;
///
/// let mut conn = Sqlite::memory("driver-doc").connect().unwrap();
/// assert_eq!(Connection::execute(&mut conn, "CREATE TABLE t (x INTEGER)", &[]).unwrap(), 0);
/// ```
pub trait Driver: Send + Sync + 'static {
    /// The connection this driver opens.
    type Connection: Connection;

    /// Opens a connection; called on the pool thread that will own it.
    ///
    /// # Errors
    ///
    /// The driver's error (unreachable server, bad credentials, unopenable file), as
    /// [`Error::connect`].
    fn connect(&self) -> Result<Self::Connection, Error>;
}

/// A blocking database connection, as a pool thread uses it (DB-API's connection and cursor
/// in one).
///
/// Parameters and cells are [`Value`]s, so that one pool API serves every driver; SQL text
/// and its placeholder style (`?`, `$1`) are the driver's. A connection lives on one thread
/// at a time, hence `Send`.
///
/// # Examples
///
/// ```
/// use fate::db::{Connection, Driver, Sqlite, Value};
///
/// let mut conn = Sqlite::memory("connection-doc").connect().unwrap();
/// let rows = Connection::query(&mut conn, "SELECT ? + 1", &[Value::Integer(41)]).unwrap();
/// assert_eq!(rows[0].get::<i64>(0).unwrap(), 42);
/// ```
pub trait Connection: Send + 'static {
    /// Runs one statement; returns the number of rows it changed.
    ///
    /// # Errors
    ///
    /// The driver's error, as [`Error::query`].
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error>;

    /// Runs one statement and returns its rows.
    ///
    /// # Errors
    ///
    /// The driver's error, as [`Error::query`].
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error>;

    /// Starts a transaction (default: `BEGIN`).
    ///
    /// # Errors
    ///
    /// As [`execute`](Connection::execute).
    fn begin(&mut self) -> Result<(), Error> {
        self.execute("BEGIN", &[]).map(drop)
    }

    /// Commits the transaction (default: `COMMIT`).
    ///
    /// # Errors
    ///
    /// As [`execute`](Connection::execute).
    fn commit(&mut self) -> Result<(), Error> {
        self.execute("COMMIT", &[]).map(drop)
    }

    /// Rolls the transaction back (default: `ROLLBACK`).
    ///
    /// # Errors
    ///
    /// As [`execute`](Connection::execute).
    fn rollback(&mut self) -> Result<(), Error> {
        self.execute("ROLLBACK", &[]).map(drop)
    }

    /// After a failed call, whether this connection is unusable and must be replaced
    /// (adbapi's `cp_reconnect` check). The default runs `SELECT 1` and calls the connection
    /// broken if that fails too.
    fn is_broken(&mut self) -> bool {
        self.query("SELECT 1", &[]).is_err()
    }
}
