//! twisted-semantics 3.1 (basic firing) and the firing rules D1–D9 of 2.2.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use common::{err_of, no_result, ok_of, GenericError, Log, Unhandled};
use fate_deferred::{
    fail, succeed, Abandoned, ChainedToItself, Deferred, Failure, Outcome, Panicked,
};

#[test]
fn b01_callback_without_args() {
    let log = Log::new();
    let errbacks = Log::new();
    let (d, fire) = Deferred::<&str>::pending();
    let (l, e) = (log.clone(), errbacks.clone());
    let d = d
        .add_callback(move |s| {
            l.push(s);
            s
        })
        .add_errback(move |f| -> Result<&str, Failure> {
            e.push(f.to_string());
            Err(f)
        });
    fire.try_callback("hello").unwrap();
    assert_eq!(log.get(), ["hello"]);
    assert_eq!(errbacks.len(), 0);
    assert_eq!(ok_of(d), "hello");
}

#[test]
fn b02_callback_with_args() {
    // Twisted's extra positional arguments are captured by the closure.
    let log = Log::new();
    let (d, fire) = Deferred::<&str>::pending();
    let (l, extra) = (log.clone(), "world");
    let _d = d.add_callback(move |s| l.push((s, extra)));
    fire.try_callback("hello").unwrap();
    assert_eq!(log.get(), [("hello", "world")]);
}

#[test]
fn b04_two_callbacks() {
    let log = Log::new();
    let (d, fire) = Deferred::<&str>::pending();
    let (l1, l2) = (log.clone(), log.clone());
    let _d = d
        .add_callback(move |s| {
            l1.push(("first", s));
            s
        })
        .add_callback(move |s| l2.push(("second", s)));
    fire.try_callback("hello").unwrap();
    assert_eq!(log.get(), [("first", "hello"), ("second", "hello")]);
}

#[test]
fn b05_add_callbacks_none_errback() {
    let calls = Log::new();
    let failures = Log::new();
    let (d, fire) = Deferred::<i64>::pending();
    let c = calls.clone();
    let d = d.add_callback(move |x| c.push(x)); // addCallbacks(rec, None): errback passes
    let failure = Failure::new(GenericError("oopsie"));
    let expected = failure.clone();
    fire.try_errback(failure).unwrap();
    let f2 = failures.clone();
    let d = d.add_errback(move |f| f2.push(f));
    assert!(calls.get().is_empty());
    let seen = failures.get();
    assert_eq!(seen.len(), 1);
    assert!(Failure::ptr_eq(&seen[0], &expected));
    assert_eq!(
        seen[0].downcast_ref::<GenericError>(),
        Some(&GenericError("oopsie"))
    );
    ok_of(d);
}

#[test]
fn b07_immediate_success() {
    let log = Log::new();
    let l = log.clone();
    let _d = succeed("success").add_callback(move |s| l.push(s));
    assert_eq!(log.get(), ["success"]);
}

#[test]
fn b08_succeed_matches_manual_success() {
    let a = succeed(5);
    let (b, fire) = Deferred::pending();
    fire.try_callback(5).unwrap();
    assert_eq!(
        (a.is_called(), a.has_result()),
        (b.is_called(), b.has_result())
    );
    let state = |d: &Deferred<i32>| format!("{d:?}").split("state").nth(1).map(str::to_owned);
    assert_eq!(state(&a), state(&b));
    assert_eq!(ok_of(a), ok_of(b));
}

#[test]
fn b10_paused_failure() {
    let log = Log::new();
    let d = fail::<i64>(GenericError("x"));
    d.pause();
    let l = log.clone();
    let d = d.add_errback(move |f| {
        l.push(f.to_string());
        0
    });
    assert!(log.get().is_empty());
    d.unpause();
    assert_eq!(log.get(), ["x"]);
}

#[test]
fn b11_callback_errors() {
    // A callback that "raises" (panics) and one that returns a failure both lead to the errback.
    let d = succeed(1).add_callback(|x: i64| -> i64 { x / (x - 1) });
    assert!(err_of(d).check::<Panicked>());
    let d = succeed(1).add_callback(|_x: i64| -> Result<i64, Failure> {
        Err(Failure::new(GenericError("ZeroDivisionError")))
    });
    assert!(err_of(d).check::<GenericError>());
}

