//! `Site`: serves a resource tree over HTTP/1.1 (and HTTP/2 over TLS), with request limits,
//! timeouts for clients that send or read too slowly, an access log and graceful shutdown
//! (Twisted's `server.Site`).
//!
//! Requests the site refuses before any resource sees them: a head over the size limit
//! (431, and the connection closes), an HTTP/1.1 request without a `Host` header or any
//! request with two (400, RFC 9112 §3.2), a declared body over the limit (413), a path that
//! is not UTF-8 once decoded (400).

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use fate_core::net::ListeningPort;
use fate_core::time::DelayedCall;
use fate_deferred::{Deferred, Fire};
use http::{header, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use slab::Slab;

use crate::body::Body;
use crate::error::{Error, Kind};
use crate::io::Io;
use crate::rt::{Exec, Timer};
use crate::server::head_timeout::{HeadClock, HeadWatch};
use crate::server::park::Parkable;
use crate::server::resource::{text_response, Postpath, ReplyKind, Resource, Response};
use crate::server::send_timeout::SendWatch;
use crate::stream::Stream;

/// Serves a tree of [`Resource`]s.
///
/// # Examples
///
/// ```no_run
/// use fate::http::server::{from_fn, Request, Response, Site};
///
/// fate::run(|| {
///     let site = Site::new(from_fn(|_: Request| Response::new("hello".into())));
///     site.listen("127.0.0.1:8080".parse().unwrap()).unwrap();
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct Site {
    inner: Rc<SiteInner>,
}

struct SiteInner {
    root: Rc<dyn Resource>,
    /// Largest request body accepted (413 beyond).
    max_body: Cell<u64>,
    /// Largest request head (hyper's read buffer limit; 431 beyond).
    max_head: Cell<usize>,
    /// How long a client may take to send a request head.
    header_timeout: Cell<Duration>,
    /// How long a connection's output may make no progress.
    send_timeout: Cell<Duration>,
    /// How long an idle keep-alive connection waits before it is parked.
    park_after: Cell<Duration>,
}

impl Site {
    /// A site whose root is `root`. Limits: request bodies up to 64 MiB, heads up to
    /// 64 KiB, 30 s to send a head, 60 s without progress sending a response.
    pub fn new(root: impl Resource) -> Site {
        Site {
            inner: Rc::new(SiteInner {
                root: Rc::new(root),
                max_body: Cell::new(64 << 20),
                max_head: Cell::new(64 << 10),
                header_timeout: Cell::new(Duration::from_secs(30)),
                send_timeout: Cell::new(Duration::from_secs(60)),
                park_after: Cell::new(Duration::from_secs(1)),
            }),
        }
    }

    /// The largest request body accepted: a larger `Content-Length` is answered with 413
    /// before the body is read; a chunked body fails to read past it.
    #[must_use]
    pub fn max_request_body(self, bytes: u64) -> Site {
        self.inner.max_body.set(bytes);
        self
    }

    /// The largest request head (request line and headers); at least 8 KiB. A larger head
    /// is answered 431 and the connection closed, however it arrives (in pieces or in one
    /// write).
    #[must_use]
    pub fn max_request_head(self, bytes: usize) -> Site {
        self.inner.max_head.set(bytes.max(8192));
        self
    }

    /// How long a client may take to send a request's head — counted from when the
    /// connection opens (after the TLS handshake, which has the same limit) or the previous
    /// response was handed over — before the connection is closed (slowloris protection;
    /// also the idle timeout of keep-alive connections). Checked on a tick of an eighth of
    /// it (at most a second): a connection is closed no sooner, and at most two ticks later.
    /// Set it before listening.
    #[must_use]
    pub fn header_read_timeout(self, timeout: Duration) -> Site {
        self.inner.header_timeout.set(timeout);
        self
    }

    /// How long a connection's output may make no progress — bytes wait to be sent and none
    /// has been taken by the client — before the connection is aborted (nginx's
    /// `send_timeout`): a client that stops reading a response cannot hold the connection
    /// for ever. The wait counts from the last byte the client took, not from the start of
    /// the response, so a slow reader that keeps reading is never cut. Checked on the same
    /// tick as [`header_read_timeout`](Site::header_read_timeout) (an eighth of the shorter
    /// of the two, at most a second): a connection is aborted no sooner, and at most two
    /// ticks later. Default 60 s. Set it before listening.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fate::http::server::{from_fn, Request, Response, Site};
    ///
    /// let site = Site::new(from_fn(|_: Request| Response::new("hi".into())))
    ///     .send_timeout(Duration::from_secs(10));
    /// # drop(site);
    /// ```
    #[must_use]
    pub fn send_timeout(self, timeout: Duration) -> Site {
        self.inner.send_timeout.set(timeout);
        self
    }

    /// How long a plain HTTP/1 keep-alive connection may wait for its next request before it
    /// is *parked*: it gives back hyper's buffers (16 KiB) and keeps only its socket and a
    /// few hundred bytes of state until the client sends again, when it is served as before
    /// (nginx frees an idle keep-alive connection's buffers the same way). A client that
    /// sends its next request at once never waits that long, so the parking costs it nothing;
    /// a connection waits on for its next head under the same
    /// [`header_read_timeout`](Site::header_read_timeout). Checked on that timeout's tick:
    /// parked no sooner than `after`, at most two ticks later. `Duration::ZERO` parks every
    /// connection as soon as a response is handed over with nothing more to read, at the cost
    /// of hyper's buffers made afresh for each request. Default 1 s. TLS connections are not
    /// parked. Set it before listening.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use fate::http::server::{from_fn, Request, Response, Site};
    ///
    /// let site = Site::new(from_fn(|_: Request| Response::new("hi".into())))
    ///     .park_idle_after(Duration::from_secs(5));
    /// # drop(site);
    /// ```
    #[must_use]
    pub fn park_idle_after(self, after: Duration) -> Site {
        self.inner.park_after.set(after);
        self
    }

    /// Listens on `addr` (port 0 picks a free port) and serves every connection.
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    pub fn listen(&self, addr: SocketAddr) -> io::Result<Listening> {
        self.listen_inner(addr, None)
    }

    /// Serves a socket that is already listening (Twisted's `adoptStreamPort`): one made
    /// with other options, or handed over by a parent process or a test harness.
    ///
    /// # Errors
    ///
    /// If the socket cannot be made non-blocking or registered with the reactor.
    ///
    /// # Examples
    ///
    /// ```
    /// use fate::http::server::{from_fn, Request, Response, Site};
    ///
    /// let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// fate::block_on(async move {
    ///     let site = Site::new(from_fn(|_: Request| Response::new("hi".into())));
    ///     let listening = site.adopt(socket).unwrap();
    ///     let url = format!("http://{}/", listening.local_addr());
    ///     assert_eq!(fate::http::client::get_page(&url).await.unwrap(), "hi");
    /// })
    /// .unwrap();
    /// ```
    pub fn adopt(&self, listener: std::net::TcpListener) -> io::Result<Listening> {
        self.start(None, |on_stream| Stream::adopt(listener, on_stream))
    }

    /// Listens on `addr` for TLS connections; HTTP/2 is served to clients that ask for
    /// `h2` by ALPN (set `alpn_protocols` on `config` to offer it).
    ///
    /// # Errors
    ///
    /// If the address cannot be bound.
    pub fn listen_tls(
        &self,
        addr: SocketAddr,
        config: Arc<rustls::ServerConfig>,
    ) -> io::Result<Listening> {
        self.listen_inner(addr, Some(futures_rustls::TlsAcceptor::from(config)))
    }

    fn listen_inner(
        &self,
        addr: SocketAddr,
        tls: Option<futures_rustls::TlsAcceptor>,
    ) -> io::Result<Listening> {
        self.start(tls, |on_stream| Stream::listen(addr, on_stream))
    }

    /// Starts a listener with `listen`, serving each connection it accepts.
    fn start<L>(&self, tls: Option<futures_rustls::TlsAcceptor>, listen: L) -> io::Result<Listening>
    where
        L: FnOnce(Box<dyn FnMut(Stream, &fate_core::net::Address)>) -> io::Result<ListeningPort>,
    {
        let state = Rc::new(ServerState::new(
            self.inner.header_timeout.get(),
            self.inner.send_timeout.get(),
            self.inner.park_after.get(),
        ));
        let site = self.clone();
        let conn_state = state.clone();
        let port = listen(Box::new(move |stream, peer| {
            let peer = peer.socket_addr();
            site.serve(stream, peer, tls.clone(), &conn_state);
        }))?;
        let local = port
            .host()
            .socket_addr()
            .ok_or_else(|| io::Error::other("the listener has no IP address"))?;
        Ok(Listening { port, local, state })
    }

    /// Serves one accepted connection as a task.
    fn serve(
        &self,
        stream: Stream,
        peer: Option<SocketAddr>,
        tls: Option<futures_rustls::TlsAcceptor>,
        state: &Rc<ServerState>,
    ) {
        if state.shutting_down.get() {
            return; // dropping the stream closes it
        }
        let watch = Rc::new(HeadWatch::new(&state.clock));
        let slot = state.conns.borrow_mut().insert(Conn {
            waker: None,
            watch: watch.clone(),
            send: stream.output().map(SendWatch::new),
        });
        state.keep_ticking();
        // The connection counts until it is closed for good (its last bytes flushed), not
        // merely until hyper is done with it: shutdown must not end the process earlier.
        let guard = ConnGuard {
            state: state.clone(),
            slot,
        };
        stream.on_close(move || drop(guard));
        stream.on_write(watch.clone());
        // A response that ends the connection before the request's body was read (413, an
        // early error) must reach a client that is still sending.
        stream.linger_on_close();
        let mut service = SiteService {
            site: self.clone(),
            peer,
            watch: Some(watch.clone()),
        };
        let Some(acceptor) = tls else {
            fate_core::spawn_local(plain_task(stream, service, state.clone(), slot, watch))
                .detach();
            return;
        };
        let conn_state = state.clone();
        let http1 = self.http1();
        let header_timeout = self.inner.header_timeout.get();
        fate_core::spawn_local(async move {
            // The TLS handshake gets the head's time limit: a client that never says hello
            // must not hold a connection forever.
            let handshake = fate_core::timeout(header_timeout, acceptor.accept(stream));
            let Ok(Ok(tls_stream)) = handshake.await else {
                return;
            };
            let h2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
            let io = Io(tls_stream);
            if h2 {
                // HTTP/2 has no head timeout (nor had hyper's).
                watch.disarm();
                service.watch = None;
                let conn = http2::Builder::new(Exec)
                    .timer(Timer)
                    .serve_connection(io, service);
                Graceful::new(Box::pin(conn), &conn_state, slot, watch, |c| {
                    c.get_mut().as_mut().graceful_shutdown();
                })
                .await;
            } else {
                watch.waiting(); // the head's time starts after the handshake
                let conn = http1.serve_connection(io, service);
                Graceful::new(conn, &conn_state, slot, watch, |c| c.graceful_shutdown()).await;
            }
        })
        .detach();
    }

    /// hyper's HTTP/1 server, without a timer: the head timeout is the listener's
    /// ([`HeadClock`]), not hyper's per-request one.
    fn http1(&self) -> http1::Builder {
        let max_head = self.inner.max_head.get();
        let mut b = http1::Builder::new();
        // The buffer size alone is a soft limit: a larger head that arrives in one read
        // fits the buffer's spare room and is parsed.
        b.max_buf_size(max_head)
            .max_header_size(max_head)
            .keep_alive(true);
        b
    }

    /// Finds the resource for `path`: it and the segments below it (its postpath), or the
    /// answer the site gives itself. Looks only at the head: the request itself is moved once,
    /// from hyper's into the one the resource renders (each move copies its 200-odd bytes).
    fn route(&self, path: &str, declared: Option<u64>) -> Result<Routed, Refusal> {
        if declared.is_some_and(|n| n > self.inner.max_body.get()) {
            return Err(Refusal::TOO_LARGE);
        }
        let segments = decode_path(path).ok_or(Refusal::BAD_PATH)?;
        let mut resource = self.inner.root.clone();
        let mut consumed = 0;
        while consumed < segments.len() && !resource.is_leaf() {
            let seg = &segments[consumed];
            if seg.is_empty() && consumed + 1 == segments.len() {
                consumed += 1; // a trailing slash names the same resource
                break;
            }
            resource = resource.child(seg).ok_or(Refusal::NOT_FOUND)?;
            consumed += 1;
        }
        let postpath = if resource.is_leaf() {
            segments[consumed..].to_vec()
        } else {
            Vec::new()
        };
        Ok(Routed { resource, postpath })
    }

    /// The body a resource reads: `body` within the size limit; `declared` is its
    /// `Content-Length`, which hyper has parsed and checked already (none if chunked).
    fn request_body(&self, body: Incoming, declared: Option<u64>) -> Body {
        if declared == Some(0) || http_body::Body::is_end_stream(&body) {
            return Body::empty();
        }
        let max_body = self.inner.max_body.get();
        Body::wrap(
            http_body_util::Limited::new(body, max_body as usize).map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    Error::with(Kind::TooLarge, e)
                } else {
                    Error::with(Kind::Transport, e)
                }
            }),
        )
    }
}

