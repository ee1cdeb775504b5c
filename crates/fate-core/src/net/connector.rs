//! Outgoing connections: resolve, connect with a timeout, build the protocol, tell the
//! factory (Twisted's `IConnector`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::panic::Location;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use mio::Interest;

use crate::net::stream::Conn;
use crate::net::{dns, Address, ClientFactory, CloseReason, ConnectError, StreamSocket, Transport};
use crate::reactor::io::{IoHandler, IoRegistration, Readiness};
use crate::reactor::watchdog::{Kind, Site};
use crate::time::DelayedCall;

/// How to connect: timeout, local address, TLS.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fate::net::ConnectOptions;
///
/// let options = ConnectOptions::new().timeout(Duration::from_secs(5));
/// assert_eq!(options.get_timeout(), Some(Duration::from_secs(5)));
/// ```
#[derive(Clone, Default)]
pub struct ConnectOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) bind: Option<SocketAddr>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<(crate::net::TlsClientConfig, String)>,
}

impl ConnectOptions {
    /// A 30 s timeout (Twisted's default), any local address, no TLS.
    pub fn new() -> ConnectOptions {
        ConnectOptions {
            timeout: Some(Duration::from_secs(30)),
            ..ConnectOptions::default()
        }
    }

    /// Gives up (with [`ConnectError::TimedOut`]) if resolving and connecting take longer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Waits as long as the OS does.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// The timeout set.
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Binds the local end to `addr` before connecting (TCP only).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = Some(addr);
        self
    }

    /// Starts TLS as soon as the connection is made, verifying the peer as `server_name`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::net::TlsClientConfig, server_name: &str) -> Self {
        self.tls = Some((config, server_name.to_string()));
        self
    }
}

impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("timeout", &self.timeout)
            .field("bind", &self.bind)
            .finish_non_exhaustive()
    }
}

/// Where a connector connects to.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "{host}:{port}"),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A connector's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectorState {
    /// Not connected, not trying.
    Disconnected,
    /// Resolving or connecting.
    Connecting,
    /// Connected; the protocol is running.
    Connected,
}

type Observer = Box<dyn FnOnce(Result<Transport, ConnectError>)>;

struct Inner {
    target: Target,
    factory: RefCell<Box<dyn ClientFactory>>,
    options: ConnectOptions,
    state: Cell<ConnectorState>,
    /// Bumped by each attempt and by `stop_connecting`: late results of an older attempt
    /// are ignored.
    generation: Cell<u64>,
    /// The in-flight socket attempt, if any.
    attempt: RefCell<Option<Rc<dyn Abort>>>,
    /// The connect timeout of the current attempt.
    timer: RefCell<Option<DelayedCall>>,
    /// The live connection's transport.
    transport: RefCell<Option<Transport>>,
    /// Where the connector was made (`connect_*`): the watchdog's report names it for the
    /// attempt and the connection.
    site: Site,
    /// Told of the next attempt's outcome (endpoints' Deferreds).
    observers: RefCell<Vec<Observer>>,
}

/// A handle on an outgoing connection and its attempts: Twisted's `IConnector`.
///
/// Cheap to clone. The factory's hooks receive it; calling [`connect`](Connector::connect)
/// from `client_connection_lost` or `client_connection_failed` tries again.
///
/// # Cancellation
///
/// Dropping it changes nothing: the attempt and the connection go on.
#[derive(Clone)]
pub struct Connector {
    inner: Rc<Inner>,
}

/// An attempt that can be abandoned.
trait Abort {
    fn abort(&self);
}

impl Connector {
    #[track_caller]
    pub(crate) fn new(
        target: Target,
        factory: Box<dyn ClientFactory>,
        options: ConnectOptions,
    ) -> Connector {
        Connector {
            inner: Rc::new(Inner {
                target,
                site: Location::caller(),
                factory: RefCell::new(factory),
                options,
                state: Cell::new(ConnectorState::Disconnected),
                generation: Cell::new(0),
                attempt: RefCell::new(None),
                timer: RefCell::new(None),
                transport: RefCell::new(None),
                observers: RefCell::new(Vec::new()),
            }),
        }
    }

