//! TLS over 127.0.0.1 with certificates made by rcgen at test time: handshake and echo in
//! callback style and async style, STARTTLS, and rejection of a certificate from an
//! untrusted CA.
#![cfg(feature = "tls")]

mod net_support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use fate_core::net::{
    self, for_protocol, CloseReason, ConnectOptions, ListenOptions, Protocol, TcpListener,
    TcpStream, TlsClientConfig, TlsRole, TlsServerConfig, Transport,
};
use futures_util::{AsyncReadExt, AsyncWriteExt};
use net_support::{reactor, run_bounded, stop, Echo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

const LIMIT: Duration = Duration::from_secs(30);

/// A CA, and a server certificate for "localhost" that it signed: (CA PEM, cert, key).
fn pki() -> (String, String, String) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Fate test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn localhost() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Sends a message once connected, records the echo, the handshake and the end.
struct Client {
    log: Rc<RefCell<Vec<String>>>,
    t: Option<Transport>,
    got: Vec<u8>,
}

impl Protocol for Client {
    fn connection_made(&mut self, t: Transport) {
        // Written before the handshake: TLS holds it until it can encrypt it.
        t.write(b"secret message");
        self.t = Some(t);
    }
    fn handshake_completed(&mut self) {
        self.log.borrow_mut().push("handshake".into());
    }
    fn data_received(&mut self, data: &[u8]) {
        self.got.extend_from_slice(data);
        if self.got == b"secret message" {
            self.log.borrow_mut().push("echo".into());
            self.t.as_ref().unwrap().lose_connection();
        }
    }
    fn connection_lost(&mut self, reason: CloseReason) {
        self.log.borrow_mut().push(format!("lost: {reason}"));
        stop();
    }
}

fn tls_echo(cert: &str, key: &str, client_ca: &str) -> Vec<String> {
    let reactor = reactor();
    let server = TlsServerConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let port = net::listen_tcp_with(
        localhost(),
        for_protocol(Echo::default),
        &ListenOptions::new().tls(server),
    )
    .unwrap();
    let client = TlsClientConfig::with_ca_pem(client_ca.as_bytes()).unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    net::connect_tcp_with(
        "127.0.0.1",
        port.host().port().unwrap(),
        for_protocol(move || Client {
            log: l.clone(),
            t: None,
            got: Vec::new(),
        }),
        &ConnectOptions::new().tls(client, "localhost"),
    );
    run_bounded(&reactor, LIMIT);
    let out = log.borrow().clone();
    out
}

#[test]
fn tls_handshake_and_echo() {
    let (ca, cert, key) = pki();
    let log = tls_echo(&cert, &key, &ca);
    assert_eq!(
        *log,
        ["handshake", "echo", "lost: connection was closed cleanly"]
    );
}

#[test]
fn a_certificate_from_an_untrusted_ca_is_rejected() {
    let (_, cert, key) = pki();
    let (other_ca, _, _) = pki();
    let log = tls_echo(&cert, &key, &other_ca);
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(
        log[0].starts_with("lost: TLS error: invalid peer certificate"),
        "{log:?}"
    );
}

#[test]
fn the_wrong_server_name_is_rejected() {
    let reactor = reactor();
    let (ca, cert, key) = pki();
    let server = TlsServerConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let port = net::listen_tcp_with(
        localhost(),
        for_protocol(Echo::default),
        &ListenOptions::new().tls(server),
    )
    .unwrap();
    let client = TlsClientConfig::with_ca_pem(ca.as_bytes()).unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    net::connect_tcp_with(
        "127.0.0.1",
        port.host().port().unwrap(),
        for_protocol(move || Client {
            log: l.clone(),
            t: None,
            got: Vec::new(),
        }),
        &ConnectOptions::new().tls(client, "not-localhost.example"),
    );
    run_bounded(&reactor, LIMIT);
    let log = log.borrow();
    assert!(log[0].contains("not valid for name"), "{log:?}");
}

#[test]
fn bad_pem_is_a_clear_error() {
    let e = TlsServerConfig::from_pem(b"not pem", b"not pem").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("no certificate"), "{e}");
    let e = TlsServerConfig::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem")
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/cert.pem"), "{e}");
}

/// A line protocol that upgrades to TLS on "STARTTLS".
struct StartTls {
    server: Option<TlsServerConfig>,
    client: Option<(TlsClientConfig, Rc<RefCell<Vec<String>>>)>,
    t: Option<Transport>,
    buf: Vec<u8>,
}