/// Where a request goes: the resource that renders it, and the path below it.
struct Routed {
    resource: Rc<dyn Resource>,
    postpath: Vec<String>,
}

/// A request the site answers itself, before any resource sees it.
#[derive(Clone, Copy, Debug)]
struct Refusal {
    status: StatusCode,
    text: &'static str,
    /// The connection closes after the answer (what follows cannot be trusted, or the body
    /// is not going to be read).
    close: bool,
}

impl Refusal {
    const BAD_HOST: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        text: "bad Host header",
        close: true,
    };
    const TOO_LARGE: Refusal = Refusal {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        text: "request body too large",
        close: true,
    };
    const BAD_PATH: Refusal = Refusal {
        status: StatusCode::BAD_REQUEST,
        text: "bad path",
        close: false,
    };
    const NOT_FOUND: Refusal = Refusal {
        status: StatusCode::NOT_FOUND,
        text: "not found",
        close: false,
    };

    fn response(self) -> Response {
        let mut r = text_response(self.status, self.text.into());
        if self.close {
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        r
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Site")
            .field("max_request_body", &self.inner.max_body.get())
            .finish_non_exhaustive()
    }
}

/// The site as hyper's service for one connection.
pub(super) struct SiteService {
    site: Site,
    peer: Option<SocketAddr>,
    /// The connection's head timeout (HTTP/1 only).
    watch: Option<Rc<HeadWatch>>,
}

