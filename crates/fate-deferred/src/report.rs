//! Where the deferred layer's reports go: to the program's `tracing` subscriber when it has
//! one, else straight to stderr — an unhandled failure is never silent.

use std::fmt;

/// Whether a `tracing` subscriber (global, or scoped to this thread) would receive events.
pub(crate) fn subscriber_installed() -> bool {
    tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>())
}

/// Writes one report to stderr (`eprint!`, so a test harness captures it like other output).
pub(crate) fn to_stderr(report: &str) {
    eprintln!("fate: {}", report.trim_end());
}

/// Reports an error of the deferred layer: a `tracing` error event (target `fate::deferred`)
/// when a subscriber is installed, else a block on stderr.
pub(crate) fn error(report: fmt::Arguments<'_>) {
    if subscriber_installed() {
        tracing::error!(target: "fate::deferred", "{report}");
    } else {
        to_stderr(&report.to_string());
    }
}
