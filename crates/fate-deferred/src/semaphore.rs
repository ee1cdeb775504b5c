//! `DeferredSemaphore`, `DeferredLock` and their `Permit` (twisted-semantics 2.16, K1–K5).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;

use crate::error::ZeroTokens;
use crate::{maybe_deferred, succeed, Deferred, Failure, Fire, IntoOutcome};

/// Limits how many holders run at once: `acquire()` fires with a [`Permit`] when a token is
/// free, else queues first-in first-out (Twisted's `DeferredSemaphore`).
///
/// Releasing is dropping the [`Permit`]: the token goes straight to the oldest waiter, whose
/// callbacks run inside that drop. Over-releasing is impossible by construction. A queued
/// `acquire()` can be cancelled: it leaves the queue and errbacks with `Cancelled`. Cloning gives another handle to the same semaphore.
///
/// # Examples
/// ```
/// use fate::deferred::DeferredSemaphore;
/// let sem = DeferredSemaphore::new(1).unwrap();
/// let first = sem.acquire().try_result().ok().and_then(|r| r.ok()).unwrap();
/// let second = sem.acquire();
/// assert!(!second.has_result());
/// drop(first); // hands the token over
/// assert!(second.has_result());
/// ```
#[derive(Clone)]
pub struct DeferredSemaphore {
    inner: Rc<SemState>,
}

/// A semaphore's shared state.
struct SemState {
    /// Free tokens.
    tokens: Cell<usize>,
    /// Tokens in total.
    limit: usize,
    /// Queued acquirers, oldest first, with ids so cancellation can find them.
    waiters: RefCell<VecDeque<(u64, Fire<Permit>)>>,
    next_id: Cell<u64>,
    /// A release loop is handing tokens out (nested releases just return their token).
    releasing: Cell<bool>,
}

impl DeferredSemaphore {
    /// A semaphore with `tokens` tokens.
    ///
    /// # Errors
    /// [`ZeroTokens`] when `tokens == 0` (Twisted raises `ValueError`).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(fate::deferred::DeferredSemaphore::new(13).unwrap().limit(), 13);
    /// ```
    pub fn new(tokens: usize) -> Result<DeferredSemaphore, ZeroTokens> {
        if tokens == 0 {
            return Err(ZeroTokens);
        }
        Ok(DeferredSemaphore {
            inner: Rc::new(SemState {
                tokens: Cell::new(tokens),
                limit: tokens,
                waiters: RefCell::new(VecDeque::new()),
                next_id: Cell::new(0),
                releasing: Cell::new(false),
            }),
        })
    }

    /// A Deferred firing with a [`Permit`]: at once if a token is free, else when one is
    /// released to it (oldest waiter first).
    ///
    /// # Cancellation
    /// Cancelling a queued acquire removes it from the queue and errbacks with `Cancelled`;
    /// cancelling one that already has its permit does nothing.
    ///
    /// # Examples
    /// ```
    /// let sem = fate::deferred::DeferredSemaphore::new(2).unwrap();
    /// let a = sem.acquire();
    /// let b = sem.acquire();
    /// assert_eq!(sem.tokens(), 0);
    /// drop((a, b)); // the permits inside are dropped too
    /// assert_eq!(sem.tokens(), 2);
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> Deferred<Permit> {
        let st = &self.inner;
        if st.tokens.get() > 0 && st.waiters.borrow().is_empty() {
            st.tokens.set(st.tokens.get() - 1);
            return succeed(Permit {
                sem: Some(self.inner.clone()),
            });
        }
        let id = st.next_id.get();
        st.next_id.set(id + 1);
        let weak = Rc::downgrade(&self.inner);
        let (d, fire) = Deferred::with_canceller(move |_fire| {
            if let Some(st) = weak.upgrade() {
                let removed = {
                    let mut waiters = st.waiters.borrow_mut();
                    waiters
                        .iter()
                        .position(|(i, _)| *i == id)
                        .and_then(|pos| waiters.remove(pos))
                };
                drop(removed);
            }
        });
        st.waiters.borrow_mut().push_back((id, fire));
        d
    }