impl SiteService {
    /// hyper's HTTP/1 server for this site (to serve a parked connection afresh).
    pub(super) fn http1(&self) -> http1::Builder {
        self.site.http1()
    }
}

impl hyper::service::Service<http::Request<Incoming>> for SiteService {
    type Response = Response;
    type Error = Infallible;
    type Future = Served;

    fn call(&self, request: http::Request<Incoming>) -> Served {
        if let Some(watch) = &self.watch {
            watch.head_received();
        }
        let log = tracing::enabled!(target: "fate_http::access", tracing::Level::INFO).then(|| {
            Box::new(AccessLog {
                start: Instant::now(),
                method: request.method().clone(),
                path: request.uri().path().to_string(),
                version: request.version(),
                peer: self.peer,
            })
        });
        let watch = self.watch.clone();
        let (mut parts, body) = request.into_parts();
        let declared = http_body::Body::size_hint(&body).exact();
        let routed = if has_bad_host(&parts) {
            Err(Refusal::BAD_HOST)
        } else {
            self.site.route(parts.uri.path(), declared)
        };
        // Each branch builds the future in place: the reply is not moved through a local.
        match routed {
            Ok(Routed { resource, postpath }) => {
                if !postpath.is_empty() {
                    parts.extensions.insert(Postpath(postpath));
                }
                let body = self.site.request_body(body, declared);
                Served {
                    reply: Some(resource.render(http::Request::from_parts(parts, body)).0),
                    log,
                    watch,
                }
            }
            Err(refusal) => Served {
                reply: Some(ReplyKind::Ready(refusal.response())),
                log,
                watch,
            },
        }
    }
}

