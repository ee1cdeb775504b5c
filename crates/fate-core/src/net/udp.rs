//! Datagrams in callback style: `DatagramProtocol` on UDP and Unix datagram sockets
//! (Twisted's `listenUDP` / `listenUNIXDatagram`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::panic::Location;
use std::path::Path;
use std::rc::{Rc, Weak};

use mio::event::Source;
use mio::Interest;

use crate::net::live;
use crate::net::socket_file::SocketFile;
use crate::net::stream::{put_read_buf, take_read_buf};
use crate::net::Address;
use crate::reactor::io::{IoHandler, IoRegistration, Readiness};
use crate::reactor::watchdog::{Kind, Site};
use crate::reactor::TriggerId;

/// Datagrams handled per readiness event before yielding to other work.
const DATAGRAM_BATCH: usize = 256;

/// The callbacks of a datagram socket: Twisted's `DatagramProtocol`.
///
/// # Examples
///
/// A UDP echo server:
///
/// ```
/// use fate::net::{self, Address, DatagramProtocol, DatagramTransport};
///
/// #[derive(Default)]
/// struct Echo(Option<DatagramTransport>);
/// impl DatagramProtocol for Echo {
///     fn start_protocol(&mut self, t: DatagramTransport) {
///         self.0 = Some(t);
///     }
///     fn datagram_received(&mut self, data: &[u8], from: Address) {
///         let _ = self.0.as_ref().unwrap().write_to(data, &from);
///     }
/// }
///
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// let port = net::listen_udp("127.0.0.1:0".parse().unwrap(), Echo::default()).unwrap();
/// let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// client.send_to(b"ping", port.host().socket_addr().unwrap()).unwrap();
/// reactor.call_later(std::time::Duration::from_millis(50), move || port.stop_listening());
/// reactor.run_until_idle().unwrap();
/// let mut buf = [0u8; 8];
/// let (n, _) = client.recv_from(&mut buf).unwrap();
/// assert_eq!(&buf[..n], b"ping");
/// ```
pub trait DatagramProtocol: 'static {
    /// The socket is ready; keep `transport` to send.
    fn start_protocol(&mut self, transport: DatagramTransport) {
        let _ = transport;
    }

    /// A datagram arrived from `from`.
    fn datagram_received(&mut self, data: &[u8], from: Address);

    /// Connected UDP: the peer's port proved closed (ICMP port unreachable).
    fn connection_refused(&mut self) {}

    /// The socket was closed by `stop_listening`; no callback follows.
    fn stop_protocol(&mut self) {}
}

/// A datagram socket kind.
pub(crate) trait DatagramSocket: Source + 'static {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Address)>;
    fn send_to(&self, data: &[u8], to: &Address) -> io::Result<usize>;
    fn send(&self, data: &[u8]) -> io::Result<usize>;
    fn connect(&self, to: &Address) -> io::Result<()>;
    fn local(&self) -> io::Result<Address>;
}

fn wrong_kind(to: &Address) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{to} is not an address for this kind of socket"),
    )
}

impl DatagramSocket for mio::net::UdpSocket {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Address)> {
        mio::net::UdpSocket::recv_from(self, buf).map(|(n, a)| (n, Address::Inet(a)))
    }
    fn send_to(&self, data: &[u8], to: &Address) -> io::Result<usize> {
        let to = to.socket_addr().ok_or_else(|| wrong_kind(to))?;
        mio::net::UdpSocket::send_to(self, data, to)
    }
    fn send(&self, data: &[u8]) -> io::Result<usize> {
        mio::net::UdpSocket::send(self, data)
    }
    fn connect(&self, to: &Address) -> io::Result<()> {
        let to = to.socket_addr().ok_or_else(|| wrong_kind(to))?;
        mio::net::UdpSocket::connect(self, to)
    }
    fn local(&self) -> io::Result<Address> {
        self.local_addr().map(Address::Inet)
    }
}

impl DatagramSocket for mio::net::UnixDatagram {
    fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Address)> {
        mio::net::UnixDatagram::recv_from(self, buf).map(|(n, a)| (n, Address::from_unix(&a)))
    }
    fn send_to(&self, data: &[u8], to: &Address) -> io::Result<usize> {
        let to = to.path().ok_or_else(|| wrong_kind(to))?;
        mio::net::UnixDatagram::send_to(self, data, to)
    }
    fn send(&self, data: &[u8]) -> io::Result<usize> {
        mio::net::UnixDatagram::send(self, data)
    }
    fn connect(&self, to: &Address) -> io::Result<()> {
        let to = to.path().ok_or_else(|| wrong_kind(to))?;
        mio::net::UnixDatagram::connect(self, to)
    }
    fn local(&self) -> io::Result<Address> {
        self.local_addr().map(|a| Address::from_unix(&a))
    }
}

