//! Free functions on the current thread's reactor: the short way to write a Fate program.
//!
//! `fate::run(main)` builds the thread's reactor, runs `main` once it is running, and turns
//! until `stop()`. Inside, `fate::call_later`, `fate::call_soon` and `fate::spawn_local` reach
//! the running reactor without passing a handle around.

use std::future::Future;
use std::time::Duration;

use fate_deferred::Deferred;

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
/// refuses epoll or a timerfd; [`ReactorError::MainPanicked`] if `main` panicked — the
/// reactor is then stopped (gracefully), since nothing else would stop it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// fate::run(|| {
///     fate::call_later(Duration::from_millis(10), || {
///         println!("the fuse burnt out");
///         fate::reactor().stop();
///     });
/// })
/// .unwrap();
/// ```
pub fn run(main: impl FnOnce() + 'static) -> Result<(), ReactorError> {
    let reactor = Reactor::new()?;
    let panicked = start_main(&reactor, main);
    reactor.run()?;
    match panicked.take() {
        Some(message) => Err(ReactorError::MainPanicked(message)),
        None => Ok(()),
    }
}

/// Runs `main` once `reactor` runs. If `main` panics, nothing would ever stop the reactor, so
/// the panic is reported by the panic policy, the reactor stopped, and its message kept for
/// the caller.
fn start_main(
    reactor: &Reactor,
    main: impl FnOnce() + 'static,
) -> std::rc::Rc<std::cell::Cell<Option<String>>> {
    let panicked = std::rc::Rc::new(std::cell::Cell::new(None));
    let seen = panicked.clone();
    let policy = reactor.inner.panic_policy;
    reactor.call_when_running(move || {
        if let Err(payload) = fate_deferred::catch_panic(main) {
            policy.report("main function", &*payload);
            seen.set(Some(reactor::panic_message(&*payload)));
            if let Some(reactor) = reactor::try_current() {
                reactor.stop();
            }
        }
    });
    panicked
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
/// fate::run_until_idle(|| {
///     fate::call_later(Duration::from_millis(5), || println!("BOOM"));
/// })
/// .unwrap();
/// ```
pub fn run_until_idle(main: impl FnOnce() + 'static) -> Result<(), ReactorError> {
    let reactor = Reactor::builder().handle_signals(false).build()?;
    let panicked = start_main(&reactor, main);
    reactor.run_until_idle()?;
    match panicked.take() {
        Some(message) => Err(ReactorError::MainPanicked(message)),
        None => Ok(()),
    }
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
/// let n = fate::block_on(async { 40 + 2 }).unwrap();
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

/// Runs `fut` as a task on this thread's reactor and returns a Deferred of its result — the
/// bridge from async code to callbacks, and how an async block becomes Twisted's
/// `inlineCallbacks`.
///
/// The task returns a [`fate::Result<T>`](fate_deferred::Result) (`Result<T, Failure>`): `Ok`
/// fires the Deferred, `Err` errbacks it, `?` turns any error into a `Failure` — so
/// `fate::spawn(async { ...; Ok(()) })` needs no type annotation. A panic in the task becomes
/// a `Panicked` failure. Cancelling the Deferred drops the future. For a task whose output is
/// not a `Result`, use [`spawn_local`] (a `JoinHandle`) or `Deferred::from_future`.
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
/// let answer = fate::block_on(async {
///     let d = fate::spawn(async {
///         fate::sleep(Duration::from_millis(1)).await;
///         let n: i64 = "42".parse()?; // any error becomes a Failure
///         Ok(n)
///     });
///     d.add_callback(|n| n + 1).await
/// })
/// .unwrap();
/// assert_eq!(answer.unwrap(), 43);
/// ```
///
/// Fire and forget: the Deferred may be dropped; a failure nobody handled is reported.
///
/// ```
/// fate::block_on(async {
///     fate::spawn(async {
///         println!("hello from a task");
///         Ok(())
///     });
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn spawn<T, F>(fut: F) -> Deferred<T>
where
    T: 'static,
    F: Future<Output = fate_deferred::Result<T>> + 'static,
{
    drop(reactor::current());
    Deferred::from_future(fut)
}

/// Builds this thread's reactor, runs `main` once it is running, and runs until the Deferred
/// `main` returns fires; then stops the reactor and returns an exit status (Twisted's
/// `task.react`).
///
/// Success is [`ExitCode::SUCCESS`](std::process::ExitCode::SUCCESS); a failure is printed to
/// stderr and gives exit status 1, as does a reactor stopped (by a signal, say) before the
/// Deferred fired.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
///
/// fn main() -> std::process::ExitCode {
///     fate::react(|reactor| {
///         let (d, fire) = fate::Deferred::<i64>::pending();
///         let _ = reactor.call_later(Duration::from_secs(3), move || fire.callback(12));
///         d.add_callback(|product| println!("{product}"))
///     })
/// }
/// ```
pub fn react<T: 'static>(
    main: impl FnOnce(&Reactor) -> Deferred<T> + 'static,
) -> std::process::ExitCode {
    use std::cell::RefCell;
    use std::process::ExitCode;
    use std::rc::Rc;

    let reactor = match Reactor::new() {
        Ok(reactor) => reactor,
        Err(e) => {
            eprintln!("fate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome: Rc<RefCell<Option<ExitCode>>> = Rc::new(RefCell::new(None));
    let out = outcome.clone();
    let r = reactor.clone();
    reactor.call_when_running(move || {
        // The chain ends here: its `()` result needs no one to hold it.
        let _ = main(&r).add_both(move |result: Result<T, fate_deferred::Failure>| {
            let code = match result {
                Ok(_) => ExitCode::SUCCESS,
                Err(failure) => {
                    eprintln!(
                        "fate: main failed: {failure}\n  the failure arose at {}",
                        failure.location()
                    );
                    ExitCode::FAILURE
                }
            };
            *out.borrow_mut() = Some(code);
            if let Some(reactor) = reactor::try_current() {
                reactor.stop();
            }
        });
    });
    if let Err(e) = reactor.run() {
        eprintln!("fate: {e}");
        return ExitCode::FAILURE;
    }
    let code = outcome.borrow_mut().take();
    code.unwrap_or_else(|| {
        eprintln!("fate: the reactor stopped before main's Deferred fired");
        ExitCode::FAILURE
    })
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
/// fate::block_on(async {
///     fate::sleep(Duration::from_millis(1)).await;
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
/// fate::block_on(async {
///     let slow = fate::sleep(Duration::from_secs(3600));
///     assert!(fate::timeout(Duration::from_millis(1), slow).await.is_err());
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn timeout<F: std::future::IntoFuture>(duration: Duration, fut: F) -> Timeout<F::IntoFuture> {
    reactor::current().timeline().timeout(duration, fut)
}
