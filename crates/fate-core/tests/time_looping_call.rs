//! `time::LoopingCall`: the cases of twisted-semantics.md 3.10 (Twisted's `LoopTests` and
//! `ReactorLoopTests`), on a virtual `Clock`.
#![cfg(feature = "testing")]

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use fate_core::testing::Clock;
use fate_core::time::{LoopingCall, LoopingCallError};
use fate_deferred::{Deferred, Failure, Fire};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[derive(Debug)]
struct TestError(&'static str);

impl fmt::Display for TestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TestError {}

/// A shared list the loop's function appends to.
type Seen<T> = Rc<RefCell<Vec<T>>>;

fn seen<T>() -> Seen<T> {
    Rc::default()
}

/// The completion Deferred's outcome so far: `None` while pending.
type Completion = Rc<RefCell<Option<Result<LoopingCall, Failure>>>>;

fn watch(done: Deferred<LoopingCall>) -> Completion {
    let slot: Completion = Rc::default();
    let out = slot.clone();
    drop(done.add_both(move |r| {
        *out.borrow_mut() = Some(r);
    }));
    slot
}

fn fired_ok(c: &Completion) -> bool {
    matches!(&*c.borrow(), Some(Ok(lc)) if !lc.running())
}

fn failed_with(c: &Completion, message: &str) -> bool {
    matches!(&*c.borrow(), Some(Err(f)) if f.downcast_ref::<TestError>().is_some_and(|e| e.0 == message))
}

/// Milliseconds since the clock's start.
fn ms(clock: &Clock) -> u128 {
    (clock.now() - clock.epoch()).as_millis()
}

/// Records the time of each call, in milliseconds.
fn time_recorder(clock: &Clock) -> (Seen<u128>, impl FnMut() + 'static) {
    let times = seen();
    let (out, clock) = (times.clone(), clock.clone());
    (times, move || out.borrow_mut().push(ms(&clock)))
}

#[test]
fn lc01_basic_function() {
    let clock = Clock::new();
    let calls = seen();
    let lc = LoopingCall::new(&clock, {
        let calls = calls.clone();
        let (a, b, d) = ("a", "b", "d");
        move || calls.borrow_mut().push((a, b, None::<&str>, d))
    });
    let done = watch(lc.start(secs(0.1), true).unwrap());
    clock.pump(&[secs(0.05), secs(0.1), secs(0.1)]);
    assert_eq!(calls.borrow().len(), 3);
    assert!(calls.borrow().iter().all(|c| *c == ("a", "b", None, "d")));
    assert!(done.borrow().is_none());
    lc.stop();
    assert!(fired_ok(&done));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn lc02_delayed_start() {
    let clock = Clock::new();
    let (times, f) = time_recorder(&clock);
    let lc = LoopingCall::new(&clock, f);
    let done = watch(lc.start(secs(0.1), false).unwrap());
    clock.pump(&[secs(0.05), secs(0.1), secs(0.1)]);
    assert_eq!(*times.borrow(), [150, 250]);
    lc.stop();
    assert!(fired_ok(&done));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn lc03_interval_is_a_duration_so_never_negative() {
    // Twisted's start(-1) raises ValueError; a Duration cannot be negative. Zero is valid.
    let clock = Clock::new();
    let lc = LoopingCall::new(&clock, || ());
    let _done = lc.start(Duration::ZERO, false).unwrap();
    assert_eq!(lc.interval(), Duration::ZERO);
}

#[test]
fn lc04_stop_at_once_and_before_delayed_start() {
    for interval in [0.0, 10.0] {
        let clock = Clock::new();
        let ran = Rc::new(Cell::new(false));
        let lc = LoopingCall::new(&clock, {
            let ran = ran.clone();
            move || ran.set(true)
        });
        let done = watch(lc.start(secs(interval), false).unwrap());
        lc.stop();
        assert!(!ran.get());
        assert!(clock.pending_calls().is_empty());
        assert!(fired_ok(&done));
        clock.advance(secs(20.0));
        assert!(!ran.get());
    }
}

#[test]
fn lc05_reset() {
    let clock = Clock::new();
    let ran = Rc::new(Cell::new(false));
    let lc = LoopingCall::new(&clock, {
        let ran = ran.clone();
        move || ran.set(true)
    });
    let _done = lc.start(secs(2.0), false).unwrap();
    clock.advance(secs(1.0));
    lc.reset().unwrap();
    clock.advance(secs(1.0));
    assert!(!ran.get());
    clock.advance(secs(1.0));
    assert!(ran.get());
}

#[test]
fn lc06_callback_time_skips() {
    let clock = Clock::new();
    let times = seen();
    let duration = Rc::new(Cell::new(2.0));
    let lc = LoopingCall::new(&clock, {
        let (times, clock, duration) = (times.clone(), clock.clone(), duration.clone());
        move || {
            times.borrow_mut().push(clock.seconds());
            clock.advance(secs(duration.get()));
        }
    });
    let _done = lc.start(secs(0.5), true).unwrap();
    assert_eq!(*times.borrow(), [0.0]);
    assert_eq!(clock.seconds(), 2.0);
    // 2.0 is the present, not the future: skipped.
    clock.advance(Duration::ZERO);
    assert_eq!(*times.borrow(), [0.0]);
    duration.set(1.0);
    clock.advance(secs(0.5));
    assert_eq!(*times.borrow(), [0.0, 2.5]);
    assert_eq!(clock.seconds(), 3.5);
    clock.advance(Duration::ZERO);
    assert_eq!(*times.borrow(), [0.0, 2.5]);
    duration.set(0.0);
    clock.advance(secs(0.5));
    assert_eq!(*times.borrow(), [0.0, 2.5, 4.0]);
    assert_eq!(clock.seconds(), 4.0);
}

#[test]
fn lc07_reactor_time_skips() {
    let clock = Clock::new();
    let (times, f) = time_recorder(&clock);
    let lc = LoopingCall::new(&clock, f);
    let _done = lc.start(secs(0.5), true).unwrap();
    assert_eq!(*times.borrow(), [0]);
    clock.advance(secs(2.0));
    assert_eq!(*times.borrow(), [0, 2000]);
    clock.advance(secs(1.0));
    assert_eq!(*times.borrow(), [0, 2000, 3000]);
    clock.advance(Duration::ZERO);
    assert_eq!(*times.borrow(), [0, 2000, 3000]);
}

/// A `with_count` loop recording `(clock.seconds(), count)`.
fn count_recorder(clock: &Clock) -> (Seen<(u128, u64)>, LoopingCall) {
    let calls = seen();
    let lc = LoopingCall::with_count(clock, {
        let (calls, clock) = (calls.clone(), clock.clone());
        move |n| calls.borrow_mut().push((ms(&clock), n))
    });
    (calls, lc)
}

#[test]
fn lc08_reactor_time_count_skips() {
    let clock = Clock::new();
    let (calls, lc) = count_recorder(&clock);
    let _done = lc.start(secs(0.5), true).unwrap();
    assert_eq!(*calls.borrow(), [(0, 1)]);
    clock.advance(secs(0.51));
    assert_eq!(calls.borrow().last(), Some(&(510, 1)));
    clock.advance(secs(1.51));
    assert_eq!(calls.borrow().last(), Some(&(2020, 3)));
    clock.advance(Duration::ZERO);
    assert_eq!(calls.borrow().len(), 3);
}

#[test]
fn lc09_count_lengthy_interval_counts() {
    let clock = Clock::new();
    let (calls, lc) = count_recorder(&clock);
    let _done = lc.start(secs(0.5), true).unwrap();
    assert_eq!(calls.borrow_mut().pop(), Some((0, 1)));
    clock.advance(secs(0.51));
    assert_eq!(calls.borrow_mut().pop(), Some((510, 1)));
    clock.advance(secs(0.875));
    assert_eq!(calls.borrow_mut().pop(), Some((1385, 1)));
    clock.advance(secs(0.125));
    assert_eq!(calls.borrow_mut().pop(), Some((1510, 1)));
}

#[test]
fn lc10_with_count_never_passes_zero_and_sums_to_the_elapsed_intervals() {
    let clock = Clock::new();
    let counts = seen();
    let lc = LoopingCall::with_count(&clock, {
        let counts = counts.clone();
        move |n| counts.borrow_mut().push(n)
    });
    let _done = lc.start(secs(1.0 / 10.0), false).unwrap();
    for _ in 0..10 {
        clock.advance(secs(0.1));
    }
    clock.advance(Duration::from_nanos(1)); // Twisted's float epsilon: harmless here
    assert!(clock.seconds() >= 1.0);
    assert_eq!(counts.borrow().iter().sum::<u64>(), 10);
    assert!(!counts.borrow().contains(&0));
}

#[test]
fn lc11_with_count_interval_zero() {
    let clock = Clock::new();
    let counts: Seen<u64> = seen();
    let lc = self_aware(&clock, {
        let counts = counts.clone();
        move |lc, n| {
            counts.borrow_mut().push(n);
            if counts.borrow().len() > 4 {
                lc.stop();
            }
        }
    });
    let done = watch(lc.start(Duration::ZERO, false).unwrap());
    clock.advance(Duration::ZERO);
    assert!(fired_ok(&done));
    assert_eq!(*counts.borrow(), [1, 1, 1, 1, 1]);
}

/// A loop whose function can reach its own `LoopingCall` (to stop it).
fn self_aware<U: 'static, R, M>(
    clock: &Clock,
    mut f: impl FnMut(&LoopingCall, u64) -> R + 'static,
) -> LoopingCall
where
    R: fate_deferred::IntoOutcome<U, M>,
{
    let me: Rc<RefCell<Option<LoopingCall>>> = Rc::default();
    let lc = LoopingCall::with_count(clock, {
        let me = me.clone();
        move |n| f(me.borrow().as_ref().expect("the loop's own handle"), n)
    });
    *me.borrow_mut() = Some(lc.clone());
    lc
}

/// A function that stops its own loop through the handle it is given makes no cycle: once
/// the loop has stopped and its handles are dropped, the function and what it holds are
/// freed. (Keeping a clone of the `LoopingCall` in the function, as `self_aware` does, would
/// keep both alive for ever.)
#[test]
fn lc_with_handle_stops_itself_without_a_cycle() {
    let clock = Clock::new();
    let ticks = Rc::new(Cell::new(0));
    let lc = LoopingCall::with_handle(&clock, {
        let ticks = ticks.clone();
        move |lc: &LoopingCall| {
            ticks.set(ticks.get() + 1);
            if ticks.get() == 3 {
                lc.stop();
            }
        }
    });
    let done = watch(lc.start(secs(1.0), true).unwrap());
    clock.pump(&[secs(1.0); 2]);
    assert_eq!(ticks.get(), 3);
    assert!(fired_ok(&done));
    assert!(!lc.running());
    assert!(clock.pending_calls().is_empty());
    clock.advance(secs(5.0));
    assert_eq!(ticks.get(), 3);
    // Stopped, the loop can still be started again, so it keeps its function while a
    // handle exists: here, `lc` and the one the completion fired with.
    assert_eq!(Rc::strong_count(&ticks), 2);
    drop(done.borrow_mut().take());
    assert_eq!(Rc::strong_count(&ticks), 2);
    drop(lc);
    assert_eq!(Rc::strong_count(&ticks), 1, "the function was not freed");
}

#[test]
fn lc12_with_count_interval_zero_delay() {
    let clock = Clock::new();
    let counts: Seen<u64> = seen();
    let (pending, fire) = Deferred::<()>::pending();
    let pending = Rc::new(RefCell::new(Some(pending)));
    let lc = self_aware(&clock, {
        let counts = counts.clone();
        move |lc, n| -> Deferred<()> {
            counts.borrow_mut().push(n);
            let len = counts.borrow().len();
            if len == 2 {
                return pending.borrow_mut().take().unwrap();
            }
            if len > 4 {
                lc.stop();
            }
            fate_deferred::succeed(())
        }
    });
    let _done = lc.start(Duration::ZERO, false).unwrap();
    clock.pump(&[Duration::ZERO; 2]);
    assert_eq!(*counts.borrow(), [1, 1]);
    clock.pump(&[secs(1.0); 2]);
    assert_eq!(*counts.borrow(), [1, 1]);
    fire.try_callback(()).unwrap();
    clock.pump(&[Duration::ZERO; 4]);
    assert_eq!(*counts.borrow(), [1, 1, 1, 1, 1]);
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn lc12b_with_count_interval_zero_delay_then_nonzero_interval() {
    let clock = Clock::new();
    let counts: Seen<u64> = seen();
    let (pending, fire) = Deferred::<()>::pending();
    let pending = Rc::new(RefCell::new(Some(pending)));
    let lc = LoopingCall::with_count(&clock, {
        let counts = counts.clone();
        move |n| -> Deferred<()> {
            counts.borrow_mut().push(n);
            if counts.borrow().len() == 2 {
                return pending.borrow_mut().take().unwrap();
            }
            fate_deferred::succeed(())
        }
    });
    let _done = lc.start(Duration::ZERO, false).unwrap();
    clock.advance(secs(10.0));
    assert_eq!(*counts.borrow(), [1, 1]);
    lc.set_interval(secs(2.0));
    fire.try_callback(()).unwrap();
    clock.advance(secs(7.0));
    assert_eq!(*counts.borrow(), [1, 1, 3]);
    clock.advance(secs(2.0));
    assert_eq!(*counts.borrow(), [1, 1, 3, 1]);
    clock.advance(secs(4.0));
    assert_eq!(*counts.borrow(), [1, 1, 3, 1, 2]);
    lc.stop();
}

#[test]
fn lc13_failure_fails_the_completion() {
    let clock = Clock::new();
    let lc = LoopingCall::new(&clock, || -> Result<(), Failure> {
        Err(Failure::new(TestError("bar")))
    });
    let done = watch(lc.start(secs(0.1), true).unwrap());
    assert!(failed_with(&done, "bar"));
    assert!(!lc.running());
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn lc13b_fail_after_stopping_itself() {
    let clock = Clock::new();
    let lc = self_aware(&clock, |lc, _| -> Result<(), Failure> {
        lc.stop();
        Err(Failure::new(TestError("bar")))
    });
    let done = watch(lc.start(secs(0.1), false).unwrap());
    clock.advance(secs(0.1));
    assert!(failed_with(&done, "bar"));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn lc13c_a_panic_is_a_failure() {
    let clock = Clock::new();
    let lc = LoopingCall::new(&clock, || -> () { panic!("loop body panicked") });
    let done = watch(lc.start(secs(1.0), true).unwrap());
    assert!(matches!(&*done.borrow(), Some(Err(_))));
    assert!(!lc.running());
}

#[test]
fn lc14_every_iteration_with_zero_interval() {
    let clock = Clock::new();
    let ran = Rc::new(Cell::new(0));
    let lc = self_aware(&clock, {
        let ran = ran.clone();
        move |lc, _| {
            ran.set(ran.get() + 1);
            if ran.get() > 5 {
                lc.stop();
            }
        }
    });
    let done = watch(lc.start(Duration::ZERO, true).unwrap());
    clock.advance(Duration::ZERO);
    assert_eq!(ran.get(), 6);
    assert!(fired_ok(&done));
}

#[test]
fn lc15_wait_for_the_functions_deferred() {
    let clock = Clock::new();
    let calls = Rc::new(Cell::new(0));
    let lc = self_aware(&clock, {
        let (clock, calls) = (clock.clone(), calls.clone());
        move |lc, _| -> Deferred<()> {
            calls.set(calls.get() + 1);
            let (d, fire) = Deferred::<()>::pending();
            let lc = lc.clone();
            let d = d.add_callback(move |()| lc.stop());
            let _ = clock.call_later(secs(1.0), move || fire.try_callback(()).unwrap());
            d
        }
    });
    let done = watch(lc.start(secs(0.2), true).unwrap());
    clock.pump(&[secs(0.2), secs(0.8)]);
    assert_eq!(
        calls.get(),
        1,
        "not called again while its Deferred is pending"
    );
    assert!(clock.pending_calls().is_empty());
    assert!(fired_ok(&done));
}

#[test]
fn lc16_failure_propagation_from_the_functions_deferred() {
    let clock = Clock::new();
    let lc = LoopingCall::new(&clock, {
        let clock = clock.clone();
        move || -> Deferred<()> {
            let (d, fire) = Deferred::<()>::pending();
            let _ = clock.call_later(secs(0.3), move || {
                fire.try_errback(TestError("late")).unwrap()
            });
            d
        }
    });
    let done = watch(lc.start(secs(1.0), true).unwrap());
    assert!(done.borrow().is_none());
    clock.pump(&[secs(0.3)]);
    assert!(failed_with(&done, "late"));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn lc17_deferred_with_count() {
    let clock = Clock::new();
    let counts: Seen<u64> = seen();
    let (first, fire) = Deferred::<()>::pending();
    let first = Rc::new(RefCell::new(Some(first)));
    let lc = LoopingCall::with_count(&clock, {
        let counts = counts.clone();
        move |n| -> Deferred<()> {
            counts.borrow_mut().push(n);
            match first.borrow_mut().take() {
                Some(d) => d,
                None => fate_deferred::succeed(()),
            }
        }
    });
    let _done = lc.start(secs(0.2), false).unwrap();
    assert!(counts.borrow().is_empty());
    clock.pump(&[secs(0.2), secs(0.4)]);
    assert_eq!(*counts.borrow(), [1]);
    fire.try_callback(()).unwrap();
    clock.pump(&[secs(0.2)]);
    assert_eq!(*counts.borrow(), [1, 3]);
}

#[test]
fn lc18_stop_while_waiting_fires_when_the_deferred_does() {
    let clock = Clock::new();
    let fire_slot: Rc<RefCell<Option<Fire<()>>>> = Rc::default();
    let lc = LoopingCall::new(&clock, {
        let fire_slot = fire_slot.clone();
        move || -> Deferred<()> {
            let (d, fire) = Deferred::pending();
            *fire_slot.borrow_mut() = Some(fire);
            d
        }
    });
    let done = watch(lc.start(secs(1.0), true).unwrap());
    lc.stop();
    assert!(done.borrow().is_none(), "waits for the pending call");
    assert!(!lc.running());
    fire_slot
        .borrow_mut()
        .take()
        .unwrap()
        .try_callback(())
        .unwrap();
    assert!(fired_ok(&done));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn lc19_start_while_running_and_stop_while_stopped() {
    let clock = Clock::new();
    let lc = LoopingCall::new(&clock, || ());
    assert_eq!(lc.try_stop().unwrap_err(), LoopingCallError::NotRunning);
    assert_eq!(lc.reset().unwrap_err(), LoopingCallError::NotRunning);
    let _done = lc.start(secs(1.0), true).unwrap();
    assert_eq!(
        lc.start(secs(1.0), true).unwrap_err(),
        LoopingCallError::AlreadyRunning
    );
    lc.stop();
    assert_eq!(lc.try_stop().unwrap_err(), LoopingCallError::NotRunning);
    // A stopped loop can start again.
    let again = watch(lc.start(secs(1.0), false).unwrap());
    lc.stop();
    assert!(fired_ok(&again));
}

#[test]
fn lp3_calls_stay_on_the_grid_of_the_start() {
    let clock = Clock::new();
    clock.advance(secs(0.3));
    let (times, f) = time_recorder(&clock);
    let lc = LoopingCall::new(&clock, f);
    let _done = lc.start(secs(1.0), true).unwrap();
    clock.advance(secs(1.25)); // the call due at 1.3 runs late at 1.55
    clock.advance(secs(0.75)); // the next is back on the grid at 2.3
    clock.advance(secs(1.0));
    assert_eq!(*times.borrow(), [300, 1550, 2300, 3300]);
}

#[test]
fn lp5_reset_reanchors_the_grid() {
    let clock = Clock::new();
    let (times, f) = time_recorder(&clock);
    let lc = LoopingCall::new(&clock, f);
    let _done = lc.start(secs(1.0), true).unwrap();
    clock.advance(secs(1.5));
    lc.reset().unwrap();
    clock.pump(&[secs(1.0), secs(1.0)]);
    assert_eq!(*times.borrow(), [0, 1500, 2500, 3500]);
}
