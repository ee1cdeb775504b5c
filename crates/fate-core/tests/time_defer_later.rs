//! `time::defer_later` and `Deferred::add_timeout` on a timeline: twisted-semantics.md 3.11 (`DeferLaterTests`)
//! on a virtual `Clock`.
#![cfg(feature = "testing")]

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use fate_core::testing::Clock;
use fate_core::time::defer_later;
use fate_deferred::{Cancelled, Deferred, Failure, TimedOut};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[derive(Debug)]
struct TestError;

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("test error")
    }
}

impl std::error::Error for TestError {}

fn outcome<T: 'static>(d: Deferred<T>) -> Rc<RefCell<Option<Result<T, Failure>>>> {
    let slot: Rc<RefCell<Option<Result<T, Failure>>>> = Rc::default();
    let out = slot.clone();
    drop(d.add_both(move |r| {
        *out.borrow_mut() = Some(r);
    }));
    slot
}

#[test]
fn dl01_callback_after_the_delay() {
    let clock = Clock::new();
    let calls = Rc::new(RefCell::new(Vec::new()));
    let d = defer_later(&clock, secs(3), {
        let calls = calls.clone();
        move || {
            calls.borrow_mut().push(("foo", "bar"));
            "flag"
        }
    });
    let result = outcome(d);
    clock.advance(secs(2));
    assert!(calls.borrow().is_empty());
    assert!(result.borrow().is_none());
    clock.advance(secs(1));
    assert_eq!(*calls.borrow(), [("foo", "bar")]);
    assert!(matches!(*result.borrow(), Some(Ok("flag"))));
}

#[test]
fn dl02_errback_when_f_fails() {
    let clock = Clock::new();
    let d = defer_later(&clock, secs(1), || -> Result<(), Failure> {
        Err(Failure::new(TestError))
    });
    let result = outcome(d);
    clock.advance(secs(1));
    assert!(matches!(&*result.borrow(), Some(Err(f)) if f.check::<TestError>()));
}

#[test]
fn dl02b_errback_when_f_panics() {
    let clock = Clock::new();
    let d = defer_later(&clock, secs(1), || -> u8 { panic!("f panicked") });
    let result = outcome(d);
    clock.advance(secs(1));
    assert!(matches!(&*result.borrow(), Some(Err(_))));
}

#[test]
fn dl03_cancel_before_due() {
    let clock = Clock::new();
    let called = Rc::new(Cell::new(false));
    let d = defer_later(&clock, secs(1), {
        let called = called.clone();
        move || called.set(true)
    });
    let control = d.control();
    let result = outcome(d);
    control.cancel();
    assert!(matches!(&*result.borrow(), Some(Err(f)) if f.check::<Cancelled>()));
    assert!(clock.pending_calls().is_empty());
    clock.advance(secs(5));
    assert!(!called.get());
}

#[test]
fn dl04_f_may_return_a_deferred() {
    let clock = Clock::new();
    let d = defer_later(&clock, secs(1), {
        let clock = clock.clone();
        move || defer_later(&clock, secs(1), || 7)
    });
    let result = outcome(d);
    clock.advance(secs(1));
    assert!(result.borrow().is_none());
    clock.advance(secs(1));
    assert!(matches!(*result.borrow(), Some(Ok(7))));
}

#[test]
fn add_timeout_times_out_and_cancels_its_timer_on_success() {
    let clock = Clock::new();
    let (slow, _fire_slow) = Deferred::<u8>::pending();
    let slow = outcome(slow.add_timeout(secs(10), &clock));
    let (quick, fire_quick) = Deferred::<u8>::pending();
    let quick = outcome(quick.add_timeout(secs(10), &clock));
    assert_eq!(clock.pending_calls().len(), 2);
    fire_quick.try_callback(1).unwrap();
    assert!(matches!(*quick.borrow(), Some(Ok(1))));
    assert_eq!(
        clock.pending_calls().len(),
        1,
        "the quick one's timer is gone"
    );
    clock.advance(secs(9));
    assert!(slow.borrow().is_none());
    clock.advance(secs(1));
    assert!(matches!(&*slow.borrow(), Some(Err(f)) if f.check::<TimedOut>()));
    assert!(clock.pending_calls().is_empty());
}
