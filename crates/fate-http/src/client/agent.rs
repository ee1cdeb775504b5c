//! `Agent`: makes requests — connection pool, TLS, redirects, timeouts, decoding.

use std::cell::OnceCell;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Uri, Version};
use hyper::client::conn::{http1, http2};
use rustls::pki_types::{CertificateDer, ServerName};

use crate::body::Body;
use crate::client::decode::{Decoder, ACCEPT_ENCODING};
use crate::client::pool::{Key, Pool, Return, Sender};
use crate::client::redirect;
use crate::client::response::{wait_phase, Progress, Response};
use crate::client::tls;
use crate::client::urls::{parse_url, resolve_redirect};
use crate::error::{Error, Kind, Phase};
use crate::io::Io;
use crate::rt::{Exec, Timer};
use crate::stream::Stream;

/// A request in flight on either protocol.
type SendFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<
            Output = Result<
                http::Response<hyper::body::Incoming>,
                hyper::client::conn::TrySendError<Request<Body>>,
            >,
        >,
    >,
>;

/// The `User-Agent` sent unless the request has one.
const USER_AGENT: &str = concat!("fate/", env!("CARGO_PKG_VERSION"));

/// Makes HTTP requests (Twisted's `Agent` with its `HTTPConnectionPool`, `RedirectAgent` and
/// `ContentDecoderAgent` folded in).
///
/// Connections are kept alive and reused per (scheme, host, port); `https` URLs negotiate
/// HTTP/2 or HTTP/1.1 by ALPN; redirects are followed up to a limit; `gzip`, `deflate` and
/// `br` bodies are decoded. Clones share the pool.
///
/// # Examples
///
/// ```no_run
/// let agent = fate::http::client::Agent::new();
/// fate::block_on(async move {
///     let response = agent.get("http://127.0.0.1:8080/").await?;
///     println!("{} {:?}", response.status(), response.bytes().await?);
///     Ok::<_, fate::http::Error>(())
/// })
/// .unwrap()
/// .unwrap();
/// ```
///
/// # Cancellation
///
/// Dropping a request's future (or cancelling the Deferred of
/// [`get_page`](Agent::get_page)) closes its connection.
///
/// An agent belongs to its reactor's thread (it holds `Rc`s):
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(fate::http::client::Agent::new());
/// ```
#[derive(Clone)]
pub struct Agent {
    inner: Rc<Inner>,
}

struct Inner {
    config: Config,
    pool: Rc<Pool>,
    /// Built at the first `https` request (loading the system roots takes a while).
    tls: OnceCell<Result<Arc<rustls::ClientConfig>, String>>,
}

/// Everything an [`AgentBuilder`] sets.
#[derive(Clone)]
struct Config {
    connect_timeout: Option<Duration>,
    response_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    pool_idle_timeout: Duration,
    max_idle_per_host: usize,
    redirect_limit: usize,
    decode: bool,
    max_decode_ratio: Option<u32>,
    http2: bool,
    system_roots: bool,
    roots: Vec<CertificateDer<'static>>,
    tls_config: Option<Arc<rustls::ClientConfig>>,
    user_agent: Option<HeaderValue>,
}

/// Configures an [`Agent`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let agent = fate::http::client::Agent::builder()
///     .connect_timeout(Duration::from_secs(5))
///     .idle_timeout(Duration::from_secs(30))
///     .redirect_limit(5)
///     .build();
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct AgentBuilder {
    config: Config,
}

impl Default for AgentBuilder {
    fn default() -> AgentBuilder {
        AgentBuilder {
            config: Config {
                connect_timeout: Some(Duration::from_secs(30)),
                response_timeout: None,
                idle_timeout: Some(Duration::from_secs(60)),
                total_timeout: None,
                pool_idle_timeout: Duration::from_secs(90),
                max_idle_per_host: 8,
                redirect_limit: 20,
                decode: true,
                max_decode_ratio: Some(100),
                http2: true,
                system_roots: true,
                roots: Vec::new(),
                tls_config: None,
                user_agent: Some(HeaderValue::from_static(USER_AGENT)),
            },
        }
    }
}