/// A plain HTTP/1 connection's task: the connection itself and nothing around it, so that an
/// idle keep-alive connection holds its parked state and little more (the TLS path, were it
/// in the same future, would size every task to a TLS handshake).
fn plain_task(
    stream: Stream,
    service: SiteService,
    state: Rc<ServerState>,
    slot: usize,
    watch: Rc<HeadWatch>,
) -> impl Future<Output = ()> {
    let conn = Parkable::new(stream, service, watch.clone());
    Graceful::new(conn, &state, slot, watch, |c| {
        c.get_mut().graceful_shutdown()
    })
}

/// Whether a request breaks RFC 9112 §3.2: no `Host` in HTTP/1.1 (HTTP/2 names its
/// authority otherwise, HTTP/1.0 need not), or more than one in any version.
fn has_bad_host(request: &http::request::Parts) -> bool {
    let headers = &request.headers;
    // Most requests carry a few headers: comparing their names (a standard name compares as
    // a small integer) costs less than hashing `host` for a lookup.
    let hosts = if headers.len() <= FEW_HEADERS {
        headers
            .iter()
            .filter(|(name, _)| *name == header::HOST)
            .count()
    } else {
        headers.get_all(header::HOST).iter().take(2).count()
    };
    match hosts {
        0 => request.version == http::Version::HTTP_11,
        n => n > 1,
    }
}

