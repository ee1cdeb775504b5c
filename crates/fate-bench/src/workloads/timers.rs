//! `timers`: schedule N timers with delays uniform in [0, max-ms] ms from a fixed seed,
//! cancel every second one (odd indices) before any fires, run until the rest have fired.
//!
//! `n` = timers scheduled; `secs` = first schedule .. last firing. The check: exactly
//! `n - n/2` fired and the fired indices sum to the even indices' sum. Extras: lateness of
//! each firing against its requested deadline (`late_p50_us`, `late_p99_us`, `late_max_us`),
//! the schedule and cancel phases, the bench thread's CPU, and `bytes_per_timer`: the peak
//! resident memory the run added over what the plan already held, per timer scheduled (the
//! timers, the handles kept to cancel them, the record of firings).
//!
//! A fate implementation builds a [`Plan`], schedules `plan.delays[i]` for each `i`, cancels
//! the odd ones, records one [`Firing`] per timer that fires, and returns [`report`].

use std::future::poll_fn;
use std::time::{Duration, Instant};

use tokio_util::time::DelayQueue;

use crate::args::{Args, Flag};
use crate::measure::{self, percentile_us};
use crate::report::{round, Report};
use crate::rng::SplitMix64;
use crate::workloads::{fail, Impl, Workload};

pub(crate) const WORKLOAD: Workload = Workload {
    name: "timers",
    about: "N timers, delays U[0,max-ms] ms, odd ones cancelled; run until the rest fire",
    flags: &[
        Flag::value("n", "1000000", "timers to schedule"),
        Flag::value("max-ms", "100", "longest delay in milliseconds"),
        Flag::value("seed", "42", "SplitMix64 seed of the delays"),
    ],
    impls: &[(Impl::Fate, fate), (Impl::Tokio, tokio)],
};

/// The timers to schedule, the same for every implementation.
pub(crate) struct Plan {
    /// `delays[i]` is timer `i`'s delay from the moment it is scheduled.
    pub(crate) delays: Vec<Duration>,
}

impl Plan {
    /// The delays for `--n`, `--max-ms`, `--seed`, exactly as shared/peers computes them.
    pub(crate) fn new(args: &Args) -> Plan {
        let n: usize = args.get("n");
        let max_ms: f64 = args.get("max-ms");
        let mut rng = SplitMix64::new(args.get("seed"));
        let delays = (0..n)
            .map(|_| Duration::from_secs_f64(rng.next_f64() * max_ms / 1000.0))
            .collect();
        Plan { delays }
    }

    /// Whether timer `i` is cancelled before it fires: the odd ones.
    pub(crate) fn cancelled(i: usize) -> bool {
        i % 2 == 1
    }
}

/// What an implementation saw while running a [`Plan`].
pub(crate) struct Outcome {
    /// Index of each timer that fired, with its lateness in nanoseconds (now - requested
    /// deadline, taken when its callback ran), in firing order.
    pub(crate) firings: Vec<Firing>,
    /// First schedule .. all scheduled.
    pub(crate) scheduled: Duration,
    /// First schedule .. all odd ones cancelled.
    pub(crate) cancelled: Duration,
    /// First schedule .. last firing.
    pub(crate) elapsed: Duration,
    /// The bench thread's CPU over `elapsed`.
    pub(crate) cpu: Duration,
    /// Resident memory before the first timer was scheduled.
    pub(crate) footprint: measure::Footprint,
}

/// One timer's firing.
#[derive(Clone, Copy)]
pub(crate) struct Firing {
    pub(crate) index: u32,
    pub(crate) late_ns: u64,
}

/// Checks `outcome` against `plan` (exiting with status 1 on a wrong count or sum) and
/// builds the report.
pub(crate) fn report(plan: &Plan, outcome: Outcome, peer: &str) -> Report {
    let n = plan.delays.len();
    let want = n - n / 2;
    if outcome.firings.len() != want {
        fail(
            "timers",
            format!("{} timers fired, want {want}", outcome.firings.len()),
        );
    }
    let sum: u64 = outcome.firings.iter().map(|f| u64::from(f.index)).sum();
    let want_sum: u64 = (0..n as u64).step_by(2).sum();
    if sum != want_sum {
        fail(
            "timers",
            format!("fired indices sum to {sum}, want {want_sum}"),
        );
    }
    let mut late: Vec<u64> = outcome.firings.iter().map(|f| f.late_ns).collect();
    late.sort_unstable();
    Report::new(n as u64, outcome.elapsed)
        .with("peer", peer)
        .with("fired", want as u64)
        .with_us("late_p50_us", percentile_us(&late, 50.0))
        .with_us("late_p99_us", percentile_us(&late, 99.0))
        .with_us("late_max_us", percentile_us(&late, 100.0))
        .with_us("schedule_us", outcome.scheduled.as_secs_f64() * 1e6)
        .with_us(
            "cancel_us",
            (outcome.cancelled - outcome.scheduled).as_secs_f64() * 1e6,
        )
        .with_us(
            "cpu_us_per_op",
            outcome.cpu.as_secs_f64() * 1e6 / n.max(1) as f64,
        )
        .with(
            "bytes_per_timer",
            round(outcome.footprint.bytes_per(n as u64), 1),
        )
}

