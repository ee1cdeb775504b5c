//! twisted-semantics 3.5: maybeDeferred (M), coroutines (W) and inlineCallbacks (I) — in Rust,
//! `maybe_deferred`, `Deferred: IntoFuture` and `Deferred::from_future` over async blocks.

mod common;

use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use common::{err_of, no_result, ok_of, GenericError, Log, Pool, Unhandled};
use fate_deferred::{
    fail, maybe_deferred, succeed, Cancelled, Deferred, Failure, NoExecutor, Panicked,
};

#[test]
fn m01_maybe_deferred_sync() {
    let object = Rc::new("O");
    let o = object.clone();
    let d = maybe_deferred(move || o);
    assert!(Rc::ptr_eq(&ok_of(d), &object));
}

#[test]
fn m02_maybe_deferred_sync_with_args() {
    let plus_five = |x: i64| x + 5;
    assert_eq!(ok_of(maybe_deferred(|| plus_five(10))), 15);
}

#[test]
fn m04_maybe_deferred_sync_failure() {
    let failure = Failure::new(GenericError("F"));
    let f = failure.clone();
    let d = maybe_deferred(move || -> Result<i64, Failure> { Err(f) });
    assert!(Failure::ptr_eq(&err_of(d), &failure));
}

#[test]
fn m05_maybe_deferred_async() {
    let (d1, fire) = Deferred::<&str>::pending();
    let created = format!("{d1:?}");
    let d = maybe_deferred(move || d1);
    assert_eq!(format!("{d:?}"), created); // the very same Deferred
    fire.try_callback("Success").unwrap();
    assert_eq!(ok_of(d), "Success");
}

#[test]
fn m06_maybe_deferred_panic_is_a_failure() {
    let d = maybe_deferred(|| -> i64 { panic!("SomeException") });
    assert_eq!(
        err_of(d).downcast_ref::<Panicked>().map(Panicked::message),
        Some("SomeException")
    );
}

#[test]
fn m07_maybe_deferred_coroutine() {
    // An async block is a Future, not a value: it goes through from_future.
    let pool = Pool::install();
    let d = Deferred::<i64>::from_future(async { 7 });
    pool.run();
    assert_eq!(ok_of(d), 7);
    let d = Deferred::<i64>::from_future(async { 7 }).add_callback(|x| x + 1);
    pool.run();
    assert_eq!(ok_of(d), 8);
    let d = Deferred::<i64>::from_future(async {
        Err::<i64, Failure>(Failure::new(GenericError("SomeException")))
    });
    pool.run();
    assert!(err_of(d).check::<GenericError>());
}

#[test]
fn w01_ensure_deferred() {
    // `ensureDeferred(d) is d` and `ensureDeferred("something")` are meaningless with types:
    // a Deferred is used as is, and a non-future cannot be passed to from_future.
    let pool = Pool::install();
    let d = Deferred::<&str>::from_future(async { succeed("foo").await });
    pool.run();
    assert_eq!(ok_of(d), "foo");
}

#[test]
fn w03_await_consumption() {
    let pool = Pool::install();
    let (d, fire) = Deferred::<i64>::pending();
    let result = Deferred::<i64>::from_future(async move { d.await });
    pool.run();
    let result = no_result(result);
    fire.try_callback(5).unwrap();
    pool.run();
    assert_eq!(ok_of(result), 5);
    // "d's result afterwards None": d was moved into the await, so there is nothing to read.
}

// W04/W06 (contextvars): no contextvars in Rust; a task's locals are its own by construction.

#[test]
fn await_works_without_any_spawner() {
    let (d, fire) = Deferred::<i64>::pending();
    let mut fut = pin!(async move { d.await.map(|x| x * 2) });
    let mut cx = Context::from_waker(Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending());
    fire.try_callback(21).unwrap();
    assert!(matches!(fut.as_mut().poll(&mut cx), Poll::Ready(Ok(42))));
}

#[test]
fn i01_basics() {
    let pool = Pool::install();
    let (hi, fire_hi) = Deferred::<&str>::pending();
    let log = Log::new();
    let l = log.clone();
    let d = Deferred::<&str>::from_future(async move {
        let x = hi.await?;
        l.push(x.to_string());
        match fail::<()>(GenericError("OMG")).await {
            Ok(()) => l.push("no error?".into()),
            Err(f) => l.push(format!("caught {f}")),
        }
        Ok::<_, Failure>("WOOSH")
    });
    pool.run();
    fire_hi.try_callback("hi").unwrap();
    pool.run();
    assert_eq!(log.get(), ["hi", "caught OMG"]);
    assert_eq!(ok_of(d), "WOOSH");
}

#[test]
fn i03_nothing() {
    let pool = Pool::install();
    let d = Deferred::<()>::from_future(async {});
    pool.run();
    ok_of(d);
}

#[test]
fn i04_handled_terminal_failure() {
    let pool = Pool::install();
    let (later, fire_later) = Deferred::<()>::pending();
    let d = Deferred::<()>::from_future(async move {
        let _ = fail::<()>(GenericError("TerminalException")).await;
        let _ = later.await;
    });
    pool.run();
    fire_later
        .try_errback(GenericError("TerminalException"))
        .unwrap();
    pool.run();
    ok_of(d);
}

