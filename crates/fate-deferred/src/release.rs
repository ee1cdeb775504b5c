//! Iterative drops: a million nested Deferreds must not be dropped recursively.
//!
//! Dropping a chain drops its unrun handlers, whose captures may hold Deferreds whose chains
//! hold handlers ... — recursion as deep as the nesting. A dropped chain hands its handlers to
//! [`release`] instead; the outermost call drains a per-thread list in a loop, so the stack
//! depth stays constant.

use std::cell::{Cell, RefCell};

use std::collections::VecDeque;

use crate::stages::{Entry, Stages};

/// Links to drop later.
pub(crate) enum Garbage {
    /// The handlers a dropped chain never ran, inline and spilled: their captures may own
    /// further chains. Held only to be dropped.
    Stages {
        _inline: Stages,
        _spill: VecDeque<Entry>,
    },
}

thread_local! {
    /// An outer `release` is draining `PENDING`.
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    /// Links whose drop was postponed by a nested `release`.
    static PENDING: RefCell<Vec<Garbage>> = const { RefCell::new(Vec::new()) };
}

/// Resets `DRAINING` even if a user `Drop` panics.
struct DrainGuard;

impl Drop for DrainGuard {
    fn drop(&mut self) {
        let _ = DRAINING.try_with(|d| d.set(false));
    }
}

/// Drops `garbage` without recursing through chains of links.
pub(crate) fn release(garbage: Garbage) {
    match DRAINING.try_with(|d| d.replace(true)) {
        Ok(true) => {
            // On thread teardown the closure (and the garbage) is dropped right here.
            let _ = PENDING.try_with(|p| p.borrow_mut().push(garbage));
        }
        Ok(false) => {
            let _guard = DrainGuard;
            drop(garbage);
            while let Some(next) = PENDING.with(|p| p.borrow_mut().pop()) {
                drop(next);
            }
        }
        Err(_) => drop(garbage),
    }
}
