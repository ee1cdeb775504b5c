//! Non-blocking pipe ends (and other stream fds such as a terminal) for the reactor.
//!
//! A `PipeFd` owns its fd, reads and writes it without blocking, and registers with mio.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

/// An owned fd in non-blocking mode.
#[derive(Debug)]
pub(crate) struct PipeFd {
    fd: OwnedFd,
}

impl PipeFd {
    /// Takes `fd` and sets it non-blocking (one `ioctl(FIONBIO)`, not a `fcntl` pair).
    pub(crate) fn new(fd: OwnedFd) -> io::Result<PipeFd> {
        rustix::io::ioctl_fionbio(&fd, true)?;
        Ok(PipeFd { fd })
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
