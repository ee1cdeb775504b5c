//! TLS with rustls (ring provider): configurations, the layer a stream connection runs its
//! bytes through (Twisted's `TLSMemoryBIOProtocol`), and the async [`TlsStream`].

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::net::write_buf::WriteBuf;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn invalid(what: impl fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn certs_from_pem(pem: &[u8], what: &str) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("bad PEM in {what}: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(format!("no certificate in {what}")));
    }
    Ok(certs)
}

fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// How a TLS client verifies servers: which roots it trusts. Cheap to clone.
///
/// # Examples
///
/// Trusting one private CA (here made by rcgen, as the tests do):
///
/// ```
/// let ca = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// let config = fate::net::TlsClientConfig::with_ca_pem(ca.cert.pem().as_bytes()).unwrap();
/// # drop(config);
/// ```
#[derive(Clone)]
pub struct TlsClientConfig {
    config: Arc<rustls::ClientConfig>,
}

impl TlsClientConfig {
    /// Trusts the system's roots (and, with feature `webpki-roots`, Mozilla's compiled-in
    /// roots too): Twisted's `platformTrust()`.
    ///
    /// # Errors
    ///
    /// `NotFound` if no root could be loaded.
    pub fn new() -> io::Result<TlsClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
        #[cfg(feature = "webpki-roots")]
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if roots.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "no trusted root certificates found on this system (install ca-certificates or enable the webpki-roots feature)",
            ));
        }
        TlsClientConfig::with_roots(roots)
    }

    /// Trusts only the CA certificates in `pem`.
    ///
    /// # Errors
    ///
    /// `InvalidData` if `pem` holds no valid certificate.
    pub fn with_ca_pem(pem: &[u8]) -> io::Result<TlsClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs_from_pem(pem, "the CA PEM")? {
            roots.add(cert).map_err(invalid)?;
        }
        TlsClientConfig::with_roots(roots)
    }

    /// Trusts only the CA certificates in the PEM file at `path`.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or holds no valid certificate.
    pub fn with_ca_file(path: impl AsRef<Path>) -> io::Result<TlsClientConfig> {
        TlsClientConfig::with_ca_pem(&read_file(path.as_ref())?)
    }

    fn with_roots(roots: rustls::RootCertStore) -> io::Result<TlsClientConfig> {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(invalid)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsClientConfig {
            config: Arc::new(config),
        })
    }

    /// Uses a rustls configuration built by hand (client certificates, ALPN, ...).
    pub fn from_rustls(config: Arc<rustls::ClientConfig>) -> TlsClientConfig {
        TlsClientConfig { config }
    }

    /// The rustls configuration.
    pub fn rustls(&self) -> &Arc<rustls::ClientConfig> {
        &self.config
    }

    /// Runs the TLS handshake as a client on `stream`, verifying the peer as `server_name`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a bad server name; the handshake's error (bad certificate, ...).
    pub async fn connect<S>(&self, server_name: &str, stream: S) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = server_name_of(server_name)?;
        let connector = futures_rustls::TlsConnector::from(self.config.clone());
        let inner = connector.connect(name, stream).await?;
        Ok(TlsStream {
            inner: futures_rustls::TlsStream::Client(inner),
        })
    }
}

impl fmt::Debug for TlsClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClientConfig").finish_non_exhaustive()
    }
}

/// A TLS server's certificate chain and key. Cheap to clone.
///
/// # Examples
///
/// ```
/// let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
/// let config = fate::net::TlsServerConfig::from_pem(
///     cert.cert.pem().as_bytes(),
///     cert.signing_key.serialize_pem().as_bytes(),
/// )
/// .unwrap();
/// # drop(config);
/// ```
#[derive(Clone)]
pub struct TlsServerConfig {
    config: Arc<rustls::ServerConfig>,
}

impl TlsServerConfig {
    /// A server presenting the chain in `cert_pem` with the private key in `key_pem`.
    ///
    /// # Errors
    ///
    /// `InvalidData` naming what is wrong (no certificate, no key, key not matching).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> io::Result<TlsServerConfig> {
        let certs = certs_from_pem(cert_pem, "the certificate PEM")?;
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| invalid(format!("no usable private key in the key PEM: {e}")))?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(invalid)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| invalid(format!("certificate and key do not fit: {e}")))?;
        Ok(TlsServerConfig {
            config: Arc::new(config),
        })
    }

    /// [`from_pem`](TlsServerConfig::from_pem) with the PEM files at these paths.
    ///
    /// # Errors
    ///
    /// A file cannot be read (the error names it), or as `from_pem`.
    pub fn from_pem_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> io::Result<TlsServerConfig> {
        TlsServerConfig::from_pem(
            &read_file(cert_path.as_ref())?,
            &read_file(key_path.as_ref())?,
        )
    }

    /// Uses a rustls configuration built by hand.
    pub fn from_rustls(config: Arc<rustls::ServerConfig>) -> TlsServerConfig {
        TlsServerConfig { config }
    }

    /// The rustls configuration.
    pub fn rustls(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }

    /// Runs the TLS handshake as a server on `stream`.
    ///
    /// # Errors
    ///
    /// The handshake's error.
    pub async fn accept<S>(&self, stream: S) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = futures_rustls::TlsAcceptor::from(self.config.clone());
        let inner = acceptor.accept(stream).await?;
        Ok(TlsStream {
            inner: futures_rustls::TlsStream::Server(inner),
        })
    }
}

