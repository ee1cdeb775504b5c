//! `fate-bench`: Fate's benchmark workloads, each run against its tokio peer in one process.
//!
//! ```text
//! fate-bench WORKLOAD [--impl fate|fate-async|tokio|all] [size flags]
//! ```
//!
//! prints one JSON line per implementation run (see `README.md` for the fields). The ratio of
//! fate to tokio within one invocation is the figure we quote; absolute numbers move ±25% on
//! a shared 2-core machine.
//!
//! - [`workloads`]: the registry and one module per workload
//! - [`args`]: flag parsing against each workload's declared flags
//! - [`report`]: the JSON line
//! - [`measure`]: thread/process CPU time, peak RSS, percentiles
//! - [`server`], [`loadgen`], [`wrk`]: the server thread and the clients for `echo` and `http`
//! - [`rng`]: SplitMix64, the same as the peer programs'
//! - [`sys`]: the libc calls and the global allocator (the only `unsafe`)
#![deny(unsafe_code)]

mod args;
mod loadgen;
mod measure;
mod report;
mod rng;
mod server;
#[allow(unsafe_code)]
mod sys;
mod workloads;
mod wrk;

use std::io::Write;

/// Every implementation in this process allocates through mimalloc, so neither pays for
/// glibc malloc's slow path when hundreds of thousands of small blocks are alive at once (the
/// `spawn`, `timers` and `deferred --batch` shapes); the comparison stays within one allocator.
/// [`sys::MiMalloc`] says why not the `mimalloc` crate's own `GlobalAlloc`.
#[global_allocator]
static ALLOCATOR: sys::MiMalloc = sys::MiMalloc;

use crate::args::{Args, UsageError};
use crate::workloads::{Impl, Workload};

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let code = match run(&argv) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("fate-bench: {e}");
            2
        }
    };
    std::process::exit(code);
}

fn run(argv: &[String]) -> Result<(), UsageError> {
    let Some(name) = argv.first() else {
        return Err(UsageError(format!("no workload given\n\n{}", usage())));
    };
    if matches!(name.as_str(), "--help" | "-h" | "help") {
        print!("{}", usage());
        return Ok(());
    }
    let Some(workload) = workloads::ALL.iter().find(|w| w.name == name) else {
        return Err(UsageError(format!("unknown workload {name:?}; try --help")));
    };
    let rest = &argv[1..];
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        print!("{}", describe(workload));
        return Ok(());
    }
    let (imp, args) = Args::parse(workload.flags, rest)?;
    let runs = match imp.as_deref().unwrap_or("all") {
        "all" => return run_each_in_a_child(workload, &args, rest),
        name => {
            let Some(imp) = Impl::from_name(name) else {
                return Err(UsageError(format!(
                    "unknown --impl {name:?} (fate, fate-async, tokio, tokio-reuseport or all)"
                )));
            };
            let Some(run) = workload.get(imp) else {
                return Err(UsageError(format!(
                    "no {} implementation of {} yet",
                    imp.name(),
                    workload.name
                )));
            };
            vec![(imp, run)]
        }
    };
    for (imp, run) in runs {
        measure::reset_peak_rss();
        let report = run(&args).with("rss_kb", measure::peak_rss_kb());
        let mut out = std::io::stdout().lock();
        // A closed stdout (e.g. `| head -1`) ends the run quietly.
        if writeln!(out, "{}", report.line(workload.name, imp.name()))
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
    Ok(())
}

/// `--impl all`: runs every implementation of `workload`, one after another, each in a fresh
/// child process of this binary with the same flags.
///
/// In one process the implementation that runs second inherits the first one's warm heap
/// (memory already faulted in and kept by the allocator), which made whichever ran first look
/// slower — for `timers` that is hundreds of megabytes of first-touch page faults. A child per
/// implementation gives each the same cold start, and the runs still share one invocation and
/// one time window.
fn run_each_in_a_child(
    workload: &Workload,
    args: &Args,
    rest: &[String],
) -> Result<(), UsageError> {
    let exe = std::env::current_exe()
        .map_err(|e| UsageError(format!("cannot find this program to re-run it: {e}")))?;
    let mut flags: Vec<&String> = Vec::new();
    let mut skip = false;
    for arg in rest {
        if std::mem::take(&mut skip) {
            continue;
        }
        if arg == "--impl" {
            skip = true;
        } else if !arg.starts_with("--impl=") {
            flags.push(arg);
        }
    }
    let threaded =
        workload.flags.iter().any(|f| f.name == "threads") && args.get::<usize>("threads") > 1;
    for (imp, _) in workload.existing() {
        if !imp.runs_when(threaded) {
            continue;
        }
        let status = std::process::Command::new(&exe)
            .arg(workload.name)
            .args(&flags)
            .args(["--impl", imp.name()])
            .status()
            .map_err(|e| UsageError(format!("cannot run {}: {e}", exe.display())))?;
        if !status.success() {
            std::process::exit(status.code().unwrap_or(1));
        }
    }
    Ok(())
}

fn usage() -> String {
    let mut s = String::from(
        "fate-bench WORKLOAD [--impl fate|fate-async|tokio|tokio-reuseport|all] [size flags]\n\n\
         Prints one JSON line per implementation run: workload, impl, n, secs, ops_per_sec\n\
         and the workload's extras. --impl defaults to all (every implementation that\n\
         exists, one after another in one invocation, each in its own child process
         so none inherits another's warm heap). `fate-bench WORKLOAD --help` for one.\n\n\
         Workloads:\n",
    );
    for w in workloads::ALL {
        s.push('\n');
        s.push_str(&describe(w));
    }
    s
}

fn describe(w: &Workload) -> String {
    let impls: Vec<_> = w.existing().iter().map(|(i, _)| i.name()).collect();
    let mut s = format!(
        "  {}  — {}\n    implementations: {}\n",
        w.name,
        w.about,
        impls.join(", ")
    );
    for f in w.flags {
        let flag = match f.default {
            Some(d) => format!("--{} {d}", f.name),
            None => format!("--{}", f.name),
        };
        s.push_str(&format!("    {flag:<22} {}\n", f.help));
    }
    s
}
