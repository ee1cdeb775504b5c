//! One child process on the reactor: its pipes, its exit watch and its protocol.
//!
//! # Ownership
//!
//! The reactor owns a running [`Process`]: each pipe and the pidfd are registered with a
//! handler holding an `Rc<Process>`. [`ProcessTransport`]s are weak handles, so a protocol may
//! keep its transport without making a cycle. When the child has been reaped and every pipe is
//! closed, the registrations are gone and the `Process` drops. If the reactor itself is dropped
//! while the child still runs, the `Process` drops with it and its [`OnShutdown`] policy kills
//! and reaps the child or hands it to a reaper thread: no zombie is left either way.
//!
//! # States
//!
//! `Running` → (reaped) `Exited` → (every pipe closed) `Ended`; or `Running`/`Exited` →
//! `Detached` at shutdown with [`OnShutdown::Detach`]. Nothing goes back.
//!
//! `Exited` lasts at most the command's pipe grace: a pipe still open that long after the
//! exit is held by someone else (a grandchild the child started in the background), and
//! waiting for its end of file could take forever. What is in it is read, then it is closed,
//! so `process_ended` always comes.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::process::Child;
use std::rc::{Rc, Weak};
use std::task::Waker;
use std::time::Duration;

use fate_deferred::{Deferred, Fire};

use super::{Detached, ExitStatus, OnShutdown, ProcessProtocol, ProcessTransport, SignalError};
use crate::reactor::io::{IoHandler, IoRegistration, Readiness};
use crate::reactor::watchdog::Site;
use crate::reactor::{PanicPolicy, Reactor};
use crate::sys::{PidFd, PipeFd};
use crate::time::DelayedCall;

/// How much one readiness event may read from one pipe before yielding to the rest of the
/// loop (the pipe is re-armed and read again next turn): 100 MiB of output never starves timers.
const READ_BUDGET: usize = 64 * 1024;

/// The most one pipe is read at the end of the pipe grace before it is closed: the largest
/// pipe an unprivileged process can make (`/proc/sys/fs/pipe-max-size`), so what the child
/// left in it is never cut, while a grandchild that keeps writing cannot hold the end up.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Bytes buffered for a child's stdin above which the protocol is asked to pause (Twisted's
/// `bufferSize`).
pub(crate) const HIGH_WATER: usize = 64 * 1024;

thread_local! {
    /// One read buffer for every pipe of this thread: data is handed to the protocol as a
    /// slice of it, so a reader costs no allocation of its own.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_BUDGET]);
}

/// Where a child is in its life; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    Running,
    Exited,
    Ended,
    Detached,
}

/// Something to tell the protocol, queued so that protocol methods never nest.
enum Event {
    Made,
    Data(i32, Vec<u8>),
    Lost(i32),
    Pause,
    Resume,
    Exited(ExitStatus),
    Ended(ExitStatus),
}

/// Which way a pipe goes, and the writer's buffer.
enum Direction {
    /// The parent reads what the child writes.
    Read,
    /// The parent writes; `buf[start..]` is not yet written.
    Write {
        buf: Vec<u8>,
        start: usize,
        /// `close` was asked: close once `buf` is flushed.
        closing: bool,
    },
}

/// One open pipe to the child.
struct Pipe {
    /// The fd number the child sees.
    child_fd: i32,
    fd: PipeFd,
    reg: Option<IoRegistration>,
    direction: Direction,
}

/// How the exit is learned.
pub(crate) enum ExitWatch {
    /// A pidfd registered for readable.
    PidFd { fd: PidFd, reg: IoRegistration },
    /// The SIGCHLD watch of this thread holds the process and polls it.
    Sigchld,
}

