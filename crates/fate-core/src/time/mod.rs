//! Time: delayed calls, sleeps, timeouts and looping calls, on real or virtual time.
//!
//! Everything here runs on a [`Timeline`]: the reactor's (real, monotonic time) or a
//! `testing::Clock`'s (virtual time that moves only when a test advances it). Code that waits
//! takes `impl AsRef<Timeline>`, so the same code runs on both and timing tests never sleep.
//!
//! - [`Timeline::call_later`] / [`Timeline::call_at`] schedule a function and return a
//!   [`DelayedCall`] to [`cancel`](DelayedCall::cancel), [`reset`](DelayedCall::reset) or
//!   [`delay`](DelayedCall::delay) it (Twisted's `callLater` and `IDelayedCall`).
//! - [`Timeline::sleep`], [`Timeline::sleep_until`] and [`Timeline::timeout`] are the
//!   `async` forms.
//! - [`LoopingCall`] calls a function every interval, aligned to its start (Twisted's
//!   `task.LoopingCall`).
//! - [`defer_later`] brings a Deferred onto a timeline (Twisted's `task.deferLater`), and
//!   every timeline is a clock for `Deferred::add_timeout` (Twisted's `addTimeout`).
//!
//! Timers live in a hierarchical timing wheel with exact nanosecond deadlines: scheduling,
//! cancelling and resetting are O(1) and make no system call, finding the next deadline costs
//! a few bit operations, and no timer allocates once the wheel is warm (a boxed callback
//! aside). The reactor sleeps until the earliest deadline with sub-millisecond precision.
//!
//! # Examples
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! use fate::testing::Clock;
//!
//! let clock = Clock::new();
//! let log = Rc::new(RefCell::new(Vec::new()));
//! let fuse = clock.call_later(Duration::from_secs(3), {
//!     let log = log.clone();
//!     move || log.borrow_mut().push("boom")
//! });
//! clock.advance(Duration::from_secs(2));
//! fuse.delay(Duration::from_secs(2)).unwrap(); // the fuse burns longer: due at t=5
//! clock.advance(Duration::from_secs(2));
//! assert!(log.borrow().is_empty());
//! clock.advance(Duration::from_secs(1));
//! assert_eq!(*log.borrow(), ["boom"]);
//! ```
//!
//! # Errors
//!
//! Cancelling, resetting or delaying a call that already ran or was cancelled returns a
//! [`DelayedCallError`]; a [`Timeout`] whose deadline passes resolves to [`Elapsed`];
//! misusing a [`LoopingCall`] (starting it twice, stopping it when stopped) returns a
//! [`LoopingCallError`].
//!
//! # Cancellation
//!
//! Dropping a [`DelayedCall`] does **not** cancel the call (Twisted's behaviour): call
//! [`cancel`](DelayedCall::cancel). Dropping a [`Sleep`] or [`Timeout`] removes its timer.
//!
//! # Ordering
//!
//! Calls run in deadline order; calls with the same deadline run in the order they were
//! scheduled (unlike Twisted's reactor, whose heap does not keep that order), and a call
//! never runs before its deadline. On the reactor, due calls run at the start of a turn, and
//! calls they schedule — even with a zero delay — wait for the next turn. On a `Clock`,
//! calls that become due during an `advance` run within that same `advance`.
#![forbid(unsafe_code)]

mod deferreds;
mod delayed_call;
mod looping_call;
mod sleep;
mod timeline;
mod timeout;
mod wheel;

pub use deferreds::defer_later;
pub use delayed_call::{DelayedCall, DelayedCallError};
pub use looping_call::{LoopingCall, LoopingCallError};
pub use sleep::Sleep;
pub use timeline::Timeline;
pub use timeout::{Elapsed, Timeout};

#[allow(unused_imports)]
pub(crate) use timeline::DueCall;