impl AgentBuilder {
    /// How long connecting (TCP and TLS handshake) may take. Default 30 s; `None`: no limit.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.connect_timeout = timeout.into();
        self
    }

    /// How long to wait for the response's head once the request is sent. Default: no limit.
    pub fn response_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.response_timeout = timeout.into();
        self
    }

    /// How long the body may stall between two chunks. Default 60 s.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.idle_timeout = timeout.into();
        self
    }

    /// How long a whole request may take, redirects and body included. Default: no limit.
    pub fn total_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.total_timeout = timeout.into();
        self
    }

    /// How long an idle kept-alive connection stays open. Default 90 s.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.pool_idle_timeout = timeout;
        self
    }

    /// How many idle connections to keep per (scheme, host, port). Default 8; 0 disables
    /// keep-alive reuse.
    pub fn max_idle_per_host(mut self, max: usize) -> Self {
        self.config.max_idle_per_host = max;
        self
    }

    /// How many redirects to follow; 0 returns redirect responses as they are. Default 20.
    pub fn redirect_limit(mut self, limit: usize) -> Self {
        self.config.redirect_limit = limit;
        self
    }

    /// Whether to ask for and decode `gzip`, `deflate` and `br` bodies. Default on.
    pub fn decode(mut self, on: bool) -> Self {
        self.config.decode = on;
        self
    }

    /// The most a body may grow by decoding: once it decoded past 1 MiB, more than `ratio`
    /// decoded bytes per received byte end it with an error (`is_too_large`), the mark of a
    /// decompression bomb (gzip of zeros expands about 1000-fold). Default 100; `None`: no
    /// limit (memory stays bounded either way when the body is read chunk by chunk).
    ///
    /// # Examples
    ///
    /// ```
    /// let agent = fate::http::client::Agent::builder().max_decode_ratio(1000).build();
    /// ```
    pub fn max_decode_ratio(mut self, ratio: impl Into<Option<u32>>) -> Self {
        self.config.max_decode_ratio = ratio.into();
        self
    }

    /// Whether to offer HTTP/2 by ALPN on `https` connections. Default on.
    pub fn http2(mut self, on: bool) -> Self {
        self.config.http2 = on;
        self
    }

    /// Whether to trust the system's root certificates. Default on.
    pub fn system_roots(mut self, on: bool) -> Self {
        self.config.system_roots = on;
        self
    }

    /// Also trusts the CA certificates in `pem`.
    ///
    /// # Errors
    ///
    /// If `pem` holds no valid certificate.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        self.config.roots.extend(tls::parse_pem(pem)?);
        Ok(self)
    }

    /// Uses this rustls configuration for `https` (roots and ALPN settings above are then
    /// ignored; set `alpn_protocols` to `h2`, `http/1.1` for HTTP/2).
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.config.tls_config = Some(config);
        self
    }

    /// The `User-Agent` header; `None` sends none. Default `fate/VERSION`.
    pub fn user_agent(mut self, agent: Option<&str>) -> Self {
        self.config.user_agent = agent.and_then(|a| HeaderValue::from_str(a).ok());
        self
    }

    /// Builds the agent.
    pub fn build(self) -> Agent {
        let config = self.config;
        let pool = Pool::new(config.max_idle_per_host, config.pool_idle_timeout);
        let tls = OnceCell::new();
        if let Some(c) = &config.tls_config {
            let _ = tls.set(Ok(c.clone()));
        }
        Agent {
            inner: Rc::new(Inner { config, pool, tls }),
        }
    }
}

/// One request as the redirect loop re-issues it.
struct Pending {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    /// The body's bytes, if it can be sent again.
    replay: Option<bytes::Bytes>,
}

impl Agent {
    /// An agent with the default settings (see [`AgentBuilder`]).
    pub fn new() -> Agent {
        AgentBuilder::default().build()
    }

    /// Configures an agent.
    pub fn builder() -> AgentBuilder {
        AgentBuilder::default()
    }

