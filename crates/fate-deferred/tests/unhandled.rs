//! twisted-semantics 3.8 (U1–U4): failures nobody handled are reported, through a hook.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{ok_of, GenericError, Log, Unhandled};
use fate_deferred::{fail, reset_unhandled_hook, set_unhandled_hook, succeed, Deferred, Failure};

#[test]
fn u01_dropped_failure_is_reported_once_with_both_locations() {
    let seen = Log::new();
    let s = seen.clone();
    set_unhandled_hook(move |u| {
        s.push((
            u.failure().to_string(),
            u.created().line(),
            u.failure().location().line(),
        ))
    });
    let (d, fire) = Deferred::<i64>::pending();
    let created = line!() - 1;
    let d = d.add_callback(|x| x + 1);
    fire.try_errback(GenericError("lost")).unwrap();
    let arose = line!() - 1;
    assert!(seen.get().is_empty()); // still held by `d`
    drop(d);
    assert_eq!(seen.get(), [("lost".to_string(), created, arose)]);
    reset_unhandled_hook();
}

#[test]
fn u02_error_log_with_inner_frame_ref() {
    // Created in a helper: the report names the helper's line (`#[track_caller]` goes one
    // level: the call of `fail`). Twisted's reference-cycle variant needs a GC; Rust has none.
    #[track_caller]
    fn helper() -> Deferred<()> {
        fail(GenericError("from helper"))
    }
    let unhandled = Unhandled::install();
    drop(helper());
    let line = line!() - 1;
    assert_eq!(unhandled.log.get(), [("from helper".to_string(), line)]);
}

#[test]
fn u03_debug_info_is_always_there() {
    // Twisted adds "(debug: I...)" only in debug mode; every report here carries where the
    // Deferred was created and where the failure arose, and a backtrace when debugging is on.
    fate_deferred::set_debugging(true);
    let seen = Log::new();
    let s = seen.clone();
    set_unhandled_hook(move |u| {
        s.push(u.failure().backtrace().status() == std::backtrace::BacktraceStatus::Captured)
    });
    drop(fail::<()>(GenericError("x")));
    assert_eq!(seen.get(), [true]);
    fate_deferred::set_debugging(false);
    reset_unhandled_hook();
}

#[test]
fn u05_error_cleared_by_chaining() {
    let unhandled = Unhandled::install();
    let (inner, fire_inner) = Deferred::<()>::pending();
    let d = fail::<()>(GenericError("handled")).add_errback(move |_f| inner);
    drop(d);
    drop(fire_inner);
    assert!(unhandled.log.get().is_empty());
}

// U06 (`logError`): not provided — an errback that logs is one line with `tracing`.

#[test]
fn u07_taking_or_handling_a_failure_is_not_unhandled() {
    let unhandled = Unhandled::install();
    let f = common::err_of(fail::<()>(GenericError("taken")));
    drop(f);
    ok_of(fail::<i64>(GenericError("recovered")).add_errback(|_| 0));
    let _d = succeed(1);
    assert!(unhandled.log.get().is_empty());
}

#[test]
fn u08_failure_moved_on_by_a_callback_is_reported_at_the_end_only() {
    let unhandled = Unhandled::install();
    let d = fail::<i64>(GenericError("once"))
        .add_callback(|x| x + 1)
        .add_errback(|f| -> Result<i64, Failure> { Err(f) });
    drop(d);
    assert_eq!(unhandled.texts(), ["once"]);
}

#[test]
fn u09_orphaned_chain_reports_when_it_completes() {
    let unhandled = Unhandled::install();
    let (d, fire) = Deferred::<i64>::pending();
    drop(d.add_callback(|x| x * 2)); // nobody holds the tail any more
    fire.try_errback(GenericError("late")).unwrap();
    assert_eq!(unhandled.texts(), ["late"]);
}

#[test]
fn u10_a_panicking_hook_makes_the_drop_panic() {
    set_unhandled_hook(|u| panic!("unhandled: {}", u.failure()));
    let d = fail::<()>(GenericError("loud"));
    let result = catch_unwind(AssertUnwindSafe(move || drop(d)));
    reset_unhandled_hook();
    let payload = result.unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("unhandled: loud")
    );
}
