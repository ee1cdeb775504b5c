//! Protocols and the factories that build them (Twisted's `IProtocol` and `IProtocolFactory`).

use crate::net::{Address, CloseReason, ConnectError, Connector, Transport};

/// What to do when the peer closes its writing half (end of stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HalfClose {
    /// Close our side too, once the write buffer has drained (the default).
    Close,
    /// Keep the connection open for writing; close it later with
    /// [`Transport::lose_connection`].
    KeepOpen,
}

/// The callbacks of one connection: Twisted's `Protocol`.
///
/// A protocol is built per connection by a [`Factory`] (or [`ClientFactory`]). The
/// transport calls, in order: [`connection_made`](Protocol::connection_made) once;
/// [`data_received`](Protocol::data_received) for each chunk read, in order, chunks split
/// anywhere (never assume a message arrives whole); possibly
/// [`read_connection_lost`](Protocol::read_connection_lost) and
/// [`write_connection_lost`](Protocol::write_connection_lost); and
/// [`connection_lost`](Protocol::connection_lost) exactly once, after which the protocol is
/// dropped (which also drops the [`Transport`] it kept, breaking the cycle between them).
///
/// # Ordering
///
/// Callbacks run on the reactor thread from I/O dispatch (never from inside a `Transport`
/// call), so a protocol may call its transport from any callback: writes made during one
/// callback are sent together when it returns.
///
/// # Examples
///
/// The echo protocol:
///
/// ```
/// use fate::net::{Protocol, Transport};
///
/// #[derive(Default)]
/// struct Echo(Option<Transport>);
///
/// impl Protocol for Echo {
///     fn connection_made(&mut self, transport: Transport) {
///         self.0 = Some(transport);
///     }
///     fn data_received(&mut self, data: &[u8]) {
///         if let Some(t) = &self.0 {
///             t.write(data);
///         }
///     }
/// }
///
/// let t = fate::testing::StringTransport::new();
/// let mut echo = Echo::default();
/// echo.connection_made(t.transport());
/// echo.data_received(b"hello");
/// assert_eq!(t.value(), b"hello");
/// ```
pub trait Protocol: 'static {
    /// The connection is up; keep `transport` to write and close.
    fn connection_made(&mut self, transport: Transport) {
        let _ = transport;
    }

    /// Bytes arrived. `data` is only borrowed: copy what must outlive the call.
    fn data_received(&mut self, data: &[u8]);

    /// The connection is gone, for `reason`. Called exactly once; no callback follows.
    fn connection_lost(&mut self, reason: CloseReason) {
        let _ = reason;
    }

    /// The peer will send no more (end of stream). Return [`HalfClose::KeepOpen`] to go on
    /// writing (Twisted's `IHalfCloseableProtocol.readConnectionLost`); the default closes
    /// the connection once what was written has been sent, with reason
    /// [`CloseReason::Done`].
    fn read_connection_lost(&mut self) -> HalfClose {
        HalfClose::Close
    }

    /// Our writing half was shut down after [`Transport::lose_write_connection`] and the
    /// buffer drained.
    fn write_connection_lost(&mut self) {}

    /// The TLS handshake finished (Twisted's `IHandshakeListener`).
    fn handshake_completed(&mut self) {}
}

impl<P: Protocol + ?Sized> Protocol for Box<P> {
    fn connection_made(&mut self, transport: Transport) {
        (**self).connection_made(transport)
    }
    fn data_received(&mut self, data: &[u8]) {
        (**self).data_received(data)
    }
    fn connection_lost(&mut self, reason: CloseReason) {
        (**self).connection_lost(reason)
    }
    fn read_connection_lost(&mut self) -> HalfClose {
        (**self).read_connection_lost()
    }
    fn write_connection_lost(&mut self) {
        (**self).write_connection_lost()
    }
    fn handshake_completed(&mut self) {
        (**self).handshake_completed()
    }
}

