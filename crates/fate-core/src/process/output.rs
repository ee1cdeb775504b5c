//! Running a command to completion: `get_process_output` and friends.

use std::cell::{Cell, RefCell};
use std::ffi::OsStr;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use fate_deferred::{Deferred, Failure, Fire};

use super::{Command, ExitStatus, ProcessProtocol, ProcessTransport, SpawnError, Stdio};
use crate::time::DelayedCall;

/// What a finished child printed, and how it ended.
///
/// # Examples
///
/// ```
/// use fate::process::{Command, ExitStatus};
///
/// let out = fate::block_on(async { Command::new("echo").arg("hi").output().await })
///     .unwrap()
///     .unwrap();
/// let (stdout, stderr, status) = out.into_parts();
/// assert_eq!((stdout, stderr, status), (b"hi\n".to_vec(), vec![], ExitStatus::Exited(0)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// Everything the child wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything the child wrote to stderr.
    pub stderr: Vec<u8>,
    /// Its exit code or the signal that killed it.
    pub status: ExitStatus,
}

impl Output {
    /// `(stdout, stderr, status)`, the shape of Twisted's `getProcessOutputAndValue`.
    pub fn into_parts(self) -> (Vec<u8>, Vec<u8>, ExitStatus) {
        (self.stdout, self.stderr, self.status)
    }
}

/// Why [`Command::output`] failed.
///
/// # Examples
///
/// ```
/// use fate::process::{Command, OutputError};
///
/// let failure = fate::block_on(async { Command::new("/no/such/tool").output().await })
///     .unwrap()
///     .unwrap_err();
/// assert!(matches!(failure.downcast_ref::<OutputError>(), Some(OutputError::Spawn(_))));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum OutputError {
    /// The child could not be started.
    Spawn(SpawnError),
    /// The child ran longer than the [`Command::timeout`] and was killed; what it printed
    /// until then is kept.
    TimedOut {
        /// The timeout that passed.
        after: Duration,
        /// Its output up to the kill, and the kill's status.
        output: Output,
    },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Spawn(e) => e.fmt(f),
            OutputError::TimedOut { after, .. } => {
                write!(
                    f,
                    "the child process ran longer than {after:?} and was killed"
                )
            }
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::Spawn(e) => Some(e),
            OutputError::TimedOut { .. } => None,
        }
    }
}

/// Collects a child's output and fires a Deferred when it has ended.
struct Collect {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    fire: Option<Fire<Output>>,
    /// The kill timer, cancelled when the child ends first.
    timer: Rc<RefCell<Option<DelayedCall>>>,
    /// Set by the kill timer.
    timed_out: Rc<Cell<bool>>,
    timeout: Option<Duration>,
}

impl ProcessProtocol for Collect {
    fn out_received(&mut self, data: &[u8]) {
        self.stdout.extend_from_slice(data);
    }

    fn err_received(&mut self, data: &[u8]) {
        self.stderr.extend_from_slice(data);
    }

    fn process_ended(&mut self, status: ExitStatus) {
        if let Some(timer) = self.timer.borrow_mut().take() {
            let _ = timer.cancel();
        }
        let Some(fire) = self.fire.take() else { return };
        let output = Output {
            stdout: std::mem::take(&mut self.stdout),
            stderr: std::mem::take(&mut self.stderr),
            status,
        };
        // An error here means the Deferred was cancelled: nobody wants the output.
        let result = match (self.timed_out.get(), self.timeout) {
            (true, Some(after)) => Err(Failure::new(OutputError::TimedOut { after, output })),
            _ => Ok(output),
        };
        fire.try_fire(result).ok();
    }
}

impl Command {
    /// Kills the child with SIGKILL if it runs longer than `timeout`; applies to
    /// [`output`](Command::output), which then fails with [`OutputError::TimedOut`].
    pub fn timeout(mut self, timeout: Duration) -> Command {
        self.output_timeout = Some(timeout);
        self
    }

