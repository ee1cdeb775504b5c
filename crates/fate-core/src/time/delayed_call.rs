//! `DelayedCall`: the handle of a call scheduled with `call_later`.

use std::cell::{Cell, OnceCell};
use std::error::Error;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::timeline::duration_ns;
use super::wheel::Key;
use super::Timeline;

/// The handle of a call scheduled with [`Timeline::call_later`] or [`Timeline::call_at`]:
/// cancel it, move it, or ask whether it is still pending.
///
/// A delayed call is in one of three states. It starts **pending**; it becomes **called**
/// just before its function runs, or **cancelled** by [`cancel`](Self::cancel). Both are
/// final: [`cancel`](Self::cancel), [`reset`](Self::reset) and [`delay`](Self::delay) on a
/// called or cancelled call return [`DelayedCallError`] (cancelled is checked first). Since
/// the call is marked called before its function runs, the function cannot cancel or reset
/// its own call (it gets [`AlreadyCalled`](DelayedCallError::AlreadyCalled)); it can
/// schedule a new one.
///
/// The handle is small (32 bytes) and a cheap `Clone`: clones are the same call, so one
/// timer may reset or cancel another without an `Rc`. The first clone allocates the state
/// the clones share; a handle never cloned allocates nothing.
/// [`Timeline::get_delayed_calls`] hands out handles to every pending call; they see the
/// call's state through the timer wheel, but cannot tell a call cancelled through another
/// handle from one that ran (`cancel` says [`AlreadyCalled`](DelayedCallError::AlreadyCalled)).
///
/// ```
/// use std::time::Duration;
///
/// let clock = fate::testing::Clock::new();
/// let idle = clock.call_later(Duration::from_secs(30), || println!("idle: disconnecting"));
/// let keep_alive = idle.clone();
/// // Activity resets the idle timer through the other handle.
/// clock.call_later(Duration::from_secs(20), move || keep_alive.reset(Duration::from_secs(30)).unwrap());
/// clock.advance(Duration::from_secs(20));
/// assert_eq!(idle.time(), clock.epoch() + Duration::from_secs(50));
/// ```
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use std::time::Duration;
///
/// use fate::time::DelayedCallError;
///
/// let clock = fate::testing::Clock::new();
/// let runs = Rc::new(Cell::new(0));
/// let call = clock.call_later(Duration::from_secs(2), { let runs = runs.clone(); move || runs.set(runs.get() + 1) });
/// clock.advance(Duration::from_secs(1));
/// call.reset(Duration::from_secs(3)).unwrap(); // now due at t=4
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(runs.get(), 0);
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(runs.get(), 1);
/// assert!(!call.active());
/// assert_eq!(call.cancel(), Err(DelayedCallError::AlreadyCalled));
/// ```
///
/// # Cancellation
///
/// Dropping a `DelayedCall` does **not** cancel the call (as in Twisted), so the handle is not
/// `#[must_use]`: fire-and-forget code simply ignores it. [`cancel`](Self::cancel) drops the
/// function without running it.
///
/// # Ordering
///
/// Calls run in deadline order, then in the order they were scheduled; a `reset` or `delay`
/// counts as scheduling the call anew at that moment.
pub struct DelayedCall {
    timeline: Timeline,
    /// The call's state as this handle sees it, until the handle is first cloned.
    own: CallState,
    /// Set by the first `clone`: the state every clone shares from then on.
    shared: OnceCell<Rc<CallState>>,
}

/// What a handle knows about its call.
struct CallState {
    /// The call's timer; [`Key::NONE`] once a handle (sharing this state) cancelled it, which
    /// is how "cancelled" is told from "called" (the timer's key is stale either way).
    key: Cell<Key>,
    /// The deadline, ns since the timeline's epoch; kept after the call ran or was cancelled.
    when: Cell<u64>,
}

/// Why a [`DelayedCall`] cannot be cancelled, reset or delayed.
///
/// # Examples
///
/// ```
/// # use std::time::Duration;
/// use fate::time::DelayedCallError;
///
/// let clock = fate::testing::Clock::new();
/// let call = clock.call_later(Duration::from_secs(1), || ());
/// call.cancel().unwrap();
/// assert_eq!(call.cancel(), Err(DelayedCallError::AlreadyCancelled));
/// assert_eq!(call.reset(Duration::ZERO).unwrap_err().to_string(), "the delayed call was already cancelled");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DelayedCallError {
    /// The call has run (or is running).
    AlreadyCalled,
    /// The call was cancelled.
    AlreadyCancelled,
}

impl fmt::Display for DelayedCallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DelayedCallError::AlreadyCalled => "the delayed call has already run",
            DelayedCallError::AlreadyCancelled => "the delayed call was already cancelled",
        })
    }
}

impl Error for DelayedCallError {}

impl DelayedCall {
    pub(super) fn new(timeline: Timeline, key: Key, when: u64) -> DelayedCall {
        DelayedCall {
            timeline,
            own: CallState {
                key: Cell::new(key),
                when: Cell::new(when),
            },
            shared: OnceCell::new(),
        }
    }

