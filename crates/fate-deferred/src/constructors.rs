//! `succeed`, `fail`, `maybe_deferred`: Deferreds that are (usually) fired already.

use std::panic::Location;

use crate::error::Panicked;
use crate::{Deferred, Failure, IntoOutcome, Outcome};

/// A Deferred already fired with `value` (Twisted's `succeed`).
///
/// # Examples
/// ```
/// let d = fate::deferred::succeed("success").add_callback(|s| s.len());
/// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(7));
/// ```
#[track_caller]
pub fn succeed<T: 'static>(value: T) -> Deferred<T> {
    let (d, fire) = Deferred::pending();
    fire.callback(value);
    d
}

/// A Deferred already fired with `failure` (Twisted's `fail`). Accepts a [`Failure`] or any
/// error type; [`Failure::msg`] makes one from a message.
///
/// # Examples
/// ```
/// let d = fate::deferred::fail::<i64>(std::io::Error::other("nope")).add_errback(|_| -1);
/// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(-1));
/// ```
#[track_caller]
pub fn fail<T: 'static>(failure: impl crate::IntoFailure) -> Deferred<T> {
    let failure = failure.into_failure();
    let (d, fire) = Deferred::pending();
    fire.errback(failure);
    d
}

/// Calls `f` now and wraps whatever it returns in a Deferred (Twisted's `maybeDeferred`): a
/// value → fired with it; `Err(failure)` → failed with that very failure; a `Deferred` → that
/// very Deferred; a panic → failed with [`Panicked`].
///
/// Arguments are captured by the closure (Twisted's `*args` are meaningless here). An async
/// block is a `Future`, not a value: use [`Deferred::from_future`] for it.
///
/// # Examples
/// ```
/// use fate::deferred::{maybe_deferred, Failure};
/// let d = maybe_deferred(|| 10 + 5);
/// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(15));
/// let d = maybe_deferred(|| -> Result<i64, Failure> { Err(Failure::msg("no")) });
/// assert!(d.try_result().ok().and_then(|r| r.err()).is_some());
/// ```
#[track_caller]
pub fn maybe_deferred<U: 'static, R, M>(f: impl FnOnce() -> R) -> Deferred<U>
where
    R: IntoOutcome<U, M>,
{
    let at = Location::caller();
    match crate::catch_panic(f) {
        Ok(r) => match r.into_outcome() {
            Outcome::Value(v) => succeed(v),
            Outcome::Failure(failure) => fail(failure),
            Outcome::Chain(d) => d,
        },
        Err(payload) => fail(Failure::at(Panicked::from_payload(&*payload), at)),
    }
}
