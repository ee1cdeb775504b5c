//! Sockets of the simulated network, in the shapes the networking code already drives: a
//! `mio` source that registers without a file descriptor, a `StreamSocket` for connections,
//! a `ListenSocket` for listeners and a `Dial` for connectors. Every operation is a call
//! into the [`NetState`] of the host's simulation.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::path::Path;
use std::rc::Rc;

use mio::{Interest, Registry, Token};

use super::net::{HostId, NetState, SockId};
use crate::net::connector::Dial;
use crate::net::listener::ListenSocket;
use crate::net::udp::DatagramSocket;
use crate::net::{Address, StreamSocket};

/// What a hosted reactor carries: its simulation's network and which host it is.
#[derive(Clone)]
pub(crate) struct Attachment {
    pub(crate) net: Rc<RefCell<NetState>>,
    pub(crate) host: HostId,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("host", &self.host)
            .finish()
    }
}

/// The current thread's simulated host, if the current reactor is one.
pub(crate) fn current() -> Option<Attachment> {
    crate::reactor::try_current().and_then(|r| r.inner.sim.clone())
}

/// The attachment of the current host, for an operation that just found it is on one.
fn attachment() -> io::Result<Attachment> {
    current().ok_or_else(|| io::Error::other("not on a simulated host"))
}

/// One end of a simulated TCP connection. Dropping it closes it (FIN, or reset if unread
/// bytes are lost).
pub(crate) struct SimStream {
    at: Attachment,
    id: SockId,
}

impl SimStream {
    pub(crate) fn new(at: Attachment, id: SockId) -> SimStream {
        SimStream { at, id }
    }

    /// Starts connecting from the current host to `dest`.
    pub(crate) fn connect(dest: SocketAddr) -> io::Result<SimStream> {
        let at = attachment()?;
        let id = at.net.borrow_mut().connect(at.host, dest)?;
        Ok(SimStream { at, id })
    }

    /// Starts connecting to the Unix socket `path` of the current host.
    pub(crate) fn connect_unix(path: &Path) -> io::Result<SimStream> {
        let at = attachment()?;
        let id = at.net.borrow_mut().connect_unix(at.host, path)?;
        Ok(SimStream { at, id })
    }
}

impl SimStream {
    pub(crate) fn peer_addr(&self) -> io::Result<SocketAddr> {
        inet(StreamSocket::peer(self)?)
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        inet(StreamSocket::host(self)?)
    }
}

fn inet(addr: Address) -> io::Result<SocketAddr> {
    match addr {
        Address::Inet(a) => Ok(a),
        _ => Err(io::ErrorKind::NotConnected.into()),
    }
}

/// Registering records the token; the network reports readiness under it.
fn register(at: &Attachment, id: SockId, token: Option<Token>) {
    at.net.borrow_mut().register(id, token);
}

/// What every simulated socket (`at` its host's attachment, `id` its socket) does alike:
/// dropping it closes it, and registering it with the reactor records its token, under which
/// the network reports readiness.
macro_rules! simulated_socket {
    ($($t:ty),*) => {$(
        impl Drop for $t {
            fn drop(&mut self) {
                self.at.net.borrow_mut().close(self.id);
            }
        }

        impl mio::event::Source for $t {
            fn register(&mut self, _: &Registry, token: Token, _: Interest) -> io::Result<()> {
                register(&self.at, self.id, Some(token));
                Ok(())
            }
            fn reregister(&mut self, _: &Registry, token: Token, _: Interest) -> io::Result<()> {
                register(&self.at, self.id, Some(token));
                Ok(())
            }
            fn deregister(&mut self, _: &Registry) -> io::Result<()> {
                register(&self.at, self.id, None);
                Ok(())
            }
        }
    )*};
}

simulated_socket!(SimStream, SimListener, SimUdp);

impl StreamSocket for SimStream {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.at.net.borrow_mut().read(self.id, buf)
    }
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.at.net.borrow_mut().write(self.id, buf)
    }
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match how {
            Shutdown::Read => Ok(()),
            Shutdown::Write | Shutdown::Both => self.at.net.borrow_mut().shutdown_write(self.id),
        }
    }
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        Ok(self.at.net.borrow_mut().take_error(self.id))
    }
    fn peer(&self) -> io::Result<Address> {
        self.at.net.borrow().peer(self.id)
    }
    fn host(&self) -> io::Result<Address> {
        self.at.net.borrow().local(self.id)
    }
    fn set_no_delay(&self, _on: bool) -> io::Result<()> {
        Ok(())
    }
    fn set_keep_alive(&self, _on: bool) -> io::Result<()> {
        Ok(())
    }
}