    /// Runs `f` on the state this handle uses: its own, or the one its clones share.
    #[inline]
    fn with_state<R>(&self, f: impl FnOnce(&CallState) -> R) -> R {
        match self.shared.get() {
            None => f(&self.own),
            Some(shared) => f(shared),
        }
    }

    /// Cancels the call: its function is dropped without running.
    ///
    /// # Errors
    ///
    /// [`AlreadyCancelled`](DelayedCallError::AlreadyCancelled) if it was cancelled,
    /// else [`AlreadyCalled`](DelayedCallError::AlreadyCalled) if it has run.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let call = clock.call_later(Duration::from_secs(1), || unreachable!());
    /// call.cancel().unwrap();
    /// assert!(!call.active());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(clock.pending_calls().is_empty());
    /// ```
    pub fn cancel(&self) -> Result<(), DelayedCallError> {
        let key = self.key()?;
        let entry = self.timeline.wheel().borrow_mut().remove(key);
        match entry {
            Some(entry) => {
                self.with_state(|st| st.key.set(Key::NONE));
                drop(entry); // after the borrow: the closure's drop may use the timeline
                Ok(())
            }
            None => Err(DelayedCallError::AlreadyCalled),
        }
    }

    /// Moves the call to `delay` from now (earlier or later).
    ///
    /// # Errors
    ///
    /// As [`cancel`](Self::cancel).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let call = clock.call_later(Duration::from_secs(4), || ());
    /// call.reset(Duration::from_secs(3)).unwrap();
    /// assert_eq!(call.time(), clock.epoch() + Duration::from_secs(3));
    /// ```
    pub fn reset(&self, delay: Duration) -> Result<(), DelayedCallError> {
        let when = self.timeline.now_ns().saturating_add(duration_ns(delay));
        self.move_to(when)
    }

    /// Postpones the call by `extra` from its current deadline.
    ///
    /// To bring a call forward, [`reset`](Self::reset) it (Twisted's `delay` also takes
    /// negative amounts; a `Duration` cannot be negative).
    ///
    /// # Errors
    ///
    /// As [`cancel`](Self::cancel).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let call = clock.call_later(Duration::from_secs(2), || ());
    /// call.delay(Duration::from_secs(2)).unwrap();
    /// assert_eq!(call.time(), clock.epoch() + Duration::from_secs(4));
    /// ```
    pub fn delay(&self, extra: Duration) -> Result<(), DelayedCallError> {
        let when = self.with_state(|st| st.when.get());
        self.move_to(when.saturating_add(duration_ns(extra)))
    }

    /// The timer's key, unless this handle cancelled it.
    fn key(&self) -> Result<Key, DelayedCallError> {
        match self.with_state(|st| st.key.get()) {
            Key::NONE => Err(DelayedCallError::AlreadyCancelled),
            key => Ok(key),
        }
    }

    fn move_to(&self, when: u64) -> Result<(), DelayedCallError> {
        let key = self.key()?;
        if !self.timeline.wheel().borrow_mut().reschedule(key, when) {
            return Err(DelayedCallError::AlreadyCalled);
        }
        self.with_state(|st| st.when.set(when));
        Ok(())
    }

    /// Whether the call is still pending: neither called nor cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let call = clock.call_later(Duration::from_secs(1), || ());
    /// assert!(call.active());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(!call.active());
    /// ```
    pub fn active(&self) -> bool {
        let key = self.with_state(|st| st.key.get());
        self.timeline.wheel().borrow().contains(key)
    }

    /// When the call is (or was) due: Twisted's `getTime`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// clock.advance(Duration::from_secs(100));
    /// let call = clock.call_later(Duration::from_secs(5), || ());
    /// assert_eq!(call.time() - clock.epoch(), Duration::from_secs(105));
    /// ```
    pub fn time(&self) -> Instant {
        self.timeline.instant(self.with_state(|st| st.when.get()))
    }
}

/// A clone is the same call: cancelling, resetting or delaying through one is seen by all.
impl Clone for DelayedCall {
    fn clone(&self) -> DelayedCall {
        let shared = self.shared.get_or_init(|| {
            Rc::new(CallState {
                key: Cell::new(self.own.key.get()),
                when: Cell::new(self.own.when.get()),
            })
        });
        DelayedCall {
            timeline: self.timeline.clone(),
            own: CallState {
                key: Cell::new(Key::NONE),
                when: Cell::new(0),
            },
            shared: OnceCell::from(shared.clone()),
        }
    }
}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.with_state(|st| st.key.get());
        let state = if key == Key::NONE {
            "cancelled"
        } else {
            match self.timeline.wheel().try_borrow() {
                Ok(wheel) if wheel.contains(key) => "pending",
                Ok(_) => "called",
                Err(_) => "unknown",
            }
        };
        f.debug_struct("DelayedCall")
            .field("time", &self.time())
            .field("state", &state)
            .finish()
    }
}