/// A child process and everything the reactor knows of it. Touched on the loop thread only.
pub(crate) struct Process {
    pub(crate) pid: u32,
    me: Weak<Process>,
    /// The std handle, until the child is reaped (or handed to a reaper thread).
    child: RefCell<Option<Child>>,
    /// The user's protocol; dropped after `process_ended` so its state is freed.
    protocol: RefCell<Option<Box<dyn ProcessProtocol>>>,
    /// Open pipes; a pipe is removed when it closes.
    pipes: RefCell<Vec<Pipe>>,
    exit_watch: RefCell<Option<ExitWatch>>,
    stage: Cell<Stage>,
    /// The exit status once reaped; shared with every transport so that it outlives this.
    status: Rc<Cell<Option<ExitStatus>>>,
    /// Events waiting for the protocol; see [`Process::dispatch`].
    events: RefCell<VecDeque<Event>>,
    /// True while a protocol method runs (or the queue is being drained).
    dispatching: Cell<bool>,
    /// `pause_producing` was delivered (or queued) and `resume_producing` not yet.
    producer_paused: Cell<bool>,
    /// `pause_reading` is in force.
    reading_paused: Cell<bool>,
    /// A pipe became readable while reading was paused: re-arm the readers on resume.
    missed_read: Cell<bool>,
    pub(crate) on_shutdown: OnShutdown,
    /// How long pipes may stay open after the exit before they are closed.
    pipe_grace: Duration,
    /// Closes the pipes once the grace is over; set while `Exited` with pipes open.
    grace_timer: RefCell<Option<DelayedCall>>,
    /// The grace is over, but reading was paused: `resume_reading` closes the pipes.
    grace_over: Cell<bool>,
    panic_policy: PanicPolicy,
    /// Where the process was spawned: the watchdog names it when the protocol runs long.
    site: Site,
    /// Woken when the child is reaped or detached (shutdown waits on them).
    waiters: RefCell<Vec<Waker>>,
    /// Deferreds from [`ProcessTransport::ended`], fired after `process_ended`.
    on_end: RefCell<Vec<Fire<ExitStatus>>>,
}

/// An I/O handler for one pipe of a process.
struct PipeHandler {
    process: Rc<Process>,
    child_fd: i32,
}

impl IoHandler for PipeHandler {
    fn ready(&self, readiness: Readiness) {
        self.process.pipe_ready(self.child_fd, readiness);
    }
}

/// The I/O handler of a pidfd.
struct ExitHandler(Rc<Process>);

impl IoHandler for ExitHandler {
    fn ready(&self, _: Readiness) {
        self.0.try_reap();
    }
}

impl Process {
    pub(crate) fn new(
        reactor: &Reactor,
        child: Child,
        protocol: Box<dyn ProcessProtocol>,
        on_shutdown: OnShutdown,
        pipe_grace: Duration,
        site: Site,
    ) -> Rc<Process> {
        let pid = child.id();
        Rc::new_cyclic(|me| Process {
            pid,
            me: me.clone(),
            child: RefCell::new(Some(child)),
            protocol: RefCell::new(Some(protocol)),
            pipes: RefCell::new(Vec::new()),
            exit_watch: RefCell::new(None),
            stage: Cell::new(Stage::Running),
            status: Rc::new(Cell::new(None)),
            events: RefCell::new(VecDeque::new()),
            dispatching: Cell::new(false),
            producer_paused: Cell::new(false),
            reading_paused: Cell::new(false),
            missed_read: Cell::new(false),
            on_shutdown,
            pipe_grace,
            grace_timer: RefCell::new(None),
            grace_over: Cell::new(false),
            panic_policy: reactor.inner.panic_policy,
            site,
            waiters: RefCell::new(Vec::new()),
            on_end: RefCell::new(Vec::new()),
        })
    }

    pub(crate) fn transport(&self) -> ProcessTransport {
        ProcessTransport::new(self.me.clone(), self.pid, self.status.clone())
    }

