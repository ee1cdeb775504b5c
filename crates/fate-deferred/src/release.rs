//! Iterative drops: a million linked nodes must not be dropped recursively.
//!
//! Dropping a node drops its successor, which drops its successor, ... — recursion as deep as
//! the chain. Every `Drop` that releases a link hands it to [`release`] instead; the outermost
//! call drains a per-thread list in a loop, so the stack depth stays constant.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::chain::{Chain, Node};

/// A link to drop later.
pub(crate) enum Garbage {
    Node(Rc<dyn Node>),
    Chain(Rc<dyn Chain>),
}

impl Garbage {
    /// Whether dropping this would run a nested drop of further links.
    fn deep(&self) -> bool {
        match self {
            Garbage::Node(n) => Rc::strong_count(n) == 1 && n.has_links(),
            Garbage::Chain(c) => Rc::strong_count(c) == 1,
        }
    }
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
    if !garbage.deep() {
        return; // a reference count to decrement, or a shallow drop
    }
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

/// Releases an optional node link.
pub(crate) fn release_node(node: Option<Rc<dyn Node>>) {
    if let Some(n) = node {
        release(Garbage::Node(n));
    }
}
