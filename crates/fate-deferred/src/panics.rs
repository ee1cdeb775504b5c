//! A per-thread count of the panics that Fate's panic boundaries caught.
//!
//! A panic is slow to report: the panic hook prints its message and, with `RUST_BACKTRACE`
//! set, a symbolized backtrace, which takes tens to hundreds of milliseconds in a debug
//! build. The reactor's loop watchdog reads this count before and after each run of user
//! code, and does not blame a run in which a boundary caught a panic for the time it took:
//! the panic is reported already. Every boundary on a loop thread — the reactor's, a
//! Deferred handler's, a spawned future's, a cross-worker call's — catches with
//! [`catch_panic`], which counts here, in this lowest crate, so the count is one whichever
//! crate caught it.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static CAUGHT: Cell<u64> = const { Cell::new(0) };
}

/// Fate's panic boundary: `catch_unwind`, counting a caught panic on this thread.
///
/// For Fate's own crates; a user's `catch_unwind` need not use it.
#[doc(hidden)]
#[inline(always)]
pub fn catch_panic<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    let caught = catch_unwind(AssertUnwindSafe(f));
    if caught.is_err() {
        note_caught_panic();
    }
    caught
}

#[cold]
pub(crate) fn note_caught_panic() {
    let _ = CAUGHT.try_with(|c| c.set(c.get() + 1));
}

/// How many panics Fate's panic boundaries caught on this thread so far.
///
/// (Both are plumbing between Fate's crates, hidden from the docs; the reactor's watchdog
/// tests check what they are for.)
#[doc(hidden)]
pub fn caught_panics() -> u64 {
    CAUGHT.try_with(Cell::get).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_caught_by_a_handler_or_producer_is_counted_on_its_thread() {
        let before = caught_panics();
        let d = crate::maybe_deferred(|| -> u32 { panic!("a bad producer") });
        assert!(d.try_result().is_ok_and(|r| r.is_err()));
        let d = crate::succeed(1).add_callback(|_: u32| -> u32 { panic!("a bad callback") });
        assert!(d.try_result().is_ok_and(|r| r.is_err()));
        assert_eq!(caught_panics(), before + 2);
        std::thread::spawn(|| assert_eq!(caught_panics(), 0))
            .join()
            .unwrap();
        assert!(catch_panic(|| panic!("caught here")).is_err());
        assert!(catch_panic(|| 1).is_ok());
        assert_eq!(caught_panics(), before + 3);
    }
}
