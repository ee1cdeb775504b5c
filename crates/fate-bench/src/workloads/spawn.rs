//! `spawn`: spawn N empty tasks keeping their handles, then join them all in order.
//!
//! `n` = tasks; `secs` = first spawn .. last join. The check: every join succeeded.
//! `bytes_per_task`: the peak resident memory the run added per task, all N spawned and not
//! yet run (each task and its join handle).
//! A fate implementation times the same spawn-all-then-join-all shape and returns [`report`].

use std::time::{Duration, Instant};

use crate::args::{Args, Flag};
use crate::measure;
use crate::report::{round, Report};
use crate::workloads::{fail, Impl, Workload};

pub(crate) const WORKLOAD: Workload = Workload {
    name: "spawn",
    about: "spawn N empty tasks keeping the handles, then join them all",
    flags: &[Flag::value("n", "200000", "tasks")],
    impls: &[(Impl::Fate, fate), (Impl::Tokio, tokio)],
};

/// Checks `joined == --n` (exit status 1 otherwise) and builds the report.
pub(crate) fn report(
    n: usize,
    joined: usize,
    elapsed: Duration,
    cpu: Duration,
    footprint: measure::Footprint,
    peer: &str,
) -> Report {
    if joined != n {
        fail("spawn", format!("{joined} tasks joined, want {n}"));
    }
    Report::new(n as u64, elapsed)
        .with("peer", peer)
        .with_us("cpu_us_per_op", cpu.as_secs_f64() * 1e6 / n.max(1) as f64)
        .with("bytes_per_task", round(footprint.bytes_per(n as u64), 1))
}

/// `LocalSet::spawn_local` on a current-thread runtime, `JoinHandle`s awaited in order.
pub(crate) fn tokio(args: &Args) -> Report {
    let n: usize = args.get("n");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let (joined, elapsed, cpu, footprint) = local.block_on(&rt, async move {
        let footprint = measure::Footprint::start();
        let cpu0 = measure::thread_cpu();
        let t0 = Instant::now();
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            handles.push(tokio::task::spawn_local(async {}));
        }
        let mut joined = 0;
        for h in handles {
            if h.await.is_ok() {
                joined += 1;
            }
        }
        (
            joined,
            t0.elapsed(),
            measure::thread_cpu() - cpu0,
            footprint,
        )
    });
    report(
        n,
        joined,
        elapsed,
        cpu,
        footprint,
        "tokio LocalSet::spawn_local, current_thread",
    )
}

/// `fate::task::spawn_local` on a fate reactor, `JoinHandle`s awaited in order.
pub(crate) fn fate(args: &Args) -> Report {
    let n: usize = args.get("n");
    let reactor = fate::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("fate reactor");
    let (joined, elapsed, cpu, footprint) = reactor
        .block_on(async move {
            let footprint = measure::Footprint::start();
            let cpu0 = measure::thread_cpu();
            let t0 = Instant::now();
            let mut handles = Vec::with_capacity(n);
            for _ in 0..n {
                handles.push(fate::task::spawn_local(async {}));
            }
            let mut joined = 0;
            for h in handles {
                if h.await.is_ok() {
                    joined += 1;
                }
            }
            (
                joined,
                t0.elapsed(),
                measure::thread_cpu() - cpu0,
                footprint,
            )
        })
        .expect("fate reactor run");
    report(n, joined, elapsed, cpu, footprint, "fate task::spawn_local")
}
