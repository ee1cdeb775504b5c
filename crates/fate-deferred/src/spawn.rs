//! Futures into Deferreds: `Deferred::from_future`, and the per-thread spawner it runs on.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::marker::PhantomData;
use std::panic::Location;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::error::{NoExecutor, Panicked};
use crate::{fail, Deferred, Failure, Fire, IntoOutcome, Outcome};

/// A spawned task, as a spawner receives it: not `Send`, runs to completion or is dropped.
///
/// # Examples
/// ```
/// use fate::deferred::LocalFuture;
/// use std::task::{Context, Waker};
/// let mut task: LocalFuture = Box::pin(async {});
/// assert!(task.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_ready());
/// ```
pub type LocalFuture = Pin<Box<dyn Future<Output = ()>>>;

/// Runs [`LocalFuture`]s on this thread: the hook the reactor installs with
/// [`set_local_spawner`]. It is also given where the task was made (the caller of
/// [`Deferred::from_future`], or of a `#[track_caller]` function such as `fate::spawn` that
/// calls it): the reactor's loop watchdog names that site when the task blocks the loop.
///
/// # Examples
/// ```
/// use fate::deferred::{LocalFuture, LocalSpawner};
/// use std::{cell::RefCell, panic::Location, rc::Rc};
/// let queue: Rc<RefCell<Vec<LocalFuture>>> = Rc::default();
/// let q = queue.clone();
/// let spawner: LocalSpawner = Rc::new(move |task, _site| q.borrow_mut().push(task));
/// spawner(Box::pin(async {}), Location::caller());
/// assert_eq!(queue.borrow().len(), 1);
/// ```
pub type LocalSpawner = Rc<dyn Fn(LocalFuture, &'static Location<'static>)>;

thread_local! {
    static SPAWNER: RefCell<Option<LocalSpawner>> = const { RefCell::new(None) };
}

/// Installs (`Some`) or removes (`None`) this thread's spawner, returning the previous one.
///
/// This crate has no executor; [`Deferred::from_future`] hands its task to the spawner. The
/// reactor installs one for its thread while it runs. The spawner must poll the future until
/// it completes (waking per its `Waker`) or drop it.
///
/// # Examples
/// ```
/// use fate::deferred::{set_local_spawner, Deferred, LocalFuture};
/// use std::{cell::RefCell, rc::Rc, task::{Context, Waker}};
///
/// // A toy spawner: polls each task once, right away.
/// let previous = set_local_spawner(Some(Rc::new(|mut fut: LocalFuture, _site| {
///     let _ = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
/// })));
/// let d = Deferred::<i64>::from_future(async { 6 * 7 });
/// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(42));
/// set_local_spawner(previous);
/// ```
pub fn set_local_spawner(spawner: Option<LocalSpawner>) -> Option<LocalSpawner> {
    // While the thread is torn down the slot may be gone already: nothing to replace then.
    SPAWNER
        .try_with(|s| std::mem::replace(&mut *s.borrow_mut(), spawner))
        .ok()
        .flatten()
}

