//! twisted-semantics 3.3: AlreadyCalled (A1–A3) and cancellation (X1–X7, 2.7).

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{err_of, no_result, ok_of, GenericError, Log};
use fate_deferred::{succeed, AlreadyCalled, Cancelled, Deferred, Failure};

fn fire_twice(first_ok: bool, second_ok: bool) -> AlreadyCalled {
    let (d, fire) = Deferred::<i64>::pending();
    let again = fire.clone();
    if first_ok {
        fire.try_callback(1).unwrap();
    } else {
        fire.try_errback(GenericError("first")).unwrap();
    }
    let err = if second_ok {
        again.try_callback(2).unwrap_err()
    } else {
        again.try_errback(GenericError("second")).unwrap_err()
    };
    // The Deferred is unchanged by the second attempt.
    match d.try_result() {
        Ok(Ok(v)) => assert!(first_ok && v == 1),
        Ok(Err(f)) => assert!(!first_ok && f.to_string() == "first"),
        Err(_) => panic!("no result"),
    }
    err
}

#[test]
fn a01_already_called_cc_ce_ec_ee() {
    for (a, b) in [(true, true), (true, false), (false, true), (false, false)] {
        let err = fire_twice(a, b);
        assert!(err.to_string().starts_with("Deferred already called"));
    }
}

#[test]
fn a03_no_debugging_still_names_creation_and_first_fire() {
    // Deliberate difference: Twisted's AlreadyCalledError has no arguments unless debugging is
    // on; recording two `Location`s costs nothing, so ours always says where (C:) the Deferred
    // was created and where (I:) it was first fired — never the second invoker.
    let (_d, fire) = Deferred::<()>::pending();
    let created_line = line!() - 1;
    let again = fire.clone();
    fire.try_callback(()).unwrap();
    let fired_line = line!() - 1;
    let err = again.try_callback(()).unwrap_err();
    assert_eq!(err.created().line(), created_line);
    assert_eq!(err.first_fired().map(|l| l.line()), Some(fired_line));
    let text = err.to_string();
    assert!(
        text.contains("created at") && text.contains("first fired at"),
        "{text}"
    );
}

#[test]
fn x01_no_canceller() {
    let log = Log::new();
    let (d, _fire) = Deferred::<i64>::pending();
    let l = log.clone();
    let d = d.add_callback(move |x| {
        l.push(x);
        x
    });
    d.cancel();
    assert!(err_of(d).check::<Cancelled>());
    assert!(log.get().is_empty());
}

#[test]
fn x02_no_canceller_swallows_one_late_callback() {
    let (d, fire) = Deferred::<i64>::pending();
    let again = fire.clone();
    d.cancel();
    assert!(fire.try_callback(1).is_ok()); // the producer did not know: swallowed
    assert!(again.try_callback(2).is_err()); // but only once
    assert!(err_of(d).check::<Cancelled>());
}

#[test]
fn x03_raises_after_cancel_and_errback() {
    let (d, fire) = Deferred::<i64>::pending();
    let again = fire.clone();
    d.cancel();
    assert!(fire.try_errback(GenericError("late")).is_ok());
    assert!(again.try_errback(GenericError("later")).is_err());
    assert!(err_of(d).check::<Cancelled>());
}

#[test]
fn x04_no_canceller_multiple_cancels_after_cancel_and_callback() {
    let first_failure = Log::new();
    let (d, fire) = Deferred::<i64>::pending();
    let l = first_failure.clone();
    let d = d.add_errback(move |f| -> Result<i64, Failure> {
        l.push(f.clone());
        Err(f)
    });
    d.cancel();
    fire.try_callback(1).unwrap();
    d.cancel();
    let f = err_of(d);
    assert!(Failure::ptr_eq(&f, &first_failure.get()[0]));
}

#[test]
fn x06_no_canceller_multiple_cancel() {
    let errbacks = Log::new();
    let (d, _fire) = Deferred::<i64>::pending();
    let e = errbacks.clone();
    let d = d.add_errback(move |f| -> Result<i64, Failure> {
        e.push(f.to_string());
        Err(f)
    });
    d.cancel();
    d.cancel();
    assert_eq!(errbacks.len(), 1);
    assert!(err_of(d).check::<Cancelled>());
}

#[test]
fn x07_canceller_multiple_cancel() {
    let cancels = Log::new();
    let c = cancels.clone();
    let (d, _fire) = Deferred::<i64>::with_canceller(move |_fire| c.push(()));
    d.cancel();
    d.cancel();
    assert_eq!(cancels.len(), 1);
    assert!(err_of(d).check::<Cancelled>());
}

