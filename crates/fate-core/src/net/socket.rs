//! What a connection needs from its socket, for TCP and Unix stream sockets alike.

use std::io;
use std::net::Shutdown;
use std::os::fd::AsFd;

use mio::event::Source;

use crate::net::Address;

/// A connected, non-blocking stream socket.
///
/// `Source` registers it with the reactor; the simulated network's sockets register without a
/// file descriptor, so nothing here may assume one.
pub(crate) trait StreamSocket: Source + Sized + 'static {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write(&self, buf: &[u8]) -> io::Result<usize>;
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
    fn take_error(&self) -> io::Result<Option<io::Error>>;
    fn peer(&self) -> io::Result<Address>;
    fn host(&self) -> io::Result<Address>;
    fn set_no_delay(&self, on: bool) -> io::Result<()>;
    fn set_keep_alive(&self, on: bool) -> io::Result<()>;
}

/// `recv(2)` straight to the kernel: libc's wrapper also toggles thread cancellation
/// around it, which showed as 2% of an echo server's CPU.
#[inline]
pub(crate) fn recv(fd: impl AsFd, buf: &mut [u8]) -> io::Result<usize> {
    rustix::net::recv(fd, buf, rustix::net::RecvFlags::empty())
        .map(|(n, _)| n)
        .map_err(io::Error::from)
}

/// The result of shutting down a stream's writing half for `poll_close`: a peer that is
/// already gone (`NotConnected`) leaves nothing to close.
pub(crate) fn close_write(shutdown: io::Result<()>) -> io::Result<()> {
    match shutdown {
        Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
        other => other,
    }
}

/// `send(2)` straight to the kernel, without `SIGPIPE`.
#[inline]
pub(crate) fn send(fd: impl AsFd, buf: &[u8]) -> io::Result<usize> {
    rustix::net::send(fd, buf, rustix::net::SendFlags::NOSIGNAL).map_err(io::Error::from)
}

impl StreamSocket for mio::net::TcpStream {
    #[inline]
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        recv(self, buf)
    }
    #[inline]
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        send(self, buf)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        mio::net::TcpStream::shutdown(self, how)
    }
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        mio::net::TcpStream::take_error(self)
    }
    fn peer(&self) -> io::Result<Address> {
        self.peer_addr().map(Address::Inet)
    }
    fn host(&self) -> io::Result<Address> {
        self.local_addr().map(Address::Inet)
    }
    fn set_no_delay(&self, on: bool) -> io::Result<()> {
        self.set_nodelay(on)
    }
    fn set_keep_alive(&self, on: bool) -> io::Result<()> {
        socket2::SockRef::from(self).set_keepalive(on)
    }
}

impl StreamSocket for mio::net::UnixStream {
    #[inline]
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        recv(self, buf)
    }
    #[inline]
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        send(self, buf)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        mio::net::UnixStream::shutdown(self, how)
    }
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        mio::net::UnixStream::take_error(self)
    }
    fn peer(&self) -> io::Result<Address> {
        self.peer_addr().map(|a| Address::from_unix(&a))
    }
    fn host(&self) -> io::Result<Address> {
        self.local_addr().map(|a| Address::from_unix(&a))
    }
    fn set_no_delay(&self, _on: bool) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "TCP_NODELAY does not apply to Unix sockets",
        ))
    }
    fn set_keep_alive(&self, _on: bool) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "SO_KEEPALIVE does not apply to Unix sockets",
        ))
    }
}