/// Up to this many headers, [`has_bad_host`] walks them instead of looking `host` up.
const FEW_HEADERS: usize = 16;

/// What the access log says of a request, taken before it is rendered.
struct AccessLog {
    start: Instant,
    method: http::Method,
    path: String,
    version: http::Version,
    peer: Option<SocketAddr>,
}

impl AccessLog {
    fn write(&self, response: &Response) {
        let peer = self.peer.map_or_else(|| "-".to_string(), |p| p.to_string());
        tracing::info!(
            target: "fate_http::access",
            "{peer} \"{} {} {:?}\" {} {:.3} ms",
            self.method,
            self.path,
            self.version,
            response.status().as_u16(),
            self.start.elapsed().as_secs_f64() * 1e3
        );
    }
}

/// A request being served: its reply, then the access log line.
pub(super) struct Served {
    /// `None` once answered.
    reply: Option<ReplyKind>,
    /// Boxed: hyper moves the future per request, and logging is usually off.
    log: Option<Box<AccessLog>>,
    /// Told when hyper drops the response's body: the connection then awaits its next head.
    watch: Option<Rc<HeadWatch>>,
}

impl Future for Served {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Some(ReplyKind::Later(f)) = &mut this.reply {
            let Poll::Ready(r) = f.as_mut().poll(cx) else {
                return Poll::Pending;
            };
            this.reply = Some(ReplyKind::Ready(r));
        }
        // Finished where it lies, then moved out once, into the result.
        let Some(ReplyKind::Ready(response)) = &mut this.reply else {
            panic!("a served request was polled after it answered");
        };
        if let Some(log) = this.log.take() {
            log.write(response);
        }
        if let Some(watch) = this.watch.take() {
            response.body_mut().on_drop(watch);
        }
        match this.reply.take() {
            Some(ReplyKind::Ready(response)) => Poll::Ready(Ok(response)),
            _ => unreachable!("the reply is ready"),
        }
    }
}