    /// Starts an attempt (at the next turn, where the factory's `started_connecting` runs).
    /// Does nothing unless [`Disconnected`](ConnectorState::Disconnected).
    pub fn connect(&self) {
        if self.inner.state.get() != ConnectorState::Disconnected {
            return;
        }
        self.inner.state.set(ConnectorState::Connecting);
        let generation = self.inner.generation.get() + 1;
        self.inner.generation.set(generation);
        let me = self.clone();
        crate::reactor::current().call_soon_as(Kind::IoHandler, self.inner.site, move || {
            me.begin(generation)
        });
    }

    /// Abandons the attempt in progress; the factory's `client_connection_failed` gets
    /// [`ConnectError::Cancelled`]. Does nothing unless connecting.
    pub fn stop_connecting(&self) {
        if self.inner.state.get() == ConnectorState::Connecting {
            self.fail(self.inner.generation.get(), ConnectError::Cancelled);
        }
    }

    /// Closes the connection (`lose_connection`) or stops connecting.
    pub fn disconnect(&self) {
        match self.inner.state.get() {
            ConnectorState::Connecting => self.stop_connecting(),
            ConnectorState::Connected => {
                let t = self.inner.transport.borrow().clone();
                if let Some(t) = t {
                    t.lose_connection();
                }
            }
            ConnectorState::Disconnected => {}
        }
    }

    /// Where it connects to, as `host:port` or `unix:PATH`.
    pub fn destination(&self) -> String {
        self.inner.target.to_string()
    }

    /// Where it is in its life.
    pub fn state(&self) -> ConnectorState {
        self.inner.state.get()
    }

    /// The live connection's transport, while connected.
    pub fn transport(&self) -> Option<Transport> {
        self.inner.transport.borrow().clone()
    }

    /// Tells `f` how the next (or current) attempt ends.
    pub(crate) fn on_result(&self, f: impl FnOnce(Result<Transport, ConnectError>) + 'static) {
        self.inner.observers.borrow_mut().push(Box::new(f));
    }

    /// Runs `f` on the factory now, or at the next turn if the factory is running a hook
    /// (hooks may call back into the connector).
    fn with_factory(&self, f: impl FnOnce(&mut dyn ClientFactory, &Connector) + 'static) {
        match self.inner.factory.try_borrow_mut() {
            Ok(mut factory) => f(&mut **factory, self),
            Err(_) => {
                let me = self.clone();
                crate::reactor::current().call_soon_as(
                    Kind::IoHandler,
                    self.inner.site,
                    move || me.with_factory(f),
                );
            }
        }
    }

    fn begin(&self, generation: u64) {
        if self.inner.generation.get() != generation {
            return;
        }
        self.with_factory(|f, c| f.started_connecting(c));
        if let Some(timeout) = self.inner.options.timeout {
            let me = self.clone();
            let call = crate::reactor::current().call_later(timeout, move || {
                let addr = me.destination();
                me.fail(generation, ConnectError::TimedOut { addr, timeout });
            });
            *self.inner.timer.borrow_mut() = Some(call);
        }
        match self.inner.target.clone() {
            Target::Tcp { host, port } => {
                let me = self.clone();
                crate::task::spawn_local(async move {
                    let lookup = dns::lookup(&host, port);
                    let result = lookup.await;
                    if me.inner.generation.get() != generation {
                        return;
                    }
                    match result {
                        #[cfg(feature = "testing")]
                        Ok(addrs) if crate::testing::sim::socket::current().is_some() => {
                            let addrs = addrs.into_iter().map(Address::Inet).collect();
                            me.dial::<crate::testing::sim::socket::SimStream>(generation, addrs)
                        }
                        Ok(addrs) => me.dial::<mio::net::TcpStream>(generation, addrs),
                        Err(e) => me.fail(generation, e),
                    }
                })
                .detach();
            }
            #[cfg(feature = "testing")]
            Target::Unix(path) if crate::testing::sim::socket::current().is_some() => {
                let dest = vec![Address::Unix(Some(path))];
                self.dial::<crate::testing::sim::socket::SimStream>(generation, dest)
            }
            Target::Unix(path) => self.dial::<mio::net::UnixStream>(generation, vec![path]),
        }
    }