/// What a [`DatagramTransport`] does.
trait Ops {
    fn write_to(&self, data: &[u8], to: &Address) -> io::Result<()>;
    fn write(&self, data: &[u8]) -> io::Result<()>;
    fn connect(&self, to: &Address) -> io::Result<()>;
    fn peer(&self) -> Option<Address>;
    fn host(&self) -> Address;
    fn stop_listening(&self);
    fn is_listening(&self) -> bool;
}

/// A datagram protocol's handle on its socket: send, connect, stop.
///
/// Cheap to clone; `!Send`.
#[derive(Clone)]
pub struct DatagramTransport {
    inner: Rc<dyn Ops>,
}

impl DatagramTransport {
    /// Sends one datagram to `to`.
    ///
    /// # Errors
    ///
    /// The OS error; `WouldBlock` when the socket's buffer is full (the datagram is dropped,
    /// as UDP may); `InvalidInput` for an address of the wrong kind.
    pub fn write_to(&self, data: &[u8], to: &Address) -> io::Result<()> {
        self.inner.write_to(data, to)
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// As [`write_to`](DatagramTransport::write_to); `NotConnected` before `connect`.
    pub fn write(&self, data: &[u8]) -> io::Result<()> {
        self.inner.write(data)
    }

    /// Connected UDP: sends to `to` only and hears from it only; a closed port is reported
    /// to [`DatagramProtocol::connection_refused`].
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn connect(&self, to: &Address) -> io::Result<()> {
        self.inner.connect(to)
    }

    /// The connected peer, if any.
    pub fn peer(&self) -> Option<Address> {
        self.inner.peer()
    }

    /// The bound address.
    pub fn host(&self) -> Address {
        self.inner.host()
    }

    /// Closes the socket; the protocol's `stop_protocol` runs at the next turn.
    pub fn stop_listening(&self) {
        self.inner.stop_listening()
    }

    /// Whether the socket is open.
    pub fn is_listening(&self) -> bool {
        self.inner.is_listening()
    }
}

impl fmt::Debug for DatagramTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramTransport")
            .field("host", &self.host())
            .field("peer", &self.peer())
            .finish()
    }
}

struct Port<S: DatagramSocket> {
    me: Weak<Port<S>>,
    socket: RefCell<Option<S>>,
    registration: RefCell<Option<IoRegistration>>,
    protocol: RefCell<Option<Box<dyn DatagramProtocol>>>,
    host: Address,
    peer: RefCell<Option<Address>>,
    /// Removes a Unix socket file when the port stops (or when it is dropped).
    on_stop: RefCell<Option<Box<dyn FnOnce()>>>,
    /// The shutdown trigger that stops the port (see `live::stop_at_shutdown`).
    at_shutdown: Cell<Option<TriggerId>>,
    /// Where the port was made (for the watchdog's report).
    site: Site,
}

impl<S: DatagramSocket> Port<S> {
    fn start(
        mut socket: S,
        protocol: Box<dyn DatagramProtocol>,
        on_stop: Option<Box<dyn FnOnce()>>,
        site: Site,
    ) -> io::Result<DatagramTransport> {
        let host = socket.local()?;
        let port = Rc::new_cyclic(|me| Port {
            me: me.clone(),
            socket: RefCell::new(None),
            registration: RefCell::new(None),
            protocol: RefCell::new(Some(protocol)),
            host,
            peer: RefCell::new(None),
            on_stop: RefCell::new(on_stop),
            at_shutdown: Cell::new(None),
            site,
        });
        let registration = crate::reactor::current().inner.register_io(
            &mut socket,
            Interest::READABLE,
            port.clone(),
            site,
        )?;
        *port.socket.borrow_mut() = Some(socket);
        *port.registration.borrow_mut() = Some(registration);
        let weak: Weak<Port<S>> = Rc::downgrade(&port);
        port.at_shutdown
            .set(live::stop_at_shutdown(weak as Weak<dyn live::Live>));
        let transport = DatagramTransport {
            inner: port.clone(),
        };
        if let Some(p) = port.protocol.borrow_mut().as_mut() {
            p.start_protocol(transport.clone());
        }
        Ok(transport)
    }

    fn with_protocol(&self, f: impl FnOnce(&mut dyn DatagramProtocol)) {
        if let Some(p) = self.protocol.borrow_mut().as_mut() {
            f(&mut **p);
        }
    }