    /// GETs `url` (parsed by [`parse_url`]).
    ///
    /// # Errors
    ///
    /// As [`request`](Agent::request). A non-2xx status is not an error here.
    pub async fn get(&self, url: &str) -> Result<Response, Error> {
        let uri = parse_url(url)?;
        self.request(Request::get(uri).body(Body::empty())?).await
    }

    /// POSTs `body` to `url` (parsed by [`parse_url`]).
    ///
    /// # Errors
    ///
    /// As [`request`](Agent::request).
    pub async fn post(&self, url: &str, body: impl Into<Body>) -> Result<Response, Error> {
        let uri = parse_url(url)?;
        self.request(Request::post(uri).body(body.into())?).await
    }

    /// Sends `request` (its URI must be absolute: `http://` or `https://`), following
    /// redirects; resolves once the response's head arrived.
    ///
    /// # Errors
    ///
    /// A bad URL (`is_builder`), no connection (`is_connect`), a timeout (`is_timeout`), too
    /// many redirects or a 307/308 for a streamed body (`is_redirect`), or a broken
    /// connection (`is_transport`).
    pub async fn request(&self, request: Request<Body>) -> Result<Response, Error> {
        let config = &self.inner.config;
        let deadline = config.total_timeout.map(|t| (crate::rt::now() + t, t));
        let (parts, body) = request.into_parts();
        let mut pending = Pending {
            replay: body.replayable(),
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        };
        let mut redirects = 0;
        loop {
            let url = pending.uri.clone();
            let (response, pool_return) = self
                .send_once(&mut pending, deadline)
                .await
                .map_err(|e| e.for_url(&url))?;
            let follow = redirect::follow(response.status(), &pending.method);
            let location = response
                .headers()
                .get(header::LOCATION)
                .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
            if let (Some(follow), Some(location), true) =
                (follow, location, config.redirect_limit > 0)
            {
                let next = resolve_redirect(&url, &location).map_err(|e| e.for_url(&url))?;
                if redirects == config.redirect_limit {
                    return Err(Error::with(
                        Kind::Redirect,
                        format!("more than {} redirects", config.redirect_limit),
                    )
                    .for_url(&url));
                }
                redirects += 1;
                self.prepare_redirect(&mut pending, follow, next)
                    .map_err(|e| e.for_url(&url))?;
                // The redirect's body is unread: its connection cannot be reused.
                drop((response, pool_return));
                continue;
            }
            return Ok(self.finish(response, pool_return, url, redirects, deadline));
        }
    }

    fn prepare_redirect(
        &self,
        pending: &mut Pending,
        follow: redirect::Follow,
        next: Uri,
    ) -> Result<(), Error> {
        if !redirect::same_origin(&pending.uri, &next) {
            for name in &redirect::SENSITIVE {
                pending.headers.remove(name);
            }
        }
        pending.headers.remove(header::HOST);
        if follow.keep_body {
            let Some(bytes) = pending.replay.clone() else {
                return Err(Error::with(
                    Kind::Redirect,
                    "a streamed request body cannot be sent again to the redirect target",
                ));
            };
            pending.body = Body::from(bytes);
        } else {
            for name in &redirect::BODY_HEADERS {
                pending.headers.remove(name);
            }
            pending.body = Body::empty();
            pending.replay = Some(bytes::Bytes::new());
        }
        pending.method = follow.method;
        pending.uri = next;
        Ok(())
    }

