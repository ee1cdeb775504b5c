//! A reactor stand-in that records listens and connects, and an in-memory pipe that joins
//! two protocols (Twisted's `MemoryReactor` and `iosim.connectedServerAndClient`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use crate::net::listener::Port;
use crate::net::{
    Address, ClientFactory, CloseReason, Factory, ListeningPort, Network, Producer, ProducerError,
    ProducerMode, Protocol, RawTransport, Transport,
};

struct Server {
    addr: SocketAddr,
    factory: Box<dyn Factory>,
    listening: Rc<Cell<bool>>,
}

struct Client {
    host: String,
    port: u16,
    factory: Box<dyn ClientFactory>,
}

#[derive(Default)]
struct State {
    servers: Vec<Server>,
    clients: Vec<Client>,
    next_port: u16,
}

/// Records `listen_tcp` and `connect_tcp` instead of touching sockets, so code written
/// against [`Network`] can be tested without the OS; [`MemoryReactor::connect`] then joins a
/// recorded server and client with an in-memory [`PipePump`].
///
/// # Examples
///
/// ```
/// use fate::net::{for_protocol, Network, Protocol, Transport};
/// use fate::testing::MemoryReactor;
///
/// #[derive(Default)]
/// struct Echo(Option<Transport>);
/// impl Protocol for Echo {
///     fn connection_made(&mut self, t: Transport) { self.0 = Some(t); }
///     fn data_received(&mut self, d: &[u8]) { self.0.as_ref().unwrap().write(d); }
/// }
/// struct Hello(Option<Transport>, std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
/// impl Protocol for Hello {
///     fn connection_made(&mut self, t: Transport) { t.write(b"hello"); self.0 = Some(t); }
///     fn data_received(&mut self, d: &[u8]) { self.1.borrow_mut().extend_from_slice(d); }
/// }
///
/// // Code under test: starts a server and a client on whatever network it is given.
/// fn start(net: &impl Network, got: std::rc::Rc<std::cell::RefCell<Vec<u8>>>) {
///     net.listen_tcp("127.0.0.1:0".parse().unwrap(), Box::new(for_protocol(Echo::default))).unwrap();
///     net.connect_tcp("127.0.0.1", 8000, Box::new(for_protocol(move || Hello(None, got.clone()))));
/// }
///
/// let memory = MemoryReactor::new();
/// let got = std::rc::Rc::default();
/// start(&memory, std::rc::Rc::clone(&got));
/// assert_eq!(memory.tcp_servers().len(), 1);
/// assert_eq!(memory.tcp_clients(), [("127.0.0.1".to_string(), 8000)]);
/// let pump = memory.connect(0, 0).unwrap();
/// pump.flush();
/// assert_eq!(&*got.borrow(), b"hello");
/// ```
#[derive(Clone, Default)]
pub struct MemoryReactor {
    state: Rc<RefCell<State>>,
}

impl MemoryReactor {
    /// An empty record.
    pub fn new() -> MemoryReactor {
        MemoryReactor::default()
    }

    /// The addresses of recorded listens, in order (port 0 replaced by a made-up port).
    pub fn tcp_servers(&self) -> Vec<SocketAddr> {
        self.state.borrow().servers.iter().map(|s| s.addr).collect()
    }

    /// The targets of recorded connects, in order.
    pub fn tcp_clients(&self) -> Vec<(String, u16)> {
        self.state
            .borrow()
            .clients
            .iter()
            .map(|c| (c.host.clone(), c.port))
            .collect()
    }

