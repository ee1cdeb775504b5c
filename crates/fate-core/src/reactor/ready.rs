//! The ready queue: callbacks and woken tasks waiting for their turn, in FIFO order.
//!
//! The queue belongs to the thread, not to a `Reactor` value, so that a task's waker can reach
//! it with one thread-local access and no reference count: there is at most one reactor per
//! thread (see `Reactor::new`). `call_soon` callbacks and woken tasks share the one queue, so
//! they run in the order they became ready.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use async_task::Runnable;

use super::watchdog::{Kind, Site};
use super::PanicPolicy;

/// One unit of work on the ready queue.
pub(crate) enum Ready {
    /// A plain callback from `call_soon` (or a remote `call_from_thread`).
    Call(Box<dyn Callback>),
    /// A task that was woken and wants to be polled; its metadata is where it was spawned.
    Task(Runnable<Site>),
}

// What keeps the queue's items two words: a callback's site is in its box (see `Callback`).
const _: () = assert!(std::mem::size_of::<Ready>() == 2 * std::mem::size_of::<usize>());

/// A queued callback that knows where it came from (for the watchdog's report).
///
/// The kind and site live in the callback's own box, not beside it in the queue: a queue item
/// stays two words, and nothing reads them unless the watchdog is on.
pub(crate) trait Callback {
    /// Runs the callback.
    fn call(self: Box<Self>);
    /// What kind of callback this is and where it was scheduled.
    fn origin(&self) -> (Kind, Site);
}

/// A closure with its kind and site: what `call_soon` and `call_from_thread` box.
pub(crate) struct Located<F> {
    f: F,
    kind: Kind,
    site: Site,
}

impl<F> Located<F> {
    /// Boxes `f`, the `kind` of code scheduled at `site`.
    #[inline]
    pub(crate) fn boxed(kind: Kind, site: Site, f: F) -> Box<Located<F>> {
        Box::new(Located { f, kind, site })
    }
}

impl<F: FnOnce()> Callback for Located<F> {
    fn call(self: Box<Self>) {
        (self.f)();
    }

    fn origin(&self) -> (Kind, Site) {
        (self.kind, self.site)
    }
}

/// Per-thread reactor state that must be reachable without a `Reactor` handle.
pub(crate) struct Local {
    /// The id of the reactor that owns this thread, or 0 when there is none. Task wakers
    /// compare it with their own reactor's id to decide between the local queue and the
    /// thread-safe remote queue.
    pub(crate) reactor_id: Cell<u64>,
    /// That reactor's panic policy, for tasks spawned without a `Reactor` handle at hand.
    pub(crate) panic_policy: Cell<PanicPolicy>,
    /// Work ready to run on this thread's reactor, oldest first.
    pub(crate) queue: RefCell<VecDeque<Ready>>,
}

thread_local! {
    pub(crate) static LOCAL: Local = const {
        Local {
            reactor_id: Cell::new(0),
            panic_policy: Cell::new(PanicPolicy::Log),
            queue: RefCell::new(VecDeque::new()),
        }
    };
}

/// Appends `item` to this thread's ready queue.
///
/// While the thread is being torn down (a task or connection dropped by another thread-local's
/// destructor wakes a task) the queue may already be gone; the item is then dropped here, as
/// it could never run anyway.
#[inline]
pub(crate) fn push(item: Ready) {
    let mut item = Some(item);
    let _ = LOCAL.try_with(|local| {
        if let (Ok(mut queue), Some(item)) = (local.queue.try_borrow_mut(), item.take()) {
            queue.push_back(item);
        }
    });
    drop(item);
}

/// Takes the oldest ready item, if any.
#[inline]
pub(crate) fn pop() -> Option<Ready> {
    LOCAL
        .try_with(|local| local.queue.borrow_mut().pop_front())
        .ok()
        .flatten()
}

/// Whether anything is waiting on this thread's ready queue.
#[inline]
pub(crate) fn is_empty() -> bool {
    LOCAL
        .try_with(|local| local.queue.borrow().is_empty())
        .unwrap_or(true)
}

/// Drops everything queued (when the reactor goes away), outside the queue's borrow so that a
/// dropped task may itself touch the queue.
pub(crate) fn clear() {
    loop {
        let drained: Vec<Ready> = LOCAL
            .try_with(|local| local.queue.borrow_mut().drain(..).collect())
            .unwrap_or_default();
        if drained.is_empty() {
            break;
        }
        drop(drained);
    }
}
