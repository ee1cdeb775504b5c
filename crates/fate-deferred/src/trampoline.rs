//! The trampoline: processes callback chains iteratively (twisted-semantics 2.4).
//!
//! One loop drives one chain at a time. Handing a result from an inner Deferred to the outer
//! Deferred waiting on it *switches* the loop to the outer chain instead of recursing, so
//! neither a million callbacks nor a million nested Deferreds grow the stack. A continuation is
//! always the last node of its inner chain (the inner handle was moved into the callback's
//! return), so after a hand-off the inner chain has nothing left and need not be revisited.
//!
//! We differ from Twisted on one quirk (Q2): Twisted stops the whole loop when the outer chain
//! turns out to be user-paused, stranding the inner chain's later callbacks; here the inner
//! chain has none, and the outer simply resumes on `unpause()`.

use std::rc::Rc;

use crate::chain::{Chain, State, Step};

/// Processes `chain` (and every outer chain it hands results to) until each is idle, paused,
/// or already being processed by an outer loop (which will pick the new work up, D8).
pub(crate) fn run(chain: Rc<dyn Chain>) {
    let mut cur = chain;
    while let Some(outer) = run_one(&cur) {
        cur = outer;
    }
}

/// Runs `chain` when it is fired, unpaused and not already running.
#[inline]
pub(crate) fn run_if_runnable(chain: &Rc<dyn Chain>) {
    if chain.state().runnable() {
        run(chain.clone());
    }
}

/// Clears `running` even if a user `Drop` panics mid-loop.
struct Running<'a>(&'a State);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.set(false);
    }
}

/// Advances one chain's cursor until it is idle or paused; returns an outer chain that a
/// continuation handed a result to.
fn run_one(chain: &Rc<dyn Chain>) -> Option<Rc<dyn Chain>> {
    let st = chain.state();
    if !st.runnable() {
        return None;
    }
    st.running.set(true);
    let _running = Running(st);
    while !st.is_paused() {
        let step = if st.at_head.get() {
            chain.advance_head(chain)
        } else {
            match st.cursor.take() {
                Some(node) => {
                    let step = node.advance(chain);
                    if let Step::Idle = step {
                        st.cursor.set(Some(node));
                    }
                    step
                }
                None => Step::Idle,
            }
        };
        match step {
            Step::Idle => return None,
            Step::Continue => st.at_head.set(false),
            Step::Resume(outer) => {
                st.at_head.set(false);
                return Some(outer);
            }
        }
    }
    None
}
