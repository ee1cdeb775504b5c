//! Async Unix stream sockets: `UnixListener` and `UnixStream`.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::Shutdown;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

#[cfg(feature = "testing")]
use crate::net::listener::ListenSocket;
use crate::net::registered::{Direction, Registered};
use crate::net::socket_file::SocketFile;
use crate::net::{Address, StreamSocket};
#[cfg(feature = "testing")]
use crate::testing::sim::socket::{self as sim, SimListener, SimStream};

/// A Unix listening socket for async code.
///
/// # Examples
///
/// ```
/// use futures_util::{AsyncReadExt, AsyncWriteExt};
/// use fate::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("fate-doc-us-{}.sock", std::process::id()));
/// let p = path.clone();
/// fate::block_on(async move {
///     let listener = UnixListener::bind(&p).unwrap();
///     fate::spawn_local(async move {
///         let (mut s, _) = listener.accept().await.unwrap();
///         s.write_all(b"hi").await.unwrap();
///     });
///     let mut c = UnixStream::connect(&p).await.unwrap();
///     let mut buf = Vec::new();
///     c.read_to_end(&mut buf).await.unwrap();
///     assert_eq!(buf, b"hi");
/// })
/// .unwrap();
/// assert!(!path.exists(), "dropping the listener removed its socket file");
/// ```
pub struct UnixListener {
    io: ListenIo,
}

/// A listener's socket: the kernel's, or the simulated network's on a simulated host (which
/// has no socket file).
enum ListenIo {
    Real {
        /// Removes the socket file when the listener is dropped. Declared first, so dropped
        /// first: while the socket is still open (see `SocketFile`).
        _file: SocketFile,
        io: Registered<mio::net::UnixListener>,
    },
    #[cfg(feature = "testing")]
    Sim(Registered<SimListener>),
}

impl UnixListener {
    /// Listens on `path` (backlog 1024), replacing a stale socket file there (one nobody
    /// listens on). Dropping the listener removes the file, unless another socket has taken
    /// the path since.
    ///
    /// # Errors
    ///
    /// The OS error, naming the path: `AddrInUse` if another process listens on `path`,
    /// `AlreadyExists` if something other than a socket is there (it is left alone).
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let path = path.as_ref();
        #[cfg(feature = "testing")]
        if sim::current().is_some() {
            let socket = SimListener::bind_unix(path)
                .map_err(|e| crate::net::unix::listen_error(path, e))?;
            return Ok(UnixListener {
                io: ListenIo::Sim(Registered::new(socket)?),
            });
        }
        let (socket, file) = crate::net::unix::bind_unix(path, 1024)?;
        Ok(UnixListener {
            io: ListenIo::Real {
                _file: file,
                io: Registered::new(socket)?,
            },
        })
    }

    /// Accepts a connection.
    ///
    /// # Errors
    ///
    /// The accept error; the listener stays usable.
    pub async fn accept(&self) -> io::Result<(UnixStream, Address)> {
        let io = match &self.io {
            ListenIo::Real { io, .. } => io,
            #[cfg(feature = "testing")]
            ListenIo::Sim(io) => {
                let (s, a) =
                    poll_fn(|cx| io.poll_io(Direction::Read, cx, ListenSocket::accept, |_| false))
                        .await?;
                let io = Io::Sim(Registered::new(s)?);
                return Ok((UnixStream { io }, a));
            }
        };
        let (s, a) =
            poll_fn(|cx| io.poll_io(Direction::Read, cx, |l| l.accept(), |_| false)).await?;
        Ok((UnixStream::from_mio(s)?, Address::from_unix(&a)))
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn local_addr(&self) -> io::Result<Address> {
        match &self.io {
            ListenIo::Real { io, .. } => io.get_ref().local_addr().map(|a| Address::from_unix(&a)),
            #[cfg(feature = "testing")]
            ListenIo::Sim(io) => ListenSocket::local(io.get_ref()),
        }
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

/// A Unix stream connection for async code: futures-io `AsyncRead` and `AsyncWrite`.
///
/// # Cancellation
///
/// Dropping it closes the socket.
pub struct UnixStream {
    io: Io,
}

/// A stream's socket: the kernel's, or the simulated network's on a simulated host.
enum Io {
    Real(Registered<mio::net::UnixStream>),
    #[cfg(feature = "testing")]
    Sim(Registered<SimStream>),
}

impl UnixStream {
    fn from_mio(socket: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            io: Io::Real(Registered::new(socket)?),
        })
    }

    /// Connects to the socket at `path`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `ConnectionRefused`, ..., naming the path.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        let path = path.as_ref();
        let named = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("connecting to unix:{}: {e}", path.display()),
            )
        };
        #[cfg(feature = "testing")]
        if sim::current().is_some() {
            let io = Registered::new(SimStream::connect_unix(path).map_err(named)?)?;
            io.connected().await.map_err(named)?;
            return Ok(UnixStream { io: Io::Sim(io) });
        }
        let socket = mio::net::UnixStream::connect(path).map_err(named)?;
        let io = Registered::new(socket)?;
        poll_fn(|cx| io.poll_ready(Direction::Write, cx)).await;
        if let Some(e) = io.get_ref().take_error().map_err(named)? {
            return Err(named(e));
        }
        Ok(UnixStream { io: Io::Real(io) })
    }

    /// A connected pair (of real sockets, also on a simulated host).
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::from_mio(a)?, UnixStream::from_mio(b)?))
    }

    /// The peer's address.
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn peer_addr(&self) -> io::Result<Address> {
        on_socket!(&self.io, io => StreamSocket::peer(io.get_ref()))
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

impl AsyncRead for UnixStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        on_socket!(&self.io, io => io.poll_recv(cx, buf))
    }
}

impl AsyncWrite for UnixStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        on_socket!(&self.io, io => io.poll_send(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(on_socket!(&self.io, io => io.close_write()))
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream").finish_non_exhaustive()
    }
}
