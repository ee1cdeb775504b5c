//! `spawn-process`: run N `/bin/echo hi` children, at most `--concurrency` at once, each
//! one's stdout and stderr captured and its exit status collected.
//!
//! `n` = processes; `secs` = first spawn .. last child reaped and read; `ops_per_sec` =
//! processes/s. The exec of each child dominates wall time, so the figure that compares
//! frameworks is `server_cpu_us_per_op`: this process's own CPU (all threads, `RUSAGE_SELF`,
//! children excluded) per child. `children_cpu_us_per_op` is the children's, for scale.
//! The check: every child exited 0 and printed exactly "hi\n".
//!
//! A fate implementation times the same thing between two [`Meter`] readings and returns
//! [`report`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fate::process::{self, ExitStatus, ProcessProtocol};
use tokio::process::Command;
use tokio::sync::Semaphore;

use crate::args::{Args, Flag};
use crate::measure;
use crate::report::Report;
use crate::workloads::{fail, Impl, Workload};

pub(crate) const WORKLOAD: Workload = Workload {
    name: "spawn-process",
    about: "N `/bin/echo hi` children, at most --concurrency at once, output captured",
    flags: &[
        Flag::value("n", "500", "children to run"),
        Flag::value("concurrency", "32", "children alive at once, at most"),
    ],
    impls: &[
        (Impl::Fate, fate),
        (Impl::FateAsync, fate_async),
        (Impl::Tokio, tokio),
    ],
};

/// The program each child runs, and what it must print.
pub(crate) const PROGRAM: &str = "/bin/echo";
pub(crate) const ARG: &str = "hi";
pub(crate) const OUTPUT: &[u8] = b"hi\n";

/// Wall clock, this process's CPU and its reaped children's CPU, read together.
#[derive(Clone, Copy)]
pub(crate) struct Meter {
    wall: Instant,
    cpu: Duration,
    children: Duration,
}

impl Meter {
    pub(crate) fn now() -> Meter {
        Meter {
            wall: Instant::now(),
            cpu: measure::process_cpu(),
            children: measure::children_cpu(),
        }
    }
}

/// Checks that `succeeded == --n` (exit status 1 otherwise) and builds the report for the
/// run between `start` and `end`.
pub(crate) fn report(
    args: &Args,
    succeeded: usize,
    start: Meter,
    end: Meter,
    peer: &str,
) -> Report {
    let n: usize = args.get("n");
    if succeeded != n {
        fail(
            "spawn-process",
            format!("{succeeded} of {n} children exited 0 printing {OUTPUT:?}"),
        );
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n.max(1) as f64;
    Report::new(n as u64, end.wall - start.wall)
        .with("peer", peer)
        .with("concurrency", args.get::<u64>("concurrency"))
        .with_us("server_cpu_us_per_op", per(end.cpu - start.cpu))
        .with_us("children_cpu_us_per_op", per(end.children - start.children))
}

/// One task per child on a current-thread runtime, a `Semaphore` bounding how many run at
/// once, `tokio::process::Command::output()` capturing (shared/peers w5_tokio_spawn).
pub(crate) fn tokio(args: &Args) -> Report {
    let n: usize = args.get("n");
    let concurrency: usize = args.get("concurrency");
    if concurrency == 0 {
        fail("spawn-process", "--concurrency must be at least 1");
    }
    let rt = crate::workloads::tokio_runtime();
    let (succeeded, start, end) = rt.block_on(async move {
        let start = Meter::now();
        let permits = Arc::new(Semaphore::new(concurrency));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let permits = permits.clone();
            set.spawn(async move {
                let _permit = permits.acquire_owned().await.expect("semaphore open");
                let out = Command::new(PROGRAM).arg(ARG).output().await;
                out.is_ok_and(|o| o.status.success() && o.stdout == OUTPUT)
            });
        }
        let mut succeeded = 0;
        while let Some(ok) = set.join_next().await {
            if ok.expect("child task panicked") {
                succeeded += 1;
            }
        }
        (succeeded, start, Meter::now())
    });
    report(
        args,
        succeeded,
        start,
        end,
        "tokio::process, current_thread",
    )
}

