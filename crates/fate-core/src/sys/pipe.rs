//! Non-blocking pipe ends (and other stream fds such as a terminal) for the reactor.
//!
//! A `PipeFd` owns its fd, reads and writes it without blocking, and registers with mio. The
//! `O_NONBLOCK` flag lives on the *open file description*, which a child process or a shell
//! may share (a terminal's stdin): [`PipeFd::new`] remembers the flags it found so that
//! [`PipeFd::restore_flags`] can put them back.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use rustix::fs::OFlags;

/// An owned fd in non-blocking mode.
#[derive(Debug)]
pub(crate) struct PipeFd {
    fd: OwnedFd,
    /// The file status flags before we set `O_NONBLOCK`.
    original: OFlags,
}

impl PipeFd {
    /// Takes `fd` and sets it non-blocking.
    pub(crate) fn new(fd: OwnedFd) -> io::Result<PipeFd> {
        let original = rustix::fs::fcntl_getfl(&fd)?;
        if !original.contains(OFlags::NONBLOCK) {
            rustix::fs::fcntl_setfl(&fd, original | OFlags::NONBLOCK)?;
        }
        Ok(PipeFd { fd, original })
    }

    /// Reads what is available, without blocking (`WouldBlock` if nothing is).
    #[inline]
    pub(crate) fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::read(&self.fd, buf)?)
    }

    /// Writes what fits, without blocking (`WouldBlock` if nothing does).
    #[inline]
    pub(crate) fn write(&self, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::write(&self.fd, buf)?)
    }

    /// Puts back the file status flags found by [`PipeFd::new`] (blocking mode, usually).
    pub(crate) fn restore_flags(&self) -> io::Result<()> {
        Ok(rustix::fs::fcntl_setfl(&self.fd, self.original)?)
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for PipeFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A new pipe, both ends close-on-exec: `(read end, write end)`.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?)
}

/// A close-on-exec duplicate of `fd` numbered at least `min`.
pub(crate) fn dup_above(fd: BorrowedFd<'_>, min: RawFd) -> io::Result<OwnedFd> {
    Ok(rustix::io::fcntl_dupfd_cloexec(fd, min)?)
}

impl Source for PipeFd {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.fd.as_raw_fd()).deregister(registry)
    }
}
