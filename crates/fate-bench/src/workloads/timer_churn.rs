//! `timer-churn`: the "most timeouts never fire" case. With `--pending` long timeouts
//! already registered, register and immediately cancel `--n` more.
//!
//! `n` = register+cancel pairs; `secs` = the pairs only (so `secs / n` is the cost of one
//! pair). Every delay is uniform in [30, 90] s from the seed — idle and request timeouts —
//! so nothing fires during the run; the check is that exactly `--pending` remain afterwards.
//!
//! A fate implementation builds a [`Plan`], registers `plan.pending` on a running reactor,
//! then times `register(plan.churn[i]); cancel` for each `i`, and returns [`report`].

use std::future::poll_fn;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio_util::time::DelayQueue;

use crate::args::{Args, Flag};
use crate::measure;
use crate::report::Report;
use crate::rng::SplitMix64;
use crate::workloads::{fail, Impl, Workload};

pub(crate) const WORKLOAD: Workload = Workload {
    name: "timer-churn",
    about: "register+cancel N timeouts (U[30,90] s) while --pending others wait",
    flags: &[
        Flag::value("n", "1000000", "register+cancel pairs"),
        Flag::value(
            "pending",
            "100000",
            "timeouts registered first and left pending",
        ),
        Flag::value("seed", "42", "SplitMix64 seed of the delays"),
    ],
    impls: &[(Impl::Fate, fate), (Impl::Tokio, tokio)],
};

/// The delays, the same for every implementation.
pub(crate) struct Plan {
    /// Registered first and never cancelled.
    pub(crate) pending: Vec<Duration>,
    /// `churn[i]` is the delay of the i-th registered-then-cancelled timeout.
    pub(crate) churn: Vec<Duration>,
}

impl Plan {
    pub(crate) fn new(args: &Args) -> Plan {
        let mut rng = SplitMix64::new(args.get("seed"));
        let mut delay = || Duration::from_secs_f64(30.0 + 60.0 * rng.next_f64());
        let pending = (0..args.get::<usize>("pending")).map(|_| delay()).collect();
        let churn = (0..args.get::<usize>("n")).map(|_| delay()).collect();
        Plan { pending, churn }
    }
}

/// Checks that `still_pending` timeouts remain (exit status 1 otherwise) and builds the
/// report for the pairs that took `elapsed` wall and `cpu` bench-thread CPU.
pub(crate) fn report(
    plan: &Plan,
    still_pending: usize,
    elapsed: Duration,
    cpu: Duration,
    peer: &str,
) -> Report {
    if still_pending != plan.pending.len() {
        fail(
            "timer-churn",
            format!(
                "{still_pending} timeouts pending, want {}",
                plan.pending.len()
            ),
        );
    }
    let n = plan.churn.len();
    Report::new(n as u64, elapsed)
        .with("peer", peer)
        .with("pending", plan.pending.len() as u64)
        .with_us("cpu_us_per_op", cpu.as_secs_f64() * 1e6 / n.max(1) as f64)
}

/// `DelayQueue::insert` + `remove` on a queue already polled by its task (so it has a
/// registered waker and a live tokio `Sleep`), current-thread runtime.
///
/// tokio's fastest form of a fresh timeout registered and cancelled: measured 165–190 ns per
/// pair against 185–210 ns for a `tokio::time::Sleep` polled once then dropped (what
/// `tokio::time::timeout` does per call). Re-arming one long-lived `Sleep` with `reset`
/// (~125 ns) is a different operation — no new timeout — so it is not the peer.
pub(crate) fn tokio(args: &Args) -> Report {
    let plan = Plan::new(args);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let (still_pending, elapsed, cpu) = rt.block_on(async {
        let mut q: DelayQueue<u32> = DelayQueue::with_capacity(plan.pending.len() + 1);
        for (i, d) in plan.pending.iter().enumerate() {
            q.insert(i as u32, *d);
        }
        poll_fn(|cx| {
            assert!(q.poll_expired(cx).is_pending(), "a long timeout fired");
            Poll::Ready(())
        })
        .await;
        let cpu0 = measure::thread_cpu();
        let t0 = Instant::now();
        for (i, d) in plan.churn.iter().enumerate() {
            let key = q.insert(i as u32, *d);
            q.remove(&key);
        }
        let elapsed = t0.elapsed();
        (q.len(), elapsed, measure::thread_cpu() - cpu0)
    });
    report(
        &plan,
        still_pending,
        elapsed,
        cpu,
        "tokio-util DelayQueue insert+remove, current_thread",
    )
}

/// `call_later` + `DelayedCall::cancel` on a fate reactor whose timeline already holds
/// `--pending` long calls. The callback captures the timeout's index, as DelayQueue's entry
/// holds it.
pub(crate) fn fate(args: &Args) -> Report {
    use std::cell::Cell;
    use std::rc::Rc;

    let plan = Plan::new(args);
    let reactor = fate::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("fate reactor");
    let fired = Rc::new(Cell::new(0u64));
    let mut pending = Vec::with_capacity(plan.pending.len());
    for (i, d) in plan.pending.iter().enumerate() {
        let fired = fired.clone();
        pending.push(reactor.call_later(*d, move || fired.set(fired.get() + i as u64)));
    }
    let cpu0 = measure::thread_cpu();
    let t0 = Instant::now();
    for (i, d) in plan.churn.iter().enumerate() {
        let index = i as u32;
        let call = reactor.call_later(*d, move || {
            std::hint::black_box(index);
        });
        call.cancel().expect("cancel a pending timeout");
    }
    let elapsed = t0.elapsed();
    let cpu = measure::thread_cpu() - cpu0;
    let still_pending = pending.iter().filter(|c| c.active()).count();
    assert_eq!(fired.get(), 0, "a long timeout fired");
    report(
        &plan,
        still_pending,
        elapsed,
        cpu,
        "fate Reactor::call_later + DelayedCall::cancel",
    )
}
