//! The one thread-safe door into a reactor: work sent from other threads.
//!
//! `call_from_thread` closures and tasks woken on another thread land here. The sender locks a
//! mutex, pushes, and wakes the loop with mio's `Waker` (an eventfd write) — but only when the
//! loop is asleep or about to sleep: a loop that is awake checks `pending` at the top of every
//! turn, so waking it would be a wasted syscall.
//!
//! The handshake: before it sleeps, the loop stores `sleeping = true` and then looks at
//! `pending`; a sender stores `pending = true` and then swaps `sleeping` to false, writing the
//! eventfd if it was true. With sequentially consistent operations on both sides at least one of
//! them sees the other's store, so work is never left waiting for an unrelated event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use async_task::Runnable;

use super::ready::{Callback, Located};
use super::watchdog::{Kind, Site};

/// Work that arrived from another thread.
pub(crate) enum RemoteWork {
    /// A `call_from_thread` closure (or a thread's reply), with where it was sent from.
    Call(Box<dyn Callback + Send>),
    /// A task woken on another thread.
    Task(Runnable<Site>),
}

/// The shared half of a reactor that other threads may hold.
pub(crate) struct Remote {
    /// Work not yet taken by the loop, oldest first.
    queue: Mutex<Vec<RemoteWork>>,
    /// True when `queue` may be non-empty; lets the loop skip the lock on every turn.
    pending: AtomicBool,
    /// True while the loop sleeps (or is about to) in `epoll_wait`.
    sleeping: AtomicBool,
    /// Wakes the loop out of `epoll_wait`.
    waker: mio::Waker,
}

impl Remote {
    pub(crate) fn new(waker: mio::Waker) -> Remote {
        Remote {
            queue: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            waker,
        }
    }

    /// Queues work from any thread and wakes the loop if it sleeps.
    pub(crate) fn send(&self, work: RemoteWork) {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(work);
        self.pending.store(true, Ordering::SeqCst);
        if self.sleeping.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                tracing::error!(target: "fate::reactor", "could not wake the reactor: {e}");
            }
        }
    }

    /// Takes all queued work (loop thread only).
    pub(crate) fn take(&self) -> Vec<RemoteWork> {
        if !self.pending.load(Ordering::SeqCst) {
            return Vec::new();
        }
        self.pending.store(false, Ordering::SeqCst);
        std::mem::take(&mut *self.queue.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether work was sent and not taken yet (the simulator's hosts ask this instead of
    /// sleeping).
    #[cfg(all(feature = "testing", feature = "net"))]
    pub(crate) fn has_work(&self) -> bool {
        self.pending.load(Ordering::SeqCst)
    }

    /// Announces that the loop is about to sleep; returns false if work arrived meanwhile, in
    /// which case the loop must not sleep.
    pub(crate) fn prepare_to_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        if self.pending.load(Ordering::SeqCst) {
            self.sleeping.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Announces that the loop is awake again.
    pub(crate) fn woke_up(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }
}

/// The remote queues of the live reactors, by reactor id, for wakers that fire on a foreign
/// thread. Only that rare path takes this lock.
static REMOTES: Mutex<Vec<(u64, Weak<Remote>)>> = Mutex::new(Vec::new());

/// Makes `remote` reachable by `reactor_id` from any thread.
pub(crate) fn register(reactor_id: u64, remote: &Arc<Remote>) {
    let mut remotes = REMOTES.lock().unwrap_or_else(PoisonError::into_inner);
    remotes.retain(|(_, r)| r.strong_count() > 0);
    remotes.push((reactor_id, Arc::downgrade(remote)));
}

/// Forgets the remote queue of a reactor that is going away.
pub(crate) fn unregister(reactor_id: u64) {
    REMOTES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .retain(|(id, _)| *id != reactor_id);
}

/// Sends work to the reactor `reactor_id` from whatever thread this is.
///
/// If that reactor is gone, the work can never run; a task is then leaked rather than dropped,
/// because a `!Send` future must not be dropped on a thread other than its own.
pub(crate) fn send_to(reactor_id: u64, work: RemoteWork) {
    let remote = REMOTES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|(id, _)| *id == reactor_id)
        .and_then(|(_, r)| r.upgrade());
    match remote {
        Some(remote) => remote.send(work),
        None => std::mem::forget(work),
    }
}

/// A `Send + Sync` handle that runs closures on the reactor's thread.
///
/// This is Fate's one thread-safe door (like mio's `Waker`): everything else about a reactor
/// is `!Send`. Get one with [`Reactor::remote`](crate::reactor::Reactor::remote) and move it
/// to other threads.
///
/// # Examples
///
/// ```
/// use fate::reactor::Reactor;
///
/// let reactor = Reactor::new().unwrap();
/// let remote = reactor.remote();
/// std::thread::spawn(move || {
///     remote.call_from_thread(|| fate::reactor::current().stop());
/// });
/// reactor.run().unwrap();
/// ```
#[derive(Clone)]
pub struct RemoteHandle {
    pub(crate) remote: Arc<Remote>,
}

impl RemoteHandle {
    /// Runs `f` on the reactor's thread at its next turn, waking the loop if it sleeps.
    ///
    /// # Ordering
    ///
    /// Closures from one thread run in the order they were sent. They run at the start of a
    /// turn, before that turn's timers. A closure sent after the reactor stopped is dropped
    /// unrun when the reactor is dropped.
    #[track_caller]
    pub fn call_from_thread(&self, f: impl FnOnce() + Send + 'static) {
        self.call_from_thread_as(Kind::FromThread, std::panic::Location::caller(), f);
    }

    /// [`call_from_thread`](RemoteHandle::call_from_thread), reported by the watchdog as the
    /// `kind` of code made at `site` (a thread-pool job's reply names the job's submitter).
    pub(crate) fn call_from_thread_as(
        &self,
        kind: Kind,
        site: Site,
        f: impl FnOnce() + Send + 'static,
    ) {
        self.remote
            .send(RemoteWork::Call(Located::boxed(kind, site, f)));
    }
}

impl std::fmt::Debug for RemoteHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteHandle").finish_non_exhaustive()
    }
}