/// Builds a protocol for each accepted connection: Twisted's server `Factory`.
///
/// [`start_factory`](Factory::start_factory) runs when the first listener using the factory
/// starts, [`stop_factory`](Factory::stop_factory) when it stops listening.
///
/// # Examples
///
/// A factory that refuses connections from outside the loopback network:
///
/// ```
/// use fate::net::{Address, Factory, Protocol};
///
/// struct Discard;
/// impl Protocol for Discard {
///     fn data_received(&mut self, _: &[u8]) {}
/// }
///
/// struct LocalOnly;
/// impl Factory for LocalOnly {
///     fn build_protocol(&mut self, addr: &Address) -> Option<Box<dyn Protocol>> {
///         let local = addr.socket_addr().is_some_and(|a| a.ip().is_loopback());
///         local.then(|| Box::new(Discard) as Box<dyn Protocol>)
///     }
/// }
///
/// let mut f = LocalOnly;
/// assert!(f.build_protocol(&"127.0.0.1:9".parse::<std::net::SocketAddr>().unwrap().into()).is_some());
/// assert!(f.build_protocol(&"10.0.0.1:9".parse::<std::net::SocketAddr>().unwrap().into()).is_none());
/// ```
pub trait Factory: 'static {
    /// A protocol for a connection from `addr`, or `None` to refuse it (it is closed at once).
    fn build_protocol(&mut self, addr: &Address) -> Option<Box<dyn Protocol>>;

    /// Called when a listener using this factory starts.
    fn start_factory(&mut self) {}

    /// Called when that listener stops.
    fn stop_factory(&mut self) {}
}

/// Builds the protocol of an outgoing connection and hears how the attempt went: Twisted's
/// `ClientFactory`.
///
/// The [`Connector`] passed to the hooks can [`connect`](Connector::connect) again — what
/// [`ReconnectingClientFactory`](crate::net::ReconnectingClientFactory) does.
pub trait ClientFactory: 'static {
    /// A protocol for the connection to `addr`, or `None` to refuse it.
    fn build_protocol(&mut self, addr: &Address) -> Option<Box<dyn Protocol>>;

    /// An attempt begins.
    fn started_connecting(&mut self, connector: &Connector) {
        let _ = connector;
    }

    /// The attempt failed: refused, timed out, unresolvable host, refused protocol.
    fn client_connection_failed(&mut self, connector: &Connector, reason: &ConnectError) {
        let _ = (connector, reason);
    }

    /// A connection this factory made has ended (after its protocol's `connection_lost`).
    fn client_connection_lost(&mut self, connector: &Connector, reason: &CloseReason) {
        let _ = (connector, reason);
    }
}

/// A factory that builds every protocol with `make` (Twisted's `Factory.forProtocol`); it is
/// both a [`Factory`] and a [`ClientFactory`].
///
/// # Examples
///
/// ```
/// use fate::net::{for_protocol, Factory, Protocol};
///
/// struct Discard;
/// impl Protocol for Discard {
///     fn data_received(&mut self, _: &[u8]) {}
/// }
///
/// let mut factory = for_protocol(|| Discard);
/// let addr = "127.0.0.1:1".parse::<std::net::SocketAddr>().unwrap().into();
/// assert!(factory.build_protocol(&addr).is_some());
/// ```
pub fn for_protocol<P, F>(make: F) -> ForProtocol<F>
where
    P: Protocol,
    F: FnMut() -> P + 'static,
{
    ForProtocol { make }
}

/// The factory [`for_protocol`] returns.
#[derive(Clone, Debug)]
pub struct ForProtocol<F> {
    make: F,
}

impl<P: Protocol, F: FnMut() -> P + 'static> Factory for ForProtocol<F> {
    fn build_protocol(&mut self, _addr: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new((self.make)()))
    }
}

impl<P: Protocol, F: FnMut() -> P + 'static> ClientFactory for ForProtocol<F> {
    fn build_protocol(&mut self, _addr: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new((self.make)()))
    }
}