// I06 (`yield 5` gives 5), I07 (decorating a non-generator) and I09 (yield consumes the
// Deferred's result) are meaningless here: values need no await, an async block is always a
// future, and awaiting moves the Deferred.

#[test]
fn i10_cascade_cancelling_on_cancel() {
    let pool = Pool::install();
    let seen = Log::new();
    let (child, _fire_child) = Deferred::<()>::pending();
    let s = seen.clone();
    let child = child.add_errback(move |f| -> Result<(), Failure> {
        s.push(f.check::<Cancelled>());
        Err(f)
    });
    let d = Deferred::<()>::from_future(async move { child.await });
    pool.run();
    d.cancel();
    assert_eq!(seen.get(), [true]); // the child saw the cancellation
    assert!(err_of(d).check::<Cancelled>());
    pool.run();
    assert_eq!(pool.tasks(), 0);
}

#[test]
fn i12_cancellation_cannot_be_translated_by_the_async_block() {
    // Deliberate difference (I12, I13, I15): cancelling drops the future, so the block never
    // sees the child's outcome and cannot translate it; the child's canceller still runs.
    let pool = Pool::install();
    let cancels = Log::new();
    let c = cancels.clone();
    let (child, _fire) = Deferred::<i64>::with_canceller(move |fire| {
        c.push(());
        fire.try_errback(GenericError("UntranslatedError")).unwrap();
    });
    let unhandled = Unhandled::install();
    let d = Deferred::<i64>::from_future(async move {
        match child.await {
            Ok(v) => Ok(v),
            Err(_) => Err(Failure::new(GenericError("TranslatedError"))),
        }
    });
    pool.run();
    d.cancel();
    assert_eq!(cancels.len(), 1);
    assert!(err_of(d).check::<Cancelled>());
    // The child's own failure (not a Cancelled) reached nobody: reported, not lost.
    assert_eq!(unhandled.texts(), ["UntranslatedError"]);
}

#[test]
fn i16_return_with_value() {
    let pool = Pool::install();
    let (d1, fire) = Deferred::<()>::pending();
    let d = Deferred::<i64>::from_future(async move {
        d1.await?;
        Ok::<_, Failure>(14)
    });
    pool.run();
    fire.try_callback(()).unwrap();
    pool.run();
    assert_eq!(ok_of(d), 14);
}

#[test]
fn from_future_without_spawner_fails_with_no_executor() {
    let d = Deferred::<i64>::from_future(async { 1 });
    assert!(err_of(d).check::<NoExecutor>());
}

#[test]
fn from_future_panic_is_a_failure() {
    let pool = Pool::install();
    let d = Deferred::<i64>::from_future(async {
        if true {
            panic!("in the future");
        }
        1
    });
    pool.run();
    assert_eq!(
        err_of(d).downcast_ref::<Panicked>().map(Panicked::message),
        Some("in the future")
    );
}

#[test]
fn from_future_cancel_drops_the_future_at_once() {
    struct Dropped(Log<&'static str>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.push("future dropped");
        }
    }
    let pool = Pool::install();
    let log = Log::new();
    let guard = Dropped(log.clone());
    let (never, _fire) = Deferred::<()>::pending();
    let d = Deferred::<()>::from_future(async move {
        let _guard = guard;
        never.await
    });
    pool.run();
    assert!(log.get().is_empty());
    d.cancel();
    assert_eq!(log.get(), ["future dropped"]);
    assert!(err_of(d).check::<Cancelled>());
}

#[test]
fn from_future_output_may_be_a_deferred() {
    let pool = Pool::install();
    let (inner, fire) = Deferred::<i64>::pending();
    let d = Deferred::<i64>::from_future(async move { inner });
    pool.run();
    let d = no_result(d);
    fire.try_callback(3).unwrap();
    assert_eq!(ok_of(d), 3);
}

#[test]
fn dropping_the_future_cancels_the_deferred_quietly() {
    let unhandled = Unhandled::install();
    let (d, _fire) = Deferred::<i64>::pending();
    let ctl = d.control();
    let fut = d.into_future();
    drop(fut);
    assert!(ctl.is_called());
    assert!(unhandled.log.get().is_empty()); // the Cancelled we caused is not "unhandled"
}

#[test]
fn dropping_the_future_reports_a_real_failure() {
    let unhandled = Unhandled::install();
    let (d, _fire) = Deferred::<i64>::with_canceller(|fire| {
        fire.try_errback(GenericError("producer broke while stopping"))
            .unwrap();
    });
    drop(d.into_future());
    assert_eq!(unhandled.texts(), ["producer broke while stopping"]);
}

#[test]
fn failure_converts_for_question_mark_in_box_dyn_error_code() {
    fn run(d: Deferred<i64>) -> Result<i64, Box<dyn std::error::Error>> {
        let mut fut = pin!(d.into_future());
        match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(r) => Ok(r?),
            Poll::Pending => Ok(0),
        }
    }
    assert_eq!(run(succeed(3)).ok(), Some(3));
    let err = run(fail(GenericError("boxed"))).unwrap_err();
    assert_eq!(err.to_string(), "boxed");
}
