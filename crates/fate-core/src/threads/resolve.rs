//! Host name resolution with the system resolver, on the thread pool.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use fate_deferred::{Deferred, Failure};

use super::ThreadPool;

/// Resolves `host` (a name or an address literal) to socket addresses for `port`, with the
/// system's `getaddrinfo` run on the global [`ThreadPool`] so the loop never blocks.
///
/// Address literals (`::1` or `[::1]` too) are answered at once, without a thread.
///
/// # Errors
///
/// The Deferred fails with the resolver's `io::Error` (no such host, no network).
///
/// # Panics
///
/// If this thread has no reactor.
///
/// # Examples
///
/// ```
/// let addrs = fate::block_on(async {
///     fate::threads::resolve("localhost", 8080).await
/// })
/// .unwrap()
/// .unwrap();
/// assert!(addrs.iter().all(|a| a.port() == 8080 && a.ip().is_loopback()));
/// ```
#[track_caller]
pub fn resolve(host: &str, port: u16) -> Deferred<Vec<SocketAddr>> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<std::net::IpAddr>() {
        return fate_deferred::succeed(vec![SocketAddr::new(ip, port)]);
    }
    let host = host.to_owned();
    ThreadPool::global()
        .defer(move || -> io::Result<Vec<SocketAddr>> {
            Ok((host.as_str(), port).to_socket_addrs()?.collect())
        })
        .add_callback(|found: io::Result<Vec<SocketAddr>>| found.map_err(Failure::new))
}
