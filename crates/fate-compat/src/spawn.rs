//! `spawn`: a `Send` future on the tokio runtime, its output as a Deferred on the reactor.
//!
//! The future runs as a tokio task. On the reactor's thread a small task, the [`Watch`],
//! polls the tokio `JoinHandle` (tokio wakes it from its worker thread through the reactor's
//! cross-thread queue) and fires the Deferred. The watch also notices when nobody can see the
//! result any more — the Deferred was dropped with no callbacks — and aborts the tokio task
//! then, as it does at once when the Deferred is cancelled.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use fate_core::reactor::Outstanding;
use fate_core::time::Sleep;
use fate_deferred::{Deferred, Failure, Fire, Panicked};
use tokio::task::JoinHandle;

/// How often a watch checks whether its Deferred is still wanted.
const WATCH_INTERVAL: Duration = Duration::from_millis(10);

/// Runs `future` on this reactor's tokio runtime (started if needed) and returns a Deferred
/// that fires with its output on this reactor's thread.
///
/// # Errors
///
/// The Deferred fails with [`Panicked`] if the future panics on the tokio side (the runtime
/// and the reactor go on), with tokio's `JoinError` if the runtime shut down before the future
/// finished, and with the `io::Error` if the runtime could not be started.
///
/// # Cancellation
///
/// `cancel()` aborts the tokio task at once (tokio drops the future at its next `.await`) and
/// errbacks with `Cancelled`; dropping a future that awaits the Deferred cancels it. Dropping
/// the Deferred itself with no callbacks attached also aborts the task, within 10 ms: nobody
/// could see its result. A Deferred dropped with callbacks attached keeps the task running,
/// so that those callbacks run (Twisted's fire-and-forget).
///
/// # Ordering
///
/// The Deferred fires on a later turn of the reactor than the one that spawned the future,
/// with the other cross-thread work of that turn.
///
/// # Panics
///
/// If this thread has no reactor.
///
/// # Examples
///
/// ```
/// fate::run_until_idle(|| {
///     fate::compat::spawn(async { tokio::task::yield_now().await; "from tokio" })
///         .add_callback(|s| assert_eq!(s, "from tokio"));
/// })
/// .unwrap();
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> Deferred<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let reactor = fate_core::reactor::current();
    let handle = match crate::runtime::try_handle() {
        Ok(handle) => handle,
        Err(e) => return fate_deferred::fail(e),
    };
    let join = handle.spawn(future);
    let abort = join.abort_handle();
    let (deferred, fire) = Deferred::with_canceller(move |_fire| abort.abort());
    let watch = Watch {
        join,
        fire: Some(fire),
        check: fate_core::sleep(WATCH_INTERVAL),
        _outstanding: reactor.outstanding(),
    };
    reactor.spawn_local(watch).detach();
    deferred
}

/// The reactor-side task of one spawned future.
struct Watch<T: 'static> {
    join: JoinHandle<T>,
    /// Taken when the Deferred fires (or is given up).
    fire: Option<Fire<T>>,
    /// The next check whether the Deferred is still observed.
    check: Sleep,
    /// Keeps `run_until_idle` waiting for the result.
    _outstanding: Outstanding,
}

impl<T: 'static> Future for Watch<T> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let Some(fire) = this.fire.as_ref() else {
            return Poll::Ready(());
        };
        if let Poll::Ready(joined) = Pin::new(&mut this.join).poll(cx) {
            let fire = this.fire.take().expect("checked above");
            // After a cancel, the Deferred has fired already; this late result is dropped.
            let result = match joined {
                Ok(value) => Ok(value),
                Err(e) if e.is_panic() => {
                    Err(Failure::new(Panicked::from_payload(&*e.into_panic())))
                }
                Err(e) => Err(Failure::new(e)),
            };
            fire.try_fire(result).ok();
            return Poll::Ready(());
        }
        while Pin::new(&mut this.check).poll(cx).is_ready() {
            if fire.is_called() || !fire.is_observed() {
                this.join.abort();
                this.fire = None;
                return Poll::Ready(());
            }
            this.check = fate_core::sleep(WATCH_INTERVAL);
        }
        Poll::Pending
    }
}