#[test]
fn b13_callback_maybe_returns_failure() {
    let d = succeed(6).add_callback(|_x: i64| 7);
    assert_eq!(ok_of(d), 7);

    let rte = Failure::new(GenericError("rte"));
    let (r1, r2) = (rte.clone(), rte.clone());
    let second_ran = Log::new();
    let s = second_ran.clone();
    let d = succeed(6)
        .add_callback(move |_x: i64| -> Result<i64, Failure> { Err(r1) })
        .add_callback(move |_x: i64| -> Result<i64, Failure> {
            s.push(());
            Err(r2)
        });
    assert!(Failure::ptr_eq(&err_of(d), &rte));
    assert!(second_ran.get().is_empty());
}

#[test]
fn b14_reentrant_run_callbacks() {
    let log = Log::new();
    let tail: Rc<RefCell<Option<Deferred<()>>>> = Rc::new(RefCell::new(None));
    let (d, fire) = Deferred::<()>::pending();
    let (l1, l2, t) = (log.clone(), log.clone(), tail.clone());
    let d = d.add_callback(move |()| {
        l1.push(1);
        // Add callback3 to the (currently running) Deferred's tail.
        let current = t.borrow_mut().take();
        if let Some(current) = current {
            let l3 = l1.clone();
            *t.borrow_mut() = Some(current.add_callback(move |()| l3.push(3)));
        }
    });
    let d = d.add_callback(move |()| l2.push(2));
    *tail.borrow_mut() = Some(d);
    fire.try_callback(()).unwrap();
    assert_eq!(log.get(), [1, 2, 3]); // D8: appended, run by the same loop, no nesting
    let d = tail.borrow_mut().take().unwrap();
    ok_of(d);
}

#[test]
fn b16_reentrant_run_callbacks_with_failure() {
    let tail: Rc<RefCell<Option<Deferred<()>>>> = Rc::new(RefCell::new(None));
    let (d, fire) = Deferred::<()>::pending();
    let t = tail.clone();
    let d = d.add_callback(move |()| {
        let current = t.borrow_mut().take();
        if let Some(current) = current {
            *t.borrow_mut() =
                Some(current.add_callback(|()| -> () { panic!("callback raised exception") }));
        }
    });
    *tail.borrow_mut() = Some(d);
    fire.try_callback(()).unwrap();
    let d = tail.borrow_mut().take().unwrap();
    let f = err_of(d);
    assert_eq!(
        f.downcast_ref::<Panicked>().map(Panicked::message),
        Some("callback raised exception")
    );
}

// B17 `test_errbackWithNoArgs`: meaningless in Rust — there is no "exception currently being
// handled" to capture; `errback` always takes the failure explicitly.

#[test]
fn d1_add_callbacks_appends_pair() {
    let log = Log::new();
    let (l1, l2) = (log.clone(), log.clone());
    let d = fail::<i64>(GenericError("e")).add_callbacks(
        move |x| {
            l1.push(format!("cb {x}"));
            x
        },
        move |f| {
            l2.push(format!("eb {f}"));
            -1
        },
    );
    assert_eq!(log.get(), ["eb e"]);
    assert_eq!(ok_of(d), -1);
}

#[test]
fn d5_errback_returning_value_switches_to_success_path() {
    let log = Log::new();
    let l = log.clone();
    let d = fail::<i64>(GenericError("e"))
        .add_errback(|_f| 3)
        .add_callbacks(move |x| l.push(x), |_f| ());
    ok_of(d);
    assert_eq!(log.get(), [3]);
}

#[test]
fn d6_pass_through_halves() {
    let log = Log::new();
    let (l1, l2) = (log.clone(), log.clone());
    let d = fail::<i64>(GenericError("e"))
        .add_callback(move |x| {
            l1.push("skipped");
            x
        })
        .add_errback(move |f| -> Result<i64, Failure> {
            l2.push("errback");
            Err(f)
        })
        .add_errback(|_| 1)
        .add_errback(|_| 2);
    assert_eq!(log.get(), ["errback"]);
    assert_eq!(ok_of(d), 1);
}

#[test]
fn d7_adding_to_fired_deferred_runs_at_once() {
    let log = Log::new();
    let (d, fire) = Deferred::<i64>::pending();
    fire.try_callback(1).unwrap();
    let l = log.clone();
    let d = d.add_callback(move |x| l.push(x));
    assert_eq!(log.get(), [1]); // before add_callback returned
    ok_of(d);
}

