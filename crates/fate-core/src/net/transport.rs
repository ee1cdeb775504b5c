//! The transport a protocol writes to, and the producer/consumer flow-control contract.

use std::fmt;
use std::io;
use std::rc::Rc;

use crate::net::{Address, ProducerError};

/// Something that produces data for a transport and can be told to slow down: Twisted's
/// `IPushProducer` / `IPullProducer`.
///
/// Methods take `&self` because the transport calls them while the producer may itself be
/// running (a `write` that fills the buffer calls `pause_producing` at once): keep state in
/// `Cell`s.
pub trait Producer: 'static {
    /// Push producers: stop writing until [`resume_producing`](Producer::resume_producing).
    fn pause_producing(&self);

    /// Push producers: go on writing. Pull producers: write exactly one chunk now.
    fn resume_producing(&self);

    /// The consumer is gone (connection closed); stop for good.
    fn stop_producing(&self);
}

/// How a registered producer is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProducerMode {
    /// Writes on its own and is paused and resumed around the water marks (Twisted's
    /// `streaming=True`).
    Push,
    /// Writes one chunk each time it is asked, which happens whenever the buffer has drained
    /// (`streaming=False`).
    Pull,
}

/// The operations behind a [`Transport`], one implementation per kind of connection.
pub(crate) trait RawTransport {
    fn write(&self, data: &[u8]);
    fn write_sequence(&self, data: &[&[u8]]) {
        for chunk in data {
            self.write(chunk);
        }
    }
    fn lose_connection(&self);
    fn abort_connection(&self);
    fn lose_write_connection(&self);
    fn peer(&self) -> Address;
    fn host(&self) -> Address;
    fn set_no_delay(&self, on: bool) -> io::Result<()>;
    fn set_keep_alive(&self, on: bool) -> io::Result<()>;
    fn register_producer(
        &self,
        producer: Rc<dyn Producer>,
        mode: ProducerMode,
    ) -> Result<(), ProducerError>;
    fn unregister_producer(&self);
    fn pause_producing(&self);
    fn resume_producing(&self);
    fn stop_producing(&self) {
        self.lose_connection();
    }
    fn set_write_buffer_limits(&self, high: usize, low: usize);
    fn buffered(&self) -> usize;
    fn is_connected(&self) -> bool;
    fn is_disconnecting(&self) -> bool;
    #[cfg(feature = "tls")]
    fn start_tls(&self, role: crate::net::TlsRole) -> io::Result<()>;
}

/// A protocol's handle on its connection: write, close, flow control.
///
/// Cheap to clone (an `Rc`); `!Send`. Every connection kind (TCP, Unix, TLS, the test
/// `testing::StringTransport`) hands its protocol one of these.
///
/// # Writing
///
/// [`write`](Transport::write) never blocks and never fails: bytes the socket cannot take
/// now are buffered and sent when it can; an error surfaces later as
/// [`Protocol::connection_lost`](crate::net::Protocol::connection_lost).
///
/// # Flow control
///
/// When the buffer grows past the high water mark (64 KiB by default), whatever feeds it is
/// paused, and it is resumed once the buffer has drained to the low water mark (16 KiB by
/// default; both set by [`set_write_buffer_limits`](Transport::set_write_buffer_limits)):
///
/// - a registered [`Push`](ProducerMode::Push) producer is paused
///   ([`Producer::pause_producing`]);
/// - with no producer registered, the connection is its own producer: it stops reading, so
///   `data_received` is not called until the peer has taken enough of what was written. A
///   protocol that writes in answer to what it reads (an echo server, a proxy, a request/reply
///   server) holds bounded memory however much a peer sends without reading, with no code of
///   its own. The peer's writes block once the kernel's socket buffers are full.
///
/// So a fast writer to a slow reader holds bounded memory. A protocol that must keep reading
/// whatever it has buffered (it reads a whole request before it answers one already sent, and
/// knows requests are bounded) can raise the high water mark.
///
/// # Examples
///
/// ```
/// let t = fate::testing::StringTransport::new();
/// let transport = t.transport();
/// transport.write(b"hello, ");
/// transport.write_sequence(&[b"wor", b"ld"]);
/// transport.lose_connection();
/// assert_eq!(t.value(), b"hello, world");
/// assert!(t.disconnecting());
/// ```
///
/// `!Send`:
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(fate::testing::StringTransport::new().transport());
/// ```
#[derive(Clone)]
pub struct Transport {
    inner: Rc<dyn RawTransport>,
}

impl Transport {
    pub(crate) fn new(inner: Rc<dyn RawTransport>) -> Transport {
        Transport { inner }
    }

    /// Sends `data`, buffering what the socket cannot take now. Ignored once the connection
    /// is closed or its writing half shut down.
    #[inline]
    pub fn write(&self, data: &[u8]) {
        self.inner.write(data)
    }