impl fmt::Debug for TlsServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsServerConfig").finish_non_exhaustive()
    }
}

/// Which side of TLS a connection plays, for [`Transport::start_tls`](crate::net::Transport::start_tls).
#[derive(Clone, Debug)]
pub enum TlsRole {
    /// The client, verifying the server as `server_name`.
    Client {
        /// The roots to trust.
        config: TlsClientConfig,
        /// The name the server's certificate must carry.
        server_name: String,
    },
    /// The server.
    Server(TlsServerConfig),
}

fn server_name_of(name: &str) -> io::Result<ServerName<'static>> {
    ServerName::try_from(name.to_string()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not a valid TLS server name: {e}"),
        )
    })
}

/// What feeding ciphertext to the layer produced besides plaintext.
#[derive(Default, Debug)]
pub(crate) struct TlsOutcome {
    /// The handshake finished with this input.
    pub(crate) handshake_done: bool,
    /// The peer sent close_notify.
    pub(crate) peer_closed: bool,
}

/// A rustls connection used as a memory BIO: ciphertext in and out as bytes.
pub(crate) struct TlsLayer {
    conn: rustls::Connection,
    handshaking: bool,
}

impl TlsLayer {
    pub(crate) fn new(role: TlsRole) -> io::Result<TlsLayer> {
        let mut conn: rustls::Connection = match role {
            TlsRole::Client {
                config,
                server_name,
            } => rustls::ClientConnection::new(config.config, server_name_of(&server_name)?)
                .map_err(invalid)?
                .into(),
            TlsRole::Server(config) => rustls::ServerConnection::new(config.config)
                .map_err(invalid)?
                .into(),
        };
        // The transport's water marks bound memory; rustls need not.
        conn.set_buffer_limit(None);
        Ok(TlsLayer {
            conn,
            handshaking: true,
        })
    }

    /// Queues plaintext for encryption (buffered by rustls until the handshake is over).
    pub(crate) fn write_plain(&mut self, data: &[u8]) {
        let _ = self.conn.writer().write_all(data);
    }

    /// Moves the ciphertext rustls wants to send into `out`; true if there was any.
    pub(crate) fn take_output(&mut self, out: &mut WriteBuf) -> bool {
        let mut any = false;
        while self.conn.wants_write() {
            let mut sink = Sink(out);
            match self.conn.write_tls(&mut sink) {
                Ok(0) | Err(_) => break,
                Ok(_) => any = true,
            }
        }
        any
    }

    /// Queues a close_notify alert.
    pub(crate) fn close_notify(&mut self) {
        self.conn.send_close_notify();
    }

    /// Feeds ciphertext; appends the plaintext it yields to `plain`.
    pub(crate) fn read_tls(
        &mut self,
        mut data: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<TlsOutcome, String> {
        let mut outcome = TlsOutcome::default();
        while !data.is_empty() {
            match self.conn.read_tls(&mut data) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
            let state = self.conn.process_new_packets().map_err(|e| e.to_string())?;
            let n = state.plaintext_bytes_to_read();
            if n > 0 {
                let start = plain.len();
                plain.resize(start + n, 0);
                self.conn
                    .reader()
                    .read_exact(&mut plain[start..])
                    .map_err(|e| e.to_string())?;
            }
            if state.peer_has_closed() {
                outcome.peer_closed = true;
            }
        }
        if self.handshaking && !self.conn.is_handshaking() {
            self.handshaking = false;
            outcome.handshake_done = true;
        }
        Ok(outcome)
    }
}

/// `io::Write` into a [`WriteBuf`].
struct Sink<'a>(&'a mut WriteBuf);

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A TLS session over an async stream (client or server side), with futures-io
/// `AsyncRead`/`AsyncWrite`. Made by [`TlsClientConfig::connect`] and
/// [`TlsServerConfig::accept`].
///
/// # Cancellation
///
/// Dropping it closes the underlying stream without close_notify; `close().await` sends
/// close_notify first.
pub struct TlsStream<S> {
    inner: futures_rustls::TlsStream<S>,
}

impl<S> TlsStream<S> {
    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref().0
    }

    /// The negotiated ALPN protocol, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.inner.get_ref().1.alpn_protocol()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl<S> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream").finish_non_exhaustive()
    }
}
