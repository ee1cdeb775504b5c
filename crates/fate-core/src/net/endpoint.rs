//! Endpoints from strings: `server_from_str("tcp:8080:interface=127.0.0.1")`,
//! `client_from_str("tcp:host=example.com:port=80")` (Twisted's `serverFromString` and
//! `clientFromString`).
//!
//! # Syntax
//!
//! Fields are separated by `:`; a `\` escapes the next character (for IPv6 addresses:
//! `interface=\:\:1`). Positional fields come first, then `name=value` options.
//!
//! | server | |
//! |---|---|
//! | `tcp:PORT[:interface=ADDR][:backlog=N][:reusePort=BOOL]` | also `tcp:port=PORT` |
//! | `unix:PATH[:backlog=N]` | also `unix:address=PATH` |
//! | `tls:PORT:certKey=CERT.pem:privateKey=KEY.pem[:interface=ADDR][:backlog=N][:reusePort=BOOL]` | `cert=`/`key=` too (feature `tls`) |
//!
//! `reusePort=true` sets `SO_REUSEPORT` so several listeners (threads or processes) share the
//! port and the kernel balances connections between them; `reusePort=false` keeps a pool
//! worker's listener its own (a pool's workers share ports by default, see
//! [`ListenOptions::reuse_port`]).
//!
//! | client | |
//! |---|---|
//! | `tcp:host=HOST:port=PORT[:timeout=SECONDS][:bindAddress=ADDR]` | also `tcp:HOST:PORT` |
//! | `unix:path=PATH[:timeout=SECONDS]` | also `unix:PATH` |
//! | `tls:host=HOST:port=PORT[:timeout=S][:caCerts=CA.pem][:serverName=NAME]` | system roots unless `caCerts` (feature `tls`) |

use std::error::Error;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use fate_deferred::{Deferred, Failure};

use crate::net::{
    connect_tcp_with, connect_unix_with, listen_tcp_with, listen_unix_with, ClientFactory,
    ConnectOptions, Factory, ListenOptions, ListeningPort, Transport,
};

/// An endpoint string that does not parse; the message says what is wrong and where.
///
/// # Examples
///
/// ```
/// let e = fate::net::server_from_str("tcp:http").unwrap_err();
/// assert_eq!(e.to_string(), "bad endpoint \"tcp:http\": port \"http\" is not a number from 0 to 65535");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointError {
    input: String,
    message: String,
}

impl EndpointError {
    fn new(input: &str, message: impl Into<String>) -> EndpointError {
        EndpointError {
            input: input.to_string(),
            message: message.into(),
        }
    }

    /// The string that failed to parse.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad endpoint {:?}: {}", self.input, self.message)
    }
}

impl Error for EndpointError {}

/// Splits on unescaped `:`, removing the escapes.
fn split_fields(s: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().unwrap().push(next);
                }
            }
            ':' => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// A parsed endpoint string: its kind, positional fields and options.
struct Parsed<'a> {
    input: &'a str,
    kind: String,
    positional: Vec<String>,
    options: Vec<(String, String)>,
}