#[test]
fn x08_canceller_that_does_not_fire_means_no_suppression() {
    let (d, fire) = Deferred::<i64>::with_canceller(|_fire| {});
    d.cancel();
    assert!(fire.try_callback(1).is_err()); // X2: AlreadyCalled, not swallowed
    assert!(err_of(d).check::<Cancelled>());
}

#[test]
fn x09_canceller_arg() {
    // The canceller receives a firing end of the very Deferred being cancelled (Twisted passes
    // the Deferred itself); firing through it fires this Deferred.
    let (d, _fire) = Deferred::<&str>::with_canceller(|fire| {
        fire.try_callback("from the canceller").unwrap();
    });
    d.cancel();
    assert_eq!(ok_of(d), "from the canceller");
}

#[test]
fn x10_cancel_after_callback() {
    let (cancels, callbacks, errbacks) = (Log::new(), Log::new(), Log::new());
    let c = cancels.clone();
    let (d, fire) = Deferred::<&str>::with_canceller(move |_| c.push(()));
    let (cb, eb) = (callbacks.clone(), errbacks.clone());
    let d = d.add_callbacks(
        move |s| {
            cb.push(s);
            s
        },
        move |f| -> Result<&str, Failure> {
            eb.push(());
            Err(f)
        },
    );
    fire.try_callback("biff!").unwrap();
    d.cancel();
    assert!(cancels.get().is_empty());
    assert_eq!(callbacks.get(), ["biff!"]);
    assert!(errbacks.get().is_empty());
    assert_eq!(ok_of(d), "biff!");
}

#[test]
fn x12_canceller_that_errbacks() {
    let cancels = Log::new();
    let c = cancels.clone();
    let (d, _fire) = Deferred::<i64>::with_canceller(move |fire| {
        c.push(());
        fire.try_errback(GenericError("from canceller")).unwrap();
    });
    d.cancel();
    let f = err_of(d);
    assert_eq!(
        f.downcast_ref::<GenericError>(),
        Some(&GenericError("from canceller"))
    );
    assert_eq!(cancels.len(), 1);
}

#[test]
fn x13_canceller_that_callbacks() {
    let errbacks = Log::new();
    let (d, _fire) = Deferred::<&str>::with_canceller(|fire| fire.try_callback("hello!").unwrap());
    let e = errbacks.clone();
    let d = d.add_errback(move |f| -> Result<&str, Failure> {
        e.push(());
        Err(f)
    });
    d.cancel();
    assert_eq!(ok_of(d), "hello!");
    assert!(errbacks.get().is_empty());
}

#[test]
fn x15_canceller_panics() {
    let (d, fire) = Deferred::<i64>::with_canceller(|_fire| panic!("RuntimeError"));
    let result = catch_unwind(AssertUnwindSafe(|| d.cancel()));
    assert!(result.is_err()); // the panic propagates out of cancel()
    let d = no_result(d); // and the Deferred stays unfired
    fire.try_callback(1).unwrap();
    assert_eq!(ok_of(d), 1);
}

#[test]
fn x04_cancel_forwards_into_the_deferred_waited_on() {
    let (inner_cancels, outer_cancels) = (Log::new(), Log::new());
    let i = inner_cancels.clone();
    let (inner, _fire_inner) = Deferred::<i64>::with_canceller(move |_| i.push(()));
    let o = outer_cancels.clone();
    let (outer, fire_outer) = Deferred::<()>::with_canceller(move |_| o.push(()));
    let outer = outer.add_callback(move |()| inner);
    fire_outer.try_callback(()).unwrap();
    outer.cancel();
    assert_eq!(inner_cancels.len(), 1);
    assert!(outer_cancels.get().is_empty()); // dropped at fire (X7)
    assert!(err_of(outer).check::<Cancelled>()); // the inner's outcome flows out
}

#[test]
fn x05_cancel_on_fired_deferred_is_a_no_op() {
    let d = succeed(1);
    d.cancel();
    assert_eq!(ok_of(d), 1);
}

#[test]
fn x07_canceller_dropped_when_fired() {
    use std::rc::Rc;
    let token = Rc::new(());
    let held = token.clone();
    let (d, fire) = Deferred::<()>::with_canceller(move |_| drop(held));
    assert_eq!(Rc::strong_count(&token), 2);
    fire.try_callback(()).unwrap();
    assert_eq!(Rc::strong_count(&token), 1);
    ok_of(d);
}
