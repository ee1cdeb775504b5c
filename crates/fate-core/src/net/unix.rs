//! Unix stream sockets: `listen_unix` and `connect_unix` (Twisted's `IReactorUNIX`).

use std::io;
use std::path::Path;

use crate::net::connector::Target;
use crate::net::listener::Listener;
use crate::net::socket_file::SocketFile;
use crate::net::{ClientFactory, ConnectOptions, Connector, Factory, ListenOptions, ListeningPort};

/// Listens on the Unix socket `path`, serving each connection with a protocol from
/// `factory`.
///
/// A socket file left at `path` by a server that is gone (a connect to it is refused) is
/// replaced. The socket file is removed when the port stops listening, when the reactor shuts
/// down (SIGTERM and SIGINT included) and when the reactor is dropped — unless another socket
/// has taken the path since.
///
/// # Errors
///
/// The OS error, with the path in its message: `AddrInUse` if another process listens on
/// `path`, `AlreadyExists` if something other than a socket is there (it is left alone).
///
/// # Examples
///
/// ```
/// use fate::net::{self, for_protocol, Protocol};
///
/// struct Discard;
/// impl Protocol for Discard {
///     fn data_received(&mut self, _: &[u8]) {}
/// }
///
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// let path = std::env::temp_dir().join(format!("fate-doc-{}.sock", std::process::id()));
/// let port = net::listen_unix(&path, for_protocol(|| Discard)).unwrap();
/// assert!(path.exists());
/// port.stop_listening();
/// assert!(!path.exists());
/// # drop(reactor);
/// ```
#[track_caller]
pub fn listen_unix(path: impl AsRef<Path>, factory: impl Factory) -> io::Result<ListeningPort> {
    listen_unix_with(path, factory, &ListenOptions::new())
}

/// [`listen_unix`] with options (backlog, accept-error pause, TLS).
///
/// # Errors
///
/// As [`listen_unix`].
#[track_caller]
pub fn listen_unix_with(
    path: impl AsRef<Path>,
    factory: impl Factory,
    options: &ListenOptions,
) -> io::Result<ListeningPort> {
    #[cfg(feature = "testing")]
    if crate::testing::sim::socket::current().is_some() {
        let listener = crate::testing::sim::socket::SimListener::bind_unix(path.as_ref())
            .map_err(|e| listen_error(path.as_ref(), e))?;
        return Listener::start(listener, Box::new(factory), options.clone(), None);
    }
    let (listener, file) = bind_unix(path.as_ref(), options.backlog)?;
    // Dropping the file removes it: when the port stops, or when the listener is dropped.
    let on_stop = Box::new(move || drop(file));
    Listener::start(listener, Box::new(factory), options.clone(), Some(on_stop))
}

/// Binds and listens on `path` (see [`SocketFile`]); errors name the path.
pub(crate) fn bind_unix(
    path: &Path,
    backlog: i32,
) -> io::Result<(mio::net::UnixListener, SocketFile)> {
    let named = |e: io::Error| listen_error(path, e);
    let (socket, file) = SocketFile::bind(path, socket2::Type::STREAM).map_err(named)?;
    socket.listen(backlog).map_err(named)?;
    Ok((mio::net::UnixListener::from_std(socket.into()), file))
}

/// `e`, naming the path it happened on.
pub(crate) fn listen_error(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot listen on unix:{}: {e}", path.display()),
    )
}

/// Connects to the Unix socket `path`, building the protocol with `factory`.
#[track_caller]
pub fn connect_unix(path: impl AsRef<Path>, factory: impl ClientFactory) -> Connector {
    connect_unix_with(path, factory, &ConnectOptions::new())
}

/// [`connect_unix`] with options (timeout, TLS).
#[track_caller]
pub fn connect_unix_with(
    path: impl AsRef<Path>,
    factory: impl ClientFactory,
    options: &ConnectOptions,
) -> Connector {
    let connector = Connector::new(
        Target::Unix(path.as_ref().to_path_buf()),
        Box::new(factory),
        options.clone(),
    );
    connector.connect();
    connector
}