impl Protocol for StartTls {
    fn connection_made(&mut self, t: Transport) {
        if self.client.is_some() {
            t.write(b"STARTTLS\n");
        }
        self.t = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        let t = self.t.clone().unwrap();
        self.buf.extend_from_slice(data);
        if let Some(server) = self.server.take() {
            assert_eq!(self.buf, b"STARTTLS\n");
            self.buf.clear();
            t.write(b"GO\n");
            t.start_tls(TlsRole::Server(server)).unwrap();
            return;
        }
        if self.server.is_none() && self.client.is_none() {
            // The server after the upgrade: echo.
            t.write(&std::mem::take(&mut self.buf));
            return;
        }
        let (config, log) = self.client.as_ref().unwrap();
        if self.buf == b"GO\n" {
            self.buf.clear();
            t.start_tls(TlsRole::Client {
                config: config.clone(),
                server_name: "localhost".into(),
            })
            .unwrap();
            assert_eq!(
                t.start_tls(TlsRole::Client {
                    config: config.clone(),
                    server_name: "localhost".into(),
                })
                .unwrap_err()
                .kind(),
                std::io::ErrorKind::AlreadyExists
            );
            t.write(b"over TLS");
        } else if self.buf == b"over TLS" {
            log.borrow_mut().push("echoed over TLS".into());
            t.lose_connection();
        }
    }
    fn handshake_completed(&mut self) {
        if let Some((_, log)) = &self.client {
            log.borrow_mut().push("handshake".into());
        }
    }
    fn connection_lost(&mut self, reason: CloseReason) {
        if let Some((_, log)) = &self.client {
            log.borrow_mut()
                .push(format!("lost: {}", reason.is_clean()));
            stop();
        }
    }
}

#[test]
fn start_tls_upgrades_a_live_connection() {
    let reactor = reactor();
    let (ca, cert, key) = pki();
    let server = TlsServerConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let client = TlsClientConfig::with_ca_pem(ca.as_bytes()).unwrap();
    let port = net::listen_tcp(
        localhost(),
        for_protocol(move || StartTls {
            server: Some(server.clone()),
            client: None,
            t: None,
            buf: Vec::new(),
        }),
    )
    .unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    net::connect_tcp(
        "127.0.0.1",
        port.host().port().unwrap(),
        for_protocol(move || StartTls {
            server: None,
            client: Some((client.clone(), l.clone())),
            t: None,
            buf: Vec::new(),
        }),
    );
    run_bounded(&reactor, LIMIT);
    assert_eq!(
        *log.borrow(),
        ["handshake", "echoed over TLS", "lost: true"]
    );
}

#[test]
fn async_tls_stream_echo() {
    let (ca, cert, key) = pki();
    let server = TlsServerConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let client = TlsClientConfig::with_ca_pem(ca.as_bytes()).unwrap();
    let out = fate_core::block_on(async move {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        fate_core::spawn_local(async move {
            let (s, _) = listener.accept().await.unwrap();
            let mut tls = server.accept(s).await.unwrap();
            let mut buf = vec![0u8; 11];
            tls.read_exact(&mut buf).await.unwrap();
            tls.write_all(&buf).await.unwrap();
            tls.close().await.unwrap();
        })
        .detach();
        let s = TcpStream::connect(addr).await.unwrap();
        let mut tls = client.connect("localhost", s).await.unwrap();
        tls.write_all(b"hello, tls!").await.unwrap();
        let mut out = Vec::new();
        tls.read_to_end(&mut out).await.unwrap();
        out
    })
    .unwrap();
    assert_eq!(out, b"hello, tls!");
}

#[test]
fn async_tls_rejects_an_untrusted_server() {
    let (_, cert, key) = pki();
    let (other_ca, _, _) = pki();
    let server = TlsServerConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let client = TlsClientConfig::with_ca_pem(other_ca.as_bytes()).unwrap();
    let err = fate_core::block_on(async move {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        fate_core::spawn_local(async move {
            let (s, _) = listener.accept().await.unwrap();
            let _ = server.accept(s).await;
        })
        .detach();
        let s = TcpStream::connect(addr).await.unwrap();
        client.connect("localhost", s).await.unwrap_err()
    })
    .unwrap();
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
}
