//! A result computed on another thread, on its way back to the reactor that asked for it.
//!
//! The asking side parks its Deferred's firing end (`Fire` is `!Send`) in a thread-local
//! table and sends only a [`Reply`]: the table slot's id and a door back to its reactor. The
//! Reply is `Send`; whoever computes the result calls [`Reply::send`], and the result crosses
//! back through `call_from_thread` to fire the Deferred on its own thread. A Reply dropped
//! unsent (its job was dropped unrun) fires the Deferred with the failure its maker chose, so
//! the asker never waits for an answer that cannot come.
//!
//! While a Reply is out, the asking reactor counts it as outstanding work, so
//! `run_until_idle` waits for it.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::panic::resume_unwind;

use fate_deferred::{Deferred, Failure, Fire};
use slab::Slab;

use crate::reactor::watchdog::{Kind, Site};
use crate::reactor::{Reactor, RemoteHandle};

thread_local! {
    /// The firing ends of Deferreds waiting for a reply, by id (each a `Fire<T>` as `Any`).
    static WAITING: RefCell<Slab<Box<dyn Any>>> = RefCell::new(Slab::new());
}

/// What came of the work a [`Reply`] answers.
enum Outcome<T> {
    Done(T),
    Panicked(Box<dyn Any + Send>),
    /// The work was dropped unrun.
    Lost,
}

/// The `Send` half of a Deferred waiting on another thread's result; see the module docs.
pub(crate) struct Reply<T: Send + 'static> {
    /// The asking reactor's door; `None` once the reply was sent.
    to: Option<RemoteHandle>,
    id: usize,
    /// Passed to `lost` when the reply is dropped unsent (a worker index, say).
    tag: usize,
    /// Builds the failure for a reply dropped unsent; runs on the asking thread.
    lost: fn(usize) -> Failure,
    /// Where the work was asked for: the watchdog names it if the Deferred's callbacks,
    /// fired by the reply, hold the loop.
    site: Site,
    _result: PhantomData<fn(T)>,
}

impl<T: Send + 'static> Reply<T> {
    /// A Deferred on `reactor`'s thread and the Reply that fires it.
    #[track_caller]
    pub(crate) fn park(
        reactor: &Reactor,
        tag: usize,
        lost: fn(usize) -> Failure,
    ) -> (Deferred<T>, Reply<T>) {
        let (deferred, fire) = Deferred::<T>::pending();
        let id = WAITING.with(|w| w.borrow_mut().insert(Box::new(fire)));
        let outstanding = &reactor.inner.outstanding;
        outstanding.set(outstanding.get() + 1);
        let reply = Reply {
            to: Some(reactor.remote()),
            id,
            tag,
            lost,
            site: std::panic::Location::caller(),
            _result: PhantomData,
        };
        (deferred, reply)
    }

    /// Sends the result (or the panic that replaced it) back to the asking reactor.
    pub(crate) fn send(mut self, result: Result<T, Box<dyn Any + Send>>) {
        let outcome = match result {
            Ok(value) => Outcome::Done(value),
            Err(payload) => Outcome::Panicked(payload),
        };
        self.deliver(outcome);
    }

    fn deliver(&mut self, outcome: Outcome<T>) {
        let Some(to) = self.to.take() else {
            return;
        };
        let (id, tag, lost) = (self.id, self.tag, self.lost);
        to.call_from_thread_as(Kind::ThreadReply, self.site, move || {
            fire(id, outcome, tag, lost)
        });
    }
}

impl<T: Send + 'static> Drop for Reply<T> {
    fn drop(&mut self) {
        if let Some(to) = self.to.take() {
            let (id, tag, lost) = (self.id, self.tag, self.lost);
            to.call_from_thread_as(Kind::ThreadReply, self.site, move || {
                fire::<T>(id, Outcome::Lost, tag, lost)
            });
        }
    }
}

/// On the asking thread: fires the Deferred parked under `id`.
fn fire<T: 'static>(id: usize, outcome: Outcome<T>, tag: usize, lost: fn(usize) -> Failure) {
    if let Some(reactor) = crate::reactor::try_current() {
        let outstanding = &reactor.inner.outstanding;
        outstanding.set(outstanding.get().saturating_sub(1));
    }
    let fire = WAITING.with(|w| w.borrow_mut().try_remove(id));
    let Some(Ok(fire)) = fire.map(|f| f.downcast::<Fire<T>>()) else {
        return;
    };
    let result = match outcome {
        Outcome::Done(value) => Ok(value),
        Outcome::Panicked(payload) => Err(panic_failure(payload)),
        Outcome::Lost => Err(lost(tag)),
    };
    // An error means the Deferred was cancelled meanwhile: the result is not wanted.
    fire.try_fire(result).ok();
}

/// The `Panicked` failure for a panic payload, with its message, without running the panic
/// hook a second time.
fn panic_failure(payload: Box<dyn Any + Send>) -> Failure {
    let rethrown =
        fate_deferred::succeed(()).add_callback(move |()| -> () { resume_unwind(payload) });
    match rethrown.try_result() {
        Ok(Err(failure)) => failure,
        _ => Failure::msg("a job on another thread panicked"),
    }
}
