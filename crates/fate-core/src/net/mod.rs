//! Networking: TCP, UDP and Unix sockets in Twisted's shape (protocols, factories,
//! transports) and in async/await shape (streams), on one reactor.
//!
//! # Callback style
//!
//! A [`Protocol`] handles one connection: the reactor calls `connection_made` with its
//! [`Transport`], `data_received` with each chunk read, and `connection_lost` once at the
//! end. A [`Factory`] builds a protocol per accepted connection ([`listen_tcp`],
//! [`listen_unix`]); a [`ClientFactory`] builds the protocol of an outgoing one
//! ([`connect_tcp`], [`connect_unix`]) and hears how the attempt went through its
//! [`Connector`]. [`ReconnectingClientFactory`] retries with exponential back-off.
//!
//! A transport never blocks: `write` buffers what the socket cannot take. Above the high water
//! mark (64 KiB) whatever feeds the buffer is paused until it drains to the low water mark
//! (16 KiB): a registered [`Producer`], or else the connection's own reading. So a fast writer
//! feeding a slow reader, and an echo server whose client never reads, hold bounded memory;
//! see [`Transport`]'s flow control.
//!
//! # Async style
//!
//! [`TcpListener`], [`TcpStream`], [`UdpSocket`], [`UnixListener`], [`UnixStream`] and (feature
//! `tls`) [`TlsStream`] implement futures-io `AsyncRead`/`AsyncWrite`; feature `tokio-io`
//! adds `TokioIo` for crates that want tokio's traits.
//!
//! # Endpoints
//!
//! [`server_from_str`] and [`client_from_str`] parse Twisted-style descriptions
//! (`tcp:8080:interface=127.0.0.1`, `tcp:host=example.com:port=80`, `unix:/run/app.sock`,
//! `tls:...`); `listen` and `connect` return Deferreds.
//!
//! # Errors
//!
//! Listening fails with an `io::Error` naming the address; connecting reports a
//! [`ConnectError`] (refused, timed out, unresolvable host) to the factory; a connection ends
//! with a [`CloseReason`] (clean, aborted, reset, TLS, I/O error).
//!
//! # Performance
//!
//! Sockets are registered once, edge-triggered, for reading and writing. Reads use one
//! 64 KiB buffer per thread and stop at a short read (the socket is drained); writes go
//! straight to the socket when nothing is queued, and writes made during one protocol
//! callback leave in one system call.
#![forbid(unsafe_code)]

/// Runs the same code on whichever socket an async socket type holds: its module's `Io`
/// enum, `Real` (the kernel's) or `Sim` (the simulated network's, on a simulated host), whose
/// sockets have the same methods.
macro_rules! on_socket {
    ($io:expr, $s:ident => $body:expr) => {
        match $io {
            Io::Real($s) => $body,
            #[cfg(feature = "testing")]
            Io::Sim($s) => $body,
        }
    };
}

mod address;
pub(crate) mod connector;
mod dns;
mod endpoint;
mod error;
pub(crate) mod listener;
pub(crate) mod live;
mod network;
mod protocol;
mod reconnect;
mod registered;
mod socket;
mod socket_file;
mod stream;
mod tcp;
mod tcp_stream;
#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tokio-io")]
mod tokio_io;
mod transport;
pub(crate) mod udp;
mod udp_socket;
mod unix;
mod unix_stream;
mod write_buf;

pub use address::Address;
pub use connector::{ConnectOptions, Connector, ConnectorState};
pub use endpoint::{
    client_from_str, server_from_str, ClientEndpoint, EndpointError, ServerEndpoint,
};
pub use error::{CloseReason, ConnectError, ProducerError};
pub use listener::{ListenOptions, ListeningPort};
pub use network::Network;
pub use protocol::{for_protocol, ClientFactory, Factory, ForProtocol, HalfClose, Protocol};
pub use reconnect::ReconnectingClientFactory;
pub use tcp::{adopt_tcp_listener, connect_tcp, connect_tcp_with, listen_tcp, listen_tcp_with};
pub use tcp_stream::{TcpListener, TcpStream};
#[cfg(feature = "tls")]
pub use tls::{TlsClientConfig, TlsRole, TlsServerConfig, TlsStream};
#[cfg(feature = "tokio-io")]
pub use tokio_io::TokioIo;
pub use transport::{Producer, ProducerMode, Transport};
pub use udp::{listen_udp, listen_unix_datagram, DatagramProtocol, DatagramTransport};
pub use udp_socket::UdpSocket;
pub use unix::{connect_unix, connect_unix_with, listen_unix, listen_unix_with};
pub use unix_stream::{UnixListener, UnixStream};

pub(crate) use socket::StreamSocket;
// Used by `stdio` (standard input/output as a transport).
#[allow(unused_imports)]
pub(crate) use stream::Conn;
pub(crate) use transport::RawTransport;