    /// Builds a protocol with server factory `server` and one with client factory `client`
    /// and joins them with a pipe; `None` if an index is out of range, the server stopped
    /// listening, or a factory refuses.
    pub fn connect(&self, server: usize, client: usize) -> Option<PipePump> {
        let mut state = self.state.borrow_mut();
        let listening = state.servers.get(server)?.listening.get();
        if !listening {
            return None;
        }
        let server_addr = Address::Inet(state.servers[server].addr);
        let client_addr = Address::Memory(format!("client-{client}"));
        let s = state.servers[server].factory.build_protocol(&client_addr)?;
        let c = state
            .clients
            .get_mut(client)?
            .factory
            .build_protocol(&server_addr)?;
        drop(state);
        Some(connect_pipe(s, server_addr, c, client_addr))
    }
}

impl Network for MemoryReactor {
    fn listen_tcp(&self, addr: SocketAddr, factory: Box<dyn Factory>) -> io::Result<ListeningPort> {
        let mut state = self.state.borrow_mut();
        let mut addr = addr;
        if addr.port() == 0 {
            state.next_port = state.next_port.max(40000) + 1;
            addr.set_port(state.next_port);
        }
        let listening = Rc::new(Cell::new(true));
        let mut factory = factory;
        factory.start_factory();
        state.servers.push(Server {
            addr,
            factory,
            listening: listening.clone(),
        });
        Ok(ListeningPort::new(Rc::new(MemoryPort { addr, listening })))
    }

    fn connect_tcp(&self, host: &str, port: u16, factory: Box<dyn ClientFactory>) {
        self.state.borrow_mut().clients.push(Client {
            host: host.to_string(),
            port,
            factory,
        });
    }
}

impl fmt::Debug for MemoryReactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReactor")
            .field("tcp_servers", &self.tcp_servers())
            .field("tcp_clients", &self.tcp_clients())
            .finish()
    }
}

struct MemoryPort {
    addr: SocketAddr,
    listening: Rc<Cell<bool>>,
}

impl Port for MemoryPort {
    fn host(&self) -> Address {
        Address::Inet(self.addr)
    }
    fn stop_listening(&self) {
        self.listening.set(false);
    }
    fn is_listening(&self) -> bool {
        self.listening.get()
    }
    fn accept_errors(&self) -> u64 {
        0
    }
}

/// One end of a pipe: what its protocol wrote, and how it wants to close.
struct End {
    protocol: RefCell<Option<Box<dyn Protocol>>>,
    outbox: RefCell<Vec<u8>>,
    host: Address,
    peer: Address,
    disconnecting: Cell<bool>,
    aborted: Cell<bool>,
    write_shut: Cell<bool>,
    paused: Cell<bool>,
    producer: RefCell<Option<(Rc<dyn Producer>, ProducerMode)>>,
}

impl End {
    fn new(protocol: Box<dyn Protocol>, host: Address, peer: Address) -> Rc<End> {
        Rc::new(End {
            protocol: RefCell::new(Some(protocol)),
            outbox: RefCell::new(Vec::new()),
            host,
            peer,
            disconnecting: Cell::new(false),
            aborted: Cell::new(false),
            write_shut: Cell::new(false),
            paused: Cell::new(false),
            producer: RefCell::new(None),
        })
    }

    fn with(&self, f: impl FnOnce(&mut dyn Protocol)) {
        if let Some(p) = self.protocol.borrow_mut().as_mut() {
            f(&mut **p);
        }
    }
}

