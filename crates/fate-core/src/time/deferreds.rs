//! Deferreds on a timeline: `defer_later` and `add_timeout` (Twisted's `task.deferLater` and
//! `Deferred.addTimeout` with the clock filled in).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use fate_deferred::{maybe_deferred, Deferred, IntoOutcome};

use super::{DelayedCall, Timeline};

/// Calls `f` after `delay` and returns a Deferred of what it returns: Twisted's `deferLater`.
///
/// `f` may return a value, a `Result<T, Failure>` or a `Deferred<T>`; if it returns `Err`
/// or panics, the Deferred fails with that failure.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use fate::testing::Clock;
/// use fate::time::defer_later;
///
/// let clock = Clock::new();
/// let d = defer_later(&clock, Duration::from_secs(3), || 3 * 4);
/// assert!(!d.has_result());
/// clock.advance(Duration::from_secs(3));
/// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(12));
/// ```
///
/// # Cancellation
///
/// Cancelling the Deferred before the delay has passed cancels the call: `f` never runs and
/// the Deferred fails with [`Cancelled`](fate_deferred::Cancelled).
///
/// # Ordering
///
/// `f` runs as a delayed call scheduled now (see [`Timeline`]); the Deferred's callbacks run
/// right after it, in the same call.
#[track_caller]
pub fn defer_later<T, R, M>(
    timeline: impl AsRef<Timeline>,
    delay: Duration,
    f: impl FnOnce() -> R + 'static,
) -> Deferred<T>
where
    T: 'static,
    R: IntoOutcome<T, M>,
{
    let pending: Rc<Cell<Option<DelayedCall>>> = Rc::default();
    let (d, fire) = Deferred::with_canceller({
        let pending = pending.clone();
        move |_fire| {
            if let Some(call) = pending.take() {
                let _ = call.cancel();
            }
        }
    });
    let call = timeline.as_ref().call_later(delay, {
        let pending = pending.clone();
        move || {
            drop(pending.take());
            drop(maybe_deferred(f).chain_deferred(fire));
        }
    });
    pending.set(Some(call));
    d
}

/// Cancels `deferred` if it has not fired within `timeout` on `timeline`, failing it with
/// [`TimedOut`](fate_deferred::TimedOut): Twisted's `addTimeout(timeout, clock)`.
///
/// The timer is cancelled as soon as the Deferred fires. See
/// [`Deferred::add_timeout`] for the exact rules (which callbacks are inside the timeout,
/// what a manual `cancel` does).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use fate::testing::Clock;
/// use fate::time::add_timeout;
/// use fate::deferred::{Deferred, TimedOut};
///
/// let clock = Clock::new();
/// let (slow, _fire) = Deferred::<u32>::pending();
/// let slow = add_timeout(slow, &clock, Duration::from_secs(10));
/// clock.advance(Duration::from_secs(10));
/// let failure = slow.try_result().ok().and_then(|r| r.err()).unwrap();
/// assert!(failure.check::<TimedOut>());
/// assert!(clock.pending_calls().is_empty());
/// ```
#[track_caller]
pub fn add_timeout<T: 'static>(
    deferred: Deferred<T>,
    timeline: impl AsRef<Timeline>,
    timeout: Duration,
) -> Deferred<T> {
    let timeline = timeline.as_ref().clone();
    deferred.add_timeout(timeout, move |delay, expire| {
        let call = timeline.call_later(delay, expire);
        move || {
            let _ = call.cancel();
        }
    })
}