    /// Sends one request on a pooled or new connection; retries once on a fresh connection
    /// when a pooled one turns out to be closed before the request went out.
    async fn send_once(
        &self,
        pending: &mut Pending,
        deadline: Option<(Instant, Duration)>,
    ) -> Result<(http::Response<hyper::body::Incoming>, Option<Return>), Error> {
        let config = &self.inner.config;
        let key = key_for(&pending.uri)?;
        let mut request = Request::new(std::mem::take(&mut pending.body));
        *request.method_mut() = pending.method.clone();
        *request.headers_mut() = pending.headers.clone();
        let headers = request.headers_mut();
        if let Some(ua) = &config.user_agent {
            headers.entry(header::USER_AGENT).or_insert(ua.clone());
        }
        if config.decode {
            headers
                .entry(header::ACCEPT_ENCODING)
                .or_insert(HeaderValue::from_static(ACCEPT_ENCODING));
        }
        headers
            .entry(header::ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        let mut fresh = false;
        let mut sender = match self.inner.pool.checkout(&key) {
            Some(sender) => sender,
            None => {
                fresh = true;
                self.connect(&key, deadline).await?
            }
        };
        loop {
            let shaped = prepare(&mut request, &pending.uri, &sender)?;
            let sent = match &mut sender {
                Sender::Http1(s) => match s.ready().await {
                    Ok(()) => Some(Box::pin(s.try_send_request(shaped)) as SendFuture),
                    Err(_) => None,
                },
                Sender::Http2(s) => match s.ready().await {
                    Ok(()) => Some(Box::pin(s.try_send_request(shaped)) as SendFuture),
                    Err(_) => None,
                },
            };
            let future = match sent {
                Some(f) => f,
                None if !fresh => {
                    fresh = true;
                    sender = self.connect(&key, deadline).await?;
                    continue;
                }
                None => return Err(Error::with(Kind::Transport, "the connection closed")),
            };
            let limit = config.response_timeout.map(|t| (Phase::Response, t));
            match wait_phase(future, limit, deadline).await? {
                Ok(response) => {
                    let pool_return = match sender {
                        Sender::Http1(sender) => Some(Return {
                            pool: Rc::downgrade(&self.inner.pool),
                            key,
                            sender,
                        }),
                        Sender::Http2(_) => None,
                    };
                    return Ok((response, pool_return));
                }
                Err(mut e) => match e.take_message() {
                    // Not sent: the pooled connection was closed by the server meanwhile.
                    Some(back) if !fresh => {
                        request = back;
                        fresh = true;
                        sender = self.connect(&key, deadline).await?;
                    }
                    _ => return Err(Error::from(e.into_error())),
                },
            }
        }
    }

    /// Opens a connection to `key` (TCP, then TLS for https) and starts its task.
    async fn connect(
        &self,
        key: &Key,
        deadline: Option<(Instant, Duration)>,
    ) -> Result<Sender, Error> {
        let config = &self.inner.config;
        let limit = config.connect_timeout.map(|t| (Phase::Connect, t));
        let tls = if key.https {
            Some(self.tls_config()?)
        } else {
            None
        };
        let stream = wait_phase(Stream::connect(&key.host, key.port, None), limit, deadline)
            .await?
            .map_err(connect_error)?;
        let Some(tls) = tls else {
            let (sender, conn) = http1::Builder::new()
                .handshake::<_, Body>(stream)
                .await
                .map_err(|e| Error::with(Kind::Connect, e))?;
            spawn_connection(key, conn);
            return Ok(Sender::Http1(sender));
        };
        let name =
            ServerName::try_from(key.host.clone()).map_err(|e| Error::with(Kind::Builder, e))?;
        let handshake = futures_rustls::TlsConnector::from(tls).connect(name, stream);
        let stream = wait_phase(handshake, limit, deadline)
            .await?
            .map_err(|e| Error::with(Kind::Connect, format!("TLS: {e}")))?;
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = Io(stream);
        if h2 {
            let (sender, conn) = http2::Builder::new(Exec)
                .timer(Timer)
                .handshake::<_, Body>(io)
                .await
                .map_err(|e| Error::with(Kind::Connect, e))?;
            spawn_connection(key, conn);
            self.inner.pool.insert_http2(key, &sender);
            Ok(Sender::Http2(sender))
        } else {
            let (sender, conn) = http1::Builder::new()
                .handshake::<_, Body>(io)
                .await
                .map_err(|e| Error::with(Kind::Connect, e))?;
            spawn_connection(key, conn);
            Ok(Sender::Http1(sender))
        }
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        let config = &self.inner.config;
        self.inner
            .tls
            .get_or_init(|| {
                tls::client_config(config.system_roots, &config.roots, config.http2)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| Error::with(Kind::Builder, e))
    }

    /// Wraps hyper's response: decoding, progress, timeouts, the way back to the pool.
    fn finish(
        &self,
        response: http::Response<hyper::body::Incoming>,
        pool_return: Option<Return>,
        url: Uri,
        redirects: usize,
        deadline: Option<(Instant, Duration)>,
    ) -> Response {
        let (mut parts, body) = response.into_parts();
        let total = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let decoder = if self.inner.config.decode {
            let decoder = parts
                .headers
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .and_then(Decoder::for_encoding);
            if decoder.is_some() {
                parts.headers.remove(header::CONTENT_ENCODING);
                parts.headers.remove(header::CONTENT_LENGTH);
            }
            decoder
        } else {
            None
        };
        Response {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            url,
            redirects,
            body: Some(body),
            decoder,
            decoded: 0,
            max_decode_ratio: self.inner.config.max_decode_ratio,
            progress: Progress { received: 0, total },
            idle_timeout: self.inner.config.idle_timeout,
            deadline,
            pool_return,
        }
    }

    /// Closes the idle kept-alive connections (Twisted's `closeCachedConnections`).
    pub fn close_idle_connections(&self) {
        self.inner.pool.clear();
    }

    /// Idle pooled connections to `url`'s origin (for tests and diagnostics).
    #[doc(hidden)]
    pub fn idle_connections(&self, url: &str) -> usize {
        url.parse::<Uri>()
            .ok()
            .and_then(|u| key_for(&u).ok())
            .map_or(0, |k| self.inner.pool.idle_count(&k))
    }
}

impl Default for Agent {
    fn default() -> Agent {
        Agent::new()
    }
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent").finish_non_exhaustive()
    }
}

/// The pool key of an absolute http(s) URL.
fn key_for(uri: &Uri) -> Result<Key, Error> {
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        Some(other) => {
            return Err(Error::with(
                Kind::Builder,
                format!("unsupported scheme {other:?}: http or https"),
            ))
        }
        None => return Err(Error::with(Kind::Builder, "the URL is not absolute")),
    };
    let host = uri
        .host()
        .ok_or_else(|| Error::with(Kind::Builder, "the URL has no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    Ok(Key {
        https,
        host,
        port: redirect::port(uri),
    })
}