    /// Registers a pipe end with the reactor; `writer` says whether the parent writes to it.
    pub(crate) fn add_pipe(
        self: &Rc<Self>,
        reactor: &Reactor,
        child_fd: i32,
        mut fd: PipeFd,
        writer: bool,
    ) -> io::Result<()> {
        let handler = Rc::new(PipeHandler {
            process: self.clone(),
            child_fd,
        });
        let interest = if writer {
            mio::Interest::WRITABLE
        } else {
            mio::Interest::READABLE
        };
        let reg = reactor
            .inner
            .register_io(&mut fd, interest, handler, self.site)?;
        let direction = if writer {
            Direction::Write {
                buf: Vec::new(),
                start: 0,
                closing: false,
            }
        } else {
            Direction::Read
        };
        self.pipes.borrow_mut().push(Pipe {
            child_fd,
            fd,
            reg: Some(reg),
            direction,
        });
        Ok(())
    }

    /// Watches the exit through `pidfd`.
    pub(crate) fn watch_pidfd(self: &Rc<Self>, reactor: &Reactor, mut fd: PidFd) -> io::Result<()> {
        let handler = Rc::new(ExitHandler(self.clone()));
        let reg =
            reactor
                .inner
                .register_io(&mut fd, mio::Interest::READABLE, handler, self.site)?;
        *self.exit_watch.borrow_mut() = Some(ExitWatch::PidFd { fd, reg });
        Ok(())
    }

    /// Marks the exit as watched by the thread's SIGCHLD watch.
    pub(crate) fn watch_sigchld(&self) {
        *self.exit_watch.borrow_mut() = Some(ExitWatch::Sigchld);
    }

    pub(crate) fn stage(&self) -> Stage {
        self.stage.get()
    }

    /// Tells the protocol it is connected (the first event).
    pub(crate) fn start(&self) {
        self.push(Event::Made);
    }

    // ----- the protocol side -------------------------------------------------------------

    /// Queues `event` and delivers the queue unless a protocol method is running, in which
    /// case it is delivered when that method returns.
    fn push(&self, event: Event) {
        self.events.borrow_mut().push_back(event);
        self.dispatch();
    }

    fn dispatch(&self) {
        if self.dispatching.replace(true) {
            return;
        }
        loop {
            let next = self.events.borrow_mut().pop_front();
            let Some(event) = next else { break };
            self.deliver(event);
        }
        self.dispatching.set(false);
    }

    /// Hands output straight to the protocol, without copying, when nothing else is queued.
    fn deliver_data(&self, child_fd: i32, data: &[u8]) {
        if self.dispatching.get() || !self.events.borrow().is_empty() {
            self.push(Event::Data(child_fd, data.to_vec()));
            return;
        }
        self.dispatching.set(true);
        self.call(|p| p.child_data_received(child_fd, data));
        self.dispatching.set(false);
        self.dispatch();
    }

    fn deliver(&self, event: Event) {
        match event {
            Event::Made => {
                let transport = self.transport();
                self.call(|p| p.connection_made(&transport));
            }
            Event::Data(fd, data) => self.call(|p| p.child_data_received(fd, &data)),
            Event::Lost(fd) => self.call(|p| p.child_connection_lost(fd)),
            Event::Pause => self.call(|p| p.pause_producing()),
            Event::Resume => self.call(|p| p.resume_producing()),
            Event::Exited(status) => self.call(|p| p.process_exited(status)),
            Event::Ended(status) => {
                self.call(|p| p.process_ended(status));
                let protocol = self.protocol.borrow_mut().take();
                drop(protocol);
                let fires = std::mem::take(&mut *self.on_end.borrow_mut());
                for fire in fires {
                    let _ = fire.try_callback(status);
                }
            }
        }
    }

    /// Runs one protocol method behind a panic boundary. After a panic the pipes are closed
    /// (the remaining lifecycle events still come) and the child is still reaped.
    fn call(&self, f: impl FnOnce(&mut dyn ProcessProtocol)) {
        let outcome = {
            let mut slot = self.protocol.borrow_mut();
            let Some(protocol) = slot.as_mut() else {
                return;
            };
            fate_deferred::catch_panic(|| f(&mut **protocol))
        };
        if let Err(payload) = outcome {
            self.panic_policy
                .report("process protocol method", &*payload);
            let fds: Vec<i32> = self.pipes.borrow().iter().map(|p| p.child_fd).collect();
            for fd in fds {
                self.close_pipe(fd);
            }
        }
    }

