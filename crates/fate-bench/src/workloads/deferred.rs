//! `deferred`: N Deferreds, each given callbacks x+1, x*2, x-3, fired with its index and read.
//!
//! By default one is alive at a time (create, add the 3 callbacks, fire, read); `--batch`
//! creates all N with their callbacks first, then fires and reads them all. `n` = Deferreds;
//! `secs` = the whole loop. The check: the results sum to Σ(2(i+1)-3) = n² - 2n. In batch
//! mode `bytes_per_deferred` is the peak resident memory the loop added per Deferred (the
//! pending Deferred, its firing end and its callbacks).
//!
//! A fate implementation runs the same loop and returns [`report`].

use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::FutureExt;

use crate::args::{Args, Flag};
use crate::measure;
use crate::report::{round, Report};
use crate::workloads::{fail, Impl, Workload};

pub(crate) const WORKLOAD: Workload = Workload {
    name: "deferred",
    about: "N Deferreds with callbacks x+1, x*2, x-3, fired with their index; sum checked",
    flags: &[
        Flag::value("n", "1000000", "Deferreds"),
        Flag::switch(
            "batch",
            "create all N first, then fire them (default: one at a time)",
        ),
    ],
    impls: &[(Impl::Fate, fate), (Impl::Tokio, tokio)],
};

/// The expected sum of all results.
pub(crate) fn expected_sum(n: u64) -> i64 {
    let n = n as i64;
    n * n - 2 * n
}

/// The `mode` field: "batch" or "interleaved".
pub(crate) fn mode(args: &Args) -> &'static str {
    if args.switch("batch") {
        "batch"
    } else {
        "interleaved"
    }
}

/// Checks `sum` (exit status 1 unless it is [`expected_sum`]) and builds the report.
pub(crate) fn report(
    args: &Args,
    sum: i64,
    elapsed: Duration,
    cpu: Duration,
    footprint: measure::Footprint,
    peer: &str,
) -> Report {
    let n: u64 = args.get("n");
    if sum != expected_sum(n) {
        fail("deferred", format!("sum {sum}, want {}", expected_sum(n)));
    }
    let report = Report::new(n, elapsed)
        .with("peer", peer)
        .with("mode", mode(args))
        .with_us("cpu_us_per_op", cpu.as_secs_f64() * 1e6 / n.max(1) as f64);
    if args.switch("batch") {
        report.with("bytes_per_deferred", round(footprint.bytes_per(n), 1))
    } else {
        report
    }
}

/// A futures oneshot receiver with the three callbacks as `map`s: a Deferred's tokio-side
/// equivalent (fire = `send`, read = await).
fn chain(rx: oneshot::Receiver<i64>) -> impl std::future::Future<Output = i64> {
    rx.map(|r| r.expect("sender dropped") + 1)
        .map(|x| x * 2)
        .map(|x| x - 3)
}

/// futures `oneshot` + `map` chains awaited inside a tokio `LocalSet` on a current-thread
/// runtime. Batch mode keeps the N chains in a `Vec` and awaits them after firing all:
/// 0.23–0.30 s for 10^6, against 0.71–1.15 s when each chain is a spawned task parked on its
/// receiver (shared/peers w2_rust_chain `--exec tokio`), so the faster form is the peer.
pub(crate) fn tokio(args: &Args) -> Report {
    let n: usize = args.get("n");
    let batch = args.switch("batch");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let footprint = measure::Footprint::start();
    let (sum, elapsed, cpu) = local.block_on(&rt, async move {
        let cpu0 = measure::thread_cpu();
        let t0 = Instant::now();
        let mut sum = 0i64;
        if batch {
            let mut senders = Vec::with_capacity(n);
            let mut chains = Vec::with_capacity(n);
            for _ in 0..n {
                let (tx, rx) = oneshot::channel::<i64>();
                senders.push(tx);
                chains.push(chain(rx));
            }
            for (i, tx) in senders.into_iter().enumerate() {
                tx.send(i as i64).expect("receiver alive");
            }
            for chain in chains {
                sum += chain.await;
            }
        } else {
            for i in 0..n {
                let (tx, rx) = oneshot::channel::<i64>();
                let chain = chain(rx);
                tx.send(i as i64).expect("receiver alive");
                sum += chain.await;
            }
        }
        (sum, t0.elapsed(), measure::thread_cpu() - cpu0)
    });
    report(
        args,
        sum,
        elapsed,
        cpu,
        footprint,
        "futures oneshot + map, tokio LocalSet",
    )
}

/// `Deferred::pending()` with the three callbacks, fired with `callback(i)` and read with
/// `try_result`: the Twisted form. Batch mode keeps the N Deferreds and their firing ends in
/// two `Vec`s, fires all, then reads all, as the peer does with its chains.
pub(crate) fn fate(args: &Args) -> Report {
    use fate::deferred::Deferred;

    /// One Deferred with the workload's callbacks, and its firing end.
    fn chain() -> (Deferred<i64>, fate::deferred::Fire<i64>) {
        let (d, fire) = Deferred::<i64>::pending();
        let d = d
            .add_callback(|x: i64| x + 1)
            .add_callback(|x: i64| x * 2)
            .add_callback(|x: i64| x - 3);
        (d, fire)
    }

    /// The result of a fired Deferred; any other state fails the run.
    fn read(d: Deferred<i64>) -> i64 {
        match d.try_result() {
            Ok(Ok(v)) => v,
            Ok(Err(f)) => fail("deferred", format!("failed: {f}")),
            Err(_) => fail("deferred", "no result after firing"),
        }
    }

    let n: usize = args.get("n");
    let batch = args.switch("batch");
    let footprint = measure::Footprint::start();
    let cpu0 = measure::thread_cpu();
    let t0 = Instant::now();
    let mut sum = 0i64;
    if batch {
        let mut fires = Vec::with_capacity(n);
        let mut ds = Vec::with_capacity(n);
        for _ in 0..n {
            let (d, fire) = chain();
            fires.push(fire);
            ds.push(d);
        }
        for (i, fire) in fires.into_iter().enumerate() {
            if fire.try_callback(i as i64).is_err() {
                fail("deferred", "fired twice");
            }
        }
        for d in ds {
            sum += read(d);
        }
    } else {
        for i in 0..n {
            let (d, fire) = chain();
            if fire.try_callback(i as i64).is_err() {
                fail("deferred", "fired twice");
            }
            sum += read(d);
        }
    }
    let (elapsed, cpu) = (t0.elapsed(), measure::thread_cpu() - cpu0);
    report(
        args,
        sum,
        elapsed,
        cpu,
        footprint,
        "fate Deferred::pending + add_callback, fired with callback",
    )
}