impl<'a> Parsed<'a> {
    fn new(input: &'a str) -> Result<Parsed<'a>, EndpointError> {
        if input.trim().is_empty() {
            return Err(EndpointError::new(input, "empty endpoint description"));
        }
        let mut fields = split_fields(input).into_iter();
        let kind = fields.next().unwrap_or_default().to_ascii_lowercase();
        let mut positional = Vec::new();
        let mut options = Vec::new();
        for f in fields {
            match f.split_once('=') {
                Some((k, v)) => {
                    if options.iter().any(|(o, _): &(String, String)| o == k) {
                        return Err(EndpointError::new(
                            input,
                            format!("option {k:?} given twice"),
                        ));
                    }
                    options.push((k.to_string(), v.to_string()));
                }
                None if !options.is_empty() => {
                    return Err(EndpointError::new(
                        input,
                        format!("positional field {f:?} after name=value options"),
                    ))
                }
                None => positional.push(f),
            }
        }
        Ok(Parsed {
            input,
            kind,
            positional,
            options,
        })
    }

    fn err(&self, message: impl Into<String>) -> EndpointError {
        EndpointError::new(self.input, message)
    }

    /// Takes option `names[0]` (or an alias), else the next positional field.
    fn take(&mut self, names: &[&str], positional: bool) -> Option<String> {
        if let Some(i) = self
            .options
            .iter()
            .position(|(k, _)| names.contains(&k.as_str()))
        {
            return Some(self.options.remove(i).1);
        }
        if positional && !self.positional.is_empty() {
            return Some(self.positional.remove(0));
        }
        None
    }

    fn require(&mut self, names: &[&str], positional: bool) -> Result<String, EndpointError> {
        self.take(names, positional)
            .ok_or_else(|| self.err(format!("missing {}", names[0])))
    }

    fn port(&mut self, positional: bool) -> Result<u16, EndpointError> {
        let p = self.require(&["port"], positional)?;
        p.parse()
            .map_err(|_| self.err(format!("port {p:?} is not a number from 0 to 65535")))
    }

    fn backlog(&mut self) -> Result<Option<i32>, EndpointError> {
        match self.take(&["backlog"], false) {
            None => Ok(None),
            Some(b) => match b.parse::<i32>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(self.err(format!("backlog {b:?} is not a positive number"))),
            },
        }
    }

    fn reuse_port(&mut self) -> Result<Option<bool>, EndpointError> {
        match self.take(&["reusePort"], false) {
            None => Ok(None),
            Some(b) => match b.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(Some(true)),
                "false" | "no" | "0" => Ok(Some(false)),
                _ => Err(self.err(format!("reusePort {b:?} is not true or false"))),
            },
        }
    }

    fn timeout(&mut self) -> Result<Option<Duration>, EndpointError> {
        match self.take(&["timeout"], false) {
            None => Ok(None),
            // More seconds than a Duration holds (timeout=1e60) is refused, not a panic.
            Some(t) => match t.parse::<f64>().map(Duration::try_from_secs_f64) {
                Ok(Ok(d)) if !d.is_zero() => Ok(Some(d)),
                _ => Err(self.err(format!("timeout {t:?} is not a positive number of seconds"))),
            },
        }
    }

    fn interface(&mut self) -> Result<IpAddr, EndpointError> {
        match self.take(&["interface"], false) {
            None => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            Some(i) => i
                .parse()
                .map_err(|_| self.err(format!("interface {i:?} is not an IP address"))),
        }
    }

    /// Fails on anything not consumed.
    fn done(&self) -> Result<(), EndpointError> {
        if let Some(p) = self.positional.first() {
            return Err(self.err(format!("unexpected field {p:?}")));
        }
        if let Some((k, _)) = self.options.first() {
            return Err(self.err(format!("unknown option {k:?} for a {} endpoint", self.kind)));
        }
        Ok(())
    }

    fn unknown_kind(&self) -> EndpointError {
        self.err(format!(
            "unknown endpoint type {:?} (expected tcp, unix or tls)",
            self.kind
        ))
    }
}

/// Where a server listens, parsed from a string by [`server_from_str`].
#[derive(Clone, Debug)]
pub struct ServerEndpoint {
    kind: ServerKind,
    options: ListenOptions,
}

