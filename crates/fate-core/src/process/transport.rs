//! `ProcessTransport`: the parent's handle on a running child.

use std::cell::Cell;
use std::io;
use std::rc::{Rc, Weak};

use super::child::{Process, Stage};
use super::{ExitStatus, SignalError};

/// A handle on a child process started by [`spawn_process`](super::spawn_process): write to
/// its stdin, close its pipes, signal it.
///
/// A transport is a weak handle: it does not keep the process's state alive, so a protocol
/// may store the one it gets in `connection_made` without making a cycle. The reactor owns the
/// process until it has ended; after that (or once the reactor is gone) writes are dropped,
/// `pid` is `None` and `signal_process` answers [`SignalError::ExitedAlready`].
///
/// Cheap to clone; `!Send`, like everything tied to the reactor:
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(None::<fate::process::ProcessTransport>);
/// ```
///
/// # Examples
///
/// ```
/// use fate::process::{self, DiscardOutput};
///
/// fate::run_until_idle(|| {
///     let child = process::Command::new("sleep").arg("10").spawn(DiscardOutput).unwrap();
///     assert!(child.pid().is_some());
///     child.signal_process(libc::SIGTERM).unwrap();
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct ProcessTransport {
    process: Weak<Process>,
    pid: u32,
    /// The exit status, shared with the process so it is known after the process is freed.
    status: Rc<Cell<Option<ExitStatus>>>,
}

impl ProcessTransport {
    pub(crate) fn new(
        process: Weak<Process>,
        pid: u32,
        status: Rc<Cell<Option<ExitStatus>>>,
    ) -> ProcessTransport {
        ProcessTransport {
            process,
            pid,
            status,
        }
    }

    fn get(&self) -> Option<Rc<Process>> {
        self.process.upgrade()
    }

    /// The child's process id, until it has been reaped (then `None`, as in Twisted).
    pub fn pid(&self) -> Option<u32> {
        let process = self.get()?;
        matches!(process.stage(), Stage::Running).then_some(self.pid)
    }

    /// How the child ended, once it has been reaped.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.status.get()
    }

    /// A Deferred of how the child ended, fired once it has exited and its pipes are closed
    /// (right after the protocol's `process_ended`); at once if that already happened. The
    /// awaitable form of waiting for a child, as tokio's `Child::wait`.
    ///
    /// # Errors
    ///
    /// Fails with [`Detached`](super::Detached) if the child was detached at shutdown, or if
    /// its state is gone (the reactor was dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use fate::process::{self, DiscardOutput, ExitStatus};
    ///
    /// let status = fate::block_on(async {
    ///     let child = process::Command::new("sh").args(["-c", "exit 5"]).spawn(DiscardOutput);
    ///     child.unwrap().ended().await
    /// })
    /// .unwrap()
    /// .unwrap();
    /// assert_eq!(status, ExitStatus::Exited(5));
    /// ```
    pub fn ended(&self) -> fate_deferred::Deferred<ExitStatus> {
        match (self.get(), self.status.get()) {
            (Some(process), _) => process.ended(),
            (None, Some(status)) => fate_deferred::succeed(status),
            (None, None) => fate_deferred::fail(super::Detached),
        }
    }

    /// Writes `data` to the child's stdin without blocking: what the pipe takes now is
    /// written, the rest is buffered and written as the child reads.
    ///
    /// Returns `false` once more than 64 KiB wait in the buffer (the protocol then also gets
    /// [`pause_producing`](super::ProcessProtocol::pause_producing)): stop writing until
    /// [`resume_producing`](super::ProcessProtocol::resume_producing). The data is kept
    /// either way. Writing after stdin was closed does nothing and returns `false`.
    pub fn write(&self, data: &[u8]) -> bool {
        match self.get() {
            Some(process) => process.write(0, data).unwrap_or(false),
            None => false,
        }
    }

    /// Writes to an extra pipe the parent writes to (see
    /// [`Command::child_fd`](super::Command::child_fd)); `fd` 0 is stdin.
    ///
    /// # Errors
    ///
    /// `NotFound` if `fd` is not an open pipe the parent writes to (Twisted's `KeyError`).
    pub fn write_to_child(&self, fd: i32, data: &[u8]) -> io::Result<bool> {
        match self.get() {
            Some(process) => process.write(fd, data),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the process has ended",
            )),
        }
    }

    /// Bytes written to stdin that wait in the buffer.
    pub fn buffered(&self) -> usize {
        self.get().map_or(0, |p| p.buffered(0))
    }

    /// Closes the child's stdin once everything written has been flushed; the child reads
    /// end of file. The protocol's `in_connection_lost` follows.
    pub fn close_stdin(&self) {
        self.close_child_fd(0);
    }

    /// Stops reading the child's stdout and closes it (the child gets `EPIPE`/`SIGPIPE` if
    /// it writes more).
    pub fn close_stdout(&self) {
        self.close_child_fd(1);
    }

    /// Stops reading the child's stderr and closes it.
    pub fn close_stderr(&self) {
        self.close_child_fd(2);
    }

    /// Closes the pipe at child fd `fd` (a pipe we write to after flushing it). Nothing
    /// happens if it is already closed.
    pub fn close_child_fd(&self, fd: i32) {
        if let Some(process) = self.get() {
            process.close_after_flush(fd);
        }
    }

    /// Closes every pipe to the child (stdin after flushing), as Twisted's `loseConnection`.
    /// The child is not signalled.
    pub fn lose_connection(&self) {
        if let Some(process) = self.get() {
            process.close_all();
        }
    }

    /// Sends a signal (`libc::SIGTERM`, `libc::SIGKILL`, ...) to the child. Uses the pidfd,
    /// so it cannot hit another process that reused the pid.
    ///
    /// # Errors
    ///
    /// [`SignalError::ExitedAlready`] once the child has exited; [`SignalError::Io`] for a
    /// signal number the platform does not name.
    pub fn signal_process(&self, signal: i32) -> Result<(), SignalError> {
        match self.get() {
            Some(process) => process.signal(signal),
            None => Err(SignalError::ExitedAlready),
        }
    }

    /// Sends `SIGKILL`; see [`signal_process`](ProcessTransport::signal_process).
    ///
    /// # Errors
    ///
    /// As `signal_process`.
    pub fn kill(&self) -> Result<(), SignalError> {
        self.signal_process(libc::SIGKILL)
    }

    /// Stops reading the child's output until [`resume_reading`](Self::resume_reading); the
    /// child blocks once its pipes fill (Twisted's `pauseProducing` on the transport).
    pub fn pause_reading(&self) {
        if let Some(process) = self.get() {
            process.pause_reading();
        }
    }

    /// Reads the child's output again after [`pause_reading`](Self::pause_reading).
    pub fn resume_reading(&self) {
        if let Some(process) = self.get() {
            process.resume_reading();
        }
    }
}

impl std::fmt::Debug for ProcessTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessTransport")
            .field("pid", &self.pid)
            .field("status", &self.exit_status())
            .finish()
    }
}