/// Splits a path into percent-decoded segments; `None` if one is not UTF-8.
fn decode_path(path: &str) -> Option<Vec<String>> {
    let path = path.strip_prefix('/').unwrap_or(path);
    if path.is_empty() {
        return Some(Vec::new());
    }
    path.split('/')
        .map(|seg| {
            percent_encoding::percent_decode_str(seg)
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        })
        .collect()
}

/// What a listener and its connections share: who is connected, their head timeouts, and
/// whether the site is shutting down.
struct ServerState {
    /// One slot per open connection.
    conns: RefCell<Slab<Conn>>,
    /// The head timeout's ticks.
    clock: Rc<HeadClock>,
    /// The next tick, while there are connections.
    ticker: RefCell<Option<DelayedCall>>,
    /// `shutdown` was called: connections finish their current request and close.
    shutting_down: Cell<bool>,
    /// Fired when the last connection closes after `shutdown`.
    drained: RefCell<Vec<Fire<()>>>,
}

/// An open connection, as its listener sees it (until it has closed for good, after its
/// task ended and its last bytes were sent).
struct Conn {
    /// Its task's waker, once it is waiting.
    waker: Option<Waker>,
    watch: Rc<HeadWatch>,
    /// Its send timeout (`None` if it closed before it was served).
    send: Option<SendWatch>,
}

impl ServerState {
    fn new(header_timeout: Duration, send_timeout: Duration, park_after: Duration) -> ServerState {
        ServerState {
            conns: RefCell::default(),
            clock: Rc::new(HeadClock::new(header_timeout, send_timeout, park_after)),
            ticker: RefCell::new(None),
            shutting_down: Cell::new(false),
            drained: RefCell::default(),
        }
    }

    /// Makes sure the head timeout's clock ticks (while there are connections).
    fn keep_ticking(self: &Rc<Self>) {
        let mut ticker = self.ticker.borrow_mut();
        if ticker.as_ref().is_some_and(DelayedCall::active) {
            return;
        }
        let state = Rc::downgrade(self);
        *ticker = Some(fate_core::call_later(self.clock.tick(), move || {
            if let Some(state) = state.upgrade() {
                state.tick();
            }
        }));
    }

    /// Stops the ticks once the last connection has closed (nothing is left to time, and a
    /// pending tick would keep `run_until_idle` from returning).
    fn stop_ticking_if_idle(&self) {
        if !self.conns.borrow().is_empty() {
            return;
        }
        if let Some(call) = self.ticker.borrow_mut().take() {
            let _ = call.cancel();
        }
    }

    /// One tick: wakes the connections that waited too long for a head (they close when
    /// polled) and those idle long enough to park (they park when polled), aborts those
    /// whose output stalled too long, and schedules the next tick if any connection is left.
    fn tick(self: &Rc<Self>) {
        self.ticker.borrow_mut().take();
        self.clock.advance();
        let (now, send_ticks) = (self.clock.now(), self.clock.send_ticks());
        // An abort tells the connection's task and listener only at the next turn, so
        // nothing here changes `conns` while it is borrowed.
        let expired: Vec<Waker> = self
            .conns
            .borrow()
            .iter()
            .filter(|(_, c)| {
                // Checked whatever the head watch says: a connection closed for its head
                // timeout may still hold output that never leaves.
                let aborted = c.send.as_ref().is_some_and(|s| s.check(now, send_ticks));
                aborted || c.watch.expired() || c.watch.due_to_park()
            })
            .filter_map(|(_, c)| c.waker.clone())
            .collect();
        for w in expired {
            w.wake();
        }
        if !self.conns.borrow().is_empty() {
            self.keep_ticking();
        }
    }

    fn begin_shutdown(&self) {
        self.shutting_down.set(true);
        // Closing tells nobody before the next turn, so `conns` stays ours meanwhile.
        for (_, c) in self.conns.borrow().iter() {
            if let Some(send) = &c.send {
                send.stop_lingering();
            }
        }
        let wakers: Vec<Waker> = self
            .conns
            .borrow_mut()
            .iter_mut()
            .filter_map(|(_, c)| c.waker.take())
            .collect();
        for w in wakers {
            w.wake();
        }
    }

