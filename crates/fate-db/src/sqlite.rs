//! SQLite, built in: rusqlite with its bundled SQLite, so no server and no system library.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::OpenFlags;

use crate::{Connection, Driver, Error, Row, Value};

/// How long a connection waits for another connection's write lock before failing with
/// `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens SQLite connections (rusqlite's `Connection`) on a database file, or on a named
/// in-memory database that the pool's connections share.
///
/// Each connection waits up to 5 s for another's write lock (`busy_timeout`), and file
/// databases are switched to write-ahead logging, so readers never wait for a writer.
/// Statements are prepared once per connection and cached.
///
/// # Examples
///
/// ```
/// use fate::db::{ConnectionPool, Sqlite};
///
/// let path = std::env::temp_dir().join(format!("fate-db-doc-{}.sqlite", std::process::id()));
/// let pool = ConnectionPool::new(Sqlite::open(&path), 4);
/// # drop(pool);
/// # let _ = std::fs::remove_file(&path);
/// ```
#[derive(Debug, Clone)]
pub struct Sqlite {
    target: Target,
}

#[derive(Debug, Clone)]
enum Target {
    File(PathBuf),
    /// A shared-cache in-memory database, by name: it lives while a connection to it is open.
    Memory(String),
}

impl Sqlite {
    /// The database in the file at `path`, created if missing.
    pub fn open(path: impl Into<PathBuf>) -> Sqlite {
        Sqlite {
            target: Target::File(path.into()),
        }
    }

    /// The in-memory database called `name`, shared by the connections of this process that
    /// name it; it vanishes when its last connection closes.
    ///
    /// Its connections share one cache, in which SQLite locks whole tables: for many
    /// concurrent writers, prefer a file.
    pub fn memory(name: &str) -> Sqlite {
        Sqlite {
            target: Target::Memory(name.to_owned()),
        }
    }
}

impl Driver for Sqlite {
    type Connection = rusqlite::Connection;

    fn connect(&self) -> Result<rusqlite::Connection, Error> {
        let conn = match &self.target {
            Target::File(path) => {
                let conn = rusqlite::Connection::open(path).map_err(Error::connect)?;
                conn.busy_timeout(BUSY_TIMEOUT).map_err(Error::connect)?;
                use_wal(&conn)?;
                conn
            }
            Target::Memory(name) => rusqlite::Connection::open_with_flags(
                format!("file:{name}?mode=memory&cache=shared"),
                OpenFlags::default() | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(Error::connect)?,
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(Error::connect)?;
        Ok(conn)
    }
}

impl Connection for rusqlite::Connection {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        let mut statement = self.prepare_cached(sql).map_err(Error::query)?;
        let changed = statement
            .execute(rusqlite::params_from_iter(params))
            .map_err(Error::query)?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        let mut statement = self.prepare_cached(sql).map_err(Error::query)?;
        let columns: Arc<[String]> = statement.column_names().map(str::to_owned).collect();
        let width = columns.len();
        let mut rows = statement
            .query(rusqlite::params_from_iter(params))
            .map_err(Error::query)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(Error::query)? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(from_sqlite(row.get_ref(i).map_err(Error::query)?)?);
            }
            out.push(Row::new(columns.clone(), values));
        }
        Ok(out)
    }

    fn is_broken(&mut self) -> bool {
        self.query_row("SELECT 1", [], |_| Ok(())).is_err()
    }
}

fn from_sqlite(value: ValueRef<'_>) -> Result<Value, Error> {
    Ok(match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|e| Error::conversion(format!("text is not UTF-8: {e}")))?
                .to_owned(),
        ),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// Puts the file in WAL mode (it stays so). The switch takes a lock that SQLite does not wait
/// for even with a busy timeout, so connections opened at once retry it (on a pool thread,
/// where waiting is allowed) instead of failing with "database is locked".
fn use_wal(conn: &rusqlite::Connection) -> Result<(), Error> {
    let started = std::time::Instant::now();
    loop {
        let mode = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0));
        match mode {
            Ok(_) => return Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => return Err(Error::connect(e)),
        }
    }
}
