//! The trampoline: processes callback chains iteratively (twisted-semantics 2.4).
//!
//! One loop drives one chain at a time. Handing a result from an inner Deferred to the outer
//! Deferred waiting on it *switches* the loop to the outer chain instead of recursing, so
//! neither a million callbacks nor a million nested Deferreds grow the stack. A continuation is
//! always the last stage of its inner chain (the inner handle was moved into the callback's
//! return), so after a hand-off the inner chain has nothing left and need not be revisited.
//!
//! We differ from Twisted on one quirk (Q2): Twisted stops the whole loop when the outer chain
//! turns out to be user-paused, stranding the inner chain's later callbacks; here the inner
//! chain has none, and the outer simply resumes on `unpause()`.

use std::rc::Rc;

use crate::chain::{park, Chain, Held, State};
use crate::head::Head;
use crate::stage::ChainRef;
use crate::Failure;

/// Processes `chain` (and every outer chain it hands results to) until each is idle, paused,
/// or already being processed by an outer loop (which will pick the new work up, D8).
pub(crate) fn run(chain: Rc<Chain>) {
    let mut cur = chain;
    while let Some(outer) = run_one(&cur) {
        cur = outer;
    }
}

/// Runs `chain` when it is fired, unpaused and not already running.
#[inline]
pub(crate) fn run_if_runnable(chain: &Rc<Chain>) {
    if chain.state.runnable() {
        run(chain.clone());
    }
}

/// Clears `running` even if a user `Drop` panics mid-loop.
struct Running<'a>(&'a State);

impl Drop for Running<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.set_running(false);
    }
}

/// Runs a chain its producer just fired with `result`: the first stage takes it straight
/// from here, so it is parked only if nothing is queued or the chain is paused.
#[inline]
pub(crate) fn run_fired<T: 'static>(head: &Rc<Head<T>>, result: Result<T, Failure>) {
    let st = &head.state;
    if !st.runnable() {
        park(&**head, result);
        return;
    }
    let outer = {
        st.set_running(true);
        let _running = Running(st);
        match st.pop_stage() {
            Some(entry) => {
                let chain: Rc<Chain> = head.clone();
                // The block reached through the typed head: no vtable lookup.
                let here = ChainRef {
                    rc: &chain,
                    state: st,
                };
                let mut input = Some(result);
                match entry.run(Some(&mut input), here, 0) {
                    Some(outer) => Some(outer),
                    None if !st.has_stages() => None,
                    None => drive(&chain),
                }
            }
            None => {
                park(&**head, result);
                None
            }
        }
    };
    if let Some(outer) = outer {
        run(outer);
    }
}

/// Runs one chain's queued stages on its parked result until it is idle, paused or waiting;
/// returns an outer chain that a continuation handed a result to.
fn run_one(chain: &Rc<Chain>) -> Option<Rc<Chain>> {
    let st = &chain.state;
    if !st.runnable() {
        return None;
    }
    st.set_running(true);
    let _running = Running(st);
    drive(chain)
}

/// The loop of a running chain. Each stage hands its result on to the next by itself, up to
/// a depth; this loop resumes where that stopped.
fn drive(chain: &Rc<Chain>) -> Option<Rc<Chain>> {
    let st = &chain.state;
    while !st.is_paused() && st.held() != Held::Nothing {
        let entry = st.pop_stage()?;
        if let Some(outer) = entry.run(None, ChainRef::new(chain), 0) {
            return Some(outer);
        }
    }
    None
}
