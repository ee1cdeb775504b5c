//! Listening sockets that accept connections and hand each to a protocol from a factory.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::panic::Location;
use std::rc::{Rc, Weak};
use std::time::Duration;

use mio::event::Source;
use mio::Interest;

use crate::net::live;
use crate::net::stream::Conn;
use crate::net::{Address, Factory, StreamSocket};
use crate::reactor::io::{IoHandler, IoRegistration, Readiness};
use crate::reactor::watchdog::{Kind, Site};
use crate::reactor::TriggerId;
use crate::time::DelayedCall;

/// Connections accepted per readiness event before yielding to other work.
const ACCEPT_BATCH: usize = 128;

/// A listening socket of some kind.
pub(crate) trait ListenSocket: Source + 'static {
    type Stream: StreamSocket;
    fn accept(&self) -> io::Result<(Self::Stream, Address)>;
    fn local(&self) -> io::Result<Address>;
    /// Prepares an accepted socket (e.g. `TCP_NODELAY`).
    fn prepare(_stream: &Self::Stream) {}
}

impl ListenSocket for mio::net::TcpListener {
    type Stream = mio::net::TcpStream;
    fn accept(&self) -> io::Result<(Self::Stream, Address)> {
        mio::net::TcpListener::accept(self).map(|(s, a)| (s, Address::Inet(a)))
    }
    fn local(&self) -> io::Result<Address> {
        self.local_addr().map(Address::Inet)
    }
    fn prepare(stream: &Self::Stream) {
        let _ = stream.set_nodelay(true);
    }
}

impl ListenSocket for mio::net::UnixListener {
    type Stream = mio::net::UnixStream;
    fn accept(&self) -> io::Result<(Self::Stream, Address)> {
        mio::net::UnixListener::accept(self).map(|(s, a)| (s, Address::from_unix(&a)))
    }
    fn local(&self) -> io::Result<Address> {
        self.local_addr().map(|a| Address::from_unix(&a))
    }
}

/// How to listen: backlog, address reuse, accept-error pause, TLS.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fate::net::ListenOptions;
///
/// let options = ListenOptions::new()
///     .backlog(50)
///     .reuse_port(true)
///     .accept_retry_delay(Duration::from_millis(50));
/// assert_eq!(options.get_backlog(), 50);
/// ```
#[derive(Clone)]
pub struct ListenOptions {
    pub(crate) backlog: i32,
    pub(crate) reuse_address: bool,
    /// `None`: on inside a pool worker, off elsewhere.
    pub(crate) reuse_port: Option<bool>,
    pub(crate) accept_retry_delay: Duration,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::net::TlsServerConfig>,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions::new()
    }
}

