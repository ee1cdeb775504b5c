//! The workloads and the registry of implementations each one has.
//!
//! A workload module owns its parameters, its checks and its report, and registers its
//! implementations in its `WORKLOAD` constant:
//!
//! ```text
//! pub(crate) const WORKLOAD: Workload = Workload {
//!     name: "timers",
//!     about: "...",
//!     flags: &[Flag::value("n", "1000000", "timers to schedule"), ...],
//!     impls: &[(Impl::Fate, fate), (Impl::Tokio, tokio)],
//! };
//! ```
//!
//! Adding an implementation is one `pub(crate) fn NAME(args: &Args) -> Report` (in the
//! workload's file, or in its own file under `src/workloads/WORKLOAD/`) plus one entry in
//! `impls`. `--impl all` runs them in [`Impl`] order: fate, fate-async, tokio, tokio-reuseport
//! (with `--threads` > 1: fate, tokio, tokio-reuseport; see [`Impl::runs_when`]).

use crate::args::{Args, Flag};
use crate::report::Report;

pub(crate) mod conns;
pub(crate) mod db;
pub(crate) mod deferred;
pub(crate) mod echo;
pub(crate) mod http;
pub(crate) mod pingpong;
pub(crate) mod sleep;
pub(crate) mod spawn;
pub(crate) mod spawn_process;
pub(crate) mod timer_churn;
pub(crate) mod timers;

/// Every workload, in `--help` order.
pub(crate) const ALL: &[Workload] = &[
    timers::WORKLOAD,
    timer_churn::WORKLOAD,
    spawn::WORKLOAD,
    pingpong::WORKLOAD,
    sleep::WORKLOAD,
    deferred::WORKLOAD,
    echo::WORKLOAD,
    http::WORKLOAD,
    spawn_process::WORKLOAD,
    conns::WORKLOAD,
    db::WORKLOAD,
];

/// Runs one implementation once and reports what it measured; panics (or exits) rather than
/// report a run whose result failed its check.
pub(crate) type Run = fn(&Args) -> Report;

/// A benchmark: its flags and the implementations that exist for it.
pub(crate) struct Workload {
    /// The name on the command line and in the JSON `workload` field.
    pub(crate) name: &'static str,
    /// One line for `--help`.
    pub(crate) about: &'static str,
    /// Size and mode flags, with defaults (DESIGN.md section 10).
    pub(crate) flags: &'static [Flag],
    /// The implementations written so far, any order.
    pub(crate) impls: &'static [(Impl, Run)],
}

impl Workload {
    /// The implementation named `imp`, if this workload has one.
    pub(crate) fn get(&self, imp: Impl) -> Option<Run> {
        self.impls
            .iter()
            .find(|(i, _)| *i == imp)
            .map(|(_, run)| *run)
    }

    /// Every implementation this workload has, in [`Impl`] order.
    pub(crate) fn existing(&self) -> Vec<(Impl, Run)> {
        Impl::ALL
            .iter()
            .filter_map(|&i| self.get(i).map(|run| (i, run)))
            .collect()
    }
}

/// Which side of the comparison an implementation is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Impl {
    /// Fate in its Twisted-style form: callbacks, Protocols, Deferreds.
    Fate,
    /// Fate through async/await, where that form exists.
    FateAsync,
    /// The peer: the tokio-ecosystem construct that does the job best.
    Tokio,
    /// For servers on several threads (`--threads N`), a reference peer: N tokio
    /// current-thread runtimes, one per thread, each on its own `SO_REUSEPORT` socket.
    TokioReuseport,
}

impl Impl {
    /// Every implementation kind, in run order.
    pub(crate) const ALL: [Impl; 4] = [
        Impl::Fate,
        Impl::FateAsync,
        Impl::Tokio,
        Impl::TokioReuseport,
    ];

    /// The name on the command line and in the JSON `impl` field.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Impl::Fate => "fate",
            Impl::FateAsync => "fate-async",
            Impl::Tokio => "tokio",
            Impl::TokioReuseport => "tokio-reuseport",
        }
    }

    /// Whether `--impl all` runs it for a server on several threads (`threaded`, from
    /// `--threads` > 1) or on one: `tokio-reuseport` differs from `tokio` only with several,
    /// and `fate-async` has no form on several.
    pub(crate) fn runs_when(self, threaded: bool) -> bool {
        match self {
            Impl::TokioReuseport => threaded,
            Impl::FateAsync => !threaded,
            Impl::Fate | Impl::Tokio => true,
        }
    }

    /// The kind called `name`.
    pub(crate) fn from_name(name: &str) -> Option<Impl> {
        Impl::ALL.into_iter().find(|i| i.name() == name)
    }
}

/// A current-thread tokio runtime with every driver on: what each tokio peer runs on.
pub(crate) fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("build a current-thread tokio runtime")
}

/// Stops the run with a message on stderr and exit status 1: the run's result failed its
/// check, and no line is printed for it.
pub(crate) fn fail(workload: &str, msg: impl std::fmt::Display) -> ! {
    eprintln!("fate-bench: {workload}: {msg}");
    std::process::exit(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(_: &Args) -> Report {
        Report::from_secs(1, 1.0)
    }

    #[test]
    fn implementations_run_in_impl_order_whatever_the_registry_order() {
        let w = Workload {
            name: "w",
            about: "",
            flags: &[],
            impls: &[(Impl::Tokio, one), (Impl::Fate, one)],
        };
        let order: Vec<_> = w.existing().iter().map(|(i, _)| *i).collect();
        assert_eq!(order, [Impl::Fate, Impl::Tokio]);
        assert!(w.get(Impl::FateAsync).is_none());
    }

    #[test]
    fn names_round_trip_and_workloads_are_unique() {
        for i in Impl::ALL {
            assert_eq!(Impl::from_name(i.name()), Some(i));
        }
        assert_eq!(Impl::from_name("all"), None);
        let mut names: Vec<_> = ALL.iter().map(|w| w.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(ALL.iter().all(|w| w.get(Impl::Tokio).is_some()));
    }
}
