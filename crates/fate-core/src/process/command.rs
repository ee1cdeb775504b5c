//! `Command`: how to start a child process, and the spawn itself.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use super::child::Process;
use super::reaper::{self, SigchldWatch};
use super::{ProcessProtocol, ProcessTransport, SpawnError, SpawnErrorKind};
use crate::reactor::watchdog::Site;
use crate::reactor::Reactor;
use crate::sys::{self, PidFd, PipeFd};

/// What one of the child's standard streams is connected to.
///
/// # Examples
///
/// ```
/// use fate::process::{Command, DiscardOutput, Stdio};
///
/// fate::run_until_idle(|| {
///     // Let the child print straight to our terminal; give it no input.
///     Command::new("true")
///         .stdin(Stdio::Null)
///         .stdout(Stdio::Inherit)
///         .spawn(DiscardOutput)
///         .unwrap();
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stdio {
    /// A pipe to the parent, registered with the reactor (the default).
    #[default]
    Pipe,
    /// `/dev/null`.
    Null,
    /// The parent's own stream.
    Inherit,
}

/// Which way an extra child fd's pipe goes (Twisted's `'r'` and `'w'` in `childFDs`).
///
/// # Examples
///
/// ```
/// use fate::process::{ChildFd, Command, DiscardOutput};
///
/// fate::run_until_idle(|| {
///     // The child reports progress on fd 3, which the protocol sees as child fd 3.
///     Command::new("sh")
///         .args(["-c", "echo 50% >&3"])
///         .child_fd(3, ChildFd::Read)
///         .spawn(DiscardOutput)
///         .unwrap();
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildFd {
    /// The child writes, the parent reads: data arrives in `child_data_received(fd, ..)`.
    Read,
    /// The parent writes with [`ProcessTransport::write_to_child`]; the child reads.
    Write,
}

/// What happens to a child still running when the reactor stops or is dropped; set per
/// command with [`Command::on_shutdown`].
///
/// The default is [`Kill`](OnShutdown::Kill), which differs from Twisted: Twisted leaves
/// running children alone when its reactor stops. Fate kills them because, once the reactor
/// is gone, nothing reads a child's output or hears its end any more: a child left running
/// is an orphan its program has forgotten — a test run that leaves servers behind, a service
/// that leaks a worker at each restart. [`Detach`](OnShutdown::Detach) is Twisted's behaviour,
/// for a child meant to outlive its parent (an editor it opened, a daemon it started).
///
/// Either way the child is reaped, so no zombie stays; a child that has already exited but
/// whose pipes are still open (see [`Command::pipe_grace`]) is left as it is.
///
/// # Examples
///
/// ```
/// use fate::process::{Command, DiscardOutput, OnShutdown};
///
/// fate::run(|| {
///     // A helper that should outlive us; `stop` closes its pipes and leaves it running.
///     Command::new("sleep")
///         .arg("0.1")
///         .on_shutdown(OnShutdown::Detach)
///         .spawn(DiscardOutput)
///         .unwrap();
///     fate::reactor().stop();
/// })
/// .unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnShutdown {
    /// Send SIGKILL and reap it; `stop` waits until it is reaped (the default).
    #[default]
    Kill,
    /// Let it run on: its pipes to us are closed and a background thread reaps it when it
    /// exits.
    Detach,
}

/// A child process to start: program, arguments, environment, directory and pipes.
///
/// The environment is **inherited** unless changed with [`env`](Command::env),
/// [`env_clear`](Command::env_clear) and friends, as with `std::process::Command` — unlike
/// Twisted's `spawnProcess`, whose default `env={}` starts the child with an empty
/// environment. [`spawn_process`](super::spawn_process) with `env: Some(..)` gives Twisted's
/// "exactly this environment".
///
/// # Examples
///
/// ```
/// use fate::process::{self, DiscardOutput, Stdio};
///
/// fate::run_until_idle(|| {
///     let child = process::Command::new("sh")
///         .args(["-c", "echo $GREETING"])
///         .env("GREETING", "hello")
///         .current_dir("/")
///         .stdin(Stdio::Null)
///         .spawn(DiscardOutput)
///         .unwrap();
///     assert!(child.pid().is_some());
/// })
/// .unwrap();
/// ```
#[derive(Clone, Debug)]
#[must_use = "a Command does nothing until `spawn` or `output` is called"]
pub struct Command {
    program: OsString,
    args: Vec<OsString>,
    env_clear: bool,
    /// Changes to the environment, in order; `None` removes the variable.
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    stdin: Stdio,
    stdout: Stdio,
    stderr: Stdio,
    child_fds: Vec<(i32, ChildFd)>,
    on_shutdown: OnShutdown,
    /// How long the pipes may stay open after the child exited; see [`Command::pipe_grace`].
    pipe_grace: Duration,
    pidfd: bool,
    /// For `output()`: kill the child after this long.
    pub(super) output_timeout: Option<std::time::Duration>,
}