    fn check_drained(&self) {
        if self.shutting_down.get() && self.conns.borrow().is_empty() {
            let fires: Vec<_> = self.drained.borrow_mut().drain(..).collect();
            for fire in fires {
                let _ = fire.try_callback(());
            }
        }
    }
}

/// Counts a connection while its task lives.
struct ConnGuard {
    state: Rc<ServerState>,
    slot: usize,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.state.conns.borrow_mut().try_remove(self.slot);
        self.state.stop_ticking_if_idle();
        self.state.check_drained();
    }
}

/// Drives a connection; at shutdown, asks it to finish the request in flight and close; once
/// its head timeout expires, drops it (which closes it). The connection is held inline (hyper's
/// HTTP/1 connection is `Unpin`), so a plain connection's task is one allocation.
struct Graceful<C, G> {
    conn: C,
    graceful: Option<G>,
    state: Rc<ServerState>,
    /// The connection's slot in `state.conns`.
    slot: usize,
    watch: Rc<HeadWatch>,
}

impl<C: Unpin, G: FnOnce(Pin<&mut C>)> Graceful<C, G> {
    fn new(
        conn: C,
        state: &Rc<ServerState>,
        slot: usize,
        watch: Rc<HeadWatch>,
        graceful: G,
    ) -> Self {
        Graceful {
            conn,
            graceful: Some(graceful),
            state: state.clone(),
            slot,
            watch,
        }
    }
}

impl<C, G> Future for Graceful<C, G>
where
    C: Future + Unpin,
    G: FnOnce(Pin<&mut C>) + Unpin,
{
    /// The connection's own outcome is of no interest: hyper has answered what it could.
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.watch.expired() {
            tracing::debug!("closing a connection that sent no request head in time");
            // A slow client gets no further grace: no lingering close.
            if let Some(send) = this
                .state
                .conns
                .borrow()
                .get(this.slot)
                .and_then(|c| c.send.as_ref())
            {
                send.stop_lingering();
            }
            return Poll::Ready(());
        }
        let state = &this.state;
        if state.shutting_down.get() {
            if let Some(g) = this.graceful.take() {
                g(Pin::new(&mut this.conn));
            }
        }
        // Kept even while shutting down: a head timeout may still have to wake it.
        if let Some(conn) = state.conns.borrow_mut().get_mut(this.slot) {
            if !conn.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                conn.waker = Some(cx.waker().clone());
            }
        }
        Pin::new(&mut this.conn).poll(cx).map(drop)
    }
}

/// A listening site: its address, and its graceful shutdown.
///
/// # Cancellation
///
/// Dropping it does not stop the listener; call [`shutdown`](Listening::shutdown) or
/// [`stop_listening`](Listening::stop_listening).
pub struct Listening {
    port: ListeningPort,
    local: SocketAddr,
    state: Rc<ServerState>,
}

