//! TLS echo, in both of Fate's styles, in one process: a callback-style echo `Protocol`
//! behind TLS, and an async client that connects with `TlsClientConfig::connect`. The
//! certificates are made on the spot (a private CA signs a certificate for "localhost").
//!
//! Run with: `cargo run --example tls_echo --features tls`

use fate::net::{
    self, ListenOptions, Protocol, TcpStream, TlsClientConfig, TlsServerConfig, Transport,
};
use futures_util::{AsyncReadExt, AsyncWriteExt};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

#[derive(Default)]
struct Echo(Option<Transport>);

impl Protocol for Echo {
    fn connection_made(&mut self, t: Transport) {
        self.0 = Some(t);
    }
    fn handshake_completed(&mut self) {
        println!("server: TLS handshake done");
    }
    fn data_received(&mut self, data: &[u8]) {
        self.0.as_ref().unwrap().write(data);
    }
}

/// A private CA and a "localhost" certificate it signed: (CA PEM, cert PEM, key PEM).
fn make_certificates() -> Result<(String, String, String), rcgen::Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["localhost".into()])?.signed_by(&key, &ca)?;
    Ok((ca.pem(), cert.pem(), key.serialize_pem()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (ca, cert, key) = make_certificates()?;
    let server = TlsServerConfig::from_pem(cert.as_bytes(), key.as_bytes())?;
    let client = TlsClientConfig::with_ca_pem(ca.as_bytes())?;
    let reply = fate::block_on(async move {
        let port = net::listen_tcp_with(
            "127.0.0.1:0".parse().unwrap(),
            net::for_protocol(Echo::default),
            &ListenOptions::new().tls(server),
        )?;
        let addr = port.host().socket_addr().unwrap();
        println!("server: TLS echo on {addr}");
        let tcp = TcpStream::connect(addr).await?;
        let mut tls = client.connect("localhost", tcp).await?;
        tls.write_all(b"hello over TLS").await?;
        let mut reply = [0u8; 14];
        tls.read_exact(&mut reply).await?;
        tls.close().await?;
        port.stop_listening();
        Ok::<_, std::io::Error>(reply)
    })??;
    println!("client: got {:?}", String::from_utf8_lossy(&reply));
    Ok(())
}
