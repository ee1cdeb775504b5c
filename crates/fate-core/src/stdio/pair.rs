//! The process's own stdin and stdout as one non-blocking "socket" for a stream connection.

use std::cell::RefCell;
use std::io::{self, IsTerminal};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use rustix::fs::{FileType, OFlags};

use crate::net::{Address, StreamSocket};

/// One end of the pair: a duplicate of fd 0 or 1, and what to restore on drop.
struct End {
    fd: OwnedFd,
    /// Registered with epoll; false for files and `/dev/null`, which epoll refuses and which
    /// never block anyway.
    polled: bool,
    /// The file status flags before we set `O_NONBLOCK`, if we set it. The flag belongs to
    /// the open file description, which a terminal shares with the shell: put it back.
    restore: Option<OFlags>,
}

impl End {
    /// Duplicates `fd`; makes it non-blocking if epoll can watch it.
    fn new(fd: BorrowedFd<'_>) -> io::Result<End> {
        let fd = rustix::io::fcntl_dupfd_cloexec(fd, 3)?;
        let polled = pollable(&fd)?;
        let mut restore = None;
        if polled {
            let flags = rustix::fs::fcntl_getfl(&fd)?;
            if !flags.contains(OFlags::NONBLOCK) {
                rustix::fs::fcntl_setfl(&fd, flags | OFlags::NONBLOCK)?;
                restore = Some(flags);
            }
        }
        Ok(End {
            fd,
            polled,
            restore,
        })
    }
}

impl Drop for End {
    fn drop(&mut self) {
        if let Some(flags) = self.restore {
            let _ = rustix::fs::fcntl_setfl(&self.fd, flags);
        }
    }
}

/// Whether epoll accepts `fd`: pipes, sockets and terminals yes; regular files and other
/// character devices (`/dev/null`) no.
fn pollable(fd: &OwnedFd) -> io::Result<bool> {
    let stat = rustix::fs::fstat(fd)?;
    Ok(match FileType::from_raw_mode(stat.st_mode) {
        FileType::Fifo | FileType::Socket => true,
        FileType::CharacterDevice => fd.is_terminal(),
        _ => false,
    })
}

/// stdin (read) and stdout (write) as one source, registered under one token.
pub(crate) struct StdioPair {
    input: End,
    /// `None` after `shutdown(Write)`.
    output: RefCell<Option<End>>,
}

impl StdioPair {
    /// Duplicates the process's stdin and stdout. A stdin that epoll cannot watch (a file,
    /// `/dev/null`) is copied into a pipe by a helper thread.
    pub(crate) fn new() -> io::Result<StdioPair> {
        let mut input = End::new(io::stdin().as_fd())?;
        if !input.polled {
            input = pump(rustix::io::fcntl_dupfd_cloexec(&input.fd, 3)?)?;
        }
        let output = End::new(io::stdout().as_fd())?;
        Ok(StdioPair {
            input,
            output: RefCell::new(Some(output)),
        })
    }
}

/// A pipe fed from `file` by a thread (regular files cannot be polled, and reading them
/// could block on a slow disk).
fn pump(file: OwnedFd) -> io::Result<End> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    std::thread::Builder::new()
        .name("fate-stdin".into())
        .spawn(move || {
            let mut from = std::fs::File::from(file);
            let mut to = std::fs::File::from(write);
            // Ends at EOF or when the reader went away; either way the pipe's EOF follows.
            let _ = io::copy(&mut from, &mut to);
        })?;
    End::new(read.as_fd()).map(|mut end| {
        // `End::new` duplicated it; `read` closes at the end of this function, which is fine:
        // nobody else shares this pipe's description, so nothing to restore either.
        end.restore = None;
        end
    })
}

impl StreamSocket for StdioPair {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::read(&self.input.fd, buf)?)
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match &*self.output.borrow() {
            Some(out) => Ok(rustix::io::write(&out.fd, buf)?),
            None => Err(io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }

    /// Closing the writing half closes stdout for real, so the reader sees end of file: fd 1
    /// is pointed at `/dev/null` and our duplicate is closed.
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            if let Some(out) = self.output.borrow_mut().take() {
                let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
                rustix::stdio::dup2_stdout(&null)?;
                drop(out);
            }
        }
        Ok(())
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(None)
    }

    fn peer(&self) -> io::Result<Address> {
        Ok(Address::Memory("stdin".into()))
    }

    fn host(&self) -> io::Result<Address> {
        Ok(Address::Memory("stdout".into()))
    }

    fn set_no_delay(&self, _on: bool) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "TCP_NODELAY does not apply to standard I/O",
        ))
    }

    fn set_keep_alive(&self, _on: bool) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "keep-alive does not apply to standard I/O",
        ))
    }
}

impl AsFd for StdioPair {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.input.fd.as_fd()
    }
}

impl Source for StdioPair {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        if interests.is_readable() {
            SourceFd(&self.input.fd.as_raw_fd()).register(registry, token, Interest::READABLE)?;
        }
        if let Some(out) = &*self.output.borrow() {
            if out.polled && interests.is_writable() {
                SourceFd(&out.fd.as_raw_fd()).register(registry, token, Interest::WRITABLE)?;
            }
        }
        Ok(())
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        if interests.is_readable() {
            SourceFd(&self.input.fd.as_raw_fd()).reregister(registry, token, Interest::READABLE)?;
        }
        if let Some(out) = &*self.output.borrow() {
            if out.polled && interests.is_writable() {
                SourceFd(&out.fd.as_raw_fd()).reregister(registry, token, Interest::WRITABLE)?;
            }
        }
        Ok(())
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        let _ = SourceFd(&self.input.fd.as_raw_fd()).deregister(registry);
        if let Some(out) = &*self.output.borrow() {
            if out.polled {
                let _ = SourceFd(&out.fd.as_raw_fd()).deregister(registry);
            }
        }
        Ok(())
    }
}
