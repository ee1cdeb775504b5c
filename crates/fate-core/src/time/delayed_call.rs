//! `DelayedCall`: the handle of a call scheduled with `call_later`.

use std::cell::Cell;
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
/// The handle is small (24 bytes) and a cheap `Clone`: clones are the same call, so one
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
    /// Where the call's state lives: in the handle until it is first cloned, then shared.
    /// A `Cell` because `clone` (through `&self`) moves it from the first to the second;
    /// every read takes it out and puts it back.
    state: Cell<State>,
}

/// Where a handle keeps its [`CallState`]. 16 bytes: `Key`'s non-zero generation is the
/// tag, so a million pending handles cost 8 MB less than an `own` state beside a
/// `OnceCell<Rc<_>>`.
///
/// Forbidden transition: `Shared` never goes back to `Own` (clones hold the same `Rc`).
enum State {
    /// Never cloned: the key and the deadline, as in [`CallState`].
    Own { key: Key, when: u64 },
    /// Cloned at least once: the state every clone shares.
    Shared(Rc<CallState>),
}

/// The placeholder a [`DelayedCall`] holds while its state is taken out to be read.
const TAKEN: State = State::Own {
    key: Key::NONE,
    when: 0,
};

/// What a handle knows about its call, once shared by clones.
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
            state: Cell::new(State::Own { key, when }),
        }
    }

    /// The call's key and deadline, as this handle sees them.
    #[inline]
    fn get(&self) -> (Key, u64) {
        let state = self.state.replace(TAKEN);
        let got = match &state {
            State::Own { key, when } => (*key, *when),
            State::Shared(shared) => (shared.key.get(), shared.when.get()),
        };
        self.state.set(state);
        got
    }

    /// Records a new key and deadline for every handle of the call.
    #[inline]
    fn set(&self, key: Key, when: u64) {
        let state = self.state.replace(TAKEN);
        match &state {
            State::Own { .. } => self.state.set(State::Own { key, when }),
            State::Shared(shared) => {
                shared.key.set(key);
                shared.when.set(when);
                self.state.set(state);
            }
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
                self.set(Key::NONE, self.get().1);
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
        let when = self.get().1;
        self.move_to(when.saturating_add(duration_ns(extra)))
    }

    /// The timer's key, unless this handle cancelled it.
    fn key(&self) -> Result<Key, DelayedCallError> {
        match self.get().0 {
            Key::NONE => Err(DelayedCallError::AlreadyCancelled),
            key => Ok(key),
        }
    }

    fn move_to(&self, when: u64) -> Result<(), DelayedCallError> {
        let key = self.key()?;
        if !self.timeline.wheel().borrow_mut().reschedule(key, when) {
            return Err(DelayedCallError::AlreadyCalled);
        }
        self.set(key, when);
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
        self.timeline.wheel().borrow().contains(self.get().0)
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
        self.timeline.instant(self.get().1)
    }
}

/// A clone is the same call: cancelling, resetting or delaying through one is seen by all.
impl Clone for DelayedCall {
    fn clone(&self) -> DelayedCall {
        let shared = match self.state.replace(TAKEN) {
            State::Own { key, when } => Rc::new(CallState {
                key: Cell::new(key),
                when: Cell::new(when),
            }),
            State::Shared(shared) => shared,
        };
        self.state.set(State::Shared(shared.clone()));
        DelayedCall {
            timeline: self.timeline.clone(),
            state: Cell::new(State::Shared(shared)),
        }
    }
}

impl fmt::Debug for DelayedCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.get().0;
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

#[cfg(test)]
mod tests {
    use std::mem::size_of;
    use std::time::Duration;

    use super::DelayedCall;
    use crate::time::Timeline;

    /// A program that keeps a handle per pending timer pays this per timer: the `timers`
    /// bench keeps a million.
    #[test]
    fn a_handle_is_three_words() {
        assert_eq!(size_of::<DelayedCall>(), 24);
    }

    #[test]
    fn cancelling_through_a_clone_is_seen_by_the_original_and_keeps_the_time() {
        let timeline = Timeline::real();
        let call = timeline.call_later(Duration::from_secs(60), || unreachable!());
        let when = call.time();
        let other = call.clone();
        other.cancel().unwrap();
        assert!(!call.active());
        assert_eq!(call.time(), when);
        assert_eq!(
            call.cancel(),
            Err(super::DelayedCallError::AlreadyCancelled)
        );
        let third = call.clone();
        assert_eq!(
            third.reset(Duration::ZERO),
            Err(super::DelayedCallError::AlreadyCancelled)
        );
        assert_eq!(timeline.len(), 0);
    }
}
