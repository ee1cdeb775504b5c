//! `testing::Clock` and `time::DelayedCall`: the cases of twisted-semantics.md 3.9 (Twisted's
//! `ClockTests` and `TimeTests`) and the Clock parts of 3.13, on virtual time.
#![cfg(feature = "testing")]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use fate_core::testing::Clock;
use fate_core::time::DelayedCallError::{AlreadyCalled, AlreadyCancelled};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// `clock.epoch() + s`: an absolute time on the clock.
fn at(clock: &Clock, s: f64) -> Instant {
    clock.epoch() + secs(s)
}

/// A log of `(name, clock.seconds())` entries, and a maker of callbacks that append to it.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<(&'static str, f64)>>>);

impl Log {
    fn callback(&self, clock: &Clock, name: &'static str) -> impl FnOnce() + 'static {
        let (log, clock) = (self.clone(), clock.clone());
        move || log.0.borrow_mut().push((name, clock.seconds()))
    }

    fn take(&self) -> Vec<(&'static str, f64)> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    fn names(&self) -> Vec<&'static str> {
        self.0.borrow().iter().map(|(n, _)| *n).collect()
    }
}

#[test]
fn c01_seconds_start_at_zero() {
    let clock = Clock::new();
    assert_eq!(clock.seconds(), 0.0);
    assert_eq!(clock.now(), clock.epoch());
}

#[test]
fn c02_call_later_returns_an_active_delayed_call() {
    let clock = Clock::new();
    let call = clock.call_later(secs(1.0), || ());
    assert_eq!(call.time(), at(&clock, 1.0));
    assert!(call.active());
}

#[test]
fn c03_cancelled_call_is_inactive() {
    let clock = Clock::new();
    let call = clock.call_later(secs(1.0), || panic!("cancelled call ran"));
    call.cancel().unwrap();
    assert!(!call.active());
    clock.advance(secs(1.0));
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn c04_each_call_later_makes_a_new_call() {
    let clock = Clock::new();
    let call1 = clock.call_later(secs(10.0), || ());
    let call2 = clock.call_later(secs(1.0), || ());
    call2.cancel().unwrap();
    assert!(call1.active());
}

#[test]
fn c05_advance_runs_due_calls() {
    let clock = Clock::new();
    let runs = Rc::new(Cell::new(0));
    let call = clock.call_later(secs(2.0), {
        let runs = runs.clone();
        move || runs.set(runs.get() + 1)
    });
    clock.advance(secs(1.0));
    assert_eq!(runs.get(), 0);
    clock.advance(secs(1.0));
    assert_eq!(runs.get(), 1);
    assert!(!call.active());
    clock.advance(secs(10.0));
    assert_eq!(runs.get(), 1, "a call runs once");
}

#[test]
fn c06_a_running_call_cannot_cancel_itself() {
    let clock = Clock::new();
    let slot: Rc<RefCell<Option<fate_core::time::DelayedCall>>> = Rc::default();
    let seen = Rc::new(Cell::new(None));
    let call = clock.call_later(secs(1.0), {
        let (slot, seen) = (slot.clone(), seen.clone());
        move || {
            let call = slot.borrow_mut().take().unwrap();
            seen.set(Some((call.cancel(), call.reset(secs(1.0)), call.active())));
        }
    });
    *slot.borrow_mut() = Some(call);
    clock.advance(secs(1.0));
    assert_eq!(
        seen.get(),
        Some((Err(AlreadyCalled), Err(AlreadyCalled), false))
    );
}

#[test]
fn c07_call_later_delayed() {
    let clock = Clock::new();
    let log = Log::default();
    let call = clock.call_later(secs(1.0), log.callback(&clock, "x"));
    call.delay(secs(1.0)).unwrap();
    assert_eq!(call.time(), at(&clock, 2.0));
    clock.advance(secs(1.5));
    assert!(log.take().is_empty());
    clock.advance(secs(1.0));
    assert_eq!(log.take(), [("x", 2.5)]);
}

#[test]
fn c08_reset_later() {
    let clock = Clock::new();
    let log = Log::default();
    let call = clock.call_later(secs(2.0), log.callback(&clock, "x"));
    clock.advance(secs(1.0));
    call.reset(secs(3.0)).unwrap();
    assert_eq!(call.time(), at(&clock, 4.0));
    clock.advance(secs(2.0));
    assert!(log.take().is_empty());
    clock.advance(secs(1.0));
    assert_eq!(log.take(), [("x", 4.0)]);
}

#[test]
fn c09_reset_sooner() {
    let clock = Clock::new();
    let log = Log::default();
    let call = clock.call_later(secs(4.0), log.callback(&clock, "x"));
    call.reset(secs(3.0)).unwrap();
    assert_eq!(call.time(), at(&clock, 3.0));
    clock.advance(secs(3.0));
    assert_eq!(log.take(), [("x", 3.0)]);
}

#[test]
fn c10_delayed_calls_lists_pending_calls() {
    let clock = Clock::new();
    assert!(clock.pending_calls().is_empty());
    let call = clock.call_later(secs(1.0), || ());
    let call2 = clock.call_later(secs(2.0), || ());
    assert_eq!(clock.pending_calls(), [call.time(), call2.time()]);
    assert_eq!(clock.delayed_calls(), clock.pending_calls());
}

#[test]
fn c11_call_later_keeps_calls_ordered() {
    let clock = Clock::new();
    let log = Log::default();
    let call_a = clock.call_later(secs(1.0), log.callback(&clock, "a"));
    call_a.reset(secs(3.0)).unwrap();
    let _ = clock.call_later(secs(2.0), log.callback(&clock, "b"));
    clock.pump(&[secs(1.0); 3]);
    assert_eq!(log.take(), [("b", 2.0), ("a", 3.0)]);
}

#[test]
fn c12_reset_keeps_calls_ordered() {
    let clock = Clock::new();
    let log = Log::default();
    let call_a = clock.call_later(secs(1.0), log.callback(&clock, "a"));
    let _ = clock.call_later(secs(2.0), log.callback(&clock, "b"));
    call_a.reset(secs(3.0)).unwrap();
    clock.pump(&[secs(1.0); 3]);
    assert_eq!(log.take(), [("b", 2.0), ("a", 3.0)]);
}

#[test]
fn c13_reset_inside_a_call_keeps_calls_ordered() {
    let clock = Clock::new();
    let log = Log::default();
    let call_b = clock.call_later(secs(2.0), log.callback(&clock, "b"));
    let _ = clock.call_later(secs(1.0), move || call_b.reset(secs(3.0)).unwrap());
    let _ = clock.call_later(secs(3.0), log.callback(&clock, "c"));
    clock.pump(&[secs(0.5); 10]);
    assert_eq!(log.take(), [("c", 3.0), ("b", 4.0)]);
}

#[test]
fn c14_equal_times_run_in_scheduling_order() {
    let clock = Clock::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    for i in 0..5 {
        let order = order.clone();
        let _ = clock.call_later(secs(1.0), move || order.borrow_mut().push(i));
    }
    clock.advance(secs(1.0));
    assert_eq!(*order.borrow(), [0, 1, 2, 3, 4]);
}

#[test]
fn c14b_twenty_equal_times_stay_fifo_unlike_twisteds_heap() {
    // RC08: Twisted's reactor heap does not keep this order; Fate does, on every timeline.
    let clock = Clock::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    for i in 0..20 {
        let order = order.clone();
        let _ = clock.call_at(at(&clock, 1.0), move || order.borrow_mut().push(i));
    }
    clock.advance(secs(5.0));
    assert_eq!(*order.borrow(), (0..20).collect::<Vec<_>>());
}

#[test]
fn c15_calls_scheduled_during_advance_run_in_it() {
    let clock = Clock::new();
    let log = Log::default();
    let _ = clock.call_later(secs(1.0), {
        let (clock2, log) = (clock.clone(), log.clone());
        move || {
            log.0.borrow_mut().push(("f", clock2.seconds()));
            let _ = clock2.call_later(Duration::ZERO, log.callback(&clock2, "g"));
        }
    });
    clock.advance(secs(1.0));
    assert_eq!(log.take(), [("f", 1.0), ("g", 1.0)]);
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn c16_advance_runs_calls_in_deadline_order_at_their_turn() {
    // A call scheduled during the advance for a time before another due call runs first.
    let clock = Clock::new();
    let log = Log::default();
    let _ = clock.call_later(secs(1.0), {
        let (clock2, log) = (clock.clone(), log.clone());
        move || {
            log.0.borrow_mut().push(("a", clock2.seconds()));
            let _ = clock2.call_at(at(&clock2, 1.5), log.callback(&clock2, "c"));
        }
    });
    let _ = clock.call_later(secs(2.0), log.callback(&clock, "b"));
    clock.advance(secs(3.0));
    assert_eq!(log.names(), ["a", "c", "b"]);
}

#[test]
fn c17_misuse_after_running_or_cancelling() {
    let clock = Clock::new();
    let ran = clock.call_later(secs(1.0), || ());
    clock.advance(secs(1.0));
    assert_eq!(ran.cancel(), Err(AlreadyCalled));
    assert_eq!(ran.reset(secs(1.0)), Err(AlreadyCalled));
    assert_eq!(ran.delay(secs(1.0)), Err(AlreadyCalled));
    assert!(!ran.active());

    let cancelled = clock.call_later(secs(1.0), || ());
    cancelled.cancel().unwrap();
    assert_eq!(cancelled.cancel(), Err(AlreadyCancelled));
    assert_eq!(cancelled.reset(secs(1.0)), Err(AlreadyCancelled));
    assert_eq!(cancelled.delay(secs(1.0)), Err(AlreadyCancelled));
    assert!(!cancelled.active());
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn c18_delay_arithmetic() {
    // Twisted's delay(-3) has no Duration equivalent: moving a call earlier is a reset.
    let clock = Clock::new();
    let call = clock.call_later(secs(5.0), || ());
    call.delay(secs(2.0)).unwrap();
    assert_eq!(call.time(), at(&clock, 7.0));
    call.reset(secs(2.0)).unwrap();
    assert_eq!(call.time(), at(&clock, 2.0));
    call.delay(secs(2.0)).unwrap();
    assert_eq!(call.time(), at(&clock, 4.0));
    clock.advance(secs(3.9));
    assert!(call.active());
    clock.advance(secs(0.1));
    assert!(!call.active());
    assert_eq!(call.time(), at(&clock, 4.0), "time() survives the call");
}

#[test]
fn c20_call_later_uses_the_timelines_seconds() {
    let clock = Clock::new();
    clock.advance(secs(100.0));
    let seen = Rc::new(Cell::new(0.0));
    let call = clock.call_later(secs(5.0), {
        let (clock2, seen) = (clock.clone(), seen.clone());
        move || seen.set(clock2.seconds())
    });
    assert_eq!(call.time(), at(&clock, 105.0));
    assert_eq!(clock.seconds(), 100.0);
    clock.advance(secs(5.0));
    assert_eq!(seen.get(), 105.0);
}

#[test]
fn rc11_cancelled_zero_delay_call_never_runs() {
    let clock = Clock::new();
    let call = clock.call_later(Duration::ZERO, || panic!("cancelled call ran"));
    call.cancel().unwrap();
    clock.advance(Duration::ZERO);
    clock.advance(secs(1.0));
}

#[test]
fn ck2_call_at_in_the_past_is_due_at_once() {
    let clock = Clock::new();
    clock.advance(secs(10.0));
    let log = Log::default();
    let call = clock.call_at(at(&clock, 3.0), log.callback(&clock, "late"));
    assert_eq!(call.time(), at(&clock, 3.0));
    clock.advance(Duration::ZERO);
    assert_eq!(log.take(), [("late", 10.0)]);
}

#[test]
fn ck3_a_panicking_call_aborts_advance_and_leaves_the_rest_queued() {
    let clock = Clock::new();
    let log = Log::default();
    let _ = clock.call_later(secs(1.0), || panic!("boom"));
    let _ = clock.call_later(secs(1.0), log.callback(&clock, "after"));
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| clock.advance(secs(1.0))));
    assert!(outcome.is_err());
    assert!(log.take().is_empty());
    assert_eq!(clock.pending_calls(), [at(&clock, 1.0)]);
    clock.advance(Duration::ZERO);
    assert_eq!(log.take(), [("after", 1.0)]);
}

#[test]
fn ck3_a_call_may_advance_the_clock_itself() {
    let clock = Clock::new();
    let log = Log::default();
    let _ = clock.call_later(secs(1.0), {
        let (clock2, log) = (clock.clone(), log.clone());
        move || {
            log.0.borrow_mut().push(("a", clock2.seconds()));
            clock2.advance(secs(2.0));
        }
    });
    let _ = clock.call_later(secs(2.0), log.callback(&clock, "b"));
    let _ = clock.call_later(secs(4.0), log.callback(&clock, "c"));
    clock.advance(secs(1.0));
    assert_eq!(log.take(), [("a", 1.0), ("b", 3.0)]);
    assert_eq!(clock.seconds(), 3.0);
    clock.advance(secs(1.0));
    assert_eq!(log.take(), [("c", 4.0)]);
}

#[test]
fn ck5_pump_is_a_sequence_of_advances() {
    let clock = Clock::new();
    let log = Log::default();
    for (name, t) in [("a", 0.5), ("b", 1.0), ("c", 1.75)] {
        let _ = clock.call_later(secs(t), log.callback(&clock, name));
    }
    clock.pump(&[secs(0.5), secs(0.5), secs(0.5), secs(0.5)]);
    assert_eq!(log.take(), [("a", 0.5), ("b", 1.0), ("c", 2.0)]);
}

#[test]
fn ck6_pending_calls_are_in_firing_order_and_shrink_as_calls_run() {
    let clock = Clock::new();
    let late = clock.call_later(secs(3.0), || ());
    let early = clock.call_later(secs(1.0), || ());
    let middle = clock.call_later(secs(2.0), || ());
    assert_eq!(
        clock.pending_calls(),
        [early.time(), middle.time(), late.time()]
    );
    clock.advance(secs(1.0));
    assert_eq!(clock.pending_calls(), [middle.time(), late.time()]);
    middle.cancel().unwrap();
    assert_eq!(clock.pending_calls(), [late.time()]);
}

#[test]
fn dropping_the_handle_does_not_cancel() {
    let clock = Clock::new();
    let ran = Rc::new(Cell::new(false));
    drop(clock.call_later(secs(1.0), {
        let ran = ran.clone();
        move || ran.set(true)
    }));
    clock.advance(secs(1.0));
    assert!(ran.get());
}

#[test]
fn cancel_drops_the_function_at_once() {
    let clock = Clock::new();
    let token = Rc::new(());
    let call = clock.call_later(secs(1.0), {
        let token = token.clone();
        move || drop(token)
    });
    assert_eq!(Rc::strong_count(&token), 2);
    call.cancel().unwrap();
    assert_eq!(Rc::strong_count(&token), 1);
}

#[test]
fn timers_far_apart_fire_exactly_on_time() {
    // Deadlines on every level of the wheel: each fires at its own time, not a slot's.
    let clock = Clock::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    let delays = [
        Duration::from_nanos(1),
        Duration::from_micros(70),
        Duration::from_millis(5),
        Duration::from_millis(300),
        secs(20.0),
        secs(1_500.0),
        secs(100_000.0),
        secs(10_000_000.0),
    ];
    for d in delays.iter().rev() {
        let (log, clock2, d) = (log.clone(), clock.clone(), *d);
        let _ = clock.call_later(d, move || {
            log.borrow_mut().push((d, clock2.now() - clock2.epoch()))
        });
    }
    for d in delays {
        clock.advance(d - (clock.now() - clock.epoch()) - Duration::from_nanos(1));
        assert_eq!(
            log.borrow().len(),
            delays.iter().filter(|x| **x < d).count()
        );
        clock.advance(Duration::from_nanos(1));
        assert_eq!(log.borrow().last(), Some(&(d, d)));
    }
}

/// A waker that counts its wakes.
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
    (counter.clone(), Waker::from(counter))
}

#[test]
fn sleep_wakes_its_task_when_the_clock_passes_its_deadline() {
    let clock = Clock::new();
    let (wakes, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut nap = clock.sleep(secs(2.0));
    assert!(
        clock.pending_calls().is_empty(),
        "registered on first poll only"
    );
    assert_eq!(Pin::new(&mut nap).poll(&mut cx), Poll::Pending);
    assert_eq!(
        Pin::new(&mut nap).poll(&mut cx),
        Poll::Pending,
        "polled twice, registered once"
    );
    assert_eq!(clock.pending_calls(), [at(&clock, 2.0)]);
    clock.advance(secs(1.0));
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    clock.advance(secs(1.0));
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    assert_eq!(Pin::new(&mut nap).poll(&mut cx), Poll::Ready(()));
    assert_eq!(
        Pin::new(&mut nap).poll(&mut cx),
        Poll::Ready(()),
        "ready again when polled again"
    );
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn sleep_takes_the_latest_waker_and_is_removed_on_drop() {
    let clock = Clock::new();
    let (first, waker1) = counting_waker();
    let (second, waker2) = counting_waker();
    let mut nap = clock.sleep(secs(1.0));
    assert!(Pin::new(&mut nap)
        .poll(&mut Context::from_waker(&waker1))
        .is_pending());
    assert!(Pin::new(&mut nap)
        .poll(&mut Context::from_waker(&waker2))
        .is_pending());
    clock.advance(secs(1.0));
    assert_eq!(
        (
            first.0.load(Ordering::SeqCst),
            second.0.load(Ordering::SeqCst)
        ),
        (0, 1)
    );

    let mut dropped = clock.sleep(secs(1.0));
    assert!(Pin::new(&mut dropped)
        .poll(&mut Context::from_waker(&waker1))
        .is_pending());
    drop(dropped);
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn sleep_reset_moves_the_registered_timer() {
    let clock = Clock::new();
    let (wakes, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut nap = clock.sleep(secs(1.0));
    assert!(Pin::new(&mut nap).poll(&mut cx).is_pending());
    nap.reset(at(&clock, 3.0));
    assert_eq!(clock.pending_calls(), [at(&clock, 3.0)]);
    clock.advance(secs(2.0));
    assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
    clock.advance(secs(1.0));
    assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
    assert!(Pin::new(&mut nap).poll(&mut cx).is_ready());
    nap.reset(at(&clock, 4.0));
    assert!(
        Pin::new(&mut nap).poll(&mut cx).is_pending(),
        "a reset sleep sleeps again"
    );
}

#[test]
fn sleep_until_a_past_deadline_is_ready_at_once() {
    let clock = Clock::new();
    clock.advance(secs(5.0));
    let (_, waker) = counting_waker();
    let mut nap = clock.sleep_until(at(&clock, 1.0));
    assert!(Pin::new(&mut nap)
        .poll(&mut Context::from_waker(&waker))
        .is_ready());
    assert!(clock.pending_calls().is_empty());
}

#[test]
fn timeout_prefers_a_ready_output_and_elapses_otherwise() {
    let clock = Clock::new();
    let (wakes, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);

    let (d, fire) = fate_deferred::Deferred::<u8>::pending();
    let mut limited = Box::pin(clock.timeout(secs(1.0), d));
    assert!(limited.as_mut().poll(&mut cx).is_pending());
    fire.try_callback(7).unwrap();
    clock.advance(secs(1.0)); // both ready: the output wins
    assert!(matches!(
        limited.as_mut().poll(&mut cx),
        Poll::Ready(Ok(Ok(7)))
    ));

    let mut slow = Box::pin(clock.timeout(secs(1.0), std::future::pending::<()>()));
    assert!(slow.as_mut().poll(&mut cx).is_pending());
    let before = wakes.0.load(Ordering::SeqCst);
    clock.advance(secs(1.0));
    assert_eq!(wakes.0.load(Ordering::SeqCst), before + 1);
    assert!(matches!(slow.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
    drop(slow);
    drop(limited);
    assert!(clock.pending_calls().is_empty());
}
