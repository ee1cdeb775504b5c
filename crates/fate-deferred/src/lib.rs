//! Deferreds: typed results that are not available yet — Twisted's `Deferred`, exact in
//! behaviour, typed in Rust, and at home with `async`/`await`.
//!
//! This crate is pure: no I/O, no clock, no reactor, no `unsafe`. The reactor (`fate-core`)
//! fires Deferreds from timers and sockets, and installs the spawner that runs futures.
//!
//! # The article's example
//! "A Deferred is Twisted's indication that the returner will fire it at some point in the
//! future." In Twisted:
//! ```python
//! def slowMultiply(x, y):
//!     d = defer.Deferred()
//!     reactor.callLater(3, d.callback, x*y)
//!     return d
//! ```
//! In Fate the Deferred comes with its firing end, [`Fire`], so both stay typed; here
//! `call_later` stands in for the reactor's timer, which lives in `fate-core`:
//! ```
//! use fate::Deferred;
//! # use std::{cell::RefCell, time::Duration};
//! # thread_local!(static TIMERS: RefCell<Vec<Box<dyn FnOnce()>>> = RefCell::new(Vec::new()));
//! # fn call_later(_: Duration, f: impl FnOnce() + 'static) { TIMERS.with(|t| t.borrow_mut().push(Box::new(f))) }
//! # fn run_reactor() { while let Some(f) = TIMERS.with(|t| t.borrow_mut().pop()) { f() } }
//!
//! fn slow_multiply(x: i64, y: i64) -> Deferred<i64> {
//!     let (d, fire) = Deferred::<i64>::pending();
//!     call_later(Duration::from_secs(3), move || {
//!         fire.callback(x * y);
//!     });
//!     d
//! }
//!
//! let d = slow_multiply(3, 4).add_callback(|product| {
//!     println!("{product}"); // 12, three seconds later
//!     product
//! });
//! run_reactor();
//! assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(12));
//! ```
//!
//! # Contents
//! | concept | items |
//! |---|---|
//! | a pending result and its producer | [`Deferred`], [`Fire`], [`Control`] |
//! | what callbacks return | [`IntoOutcome`], [`Outcome`] |
//! | errors | [`Failure`], [`IntoFailure`], [`set_debugging`]; named conditions [`Cancelled`], [`AlreadyCalled`], [`Abandoned`], [`TimedOut`], [`Panicked`], [`NoExecutor`], [`ChainedToItself`], [`FirstError`], [`FailureGroup`] |
//! | unhandled failures | [`set_unhandled_hook`], [`reset_unhandled_hook`], [`Unhandled`] |
//! | ready-made Deferreds | [`succeed`], [`fail`], [`maybe_deferred`] |
//! | fan-in | [`DeferredList`], [`gather_results`], [`gather_results_consuming_errors`], [`race`], [`first_success`] |
//! | coordination | [`DeferredLock`], [`DeferredSemaphore`], [`Permit`], [`DeferredQueue`] |
//! | time (clock injected) | [`Deferred::add_timeout`] on a [`Scheduler`] |
//! | async/await | `Deferred: IntoFuture` ([`DeferredFuture`]), [`Deferred::from_future`], [`set_local_spawner`] |
//!
//! # Async blocks are `inlineCallbacks`
//! Awaiting a Deferred yields its `Result<T, Failure>`; `?` passes a failure on (any error
//! converts into a [`Failure`], and a `Failure` into `Box<dyn Error>`).
//! [`Deferred::from_future`] turns the async block back into a Deferred:
//! ```
//! # use fate::deferred::{set_local_spawner, Deferred, Failure, LocalFuture, succeed};
//! # use std::{rc::Rc, task::{Context, Waker}};
//! # set_local_spawner(Some(Rc::new(|mut f: LocalFuture, _| { let _ = f.as_mut().poll(&mut Context::from_waker(Waker::noop())); })));
//! fn get_price() -> Deferred<i64> { succeed(100) }
//!
//! let total = Deferred::<i64>::from_future(async {
//!     let price = get_price().await?; // Twisted: price = yield getPrice()
//!     Ok::<_, Failure>(price * 2)
//! });
//! assert_eq!(total.try_result().ok().and_then(|r| r.ok()), Some(200));
//! ```
//!
//! # Unhandled failures and debugging
//! A failure left at the end of a chain nobody can read any more is reported when the
//! Deferred is dropped — "Unhandled error in Deferred", naming the source line that created
//! the Deferred and the one where the failure arose. The report is a `tracing` error event
//! when the program installed a subscriber, and goes to stderr otherwise; a second fire of a
//! [`Fire`] end is reported the same way. [`set_debugging`] (Twisted's `setDebugging`) adds
//! backtraces of where each Deferred was created and first fired.
//!
//! # Where we differ from Twisted, on purpose
//! - Adding a callback consumes the handle and returns `Deferred<U>` for the new type, so a
//!   result can never be seen with the wrong type; cases that rely on sharing one Deferred
//!   object between owners use a [`Control`] instead.
//! - Dropping every [`Fire`] of an unfired Deferred errbacks it with [`Abandoned`]: no
//!   Deferred waits forever for a producer that is gone.
//! - An extra `unpause()` is ignored (Twisted's counter goes negative and blocks forever).
//! - A callback returning its own Deferred fails with [`ChainedToItself`] (Twisted warns
//!   and deadlocks).
//! - A panic in a callback is a [`Panicked`] failure; cancelling a future-backed Deferred
//!   drops the future.
//!
//! # Left out, on purpose
//! - `execute`, `logError`, `passthru`: a closure or one `tracing` call says it better.
//! - Extra callback arguments (`addCallback(f, *args)`): closures capture them.
//! - Sharing one Deferred between several consumers: a Deferred has one reader; fan out
//!   with a callback that fires several [`Fire`] ends.
//! - `DeferredFilesystemLock`, `asFuture(loop)`, contextvars: no file locks or asyncio here;
//!   a task's locals are its own.
//!
//! # Cost
//! One allocation per Deferred: the control block, with room for three queued handlers
//! (more spill into one growable queue) — 128 bytes for a `Deferred<i64>`. A handler that captures nothing is boxed for free;
//! results pass from handler to handler on the stack and are parked in the control block
//! only when the chain stops (a value of another type than the Deferred started with is
//! boxed then). No `Any` in the API, no atomics; callbacks run with constant stack.
//! `examples/deferred_speed.rs` times the `fate-bench deferred` loop (create, three
//! callbacks, fire, read).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chain;
mod constructors;
mod control;
mod debug;
mod deferred;
mod error;
mod failure;
mod fire;
mod future;
mod head;
mod list;
mod outcome;
mod panics;
mod queue;
mod race;
mod release;
mod report;
mod semaphore;
mod spawn;
mod stage;
mod stages;
mod timeout;
mod trampoline;
mod unhandled;

pub use constructors::{fail, maybe_deferred, succeed};
pub use control::Control;
pub use debug::{debugging, set_debugging};
pub use deferred::Deferred;
pub use error::{
    Abandoned, AlreadyCalled, Cancelled, ChainedToItself, FailureGroup, FirstError, NoExecutor,
    Panicked, QueueOverflow, QueueUnderflow, TimedOut, ZeroTokens,
};
pub use failure::{Failure, FromError, FromMessage, IntoFailure, Result};
pub use fire::Fire;
pub use future::DeferredFuture;
pub use list::{gather_results, gather_results_consuming_errors, DeferredList, ListResult};
pub use outcome::{IntoOutcome, Outcome, Plain, Shaped};
#[doc(hidden)]
pub use panics::{catch_panic, caught_panics};
pub use queue::DeferredQueue;
pub use race::{first_success, race};
pub use semaphore::{DeferredLock, DeferredSemaphore, Permit};
pub use spawn::{set_local_spawner, LocalFuture, LocalSpawner};
pub use timeout::Scheduler;
pub use unhandled::{reset_unhandled_hook, set_unhandled_hook, Unhandled};
