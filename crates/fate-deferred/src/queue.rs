//! `DeferredQueue`: a queue whose `get()` is a Deferred (twisted-semantics K6).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use crate::error::{QueueOverflow, QueueUnderflow};
use crate::{succeed, Deferred, Fire};

/// A queue of `T` whose [`get`](DeferredQueue::get) returns a Deferred (Twisted's
/// `DeferredQueue`).
///
/// - `put(x)` hands `x` to the oldest waiting getter; with none, stores it if fewer than
///   `size` items are pending, else returns [`QueueOverflow`] with the item.
/// - `get()` fires at once with the oldest pending item; with none, waits if fewer than
///   `backlog` getters wait, else returns [`QueueUnderflow`].
/// - A waiting `get()` can be cancelled: it leaves the waiter list and errbacks `Cancelled`.
///   A getter whose Deferred nobody holds any more is skipped, so it cannot swallow an item.
///
/// Cloning gives another handle to the same queue.
///
/// # Examples
/// ```
/// use fate::deferred::DeferredQueue;
/// let q = DeferredQueue::new();
/// let first = q.get().unwrap();
/// q.put("a").unwrap();
/// q.put("b").unwrap();
/// assert_eq!(first.try_result().ok().and_then(|r| r.ok()), Some("a"));
/// assert_eq!(q.get().unwrap().try_result().ok().and_then(|r| r.ok()), Some("b"));
/// ```
pub struct DeferredQueue<T: 'static> {
    inner: Rc<QueueState<T>>,
}

/// A queue's shared state.
struct QueueState<T: 'static> {
    /// Items no getter took yet.
    pending: RefCell<VecDeque<T>>,
    /// Waiting getters, oldest first, with ids so cancellation can find them.
    waiting: RefCell<VecDeque<(u64, Fire<T>)>>,
    next_id: Cell<u64>,
    /// Most items `pending` may hold (`None`: unbounded).
    size: Option<usize>,
    /// Most getters `waiting` may hold (`None`: unbounded).
    backlog: Option<usize>,
}

impl<T: 'static> DeferredQueue<T> {
    /// An unbounded queue.
    ///
    /// # Examples
    /// ```
    /// let q = fate::deferred::DeferredQueue::<i64>::new();
    /// assert!(q.is_empty());
    /// ```
    pub fn new() -> DeferredQueue<T> {
        DeferredQueue::with_limits(None, None)
    }

    /// A queue holding at most `size` pending items and `backlog` waiting getters (`None`:
    /// unbounded). `Some(0)` makes every unmatched `put` overflow / every `get` on an empty
    /// queue underflow.
    ///
    /// # Examples
    /// ```
    /// let q = fate::deferred::DeferredQueue::with_limits(Some(1), Some(1));
    /// q.put(1).unwrap();
    /// assert!(q.put(2).is_err());
    /// ```
    pub fn with_limits(size: Option<usize>, backlog: Option<usize>) -> DeferredQueue<T> {
        DeferredQueue {
            inner: Rc::new(QueueState {
                pending: RefCell::new(VecDeque::new()),
                waiting: RefCell::new(VecDeque::new()),
                next_id: Cell::new(0),
                size,
                backlog,
            }),
        }
    }

    /// Hands `item` to the oldest waiting getter (running its callbacks now), or stores it.
    ///
    /// # Errors
    /// [`QueueOverflow`] (holding `item`) when no getter waits and `size` items are pending.
    ///
    /// # Examples
    /// ```
    /// let q = fate::deferred::DeferredQueue::new();
    /// q.put(5).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn put(&self, item: T) -> Result<(), QueueOverflow<T>> {
        loop {
            let waiter = self.inner.waiting.borrow_mut().pop_front();
            match waiter {
                Some((_, fire)) if fire.is_observed() => {
                    fire.try_callback(item).ok();
                    return Ok(());
                }
                Some(_) => continue, // nobody would see the item
                None => break,
            }
        }
        let mut pending = self.inner.pending.borrow_mut();
        if self.inner.size.is_some_and(|size| pending.len() >= size) {
            return Err(QueueOverflow::new(item));
        }
        pending.push_back(item);
        Ok(())
    }

    /// A Deferred of the next item: fired already if one is pending.
    ///
    /// # Errors
    /// [`QueueUnderflow`] when nothing is pending and `backlog` getters already wait.
    ///
    /// # Cancellation
    /// Cancelling a waiting get removes it from the waiters and errbacks with `Cancelled`;
    /// cancelling one that already has its item does nothing.
    ///
    /// # Examples
    /// ```
    /// let q = fate::deferred::DeferredQueue::<i64>::new();
    /// let d = q.get().unwrap();
    /// d.cancel();
    /// assert_eq!(q.waiting(), 0);
    /// ```
    #[track_caller]
    pub fn get(&self) -> Result<Deferred<T>, QueueUnderflow> {
        let item = self.inner.pending.borrow_mut().pop_front();
        if let Some(item) = item {
            return Ok(succeed(item));
        }
        if self
            .inner
            .backlog
            .is_some_and(|backlog| self.inner.waiting.borrow().len() >= backlog)
        {
            return Err(QueueUnderflow);
        }
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        let weak = Rc::downgrade(&self.inner);
        let (d, fire) = Deferred::with_canceller(move |_fire| {
            if let Some(st) = weak.upgrade() {
                let removed = {
                    let mut waiting = st.waiting.borrow_mut();
                    waiting
                        .iter()
                        .position(|(i, _)| *i == id)
                        .and_then(|pos| waiting.remove(pos))
                };
                drop(removed);
            }
        });
        self.inner.waiting.borrow_mut().push_back((id, fire));
        Ok(d)
    }

    /// Items pending (put but not yet taken).
    ///
    /// # Examples
    /// ```
    /// let q = fate::deferred::DeferredQueue::new();
    /// q.put(()).unwrap();
    /// assert_eq!(q.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.pending.borrow().len()
    }

    /// Whether no item is pending.
    ///
    /// # Examples
    /// ```
    /// assert!(fate::deferred::DeferredQueue::<()>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Getters waiting for an item.
    ///
    /// # Examples
    /// ```
    /// let q = fate::deferred::DeferredQueue::<()>::new();
    /// let _d = q.get().unwrap();
    /// assert_eq!(q.waiting(), 1);
    /// ```
    pub fn waiting(&self) -> usize {
        self.inner.waiting.borrow().len()
    }
}

impl<T: 'static> Clone for DeferredQueue<T> {
    fn clone(&self) -> DeferredQueue<T> {
        DeferredQueue {
            inner: self.inner.clone(),
        }
    }
}

impl<T: 'static> Default for DeferredQueue<T> {
    fn default() -> DeferredQueue<T> {
        DeferredQueue::new()
    }
}

impl<T: 'static> fmt::Debug for DeferredQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredQueue")
            .field("pending", &self.len())
            .field("waiting", &self.waiting())
            .field("size", &self.inner.size)
            .field("backlog", &self.inner.backlog)
            .finish()
    }
}