    /// Sends each chunk in turn, as one write.
    pub fn write_sequence(&self, data: &[&[u8]]) {
        self.inner.write_sequence(data)
    }

    /// Closes the connection once everything written has been sent (and a registered producer
    /// has been unregistered); stops reading now. The protocol's `connection_lost` gets
    /// [`CloseReason::Done`](crate::net::CloseReason::Done).
    pub fn lose_connection(&self) {
        self.inner.lose_connection()
    }

    /// Closes the connection now, dropping buffered data; `connection_lost` gets
    /// [`CloseReason::Aborted`](crate::net::CloseReason::Aborted) at the next turn.
    pub fn abort_connection(&self) {
        self.inner.abort_connection()
    }

    /// Shuts down our writing half (TCP half-close) once the buffer drains; reading goes on.
    pub fn lose_write_connection(&self) {
        self.inner.lose_write_connection()
    }

    /// The other end's address.
    pub fn peer(&self) -> Address {
        self.inner.peer()
    }

    /// Our end's address.
    pub fn host(&self) -> Address {
        self.inner.host()
    }

    /// Sets `TCP_NODELAY` (Nagle's algorithm off). Connections Fate makes start with it on.
    ///
    /// # Errors
    ///
    /// The OS error; `Unsupported` on non-TCP transports.
    pub fn set_no_delay(&self, on: bool) -> io::Result<()> {
        self.inner.set_no_delay(on)
    }

    /// Sets `SO_KEEPALIVE`.
    ///
    /// # Errors
    ///
    /// The OS error; `Unsupported` on transports without a socket.
    pub fn set_keep_alive(&self, on: bool) -> io::Result<()> {
        self.inner.set_keep_alive(on)
    }

    /// Registers the producer that feeds this transport (at most one).
    ///
    /// A [`Pull`](ProducerMode::Pull) producer is asked for its first chunk at once; on a
    /// closed transport the producer is told to stop at once.
    ///
    /// # Errors
    ///
    /// [`ProducerError::AlreadyRegistered`] if a producer is registered.
    pub fn register_producer(
        &self,
        producer: Rc<dyn Producer>,
        mode: ProducerMode,
    ) -> Result<(), ProducerError> {
        self.inner.register_producer(producer, mode)
    }

    /// Forgets the registered producer; a pending `lose_connection` may now complete.
    pub fn unregister_producer(&self) {
        self.inner.unregister_producer()
    }

    /// The transport as a producer: stop reading (and so stop calling `data_received`).
    pub fn pause_producing(&self) {
        self.inner.pause_producing()
    }

    /// Resume reading after [`pause_producing`](Transport::pause_producing).
    pub fn resume_producing(&self) {
        self.inner.resume_producing()
    }

    /// The transport as a producer: stop for good, which closes the connection.
    pub fn stop_producing(&self) {
        self.inner.stop_producing()
    }

    /// Sets the water marks: what feeds the transport (a push producer, or with none registered
    /// the transport's own reading) is paused when more than `high` bytes are buffered, and
    /// resumed when at most `low` are. Defaults: 64 KiB (Twisted's `bufferSize`) and 16 KiB.
    /// `low` is capped at `high`; `usize::MAX` as `high` turns flow control off.
    ///
    /// # Examples
    ///
    /// ```
    /// let t = fate::testing::StringTransport::new();
    /// t.transport().set_write_buffer_limits(1 << 20, 256 * 1024);
    /// ```
    pub fn set_write_buffer_limits(&self, high: usize, low: usize) {
        self.inner.set_write_buffer_limits(high, low.min(high))
    }

    /// Bytes written but not yet sent.
    pub fn buffered(&self) -> usize {
        self.inner.buffered()
    }

    /// Whether the connection is open (made and not yet lost).
    pub fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    /// Whether `lose_connection` (or `abort_connection`) was called.
    pub fn is_disconnecting(&self) -> bool {
        self.inner.is_disconnecting()
    }

    /// Starts TLS on this live connection (Twisted's `startTLS`): what is written from now on
    /// is encrypted, what arrives is decrypted; the protocol's
    /// [`handshake_completed`](crate::net::Protocol::handshake_completed) runs when the
    /// handshake is over.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad server name; `Unsupported` on transports that cannot (the
    /// test `StringTransport`); `AlreadyExists` if TLS is already on.
    #[cfg(feature = "tls")]
    pub fn start_tls(&self, role: crate::net::TlsRole) -> io::Result<()> {
        self.inner.start_tls(role)
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("peer", &self.peer())
            .field("connected", &self.is_connected())
            .field("buffered", &self.buffered())
            .finish()
    }
}
