//! Async UDP: `UdpSocket`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use crate::net::registered::{Direction, Registered};
#[cfg(feature = "testing")]
use crate::testing::sim::socket::{self as sim, SimUdp};

/// A UDP socket for async code.
///
/// # Examples
///
/// ```
/// use fate::net::UdpSocket;
///
/// fate::block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0u8; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
///     assert_eq!(from, a.local_addr().unwrap());
/// })
/// .unwrap();
/// ```
pub struct UdpSocket {
    io: Io,
}

/// The socket: the kernel's, or the simulated network's on a simulated host.
enum Io {
    Real(Registered<mio::net::UdpSocket>),
    #[cfg(feature = "testing")]
    Sim(Registered<SimUdp>),
}

impl UdpSocket {
    /// Binds to `addr` (port 0 picks one).
    ///
    /// # Errors
    ///
    /// The OS error, naming the address.
    pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("cannot bind UDP {addr}: {e}"));
        #[cfg(feature = "testing")]
        if sim::current().is_some() {
            let socket = SimUdp::bind(addr).map_err(named)?;
            return Ok(UdpSocket {
                io: Io::Sim(Registered::new(socket)?),
            });
        }
        let socket = mio::net::UdpSocket::bind(addr).map_err(named)?;
        Ok(UdpSocket {
            io: Io::Real(Registered::new(socket)?),
        })
    }

    /// Sends to `peer` only, and receives from it only (connected UDP).
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn connect(&self, peer: SocketAddr) -> io::Result<()> {
        on_socket!(&self.io, io => io.get_ref().connect(peer))
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        on_socket!(&self.io, io => io.get_ref().local_addr())
    }

    /// Sends one datagram to `to`.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub async fn send_to(&self, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        poll_fn(|cx| {
            on_socket!(&self.io, io => {
                io.poll_io(Direction::Write, cx, |s| s.send_to(data, to), |_| false)
            })
        })
        .await
    }

    /// Receives one datagram; returns its length and sender.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.poll_recv_from(cx, buf)).await
    }

    /// The poll form of [`recv_from`](UdpSocket::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        on_socket!(&self.io, io => io.poll_io(Direction::Read, cx, |s| s.recv_from(buf), |_| false))
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// The OS error (`ConnectionRefused` after the peer's port proved closed).
    pub async fn send(&self, data: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            on_socket!(&self.io, io => {
                io.poll_io(Direction::Write, cx, |s| s.send(data), |_| false)
            })
        })
        .await
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| {
            on_socket!(&self.io, io => io.poll_io(Direction::Read, cx, |s| s.recv(buf), |_| false))
        })
        .await
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}