/// State shared by the fate children: how many are left to start, running and done well.
struct Crowd {
    to_start: Cell<usize>,
    running: Cell<usize>,
    succeeded: Cell<usize>,
    end: RefCell<Option<Meter>>,
}

/// One child: collects stdout and stderr; when it has ended, checks them and starts the
/// next child in its place.
struct Echo {
    crowd: Rc<Crowd>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl ProcessProtocol for Echo {
    fn out_received(&mut self, data: &[u8]) {
        self.stdout.extend_from_slice(data);
    }

    fn err_received(&mut self, data: &[u8]) {
        self.stderr.extend_from_slice(data);
    }

    fn process_ended(&mut self, status: ExitStatus) {
        let crowd = &self.crowd;
        if status.success() && self.stdout == OUTPUT && self.stderr.is_empty() {
            crowd.succeeded.set(crowd.succeeded.get() + 1);
        }
        crowd.running.set(crowd.running.get() - 1);
        start_one(crowd);
        if crowd.running.get() == 0 {
            *crowd.end.borrow_mut() = Some(Meter::now());
        }
    }
}

/// Starts the next child if any is left.
fn start_one(crowd: &Rc<Crowd>) {
    let left = crowd.to_start.get();
    if left == 0 {
        return;
    }
    crowd.to_start.set(left - 1);
    crowd.running.set(crowd.running.get() + 1);
    let echo = Echo {
        crowd: crowd.clone(),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let spawned = process::Command::new(PROGRAM)
        .arg(ARG)
        // stdin inherited, as tokio's `output()` leaves it.
        .stdin(process::Stdio::Inherit)
        .spawn(echo);
    if let Err(e) = spawned {
        fail("spawn-process", e);
    }
}

/// `--concurrency` children started at once, each `ProcessProtocol` starting the next from
/// `process_ended`; stdout and stderr captured; pidfd exit watching.
pub(crate) fn fate(args: &Args) -> Report {
    let n: usize = args.get("n");
    let concurrency: usize = args.get("concurrency");
    if concurrency == 0 {
        fail("spawn-process", "--concurrency must be at least 1");
    }
    let reactor = fate::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("fate reactor");
    let crowd = Rc::new(Crowd {
        to_start: Cell::new(n),
        running: Cell::new(0),
        succeeded: Cell::new(0),
        end: RefCell::new(None),
    });
    let start = Meter::now();
    let c = crowd.clone();
    reactor.call_soon(move || {
        for _ in 0..concurrency {
            start_one(&c);
        }
    });
    reactor.run_until_idle().expect("fate reactor ran");
    let end = crowd.end.borrow_mut().take().unwrap_or_else(Meter::now);
    report(
        args,
        crowd.succeeded.get(),
        start,
        end,
        "fate ProcessProtocol, pidfd",
    )
}

/// One task per child on a fate reactor, a `DeferredSemaphore` bounding how many run at
/// once, `Command::output()` awaited: the async/await form, shaped like the tokio peer.
pub(crate) fn fate_async(args: &Args) -> Report {
    let n: usize = args.get("n");
    let concurrency: usize = args.get("concurrency");
    let Ok(permits) = fate::deferred::DeferredSemaphore::new(concurrency) else {
        fail("spawn-process", "--concurrency must be at least 1");
    };
    let reactor = fate::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("fate reactor");
    let (succeeded, start, end) = reactor
        .block_on(async move {
            let start = Meter::now();
            let children: Vec<_> = (0..n)
                .map(|_| {
                    let permits = permits.clone();
                    fate::spawn_local(async move {
                        let _permit = permits.acquire().await.ok()?;
                        let out = process::Command::new(PROGRAM)
                            .arg(ARG)
                            .stdin(process::Stdio::Inherit)
                            .output()
                            .await
                            .ok()?;
                        Some(out.status.success() && out.stdout == OUTPUT)
                    })
                })
                .collect();
            let mut succeeded = 0;
            for child in children {
                if matches!(child.await, Ok(Some(true))) {
                    succeeded += 1;
                }
            }
            (succeeded, start, Meter::now())
        })
        .expect("fate reactor ran");
    report(
        args,
        succeeded,
        start,
        end,
        "fate Command::output().await, DeferredSemaphore",
    )
}
