//! An I/O source registered with the reactor, with readiness flags and parked wakers: what
//! the async stream types are built on (async-io's `Async<T>`, single-threaded).

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use mio::event::Source;
use mio::Interest;

use crate::net::StreamSocket;
use crate::reactor::io::{IoHandler, IoRegistration, Readiness};

/// Which way an operation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// Readiness as last learned, and who waits for it.
///
/// A flag is set by an epoll edge and cleared only by an operation that found the source not
/// ready (`WouldBlock`, or a short read/write): so a task parks only when the source really
/// is not ready, and every edge after that wakes it.
///
/// The end of the peer's stream and errors are sticky (`read_hup`, `write_hup`): epoll
/// reports them once, and a short read must not make the task wait for an edge that will
/// never come.
#[derive(Default)]
pub(crate) struct Watch {
    readable: Cell<bool>,
    writable: Cell<bool>,
    read_hup: Cell<bool>,
    write_hup: Cell<bool>,
    reader: Cell<Option<Waker>>,
    writer: Cell<Option<Waker>>,
}

impl Watch {
    fn flag(&self, dir: Direction) -> &Cell<bool> {
        match dir {
            Direction::Read => &self.readable,
            Direction::Write => &self.writable,
        }
    }

    /// Whether an operation in `dir` may make progress.
    fn is_ready(&self, dir: Direction) -> bool {
        match dir {
            Direction::Read => self.readable.get() || self.read_hup.get(),
            Direction::Write => self.writable.get() || self.write_hup.get(),
        }
    }

    fn slot(&self, dir: Direction) -> &Cell<Option<Waker>> {
        match dir {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
        }
    }

    /// Parks `cx`'s waker for `dir`, reusing the parked one when it would wake the same task.
    fn park(&self, dir: Direction, cx: &Context<'_>) {
        let slot = self.slot(dir);
        let waker = match slot.take() {
            Some(w) if w.will_wake(cx.waker()) => w,
            _ => cx.waker().clone(),
        };
        slot.set(Some(waker));
    }

    fn wake(&self, dir: Direction) {
        self.flag(dir).set(true);
        if let Some(w) = self.slot(dir).take() {
            w.wake();
        }
    }
}

impl IoHandler for Watch {
    fn ready(&self, r: Readiness) {
        if r.read_closed || r.error {
            self.read_hup.set(true);
        }
        if r.write_closed || r.error {
            self.write_hup.set(true);
        }
        if r.readable || r.read_closed || r.error {
            self.wake(Direction::Read);
        }
        if r.writable || r.write_closed || r.error {
            self.wake(Direction::Write);
        }
    }
}

/// A source registered for reading and writing, edge-triggered, until dropped.
pub(crate) struct Registered<S: Source> {
    source: S,
    watch: Rc<Watch>,
    registration: Option<IoRegistration>,
}

impl<S: Source> Registered<S> {
    /// Registers `source` with the current thread's reactor.
    ///
    /// # Panics
    ///
    /// Without a reactor on this thread.
    #[track_caller]
    pub(crate) fn new(mut source: S) -> io::Result<Registered<S>> {
        let watch = Rc::new(Watch::default());
        // Assume ready: the first operation tries the system call and learns the truth.
        watch.readable.set(true);
        watch.writable.set(true);
        let registration = crate::reactor::current().inner.register_io(
            &mut source,
            Interest::READABLE | Interest::WRITABLE,
            watch.clone(),
            // Its handler only wakes tasks: the task polls are what the watchdog names.
            std::panic::Location::caller(),
        )?;
        Ok(Registered {
            source,
            watch,
            registration: Some(registration),
        })
    }

    /// The source.
    pub(crate) fn get_ref(&self) -> &S {
        &self.source
    }

    /// Runs `op` if the source may be ready for `dir`; parks the task on `WouldBlock`.
    /// `short` tells, from the result, whether the source is now drained (a short read or
    /// write), which saves the system call that would only return `WouldBlock`.
    pub(crate) fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &Context<'_>,
        mut op: impl FnMut(&S) -> io::Result<R>,
        short: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        loop {
            if !self.watch.is_ready(dir) {
                self.watch.park(dir, cx);
                return Poll::Pending;
            }
            match op(&self.source) {
                Ok(r) => {
                    if short(&r) {
                        self.watch.flag(dir).set(false);
                    }
                    return Poll::Ready(Ok(r));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.watch.flag(dir).set(false);
                    if self.watch.is_ready(dir) {
                        // A hang-up with nothing to show yet: wait for the next edge.
                        self.watch.park(dir, cx);
                        return Poll::Pending;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Waits until `dir` may be ready (for connect: writable).
    pub(crate) fn poll_ready(&self, dir: Direction, cx: &Context<'_>) -> Poll<()> {
        if self.watch.is_ready(dir) {
            Poll::Ready(())
        } else {
            self.watch.park(dir, cx);
            Poll::Pending
        }
    }

    /// Forgets readiness for `dir` (the next `poll_ready` waits for a new edge).
    pub(crate) fn clear(&self, dir: Direction) {
        self.watch.flag(dir).set(false);
    }
}

impl<S: StreamSocket> Registered<S> {
    /// Reads from a stream socket; a read shorter than `buf` means the socket is drained.
    pub(crate) fn poll_recv(&self, cx: &Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.poll_io(Direction::Read, cx, |s| s.read(buf), |&n| n > 0 && n < len)
    }

    /// Writes to a stream socket; a write shorter than `buf` means the send buffer is full.
    pub(crate) fn poll_send(&self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.poll_io(Direction::Write, cx, |s| s.write(buf), |&n| n < len)
    }

    /// Shuts down the writing half (`poll_close`): a peer already gone leaves nothing to close.
    pub(crate) fn close_write(&self) -> io::Result<()> {
        crate::net::socket::close_write(self.source.shutdown(std::net::Shutdown::Write))
    }

    /// Waits for a connect to finish: `Ok` once connected, the socket's error if it failed.
    pub(crate) async fn connected(&self) -> io::Result<()> {
        loop {
            std::future::poll_fn(|cx| self.poll_ready(Direction::Write, cx)).await;
            if let Some(e) = self.source.take_error()? {
                return Err(e);
            }
            match self.source.peer() {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => self.clear(Direction::Write),
                Err(e) => return Err(e),
            }
        }
    }
}

impl<S: Source> Drop for Registered<S> {
    fn drop(&mut self) {
        if let Some(registration) = self.registration.take() {
            let _ = registration.deregister(&mut self.source);
        }
    }
}