#[derive(Clone, Debug)]
enum ServerKind {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// Parses a server endpoint description (see the module docs for the syntax).
///
/// # Errors
///
/// [`EndpointError`] naming what is wrong: unknown type, missing or bad port, unknown
/// option, unreadable certificate.
///
/// # Examples
///
/// ```
/// use fate::net::server_from_str;
///
/// let e = server_from_str("tcp:8080:interface=127.0.0.1:backlog=50").unwrap();
/// assert_eq!(e.to_string(), "tcp:127.0.0.1:8080");
/// let shared = server_from_str("tcp:8080:reusePort=true").unwrap();
/// assert_eq!(shared.options().get_reuse_port(), Some(true));
/// assert!(server_from_str("tcp:8080:reusePort=maybe").is_err());
/// assert!(server_from_str("udp:53").unwrap_err().to_string().contains("unknown endpoint type"));
/// assert!(server_from_str("tcp:8080:color=red").unwrap_err().to_string().contains("unknown option"));
/// ```
pub fn server_from_str(s: &str) -> Result<ServerEndpoint, EndpointError> {
    let mut p = Parsed::new(s)?;
    let mut options = ListenOptions::new();
    let kind = match p.kind.as_str() {
        "tcp" | "tls" | "ssl" => {
            let port = p.port(true)?;
            let ip = p.interface()?;
            if let Some(on) = p.reuse_port()? {
                options = options.reuse_port(on);
            }
            if p.kind != "tcp" {
                options = tls_server(&mut p, options)?;
            }
            ServerKind::Tcp(SocketAddr::new(ip, port))
        }
        "unix" => ServerKind::Unix(p.require(&["address", "path"], true)?.into()),
        _ => return Err(p.unknown_kind()),
    };
    if let Some(b) = p.backlog()? {
        options = options.backlog(b);
    }
    p.done()?;
    Ok(ServerEndpoint { kind, options })
}

#[cfg(feature = "tls")]
fn tls_server(p: &mut Parsed<'_>, options: ListenOptions) -> Result<ListenOptions, EndpointError> {
    let cert = p.require(&["certKey", "cert"], false)?;
    let key = p
        .take(&["privateKey", "key"], false)
        .unwrap_or_else(|| cert.clone());
    let config = crate::net::TlsServerConfig::from_pem_files(&cert, &key)
        .map_err(|e| p.err(format!("TLS certificate or key: {e}")))?;
    Ok(options.tls(config))
}

#[cfg(not(feature = "tls"))]
fn tls_server(p: &mut Parsed<'_>, _: ListenOptions) -> Result<ListenOptions, EndpointError> {
    Err(p.err("TLS endpoints need fate-core's `tls` feature"))
}

impl ServerEndpoint {
    /// How the endpoint listens (backlog, `SO_REUSEPORT`, TLS).
    pub fn options(&self) -> &ListenOptions {
        &self.options
    }

    /// The endpoint with other listen options, e.g. `SO_REUSEPORT` set from code:
    /// `endpoint.with_options(endpoint.options().clone().reuse_port(true))`.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = fate::net::server_from_str("tcp:8080").unwrap();
    /// let shared = e.clone().with_options(e.options().clone().reuse_port(true));
    /// assert_eq!(shared.options().get_reuse_port(), Some(true));
    /// ```
    pub fn with_options(mut self, options: ListenOptions) -> ServerEndpoint {
        self.options = options;
        self
    }