impl ListenOptions {
    /// Backlog 1024, `SO_REUSEADDR` on, `SO_REUSEPORT` off (on for listeners of a pool's
    /// workers), 100 ms pause after an accept error, no TLS.
    ///
    /// The backlog is larger than Twisted's 50: a burst of connects beyond the accept queue
    /// waits a full second for the SYN retransmit.
    pub fn new() -> ListenOptions {
        ListenOptions {
            backlog: 1024,
            reuse_address: true,
            reuse_port: None,
            accept_retry_delay: Duration::from_millis(100),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The `listen(2)` backlog.
    pub fn backlog(mut self, backlog: i32) -> Self {
        self.backlog = backlog.max(1);
        self
    }

    /// The backlog set.
    pub fn get_backlog(&self) -> i32 {
        self.backlog
    }

    /// `SO_REUSEADDR` (TCP only; default on).
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT`, to share a port among several listeners, each accepting on its own
    /// socket while the kernel spreads connections between them (TCP only).
    ///
    /// Default: off, except on the workers of a [`Pool`](crate::pool::Pool), where the
    /// listeners of every worker on one address share its port (port 0 included: they all get
    /// the port the first one got). `reuse_port(false)` keeps a worker's listener its own.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = Some(on);
        self
    }

    /// The `SO_REUSEPORT` choice: `None` when left to the default.
    pub fn get_reuse_port(&self) -> Option<bool> {
        self.reuse_port
    }

    /// How long to pause accepting after an error such as `EMFILE` (default 100 ms).
    pub fn accept_retry_delay(mut self, delay: Duration) -> Self {
        self.accept_retry_delay = delay;
        self
    }

    /// Wraps every accepted connection in TLS with `config`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::net::TlsServerConfig) -> Self {
        self.tls = Some(config);
        self
    }
}

impl fmt::Debug for ListenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenOptions")
            .field("backlog", &self.backlog)
            .field("reuse_address", &self.reuse_address)
            .field("reuse_port", &self.reuse_port)
            .field("accept_retry_delay", &self.accept_retry_delay)
            .finish_non_exhaustive()
    }
}

/// What a [`ListeningPort`] controls.
pub(crate) trait Port {
    fn host(&self) -> Address;
    fn stop_listening(&self);
    fn is_listening(&self) -> bool;
    fn accept_errors(&self) -> u64;
}

/// A listening socket: Twisted's `IListeningPort`.
///
/// # Cancellation
///
/// Dropping a `ListeningPort` does **not** stop listening (as in Twisted, the reactor keeps
/// the port); call [`stop_listening`](ListeningPort::stop_listening).
#[derive(Clone)]
pub struct ListeningPort {
    inner: Rc<dyn Port>,
}

impl ListeningPort {
    /// A port over another implementation (the test `MemoryReactor`'s).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn new(inner: Rc<dyn Port>) -> ListeningPort {
        ListeningPort { inner }
    }

    /// The address the socket is bound to (with the real port when port 0 was asked for).
    pub fn host(&self) -> Address {
        self.inner.host()
    }

    /// Closes the listening socket and calls the factory's `stop_factory`. Connections
    /// already accepted go on. Calling it twice does nothing. A reactor shutdown stops every
    /// port that is still listening.
    pub fn stop_listening(&self) {
        self.inner.stop_listening()
    }

    /// Whether the socket is still listening.
    pub fn is_listening(&self) -> bool {
        self.inner.is_listening()
    }

    /// How many `accept` calls failed (each is logged, then accepting pauses and retries).
    pub fn accept_errors(&self) -> u64 {
        self.inner.accept_errors()
    }
}

impl fmt::Debug for ListeningPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListeningPort")
            .field("host", &self.host())
            .field("listening", &self.is_listening())
            .finish()
    }
}

/// A listening socket of kind `L`, registered with the reactor.
pub(crate) struct Listener<L: ListenSocket> {
    me: Weak<Listener<L>>,
    /// The socket; `None` once stopped.
    socket: RefCell<Option<L>>,
    registration: RefCell<Option<IoRegistration>>,
    factory: RefCell<Box<dyn Factory>>,
    host: Address,
    options: ListenOptions,
    /// Failed accepts so far.
    errors: Cell<u64>,
    /// The pending retry after an accept error.
    retry: RefCell<Option<DelayedCall>>,
    /// Called when the listener stops (removes a Unix socket file); dropped with the listener
    /// otherwise, which removes the file too.
    on_stop: RefCell<Option<Box<dyn FnOnce()>>>,
    /// The shutdown trigger that stops the listener (see `live::stop_at_shutdown`).
    at_shutdown: Cell<Option<TriggerId>>,
    /// Where the listener was made (`listen_*`): the watchdog's report names it for the
    /// listener and for each connection it accepts.
    site: Site,
}

impl<L: ListenSocket> Listener<L> {
    /// Registers `socket` and starts the factory.
    #[track_caller]
    pub(crate) fn start(
        mut socket: L,
        factory: Box<dyn Factory>,
        options: ListenOptions,
        on_stop: Option<Box<dyn FnOnce()>>,
    ) -> io::Result<ListeningPort> {
        let reactor = crate::reactor::current();
        let site = Location::caller();
        let host = socket.local()?;
        let listener = Rc::new_cyclic(|me| Listener {
            me: me.clone(),
            socket: RefCell::new(None),
            registration: RefCell::new(None),
            factory: RefCell::new(factory),
            host,
            options,
            errors: Cell::new(0),
            retry: RefCell::new(None),
            on_stop: RefCell::new(on_stop),
            at_shutdown: Cell::new(None),
            site,
        });
        let registration =
            reactor
                .inner
                .register_io(&mut socket, Interest::READABLE, listener.clone(), site)?;
        *listener.socket.borrow_mut() = Some(socket);
        *listener.registration.borrow_mut() = Some(registration);
        let weak: Weak<Listener<L>> = Rc::downgrade(&listener);
        listener
            .at_shutdown
            .set(live::stop_at_shutdown(weak as Weak<dyn live::Live>));
        listener.factory.borrow_mut().start_factory();
        Ok(ListeningPort { inner: listener })
    }

    /// Accepts until `WouldBlock`, an error (then pauses), or the batch limit (then yields).
    fn accept_some(&self) {
        for _ in 0..ACCEPT_BATCH {
            let res = match self.socket.borrow().as_ref() {
                Some(s) => s.accept(),
                None => return,
            };
            match res {
                Ok((stream, peer)) => self.serve(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // The peer gave up before we accepted, or a signal: next one.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    self.errors.set(self.errors.get() + 1);
                    tracing::warn!(
                        target: "fate::net",
                        "accept on {} failed: {e}; retrying in {:?}",
                        self.host,
                        self.options.accept_retry_delay
                    );
                    let me = self.me.upgrade().expect("listener alive");
                    let call = crate::reactor::current().call_later(
                        self.options.accept_retry_delay,
                        move || {
                            me.retry.borrow_mut().take();
                            me.accept_some();
                        },
                    );
                    *self.retry.borrow_mut() = Some(call);
                    return;
                }
            }
        }
        let me = self.me.upgrade().expect("listener alive");
        crate::reactor::current()
            .call_soon_as(Kind::IoHandler, self.site, move || me.accept_some());
    }

    /// Builds a protocol for an accepted socket, or closes it if the factory refuses.
    fn serve(&self, stream: L::Stream, peer: Address) {
        L::prepare(&stream);
        let protocol = self.factory.borrow_mut().build_protocol(&peer);
        let Some(protocol) = protocol else {
            return;
        };
        let started = Conn::start(
            &crate::reactor::current(),
            stream,
            peer.clone(),
            protocol,
            None,
            self.site,
            #[cfg(feature = "tls")]
            self.options.tls.clone().map(crate::net::TlsRole::Server),
        );
        if let Err(e) = started {
            tracing::warn!(target: "fate::net", "could not serve {peer} on {}: {e}", self.host);
        }
    }
}

impl<L: ListenSocket> Drop for Listener<L> {
    /// Dropped without `stop_listening` (with its reactor): removes a Unix socket file while
    /// the socket is still open (see `SocketFile`).
    fn drop(&mut self) {
        if let Some(on_stop) = self.on_stop.get_mut().take() {
            on_stop();
        }
    }
}

impl<L: ListenSocket> IoHandler for Listener<L> {
    fn ready(&self, _readiness: Readiness) {
        if self.retry.borrow().is_none() {
            self.accept_some();
        }
    }
}

/// A reactor shutdown stops listening (Twisted's `disconnectAll` covers ports too), which
/// removes a Unix socket file.
impl<L: ListenSocket> live::Live for Listener<L> {
    fn shut_down(&self) {
        self.stop_listening();
    }
}

impl<L: ListenSocket> Port for Listener<L> {
    fn host(&self) -> Address {
        self.host.clone()
    }

    fn stop_listening(&self) {
        let socket = self.socket.borrow_mut().take();
        let Some(mut socket) = socket else {
            return;
        };
        if let Some(registration) = self.registration.borrow_mut().take() {
            let _ = registration.deregister(&mut socket);
        }
        // Before the socket closes: see `SocketFile`.
        if let Some(on_stop) = self.on_stop.borrow_mut().take() {
            on_stop();
        }
        drop(socket);
        if let Some(call) = self.retry.borrow_mut().take() {
            let _ = call.cancel();
        }
        live::forget_at_shutdown(self.at_shutdown.take());
        self.factory.borrow_mut().stop_factory();
    }

    fn is_listening(&self) -> bool {
        self.socket.borrow().is_some()
    }

    fn accept_errors(&self) -> u64 {
        self.errors.get()
    }
}
