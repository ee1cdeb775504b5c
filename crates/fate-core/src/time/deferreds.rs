//! Deferreds on a timeline: `defer_later` (Twisted's `task.deferLater`), and the timelines
//! as clocks for `Deferred::add_timeout` (Twisted's `addTimeout(timeout, clock)`).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use fate_deferred::{maybe_deferred, Deferred, IntoOutcome, Scheduler};

use super::{DelayedCall, Timeline};
use crate::reactor::Reactor;

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

/// A timeline is a clock for [`Deferred::add_timeout`]: `d.add_timeout(timeout, &timeline)`
/// is Twisted's `d.addTimeout(timeout, clock)`. The timer is cancelled as soon as the
/// Deferred fires.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use fate::deferred::{Deferred, TimedOut};
/// use fate::testing::Clock;
///
/// let clock = Clock::new();
/// let (slow, _fire) = Deferred::<u32>::pending();
/// let slow = slow.add_timeout(Duration::from_secs(10), clock.timeline());
/// clock.advance(Duration::from_secs(10));
/// let failure = slow.try_result().ok().and_then(|r| r.err()).unwrap();
/// assert!(failure.check::<TimedOut>());
/// assert!(clock.pending_calls().is_empty());
/// ```
impl Scheduler for Timeline {
    fn schedule(&self, delay: Duration, f: Box<dyn FnOnce()>) -> Box<dyn FnOnce()> {
        let call = self.call_later(delay, f);
        Box::new(move || {
            let _ = call.cancel();
        })
    }
}

/// The reactor's timeline, for [`Deferred::add_timeout`] in real time.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// fate::run_until_idle(|| {
///     let (d, fire) = fate::Deferred::<u32>::pending();
///     let d = d.add_timeout(Duration::from_secs(10), &fate::reactor());
///     fire.callback(7); // in time: the timer is cancelled, nothing keeps the loop waiting
///     assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(7));
/// })
/// .unwrap();
/// ```
impl Scheduler for Reactor {
    fn schedule(&self, delay: Duration, f: Box<dyn FnOnce()>) -> Box<dyn FnOnce()> {
        self.as_ref().schedule(delay, f)
    }
}

/// The virtual clock's timeline, for [`Deferred::add_timeout`] in tests; see
/// [`Deferred::add_timeout`]'s example.
#[cfg(feature = "testing")]
impl Scheduler for crate::testing::Clock {
    fn schedule(&self, delay: Duration, f: Box<dyn FnOnce()>) -> Box<dyn FnOnce()> {
        self.as_ref().schedule(delay, f)
    }
}
