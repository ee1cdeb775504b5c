//! Deferred debugging (Twisted's `setDebugging`): an opt-in mode that records, as
//! backtraces, where each Deferred was created and first fired, and gives every `Failure` a
//! backtrace; the unhandled-failure and already-called reports show them.
//!
//! Off (the default) it costs one load and branch per Deferred created and fired: a process
//! flag that stays false until some thread turns debugging on.

use std::backtrace::Backtrace;
use std::cell::{Cell, OnceCell};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once any thread turned debugging on; guards the per-thread flag on the fast path.
static EVER_ON: AtomicBool = AtomicBool::new(false);

thread_local! {
    static DEBUGGING: Cell<bool> = const { Cell::new(false) };
}

/// Turns Deferred debugging on or off for this thread (Twisted's `setDebugging`).
///
/// With debugging on:
/// - every Deferred created on this thread records a backtrace of where it was created, and
///   one of where it was first fired; the unhandled-failure report and the report of a
///   second fire show them (without debugging they name the source lines only);
/// - every [`Failure`](crate::Failure) created captures a backtrace even when
///   `RUST_BACKTRACE`/`RUST_LIB_BACKTRACE` are unset.
///
/// Capturing backtraces is slow: turn it on while hunting a lost or doubly fired Deferred.
///
/// # Examples
/// ```
/// use fate::deferred::{debugging, set_debugging, Failure, Cancelled};
///
/// set_debugging(true);
/// let f = Failure::new(Cancelled);
/// assert!(debugging());
/// assert_eq!(f.backtrace().status(), std::backtrace::BacktraceStatus::Captured);
/// set_debugging(false);
/// ```
pub fn set_debugging(on: bool) {
    if on {
        EVER_ON.store(true, Ordering::Relaxed);
    }
    DEBUGGING.with(|d| d.set(on));
}

/// Whether Deferred debugging is on for this thread (see [`set_debugging`]).
///
/// # Examples
/// ```
/// assert!(!fate::deferred::debugging());
/// ```
#[inline]
pub fn debugging() -> bool {
    ever_on() && DEBUGGING.with(|d| d.get())
}

/// Whether any thread ever turned debugging on: the hot paths' one load and branch.
#[inline(always)]
pub(crate) fn ever_on() -> bool {
    EVER_ON.load(Ordering::Relaxed)
}

/// What debugging records about one Deferred.
pub(crate) struct DebugSites {
    created: Backtrace,
    first_fired: OnceCell<Backtrace>,
}

impl DebugSites {
    /// Records the creation site: called while the Deferred is built, with debugging on.
    pub(crate) fn capture() -> DebugSites {
        DebugSites {
            created: Backtrace::force_capture(),
            first_fired: OnceCell::new(),
        }
    }

    /// Records the first firing site (later fires keep the first).
    pub(crate) fn fired(&self) {
        self.first_fired.get_or_init(Backtrace::force_capture);
    }
}

impl fmt::Display for DebugSites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deferred created:\n{}", self.created)?;
        if let Some(fired) = self.first_fired.get() {
            write!(f, "\nDeferred first fired:\n{fired}")?;
        }
        Ok(())
    }
}