    /// Runs the command to completion and returns what it printed and how it ended; stdin
    /// is `/dev/null`. A non-zero exit or a signal is *not* a failure: look at
    /// [`Output::status`].
    ///
    /// # Errors
    ///
    /// The Deferred fails with [`OutputError::Spawn`] if the child cannot start, and with
    /// [`OutputError::TimedOut`] if a [`timeout`](Command::timeout) passed.
    ///
    /// # Cancellation
    ///
    /// Cancelling the Deferred kills the child (it is still reaped).
    ///
    /// # Panics
    ///
    /// If this thread has no reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fate::process::{Command, OutputError};
    ///
    /// fate::block_on(async {
    ///     let slow = Command::new("sleep").arg("10").timeout(Duration::from_millis(50));
    ///     let failure = slow.output().await.unwrap_err();
    ///     let err = failure.downcast_ref::<OutputError>().unwrap();
    ///     assert!(matches!(err, OutputError::TimedOut { .. }));
    /// })
    /// .unwrap();
    /// ```
    #[track_caller]
    pub fn output(self) -> Deferred<Output> {
        let reactor = crate::reactor::current();
        let child: Rc<RefCell<Option<ProcessTransport>>> = Rc::new(RefCell::new(None));
        let on_cancel = child.clone();
        let (deferred, fire) = Deferred::with_canceller(move |_fire| {
            if let Some(child) = on_cancel.borrow().as_ref() {
                let _ = child.kill();
            }
        });
        let timer = Rc::new(RefCell::new(None));
        let timed_out = Rc::new(Cell::new(false));
        let timeout = self.output_timeout;
        let collect = Collect {
            stdout: Vec::new(),
            stderr: Vec::new(),
            fire: Some(fire.clone()),
            timer: timer.clone(),
            timed_out: timed_out.clone(),
            timeout,
        };
        match self.stdin(Stdio::Null).spawn(collect) {
            Ok(transport) => {
                if let Some(after) = timeout {
                    let victim = transport.clone();
                    let call = reactor.call_later(after, move || {
                        timed_out.set(true);
                        let _ = victim.kill();
                    });
                    // The child may have ended already (output() is called inside a turn, so
                    // not yet; but keep the timer only while it can matter).
                    if transport.exit_status().is_none() {
                        *timer.borrow_mut() = Some(call);
                    } else {
                        let _ = call.cancel();
                    }
                }
                *child.borrow_mut() = Some(transport);
            }
            Err(e) => {
                let _ = fire.try_errback(OutputError::Spawn(e));
            }
        }
        deferred
    }
}

/// Runs `program` with `args` and returns its stdout (Twisted's `getProcessOutput`).
///
/// The environment is inherited (Twisted's default is empty); stdin is `/dev/null`. The exit
/// status is ignored, and stderr is collected and dropped (Twisted fails the Deferred when
/// anything arrives on stderr; use [`get_process_output_and_value`] to see it).
///
/// # Errors
///
/// The Deferred fails with [`OutputError::Spawn`] if the program cannot be started.
///
/// # Panics
///
/// If this thread has no reactor.
///
/// # Examples
///
/// ```
/// let out = fate::block_on(async {
///     fate::process::get_process_output("echo", ["hi"]).await
/// })
/// .unwrap()
/// .unwrap();
/// assert_eq!(out, b"hi\n");
/// ```
#[track_caller]
pub fn get_process_output<I, S>(program: impl AsRef<OsStr>, args: I) -> Deferred<Vec<u8>>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(program)
        .args(args)
        .output()
        .add_callback(|output: Output| output.stdout)
}

/// Runs `program` with `args` and returns its stdout, stderr and exit status (Twisted's
/// `getProcessOutputAndValue`; a child killed by a signal is an [`ExitStatus::Signaled`]
/// value here, not a failure).
///
/// # Errors
///
/// The Deferred fails with [`OutputError::Spawn`] if the program cannot be started.
///
/// # Panics
///
/// If this thread has no reactor.
///
/// # Examples
///
/// ```
/// use fate::process::{self, ExitStatus};
///
/// let out = fate::block_on(async {
///     process::get_process_output_and_value("sh", ["-c", "exit 7"]).await
/// })
/// .unwrap()
/// .unwrap();
/// assert_eq!(out.status, ExitStatus::Exited(7));
/// ```
#[track_caller]
pub fn get_process_output_and_value<I, S>(program: impl AsRef<OsStr>, args: I) -> Deferred<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(program).args(args).output()
}
