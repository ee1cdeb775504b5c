//! A result computed on another thread, on its way back to the reactor that asked for it.
//!
//! The asking side parks its Deferred's firing end (`Fire` is `!Send`) in a thread-local
//! table and sends only a [`Reply`]: the table slot's id and a door back to its reactor. The
//! Reply is `Send`; whoever computes the result calls [`Reply::send`] (or `send_error`,
//! `send_panic`), and the result crosses back through `call_from_thread` to fire the Deferred
//! on its own thread. A Reply dropped unsent (its job was dropped unrun) fires the Deferred
//! with the failure its maker chose, so the asker never waits for an answer that cannot come.
//!
//! While a Reply is out, the asking reactor counts it as outstanding work, so
//! `run_until_idle` waits for it. The thread pool, the pool of reactors' cross-worker calls
//! and fate-db's connection threads all answer through it.

use std::any::Any;
use std::cell::RefCell;
use std::error::Error;
use std::marker::PhantomData;

use fate_deferred::{Abandoned, Deferred, Failure, Fire, Panicked};
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
    Failed(Box<dyn Error + Send>),
    Panicked(Box<dyn Any + Send>),
    /// The work was dropped unrun.
    Lost,
}

/// The `Send` half of a Deferred that another thread fires: for code that runs blocking work
/// on threads of its own (a driver's connection threads, say) and answers on the loop.
///
/// [`Reply::pending`] makes the pair on the reactor's thread; the `Reply` travels to the
/// thread that does the work, which calls [`send`](Reply::send),
/// [`send_error`](Reply::send_error) or [`send_panic`](Reply::send_panic). The Deferred fires
/// on its own reactor's thread at that reactor's next turn, never on the sender's. Dropped
/// unsent, the Reply fails the Deferred with [`Abandoned`], so its asker never waits for an
/// answer that cannot come. While it is out, the reactor counts it as pending work:
/// `run_until_idle` waits for it. The loop watchdog names the `pending` call as the site of
/// the callbacks the reply runs.
///
/// # Examples
///
/// ```
/// use fate::threads::Reply;
///
/// fate::run_until_idle(|| {
///     let (answer, reply) = Reply::<u64>::pending();
///     std::thread::spawn(move || reply.send(6 * 7));
///     answer.add_callback(|n| assert_eq!(n, 42));
///
///     let (failed, reply) = Reply::<()>::pending();
///     std::thread::spawn(move || reply.send_error(std::fmt::Error));
///     failed.add_errback(|f| assert!(f.check::<std::fmt::Error>()));
/// })
/// .unwrap();
/// ```
pub struct Reply<T: Send + 'static> {
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
    /// A Deferred on this thread's reactor, and the Reply that fires it from any thread.
    ///
    /// # Panics
    ///
    /// If this thread has no reactor.
    #[track_caller]
    pub fn pending() -> (Deferred<T>, Reply<T>) {
        Reply::park(&crate::reactor::current(), 0, |_| Failure::new(Abandoned))
    }

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

    /// Fires the Deferred with `value`, on its reactor's thread.
    pub fn send(mut self, value: T) {
        self.deliver(Outcome::Done(value));
    }

    /// Fails the Deferred with `error`, on its reactor's thread (where the `Failure` is made).
    pub fn send_error<E: Error + Send + 'static>(mut self, error: E) {
        self.deliver(Outcome::Failed(Box::new(error)));
    }

    /// Fails the Deferred with [`Panicked`], carrying the message of a panic caught on the
    /// sending thread (`payload` as `std::panic::catch_unwind` returns it).
    ///
    /// # Examples
    ///
    /// ```
    /// use fate::deferred::Panicked;
    /// use fate::threads::Reply;
    ///
    /// fate::run_until_idle(|| {
    ///     let (d, reply) = Reply::<()>::pending();
    ///     std::thread::spawn(move || match std::panic::catch_unwind(|| panic!("hatter")) {
    ///         Ok(v) => reply.send(v),
    ///         Err(payload) => reply.send_panic(payload),
    ///     });
    ///     d.add_errback(|f| assert_eq!(f.downcast_ref::<Panicked>().unwrap().message(), "hatter"));
    /// })
    /// .unwrap();
    /// ```
    pub fn send_panic(mut self, payload: Box<dyn Any + Send>) {
        self.deliver(Outcome::Panicked(payload));
    }

    /// Sends what `catch_unwind` returned around the work: its value, or its panic.
    pub(crate) fn send_caught(self, caught: std::thread::Result<T>) {
        match caught {
            Ok(value) => self.send(value),
            Err(payload) => self.send_panic(payload),
        }
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
    /// Unsent, the Reply fails its Deferred with the failure its maker chose (sent, it does
    /// nothing: `deliver` took the door).
    fn drop(&mut self) {
        self.deliver(Outcome::Lost);
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
        Outcome::Failed(error) => Err(Failure::from_boxed(error)),
        Outcome::Panicked(payload) => Err(Failure::new(Panicked::from_payload(&*payload))),
        Outcome::Lost => Err(lost(tag)),
    };
    // An error means the Deferred was cancelled meanwhile: the result is not wanted.
    fire.try_fire(result).ok();
}
