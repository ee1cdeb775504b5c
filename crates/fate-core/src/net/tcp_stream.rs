//! Async TCP: `TcpListener` and `TcpStream` with futures-io `AsyncRead`/`AsyncWrite`.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

use crate::net::registered::{Direction, Registered};
use crate::net::{dns, ListenOptions, StreamSocket};
#[cfg(feature = "testing")]
use crate::testing::sim::socket::{self as sim, SimListener, SimStream};

/// A TCP listening socket for async code.
///
/// # Examples
///
/// ```
/// use futures_util::{AsyncReadExt, AsyncWriteExt};
/// use fate::net::{TcpListener, TcpStream};
///
/// fate::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
///     let addr = listener.local_addr().unwrap();
///     fate::spawn_local(async move {
///         let (mut s, _) = listener.accept().await.unwrap();
///         let mut buf = [0u8; 5];
///         s.read_exact(&mut buf).await.unwrap();
///         s.write_all(&buf).await.unwrap();
///     });
///     let mut c = TcpStream::connect(addr).await.unwrap();
///     c.write_all(b"hello").await.unwrap();
///     let mut buf = [0u8; 5];
///     c.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hello");
/// })
/// .unwrap();
/// ```
pub struct TcpListener {
    io: ListenIo,
}

/// A listener's socket: the kernel's, or the simulated network's on a simulated host.
enum ListenIo {
    Real(Registered<mio::net::TcpListener>),
    #[cfg(feature = "testing")]
    Sim(Registered<SimListener>),
}

impl TcpListener {
    /// Listens on `addr` with the default [`ListenOptions`] (backlog 1024, `SO_REUSEADDR`).
    ///
    /// # Errors
    ///
    /// The OS error, naming the address.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind_with(addr, &ListenOptions::new())
    }

    /// Listens on `addr` with `options`.
    ///
    /// # Errors
    ///
    /// As [`bind`](TcpListener::bind).
    pub fn bind_with(addr: SocketAddr, options: &ListenOptions) -> io::Result<TcpListener> {
        let named =
            |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
        #[cfg(feature = "testing")]
        if sim::current().is_some() {
            let socket = SimListener::bind(addr).map_err(named)?;
            return Ok(TcpListener {
                io: ListenIo::Sim(Registered::new(socket)?),
            });
        }
        let socket = crate::net::tcp::bind_tcp(addr, options).map_err(named)?;
        Ok(TcpListener {
            io: ListenIo::Real(Registered::new(socket)?),
        })
    }

    /// Adopts a bound, listening std socket (made non-blocking here).
    ///
    /// # Errors
    ///
    /// If it cannot be made non-blocking or registered.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(TcpListener {
            io: ListenIo::Real(Registered::new(mio::net::TcpListener::from_std(listener))?),
        })
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.io {
            ListenIo::Real(io) => io.get_ref().local_addr(),
            #[cfg(feature = "testing")]
            ListenIo::Sim(io) => io.get_ref().local_addr(),
        }
    }

    /// Accepts a connection (with `TCP_NODELAY` on).
    ///
    /// # Errors
    ///
    /// The accept error (`EMFILE`, ...): the listener stays usable.
    ///
    /// # Cancellation
    ///
    /// Cancel-safe: dropping the future loses no connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// The poll form of [`accept`](TcpListener::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let io = match &self.io {
            ListenIo::Real(io) => io,
            #[cfg(feature = "testing")]
            ListenIo::Sim(io) => {
                return io
                    .poll_io(Direction::Read, cx, |l| l.accept_stream(), |_| false)
                    .map(|accepted| {
                        let (socket, addr) = accepted?;
                        let io = Io::Sim(Registered::new(socket)?);
                        Ok((TcpStream { io }, addr))
                    });
            }
        };
        let (socket, addr) = match io.poll_io(Direction::Read, cx, |l| l.accept(), |_| false) {
            Poll::Ready(Ok(pair)) => pair,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        let _ = socket.set_nodelay(true);
        Poll::Ready(TcpStream::from_mio(socket).map(|s| (s, addr)))
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

/// A TCP connection for async code: futures-io `AsyncRead` and `AsyncWrite`.
///
/// Reads stop at a short read (the socket is drained) without the extra system call that
/// would return `WouldBlock`; the same for writes.
///
/// # Cancellation
///
/// Dropping it closes the socket.
pub struct TcpStream {
    io: Io,
}

/// A stream's socket: the kernel's, or the simulated network's on a simulated host.
enum Io {
    Real(Registered<mio::net::TcpStream>),
    #[cfg(feature = "testing")]
    Sim(Registered<SimStream>),
}

impl TcpStream {
    pub(crate) fn from_mio(socket: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            io: Io::Real(Registered::new(socket)?),
        })
    }

    /// Connects to `addr` (with `TCP_NODELAY` on).
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` and the like, naming the address.
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let named = |e: io::Error| io::Error::new(e.kind(), format!("connecting to {addr}: {e}"));
        #[cfg(feature = "testing")]
        if sim::current().is_some() {
            let io = Registered::new(SimStream::connect(addr).map_err(named)?)?;
            io.connected().await.map_err(named)?;
            return Ok(TcpStream { io: Io::Sim(io) });
        }
        let stream = TcpStream::from_mio(mio::net::TcpStream::connect(addr).map_err(named)?)?;
        on_socket!(&stream.io, io => io.connected().await.map_err(named)?);
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Resolves `host` off the loop thread, then connects to its first address that accepts.
    ///
    /// # Errors
    ///
    /// `NotFound` for a host that does not resolve (the message names it); else the last
    /// connect error.
    pub async fn connect_host(host: &str, port: u16) -> io::Result<TcpStream> {
        let addrs = dns::lookup(host, port).await.map_err(io::Error::from)?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::ErrorKind::NotFound.into()))
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        on_socket!(&self.io, io => io.get_ref().peer_addr())
    }

    /// Our address.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        on_socket!(&self.io, io => io.get_ref().local_addr())
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        on_socket!(&self.io, io => io.get_ref().set_no_delay(on))
    }

    /// Shuts down one or both halves.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        on_socket!(&self.io, io => StreamSocket::shutdown(io.get_ref(), how))
    }
}

impl AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        on_socket!(&self.io, io => io.poll_recv(cx, buf))
    }
}

impl AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        on_socket!(&self.io, io => io.poll_send(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let io = match &self.io {
            Io::Real(io) => io,
            // The simulated socket has no vectored write: the first slice, as the trait's
            // default does.
            #[cfg(feature = "testing")]
            Io::Sim(io) => {
                let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| b);
                return io.poll_send(cx, first);
            }
        };
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        io.poll_io(
            Direction::Write,
            cx,
            |mut s| s.write_vectored(bufs),
            |&n| n < len,
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(on_socket!(&self.io, io => io.close_write()))
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}