    /// Starts listening with `factory`; the Deferred fires with the port, or errbacks with
    /// the `io::Error` naming the address.
    #[track_caller]
    pub fn listen(&self, factory: impl Factory) -> Deferred<ListeningPort> {
        let result = match &self.kind {
            ServerKind::Tcp(addr) => listen_tcp_with(*addr, factory, &self.options),
            ServerKind::Unix(path) => listen_unix_with(path, factory, &self.options),
        };
        match result {
            Ok(port) => fate_deferred::succeed(port),
            Err(e) => fate_deferred::fail(Failure::new(e)),
        }
    }
}

impl fmt::Display for ServerEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ServerKind::Tcp(a) => write!(f, "tcp:{a}"),
            ServerKind::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Where a client connects, parsed from a string by [`client_from_str`].
#[derive(Clone, Debug)]
pub struct ClientEndpoint {
    kind: ClientKind,
    options: ConnectOptions,
}

#[derive(Clone, Debug)]
enum ClientKind {
    Tcp { host: String, port: u16 },
    Unix(PathBuf),
}

/// Parses a client endpoint description (see the module docs for the syntax).
///
/// # Errors
///
/// [`EndpointError`] naming what is wrong.
///
/// # Examples
///
/// ```
/// use fate::net::client_from_str;
///
/// let e = client_from_str("tcp:host=localhost:port=8080:timeout=2.5").unwrap();
/// assert_eq!(e.to_string(), "tcp:localhost:8080");
/// let err = client_from_str("tcp:host=localhost").unwrap_err();
/// assert_eq!(err.message(), "missing port");
/// ```
pub fn client_from_str(s: &str) -> Result<ClientEndpoint, EndpointError> {
    let mut p = Parsed::new(s)?;
    let mut options = ConnectOptions::new();
    let kind = match p.kind.as_str() {
        "tcp" | "tls" | "ssl" => {
            let host = p.require(&["host"], true)?;
            if host.is_empty() {
                return Err(p.err("empty host"));
            }
            let port = p.port(true)?;
            if let Some(b) = p.take(&["bindAddress"], false) {
                let ip: IpAddr = b
                    .parse()
                    .map_err(|_| p.err(format!("bindAddress {b:?} is not an IP address")))?;
                options = options.bind(SocketAddr::new(ip, 0));
            }
            if p.kind != "tcp" {
                options = tls_client(&mut p, options, &host)?;
            }
            ClientKind::Tcp { host, port }
        }
        "unix" => ClientKind::Unix(p.require(&["path", "address"], true)?.into()),
        _ => return Err(p.unknown_kind()),
    };
    if let Some(t) = p.timeout()? {
        options = options.timeout(t);
    }
    p.done()?;
    Ok(ClientEndpoint { kind, options })
}

#[cfg(feature = "tls")]
fn tls_client(
    p: &mut Parsed<'_>,
    options: ConnectOptions,
    host: &str,
) -> Result<ConnectOptions, EndpointError> {
    let config = match p.take(&["caCerts", "ca"], false) {
        Some(ca) => crate::net::TlsClientConfig::with_ca_file(&ca),
        None => crate::net::TlsClientConfig::new(),
    }
    .map_err(|e| p.err(format!("TLS trust roots: {e}")))?;
    let name = p
        .take(&["serverName"], false)
        .unwrap_or_else(|| host.to_string());
    Ok(options.tls(config, &name))
}

#[cfg(not(feature = "tls"))]
fn tls_client(
    p: &mut Parsed<'_>,
    _: ConnectOptions,
    _: &str,
) -> Result<ConnectOptions, EndpointError> {
    Err(p.err("TLS endpoints need fate-core's `tls` feature"))
}

impl ClientEndpoint {
    /// Connects with `factory`; the Deferred fires with the connection's transport once its
    /// protocol's `connection_made` has run, or errbacks with the
    /// [`ConnectError`](crate::net::ConnectError). Cancelling it stops the attempt.
    #[track_caller]
    pub fn connect(&self, factory: impl ClientFactory) -> Deferred<Transport> {
        let connector = match &self.kind {
            ClientKind::Tcp { host, port } => connect_tcp_with(host, *port, factory, &self.options),
            ClientKind::Unix(path) => connect_unix_with(path, factory, &self.options),
        };
        let canceller = connector.clone();
        let (d, fire) = Deferred::with_canceller(move |_fire| canceller.stop_connecting());
        connector.on_result(move |result| {
            // A cancelled connect may have fired already: this result is then not wanted.
            fire.try_fire(result.map_err(Failure::new)).ok();
        });
        d
    }
}

impl fmt::Display for ClientEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ClientKind::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            ClientKind::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl From<EndpointError> for io::Error {
    fn from(e: EndpointError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}
