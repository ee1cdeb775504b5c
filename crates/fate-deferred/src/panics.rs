//! A per-thread count of the panics that Fate's panic boundaries caught.
//!
//! A panic is slow to report: the panic hook prints its message and, with `RUST_BACKTRACE`
//! set, a symbolized backtrace, which takes tens to hundreds of milliseconds in a debug
//! build. The reactor's loop watchdog reads this count before and after each run of user
//! code, and does not blame a run in which a boundary caught a panic for the time it took:
//! the panic is reported already. Every boundary on a loop thread — the reactor's, a
//! Deferred handler's, a spawned future's, a cross-worker call's — records what it caught
//! here, in this lowest crate, so the count is one whichever crate caught it.

use std::cell::Cell;

thread_local! {
    static CAUGHT: Cell<u64> = const { Cell::new(0) };
}

/// Records that a panic boundary on this thread caught a panic.
///
/// For Fate's own crates; a user's `catch_unwind` need not call it.
///
/// # Examples
/// ```
/// let before = fate_deferred::caught_panics();
/// fate_deferred::note_caught_panic();
/// assert_eq!(fate_deferred::caught_panics(), before + 1);
/// ```
#[doc(hidden)]
pub fn note_caught_panic() {
    let _ = CAUGHT.try_with(|c| c.set(c.get() + 1));
}

/// How many panics Fate's panic boundaries caught on this thread so far.
///
/// # Examples
/// ```
/// use fate_deferred::{caught_panics, maybe_deferred};
///
/// let before = caught_panics();
/// let d = maybe_deferred(|| -> u32 { panic!("a bad producer") });
/// assert_eq!(caught_panics(), before + 1);
/// assert!(d.try_result().ok().is_some_and(|r| r.is_err()));
/// ```
#[doc(hidden)]
pub fn caught_panics() -> u64 {
    CAUGHT.try_with(Cell::get).unwrap_or(0)
}
