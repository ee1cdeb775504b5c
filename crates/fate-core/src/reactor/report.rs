//! Where the reactor reports what went wrong in user code (a panicking callback, task or
//! handler; a failed shutdown trigger): the program's `tracing` subscriber when it installed
//! one, else stderr — never nowhere.

use std::fmt;

/// Whether a `tracing` subscriber (global, or scoped to this thread) would receive events.
pub(crate) fn subscriber_installed() -> bool {
    tracing::dispatcher::get_default(|d| !d.is::<tracing::subscriber::NoSubscriber>())
}

/// Reports an error: a `tracing` error event (target `fate::reactor`) when a subscriber is
/// installed, else one line on stderr (`eprintln!`, so test harnesses capture it).
pub(crate) fn error(report: fmt::Arguments<'_>) {
    if subscriber_installed() {
        tracing::error!(target: "fate::reactor", "{report}");
    } else {
        eprintln!("fate: {report}");
    }
}
