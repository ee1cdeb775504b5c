//! Free functions on the current thread's reactor: the short way to write a Fate program.
//!
//! `fate::run(main)` builds the thread's reactor, runs `main` once it is running, and turns
//! until `stop()`. Inside, `fate::call_later`, `fate::call_soon` and `fate::spawn_local` reach
//! the running reactor without passing a handle around.

use std::future::Future;
use std::time::Duration;

use crate::reactor::{self, Reactor, ReactorError};
use crate::task::JoinHandle;
use crate::time::{DelayedCall, Sleep, Timeout};

/// Builds this thread's reactor, calls `main` once it runs, and runs until `stop()`.
///
/// SIGINT and SIGTERM stop it gracefully (a second signal exits at once).
///
/// # Errors
///
/// [`ReactorError::AlreadyExists`] if this thread already has a reactor; `Io` if the OS
/// refuses epoll or a timerfd.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// fate_core::run(|| {
///     fate_core::call_later(Duration::from_millis(10), || {
///         println!("the fuse burnt out");
///         fate_core::reactor().stop().unwrap();
///     });
/// })
/// .unwrap();
/// ```
pub fn run(main: impl FnOnce() + 'static) -> Result<(), ReactorError> {
    let reactor = Reactor::new()?;
    reactor.call_when_running(main);
    reactor.run()
}

/// Builds this thread's reactor, calls `main`, and runs until nothing is pending — the
/// article's Fate loop, which ends by itself when the last fuse has burnt out.
///
/// # Errors
///
/// As [`run`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// fate_core::run_until_idle(|| {
///     fate_core::call_later(Duration::from_millis(5), || println!("BOOM"));
/// })
/// .unwrap();
/// ```
pub fn run_until_idle(main: impl FnOnce() + 'static) -> Result<(), ReactorError> {
    let reactor = Reactor::builder().handle_signals(false).build()?;
    reactor.call_when_running(main);
    reactor.run_until_idle()
}

/// Builds this thread's reactor and runs it until `fut` completes.
///
/// # Errors
///
/// As [`run`].
///
/// # Examples
///
/// ```
/// let n = fate_core::block_on(async { 40 + 2 }).unwrap();
/// assert_eq!(n, 42);
/// ```
pub fn block_on<F: Future + 'static>(fut: F) -> Result<F::Output, ReactorError> {
    let reactor = Reactor::builder().handle_signals(false).build()?;
    reactor.block_on(fut)
}

/// The current thread's reactor.
///
/// # Panics
///
/// If this thread has no reactor.
#[track_caller]
pub fn reactor() -> Reactor {
    reactor::current()
}

/// [`Reactor::call_later`] on the current thread's reactor.
///
/// # Panics
///
/// If this thread has no reactor.
#[track_caller]
pub fn call_later(delay: Duration, f: impl FnOnce() + 'static) -> DelayedCall {
    reactor::current().call_later(delay, f)
}

/// [`Reactor::call_soon`] on the current thread's reactor.
///
/// # Panics
///
/// If this thread has no reactor.
#[track_caller]
pub fn call_soon(f: impl FnOnce() + 'static) {
    reactor::current().call_soon(f)
}

/// [`crate::task::spawn_local`]: runs a `!Send` future as a task on this thread's reactor.
///
/// # Panics
///
/// If this thread has no reactor.
#[track_caller]
pub fn spawn_local<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    crate::task::spawn_local(fut)
}

/// Sleeps for `duration` on the current thread's reactor.
///
/// # Panics
///
/// If this thread has no reactor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// fate_core::block_on(async {
///     fate_core::sleep(Duration::from_millis(1)).await;
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    reactor::current().timeline().sleep(duration)
}

/// Sleeps until `deadline` on the current thread's reactor.
///
/// # Panics
///
/// If this thread has no reactor.
#[track_caller]
pub fn sleep_until(deadline: std::time::Instant) -> Sleep {
    reactor::current().timeline().sleep_until(deadline)
}

/// Resolves to `Err(Elapsed)` if `fut` does not complete within `duration` (the future is
/// then dropped), on the current thread's reactor.
///
/// # Panics
///
/// If this thread has no reactor.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// fate_core::block_on(async {
///     let slow = fate_core::sleep(Duration::from_secs(3600));
///     assert!(fate_core::timeout(Duration::from_millis(1), slow).await.is_err());
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn timeout<F: std::future::IntoFuture>(duration: Duration, fut: F) -> Timeout<F::IntoFuture> {
    reactor::current().timeline().timeout(duration, fut)
}
