//! A transport that records what is written, for testing protocols without sockets
//! (Twisted's `proto_helpers.StringTransport`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::rc::Rc;

use crate::net::{Address, Producer, ProducerError, ProducerMode, RawTransport, Transport};

/// Where a transport stands as a producer (Twisted's `producerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProducerState {
    /// Reading (the default).
    Producing,
    /// `pause_producing` was called.
    Paused,
    /// `stop_producing` was called.
    Stopped,
}

#[derive(Default)]
struct State {
    written: RefCell<Vec<u8>>,
    disconnecting: Cell<bool>,
    aborted: Cell<bool>,
    write_shut: Cell<bool>,
    producer: RefCell<Option<(Rc<dyn Producer>, ProducerMode)>>,
    paused: Cell<bool>,
    stopped: Cell<bool>,
    limits: Cell<(usize, usize)>,
    no_delay: Cell<bool>,
    keep_alive: Cell<bool>,
    host: RefCell<Option<Address>>,
    peer: RefCell<Option<Address>>,
}

/// A fake transport: writes are appended to a buffer the test reads with
/// [`value`](StringTransport::value); closing only sets flags.
///
/// Nothing is sent anywhere and nothing calls the protocol back: the test drives the
/// protocol by calling its methods, and checks what it wrote.
///
/// # Examples
///
/// Feeding a protocol one byte at a time:
///
/// ```
/// use fate::net::Protocol;
/// use fate::protocols::{LineHandler, LineReceiver, Lines};
/// use fate::testing::StringTransport;
///
/// struct Shout;
/// impl LineHandler for Shout {
///     fn line_received(&mut self, lines: &mut Lines, line: &[u8]) {
///         lines.send_line(&line.to_ascii_uppercase());
///     }
/// }
///
/// let t = StringTransport::new();
/// let mut p = LineReceiver::new(Shout);
/// p.connection_made(t.transport());
/// for byte in b"hi\r\nyo\r\n" {
///     p.data_received(&[*byte]);
/// }
/// assert_eq!(t.value(), b"HI\r\nYO\r\n");
/// ```
#[derive(Clone, Default)]
pub struct StringTransport {
    state: Rc<State>,
}

impl StringTransport {
    /// An open transport with memory addresses `host` and `peer`.
    pub fn new() -> StringTransport {
        let t = StringTransport::default();
        t.state.limits.set((64 * 1024, 16 * 1024));
        t
    }

    /// A transport reporting these addresses.
    pub fn with_addresses(host: Address, peer: Address) -> StringTransport {
        let t = StringTransport::new();
        *t.state.host.borrow_mut() = Some(host);
        *t.state.peer.borrow_mut() = Some(peer);
        t
    }

    /// The [`Transport`] to give the protocol.
    pub fn transport(&self) -> Transport {
        Transport::new(Rc::new(self.clone()))
    }

    /// Everything written so far.
    pub fn value(&self) -> Vec<u8> {
        self.state.written.borrow().clone()
    }

    /// Forgets what was written.
    pub fn clear(&self) {
        self.state.written.borrow_mut().clear();
    }

    /// Returns what was written and forgets it.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.state.written.borrow_mut())
    }

    /// Whether `lose_connection` or `abort_connection` was called.
    pub fn disconnecting(&self) -> bool {
        self.state.disconnecting.get()
    }

    /// Whether `abort_connection` was called.
    pub fn aborted(&self) -> bool {
        self.state.aborted.get()
    }

    /// Whether `lose_write_connection` was called.
    pub fn write_shut(&self) -> bool {
        self.state.write_shut.get()
    }

    /// The registered producer and its mode.
    pub fn producer(&self) -> Option<(Rc<dyn Producer>, ProducerMode)> {
        self.state.producer.borrow().clone()
    }

    /// Where the transport stands as a producer.
    pub fn producer_state(&self) -> ProducerState {
        if self.state.stopped.get() {
            ProducerState::Stopped
        } else if self.state.paused.get() {
            ProducerState::Paused
        } else {
            ProducerState::Producing
        }
    }

    /// The last `TCP_NODELAY` and `SO_KEEPALIVE` settings.
    pub fn socket_options(&self) -> (bool, bool) {
        (self.state.no_delay.get(), self.state.keep_alive.get())
    }
}

impl RawTransport for StringTransport {
    fn write(&self, data: &[u8]) {
        if !self.state.write_shut.get() {
            self.state.written.borrow_mut().extend_from_slice(data);
        }
    }
    fn lose_connection(&self) {
        self.state.disconnecting.set(true);
    }
    fn abort_connection(&self) {
        self.state.disconnecting.set(true);
        self.state.aborted.set(true);
    }
    fn lose_write_connection(&self) {
        self.state.write_shut.set(true);
    }
    fn peer(&self) -> Address {
        self.state
            .peer
            .borrow()
            .clone()
            .unwrap_or_else(|| Address::Memory("peer".into()))
    }
    fn host(&self) -> Address {
        self.state
            .host
            .borrow()
            .clone()
            .unwrap_or_else(|| Address::Memory("host".into()))
    }
    fn set_no_delay(&self, on: bool) -> io::Result<()> {
        self.state.no_delay.set(on);
        Ok(())
    }
    fn set_keep_alive(&self, on: bool) -> io::Result<()> {
        self.state.keep_alive.set(on);
        Ok(())
    }
    fn register_producer(
        &self,
        producer: Rc<dyn Producer>,
        mode: ProducerMode,
    ) -> Result<(), ProducerError> {
        if self.state.producer.borrow().is_some() {
            return Err(ProducerError::AlreadyRegistered);
        }
        *self.state.producer.borrow_mut() = Some((producer, mode));
        Ok(())
    }
    fn unregister_producer(&self) {
        self.state.producer.borrow_mut().take();
    }
    fn pause_producing(&self) {
        self.state.paused.set(true);
    }
    fn resume_producing(&self) {
        self.state.paused.set(false);
    }
    fn stop_producing(&self) {
        self.state.stopped.set(true);
        self.state.disconnecting.set(true);
    }
    fn set_write_buffer_limits(&self, high: usize, low: usize) {
        self.state.limits.set((high, low));
    }
    fn buffered(&self) -> usize {
        0
    }
    fn is_connected(&self) -> bool {
        !self.state.disconnecting.get()
    }
    fn is_disconnecting(&self) -> bool {
        self.state.disconnecting.get()
    }
    #[cfg(feature = "tls")]
    fn start_tls(&self, _role: crate::net::TlsRole) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a StringTransport cannot start TLS",
        ))
    }
}

impl fmt::Debug for StringTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StringTransport")
            .field("written", &self.state.written.borrow().len())
            .field("disconnecting", &self.state.disconnecting.get())
            .finish()
    }
}
