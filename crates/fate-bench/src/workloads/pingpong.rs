//! `pingpong`: two tasks wake each other N times through a shared counter and stored wakers.
//!
//! Task `me` (0 or 1) waits until the counter's parity is `me`, bumps it and wakes the other
//! task's stored `Waker` (`wake_by_ref`; a task clones its waker into the slot only when the
//! stored one does not `will_wake`). `n` = wakes; `secs` = both tasks spawned .. both done,
//! so `secs / n` is one wake plus one poll. The check: the counter ends at exactly N.
//!
//! A fate implementation runs the same two tasks (for `fate-async`: [`player`] itself) and
//! returns [`report`].

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use crate::args::{Args, Flag};
use crate::measure;
use crate::report::Report;
use crate::workloads::{fail, Impl, Workload};

pub(crate) const WORKLOAD: Workload = Workload {
    name: "pingpong",
    about: "two tasks wake each other N times through a Cell and stored Wakers",
    flags: &[Flag::value("n", "1000000", "wakes")],
    impls: &[(Impl::Fate, fate), (Impl::Tokio, tokio)],
};

/// What the two tasks share.
#[derive(Default)]
pub(crate) struct Table {
    /// Wakes done so far; task `count % 2` plays next.
    count: Cell<u64>,
    /// Each task's last-registered waker.
    wakers: [RefCell<Option<Waker>>; 2],
}

impl Table {
    /// Wakes done so far.
    pub(crate) fn count(&self) -> u64 {
        self.count.get()
    }
}

/// One of the two players, for any executor: runs until the counter reaches `n`.
pub(crate) async fn player(table: Rc<Table>, me: usize, n: u64) {
    let other = 1 - me;
    loop {
        poll_fn(|cx| {
            let c = table.count.get();
            if c >= n || c % 2 == me as u64 {
                return Poll::Ready(());
            }
            let mut slot = table.wakers[me].borrow_mut();
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await;
        let c = table.count.get();
        if c < n {
            table.count.set(c + 1);
        }
        // Also on the way out, so the other player sees the end.
        if let Some(w) = table.wakers[other].borrow().as_ref() {
            w.wake_by_ref();
        }
        if c + 1 >= n {
            return;
        }
    }
}

/// Checks the final count (exit status 1 unless it is `n`) and builds the report.
pub(crate) fn report(n: u64, count: u64, elapsed: Duration, cpu: Duration, peer: &str) -> Report {
    if count != n {
        fail("pingpong", format!("counter ended at {count}, want {n}"));
    }
    Report::new(n, elapsed)
        .with("peer", peer)
        .with_us("cpu_us_per_op", cpu.as_secs_f64() * 1e6 / n.max(1) as f64)
}

/// Both players spawned with `LocalSet::spawn_local` on a current-thread runtime.
pub(crate) fn tokio(args: &Args) -> Report {
    let n: u64 = args.get("n");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let table = Rc::new(Table::default());
    let t = table.clone();
    let (elapsed, cpu) = local.block_on(&rt, async move {
        let cpu0 = measure::thread_cpu();
        let t0 = Instant::now();
        let a = tokio::task::spawn_local(player(t.clone(), 0, n));
        let b = tokio::task::spawn_local(player(t, 1, n));
        a.await.expect("player 0");
        b.await.expect("player 1");
        (t0.elapsed(), measure::thread_cpu() - cpu0)
    });
    report(
        n,
        table.count(),
        elapsed,
        cpu,
        "tokio LocalSet::spawn_local, current_thread",
    )
}

/// Both players spawned with `fate::task::spawn_local` on a fate reactor.
pub(crate) fn fate(args: &Args) -> Report {
    let n: u64 = args.get("n");
    let reactor = fate::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("fate reactor");
    let table = Rc::new(Table::default());
    let t = table.clone();
    let (elapsed, cpu) = reactor
        .block_on(async move {
            let cpu0 = measure::thread_cpu();
            let t0 = Instant::now();
            let a = fate::task::spawn_local(player(t.clone(), 0, n));
            let b = fate::task::spawn_local(player(t, 1, n));
            a.await.expect("player 0");
            b.await.expect("player 1");
            (t0.elapsed(), measure::thread_cpu() - cpu0)
        })
        .expect("fate reactor run");
    report(n, table.count(), elapsed, cpu, "fate task::spawn_local")
}
