//! `Fire<T>`: the producer's end of a Deferred.

use std::fmt;
use std::panic::Location;
use std::rc::Rc;

use crate::chain::still_wanted;
use crate::chain::State;
use crate::error::{Abandoned, AlreadyCalled};
use crate::head::Head;
use crate::{report, trampoline, Failure, IntoFailure};

/// The firing end of a Deferred: whoever holds it supplies the result, once.
///
/// Made by [`Deferred::pending`](crate::Deferred::pending) (or `with_canceller`) together with
/// the [`Deferred`](crate::Deferred) the consumer gets. The split keeps both ends typed: the
/// producer can only fire a `T`; the consumer can only add callbacks.
///
/// - Fires at most once: a second `callback`/`errback` (through a clone) changes nothing and
///   is reported as [`AlreadyCalled`] (`try_callback`/`try_errback` return it instead) —
///   except that after a `cancel()` with no canceller, exactly one late fire is silently
///   swallowed, as in Twisted.
/// - Firing runs the callbacks synchronously, before `callback` returns.
///
/// # Drop
/// When the last `Fire` of an unfired Deferred is dropped, the Deferred errbacks with
/// [`Abandoned`] (Twisted would wait forever). If nobody holds the Deferred (or a
/// [`Control`](crate::Control) of it, or of a Deferred waiting on it) any more, nothing
/// happens: its callbacks never run, as in Twisted when a producer vanishes.
///
/// # Examples
/// ```
/// use fate::Deferred;
///
/// let (d, fire) = Deferred::<i64>::pending();
/// let d = d.add_callback(|x| x * 2);
/// fire.callback(21);
/// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(42));
/// ```
#[must_use = "dropping every Fire end of an unfired Deferred errbacks it with Abandoned"]
pub struct Fire<T: 'static> {
    pub(crate) head: Rc<Head<T>>,
}

