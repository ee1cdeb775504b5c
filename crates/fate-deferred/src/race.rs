//! `race` and `first_success`: the first input to succeed wins (twisted-semantics 2.12).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::error::FailureGroup;
use crate::list::cancel_all;
use crate::{Control, Deferred, Failure, Fire};

/// Fires with `(index, value)` of the first input to **succeed**, then cancels every other
/// input exactly once (Twisted's `race`).
///
/// - Inputs that succeed after the winner (say, ignoring cancellation) are ignored.
/// - If every input fails, errbacks with [`FailureGroup`], failures in input order; an
///   empty input list does so at once.
/// - Cancelling the race cancels every input; the outcome is then usually a `FailureGroup`
///   of `Cancelled`s.
/// - The inputs' failures are handled by the race (never reported as unhandled).
///
/// # Examples
/// ```
/// use fate::deferred::{race, Deferred};
/// let (slow, _fire_slow) = Deferred::<&str>::pending();
/// let (fast, fire_fast) = Deferred::<&str>::pending();
/// let slow_ctl = slow.control();
/// let winner = race([slow, fast]);
/// fire_fast.callback("fast");
/// assert_eq!(winner.try_result().ok().and_then(|r| r.ok()), Some((1, "fast")));
/// assert!(slow_ctl.is_called()); // cancelled
/// ```
#[track_caller]
pub fn race<T: 'static>(inputs: impl IntoIterator<Item = Deferred<T>>) -> Deferred<(usize, T)> {
    first(inputs.into_iter().collect(), true)
}

/// Like [`race`], but the other inputs are left running (not cancelled) after the first
/// success: for when the losers must still finish (writes to replicas, cache warming), while
/// the caller proceeds with the first answer. Their later outcomes are consumed quietly.
///
/// # Examples
/// ```
/// use fate::deferred::{first_success, Deferred};
/// let (a, fire_a) = Deferred::<i64>::pending();
/// let (b, fire_b) = Deferred::<i64>::pending();
/// let a_ctl = a.control();
/// let first = first_success([a, b]);
/// fire_b.callback(2);
/// assert_eq!(first.try_result().ok().and_then(|r| r.ok()), Some((1, 2)));
/// assert!(!a_ctl.is_called()); // still running
/// fire_a.callback(1);
/// ```
#[track_caller]
pub fn first_success<T: 'static>(
    inputs: impl IntoIterator<Item = Deferred<T>>,
) -> Deferred<(usize, T)> {
    first(inputs.into_iter().collect(), false)
}

#[track_caller]
fn first<T: 'static>(inputs: Vec<Deferred<T>>, cancel_losers: bool) -> Deferred<(usize, T)> {
    let controls: Rc<[Control]> = inputs.iter().map(Deferred::control).collect();
    let cancel_controls = controls.clone();
    let (d, fire) = Deferred::with_canceller(move |_fire| cancel_all(&cancel_controls, None));
    let n = inputs.len();
    let state = Rc::new(RaceState {
        fire: RefCell::new(Some(fire)),
        failures: RefCell::new((0..n).map(|_| None).collect()),
        remaining: Cell::new(n),
        controls: if cancel_losers { Some(controls) } else { None },
    });
    if n == 0 {
        state.all_failed();
    }
    for (index, input) in inputs.into_iter().enumerate() {
        let state = state.clone();
        let _observed: Deferred<()> = input.add_both(move |r| state.arrive(index, r));
    }
    d
}

/// What every input's observer shares.
struct RaceState<T: 'static> {
    /// The race's firing end; taken by the winner (or the last failure).
    fire: RefCell<Option<Fire<(usize, T)>>>,
    /// Each input's failure, for the `FailureGroup`.
    failures: RefCell<Vec<Option<Failure>>>,
    /// Inputs still to fire.
    remaining: Cell<usize>,
    /// The inputs, to cancel the losers (`race`), or `None` (`first_success`).
    controls: Option<Rc<[Control]>>,
}

impl<T: 'static> RaceState<T> {
    fn arrive(&self, index: usize, result: Result<T, Failure>) {
        self.remaining.set(self.remaining.get().saturating_sub(1));
        match result {
            Ok(value) => {
                let fire = self.fire.borrow_mut().take();
                if let Some(fire) = fire {
                    fire.try_callback((index, value)).ok();
                    if let Some(controls) = &self.controls {
                        cancel_all(controls, Some(index));
                    }
                }
            }
            Err(failure) => {
                if let Some(slot) = self.failures.borrow_mut().get_mut(index) {
                    *slot = Some(failure);
                }
                if self.remaining.get() == 0 {
                    self.all_failed();
                }
            }
        }
    }

    fn all_failed(&self) {
        let fire = self.fire.borrow_mut().take();
        if let Some(fire) = fire {
            let failures = std::mem::take(&mut *self.failures.borrow_mut())
                .into_iter()
                .flatten()
                .collect();
            fire.try_errback(FailureGroup::new(failures)).ok();
        }
    }
}
