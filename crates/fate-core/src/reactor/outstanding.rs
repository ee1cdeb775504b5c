//! `Outstanding`: work outside the reactor that will come back to it.

use std::rc::Weak;

use super::{Inner, Reactor};

/// Counts one piece of work that runs elsewhere (another thread, another runtime) and will come
/// back to this reactor through [`call_from_thread`](super::RemoteHandle::call_from_thread):
/// while any `Outstanding` of a reactor lives, its
/// [`run_until_idle`](Reactor::run_until_idle) does not return, as for a
/// [`defer_to_thread`](crate::threads::defer_to_thread) job.
///
/// Libraries that hand work to threads of their own (a database pool, a tokio runtime) hold one
/// per job on the reactor's thread and drop it when the result has been delivered.
///
/// # Drop
///
/// Dropping it ends the count; it holds the reactor weakly, so it never keeps a reactor alive.
///
/// # Examples
///
/// The guard is `!Send`: it stays on the reactor's thread (here in a thread-local) while the
/// work runs on another thread, and the closure that brings the result back drops it.
///
/// ```
/// use std::cell::{Cell, RefCell};
/// use fate::reactor::{Outstanding, Reactor};
///
/// thread_local! {
///     static JOB: RefCell<Option<Outstanding>> = const { RefCell::new(None) };
///     static ANSWER: Cell<u64> = const { Cell::new(0) };
/// }
///
/// let reactor = Reactor::new().unwrap();
/// JOB.with(|job| *job.borrow_mut() = Some(reactor.outstanding()));
/// let remote = reactor.remote();
/// std::thread::spawn(move || {
///     let answer = 6 * 7;
///     remote.call_from_thread(move || {
///         ANSWER.with(|a| a.set(answer));
///         JOB.with(|job| job.borrow_mut().take());
///     });
/// });
/// // Nothing else is pending, yet the loop waits for the answer.
/// reactor.run_until_idle().unwrap();
/// assert_eq!(ANSWER.with(Cell::get), 42);
/// ```
#[must_use = "the work counts as outstanding only while this guard lives"]
pub struct Outstanding {
    reactor: Weak<Inner>,
}

impl Reactor {
    /// Counts one piece of outside work until the returned guard is dropped; see
    /// [`Outstanding`].
    pub fn outstanding(&self) -> Outstanding {
        let count = &self.inner.outstanding;
        count.set(count.get() + 1);
        Outstanding {
            reactor: std::rc::Rc::downgrade(&self.inner),
        }
    }
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        if let Some(inner) = self.reactor.upgrade() {
            inner
                .outstanding
                .set(inner.outstanding.get().saturating_sub(1));
        }
    }
}

impl std::fmt::Debug for Outstanding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outstanding").finish_non_exhaustive()
    }
}
