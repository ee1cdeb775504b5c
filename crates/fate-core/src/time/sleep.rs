//! `Sleep`: a future that completes at a deadline on a timeline.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use super::timeline::Entry;
use super::wheel::Key;
use super::Timeline;

/// A future that completes at a deadline: made by [`Timeline::sleep`] and
/// [`Timeline::sleep_until`].
///
/// A `Sleep` registers its timer when first polled (so one that is never polled costs
/// nothing) and wakes its task when the timeline reaches the deadline: on the reactor, at
/// the start of the turn that finds it due; on a `testing::Clock`, during
/// the `advance` that passes it. Polled again after completing, it is ready again.
///
/// # Examples
///
/// ```
/// # use std::future::Future;
/// # use std::task::{Context, Waker};
/// # use std::time::Duration;
/// let clock = fate::testing::Clock::new();
/// let mut nap = clock.sleep(Duration::from_millis(10));
/// let mut cx = Context::from_waker(Waker::noop());
/// assert!(std::pin::pin!(&mut nap).poll(&mut cx).is_pending());
/// assert_eq!(clock.pending_calls().len(), 1);
/// clock.advance(Duration::from_millis(10));
/// assert!(nap.is_elapsed());
/// ```
///
/// # Cancellation
///
/// Dropping a `Sleep` removes its timer; nothing else happens.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Sleep {
    timeline: Timeline,
    /// Deadline, ns since the timeline's epoch.
    deadline: u64,
    /// The registered timer; `None` before the first poll and after completion.
    key: Option<Key>,
    /// Set once the deadline was seen to pass.
    elapsed: bool,
}

impl Sleep {
    pub(super) fn new(timeline: Timeline, deadline: u64) -> Sleep {
        Sleep {
            timeline,
            deadline,
            key: None,
            elapsed: false,
        }
    }

    /// When this sleep completes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let at = clock.now() + Duration::from_secs(1);
    /// assert_eq!(clock.sleep_until(at).deadline(), at);
    /// ```
    pub fn deadline(&self) -> Instant {
        self.timeline.instant(self.deadline)
    }

    /// Whether the deadline has been reached (as seen by the last poll, or now).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let nap = clock.sleep(Duration::from_secs(1));
    /// assert!(!nap.is_elapsed());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(nap.is_elapsed());
    /// ```
    pub fn is_elapsed(&self) -> bool {
        self.elapsed || self.timeline.now_ns() >= self.deadline
    }

    /// Moves the deadline (earlier or later), also after the sleep has completed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let mut nap = clock.sleep(Duration::from_secs(1));
    /// nap.reset(clock.now() + Duration::from_secs(5));
    /// clock.advance(Duration::from_secs(1));
    /// assert!(!nap.is_elapsed());
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = self.timeline.to_ns(deadline);
        self.elapsed = false;
        if let Some(key) = self.key {
            if !self
                .timeline
                .wheel()
                .borrow_mut()
                .reschedule(key, self.deadline)
            {
                self.key = None;
            }
        }
    }

    fn unregister(&mut self) {
        if let Some(key) = self.key.take() {
            let entry = self.timeline.wheel().borrow_mut().remove(key);
            drop(entry); // outside the borrow: a waker's drop may reach the timeline
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if this.elapsed {
            return Poll::Ready(());
        }
        let Some(key) = this.key else {
            if this.timeline.now_ns() >= this.deadline {
                this.elapsed = true;
                return Poll::Ready(());
            }
            let entry = Entry::Wake(cx.waker().clone());
            this.key = Some(
                this.timeline
                    .wheel()
                    .borrow_mut()
                    .insert(this.deadline, entry),
            );
            return Poll::Pending;
        };
        let mut wheel = this.timeline.wheel().borrow_mut();
        match wheel.get_mut(key) {
            Some(Entry::Wake(waker)) => {
                if waker.will_wake(cx.waker()) {
                    return Poll::Pending;
                }
                let old = mem::replace(waker, cx.waker().clone());
                drop(wheel);
                drop(old);
                Poll::Pending
            }
            _ => {
                // The timer fired (the only way it leaves the wheel while we hold its key).
                this.key = None;
                this.elapsed = true;
                Poll::Ready(())
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline())
            .field("registered", &self.key.is_some())
            .field("elapsed", &self.elapsed)
            .finish()
    }
}