    /// Acquires, runs `f` with the permit held, and releases when what `f` returned is done
    /// (success or failure). `f` runs synchronously if a token is free. Its return may be
    /// a value, a `Result<U, Failure>` or a `Deferred<U>`.
    ///
    /// # Examples
    /// ```
    /// let sem = fate::deferred::DeferredSemaphore::new(1).unwrap();
    /// let d = sem.run(|| 40 + 2);
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(42));
    /// assert_eq!(sem.tokens(), 1);
    /// ```
    #[track_caller]
    pub fn run<U, R, M>(&self, f: impl FnOnce() -> R + 'static) -> Deferred<U>
    where
        U: 'static,
        R: IntoOutcome<U, M>,
    {
        self.acquire().add_callback(move |permit: Permit| {
            maybe_deferred(f).add_both(move |r: Result<U, Failure>| {
                drop(permit);
                r
            })
        })
    }

    /// Free tokens now.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(fate::deferred::DeferredSemaphore::new(3).unwrap().tokens(), 3);
    /// ```
    pub fn tokens(&self) -> usize {
        self.inner.tokens.get()
    }

    /// Tokens in total.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(fate::deferred::DeferredSemaphore::new(3).unwrap().limit(), 3);
    /// ```
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// Acquirers waiting for a token.
    ///
    /// # Examples
    /// ```
    /// let sem = fate::deferred::DeferredSemaphore::new(1).unwrap();
    /// let _held = sem.acquire();
    /// let _queued = sem.acquire();
    /// assert_eq!(sem.waiting(), 1);
    /// ```
    pub fn waiting(&self) -> usize {
        self.inner.waiters.borrow().len()
    }
}

impl SemState {
    /// Returns a token and hands free tokens to waiters (iteratively: a waiter nobody
    /// listens to returns its permit inside this loop).
    fn release(self: &Rc<Self>) {
        self.tokens.set((self.tokens.get() + 1).min(self.limit));
        if self.releasing.replace(true) {
            return;
        }
        loop {
            if self.tokens.get() == 0 {
                break;
            }
            let waiter = self.waiters.borrow_mut().pop_front();
            let Some((_, fire)) = waiter else { break };
            if !fire.is_observed() {
                continue; // nobody would ever use (and so release) this permit
            }
            self.tokens.set(self.tokens.get() - 1);
            fire.try_callback(Permit {
                sem: Some(self.clone()),
            })
            .ok();
        }
        self.releasing.set(false);
    }
}

impl fmt::Debug for DeferredSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredSemaphore")
            .field("tokens", &self.tokens())
            .field("limit", &self.limit())
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// A token of a [`DeferredSemaphore`] or the hold of a [`DeferredLock`]; dropping it releases.
///
/// # Examples
/// ```
/// let lock = fate::deferred::DeferredLock::new();
/// let guard = lock.acquire();
/// assert!(lock.locked());
/// drop(guard);
/// assert!(!lock.locked());
/// ```
#[must_use = "dropping a Permit releases it at once"]
pub struct Permit {
    sem: Option<Rc<SemState>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(sem) = self.sem.take() {
            sem.release();
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

/// A lock for Deferred code: `acquire()` fires with a [`Permit`] when the lock is free, else
/// queues first-in first-out; dropping the permit unlocks and hands the lock to the oldest
/// waiter (Twisted's `DeferredLock`). A semaphore of one token.
///
/// # Examples
/// ```
/// use fate::deferred::DeferredLock;
/// let lock = DeferredLock::new();
/// let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// let held = lock.acquire();
/// let l = log.clone();
/// let _next = lock.acquire().add_callback(move |_permit| l.borrow_mut().push("second"));
/// assert!(log.borrow().is_empty());
/// drop(held);
/// assert_eq!(*log.borrow(), ["second"]);
/// ```
#[derive(Clone, Debug)]
pub struct DeferredLock {
    sem: DeferredSemaphore,
}

impl DeferredLock {
    /// An unlocked lock.
    ///
    /// # Examples
    /// ```
    /// assert!(!fate::deferred::DeferredLock::new().locked());
    /// ```
    pub fn new() -> DeferredLock {
        DeferredLock {
            sem: DeferredSemaphore {
                inner: Rc::new(SemState {
                    tokens: Cell::new(1),
                    limit: 1,
                    waiters: RefCell::new(VecDeque::new()),
                    next_id: Cell::new(0),
                    releasing: Cell::new(false),
                }),
            },
        }
    }

    /// A Deferred firing with the lock's [`Permit`]; see [`DeferredSemaphore::acquire`].
    ///
    /// # Examples
    /// ```
    /// let lock = fate::deferred::DeferredLock::new();
    /// assert!(lock.acquire().has_result());
    /// ```
    #[track_caller]
    pub fn acquire(&self) -> Deferred<Permit> {
        self.sem.acquire()
    }

    /// Runs `f` holding the lock; see [`DeferredSemaphore::run`].
    ///
    /// # Examples
    /// ```
    /// let lock = fate::deferred::DeferredLock::new();
    /// assert!(lock.run(|| "done").has_result());
    /// ```
    #[track_caller]
    pub fn run<U, R, M>(&self, f: impl FnOnce() -> R + 'static) -> Deferred<U>
    where
        U: 'static,
        R: IntoOutcome<U, M>,
    {
        self.sem.run(f)
    }

    /// Whether someone holds the lock.
    ///
    /// # Examples
    /// ```
    /// let lock = fate::deferred::DeferredLock::new();
    /// let _held = lock.acquire();
    /// assert!(lock.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.sem.tokens() == 0
    }
}

impl Default for DeferredLock {
    fn default() -> DeferredLock {
        DeferredLock::new()
    }
}