#[test]
fn d9_final_result_is_kept_for_later_callbacks() {
    let d = succeed(2).add_callback(|x: i64| x * 3);
    assert!(d.has_result());
    let d = d.add_callback(|x| x + 1);
    assert_eq!(ok_of(d), 7);
}

#[test]
fn d10_callback_returning_its_own_deferred_fails() {
    // The callback gets hold of its own chain's handle through a shared slot and returns it.
    let own: Rc<RefCell<Option<Deferred<i64>>>> = Rc::new(RefCell::new(None));
    let (d, fire) = Deferred::<i64>::pending();
    let slot = own.clone();
    let d = d.add_callback(move |_x| {
        let own = slot.borrow_mut().take();
        own.map_or(Outcome::Value(0), Outcome::Chain)
    });
    let seen = Log::new();
    let s = seen.clone();
    let d = d.add_errback(move |f| -> i64 {
        s.push(f.check::<ChainedToItself>());
        -1
    });
    *own.borrow_mut() = Some(d);
    fire.try_callback(1).unwrap();
    assert_eq!(seen.get(), [true]); // an immediate error, not Twisted's deadlock (Q4)
}

#[test]
fn abandoned_when_every_fire_end_is_dropped() {
    let (d, fire) = Deferred::<i64>::pending();
    let second = fire.clone();
    drop(fire);
    let d = no_result(d);
    drop(second);
    assert!(err_of(d).check::<Abandoned>());
}

#[test]
fn abandoned_nobody_listening_reports_nothing() {
    let unhandled = Unhandled::install();
    let (d, fire) = Deferred::<i64>::pending();
    drop(d);
    drop(fire);
    assert!(unhandled.log.get().is_empty());
}

#[test]
fn abandoned_runs_handlers_attached_to_a_dropped_deferred() {
    // A fire-and-forget chain: nobody holds the Deferred, but its handlers still want the
    // result, so the producer going away must run them with `Abandoned`.
    let seen = Rc::new(Cell::new(None));
    let (d, fire) = Deferred::<i64>::pending();
    let s = seen.clone();
    drop(d.add_both(move |r: Result<i64, Failure>| {
        s.set(Some(r.unwrap_err().check::<Abandoned>()));
    }));
    assert_eq!(seen.get(), None);
    drop(fire);
    assert_eq!(seen.get(), Some(true));
}

#[test]
fn fire_with_result_and_errback_accept_errors_and_failures() {
    let (d, fire) = Deferred::<i64>::pending();
    fire.try_fire(Err(Failure::msg("m"))).unwrap();
    assert_eq!(err_of(d).to_string(), "m");
    let (d, fire) = Deferred::<i64>::pending();
    fire.try_errback(GenericError("g")).unwrap();
    let f = err_of(d);
    assert!(f.check::<GenericError>());
    assert_eq!(f.location().line(), line!() - 3); // the errback call, through IntoFailure
}

#[test]
fn callback_returning_result_with_other_error_is_a_plain_value() {
    // Documented IntoOutcome rule: only Result<_, Failure> switches paths.
    let d = succeed(1).add_callback(|x: i64| Ok::<i64, std::io::Error>(x));
    assert!(matches!(ok_of(d), Ok(1)));
}

#[test]
fn abandoned_reaches_a_deferred_waiting_on_the_abandoned_one() {
    let (inner, fire_inner) = Deferred::<i64>::pending();
    let outer = succeed(()).add_callback(move |()| inner);
    drop(fire_inner); // nobody holds `inner` itself, but `outer` waits on it
    assert!(err_of(outer).check::<Abandoned>());
}

#[test]
fn p2_unpause_without_pause_is_ignored() {
    // Our choice for Q1: an extra unpause() is ignored (with a tracing warning) instead of
    // driving the counter negative and blocking the Deferred forever.
    let log = Log::new();
    let d = succeed(1);
    d.unpause(); // ignored
    d.pause();
    let l = log.clone();
    let d = d.add_callback(move |x: i64| {
        l.push(x);
        x
    });
    assert!(log.get().is_empty()); // one pause still holds
    d.unpause();
    assert_eq!(log.get(), [1]);
    d.unpause(); // ignored again; nothing breaks
    let d = d.add_callback(|x| x + 1);
    assert_eq!(ok_of(d), 2); // and callbacks keep running at once
}
