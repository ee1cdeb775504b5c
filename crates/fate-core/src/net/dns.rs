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
    #[cfg(feature = "testing")]
    if let Some(sim) = crate::testing::sim::socket::current() {
        return match sim.net.borrow().resolve(sim.host, host, port) {
            Some(addr) => Ok(vec![addr]),
            None => Err(named("no simulated host has this name".into())),
        };
    }
    match crate::threads::resolve(host, port).await {
        Ok(addrs) if addrs.is_empty() => Err(named("no addresses".into())),
        Ok(addrs) => Ok(addrs),
        Err(failure) => Err(named(failure.to_string())),
    }
}