    /// Connects to the first of `dests` that accepts.
    fn dial<S: Dial>(&self, generation: u64, mut dests: Vec<S::Dest>) {
        dests.reverse();
        let Some(dest) = dests.pop() else {
            return;
        };
        let mut socket = match S::dial(&dest, self.inner.options.bind) {
            Ok(s) => s,
            Err(e) => return self.next_or_fail::<S>(generation, dests, &dest, e),
        };
        let attempt = Rc::new(Attempt::<S> {
            connector: self.clone(),
            generation,
            socket: RefCell::new(None),
            registration: RefCell::new(None),
            dest: dest.clone(),
            rest: RefCell::new(dests),
            done: Cell::new(false),
        });
        match crate::reactor::current().inner.register_io(
            &mut socket,
            Interest::READABLE | Interest::WRITABLE,
            attempt.clone(),
            self.inner.site,
        ) {
            Ok(registration) => {
                *attempt.socket.borrow_mut() = Some(socket);
                *attempt.registration.borrow_mut() = Some(registration);
                *self.inner.attempt.borrow_mut() = Some(attempt);
            }
            Err(e) => {
                let rest = attempt.rest.take();
                self.next_or_fail::<S>(generation, rest, &dest, e)
            }
        }
    }

    fn next_or_fail<S: Dial>(
        &self,
        generation: u64,
        rest: Vec<S::Dest>,
        dest: &S::Dest,
        e: io::Error,
    ) {
        if rest.is_empty() {
            self.fail(generation, ConnectError::from_io(S::address(dest), e));
        } else {
            let mut rest = rest;
            rest.reverse();
            self.dial::<S>(generation, rest);
        }
    }

    /// The attempt failed (or was cancelled, or timed out).
    fn fail(&self, generation: u64, error: ConnectError) {
        if self.inner.generation.get() != generation
            || self.inner.state.get() != ConnectorState::Connecting
        {
            return;
        }
        self.inner.generation.set(generation + 1);
        self.inner.state.set(ConnectorState::Disconnected);
        if let Some(attempt) = self.inner.attempt.borrow_mut().take() {
            attempt.abort();
        }
        if let Some(timer) = self.inner.timer.borrow_mut().take() {
            let _ = timer.cancel();
        }
        let observers = std::mem::take(&mut *self.inner.observers.borrow_mut());
        let for_factory = error.clone();
        self.with_factory(move |f, c| f.client_connection_failed(c, &for_factory));
        for o in observers {
            o(Err(error.clone()));
        }
    }

    /// The socket is connected: build the protocol and start the connection.
    fn connected<S: Dial>(&self, generation: u64, socket: S, peer: Address) {
        if self.inner.generation.get() != generation {
            return;
        }
        self.inner.attempt.borrow_mut().take();
        if let Some(timer) = self.inner.timer.borrow_mut().take() {
            let _ = timer.cancel();
        }
        socket.on_connected();
        let protocol = match self.inner.factory.try_borrow_mut() {
            Ok(mut f) => f.build_protocol(&peer),
            Err(_) => None,
        };
        let Some(protocol) = protocol else {
            return self.fail(generation, ConnectError::NoProtocol);
        };
        let me = self.clone();
        let on_close = Box::new(move |reason: &CloseReason| me.lost(reason));
        #[cfg(feature = "tls")]
        let tls =
            self.inner
                .options
                .tls
                .as_ref()
                .map(|(config, name)| crate::net::TlsRole::Client {
                    config: config.clone(),
                    server_name: name.clone(),
                });
        self.inner.state.set(ConnectorState::Connected);
        match Conn::start(
            &crate::reactor::current(),
            socket,
            peer,
            protocol,
            Some(on_close),
            self.inner.site,
            #[cfg(feature = "tls")]
            tls,
        ) {
            Ok(conn) => {
                let transport = conn.transport();
                *self.inner.transport.borrow_mut() = Some(transport.clone());
                let observers = std::mem::take(&mut *self.inner.observers.borrow_mut());
                for o in observers {
                    o(Ok(transport.clone()));
                }
            }
            Err(e) => {
                self.inner.state.set(ConnectorState::Connecting);
                let dest = self.destination();
                self.fail(generation, ConnectError::from_io(dest, e));
            }
        }
    }

