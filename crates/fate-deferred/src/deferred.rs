//! `Deferred<T>`: the consumer's end of a result that is not available yet.

use std::fmt;
use std::marker::{PhantomData, PhantomPinned};
use std::panic::Location;
use std::rc::Rc;

use crate::chain::{take_parked, Chain};
use crate::control::{self, Control};
use crate::head::Head;
use crate::stage::Handler;
use crate::{trampoline, Failure, Fire, IntoOutcome, Outcome};

/// A result that is not available yet, and the chain of callbacks that will process it.
///
/// Twisted's `Deferred`, typed. The producer fires it through its [`Fire`] end; the consumer
/// appends callbacks here. Each callback receives the previous one's result:
/// [`add_callback`](Deferred::add_callback) runs on success,
/// [`add_errback`](Deferred::add_errback) on failure, [`add_both`](Deferred::add_both) on
/// either. A callback may return a plain value, a `Result<U, Failure>`, or another
/// `Deferred<U>` — then the chain pauses until that Deferred fires and continues with its
/// result ([`IntoOutcome`]). A panic in a callback becomes a [`Panicked`](crate::Panicked)
/// failure on the errback path.
///
/// Adding a callback consumes the handle and returns the handle for the new result type,
/// `Deferred<U>` — the *same* Deferred in Twisted's sense (one pause counter, one canceller,
/// one chain), typed by its current tail.
///
/// # Ordering
/// Everything is synchronous, as in Twisted: firing runs the callbacks before `callback`
/// returns; adding a callback to a fired, idle Deferred runs it before `add_callback`
/// returns; a callback added while the chain runs is run by that same loop, after the
/// running callback. Long chains and deeply nested Deferreds run in a loop, not recursion.
///
/// # Drop
/// Dropping the handle does not cancel anything: queued callbacks still run when the producer
/// fires. A [`Failure`] left at the end of a chain that nobody can read any more is reported
/// (to stderr, or to the program's `tracing` subscriber) naming where the Deferred was
/// created and where the failure arose; [`set_unhandled_hook`](crate::set_unhandled_hook)
/// replaces that report.
///
/// So a chain that handles its failures may simply be dropped: `Deferred` itself is not
/// `#[must_use]`, and neither are [`add_errback`](Deferred::add_errback),
/// [`add_both`](Deferred::add_both) and [`add_callbacks`](Deferred::add_callbacks), which end
/// a chain with its failures handled. [`add_callback`](Deferred::add_callback) is: a chain
/// that ends with it leaves failures unhandled, so add an errback, await it, or return it.
///
/// # Examples
/// The article's `slowMultiply`; `call_later` stands in for the reactor (fate-core provides
/// `reactor.call_later`):
/// ```
/// use fate::Deferred;
/// # use std::{cell::RefCell, time::Duration};
/// # thread_local!(static TIMERS: RefCell<Vec<Box<dyn FnOnce()>>> = RefCell::new(Vec::new()));
/// # fn call_later(_delay: Duration, f: impl FnOnce() + 'static) {
/// #     TIMERS.with(|t| t.borrow_mut().push(Box::new(f)));
/// # }
/// # fn run_reactor() { while let Some(f) = TIMERS.with(|t| t.borrow_mut().pop()) { f() } }
///
/// fn slow_multiply(x: i64, y: i64) -> Deferred<i64> {
///     let (d, fire) = Deferred::<i64>::pending();
///     call_later(Duration::from_secs(3), move || {
///         fire.callback(x * y);
///     });
///     d
/// }
///
/// let printed = slow_multiply(3, 4).add_callback(|product| println!("{product}"));
/// run_reactor(); // three seconds later: prints 12
/// assert!(printed.has_result());
/// ```
///
/// A `Deferred` is single-threaded (`!Send`):
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(fate::deferred::succeed(1));
/// ```
pub struct Deferred<T> {
    /// The chain; its parked result, once final, is a `T` (see `chain`'s module docs).
    pub(crate) chain: Rc<Chain>,
    _type: PhantomData<fn(T) -> T>,
    _not_unpin: PhantomPinned,
}

