//! TCP: `listen_tcp` and `connect_tcp` (Twisted's `IReactorTCP`).

use std::io;
use std::net::SocketAddr;

use crate::net::connector::Target;
use crate::net::listener::Listener;
use crate::net::{ClientFactory, ConnectOptions, Connector, Factory, ListenOptions, ListeningPort};

/// Listens on `addr` (port 0 picks a free port), serving each connection with a protocol
/// from `factory`.
///
/// Accepted sockets get `TCP_NODELAY`. Accept errors such as `EMFILE` are logged and
/// accepting pauses for [`ListenOptions::accept_retry_delay`]: the listener survives.
///
/// # Errors
///
/// The OS error, with the address in its message (address in use, permission denied).
///
/// # Examples
///
/// ```
/// use fate::net::{self, for_protocol, Protocol, Transport};
///
/// struct Echo(Option<Transport>);
/// impl Protocol for Echo {
///     fn connection_made(&mut self, t: Transport) {
///         self.0 = Some(t);
///     }
///     fn data_received(&mut self, data: &[u8]) {
///         self.0.as_ref().unwrap().write(data);
///     }
/// }
///
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// let port = net::listen_tcp("127.0.0.1:0".parse().unwrap(), for_protocol(|| Echo(None))).unwrap();
/// assert_ne!(port.host().port(), Some(0));
/// port.stop_listening();
/// # drop(reactor);
/// ```
#[track_caller]
pub fn listen_tcp(addr: SocketAddr, factory: impl Factory) -> io::Result<ListeningPort> {
    listen_tcp_with(addr, factory, &ListenOptions::new())
}

/// [`listen_tcp`] with options: backlog, `SO_REUSEPORT`, accept-error pause, TLS.
///
/// # Errors
///
/// As [`listen_tcp`].
#[track_caller]
pub fn listen_tcp_with(
    addr: SocketAddr,
    factory: impl Factory,
    options: &ListenOptions,
) -> io::Result<ListeningPort> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
    #[cfg(feature = "testing")]
    if crate::testing::sim::socket::current().is_some() {
        let listener = crate::testing::sim::socket::SimListener::bind(addr).map_err(named)?;
        return Listener::start(listener, Box::new(factory), options.clone(), None);
    }
    let listener = bind_tcp(addr, options).map_err(named)?;
    Listener::start(listener, Box::new(factory), options.clone(), None)
}

/// Serves connections on a listening socket made elsewhere (bound, `listen` called), as
/// Twisted's `adoptStreamPort`; it is made non-blocking here.
///
/// # Errors
///
/// If the socket cannot be made non-blocking or registered.
#[track_caller]
pub fn adopt_tcp_listener(
    listener: std::net::TcpListener,
    factory: impl Factory,
) -> io::Result<ListeningPort> {
    listener.set_nonblocking(true)?;
    Listener::start(
        mio::net::TcpListener::from_std(listener),
        Box::new(factory),
        ListenOptions::new(),
        None,
    )
}

/// A non-blocking TCP listening socket made with socket2 (real backlog, reuse options),
/// shared with the other workers of a pool when this thread is one.
pub(crate) fn bind_tcp(
    addr: SocketAddr,
    options: &ListenOptions,
) -> io::Result<mio::net::TcpListener> {
    crate::pool::ports::bind_shared(addr, options.reuse_port, |addr, reuse_port| {
        let socket = bind_socket(addr, options, reuse_port)?;
        let bound = socket.local_addr()?;
        Ok((socket, bound))
    })
}

fn bind_socket(
    addr: SocketAddr,
    options: &ListenOptions,
    reuse_port: bool,
) -> io::Result<mio::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    if options.reuse_address {
        socket.set_reuse_address(true)?;
    }
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(options.backlog)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

/// Connects to `host:port` (a name is resolved off the loop thread), building the protocol
/// with `factory` and telling it how the attempt went; 30 s timeout.
///
/// The attempt starts at the next turn; the returned [`Connector`] can stop it or, later,
/// connect again.
///
/// # Examples
///
/// Nothing listens on the port: the factory hears `Refused`.
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use fate::net::{self, Address, ClientFactory, ConnectError, Connector, Protocol};
///
/// struct Report(Rc<RefCell<Option<String>>>);
/// impl ClientFactory for Report {
///     fn build_protocol(&mut self, _: &Address) -> Option<Box<dyn Protocol>> {
///         None
///     }
///     fn client_connection_failed(&mut self, _: &Connector, reason: &ConnectError) {
///         *self.0.borrow_mut() = Some(reason.to_string());
///     }
/// }
///
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
/// let seen = Rc::new(RefCell::new(None));
/// net::connect_tcp("127.0.0.1", free.port(), Report(seen.clone()));
/// reactor.run_until_idle().unwrap();
/// assert!(seen.borrow().as_ref().unwrap().contains("refused"));
/// ```
#[track_caller]
pub fn connect_tcp(host: &str, port: u16, factory: impl ClientFactory) -> Connector {
    connect_tcp_with(host, port, factory, &ConnectOptions::new())
}

/// [`connect_tcp`] with options: timeout, local address, TLS.
#[track_caller]
pub fn connect_tcp_with(
    host: &str,
    port: u16,
    factory: impl ClientFactory,
    options: &ConnectOptions,
) -> Connector {
    let connector = Connector::new(
        Target::Tcp {
            host: host.to_string(),
            port,
        },
        Box::new(factory),
        options.clone(),
    );
    connector.connect();
    connector
}