/// A connector dials an IP address and port, or a Unix socket path.
impl Dial for SimStream {
    type Dest = Address;

    fn dial(dest: &Address, _bind: Option<SocketAddr>) -> io::Result<SimStream> {
        match dest {
            Address::Inet(a) => SimStream::connect(*a),
            Address::Unix(Some(path)) => SimStream::connect_unix(path),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot connect to {other}"),
            )),
        }
    }

    fn address(dest: &Address) -> Address {
        dest.clone()
    }
}

/// A simulated listening socket. Dropping it stops listening and resets connections that
/// were never accepted.
pub(crate) struct SimListener {
    at: Attachment,
    id: SockId,
}

impl SimListener {
    /// Listens on `addr` on the current host (port 0 picks a free port).
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<SimListener> {
        let at = attachment()?;
        let id = at.net.borrow_mut().listen(at.host, addr)?;
        Ok(SimListener { at, id })
    }

    /// Listens on the Unix socket `path` of the current host.
    pub(crate) fn bind_unix(path: &Path) -> io::Result<SimListener> {
        let at = attachment()?;
        let id = at.net.borrow_mut().listen_unix(at.host, path)?;
        Ok(SimListener { at, id })
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        inet(self.local()?)
    }

    pub(crate) fn accept_stream(&self) -> io::Result<(SimStream, SocketAddr)> {
        let (stream, peer) = ListenSocket::accept(self)?;
        Ok((stream, inet(peer)?))
    }
}

impl ListenSocket for SimListener {
    type Stream = SimStream;

    fn accept(&self) -> io::Result<(SimStream, Address)> {
        let (id, peer) = self.at.net.borrow_mut().accept(self.id)?;
        Ok((SimStream::new(self.at.clone(), id), peer))
    }

    fn local(&self) -> io::Result<Address> {
        self.at.net.borrow().local(self.id)
    }
}

/// A simulated UDP socket. Dropping it closes it.
pub(crate) struct SimUdp {
    at: Attachment,
    id: SockId,
}

impl SimUdp {
    /// Binds on the current host (port 0 picks a free port).
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<SimUdp> {
        let at = attachment()?;
        let id = at.net.borrow_mut().bind_udp(at.host, addr)?;
        Ok(SimUdp { at, id })
    }
}

/// The IP address a datagram goes to, or the error a real UDP socket gives.
fn datagram_dest(to: &Address) -> io::Result<SocketAddr> {
    match to {
        Address::Inet(a) => Ok(*a),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a UDP socket cannot send to {other}"),
        )),
    }
}

impl DatagramSocket for SimUdp {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Address)> {
        let (n, from) = self.at.net.borrow_mut().recv_from(self.id, buf)?;
        Ok((n, Address::Inet(from)))
    }
    fn send_to(&self, data: &[u8], to: &Address) -> io::Result<usize> {
        let to = datagram_dest(to)?;
        self.at.net.borrow_mut().send_to(self.id, data, to)
    }
    fn send(&self, data: &[u8]) -> io::Result<usize> {
        self.at.net.borrow_mut().send_udp(self.id, data)
    }
    fn connect(&self, to: &Address) -> io::Result<()> {
        let to = datagram_dest(to)?;
        self.at.net.borrow_mut().connect_udp(self.id, to)
    }
    fn local(&self) -> io::Result<Address> {
        self.at.net.borrow().local(self.id)
    }
}

/// The async `UdpSocket`'s calls, with the signatures of `mio::net::UdpSocket`'s, so the
/// same code drives either.
impl SimUdp {
    pub(crate) fn connect(&self, peer: SocketAddr) -> io::Result<()> {
        self.at.net.borrow_mut().connect_udp(self.id, peer)
    }

    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        inet(self.at.net.borrow().local(self.id)?)
    }

    pub(crate) fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        self.at.net.borrow_mut().send_to(self.id, data, to)
    }

    pub(crate) fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.at.net.borrow_mut().recv_from(self.id, buf)
    }

    pub(crate) fn send(&self, data: &[u8]) -> io::Result<usize> {
        self.at.net.borrow_mut().send_udp(self.id, data)
    }

    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.recv_from(buf).map(|(n, _)| n)
    }
}