impl<T: 'static> Deferred<T> {
    /// Runs `future` on this thread's spawner and returns a Deferred of its output — the
    /// bridge from async code to callbacks. The output may be a value, a `Result<T, Failure>`
    /// or a `Deferred<T>`, as for callbacks ([`IntoOutcome`]); a panic while polling becomes a
    /// [`Panicked`] failure.
    ///
    /// Async blocks are the `inlineCallbacks` of this world: inside one, `.await` a Deferred to
    /// get its `Result<T, Failure>`, and use `?` to pass failures on:
    /// ```
    /// # use fate::deferred::{set_local_spawner, Deferred, Failure, LocalFuture};
    /// # use std::{cell::RefCell, rc::Rc, task::{Context, Waker}};
    /// # thread_local!(static TASKS: RefCell<Vec<LocalFuture>> = RefCell::new(Vec::new()));
    /// # set_local_spawner(Some(Rc::new(|f, _| TASKS.with(|t| t.borrow_mut().push(f)))));
    /// # fn run_tasks() {
    /// #     let tasks: Vec<LocalFuture> = TASKS.with(|t| t.borrow_mut().drain(..).collect());
    /// #     for mut f in tasks {
    /// #         if f.as_mut().poll(&mut Context::from_waker(Waker::noop())).is_pending() {
    /// #             TASKS.with(|t| t.borrow_mut().push(f));
    /// #         }
    /// #     }
    /// # }
    /// let (price, fire_price) = Deferred::<i64>::pending();
    /// let (tax, fire_tax) = Deferred::<i64>::pending();
    /// let total = Deferred::<i64>::from_future(async move {
    ///     let price = price.await?; // like `price = yield getPrice()` in inlineCallbacks
    ///     let tax = tax.await?;
    ///     Ok::<_, Failure>(price + tax)
    /// });
    /// run_tasks();
    /// fire_price.callback(100);
    /// run_tasks();
    /// fire_tax.callback(20);
    /// run_tasks();
    /// assert_eq!(total.try_result().ok().and_then(|r| r.ok()), Some(120));
    /// ```
    ///
    /// # Errors
    /// Without a spawner on this thread ([`set_local_spawner`]), the Deferred is already
    /// failed with [`NoExecutor`].
    ///
    /// # Cancellation
    /// `cancel()` on the returned Deferred drops the future (at once, or right after its
    /// current poll if it cancels itself) and errbacks with `Cancelled`. Dropping the future
    /// drops the Deferreds it was awaiting, which cancels them in turn (see
    /// [`DeferredFuture`](crate::DeferredFuture)), so cancellation cascades like Twisted's
    /// `inlineCallbacks`. Unlike a generator, the async block cannot catch that
    /// cancellation at its `.await` and carry on: Rust futures are cancelled by dropping.
    ///
    /// # Ordering
    /// The future first runs when the spawner polls it (the reactor: on its next turn), not
    /// inside `from_future` as Twisted's `fromCoroutine` does.
    #[track_caller]
    pub fn from_future<F, R, M>(future: F) -> Deferred<T>
    where
        F: Future<Output = R> + 'static,
        R: IntoOutcome<T, M>,
        M: 'static,
    {
        let at = Location::caller();
        let Some(spawner) = SPAWNER.with(|s| s.borrow().clone()) else {
            return fail(Failure::at(NoExecutor, at));
        };
        let task = Rc::new(TaskState {
            future: RefCell::new(Some(Box::pin(future))),
            cancelled: Cell::new(false),
            waker: Cell::new(None),
        });
        let cancel_task = task.clone();
        let (d, fire) = Deferred::with_canceller(move |_fire| cancel_task.cancel());
        spawner(
            Box::pin(Task {
                state: task,
                fire: Some(fire),
                at,
                _marker: PhantomData,
            }),
            at,
        );
        d
    }
}

/// What the Deferred's canceller and the spawned task share.
struct TaskState<F> {
    /// The user's future; `None` once finished or cancelled.
    future: RefCell<Option<Pin<Box<F>>>>,
    /// Cancelled while being polled: drop the future once the poll returns.
    cancelled: Cell<bool>,
    /// To wake the task so the executor lets go of it after a cancel.
    waker: Cell<Option<Waker>>,
}

impl<F> TaskState<F> {
    fn cancel(&self) {
        self.cancelled.set(true);
        if let Ok(mut future) = self.future.try_borrow_mut() {
            drop(future.take());
        }
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// The future handed to the spawner: polls the user's future and fires the Deferred.
struct Task<F, T: 'static, M> {
    state: Rc<TaskState<F>>,
    fire: Option<Fire<T>>,
    at: &'static Location<'static>,
    _marker: PhantomData<fn() -> M>,
}

impl<F, T: 'static, M> Task<F, T, M> {
    fn finish(&mut self, output: Outcome<T>) {
        let Some(fire) = self.fire.take() else {
            return;
        };
        match output {
            Outcome::Value(v) => drop(fire.try_callback(v)),
            Outcome::Failure(f) => drop(fire.try_errback(f)),
            Outcome::Chain(d) => drop(d.chain_deferred(fire)),
        }
    }
}

impl<F, R, T, M> Future for Task<F, T, M>
where
    F: Future<Output = R>,
    R: IntoOutcome<T, M>,
    T: 'static,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let state = this.state.clone();
        let polled = {
            let Ok(mut slot) = state.future.try_borrow_mut() else {
                return Poll::Pending; // re-entrant poll: the outer poll is still running
            };
            let Some(future) = slot.as_mut() else {
                return Poll::Ready(()); // cancelled
            };
            let polled = crate::catch_panic(|| future.as_mut().poll(cx));
            if !matches!(polled, Ok(Poll::Pending)) || state.cancelled.get() {
                drop(slot.take());
            }
            polled
        };
        match polled {
            Ok(Poll::Pending) if !state.cancelled.get() => {
                state.waker.set(Some(cx.waker().clone()));
                Poll::Pending
            }
            Ok(Poll::Pending) => Poll::Ready(()),
            Ok(Poll::Ready(output)) => {
                this.finish(output.into_outcome());
                Poll::Ready(())
            }
            Err(payload) => {
                let failure = Failure::at(Panicked::from_payload(&*payload), this.at);
                this.finish(Outcome::Failure(failure));
                Poll::Ready(())
            }
        }
    }
}
