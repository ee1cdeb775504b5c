//! The client's TLS configuration: system roots plus the caller's CAs, ALPN for HTTP/2.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::error::{Error, Kind};

/// Parses PEM certificates (one or more `CERTIFICATE` blocks).
pub(crate) fn parse_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::with(Kind::Builder, format!("bad PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(Error::with(Kind::Builder, "no certificate in the PEM data"));
    }
    Ok(certs)
}

/// Builds a client configuration trusting the system's roots (if `system_roots`) and
/// `extra`, offering `h2` and `http/1.1` (or only the latter).
pub(crate) fn client_config(
    system_roots: bool,
    extra: &[CertificateDer<'static>],
    http2: bool,
) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    if system_roots {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!("loading a system root certificate: {e}");
        }
        roots.add_parsable_certificates(native.certs);
    }
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| Error::with(Kind::Builder, format!("bad CA certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::with(Kind::Builder, e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(Arc::new(config))
}
