//! Tasks: `!Send` futures driven by the reactor.
//!
//! [`spawn_local`] turns a future into a task on the current thread's reactor. A task is one
//! allocation (the future, its output and its header together, from `async-task`); waking it
//! on the reactor's thread pushes it on the thread's ready queue — no lock, no syscall. A waker
//! used from another thread goes through the reactor's remote queue and wakes the loop.
//!
//! # Panics in tasks
//!
//! A panic while polling a task is caught: the task ends, its [`JoinHandle`] resolves to
//! [`JoinError::Panicked`], and the panic is reported by the reactor's panic policy.

mod join;
mod yield_now;

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use join::{JoinError, JoinHandle};
pub use yield_now::{yield_now, YieldNow};

use crate::reactor::ready::{Ready, LOCAL};
use crate::reactor::watchdog::Site;
use crate::reactor::{panic_message, remote, PanicPolicy, Reactor, RemoteWork};

/// Spawns `fut` on the current thread's reactor and returns a handle to its output.
///
/// The task starts at the reactor's next turn. Dropping the [`JoinHandle`] detaches the task
/// (it keeps running); [`JoinHandle::abort`] cancels it.
///
/// # Panics
///
/// If this thread has no reactor.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// let not_send = Rc::new(20);
/// let out = reactor
///     .block_on(async move {
///         let task = fate::task::spawn_local(async move { *not_send + 1 });
///         task.await.unwrap() * 2
///     })
///     .unwrap();
/// assert_eq!(out, 42);
/// ```
#[track_caller]
pub fn spawn_local<F>(fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    spawn_local_at(Location::caller(), fut)
}

/// [`spawn_local`], for a future the watchdog names as spawned at `site` (a
/// `Deferred::from_future` or `fate::spawn` call, through the Deferred layer's spawner).
///
/// # Panics
///
/// If this thread has no reactor.
pub(crate) fn spawn_local_at<F>(site: Site, fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let (reactor_id, policy) = LOCAL.with(|l| (l.reactor_id.get(), l.panic_policy.get()));
    assert!(
        reactor_id != 0,
        "no reactor on this thread: build one with Reactor::new() or run code inside fate::run"
    );
    spawn_with(reactor_id, policy, site, fut)
}

/// Spawns `fut` on `reactor` (which must be this thread's).
#[track_caller]
pub(crate) fn spawn_local_on<F>(reactor: &Reactor, fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let site = Location::caller();
    spawn_with(reactor.inner.id, reactor.inner.panic_policy, site, fut)
}

/// Spawns `fut` on the reactor `reactor_id`, which must be this thread's; `site` is where
/// it was spawned (the task's metadata, for the watchdog's report).
fn spawn_with<F>(reactor_id: u64, policy: PanicPolicy, site: Site, fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let schedule = move |runnable| schedule(reactor_id, runnable);
    let (runnable, task) = async_task::Builder::new()
        .metadata(site)
        .spawn_local(move |_| CatchUnwind { fut, policy }, schedule);
    runnable.schedule();
    JoinHandle::new(task)
}

/// Where a woken task goes: the local ready queue when woken on its reactor's thread, the
/// reactor's remote queue otherwise.
///
/// The schedule function captures only the reactor's id (no reference count to bump per
/// task); a wake from another thread finds the reactor's remote queue by that id.
#[inline]
fn schedule(reactor_id: u64, runnable: async_task::Runnable<Site>) {
    // One thread-local access for the check and the push: this is every wake's path.
    let mut foreign = Some(runnable);
    let _ = LOCAL.try_with(|l| {
        if l.reactor_id.get() == reactor_id {
            if let (Ok(mut queue), Some(runnable)) = (l.queue.try_borrow_mut(), foreign.take()) {
                queue.push_back(Ready::Task(runnable));
            }
        }
    });
    if let Some(runnable) = foreign {
        remote::send_to(reactor_id, RemoteWork::Task(runnable));
    }
}

pin_project_lite::pin_project! {
    /// Runs a future, turning a panic in `poll` into `Err(JoinError::Panicked)`.
    struct CatchUnwind<F> {
        #[pin]
        fut: F,
        policy: PanicPolicy,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, JoinError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match fate_deferred::catch_panic(|| this.fut.poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => {
                this.policy.report("task", &*payload);
                Poll::Ready(Err(JoinError::Panicked(panic_message(&*payload))))
            }
        }
    }
}