impl Listening {
    /// The address it listens on (with the port chosen, for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.state.conns.borrow().len()
    }

    /// Open connections that are parked: idle keep-alive connections holding no HTTP
    /// buffers (see [`Site::park_idle_after`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use std::time::Duration;
    /// use fate::http::server::{from_fn, Request, Response, Site};
    ///
    /// fate::block_on(async {
    ///     let site = Site::new(from_fn(|_: Request| Response::new("hi".into())))
    ///         .park_idle_after(Duration::ZERO);
    ///     let listening = site.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     let addr = listening.local_addr();
    ///     let client = std::thread::spawn(move || {
    ///         let mut s = std::net::TcpStream::connect(addr).unwrap();
    ///         s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    ///         let mut answer = [0; 512];
    ///         let n = s.read(&mut answer).unwrap();
    ///         assert!(answer[..n].ends_with(b"hi"));
    ///         s // kept open: an idle keep-alive connection
    ///     });
    ///     while !client.is_finished() {
    ///         fate::sleep(Duration::from_millis(1)).await;
    ///     }
    ///     let _idle = client.join().unwrap();
    ///     fate::sleep(Duration::from_millis(10)).await;
    ///     assert_eq!(listening.parked_connections(), 1);
    /// })
    /// .unwrap();
    /// ```
    pub fn parked_connections(&self) -> usize {
        self.state
            .conns
            .borrow()
            .iter()
            .filter(|(_, c)| c.watch.is_parked())
            .count()
    }

    /// Stops accepting; open connections go on.
    pub fn stop_listening(&self) {
        self.port.stop_listening();
    }

    /// Graceful shutdown: stops accepting, lets every connection finish the request it is
    /// serving (idle keep-alive connections close at once), and fires when the last
    /// connection has closed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use fate::http::server::{from_fn, Request, Response, Site};
    /// fate::run(|| {
    ///     let site = Site::new(from_fn(|_: Request| Response::new("bye".into())));
    ///     let listening = site.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    ///     listening.shutdown().add_callback(|()| fate::reactor().stop());
    /// })
    /// .unwrap();
    /// ```
    pub fn shutdown(&self) -> Deferred<()> {
        self.port.stop_listening();
        let (d, fire) = Deferred::pending();
        self.state.drained.borrow_mut().push(fire);
        self.state.begin_shutdown();
        self.state.check_drained();
        d
    }
}

impl fmt::Debug for Listening {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listening")
            .field("addr", &self.local)
            .field("connections", &self.connections())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an idle keep-alive connection holds beyond hyper's buffers is mostly its task:
    /// hyper's connection state, the shutdown and timeout hooks. (A task that also held the
    /// TLS path's handshake was 2.6 KiB.)
    #[test]
    fn a_plain_connection_task_stays_small() {
        fn output_size<A, B, C, D, E, R>(_: fn(A, B, C, D, E) -> R) -> usize {
            std::mem::size_of::<R>()
        }
        let size = output_size(plain_task);
        assert!(size <= 1024, "{size} bytes");
    }

    #[test]
    fn host_headers_are_checked_as_rfc_9112_says() {
        use http::Version;
        // (version, Host headers, bad)
        let table: [(Version, &[&str], bool); 6] = [
            (Version::HTTP_11, &["x"], false),
            (Version::HTTP_11, &[], true),
            (Version::HTTP_11, &["x", "y"], true),
            (Version::HTTP_10, &[], false),
            (Version::HTTP_10, &["x", "x"], true),
            (Version::HTTP_2, &[], false),
        ];
        // Each case with few other headers (walked) and with many (looked up).
        for ((version, hosts, bad), others) in table.into_iter().flat_map(|c| [(c, 1), (c, 20)]) {
            let mut request = http::Request::new(());
            *request.version_mut() = version;
            for i in 0..others {
                request.headers_mut().insert(
                    header::HeaderName::try_from(format!("x-other-{i}")).unwrap(),
                    HeaderValue::from_static("v"),
                );
            }
            for h in hosts {
                request
                    .headers_mut()
                    .append(header::HOST, HeaderValue::from_static(h));
            }
            assert_eq!(
                has_bad_host(&request.into_parts().0),
                bad,
                "{version:?} {hosts:?} {others}"
            );
        }
    }

    #[test]
    fn paths_decode_into_segments() {
        // (path, segments)
        let table: [(&str, Option<&[&str]>); 7] = [
            ("/", Some(&[])),
            ("/a/b", Some(&["a", "b"])),
            ("/a/", Some(&["a", ""])),
            ("/%2e%2e/x", Some(&["..", "x"])),
            ("/a%2fb", Some(&["a/b"])),
            ("/sp%20ace", Some(&["sp ace"])),
            ("/bad%ff", None),
        ];
        for (path, want) in table {
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(decode_path(path), want, "{path}");
        }
    }
}