    fn read_some(&self) {
        for _ in 0..DATAGRAM_BATCH {
            let mut buf = take_read_buf();
            let res = match self.socket.borrow().as_ref() {
                Some(s) => s.recv_from(&mut buf),
                None => {
                    put_read_buf(buf);
                    return;
                }
            };
            match res {
                Ok((n, from)) => self.with_protocol(|p| p.datagram_received(&buf[..n], from)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    put_read_buf(buf);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    self.with_protocol(|p| p.connection_refused())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => tracing::warn!(target: "fate::net", "receiving on {}: {e}", self.host),
            }
            put_read_buf(buf);
        }
        let me = self.me.upgrade().expect("port alive");
        crate::reactor::current().call_soon_as(Kind::IoHandler, self.site, move || me.read_some());
    }
}

impl<S: DatagramSocket> Drop for Port<S> {
    /// Dropped without `stop_listening` (with its reactor): removes a Unix socket file while
    /// the socket is still open (see `SocketFile`).
    fn drop(&mut self) {
        if let Some(on_stop) = self.on_stop.get_mut().take() {
            on_stop();
        }
    }
}

/// A reactor shutdown stops the port, which removes a Unix socket file.
impl<S: DatagramSocket> live::Live for Port<S> {
    fn shut_down(&self) {
        self.stop_listening();
    }
}

impl<S: DatagramSocket> IoHandler for Port<S> {
    fn ready(&self, _r: Readiness) {
        self.read_some();
    }
}

impl<S: DatagramSocket> Ops for Port<S> {
    fn write_to(&self, data: &[u8], to: &Address) -> io::Result<()> {
        match self.socket.borrow().as_ref() {
            Some(s) => s.send_to(data, to).map(drop),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn write(&self, data: &[u8]) -> io::Result<()> {
        if self.peer.borrow().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "write needs a connected datagram transport: use write_to or connect first",
            ));
        }
        match self.socket.borrow().as_ref() {
            Some(s) => s.send(data).map(drop),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn connect(&self, to: &Address) -> io::Result<()> {
        match self.socket.borrow().as_ref() {
            Some(s) => s.connect(to)?,
            None => return Err(io::ErrorKind::NotConnected.into()),
        }
        *self.peer.borrow_mut() = Some(to.clone());
        Ok(())
    }

    fn peer(&self) -> Option<Address> {
        self.peer.borrow().clone()
    }

    fn host(&self) -> Address {
        self.host.clone()
    }

    fn stop_listening(&self) {
        let Some(mut socket) = self.socket.borrow_mut().take() else {
            return;
        };
        if let Some(r) = self.registration.borrow_mut().take() {
            let _ = r.deregister(&mut socket);
        }
        // Before the socket closes: see `SocketFile`.
        if let Some(on_stop) = self.on_stop.borrow_mut().take() {
            on_stop();
        }
        drop(socket);
        live::forget_at_shutdown(self.at_shutdown.take());
        let me = self.me.upgrade().expect("port alive");
        crate::reactor::current().call_soon(move || {
            let protocol = me.protocol.borrow_mut().take();
            if let Some(mut p) = protocol {
                p.stop_protocol();
            }
        });
    }

    fn is_listening(&self) -> bool {
        self.socket.borrow().is_some()
    }
}

/// Binds a UDP socket to `addr` (port 0 picks one) and runs `protocol` on it.
///
/// # Errors
///
/// The OS error, naming the address.
#[track_caller]
pub fn listen_udp(
    addr: SocketAddr,
    protocol: impl DatagramProtocol,
) -> io::Result<DatagramTransport> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot bind UDP {addr}: {e}"));
    #[cfg(feature = "testing")]
    if crate::testing::sim::socket::current().is_some() {
        let socket = crate::testing::sim::socket::SimUdp::bind(addr).map_err(named)?;
        return Port::start(socket, Box::new(protocol), None, Location::caller());
    }
    let socket = mio::net::UdpSocket::bind(addr).map_err(named)?;
    Port::start(socket, Box::new(protocol), None, Location::caller())
}

/// Binds a Unix datagram socket to `path` and runs `protocol` on it. A stale socket file at
/// `path` (nobody bound to it) is replaced; the file is removed when the transport stops
/// listening or is dropped with its reactor, unless another socket has taken the path since.
///
/// # Errors
///
/// The OS error, naming the path: `AddrInUse` if another socket is bound there,
/// `AlreadyExists` if something other than a socket is there (it is left alone).
#[track_caller]
pub fn listen_unix_datagram(
    path: impl AsRef<Path>,
    protocol: impl DatagramProtocol,
) -> io::Result<DatagramTransport> {
    let path = path.as_ref();
    let (socket, file) = SocketFile::bind(path, socket2::Type::DGRAM).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot bind unix datagram {}: {e}", path.display()),
        )
    })?;
    let socket = mio::net::UnixDatagram::from_std(socket.into());
    // Dropping the file removes it: when the port stops, or when it is dropped.
    let on_stop = Box::new(move || drop(file));
    Port::start(
        socket,
        Box::new(protocol),
        Some(on_stop),
        Location::caller(),
    )
}
