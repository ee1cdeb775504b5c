//! Errors of the reactor's life cycle.

use std::fmt;
use std::io;

/// Why a reactor operation could not be carried out.
///
/// # Examples
///
/// ```
/// use fate::reactor::{Reactor, ReactorError};
///
/// let reactor = Reactor::new().unwrap();
/// assert!(matches!(reactor.try_stop(), Err(ReactorError::NotRunning)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ReactorError {
    /// `try_stop()` was called on a reactor that is not running, or is already stopping.
    NotRunning,
    /// `run()` was called on a reactor that is already running.
    AlreadyRunning,
    /// `run()` was called on a reactor that has already run and stopped (Twisted's
    /// `ReactorNotRestartable`): build a new one instead.
    NotRestartable,
    /// A reactor already exists on this thread; there is one reactor per thread.
    AlreadyExists,
    /// The operating system refused a resource the reactor needs (epoll, timerfd, signals).
    Io(io::Error),
    /// The `main` function given to `fate::run` or `fate::run_until_idle` panicked (with this
    /// message); the reactor was stopped.
    MainPanicked(String),
    /// User code panicked under [`PanicPolicy::Stop`](super::PanicPolicy::Stop) (with this
    /// message); the reactor was stopped.
    Panicked(String),
}

impl fmt::Display for ReactorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReactorError::NotRunning => f.write_str("the reactor is not running"),
            ReactorError::AlreadyRunning => f.write_str("the reactor is already running"),
            ReactorError::NotRestartable => {
                f.write_str("the reactor has already run; build a new one")
            }
            ReactorError::AlreadyExists => {
                f.write_str("a reactor already exists on this thread (one reactor per thread)")
            }
            ReactorError::Io(e) => write!(f, "the reactor could not get an OS resource: {e}"),
            ReactorError::MainPanicked(msg) => write!(f, "the main function panicked: {msg}"),
            ReactorError::Panicked(msg) => write!(f, "a callback panicked: {msg}"),
        }
    }
}

impl std::error::Error for ReactorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReactorError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ReactorError {
    fn from(e: io::Error) -> Self {
        ReactorError::Io(e)
    }
}