impl<T: 'static> Deferred<T> {
    #[inline]
    pub(crate) fn from_chain(chain: Rc<Chain>) -> Deferred<T> {
        Deferred {
            chain,
            _type: PhantomData,
            _not_unpin: PhantomPinned,
        }
    }

    #[inline]
    pub(crate) fn into_chain(self) -> Rc<Chain> {
        self.chain
    }

    /// A new unfired Deferred and its firing end.
    ///
    /// The caller's location is recorded as where the Deferred was created (shown in
    /// unhandled-failure reports and [`AlreadyCalled`](crate::AlreadyCalled)).
    ///
    /// # Examples
    /// ```
    /// use fate::Deferred;
    /// let (d, fire) = Deferred::<i64>::pending();
    /// let d = d.add_callback(|x| x + 1);
    /// assert!(!d.is_called());
    /// fire.callback(41);
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(42));
    /// ```
    #[track_caller]
    #[inline]
    pub fn pending() -> (Deferred<T>, Fire<T>) {
        let created = Location::caller();
        // `new_cyclic` allocates first and builds the head in place; `Rc::new` builds it on
        // the stack and copies it in. Which is cheaper depends on what the caller inlines: in
        // `fate-bench deferred` (the figure we quote) they are within a few instructions of
        // each other, 721 per Deferred with `Rc::new` against 719 here.
        let head = Rc::new_cyclic(|_| Head::<T>::new(created));
        let d = Deferred::from_chain(head.clone());
        (d, Fire::new(head))
    }

    /// A new unfired Deferred whose `cancel()` calls `canceller` (Twisted's
    /// `Deferred(canceller)`), and its firing end.
    ///
    /// The canceller gets a firing end of its own: it may fire the Deferred with a value or a
    /// failure (that outcome replaces [`Cancelled`](crate::Cancelled)), or just stop the
    /// producer and let `cancel()` errback with `Cancelled`. It runs at most once, and never
    /// after the Deferred fired; it is dropped when the Deferred fires.
    ///
    /// # Examples
    /// ```
    /// use fate::Deferred;
    /// let (d, _fire) = Deferred::<&str>::with_canceller(|fire| {
    ///     fire.callback("stopped early");
    /// });
    /// d.cancel();
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some("stopped early"));
    /// ```
    #[track_caller]
    pub fn with_canceller(canceller: impl FnOnce(Fire<T>) + 'static) -> (Deferred<T>, Fire<T>) {
        let head = Rc::new(Head::<T>::new(Location::caller()));
        let weak = Rc::downgrade(&head);
        head.state.set_canceller(Box::new(move || {
            if let Some(head) = weak.upgrade() {
                // Hold the Deferred open while the canceller runs: dropping every firing end
                // in there is what cancelling means, not abandonment.
                let _open = HoldOpen::new(&head);
                canceller(Fire::new(head.clone()));
            }
        }));
        let d = Deferred::from_chain(head.clone());
        (d, Fire::new(head))
    }

    /// Appends a callback/errback pair: `callback` runs if the result so far is a value,
    /// `errback` if it is a failure; either's return becomes the new result (Twisted's
    /// `addCallbacks`).
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{fail, Failure};
    /// let d = fail::<i64>(Failure::msg("no"))
    ///     .add_callbacks(|x| x.to_string(), |f| format!("recovered from {f}"));
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()).as_deref(), Some("recovered from no"));
    /// ```
    #[track_caller]
    pub fn add_callbacks<U, R1, M1, R2, M2>(
        self,
        callback: impl FnOnce(T) -> R1 + 'static,
        errback: impl FnOnce(Failure) -> R2 + 'static,
    ) -> Deferred<U>
    where
        U: 'static,
        R1: IntoOutcome<U, M1>,
        R2: IntoOutcome<U, M2>,
    {
        self.append(move |r| match r {
            Ok(v) => callback(v).into_outcome(),
            Err(f) => errback(f).into_outcome(),
        })
    }

    /// Appends a callback for the success path; a failure passes it by unchanged.
    ///
    /// The callback may return a plain value, a `Result<U, Failure>` (`Err` switches to the
    /// errback path) or a `Deferred<U>` (the chain waits for it) — see [`IntoOutcome`].
    ///
    /// # Examples
    /// ```
    /// let d = fate::deferred::succeed(1).add_callback(|x: i64| x + 1).add_callback(|x| x * 10);
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(20));
    /// ```
    ///
    /// A chain that ends in `add_callback` and is dropped warns (`unused_must_use`): a failure
    /// would reach its end unhandled. End it with [`add_errback`](Deferred::add_errback) (or
    /// `add_both`) instead, which drops without a warning.
    /// ```compile_fail
    /// #![deny(unused_must_use)]
    /// let (d, fire) = fate::Deferred::<i64>::pending();
    /// d.add_callback(|x| println!("{x}")); // error: unused return value
    /// fire.callback(1);
    /// ```
    /// ```
    /// #![deny(unused_must_use)]
    /// let (d, fire) = fate::Deferred::<i64>::pending();
    /// d.add_callback(|x| println!("{x}")).add_errback(|f| eprintln!("{f}"));
    /// fire.callback(1);
    /// ```
    #[track_caller]
    #[inline]
    #[must_use = "a chain that ends in add_callback leaves failures unhandled (they are reported when it is dropped): end it with add_errback or add_both, await it, or return it"]
    pub fn add_callback<U, R, M>(self, callback: impl FnOnce(T) -> R + 'static) -> Deferred<U>
    where
        U: 'static,
        R: IntoOutcome<U, M>,
    {
        self.append(move |r| match r {
            Ok(v) => callback(v).into_outcome(),
            Err(f) => Outcome::Failure(f),
        })
    }

    /// Appends an errback for the failure path; a value passes it by unchanged. Returning a
    /// value (or `Ok`) recovers: the chain switches back to the success path.
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{fail, Failure};
    /// let d = fail::<i64>(Failure::msg("no")).add_errback(|_f| 0);
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(0));
    /// ```
    #[track_caller]
    pub fn add_errback<R, M>(self, errback: impl FnOnce(Failure) -> R + 'static) -> Deferred<T>
    where
        R: IntoOutcome<T, M>,
    {
        self.append(move |r| match r {
            Ok(v) => Outcome::Value(v),
            Err(f) => errback(f).into_outcome(),
        })
    }

    /// Appends one function for both paths; it receives the result so far as a `Result`.
    ///
    /// # Examples
    /// ```
    /// let d = fate::deferred::succeed(2).add_both(|r: Result<i64, _>| r.map(|x| x * 2));
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(4));
    /// ```
    #[track_caller]
    pub fn add_both<U, R, M>(
        self,
        both: impl FnOnce(Result<T, Failure>) -> R + 'static,
    ) -> Deferred<U>
    where
        U: 'static,
        R: IntoOutcome<U, M>,
    {
        self.append(move |r| both(r).into_outcome())
    }

    /// Forwards this Deferred's result to another Deferred's firing end (Twisted's
    /// `chainDeferred`). This chain continues with `()`: the result, failure included, is
    /// now `other`'s to handle. Firing `other` twice makes this chain fail with
    /// [`AlreadyCalled`](crate::AlreadyCalled).
    ///
    /// Unlike returning a Deferred from a callback, this is an explicit fire: `other`'s
    /// callbacks run nested inside this chain's processing (as in Twisted).
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{succeed, Deferred};
    /// let (d2, fire2) = Deferred::<i64>::pending();
    /// let d1 = succeed(5).chain_deferred(fire2);
    /// assert_eq!(d2.try_result().ok().and_then(|r| r.ok()), Some(5));
    /// assert_eq!(d1.try_result().ok().and_then(|r| r.ok()), Some(()));
    /// ```
    #[track_caller]
    pub fn chain_deferred(self, other: Fire<T>) -> Deferred<()> {
        self.append(move |r| match other.try_fire(r) {
            Ok(()) => Outcome::Value(()),
            Err(e) => Outcome::Failure(Failure::new(e)),
        })
    }

    #[track_caller]
    #[inline]
    fn append<U: 'static>(
        self,
        handler: impl FnOnce(Result<T, Failure>) -> Outcome<U> + 'static,
    ) -> Deferred<U> {
        let chain = self.into_chain();
        chain.state.push_stage(Box::new(Handler::new(handler)));
        trampoline::run_if_runnable(&chain);
        Deferred::from_chain(chain)
    }

    /// Cancels the Deferred (Twisted's `cancel`):
    /// - unfired: calls the canceller (if any); if the Deferred is still unfired afterwards,
    ///   errbacks with [`Cancelled`](crate::Cancelled). Without a canceller, the producer's one
    ///   late fire is then swallowed instead of returning `AlreadyCalled`.
    /// - waiting on a Deferred a callback returned: cancels that one (and so on down).
    /// - otherwise: nothing.
    ///
    /// # Panics
    /// If the canceller panics, the panic propagates and the Deferred stays unfired.
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{Deferred, Cancelled};
    /// let (d, fire) = Deferred::<i64>::pending();
    /// d.cancel();
    /// assert!(fire.try_callback(1).is_ok()); // swallowed: the producer did not know
    /// let f = d.try_result().ok().and_then(|r| r.err()).unwrap();
    /// assert!(f.check::<Cancelled>());
    /// ```
    #[track_caller]
    pub fn cancel(&self) {
        control::cancel(&self.chain, Location::caller());
    }

    /// Pauses callback processing: until a matching [`unpause`](Deferred::unpause), no
    /// callback runs, though the Deferred can still be fired.
    ///
    /// # Examples
    /// ```
    /// let d = fate::deferred::succeed(1);
    /// d.pause();
    /// let d = d.add_callback(|x: i64| x + 1);
    /// assert!(!d.has_result());
    /// d.unpause();
    /// assert!(d.has_result());
    /// ```
    pub fn pause(&self) {
        control::pause(&self.chain);
    }

    /// Undoes one [`pause`](Deferred::pause); at zero, processing resumes.
    ///
    /// An `unpause()` without a matching `pause()` is ignored (with a `tracing` warning);
    /// Twisted lets its counter go negative, blocking the Deferred forever, and we will
    /// not reproduce that. Waiting on a Deferred a callback returned is not a pause an
    /// `unpause()` can undo.
    ///
    /// # Examples
    /// ```
    /// let d = fate::deferred::succeed(1);
    /// d.unpause(); // ignored
    /// d.pause();
    /// let d = d.add_callback(|x: i64| x + 1);
    /// d.unpause();
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(2));
    /// ```
    #[track_caller]
    pub fn unpause(&self) {
        control::unpause(&self.chain, Location::caller());
    }

    /// Whether the Deferred has been fired (Twisted's `called`).
    ///
    /// # Examples
    /// ```
    /// assert!(fate::deferred::succeed(()).is_called());
    /// ```
    pub fn is_called(&self) -> bool {
        self.chain.state().fired()
    }

    /// Whether every callback has run and the final result is waiting to be read.
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<()>::pending();
    /// assert!(!d.has_result());
    /// fire.callback(());
    /// assert!(d.has_result());
    /// ```
    pub fn has_result(&self) -> bool {
        self.chain.state.has_final()
    }

    /// A cloneable handle to cancel, pause or unpause this Deferred after the handle itself
    /// has moved on.
    ///
    /// # Examples
    /// ```
    /// let (d, _fire) = fate::Deferred::<()>::pending();
    /// let ctl = d.control();
    /// let _later = d.add_callback(|()| ());
    /// ctl.cancel();
    /// assert!(ctl.is_called());
    /// ```
    pub fn control(&self) -> Control {
        Control {
            chain: self.chain.clone(),
        }
    }

    /// Takes the final result if every callback has run, consuming the Deferred; otherwise
    /// hands the Deferred back. A taken failure counts as handled.
    ///
    /// # Errors
    /// `Err(self)` when the Deferred is unfired, paused, waiting, or still running callbacks.
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<i64>::pending();
    /// let d = d.try_result().unwrap_err(); // not yet
    /// fire.callback(7);
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(7));
    /// ```
    #[inline]
    pub fn try_result(self) -> Result<Result<T, Failure>, Deferred<T>> {
        // A result is final when it is parked and no handler is left to take it; with nothing
        // parked (unfired, paused, waiting, running) `take_parked` finds nothing.
        if self.chain.state.has_stages() {
            return Err(self);
        }
        match take_parked::<T>(&self.chain) {
            Some(result) => Ok(result),
            None => Err(self),
        }
    }
}

/// Counts as one more firing end, without the `Abandoned` check when it goes away.
struct HoldOpen<'a, T: 'static>(&'a Head<T>);

impl<'a, T: 'static> HoldOpen<'a, T> {
    fn new(head: &'a Head<T>) -> HoldOpen<'a, T> {
        head.state.firers.set(head.state.firers.get() + 1);
        HoldOpen(head)
    }
}

impl<T: 'static> Drop for HoldOpen<'_, T> {
    fn drop(&mut self) {
        let st = &self.0.state;
        st.firers.set(st.firers.get().saturating_sub(1));
    }
}

impl<T: 'static> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.chain.state();
        let state = if !st.fired() {
            "pending"
        } else if st.waiting() {
            "waiting on another Deferred"
        } else if st.paused() > 0 {
            "paused"
        } else if self.has_result() {
            "has result"
        } else {
            "fired"
        };
        f.debug_struct("Deferred")
            .field("created", &format_args!("{}", st.created))
            .field("state", &state)
            .finish()
    }
}