/// Makes a copy of `request` shaped for the connection: origin-form and `Host` for
/// HTTP/1.1, absolute form for HTTP/2. Only the body moves out of the original.
fn prepare(
    request: &mut Request<Body>,
    uri: &Uri,
    sender: &Sender,
) -> Result<Request<Body>, Error> {
    let mut out = Request::new(std::mem::take(request.body_mut()));
    *out.method_mut() = request.method().clone();
    *out.headers_mut() = request.headers().clone();
    match sender {
        Sender::Http1(_) => {
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            *out.uri_mut() = path.parse().map_err(|e| Error::with(Kind::Builder, e))?;
            if !out.headers().contains_key(header::HOST) {
                let host = uri
                    .authority()
                    .ok_or_else(|| Error::with(Kind::Builder, "the URL has no host"))?;
                let host = HeaderValue::from_str(host.as_str().rsplit('@').next().unwrap_or(""))
                    .map_err(|e| Error::with(Kind::Builder, e))?;
                out.headers_mut().insert(header::HOST, host);
            }
            *out.version_mut() = Version::HTTP_11;
        }
        Sender::Http2(_) => {
            *out.uri_mut() = uri.clone();
            out.headers_mut().remove(header::HOST);
            *out.version_mut() = Version::HTTP_2;
        }
    }
    Ok(out)
}

fn connect_error(e: fate_core::net::ConnectError) -> Error {
    match e {
        fate_core::net::ConnectError::TimedOut { timeout, .. } => {
            Error::timeout(Phase::Connect, timeout)
        }
        e => Error::with(Kind::Connect, e),
    }
}

/// Runs a connection's I/O as a task; it ends when the connection closes.
fn spawn_connection<F>(key: &Key, conn: F)
where
    F: std::future::Future<Output = hyper::Result<()>> + 'static,
{
    let key = key.clone();
    fate_core::spawn_local(async move {
        if let Err(e) = conn.await {
            tracing::debug!(%key, "connection ended: {e}");
        }
    })
    .detach();
}