    // ----- pipes ---------------------------------------------------------------------------

    fn pipe_ready(&self, child_fd: i32, readiness: Readiness) {
        let is_reader = match self.pipes.borrow().iter().find(|p| p.child_fd == child_fd) {
            Some(pipe) => matches!(pipe.direction, Direction::Read),
            None => return,
        };
        if is_reader {
            self.read_pipe(child_fd, readiness);
        } else if readiness.error || readiness.write_closed {
            // The child closed its end (or exited): nothing more can be written.
            self.close_pipe(child_fd);
        } else {
            self.flush(child_fd);
        }
    }

    /// Reads until the pipe is drained, closed, or the budget is spent.
    fn read_pipe(&self, child_fd: i32, readiness: Readiness) {
        if self.reading_paused.get() {
            self.missed_read.set(true);
            return;
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut buf) => self.read_into(child_fd, readiness, &mut buf),
            Err(_) => self.read_into(child_fd, readiness, &mut vec![0; READ_BUDGET]),
        });
    }

    fn read_into(&self, child_fd: i32, readiness: Readiness, buf: &mut [u8]) {
        let mut total = 0;
        loop {
            let read = {
                let pipes = self.pipes.borrow();
                let Some(pipe) = pipes.iter().find(|p| p.child_fd == child_fd) else {
                    return;
                };
                pipe.fd.read(buf)
            };
            match read {
                Ok(0) => return self.close_pipe(child_fd),
                Ok(n) => {
                    self.deliver_data(child_fd, &buf[..n]);
                    total += n;
                    if self.reading_paused.get() {
                        self.missed_read.set(true);
                        return;
                    }
                    // A short read emptied the pipe; the next write or the EOF is a new edge.
                    if n < buf.len() && !readiness.read_closed && !readiness.error {
                        return;
                    }
                    if total >= READ_BUDGET {
                        self.rearm(child_fd);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::debug!(target: "fate::process", "reading child fd {child_fd}: {e}");
                    return self.close_pipe(child_fd);
                }
            }
        }
    }

    /// Re-registers a pipe so that epoll reports it again if it is still ready: how a reader
    /// that yielded for fairness gets its next turn.
    fn rearm(&self, child_fd: i32) {
        let mut pipes = self.pipes.borrow_mut();
        let Some(pipe) = pipes.iter_mut().find(|p| p.child_fd == child_fd) else {
            return;
        };
        let interest = match pipe.direction {
            Direction::Read => mio::Interest::READABLE,
            Direction::Write { .. } => mio::Interest::WRITABLE,
        };
        if let Some(reg) = &pipe.reg {
            if let Err(e) = reg.reregister(&mut pipe.fd, interest) {
                tracing::error!(target: "fate::process", "re-arming child fd {child_fd}: {e}");
            }
        }
    }

    /// Writes `data` to the pipe at `child_fd`: straight away what fits, the rest buffered.
    /// Returns whether the buffer is under the high-water mark.
    pub(crate) fn write(&self, child_fd: i32, data: &[u8]) -> Result<bool, io::Error> {
        let mut failed = false;
        let pending = {
            let mut pipes = self.pipes.borrow_mut();
            let Some(pipe) = pipes.iter_mut().find(|p| p.child_fd == child_fd) else {
                return Err(not_a_writer(child_fd));
            };
            let Direction::Write {
                buf,
                start,
                closing,
            } = &mut pipe.direction
            else {
                return Err(not_a_writer(child_fd));
            };
            if *closing {
                return Ok(false);
            }
            let mut data = data;
            if *start == buf.len() {
                while !data.is_empty() {
                    match pipe.fd.write(data) {
                        Ok(n) => data = &data[n..],
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => {
                            failed = true;
                            break;
                        }
                    }
                }
            }
            if !failed {
                buf.extend_from_slice(data);
            }
            buf.len() - *start
        };
        if failed {
            self.close_pipe(child_fd);
            return Ok(false);
        }
        if pending > HIGH_WATER {
            if child_fd == 0 && !self.producer_paused.replace(true) {
                self.push(Event::Pause);
            }
            return Ok(false);
        }
        Ok(true)
    }

    /// Bytes buffered for `child_fd` and not yet written.
    pub(crate) fn buffered(&self, child_fd: i32) -> usize {
        let pipes = self.pipes.borrow();
        match pipes.iter().find(|p| p.child_fd == child_fd) {
            Some(Pipe {
                direction: Direction::Write { buf, start, .. },
                ..
            }) => buf.len() - start,
            _ => 0,
        }
    }

    /// Writes the buffer until the pipe is full; closes it if asked and done.
    fn flush(&self, child_fd: i32) {
        let mut failed = false;
        let (drained, closing) = {
            let mut pipes = self.pipes.borrow_mut();
            let Some(pipe) = pipes.iter_mut().find(|p| p.child_fd == child_fd) else {
                return;
            };
            let Direction::Write {
                buf,
                start,
                closing,
            } = &mut pipe.direction
            else {
                return;
            };
            while *start < buf.len() {
                match pipe.fd.write(&buf[*start..]) {
                    Ok(n) => *start += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            if *start == buf.len() {
                buf.clear();
                *start = 0;
            } else if *start >= HIGH_WATER && *start * 2 >= buf.len() {
                buf.drain(..*start);
                *start = 0;
            }
            (buf.is_empty(), *closing)
        };
        if failed || (drained && closing) {
            self.close_pipe(child_fd);
        } else if drained && child_fd == 0 && self.producer_paused.replace(false) {
            self.push(Event::Resume);
        }
    }

    /// Closes the pipe at `child_fd` now (a writer's buffer is dropped) and tells the
    /// protocol.
    pub(crate) fn close_pipe(&self, child_fd: i32) {
        let removed = {
            let mut pipes = self.pipes.borrow_mut();
            let at = pipes.iter().position(|p| p.child_fd == child_fd);
            at.map(|at| pipes.remove(at))
        };
        let Some(pipe) = removed else { return };
        // Dropping the registration removes the handler; closing the fd removes it from
        // epoll (a stale event for it is dropped by the token's generation): no epoll_ctl.
        drop(pipe);
        self.push(Event::Lost(child_fd));
        self.maybe_end();
    }

    /// Closes a writer once its buffer is flushed, a reader at once.
    pub(crate) fn close_after_flush(&self, child_fd: i32) {
        let flush_first = {
            let mut pipes = self.pipes.borrow_mut();
            match pipes.iter_mut().find(|p| p.child_fd == child_fd) {
                Some(Pipe {
                    direction:
                        Direction::Write {
                            buf,
                            start,
                            closing,
                        },
                    ..
                }) if *start < buf.len() => {
                    *closing = true;
                    true
                }
                _ => false,
            }
        };
        if !flush_first {
            self.close_pipe(child_fd);
        }
    }

    /// Closes every pipe (Twisted's `loseConnection`): writers after flushing.
    pub(crate) fn close_all(&self) {
        let fds: Vec<i32> = self.pipes.borrow().iter().map(|p| p.child_fd).collect();
        for fd in fds {
            self.close_after_flush(fd);
        }
    }

    pub(crate) fn pause_reading(&self) {
        self.reading_paused.set(true);
    }

    pub(crate) fn resume_reading(&self) {
        if !self.reading_paused.replace(false) {
            return;
        }
        if self.grace_over.get() {
            self.missed_read.set(false);
            self.pipes_outlived_child();
            return;
        }
        if !self.missed_read.replace(false) {
            return;
        }
        let readers: Vec<i32> = self
            .pipes
            .borrow()
            .iter()
            .filter(|p| matches!(p.direction, Direction::Read))
            .map(|p| p.child_fd)
            .collect();
        for fd in readers {
            self.rearm(fd);
        }
    }

    // ----- exit ----------------------------------------------------------------------------

    /// Reaps the child if it has exited; returns whether it is reaped (or gone).
    pub(crate) fn try_reap(&self) -> bool {
        let polled = match self.child.borrow_mut().as_mut() {
            Some(child) => child.try_wait(),
            None => return true,
        };
        match polled {
            Ok(Some(status)) => {
                self.reaped(ExitStatus::from_std(status));
                true
            }
            Ok(None) => false,
            Err(e) => {
                // Someone else reaped it (a waitpid(-1) elsewhere): its status is lost.
                tracing::error!(target: "fate::process", "cannot reap child {}: {e}", self.pid);
                self.reaped(ExitStatus::Exited(-1));
                true
            }
        }
    }

    fn reaped(&self, status: ExitStatus) {
        drop(self.child.borrow_mut().take());
        // As for pipes: closing the pidfd takes it out of epoll.
        drop(self.exit_watch.borrow_mut().take());
        self.status.set(Some(status));
        self.stage.set(Stage::Exited);
        self.wake_waiters();
        self.push(Event::Exited(status));
        self.maybe_end();
        if self.stage.get() == Stage::Exited && self.pipe_grace != Duration::MAX {
            // The exit closed the child's own ends: a pipe still open is usually at its end
            // of file already (the next turn reads it), else held by a grandchild.
            let me = self.me.clone();
            let timer = crate::reactor::current().call_later(self.pipe_grace, move || {
                if let Some(process) = me.upgrade() {
                    process.pipes_outlived_child();
                }
            });
            *self.grace_timer.borrow_mut() = Some(timer);
        }
    }

    /// The pipe grace is over and some pipes are still open: something other than the child
    /// holds them. Reads what they hold, then closes them all, which ends the process. While
    /// the protocol has paused reading, nothing is read or closed: `resume_reading` does it.
    fn pipes_outlived_child(&self) {
        self.grace_timer.borrow_mut().take();
        self.grace_over.set(true);
        if self.reading_paused.get() {
            return;
        }
        let fds: Vec<(i32, bool)> = self
            .pipes
            .borrow()
            .iter()
            .map(|p| (p.child_fd, matches!(p.direction, Direction::Read)))
            .collect();
        for (fd, reader) in fds {
            tracing::debug!(
                target: "fate::process",
                "child {} exited {:?} ago but fd {fd} is still open elsewhere: closing it",
                self.pid,
                self.pipe_grace
            );
            if reader && !self.drain(fd) {
                // The protocol paused reading while it was handed the data.
                return;
            }
            self.close_pipe(fd);
        }
    }

    /// Reads what the pipe at `child_fd` holds now, up to [`DRAIN_LIMIT`]; false if the
    /// protocol paused reading meanwhile (the rest is read when it resumes).
    fn drain(&self, child_fd: i32) -> bool {
        let mut buf = vec![0; READ_BUDGET];
        let mut total = 0;
        while total < DRAIN_LIMIT {
            if self.reading_paused.get() {
                return false;
            }
            let read = {
                let pipes = self.pipes.borrow();
                let Some(pipe) = pipes.iter().find(|p| p.child_fd == child_fd) else {
                    return true;
                };
                pipe.fd.read(&mut buf)
            };
            match read {
                Ok(0) => break,
                Ok(n) => {
                    self.deliver_data(child_fd, &buf[..n]);
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        !self.reading_paused.get()
    }

    fn maybe_end(&self) {
        if self.stage.get() != Stage::Exited || !self.pipes.borrow().is_empty() {
            return;
        }
        if let Some(status) = self.status.get() {
            if let Some(timer) = self.grace_timer.borrow_mut().take() {
                let _ = timer.cancel();
            }
            self.stage.set(Stage::Ended);
            self.push(Event::Ended(status));
        }
    }

    /// Sends `signal` to the child, unless it has been reaped.
    pub(crate) fn signal(&self, signal: i32) -> Result<(), SignalError> {
        if self.child.borrow().is_none() {
            return Err(SignalError::ExitedAlready);
        }
        let sent = match &*self.exit_watch.borrow() {
            Some(ExitWatch::PidFd { fd, .. }) => fd.send_signal(signal),
            _ => crate::sys::kill(self.pid, signal),
        };
        sent.map_err(|e| match e.raw_os_error() {
            Some(libc::ESRCH) => SignalError::ExitedAlready,
            _ => SignalError::Io(e),
        })
    }

    /// Gives up on the child at shutdown: closes the pipes and lets a thread reap it.
    pub(crate) fn detach(&self) {
        if let Some(child) = self.child.borrow_mut().take() {
            dispose(child, OnShutdown::Detach);
        }
        if let Some(ExitWatch::PidFd { mut fd, reg }) = self.exit_watch.borrow_mut().take() {
            let _ = reg.deregister(&mut fd);
        }
        self.stage.set(Stage::Detached);
        if let Some(timer) = self.grace_timer.borrow_mut().take() {
            let _ = timer.cancel();
        }
        let pipes = std::mem::take(&mut *self.pipes.borrow_mut());
        for mut pipe in pipes {
            if let Some(reg) = pipe.reg.take() {
                let _ = reg.deregister(&mut pipe.fd);
            }
        }
        self.wake_waiters();
        let fires = std::mem::take(&mut *self.on_end.borrow_mut());
        for fire in fires {
            let _ = fire.try_errback(Detached);
        }
        let protocol = self.protocol.borrow_mut().take();
        drop(protocol);
    }

    /// Undoes a spawn that could not be wired to the reactor: unregisters what was registered,
    /// kills and reaps the child; the protocol is never called.
    pub(crate) fn abandon(&self) {
        drop(self.protocol.borrow_mut().take());
        if let Some(ExitWatch::PidFd { mut fd, reg }) = self.exit_watch.borrow_mut().take() {
            let _ = reg.deregister(&mut fd);
        }
        let pipes = std::mem::take(&mut *self.pipes.borrow_mut());
        for mut pipe in pipes {
            if let Some(reg) = pipe.reg.take() {
                let _ = reg.deregister(&mut pipe.fd);
            }
        }
        if let Some(child) = self.child.borrow_mut().take() {
            dispose(child, OnShutdown::Kill);
        }
        self.stage.set(Stage::Detached);
    }

    /// A Deferred that fires with the status once the process has ended (after the
    /// protocol's `process_ended`), or fails with [`Detached`] if it is detached at shutdown.
    pub(crate) fn ended(&self) -> Deferred<ExitStatus> {
        match self.stage.get() {
            Stage::Ended => match self.status.get() {
                Some(status) => fate_deferred::succeed(status),
                None => fate_deferred::fail(Detached),
            },
            Stage::Detached => fate_deferred::fail(Detached),
            Stage::Running | Stage::Exited => {
                let (deferred, fire) = Deferred::pending();
                self.on_end.borrow_mut().push(fire);
                deferred
            }
        }
    }

    /// Registers `waker` to be woken when the child is reaped or detached.
    pub(crate) fn add_waiter(&self, waker: &Waker) {
        self.waiters.borrow_mut().push(waker.clone());
    }

    fn wake_waiters(&self) {
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for waker in waiters {
            waker.wake();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // Only when the reactor goes away with the child alive: nobody will watch it again.
        if let Some(child) = self.child.get_mut().take() {
            dispose(child, self.on_shutdown);
        }
    }
}

/// Makes sure `child` is reaped: kill and wait now, or wait on a thread of its own.
pub(crate) fn dispose(mut child: Child, how: OnShutdown) {
    match how {
        OnShutdown::Kill => {
            let _ = child.kill();
            let _ = child.wait();
        }
        OnShutdown::Detach => {
            let pid = child.id();
            let spawned = std::thread::Builder::new()
                .name(format!("fate-reaper-{pid}"))
                .spawn(move || {
                    let _ = child.wait();
                });
            if let Err(e) = spawned {
                tracing::error!(target: "fate::process", "no reaper thread for child {pid}: {e}");
            }
        }
    }
}

fn not_a_writer(child_fd: i32) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("child fd {child_fd} is not an open pipe the parent writes to"),
    )
}