/// A queued timer: its index and its requested deadline in microseconds after the run's start.
struct Entry {
    index: u32,
    due_us: u32,
}

/// tokio-util's `DelayQueue` driven by one task on a current-thread runtime with only the
/// time driver: tokio's fastest form for many timers (a task per timer is about 2× slower).
pub(crate) fn tokio(args: &Args) -> Report {
    let plan = Plan::new(args);
    let n = plan.delays.len();
    assert!(n <= u32::MAX as usize, "--n too large");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let footprint = measure::Footprint::start();
    let outcome = rt.block_on(async {
        let cpu0 = measure::thread_cpu();
        let t0 = Instant::now();
        let mut q: DelayQueue<Entry> = DelayQueue::with_capacity(n);
        let mut keys = Vec::with_capacity(n);
        for (i, d) in plan.delays.iter().enumerate() {
            // What DelayQueue::insert does itself, keeping the deadline for the lateness.
            let deadline = Instant::now() + *d;
            let entry = Entry {
                index: i as u32,
                due_us: (deadline - t0).as_micros() as u32,
            };
            keys.push(q.insert_at(entry, deadline.into()));
        }
        let scheduled = t0.elapsed();
        for (i, k) in keys.iter().enumerate() {
            if Plan::cancelled(i) {
                q.remove(k);
            }
        }
        let cancelled = t0.elapsed();
        let mut firings = Vec::with_capacity(n - n / 2);
        while let Some(exp) = poll_fn(|cx| q.poll_expired(cx)).await {
            let now_ns = t0.elapsed().as_nanos() as u64;
            let e = exp.get_ref();
            firings.push(Firing {
                index: e.index,
                late_ns: now_ns.saturating_sub(u64::from(e.due_us) * 1000),
            });
        }
        Outcome {
            firings,
            scheduled,
            cancelled,
            elapsed: t0.elapsed(),
            cpu: measure::thread_cpu() - cpu0,
            footprint,
        }
    });
    report(&plan, outcome, "tokio-util DelayQueue, current_thread")
}

/// `call_at` on a fate reactor: one callback per timer (capturing the shared state, its index
/// and its due time, as DelayQueue's entry holds them), the odd ones cancelled through their
/// `DelayedCall`, then `run_until_idle` until the rest have fired.
pub(crate) fn fate(args: &Args) -> Report {
    use std::cell::RefCell;
    use std::rc::Rc;

    /// What every callback shares.
    struct Shared {
        t0: Instant,
        firings: RefCell<Vec<Firing>>,
    }

    let plan = Plan::new(args);
    let n = plan.delays.len();
    assert!(n <= u32::MAX as usize, "--n too large");
    let reactor = fate::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("fate reactor");
    let footprint = measure::Footprint::start();
    let cpu0 = measure::thread_cpu();
    let t0 = Instant::now();
    let shared = Rc::new(Shared {
        t0,
        firings: RefCell::new(Vec::with_capacity(n - n / 2)),
    });
    let mut calls = Vec::with_capacity(n);
    for (i, d) in plan.delays.iter().enumerate() {
        let deadline = Instant::now() + *d;
        let entry = Entry {
            index: i as u32,
            due_us: (deadline - t0).as_micros() as u32,
        };
        let shared = shared.clone();
        calls.push(reactor.timeline().call_at(deadline, move || {
            let now_ns = shared.t0.elapsed().as_nanos() as u64;
            shared.firings.borrow_mut().push(Firing {
                index: entry.index,
                late_ns: now_ns.saturating_sub(u64::from(entry.due_us) * 1000),
            });
        }));
    }
    let scheduled = t0.elapsed();
    for (i, call) in calls.iter().enumerate() {
        if Plan::cancelled(i) {
            call.cancel().expect("cancel a pending timer");
        }
    }
    let cancelled = t0.elapsed();
    drop(calls);
    reactor.run_until_idle().expect("fate reactor run");
    let outcome = Outcome {
        firings: std::mem::take(&mut *shared.firings.borrow_mut()),
        scheduled,
        cancelled,
        elapsed: t0.elapsed(),
        cpu: measure::thread_cpu() - cpu0,
        footprint,
    };
    report(&plan, outcome, "fate Timeline::call_at + run_until_idle")
}
