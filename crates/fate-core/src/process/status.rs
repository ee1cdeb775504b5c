//! How a child process ended.

use std::fmt;
use std::os::unix::process::ExitStatusExt;

/// How a child process ended: it exited with a code, or a signal killed it.
///
/// Twisted's `ProcessDone` is `Exited(0)`; its `ProcessTerminated` is any other value.
///
/// # Examples
///
/// ```
/// use fate::process::ExitStatus;
///
/// let done = ExitStatus::Exited(0);
/// assert!(done.success());
/// assert_eq!(done.code(), Some(0));
/// let killed = ExitStatus::Signaled { signal: 9, core_dumped: false };
/// assert_eq!(killed.signal(), Some(9));
/// assert_eq!(killed.code(), None);
/// assert_eq!(killed.to_string(), "killed by signal 9");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitStatus {
    /// The process called `exit` (or returned from `main`) with this code.
    Exited(i32),
    /// A signal ended the process.
    Signaled {
        /// The signal's number (`libc::SIGKILL` is 9).
        signal: i32,
        /// Whether the kernel wrote a core dump.
        core_dumped: bool,
    },
}

impl ExitStatus {
    /// Whether the process exited with code 0.
    pub fn success(self) -> bool {
        self == ExitStatus::Exited(0)
    }

    /// The exit code, if the process exited rather than being killed by a signal.
    pub fn code(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(code) => Some(code),
            ExitStatus::Signaled { .. } => None,
        }
    }

    /// The signal that killed the process, if one did.
    pub fn signal(self) -> Option<i32> {
        match self {
            ExitStatus::Exited(_) => None,
            ExitStatus::Signaled { signal, .. } => Some(signal),
        }
    }

    /// Converts std's status. A stopped or continued status (which a reaped child cannot have)
    /// reads as its raw wait status code.
    pub(crate) fn from_std(status: std::process::ExitStatus) -> ExitStatus {
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Exited(code),
            (None, Some(signal)) => ExitStatus::Signaled {
                signal,
                core_dumped: status.core_dumped(),
            },
            (None, None) => ExitStatus::Exited(status.into_raw()),
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExitStatus::Exited(code) => write!(f, "exit code {code}"),
            ExitStatus::Signaled {
                signal,
                core_dumped: false,
            } => write!(f, "killed by signal {signal}"),
            ExitStatus::Signaled {
                signal,
                core_dumped: true,
            } => write!(f, "killed by signal {signal} (core dumped)"),
        }
    }
}
