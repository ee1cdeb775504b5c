//! Why a pool ended badly, and why a cross-worker call could not run.

use std::fmt;
use std::io;

use crate::reactor::ReactorError;

/// Why [`Pool::run`](super::Pool::run) ended with an error.
///
/// The first worker failure stops the whole pool (gracefully: the other workers run their
/// shutdown triggers); this is that first failure. Later ones are logged.
///
/// # Examples
///
/// ```
/// use fate::pool::{Pool, PoolError};
///
/// let ended = Pool::new()
///     .threads(2)
///     .handle_signals(false)
///     .run(|worker| {
///         if worker.index() == 1 {
///             panic!("worker 1 cannot start");
///         }
///     });
/// match ended {
///     Err(PoolError::WorkerPanicked { index, message }) => {
///         assert_eq!(index, 1);
///         assert_eq!(message, "worker 1 cannot start");
///     }
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum PoolError {
    /// Worker `index` panicked: in its setup, or (with a `Stop` panic policy) in a callback.
    WorkerPanicked {
        /// The worker's index, from 0.
        index: usize,
        /// The panic's message.
        message: String,
    },
    /// Worker `index`'s reactor could not be built or failed while running.
    Reactor {
        /// The worker's index, from 0.
        index: usize,
        /// What went wrong.
        error: ReactorError,
    },
    /// A thread could not be started, or the signal watch could not be set up.
    Io(io::Error),
}

impl PoolError {
    /// The index of the worker that failed, if a worker did.
    pub fn worker(&self) -> Option<usize> {
        match self {
            PoolError::WorkerPanicked { index, .. } | PoolError::Reactor { index, .. } => {
                Some(*index)
            }
            PoolError::Io(_) => None,
        }
    }
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::WorkerPanicked { index, message } => {
                write!(f, "worker {index} panicked: {message}")
            }
            PoolError::Reactor { index, error } => write!(f, "worker {index}: {error}"),
            PoolError::Io(e) => write!(f, "the reactor pool could not start: {e}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Reactor { error, .. } => Some(error),
            PoolError::Io(e) => Some(e),
            PoolError::WorkerPanicked { .. } => None,
        }
    }
}

impl From<io::Error> for PoolError {
    fn from(e: io::Error) -> Self {
        PoolError::Io(e)
    }
}

/// A call sent to a worker that is not running (it stopped, or has not started yet): the
/// call's Deferred fails with this.
///
/// # Examples
///
/// ```
/// use fate::pool::{Pool, WorkerGone};
///
/// let pool = Pool::new().threads(1).handle_signals(false).start(|_| {}).unwrap();
/// let worker = pool.handle().worker(0);
/// pool.handle().stop();
/// pool.join().unwrap();
/// assert_eq!(worker.call_from_thread(|| ()), Err(WorkerGone { index: 0 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkerGone {
    /// The worker's index.
    pub index: usize,
}

impl fmt::Display for WorkerGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "worker {} is not running", self.index)
    }
}

impl std::error::Error for WorkerGone {}
