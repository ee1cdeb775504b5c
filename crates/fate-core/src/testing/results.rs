//! Reading a Deferred's result in a test, synchronously: Twisted's `SynchronousTestCase`
//! helpers `successResultOf`, `failureResultOf` and `assertNoResult`.

use fate_deferred::{Deferred, Failure};

/// The value `d` has already fired with; panics (failing the test) if it has no result yet
/// or failed (Twisted's `successResultOf`).
///
/// # Panics
///
/// If `d` has no result yet (unfired, paused, or waiting on another Deferred), or its result
/// is a failure — the message names the failure and where it arose.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fate::testing::{success_result_of, Clock};
///
/// let clock = Clock::new();
/// let d = fate::time::defer_later(&clock, Duration::from_secs(1), || 42);
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(success_result_of(d), 42);
/// ```
#[track_caller]
pub fn success_result_of<T: 'static>(d: Deferred<T>) -> T {
    match d.try_result() {
        Ok(Ok(value)) => value,
        Ok(Err(failure)) => panic!(
            "success result expected, found failure: {failure} (arose at {})",
            failure.location()
        ),
        Err(d) => panic!("success result expected, found no result: {d:?}"),
    }
}

/// The failure `d` has already fired with; panics (failing the test) if it has no result yet
/// or succeeded (Twisted's `failureResultOf`). Check the failure's type with
/// [`Failure::check`] or [`Failure::downcast_ref`].
///
/// # Panics
///
/// If `d` has no result yet, or its result is a value.
///
/// # Examples
///
/// ```
/// use fate::deferred::Cancelled;
/// use fate::testing::failure_result_of;
///
/// let (d, _fire) = fate::Deferred::<i64>::pending();
/// d.cancel();
/// assert!(failure_result_of(d).check::<Cancelled>());
/// ```
#[track_caller]
pub fn failure_result_of<T: 'static>(d: Deferred<T>) -> Failure {
    match d.try_result() {
        Ok(Err(failure)) => failure,
        Ok(Ok(_)) => panic!("failure result expected, found a success result"),
        Err(d) => panic!("failure result expected, found no result: {d:?}"),
    }
}

/// Panics (failing the test) if `d` already has a result (Twisted's `assertNoResult`).
///
/// # Panics
///
/// If every callback of `d` has run and its result is waiting to be read.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fate::testing::{assert_no_result, success_result_of, Clock};
///
/// let clock = Clock::new();
/// let d = fate::time::defer_later(&clock, Duration::from_secs(1), || "late");
/// assert_no_result(&d);
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(success_result_of(d), "late");
/// ```
#[track_caller]
pub fn assert_no_result<T: 'static>(d: &Deferred<T>) {
    assert!(!d.has_result(), "no result expected, found one: {d:?}");
}