impl Command {
    /// The default of [`pipe_grace`](Command::pipe_grace): long enough for a child's own
    /// output, which is in the pipe when it exits, to be read on the next turn, with room
    /// for a loaded machine; short enough that a background grandchild does not hold up the
    /// end of a command noticeably.
    pub const DEFAULT_PIPE_GRACE: Duration = Duration::from_millis(500);

    /// A command to run `program`, found on `PATH` if it has no `/`.
    pub fn new(program: impl AsRef<OsStr>) -> Command {
        Command {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            env_clear: false,
            env: Vec::new(),
            cwd: None,
            stdin: Stdio::Pipe,
            stdout: Stdio::Pipe,
            stderr: Stdio::Pipe,
            child_fds: Vec::new(),
            on_shutdown: OnShutdown::Kill,
            pipe_grace: Command::DEFAULT_PIPE_GRACE,
            pidfd: true,
            output_timeout: None,
        }
    }

    /// Adds one argument (not the program name: `argv[0]` is the program, as in std).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Command {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Command {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Command {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts the child with an empty environment (plus what `env` adds after this).
    pub fn env_clear(mut self) -> Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The child's working directory (default: the parent's).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Command {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// What the child's stdin is (default: a pipe we write with
    /// [`ProcessTransport::write`]).
    pub fn stdin(mut self, stdin: Stdio) -> Command {
        self.stdin = stdin;
        self
    }

    /// What the child's stdout is (default: a pipe delivered to `out_received`).
    pub fn stdout(mut self, stdout: Stdio) -> Command {
        self.stdout = stdout;
        self
    }

    /// What the child's stderr is (default: a pipe delivered to `err_received`).
    pub fn stderr(mut self, stderr: Stdio) -> Command {
        self.stderr = stderr;
        self
    }

    /// Gives the child an extra pipe at fd number `fd` (3 or above), read or written by the
    /// parent: Twisted's `childFDs`. The protocol sees it through `child_data_received(fd, ..)`
    /// and `child_connection_lost(fd)`.
    ///
    /// Extra fds need a hook between fork and exec, so such a spawn cannot use `posix_spawn`
    /// and costs a little more.
    ///
    /// # Panics
    ///
    /// If `fd` is below 3 (use `stdin`/`stdout`/`stderr`) or given twice.
    #[track_caller]
    pub fn child_fd(mut self, fd: i32, direction: ChildFd) -> Command {
        assert!(
            fd >= 3,
            "child fd {fd}: use stdin/stdout/stderr for fds 0-2"
        );
        assert!(
            self.child_fds.iter().all(|(f, _)| *f != fd),
            "child fd {fd} given twice"
        );
        self.child_fds.push((fd, direction));
        self
    }

    /// What happens to the child if the reactor stops or is dropped while it runs (default
    /// [`OnShutdown::Kill`]).
    pub fn on_shutdown(mut self, policy: OnShutdown) -> Command {
        self.on_shutdown = policy;
        self
    }

    /// How long, after the child exited, its pipes may stay open before they are closed
    /// (default [`DEFAULT_PIPE_GRACE`](Command::DEFAULT_PIPE_GRACE), 0.5 s).
    ///
    /// `process_ended` comes once the child has exited *and* every pipe has closed (as in
    /// Twisted). A child's own ends close when it exits, but a process it started in the
    /// background (`sh -c 'server & echo started'`) inherits them and may keep them open
    /// for as long as it lives. Once the grace is over, what the pipes hold is read and
    /// delivered, then they are closed (`child_connection_lost` for each) and
    /// `process_ended` follows: the end always comes, at most `grace` after the exit — or,
    /// if the protocol has paused reading, once it resumes, so that nothing is lost.
    /// Output the grandchild writes later is not read; to collect it, give the grandchild
    /// pipes of its own, or wait for it another way, or set a longer grace.
    /// `Duration::MAX` waits for the pipes however long it takes, as Twisted does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use fate::process::{Command, ExitStatus};
    ///
    /// fate::run_until_idle(|| {
    ///     // The background `sleep` holds the shell's stdout for 5 s; the end comes 0.1 s
    ///     // after the shell exits, with what the shell wrote: the sleep's pid.
    ///     Command::new("sh")
    ///         .args(["-c", "sleep 5 & echo $!"])
    ///         .pipe_grace(Duration::from_millis(100))
    ///         .output()
    ///         .add_callback(|out| {
    ///             assert_eq!(out.status, ExitStatus::Exited(0));
    ///             let sleep = String::from_utf8(out.stdout).unwrap();
    ///             std::process::Command::new("kill").arg(sleep.trim()).status().unwrap();
    ///         });
    /// })
    /// .unwrap();
    /// ```
    pub fn pipe_grace(mut self, grace: Duration) -> Command {
        self.pipe_grace = grace;
        self
    }

    /// Whether to learn of the exit through a pidfd (default true). With `false`, or on a
    /// kernel without `pidfd_open`, a SIGCHLD handler is used instead.
    pub fn pidfd(mut self, on: bool) -> Command {
        self.pidfd = on;
        self
    }

    /// Starts the child on the current thread's reactor and connects `protocol` to it.
    /// `protocol.connection_made` runs before this returns.
    ///
    /// # Errors
    ///
    /// [`SpawnError`], naming the program or directory, if the program is missing or not
    /// executable, the directory does not exist, or the OS refuses (no fds, no processes).
    ///
    /// # Panics
    ///
    /// If this thread has no reactor.
    #[track_caller]
    pub fn spawn(&self, protocol: impl ProcessProtocol) -> Result<ProcessTransport, SpawnError> {
        let reactor = crate::reactor::current();
        self.spawn_on(&reactor, Box::new(protocol), std::panic::Location::caller())
    }

    fn spawn_on(
        &self,
        reactor: &Reactor,
        protocol: Box<dyn ProcessProtocol>,
        site: Site,
    ) -> Result<ProcessTransport, SpawnError> {
        let io_error = |e: io::Error| SpawnError::new(SpawnErrorKind::Io, &self.program, e);
        let sigchld = if !self.pidfd || reaper::pidfd_unsupported() {
            Some(SigchldWatch::get(reactor).map_err(io_error)?)
        } else {
            None
        };
        let mut cmd = self.std_command();
        let mut extra: Vec<(i32, OwnedFd, ChildFd)> = Vec::new();
        if !self.child_fds.is_empty() {
            let above = self.child_fds.iter().map(|(fd, _)| *fd).max().unwrap_or(2) + 1;
            let mut child_ends = Vec::new();
            for &(fd, direction) in &self.child_fds {
                let (read, write) = sys::pipe().map_err(io_error)?;
                let (parent, child) = match direction {
                    ChildFd::Read => (read, write),
                    ChildFd::Write => (write, read),
                };
                child_ends.push((sys::dup_above(child.as_fd(), above).map_err(io_error)?, fd));
                extra.push((fd, parent, direction));
            }
            sys::map_child_fds(&mut cmd, child_ends);
        }
        let mut child = cmd.spawn().map_err(|e| self.diagnose(e))?;
        // The child's ends of the extra pipes are owned by `cmd`'s hook: close them here.
        drop(cmd);
        let pid = child.id();
        let stdin = child.stdin.take().map(OwnedFd::from);
        let stdout = child.stdout.take().map(OwnedFd::from);
        let stderr = child.stderr.take().map(OwnedFd::from);
        let process = Process::new(
            reactor,
            child,
            protocol,
            self.on_shutdown,
            self.pipe_grace,
            site,
        );
        let wired = (|| -> io::Result<()> {
            for (fd, end, writer) in [(0, stdin, true), (1, stdout, false), (2, stderr, false)] {
                if let Some(end) = end {
                    process.add_pipe(reactor, fd, PipeFd::new(end)?, writer)?;
                }
            }
            for (fd, end, direction) in extra {
                process.add_pipe(reactor, fd, PipeFd::new(end)?, direction == ChildFd::Write)?;
            }
            match sigchld {
                Some(watch) => watch.add(process.clone()),
                None => self.watch_exit(reactor, &process, pid)?,
            }
            Ok(())
        })();
        if let Err(e) = wired {
            // Dropping the last reference kills and reaps the child (`OnShutdown` aside: it
            // never ran for the caller).
            process.abandon();
            return Err(io_error(e));
        }
        reaper::track(reactor, &process);
        process.start();
        Ok(process.transport())
    }

    /// Watches the exit through a pidfd, or SIGCHLD where the kernel has no pidfds.
    fn watch_exit(&self, reactor: &Reactor, process: &Rc<Process>, pid: u32) -> io::Result<()> {
        match PidFd::open(pid) {
            Ok(fd) => process.watch_pidfd(reactor, fd),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
                tracing::info!(target: "fate::process", "no pidfds ({e}); using SIGCHLD");
                reaper::note_pidfd_unsupported();
                let watch = SigchldWatch::get(reactor)?;
                watch.add(process.clone());
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The std command for one spawn. No `pre_exec` hook unless extra fds are asked for, so
    /// std can use `posix_spawn` (vfork): the cheapest spawn there is.
    fn std_command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args);
        if self.env_clear {
            cmd.env_clear();
        }
        for (key, value) in &self.env {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        cmd.stdin(std_stdio(self.stdin));
        cmd.stdout(std_stdio(self.stdout));
        cmd.stderr(std_stdio(self.stderr));
        cmd
    }

    /// Turns a failed spawn into an error naming the path at fault.
    fn diagnose(&self, e: io::Error) -> SpawnError {
        if let Some(dir) = &self.cwd {
            if !dir.is_dir() {
                return SpawnError::new(SpawnErrorKind::BadCwd, dir, e);
            }
        }
        let kind = match e.raw_os_error() {
            Some(libc::ENOENT | libc::ENOTDIR) => SpawnErrorKind::NotFound,
            Some(libc::EACCES | libc::EPERM | libc::ENOEXEC | libc::EISDIR) => {
                SpawnErrorKind::NotExecutable
            }
            _ => SpawnErrorKind::Io,
        };
        SpawnError::new(kind, &self.program, e)
    }
}

fn std_stdio(stdio: Stdio) -> std::process::Stdio {
    match stdio {
        Stdio::Pipe => std::process::Stdio::piped(),
        Stdio::Null => std::process::Stdio::null(),
        Stdio::Inherit => std::process::Stdio::inherit(),
    }
}

/// Starts `program` with `args` and connects `protocol` to it: Twisted's `spawnProcess`.
///
/// `args` does not include the program name (`argv[0]` is `program`, as in std; Twisted's
/// `args[0]` is the program name). `env`: `None` inherits the parent's environment,
/// `Some(vars)` gives the child exactly `vars` (Twisted's default is an empty environment;
/// here inheriting is the default, as in std and tokio). `cwd`: `None` is the parent's.
/// For pipes, extra fds and the shutdown policy use [`Command`].
///
/// # Errors
///
/// As [`Command::spawn`].
///
/// # Panics
///
/// If this thread has no reactor.
///
/// # Examples
///
/// ```
/// use fate::process::{self, DiscardOutput};
///
/// fate::run_until_idle(|| {
///     let env = vec![("PATH".into(), "/usr/bin:/bin".into())];
///     process::spawn_process(DiscardOutput, "ls", ["-l"], Some(env), Some("/".as_ref()))
///         .unwrap();
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn spawn_process<I, S>(
    protocol: impl ProcessProtocol,
    program: impl AsRef<OsStr>,
    args: I,
    env: Option<Vec<(OsString, OsString)>>,
    cwd: Option<&Path>,
) -> Result<ProcessTransport, SpawnError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(program).args(args);
    if let Some(env) = env {
        command = command.env_clear().envs(env);
    }
    if let Some(cwd) = cwd {
        command = command.current_dir(cwd);
    }
    command.spawn(protocol)
}