impl RawTransport for End {
    fn write(&self, data: &[u8]) {
        if !self.write_shut.get() && self.protocol.try_borrow().map_or(true, |p| p.is_some()) {
            self.outbox.borrow_mut().extend_from_slice(data);
        }
    }
    fn lose_connection(&self) {
        self.disconnecting.set(true);
    }
    fn abort_connection(&self) {
        self.disconnecting.set(true);
        self.aborted.set(true);
        self.outbox.borrow_mut().clear();
    }
    fn lose_write_connection(&self) {
        self.write_shut.set(true);
    }
    fn peer(&self) -> Address {
        self.peer.clone()
    }
    fn host(&self) -> Address {
        self.host.clone()
    }
    fn set_no_delay(&self, _on: bool) -> io::Result<()> {
        Ok(())
    }
    fn set_keep_alive(&self, _on: bool) -> io::Result<()> {
        Ok(())
    }
    fn register_producer(
        &self,
        producer: Rc<dyn Producer>,
        mode: ProducerMode,
    ) -> Result<(), ProducerError> {
        if self.producer.borrow().is_some() {
            return Err(ProducerError::AlreadyRegistered);
        }
        *self.producer.borrow_mut() = Some((producer, mode));
        Ok(())
    }
    fn unregister_producer(&self) {
        self.producer.borrow_mut().take();
    }
    fn pause_producing(&self) {
        self.paused.set(true);
    }
    fn resume_producing(&self) {
        self.paused.set(false);
    }
    fn set_write_buffer_limits(&self, _high: usize, _low: usize) {}
    fn buffered(&self) -> usize {
        self.outbox.borrow().len()
    }
    fn is_connected(&self) -> bool {
        self.protocol.try_borrow().map_or(true, |p| p.is_some())
    }
    fn is_disconnecting(&self) -> bool {
        self.disconnecting.get()
    }
    #[cfg(feature = "tls")]
    fn start_tls(&self, _role: crate::net::TlsRole) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "an in-memory pipe cannot start TLS",
        ))
    }
}

/// Two protocols joined in memory; [`flush`](PipePump::flush) moves bytes between them.
pub struct PipePump {
    server: Rc<End>,
    client: Rc<End>,
}

/// Joins `server` and `client` (calling both `connection_made`s, server first) with an
/// in-memory pipe; nothing moves until [`PipePump::flush`].
pub fn connect_pipe(
    server: Box<dyn Protocol>,
    server_addr: Address,
    client: Box<dyn Protocol>,
    client_addr: Address,
) -> PipePump {
    let s = End::new(server, server_addr.clone(), client_addr.clone());
    let c = End::new(client, client_addr, server_addr);
    s.with(|p| p.connection_made(Transport::new(s.clone())));
    c.with(|p| p.connection_made(Transport::new(c.clone())));
    PipePump {
        server: s,
        client: c,
    }
}

impl PipePump {
    /// Delivers what each side wrote to the other until neither writes more (a side paused
    /// as a producer receives nothing); then, if a side asked to close, both get
    /// `connection_lost`. Returns whether any bytes moved.
    pub fn flush(&self) -> bool {
        let mut moved = false;
        loop {
            let mut any = false;
            for (from, to) in [(&self.client, &self.server), (&self.server, &self.client)] {
                if to.paused.get() || to.protocol.borrow().is_none() {
                    continue;
                }
                let data = std::mem::take(&mut *from.outbox.borrow_mut());
                if !data.is_empty() {
                    any = true;
                    to.with(|p| p.data_received(&data));
                }
            }
            if !any {
                break;
            }
            moved = true;
        }
        let closing = self.server.disconnecting.get() || self.client.disconnecting.get();
        let drained =
            self.server.outbox.borrow().is_empty() && self.client.outbox.borrow().is_empty();
        if closing && (drained || self.server.aborted.get() || self.client.aborted.get()) {
            for end in [&self.server, &self.client] {
                let reason = if end.aborted.get() {
                    CloseReason::Aborted
                } else {
                    CloseReason::Done
                };
                let protocol = end.protocol.borrow_mut().take();
                if let Some(mut p) = protocol {
                    p.connection_lost(reason);
                }
                if let Some((producer, _)) = end.producer.borrow_mut().take() {
                    producer.stop_producing();
                }
            }
        }
        moved
    }

    /// Whether both protocols have been told the connection is lost.
    pub fn is_closed(&self) -> bool {
        self.server.protocol.borrow().is_none() && self.client.protocol.borrow().is_none()
    }
}

impl fmt::Debug for PipePump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipePump")
            .field("closed", &self.is_closed())
            .finish()
    }
}
