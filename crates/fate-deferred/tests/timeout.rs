//! twisted-semantics 3.6: addTimeout (T), with a manual clock standing in for the reactor's.
//!
//! 3.11 (deferLater, react) is reactor-facing and lives with fate-core.

mod common;

use std::time::Duration;

use common::{err_of, no_result, ok_of, Clock, GenericError, Log};
use fate_deferred::{Cancelled, Deferred, Failure, TimedOut};

const TEN: Duration = Duration::from_secs(10);
const FIFTEEN: Duration = Duration::from_secs(15);

#[test]
fn t02_success_result_before_timeout() {
    let clock = Clock::new();
    let (d, fire) = Deferred::<&str>::pending();
    let (inner, _fire_inner) = Deferred::<&str>::pending();
    let inner_ctl = inner.control();
    let seen = Log::new();
    let s = seen.clone();
    let d = d.add_timeout(TEN, &clock).add_callback(move |r| {
        s.push(r);
        inner
    });
    fire.try_callback("results").unwrap();
    assert_eq!(seen.get(), ["results"]);
    assert_eq!(clock.pending_calls(), 0); // T4: the timer was cancelled
    clock.advance(FIFTEEN);
    assert!(!inner_ctl.is_called()); // not cancelled
    let _still_waiting = no_result(d);
}

#[test]
fn t03_failure_before_timeout() {
    let clock = Clock::new();
    let (d, fire) = Deferred::<&str>::pending();
    let (inner, _fire_inner) = Deferred::<&str>::pending();
    let inner_ctl = inner.control();
    let failure = Failure::new(GenericError("fail"));
    let seen = Log::new();
    let s = seen.clone();
    let d = d.add_timeout(TEN, &clock).add_errback(move |f| {
        s.push(f);
        inner
    });
    fire.try_errback(failure.clone()).unwrap();
    assert!(Failure::ptr_eq(&seen.get()[0], &failure));
    clock.advance(FIFTEEN);
    assert!(!inner_ctl.is_called());
    let _still_waiting = no_result(d);
}

#[test]
fn t04_timed_out() {
    let clock = Clock::new();
    let (d, _fire) = Deferred::<i64>::pending();
    let d = d.add_timeout(TEN, &clock);
    clock.advance(Duration::from_secs(9));
    let d = no_result(d);
    clock.advance(Duration::from_secs(1));
    assert!(err_of(d).check::<TimedOut>());
}

#[test]
fn t05_timed_out_custom() {
    let clock = Clock::new();
    let (d, _fire) = Deferred::<&str>::pending();
    let d = d.add_timeout_with(TEN, &clock, |_r, _t| "OVERRIDDEN");
    clock.advance(FIFTEEN);
    assert_eq!(ok_of(d), "OVERRIDDEN");
}

#[test]
fn t06_timed_out_provided_cancel_success() {
    let clock = Clock::new();
    let (d, _fire) =
        Deferred::<&str>::with_canceller(|fire| fire.try_callback("I was cancelled!").unwrap());
    let d = d.add_timeout(TEN, &clock);
    clock.advance(FIFTEEN);
    assert_eq!(ok_of(d), "I was cancelled!");
}

#[test]
fn t08_cancel_before_timeout() {
    let clock = Clock::new();
    let custom_calls = Log::new();
    let c = custom_calls.clone();
    let (d, _fire) = Deferred::<&str>::pending();
    let d = d.add_timeout_with(TEN, &clock, move |r, _t| {
        c.push(());
        r
    });
    d.cancel();
    assert_eq!(clock.pending_calls(), 0);
    clock.advance(FIFTEEN);
    assert!(custom_calls.get().is_empty());
    assert!(err_of(d).check::<Cancelled>()); // T5: stays Cancelled
}

#[test]
fn t09_provided_cancel_called_before_timeout_custom() {
    let clock = Clock::new();
    let (d, _fire) = Deferred::<&str>::with_canceller(|fire| {
        fire.try_errback(GenericError("canceller")).unwrap();
    });
    let d = d.add_timeout_with(TEN, &clock, |_r, _t| "OVERRIDDEN");
    clock.advance(FIFTEEN);
    assert_eq!(ok_of(d), "OVERRIDDEN");
}

#[test]
fn t11_errback_added_before_timeout_suppresses_cancellation() {
    let clock = Clock::new();
    let (d, _fire) = Deferred::<()>::pending();
    let d = d
        .add_errback(|f| f.trap::<Cancelled>().map(|_| ()))
        .add_timeout(TEN, &clock);
    clock.advance(FIFTEEN);
    ok_of(d);
}

#[test]
fn t12_errback_added_before_timeout_custom() {
    let clock = Clock::new();
    let (d, _fire) = Deferred::<&str>::pending();
    let d = d
        .add_errback(|f| -> Result<&str, Failure> { Err(f) })
        .add_timeout_with(TEN, &clock, |_r, _t| "OVERRIDDEN");
    clock.advance(FIFTEEN);
    assert_eq!(ok_of(d), "OVERRIDDEN");
    let (d, _fire) = Deferred::<&str>::pending();
    let d = d
        .add_errback(|_f| "swallowed")
        .add_timeout_with(TEN, &clock, |_r, _t| "OVERRIDDEN");
    clock.advance(FIFTEEN);
    assert_eq!(ok_of(d), "OVERRIDDEN");
}

#[test]
fn t14_custom_runs_on_success_after_timeout() {
    let clock = Clock::new();
    let seen = Log::new();
    let s = seen.clone();
    let (d, _fire) = Deferred::<&str>::pending();
    let d =
        d.add_errback(|_f| "success from errback")
            .add_timeout_with(TEN, &clock, move |r, _t| {
                s.push(r.ok());
                "OVERRIDDEN"
            });
    clock.advance(FIFTEEN);
    assert_eq!(ok_of(d), "OVERRIDDEN");
    assert_eq!(seen.get(), [Some("success from errback")]);
}

#[test]
fn t15_timeout_error_args() {
    let clock = Clock::new();
    let (d, _fire) = Deferred::<()>::pending();
    let d = d.add_timeout(Duration::from_millis(2500), &clock);
    clock.advance(Duration::from_secs(3));
    let f = err_of(d);
    let t = f.downcast_ref::<TimedOut>().unwrap();
    assert_eq!(t.timeout(), Duration::from_millis(2500));
    assert_eq!(f.to_string(), "Deferred timed out after 2.5s");
}

#[test]
fn t16_timeout_forwards_into_chained_deferred() {
    // T6: waiting on an inner Deferred when the timer fires → the inner is cancelled and the
    // resulting Cancelled is translated.
    let clock = Clock::new();
    let (inner, _fire_inner) = Deferred::<i64>::pending();
    let inner_ctl = inner.control();
    let (d, fire) = Deferred::<()>::pending();
    let d = d.add_callback(move |()| inner).add_timeout(TEN, &clock);
    fire.try_callback(()).unwrap();
    clock.advance(FIFTEEN);
    assert!(inner_ctl.is_called());
    assert!(err_of(d).check::<TimedOut>());
}
