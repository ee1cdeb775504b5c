//! Cost checks for the timer wheel, on a virtual `Clock` (pure CPU, no sleeping).
//!
//! Ignored by default; run in release:
//! `cargo test --release -p fate-core --features testing --test time_perf -- --ignored --nocapture`
#![cfg(feature = "testing")]

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use fate_core::testing::Clock;

/// SplitMix64: the delays, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `timer-churn`: register and at once cancel 10^6 timeouts (U[30, 90] s) while 10^5 wait.
#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn register_and_cancel_with_100k_pending() {
    let clock = Clock::new();
    let mut rng = Rng(42);
    let mut delay = || Duration::from_secs(30) + Duration::from_nanos(rng.next() % 60_000_000_000);
    let pending: Vec<_> = (0..100_000)
        .map(|_| clock.call_later(delay(), || ()))
        .collect();
    let delays: Vec<Duration> = (0..1_000_000).map(|_| delay()).collect();
    let fired = Rc::new(Cell::new(0u32));
    let t0 = Instant::now();
    for d in &delays {
        let fired = fired.clone();
        let call = clock.call_later(*d, move || fired.set(fired.get() + 1));
        call.cancel().unwrap();
    }
    let per_pair = t0.elapsed().as_nanos() as f64 / delays.len() as f64;
    println!("register+cancel with 1e5 pending: {per_pair:.1} ns per pair");
    assert_eq!(clock.pending_calls().len(), pending.len());
    clock.advance(Duration::from_secs(91));
    assert_eq!(fired.get(), 0);
}

thread_local! {
    static FIRED: Cell<u64> = const { Cell::new(0) };
}

/// `timers`: 10^6 timers U[0, 100] ms, every second one cancelled, all the rest fired.
#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn a_million_timers_half_cancelled() {
    million_timers(false);
}

/// The same with callbacks that capture nothing (a zero-sized box: no allocation), to see
/// the wheel's own share.
#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn a_million_timers_half_cancelled_without_captures() {
    million_timers(true);
}

fn million_timers(zero_sized: bool) {
    let mut rng = Rng(42);
    let delays: Vec<Duration> = (0..1_000_000)
        .map(|_| Duration::from_nanos(rng.next() % 100_000_001))
        .collect();
    for round in 0..3 {
        let clock = Clock::new();
        let fired = Rc::new(Cell::new(0u64));
        FIRED.with(|f| f.set(0));
        let t0 = Instant::now();
        let mut calls = Vec::with_capacity(delays.len());
        for (i, d) in delays.iter().enumerate() {
            if zero_sized {
                calls.push(clock.call_later(*d, || FIRED.with(|f| f.set(f.get() + 1))));
                continue;
            }
            let fired = fired.clone();
            calls.push(clock.call_later(*d, move || fired.set(fired.get() + i as u64)));
        }
        let scheduled = t0.elapsed();
        for call in calls.iter().skip(1).step_by(2) {
            call.cancel().unwrap();
        }
        let cancelled = t0.elapsed();
        // Advance in 1 ms steps, as a loop waking every millisecond would.
        let mut worst_step = Duration::ZERO;
        for _ in 0..=100 {
            let s = Instant::now();
            clock.advance(Duration::from_millis(1));
            worst_step = worst_step.max(s.elapsed());
        }
        let total = t0.elapsed();
        if zero_sized {
            assert_eq!(FIRED.with(Cell::get), delays.len() as u64 / 2);
        } else {
            let want: u64 = (0..delays.len() as u64).step_by(2).sum();
            assert_eq!(fired.get(), want);
        }
        assert!(clock.pending_calls().is_empty());
        println!(
            "round {round}: 1e6 timers{}: schedule {scheduled:?}, cancel half {:?}, fire {:?} \
             (worst 1 ms step {worst_step:?}), total {total:?}",
            if zero_sized { " (no captures)" } else { "" },
            cancelled - scheduled,
            total - cancelled,
        );
    }
}
