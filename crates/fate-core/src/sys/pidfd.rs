//! pidfds: a file descriptor that refers to one child process (Linux ≥ 5.3).
//!
//! A pidfd becomes readable once its process has exited, so the reactor learns of an exit from
//! epoll like any other I/O, with no SIGCHLD handler and no `waitpid(-1)` that could steal
//! another library's children. Signals sent through it cannot hit a recycled pid.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use rustix::process::{Pid, PidfdFlags, Signal};

/// An open, non-blocking pidfd.
#[derive(Debug)]
pub(crate) struct PidFd(OwnedFd);

impl PidFd {
    /// Opens a pidfd for the child `pid`.
    ///
    /// # Errors
    ///
    /// `Unsupported`/`ENOSYS` on kernels without `pidfd_open` (the caller falls back to
    /// SIGCHLD); `ESRCH` if no such process exists.
    pub(crate) fn open(pid: u32) -> io::Result<PidFd> {
        let pid = i32::try_from(pid)
            .ok()
            .and_then(Pid::from_raw)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        Ok(PidFd(rustix::process::pidfd_open(
            pid,
            PidfdFlags::NONBLOCK,
        )?))
    }

    /// Sends `signal` to the process; race-free even if its pid was reused after it was reaped.
    pub(crate) fn send_signal(&self, signal: i32) -> io::Result<()> {
        Ok(rustix::process::pidfd_send_signal(
            self.0.as_fd(),
            named_signal(signal)?,
        )?)
    }
}

/// Sends `signal` to `pid` with kill(2): the fallback when there is no pidfd. The caller
/// guarantees the child has not been reaped yet, so the pid is still ours.
pub(crate) fn kill(pid: u32, signal: i32) -> io::Result<()> {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    Ok(rustix::process::kill_process(pid, named_signal(signal)?)?)
}

/// The signal numbered `signal`, if it is one of the named POSIX/Linux signals.
fn named_signal(signal: i32) -> io::Result<Signal> {
    Signal::from_named_raw(signal).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{signal} is not a signal number this platform names"),
        )
    })
}

impl Source for PidFd {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}
