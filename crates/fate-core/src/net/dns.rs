//! Name resolution without blocking the loop: `getaddrinfo` on a helper thread, the answer
//! brought back as a future.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::net::ConnectError;
use crate::reactor::Reactor;

/// The shared slot a lookup thread fills.
#[derive(Default)]
struct Slot {
    result: Option<io::Result<Vec<SocketAddr>>>,
    waker: Option<Waker>,
}

/// Resolves to the addresses of a host (see [`lookup`]).
///
/// While it is pending the reactor counts it as outstanding work, so `run_until_idle` waits
/// for it. Dropping it abandons the answer (the thread finishes on its own).
pub(crate) struct Lookup {
    host: String,
    slot: Arc<Mutex<Slot>>,
    /// The reactor whose `outstanding` count this lookup holds, until it is done.
    reactor: Option<Reactor>,
}

/// Resolves `host` (a name or an IP literal) with `port`; literals resolve at once.
pub(crate) fn lookup(host: &str, port: u16) -> Lookup {
    let slot = Arc::new(Mutex::new(Slot::default()));
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        slot.lock().unwrap_or_else(PoisonError::into_inner).result =
            Some(Ok(vec![SocketAddr::new(ip, port)]));
        return Lookup {
            host: host.to_string(),
            slot,
            reactor: None,
        };
    }
    let reactor = crate::reactor::current();
    reactor
        .inner
        .outstanding
        .set(reactor.inner.outstanding.get() + 1);
    let thread_slot = slot.clone();
    let name = host.to_string();
    let spawned = std::thread::Builder::new()
        .name("fate-dns".into())
        .spawn(move || {
            let result = (name.as_str(), port)
                .to_socket_addrs()
                .map(|addrs| addrs.collect::<Vec<_>>());
            let waker = {
                let mut slot = thread_slot.lock().unwrap_or_else(PoisonError::into_inner);
                slot.result = Some(result);
                slot.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
    if let Err(e) = spawned {
        slot.lock().unwrap_or_else(PoisonError::into_inner).result = Some(Err(e));
    }
    Lookup {
        host: host.to_string(),
        slot,
        reactor: Some(reactor),
    }
}

impl Lookup {
    fn release(&mut self) {
        if let Some(r) = self.reactor.take() {
            r.inner.outstanding.set(r.inner.outstanding.get() - 1);
        }
    }
}

impl Future for Lookup {
    type Output = Result<Vec<SocketAddr>, ConnectError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.result.take() {
                Some(r) => r,
                None => {
                    slot.waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
            }
        };
        self.release();
        Poll::Ready(match result {
            Ok(addrs) if addrs.is_empty() => Err(ConnectError::Dns {
                host: self.host.clone(),
                message: "no addresses".into(),
            }),
            Ok(addrs) => Ok(addrs),
            Err(e) => Err(ConnectError::Dns {
                host: self.host.clone(),
                message: e.to_string(),
            }),
        })
    }
}

impl Drop for Lookup {
    fn drop(&mut self) {
        self.release();
    }
}
