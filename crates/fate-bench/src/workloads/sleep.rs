//! `sleep`: precision of short sleeps on an otherwise idle loop.
//!
//! One task sleeps `--ms` milliseconds `--n` times in a row and records how late each wake-up
//! was (the time it resumed minus the deadline it asked for). `n` = sleeps; `secs` = the whole
//! run. Extras: `late_p50_us`, `late_p99_us`, `late_max_us`. The goal for fate is a p99 of at
//! most 200 µs for 1 ms sleeps; tokio's timer has 1 ms resolution and wakes 1–2 ms late.

use std::time::{Duration, Instant};

use crate::args::{Args, Flag};
use crate::measure::percentile_us;
use crate::report::Report;
use crate::workloads::{fail, Impl, Workload};

pub(crate) const WORKLOAD: Workload = Workload {
    name: "sleep",
    about: "sleep --ms milliseconds --n times in a row on an idle loop; lateness percentiles",
    flags: &[
        Flag::value("n", "1000", "sleeps, one after another"),
        Flag::value("ms", "1", "length of each sleep in milliseconds"),
    ],
    impls: &[(Impl::FateAsync, fate_async), (Impl::Tokio, tokio)],
};

/// Lateness of each wake-up in nanoseconds.
fn report(mut late: Vec<u64>, elapsed: Duration, peer: &str) -> Report {
    let n = late.len();
    if late.is_empty() {
        fail("sleep", "no sleep completed".to_owned());
    }
    late.sort_unstable();
    Report::new(n as u64, elapsed)
        .with("peer", peer)
        .with_us("late_p50_us", percentile_us(&late, 50.0))
        .with_us("late_p99_us", percentile_us(&late, 99.0))
        .with_us("late_max_us", percentile_us(&late, 100.0))
}

/// `fate::sleep` in one task on a fate reactor.
pub(crate) fn fate_async(args: &Args) -> Report {
    let n: usize = args.get("n");
    let d = Duration::from_secs_f64(args.get::<f64>("ms") / 1000.0);
    let t0 = Instant::now();
    let late = fate::block_on(async move {
        let mut late = Vec::with_capacity(n);
        for _ in 0..n {
            let deadline = Instant::now() + d;
            fate::sleep_until(deadline).await;
            late.push(
                Instant::now()
                    .saturating_duration_since(deadline)
                    .as_nanos() as u64,
            );
        }
        late
    })
    .expect("fate reactor run");
    report(late, t0.elapsed(), "fate sleep_until, one task")
}

/// `tokio::time::sleep_until` in one task on a current-thread runtime.
pub(crate) fn tokio(args: &Args) -> Report {
    let n: usize = args.get("n");
    let d = Duration::from_secs_f64(args.get::<f64>("ms") / 1000.0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let t0 = Instant::now();
    let late = rt.block_on(async move {
        let mut late = Vec::with_capacity(n);
        for _ in 0..n {
            let deadline = Instant::now() + d;
            tokio::time::sleep_until(deadline.into()).await;
            late.push(
                Instant::now()
                    .saturating_duration_since(deadline)
                    .as_nanos() as u64,
            );
        }
        late
    });
    report(
        late,
        t0.elapsed(),
        "tokio time::sleep_until, current_thread",
    )
}
