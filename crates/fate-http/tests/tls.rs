//! HTTPS: a `Site` over TLS with a certificate from an rcgen CA made at test time; the
//! agent trusts that CA, negotiates HTTP/2 or HTTP/1.1 by ALPN, and refuses servers it
//! cannot verify.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::run;
use fate_http::client::Agent;
use fate_http::server::{from_fn, Request, Response, Site};
use http::Version;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const LIMIT: Duration = Duration::from_secs(60);

/// A CA (PEM) and a server configuration for `localhost` signed by it.
fn pki(alpn: &[&[u8]]) -> (String, Arc<rustls::ServerConfig>) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    (ca.pem(), Arc::new(config))
}

fn hello() -> Site {
    Site::new(from_fn(|req: Request| {
        Response::new(format!("hello over {:?}", req.version()).into())
    }))
}

#[test]
fn https_with_a_custom_ca_speaks_http2_by_alpn() {
    let (ca, config) = pki(&[b"h2", b"http/1.1"]);
    run(LIMIT, async move {
        let l = hello()
            .listen_tls("127.0.0.1:0".parse().unwrap(), config)
            .unwrap();
        let url = format!("https://localhost:{}/", l.local_addr().port());
        let agent = Agent::builder()
            .system_roots(false)
            .add_root_certificate_pem(ca.as_bytes())
            .unwrap()
            .build();
        let pages: Vec<_> = (0..10).map(|_| agent.get_page(&url)).collect();
        for page in pages {
            assert_eq!(page.await.unwrap(), "hello over HTTP/2.0");
        }
        let r = agent.get(&url).await.unwrap();
        assert_eq!(r.version(), Version::HTTP_2);
        assert_eq!(l.connections(), 1, "HTTP/2 multiplexes on one connection");
    });
}

#[test]
fn https_falls_back_to_http1_and_refuses_unknown_cas() {
    let (ca, config) = pki(&[b"http/1.1"]);
    run(LIMIT, async move {
        let l = hello()
            .listen_tls("127.0.0.1:0".parse().unwrap(), config)
            .unwrap();
        let url = format!("https://localhost:{}/", l.local_addr().port());
        let agent = Agent::builder()
            .system_roots(false)
            .add_root_certificate_pem(ca.as_bytes())
            .unwrap()
            .build();
        let r = agent.get(&url).await.unwrap();
        assert_eq!(r.version(), Version::HTTP_11);
        assert_eq!(r.text().await.unwrap(), "hello over HTTP/1.1");

        let err = Agent::new().get(&url).await.unwrap_err();
        assert!(err.is_connect(), "{err}");
        assert!(err.to_string().contains("certificate"), "{err}");
    });
}

#[test]
fn a_client_that_never_says_hello_is_dropped() {
    let (_, config) = pki(&[b"http/1.1"]);
    run(LIMIT, async move {
        let l = hello()
            .header_read_timeout(Duration::from_millis(200))
            .listen_tls("127.0.0.1:0".parse().unwrap(), config)
            .unwrap();
        let addr = l.local_addr();
        let started = std::time::Instant::now();
        let read = common::off_thread(move || {
            use std::io::Read;
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 16];
            s.read(&mut buf)
        })
        .await;
        assert!(matches!(read, Ok(0)), "{read:?}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(180) && waited < Duration::from_secs(4),
            "{waited:?}"
        );
        common::wait_until(LIMIT, "the connection to be gone", || l.connections() == 0).await;
    });
}
