//! Name resolution without blocking the loop: `getaddrinfo` on the reactor's thread pool
//! ([`threads::resolve`](crate::threads::resolve)), with failures named as connect errors.

use std::net::SocketAddr;

use crate::net::ConnectError;

/// Resolves `host` (a name or an IP literal) with `port`; literals resolve at once. While
/// a lookup is pending the reactor counts it as outstanding work.
pub(crate) async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, ConnectError> {
    let named = |message: String| ConnectError::Dns {
        host: host.to_string(),
        message,
    };
    match crate::threads::resolve(host, port).await {
        Ok(addrs) if addrs.is_empty() => Err(named("no addresses".into())),
        Ok(addrs) => Ok(addrs),
        Err(failure) => Err(named(failure.to_string())),
    }
}
