//! The agent's keep-alive pool: idle HTTP/1.1 connections and shared HTTP/2 connections,
//! per (scheme, host, port) — Twisted's `HTTPConnectionPool`.
//!
//! An HTTP/1.1 connection is in the pool only while idle: a request takes it out, and the
//! response gives it back once its body was read to the end (a body dropped early closes
//! the connection instead, since unread bytes would corrupt the next response). An
//! HTTP/2 connection stays in the pool while it is open and serves requests concurrently.
//!
//! Limits: at most `max_idle_per_host` idle HTTP/1.1 connections per key (the oldest is
//! closed to make room) and each closes after `idle_timeout` unused.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use hyper::client::conn::{http1, http2};

use crate::body::Body;

/// Where connections go: scheme, host and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    pub(crate) https: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// A connection's request side.
pub(crate) enum Sender {
    Http1(http1::SendRequest<Body>),
    Http2(http2::SendRequest<Body>),
}

/// An idle HTTP/1.1 connection.
struct Idle {
    sender: http1::SendRequest<Body>,
    /// Names this entry for its idle-timeout call.
    id: u64,
    /// Closes it when idle too long; cancelled when it is taken.
    expiry: fate_core::time::DelayedCall,
}

/// The pool. Shared by an agent and the responses it made (weakly, from responses).
pub(crate) struct Pool {
    idle: RefCell<HashMap<Key, Vec<Idle>>>,
    http2: RefCell<HashMap<Key, http2::SendRequest<Body>>>,
    next_id: Cell<u64>,
    max_idle_per_host: usize,
    idle_timeout: Duration,
}

impl Pool {
    pub(crate) fn new(max_idle_per_host: usize, idle_timeout: Duration) -> Rc<Pool> {
        Rc::new(Pool {
            idle: RefCell::default(),
            http2: RefCell::default(),
            next_id: Cell::new(0),
            max_idle_per_host,
            idle_timeout,
        })
    }

    /// A usable connection for `key`: the shared HTTP/2 one, or the most recently idle
    /// HTTP/1.1 one (closed ones are dropped on the way).
    pub(crate) fn checkout(&self, key: &Key) -> Option<Sender> {
        {
            let mut h2 = self.http2.borrow_mut();
            if let Some(sender) = h2.get(key) {
                if sender.is_closed() {
                    h2.remove(key);
                } else {
                    return Some(Sender::Http2(sender.clone()));
                }
            }
        }
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(key)?;
        while let Some(entry) = list.pop() {
            let _ = entry.expiry.cancel();
            if !entry.sender.is_closed() {
                return Some(Sender::Http1(entry.sender));
            }
        }
        None
    }

    /// Keeps a new HTTP/2 connection for sharing.
    pub(crate) fn insert_http2(&self, key: &Key, sender: &http2::SendRequest<Body>) {
        self.http2.borrow_mut().insert(key.clone(), sender.clone());
    }

    /// Gives back an idle HTTP/1.1 connection.
    pub(crate) fn checkin(self: &Rc<Pool>, key: Key, sender: http1::SendRequest<Body>) {
        if sender.is_closed() || self.max_idle_per_host == 0 {
            return;
        }
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let weak = Rc::downgrade(self);
        let expiry_key = key.clone();
        let expiry = fate_core::call_later(self.idle_timeout, move || {
            if let Some(pool) = weak.upgrade() {
                pool.expire(&expiry_key, id);
            }
        });
        let evicted = {
            let mut idle = self.idle.borrow_mut();
            let list = idle.entry(key).or_default();
            list.push(Idle { sender, id, expiry });
            (list.len() > self.max_idle_per_host).then(|| list.remove(0))
        };
        if let Some(oldest) = evicted {
            let _ = oldest.expiry.cancel();
        }
    }

    fn expire(&self, key: &Key, id: u64) {
        let expired = {
            let mut idle = self.idle.borrow_mut();
            let Some(list) = idle.get_mut(key) else {
                return;
            };
            let at = list.iter().position(|e| e.id == id);
            let expired = at.map(|i| list.remove(i));
            if list.is_empty() {
                idle.remove(key);
            }
            expired
        };
        drop(expired); // closes the connection, outside the borrow
    }

    /// Idle HTTP/1.1 connections for `key` (for tests and diagnostics).
    pub(crate) fn idle_count(&self, key: &Key) -> usize {
        self.idle.borrow().get(key).map_or(0, Vec::len)
    }

    /// Closes every idle connection (Twisted's `closeCachedConnections`).
    pub(crate) fn clear(&self) {
        let idle: Vec<_> = self.idle.borrow_mut().drain().collect();
        for (_, list) in idle {
            for entry in list {
                let _ = entry.expiry.cancel();
            }
        }
        let h2: Vec<_> = self.http2.borrow_mut().drain().collect();
        drop(h2);
    }
}

/// Gives a connection back to its pool when a response body was read to the end.
pub(crate) struct Return {
    pub(crate) pool: Weak<Pool>,
    pub(crate) key: Key,
    pub(crate) sender: http1::SendRequest<Body>,
}

impl Return {
    pub(crate) fn release(self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.checkin(self.key, self.sender);
        }
    }
}