impl<T: 'static> Fire<T> {
    pub(crate) fn new(head: Rc<Head<T>>) -> Fire<T> {
        let st = &head.state;
        st.firers.set(st.firers.get() + 1);
        Fire { head }
    }

    /// Fires the Deferred with `value`, running its callbacks now (Twisted's `callback`).
    ///
    /// Fire and forget: a second fire (through another clone of this end, after a canceller
    /// or a timeout fired it) changes nothing and is reported — like Twisted's
    /// `AlreadyCalledError` — naming where the Deferred was created and first fired. Use
    /// [`try_callback`](Fire::try_callback) to get that as an error instead.
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<&str>::pending();
    /// fire.callback("hello");
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some("hello"));
    /// ```
    #[track_caller]
    #[inline]
    pub fn callback(self, value: T) {
        if let Err(e) = self.head.fire(Ok(value), Location::caller()) {
            report_already_called(&self.head.state, e);
        }
    }

    /// Fires the Deferred with a failure, running its errbacks now (Twisted's `errback`).
    /// Accepts a [`Failure`], any error type, or a message (`&str`, `String`, `format!(..)`),
    /// recording this call's location for a new failure.
    ///
    /// A second fire is reported and changes nothing, as for [`callback`](Fire::callback);
    /// [`try_errback`](Fire::try_errback) returns it as an error instead.
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<i64>::pending();
    /// let host = "example.com";
    /// fire.errback(format!("no route to {host}"));
    /// let f = d.try_result().ok().and_then(|r| r.err()).unwrap();
    /// assert_eq!(f.to_string(), "no route to example.com");
    /// ```
    #[track_caller]
    pub fn errback<M>(self, failure: impl IntoFailure<M>) {
        let failure = failure.into_failure();
        if let Err(e) = self.head.fire(Err(failure), Location::caller()) {
            report_already_called(&self.head.state, e);
        }
    }

    /// Fires with `result`: `Ok` as [`callback`](Fire::callback), `Err` as
    /// [`errback`](Fire::errback).
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<i64>::pending();
    /// fire.fire(Ok(3));
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(3));
    /// ```
    #[track_caller]
    pub fn fire(self, result: Result<T, Failure>) {
        if let Err(e) = self.head.fire(result, Location::caller()) {
            report_already_called(&self.head.state, e);
        }
    }

    /// Fires the Deferred with `value`, or tells that it already fired.
    ///
    /// # Errors
    /// [`AlreadyCalled`] if the Deferred already fired (through another clone of this end, a
    /// canceller, or cancellation); the Deferred is unchanged.
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<&str>::pending();
    /// fire.clone().try_callback("first").unwrap();
    /// assert!(fire.try_callback("second").is_err());
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some("first"));
    /// ```
    #[track_caller]
    #[inline]
    pub fn try_callback(self, value: T) -> Result<(), AlreadyCalled> {
        self.head.fire(Ok(value), Location::caller())
    }

    /// Fires the Deferred with a failure, or tells that it already fired.
    ///
    /// # Errors
    /// [`AlreadyCalled`] as for [`try_callback`](Fire::try_callback).
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<i64>::pending();
    /// fire.try_errback(std::io::Error::other("no route")).unwrap();
    /// let f = d.try_result().ok().and_then(|r| r.err()).unwrap();
    /// assert!(f.check::<std::io::Error>());
    /// ```
    #[track_caller]
    pub fn try_errback<M>(self, failure: impl IntoFailure<M>) -> Result<(), AlreadyCalled> {
        let failure = failure.into_failure();
        self.head.fire(Err(failure), Location::caller())
    }

    /// Fires with `result`, or tells that the Deferred already fired.
    ///
    /// # Errors
    /// [`AlreadyCalled`] as for [`try_callback`](Fire::try_callback).
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<i64>::pending();
    /// fire.try_fire(Ok(3)).unwrap();
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(3));
    /// ```
    #[track_caller]
    pub fn try_fire(self, result: Result<T, Failure>) -> Result<(), AlreadyCalled> {
        self.head.fire(result, Location::caller())
    }

    /// Whether the Deferred has fired (so a fire now would be `AlreadyCalled`, or swallowed
    /// after a cancel).
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<()>::pending();
    /// assert!(!fire.is_called());
    /// d.cancel();
    /// assert!(fire.is_called());
    /// ```
    pub fn is_called(&self) -> bool {
        self.head.state.fired()
    }

    /// Whether anyone still listens: a `Deferred` handle, a `Control`, or attached callbacks.
    /// Producers may skip expensive work when nobody does.
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<()>::pending();
    /// assert!(fire.is_observed());
    /// drop(d);
    /// assert!(!fire.is_observed());
    /// ```
    pub fn is_observed(&self) -> bool {
        self.head.observed()
    }
}

impl<T: 'static> Clone for Fire<T> {
    fn clone(&self) -> Fire<T> {
        Fire::new(self.head.clone())
    }
}

impl<T: 'static> Drop for Fire<T> {
    #[inline]
    fn drop(&mut self) {
        let st = &self.head.state;
        let left = st.firers.get().saturating_sub(1);
        st.firers.set(left);
        if left == 0 && !st.fired() {
            abandon(&self.head);
        }
    }
}

/// The last firing end of an unfired Deferred went away: errbacks it with [`Abandoned`] if
/// anyone still listens.
#[cold]
#[inline(never)]
fn abandon<T: 'static>(head: &Rc<Head<T>>) {
    let st = &head.state;
    if still_wanted(Rc::strong_count(head), 1, st) {
        st.fail_head(Failure::at(Abandoned, st.created));
        trampoline::run(head.clone());
    }
}

impl<T: 'static> fmt::Debug for Fire<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fire")
            .field("created", &format_args!("{}", self.head.state.created))
            .field("called", &self.is_called())
            .finish()
    }
}

/// Reports a second fire of a fire-and-forget end (the `try_` forms return it instead).
#[cold]
#[track_caller]
fn report_already_called(state: &State, error: AlreadyCalled) {
    let again = Location::caller();
    match state.debug_sites() {
        Some(sites) => report::error(format_args!("{error}; fired again at {again}\n{sites}")),
        None => report::error(format_args!("{error}; fired again at {again}")),
    }
}
