//! `Clock`: virtual time for tests (Twisted's `task.Clock`).

use std::fmt;
use std::ops::Deref;
use std::time::{Duration, Instant};

use crate::time::Timeline;

/// Virtual time for tests: a [`Timeline`] that stands still until the test moves it.
///
/// Time starts at the clock's creation ([`seconds`](Timeline::seconds) is `0.0`) and moves
/// only by [`advance`](Self::advance) and [`pump`](Self::pump). Everything that takes
/// `impl AsRef<Timeline>` — [`LoopingCall`](crate::time::LoopingCall), sleeps, timeouts —
/// runs on a `Clock` exactly as on the reactor, so timing tests are deterministic and take no
/// real time. A `Clock` dereferences to its [`Timeline`], so `clock.call_later(..)`,
/// `clock.sleep(..)` and `clock.now()` work directly. Clones share the same time and calls.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// use fate::testing::Clock;
///
/// let clock = Clock::new();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// for (name, secs) in [("b", 2), ("a", 1)] {
///     let (log, c) = (log.clone(), clock.clone());
///     let _ = clock.call_later(Duration::from_secs(secs), move || {
///         log.borrow_mut().push((name, c.seconds()))
///     });
/// }
/// clock.pump(&[Duration::from_secs(1), Duration::from_secs(1)]);
/// assert_eq!(*log.borrow(), [("a", 1.0), ("b", 2.0)]);
/// assert!(clock.pending_calls().is_empty());
/// ```
///
/// # Ordering
///
/// `advance` runs every call that is due, in deadline order and then in the order the calls
/// were scheduled — including calls scheduled *during* the advance whose deadline has passed
/// (a `call_later(Duration::ZERO, ..)` made by a running call runs in the same `advance`;
/// the reactor would run it on its next turn). Sleeps and timeouts that come due have their
/// wakers woken during the advance.
///
/// # Panics
///
/// `advance` runs calls directly, without catching panics (as Twisted's `Clock` does): a
/// panicking call propagates out of `advance`, and the calls still due stay pending.
#[derive(Clone)]
pub struct Clock {
    timeline: Timeline,
}

impl Clock {
    /// A clock whose virtual time starts now.
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = fate::testing::Clock::new();
    /// assert_eq!(clock.seconds(), 0.0);
    /// assert!(clock.pending_calls().is_empty());
    /// ```
    pub fn new() -> Clock {
        Clock {
            timeline: Timeline::manual(Instant::now()),
        }
    }

    /// Moves time forward by `by`, running every call that becomes due (see Ordering).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::Duration;
    ///
    /// let clock = fate::testing::Clock::new();
    /// let runs = Rc::new(Cell::new(0));
    /// let _ = clock.call_later(Duration::from_secs(2), { let runs = runs.clone(); move || runs.set(runs.get() + 1) });
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(runs.get(), 0);
    /// clock.advance(Duration::from_secs(1));
    /// assert_eq!(runs.get(), 1);
    /// ```
    pub fn advance(&self, by: Duration) {
        self.timeline.set_now(self.timeline.now() + by);
        loop {
            // Re-read each time: a call may itself advance the clock.
            let now = self.timeline.now();
            match self.timeline.pop_due(now) {
                Some(call) => call.run(),
                None if self.timeline.next_deadline().is_some_and(|d| d <= now) => {}
                None => break,
            }
        }
    }

    /// Advances by each step in turn: `advance(steps[0])`, `advance(steps[1])`, ...
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// clock.pump(&[Duration::from_millis(500); 3]);
    /// assert_eq!(clock.seconds(), 1.5);
    /// ```
    pub fn pump(&self, steps: &[Duration]) {
        for &step in steps {
            self.advance(step);
        }
    }

    /// The deadlines of the pending calls (including sleeps and timeouts), in firing order.
    /// [`Timeline::get_delayed_calls`] (through `Deref`) hands out the calls themselves,
    /// as Twisted's `getDelayedCalls` does.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let call = clock.call_later(Duration::from_secs(1), || ());
    /// assert_eq!(clock.pending_calls(), [clock.epoch() + Duration::from_secs(1)]);
    /// call.cancel().unwrap();
    /// assert!(clock.pending_calls().is_empty());
    /// ```
    pub fn pending_calls(&self) -> Vec<Instant> {
        self.timeline.delayed_calls()
    }

    /// The clock's timeline (also reachable through `Deref`).
    ///
    /// # Examples
    ///
    /// ```
    /// let clock = fate::testing::Clock::new();
    /// let timeline: fate::time::Timeline = clock.timeline().clone();
    /// assert_eq!(timeline.now(), clock.now());
    /// ```
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

impl Deref for Clock {
    type Target = Timeline;

    fn deref(&self) -> &Timeline {
        &self.timeline
    }
}

impl AsRef<Timeline> for Clock {
    fn as_ref(&self) -> &Timeline {
        &self.timeline
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("seconds", &self.timeline.seconds())
            .field("pending", &self.timeline.len())
            .finish()
    }
}
