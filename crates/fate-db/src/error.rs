//! `Error`: what went wrong with a database call, opaque, with predicates.

use std::error::Error as StdError;
use std::fmt;

/// A database error: the pool is closed, a connection could not be opened, a statement
/// failed, or a cell did not convert to the type asked for.
///
/// Opaque, as `http::Error`: ask with [`is_connect`](Error::is_connect),
/// [`is_closed`](Error::is_closed) and [`is_conversion`](Error::is_conversion); the driver's
/// own error is its [`source`](std::error::Error::source). In a Deferred's failure,
/// `failure.downcast_ref::<fate::db::Error>()` gets it back.
///
/// # Examples
///
/// ```
/// let e = fate::db::Error::query(std::io::Error::other("no such table: hatters"));
/// assert!(!e.is_connect());
/// assert_eq!(e.to_string(), "query failed: no such table: hatters");
/// ```
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    Query,
    Conversion,
    Closed,
}

impl Error {
    /// A connection could not be opened (from a [`Driver`](crate::Driver)).
    pub fn connect(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Error {
        Error::with(Kind::Connect, source)
    }

    /// A statement failed (from a [`Connection`](crate::Connection)).
    pub fn query(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Error {
        Error::with(Kind::Query, source)
    }

    /// A value did not convert to the type asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// use fate::db::{FromValue, Value};
    /// let e = i64::from_value(Value::Text("three".into())).unwrap_err();
    /// assert!(e.is_conversion());
    /// ```
    pub fn conversion(message: impl Into<String>) -> Error {
        Error::with(Kind::Conversion, message.into())
    }

    /// The pool was closed before this work could run.
    pub(crate) fn closed() -> Error {
        Error {
            kind: Kind::Closed,
            source: None,
        }
    }

    fn with(kind: Kind, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Error {
        Error {
            kind,
            source: Some(source.into()),
        }
    }

    /// Whether a connection could not be opened.
    pub fn is_connect(&self) -> bool {
        self.kind == Kind::Connect
    }

    /// Whether the pool was closed (by [`close`](crate::ConnectionPool::close) or the
    /// reactor's shutdown) before the work ran.
    pub fn is_closed(&self) -> bool {
        self.kind == Kind::Closed
    }

    /// Whether a cell did not convert to the type asked for.
    pub fn is_conversion(&self) -> bool {
        self.kind == Kind::Conversion
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::Connect => "cannot connect to the database",
            Kind::Query => "query failed",
            Kind::Conversion => "cannot convert a database value",
            Kind::Closed => "the connection pool is closed",
        };
        match &self.source {
            Some(source) => write!(f, "{what}: {source}"),
            None => f.write_str(what),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
