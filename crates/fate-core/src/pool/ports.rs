//! TCP listeners shared by a pool's workers: `SO_REUSEPORT`, and one port for port 0.
//!
//! Every TCP bind goes through [`bind_shared`]. Off a pool it binds as asked. On a worker it
//! sets `SO_REUSEPORT` (unless the listener opted out) and, under the pool's lock, binds the
//! port an earlier worker got for the same address asked with port 0 — so each worker has
//! its own socket on one port and the kernel balances connections between them.

use std::io;
use std::net::SocketAddr;
use std::sync::PoisonError;

use super::WORKER;

/// Binds with `bind(address, reuse_port)`, which returns the socket and its bound address;
/// `reuse_port` is the listener's own choice, `None` for "as the context says".
pub(crate) fn bind_shared<L>(
    addr: SocketAddr,
    reuse_port: Option<bool>,
    bind: impl FnOnce(SocketAddr, bool) -> io::Result<(L, SocketAddr)>,
) -> io::Result<L> {
    let pool = match reuse_port {
        Some(false) => None,
        _ => WORKER
            .try_with(|w| w.borrow().as_ref().map(|(_, shared)| shared.clone()))
            .ok()
            .flatten(),
    };
    let Some(pool) = pool else {
        return bind(addr, reuse_port == Some(true)).map(|(socket, _)| socket);
    };
    let mut ports = pool.ports.lock().unwrap_or_else(PoisonError::into_inner);
    let known = ports.iter().find(|(asked, _)| *asked == addr).map(|p| p.1);
    let (socket, bound) = bind(known.unwrap_or(addr), true)?;
    if addr.port() == 0 && known.is_none() {
        ports.push((addr, bound));
    }
    Ok(socket)
}
