//! Why a process could not be started, or signalled.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A child process could not be started; names the path at fault.
///
/// Spawning never panics: a missing program, a file that is not executable and a working
/// directory that does not exist each come back as this error, with [`kind`](SpawnError::kind)
/// telling which and [`path`](SpawnError::path) naming the program or the directory.
///
/// # Examples
///
/// ```
/// use fate::process::{self, SpawnErrorKind};
/// use fate::reactor::Reactor;
///
/// let _reactor = Reactor::new().unwrap();
/// let err = process::Command::new("/no/such/program")
///     .spawn(process::DiscardOutput)
///     .unwrap_err();
/// assert_eq!(err.kind(), SpawnErrorKind::NotFound);
/// assert_eq!(err.path(), std::path::Path::new("/no/such/program"));
/// ```
#[derive(Debug)]
pub struct SpawnError {
    kind: SpawnErrorKind,
    path: PathBuf,
    source: io::Error,
}

/// What went wrong when starting a child process.
///
/// # Examples
///
/// ```
/// use fate::process::{Command, DiscardOutput, SpawnErrorKind};
///
/// let _reactor = fate::reactor::Reactor::new().unwrap();
/// let err = Command::new("true").current_dir("/no/such/dir").spawn(DiscardOutput);
/// assert_eq!(err.unwrap_err().kind(), SpawnErrorKind::BadCwd);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnErrorKind {
    /// The program does not exist (or is not on `PATH`).
    NotFound,
    /// The program exists but may not be executed (no `x` bit, a directory, a bad format).
    NotExecutable,
    /// The working directory does not exist or is not a directory.
    BadCwd,
    /// Another OS error: out of fds or processes, a failed pipe, ...
    Io,
}

impl SpawnError {
    pub(crate) fn new(kind: SpawnErrorKind, path: impl Into<PathBuf>, source: io::Error) -> Self {
        SpawnError {
            kind,
            path: path.into(),
            source,
        }
    }

    /// Which failure this is.
    pub fn kind(&self) -> SpawnErrorKind {
        self.kind
    }

    /// The program, or for [`SpawnErrorKind::BadCwd`] the working directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The OS error underneath.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match self.kind {
            SpawnErrorKind::NotFound => write!(f, "cannot run {path}: program not found"),
            SpawnErrorKind::NotExecutable => {
                write!(f, "cannot run {path}: not executable ({})", self.source)
            }
            SpawnErrorKind::BadCwd => {
                write!(f, "cannot use {path} as working directory: {}", self.source)
            }
            SpawnErrorKind::Io => write!(f, "cannot run {path}: {}", self.source),
        }
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl From<SpawnError> for io::Error {
    fn from(e: SpawnError) -> io::Error {
        io::Error::new(e.source.kind(), e)
    }
}

/// A signal could not be delivered to a child process.
///
/// # Examples
///
/// ```
/// use fate::process::SignalError;
///
/// assert_eq!(SignalError::ExitedAlready.to_string(), "the process has already exited");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SignalError {
    /// The child has exited and been reaped (Twisted's `ProcessExitedAlready`).
    ExitedAlready,
    /// The OS refused: an unknown signal number, or no permission.
    Io(io::Error),
}

impl fmt::Display for SignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignalError::ExitedAlready => f.write_str("the process has already exited"),
            SignalError::Io(e) => write!(f, "cannot signal the process: {e}"),
        }
    }
}

impl std::error::Error for SignalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SignalError::Io(e) => Some(e),
            SignalError::ExitedAlready => None,
        }
    }
}

/// The process was detached at shutdown ([`OnShutdown::Detach`](super::OnShutdown::Detach)):
/// it runs on, unobserved, so how it ends will not be known.
///
/// # Examples
///
/// ```
/// assert_eq!(
///     fate::process::Detached.to_string(),
///     "the process was detached at shutdown; its end is not observed"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detached;

impl fmt::Display for Detached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the process was detached at shutdown; its end is not observed")
    }
}

impl std::error::Error for Detached {}
