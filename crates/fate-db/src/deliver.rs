//! Results from pool threads back to the reactor that asked: the Deferred's firing end stays
//! on its thread, keyed by an id that travels with the job.

use std::any::Any;
use std::cell::RefCell;
use std::thread;

use fate_core::reactor::{Outstanding, RemoteHandle};
use fate_deferred::{Deferred, Failure, Fire, Panicked};
use slab::Slab;

thread_local! {
    /// Firing ends waiting for a pool thread, by id (each a `Waiting<T>` as `Any`): a `Fire`
    /// is `!Send`, so it stays here and only the id travels.
    static WAITING: RefCell<Slab<Box<dyn Any>>> = RefCell::new(Slab::new());
}

/// A Deferred's firing end, and the guard that keeps `run_until_idle` waiting for it.
struct Waiting<T: 'static> {
    fire: Fire<T>,
    _outstanding: Outstanding,
}

/// The `Send` half of a pending Deferred: a pool thread fires it with [`send`](Reply::send).
/// Dropped unsent, it fails the Deferred with `Abandoned` rather than leave it waiting.
pub(crate) struct Reply {
    /// `None` once sent.
    remote: Option<RemoteHandle>,
    id: usize,
}

/// A new Deferred on this thread's reactor, and the [`Reply`] that fires it from any thread.
///
/// # Panics
///
/// If this thread has no reactor.
#[track_caller]
pub(crate) fn pending<T: Send + 'static>() -> (Deferred<T>, Reply) {
    let reactor = fate_core::reactor::current();
    let (deferred, fire) = Deferred::pending();
    let waiting = Waiting {
        fire,
        _outstanding: reactor.outstanding(),
    };
    let id = WAITING.with(|w| w.borrow_mut().insert(Box::new(waiting)));
    let reply = Reply {
        remote: Some(reactor.remote()),
        id,
    };
    (deferred, reply)
}

impl Reply {
    /// Fires the Deferred on its reactor's thread with `result`: a value, an error, or the
    /// payload of a panic.
    pub(crate) fn send<T, E>(mut self, result: thread::Result<Result<T, E>>)
    where
        T: Send + 'static,
        E: std::error::Error + Send + 'static,
    {
        let id = self.id;
        let Some(remote) = self.remote.take() else {
            return;
        };
        remote.call_from_thread(move || {
            let waiting = WAITING.with(|w| w.borrow_mut().try_remove(id));
            let Some(Ok(waiting)) = waiting.map(|w| w.downcast::<Waiting<T>>()) else {
                return;
            };
            let fire = waiting.fire;
            // A cancelled Deferred swallows this late result.
            let result = match result {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(error)) => Err(Failure::new(error)),
                Err(payload) => Err(Failure::new(Panicked::from_payload(&*payload))),
            };
            fire.try_fire(result).ok();
        });
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(remote) = self.remote.take() {
            let id = self.id;
            // Dropping the `Fire` unfired errbacks its Deferred with `Abandoned`.
            remote.call_from_thread(move || drop(WAITING.with(|w| w.borrow_mut().try_remove(id))));
        }
    }
}
