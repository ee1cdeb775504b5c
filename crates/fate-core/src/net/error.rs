//! Why a connection ended, and why one could not be made.

use std::error::Error;
use std::fmt;
use std::io;
use std::sync::Arc;

/// Why a connection ended; what [`Protocol::connection_lost`](crate::net::Protocol::connection_lost)
/// receives.
///
/// Twisted's `ConnectionDone` (clean) versus `ConnectionLost` and its subclasses (unclean).
///
/// # Examples
///
/// ```
/// use fate::net::CloseReason;
///
/// assert!(CloseReason::Done.is_clean());
/// assert!(!CloseReason::Reset.is_clean());
/// assert_eq!(CloseReason::Reset.to_string(), "connection reset by peer");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CloseReason {
    /// Closed cleanly: by [`Transport::lose_connection`](crate::net::Transport::lose_connection)
    /// once the buffer drained, or by the peer's end of stream.
    Done,
    /// Closed by [`Transport::abort_connection`](crate::net::Transport::abort_connection);
    /// buffered data was dropped.
    Aborted,
    /// The peer reset the connection (`ECONNRESET`, `EPIPE`).
    Reset,
    /// The TLS layer failed (bad certificate, protocol error, missing close_notify).
    Tls(String),
    /// Any other I/O error.
    Error(Arc<io::Error>),
}

impl CloseReason {
    /// Whether the connection ended cleanly (`Done`).
    pub fn is_clean(&self) -> bool {
        matches!(self, CloseReason::Done)
    }

    /// Classifies an I/O error that ended a connection.
    pub(crate) fn from_io(e: io::Error) -> CloseReason {
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted => CloseReason::Reset,
            _ => CloseReason::Error(Arc::new(e)),
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Done => f.write_str("connection was closed cleanly"),
            CloseReason::Aborted => f.write_str("connection was aborted"),
            CloseReason::Reset => f.write_str("connection reset by peer"),
            CloseReason::Tls(m) => write!(f, "TLS error: {m}"),
            CloseReason::Error(e) => write!(f, "connection lost: {e}"),
        }
    }
}

impl Error for CloseReason {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CloseReason::Error(e) => Some(&**e),
            _ => None,
        }
    }
}

/// Why a connection could not be made (Twisted's `ConnectError` family).
///
/// Every variant names what was wrong: the host, the address, the timeout.
///
/// # Examples
///
/// ```
/// use fate::net::ConnectError;
///
/// let e = ConnectError::Dns { host: "nope.invalid".into(), message: "not found".into() };
/// assert_eq!(e.to_string(), "could not resolve host \"nope.invalid\": not found");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The peer refused the connection (nothing listens there).
    Refused {
        /// The address that refused.
        addr: String,
    },
    /// The connection attempt took longer than the connect timeout.
    TimedOut {
        /// Where we tried to connect.
        addr: String,
        /// The timeout that passed.
        timeout: std::time::Duration,
    },
    /// The host name could not be resolved.
    Dns {
        /// The name that failed.
        host: String,
        /// The resolver's message.
        message: String,
    },
    /// The factory's `build_protocol` returned `None`.
    NoProtocol,
    /// `stop_connecting` (or cancelling the Deferred) ended the attempt.
    Cancelled,
    /// The TLS handshake failed.
    Tls(String),
    /// Any other I/O error while connecting.
    Io {
        /// Where we tried to connect.
        addr: String,
        /// The error.
        error: Arc<io::Error>,
    },
}

impl ConnectError {
    pub(crate) fn from_io(addr: impl fmt::Display, e: io::Error) -> ConnectError {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => ConnectError::Refused {
                addr: addr.to_string(),
            },
            _ => ConnectError::Io {
                addr: addr.to_string(),
                error: Arc::new(e),
            },
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Refused { addr } => write!(f, "connection to {addr} was refused"),
            ConnectError::TimedOut { addr, timeout } => {
                write!(f, "connecting to {addr} timed out after {timeout:?}")
            }
            ConnectError::Dns { host, message } => {
                write!(f, "could not resolve host {host:?}: {message}")
            }
            ConnectError::NoProtocol => f.write_str("the factory refused to build a protocol"),
            ConnectError::Cancelled => f.write_str("the connection attempt was cancelled"),
            ConnectError::Tls(m) => write!(f, "TLS handshake failed: {m}"),
            ConnectError::Io { addr, error } => write!(f, "connecting to {addr}: {error}"),
        }
    }
}

impl Error for ConnectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ConnectError::Io { error, .. } => Some(&**error),
            _ => None,
        }
    }
}

impl From<ConnectError> for io::Error {
    fn from(e: ConnectError) -> io::Error {
        let kind = match &e {
            ConnectError::Refused { .. } => io::ErrorKind::ConnectionRefused,
            ConnectError::TimedOut { .. } => io::ErrorKind::TimedOut,
            ConnectError::Dns { .. } => io::ErrorKind::NotFound,
            ConnectError::Cancelled => io::ErrorKind::Interrupted,
            ConnectError::Io { error, .. } => error.kind(),
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// A second producer was registered on a transport that already has one.
///
/// # Examples
///
/// ```
/// let e = fate::net::ProducerError::AlreadyRegistered;
/// assert_eq!(e.to_string(), "a producer is already registered on this transport");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProducerError {
    /// At most one producer per transport; unregister the first one.
    AlreadyRegistered,
}

impl fmt::Display for ProducerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a producer is already registered on this transport")
    }
}

impl Error for ProducerError {}