    /// The connection ended.
    fn lost(&self, reason: &CloseReason) {
        self.inner.transport.borrow_mut().take();
        self.inner.state.set(ConnectorState::Disconnected);
        let reason = reason.clone();
        self.with_factory(move |f, c| f.client_connection_lost(c, &reason));
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("destination", &self.destination())
            .field("state", &self.state())
            .finish()
    }
}

/// A stream socket that can be connected without blocking.
pub(crate) trait Dial: StreamSocket + Sized {
    type Dest: Clone + 'static;
    fn dial(dest: &Self::Dest, bind: Option<SocketAddr>) -> io::Result<Self>;
    fn address(dest: &Self::Dest) -> Address;
    fn on_connected(&self) {}
}

impl Dial for mio::net::TcpStream {
    type Dest = SocketAddr;

    fn dial(dest: &SocketAddr, bind: Option<SocketAddr>) -> io::Result<Self> {
        let Some(bind) = bind else {
            return mio::net::TcpStream::connect(*dest);
        };
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(*dest),
            socket2::Type::STREAM.nonblocking().cloexec(),
            Some(socket2::Protocol::TCP),
        )?;
        socket.bind(&bind.into())?;
        match socket.connect(&(*dest).into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        Ok(mio::net::TcpStream::from_std(socket.into()))
    }

    fn address(dest: &SocketAddr) -> Address {
        Address::Inet(*dest)
    }

    fn on_connected(&self) {
        let _ = self.set_nodelay(true);
    }
}

impl Dial for mio::net::UnixStream {
    type Dest = PathBuf;

    fn dial(dest: &PathBuf, _bind: Option<SocketAddr>) -> io::Result<Self> {
        mio::net::UnixStream::connect(dest)
    }

    fn address(dest: &PathBuf) -> Address {
        Address::Unix(Some(dest.clone()))
    }
}

/// One socket on its way to being connected.
struct Attempt<S: Dial> {
    connector: Connector,
    generation: u64,
    socket: RefCell<Option<S>>,
    registration: RefCell<Option<IoRegistration>>,
    dest: S::Dest,
    /// Addresses to try if this one fails.
    rest: RefCell<Vec<S::Dest>>,
    done: Cell<bool>,
}

impl<S: Dial> Attempt<S> {
    fn take_socket(&self) -> Option<S> {
        let mut socket = self.socket.borrow_mut().take()?;
        if let Some(registration) = self.registration.borrow_mut().take() {
            let _ = registration.deregister(&mut socket);
        }
        Some(socket)
    }
}

impl<S: Dial> IoHandler for Attempt<S> {
    fn ready(&self, r: Readiness) {
        if self.done.get() {
            return;
        }
        let outcome = {
            let socket = self.socket.borrow();
            let Some(s) = socket.as_ref() else {
                return;
            };
            match s.take_error() {
                Ok(Some(e)) | Err(e) => Err(e),
                Ok(None) => match s.peer() {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                        if r.error || r.write_closed {
                            Err(io::Error::from(io::ErrorKind::ConnectionRefused))
                        } else {
                            Ok(false)
                        }
                    }
                    Err(e) => Err(e),
                },
            }
        };
        match outcome {
            Ok(false) => {}
            Ok(true) => {
                self.done.set(true);
                if let Some(socket) = self.take_socket() {
                    let peer = S::address(&self.dest);
                    self.connector.connected(self.generation, socket, peer);
                }
            }
            Err(e) => {
                self.done.set(true);
                drop(self.take_socket());
                let rest = self.rest.take();
                self.connector
                    .next_or_fail::<S>(self.generation, rest, &self.dest, e);
            }
        }
    }
}

impl<S: Dial> Abort for Attempt<S> {
    fn abort(&self) {
        self.done.set(true);
        drop(self.take_socket());
    }
}
