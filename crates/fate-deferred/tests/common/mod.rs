//! Helpers shared by the behaviour tests: result readers, a call log, an unhandled-failure
//! recorder, a manual clock and a toy executor. Each test binary uses a subset.
#![allow(dead_code, unreachable_pub)]

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::rc::Rc;
use std::task::{Context, Waker};
use std::time::Duration;

use fate_deferred::{
    reset_unhandled_hook, set_local_spawner, set_unhandled_hook, Deferred, Failure, LocalFuture,
};

/// The success result of a Deferred that must have one (Twisted's `successResultOf`).
#[track_caller]
pub fn ok_of<T: 'static>(d: Deferred<T>) -> T {
    match d.try_result() {
        Ok(Ok(v)) => v,
        Ok(Err(f)) => panic!("expected a success result, got failure {f:?}"),
        Err(_) => panic!("expected a success result, got no result"),
    }
}

/// The failure of a Deferred that must have one (Twisted's `failureResultOf`).
#[track_caller]
pub fn err_of<T: 'static>(d: Deferred<T>) -> Failure {
    match d.try_result() {
        Ok(Err(f)) => f,
        Ok(Ok(_)) => panic!("expected a failure, got a success result"),
        Err(_) => panic!("expected a failure, got no result"),
    }
}

/// Asserts the Deferred has no result yet and hands it back (Twisted's `assertNoResult`).
#[track_caller]
pub fn no_result<T: 'static>(d: Deferred<T>) -> Deferred<T> {
    assert!(!d.has_result(), "expected no result yet: {d:?}");
    d
}

/// A shared, ordered log of events.
pub struct Log<T>(Rc<RefCell<Vec<T>>>);

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Log(self.0.clone())
    }
}

impl<T: Clone> Log<T> {
    pub fn new() -> Self {
        Log(Rc::new(RefCell::new(Vec::new())))
    }
    pub fn push(&self, item: T) {
        self.0.borrow_mut().push(item);
    }
    pub fn get(&self) -> Vec<T> {
        self.0.borrow().clone()
    }
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }
}

/// A named error for tests (Twisted's `GenericError`).
#[derive(Debug, Clone, PartialEq)]
pub struct GenericError(pub &'static str);

impl fmt::Display for GenericError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Error for GenericError {}

/// Records every unhandled failure on this thread (as "text @ created-line") until dropped.
pub struct Unhandled {
    pub log: Log<(String, u32)>,
}

impl Unhandled {
    pub fn install() -> Unhandled {
        let log = Log::new();
        let l = log.clone();
        set_unhandled_hook(move |u| l.push((u.failure().to_string(), u.created().line())));
        Unhandled { log }
    }
    pub fn texts(&self) -> Vec<String> {
        self.log.get().into_iter().map(|(t, _)| t).collect()
    }
}

impl Drop for Unhandled {
    fn drop(&mut self) {
        reset_unhandled_hook();
    }
}

/// A manual clock: `call_later` queues, `advance` runs what came due (Twisted's `task.Clock`).
#[derive(Clone, Default)]
pub struct Clock {
    inner: Rc<ClockInner>,
}

/// A scheduled call: when, a sequence number (FIFO ties), what.
type Call = (Duration, u64, Option<Box<dyn FnOnce()>>);

/// The clock `add_timeout` sets its timer on: queues the call, cancels by removing it.
impl fate_deferred::Scheduler for Clock {
    fn schedule(&self, delay: Duration, f: Box<dyn FnOnce()>) -> Box<dyn FnOnce()> {
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        let due = self.inner.now.get() + delay;
        self.inner.calls.borrow_mut().push((due, id, Some(f)));
        let c = self.clone();
        Box::new(move || c.inner.calls.borrow_mut().retain(|(_, i, _)| *i != id))
    }
}

#[derive(Default)]
struct ClockInner {
    now: Cell<Duration>,
    calls: RefCell<Vec<Call>>,
    next_id: Cell<u64>,
}

impl Clock {
    pub fn new() -> Clock {
        Clock::default()
    }

    pub fn pending_calls(&self) -> usize {
        self.inner.calls.borrow().len()
    }

    pub fn advance(&self, by: Duration) {
        let now = self.inner.now.get() + by;
        self.inner.now.set(now);
        loop {
            let due = {
                let mut calls = self.inner.calls.borrow_mut();
                calls.sort_by_key(|(due, id, _)| (*due, *id));
                match calls.first() {
                    Some((due, _, _)) if *due <= now => Some(calls.remove(0)),
                    _ => None,
                }
            };
            match due {
                Some((_, _, Some(f))) => f(),
                Some(_) => {}
                None => break,
            }
        }
    }
}

thread_local! {
    static TASKS: RefCell<Vec<LocalFuture>> = const { RefCell::new(Vec::new()) };
}

/// A toy executor: installs a spawner on this thread; `run()` polls every task until none
/// completes any more (the tests fire Deferreds between runs).
pub struct Pool;

impl Pool {
    pub fn install() -> Pool {
        set_local_spawner(Some(Rc::new(|f, _| TASKS.with(|t| t.borrow_mut().push(f)))));
        Pool
    }

    pub fn run(&self) {
        loop {
            let tasks: Vec<LocalFuture> = TASKS.with(|t| t.borrow_mut().drain(..).collect());
            if tasks.is_empty() {
                return;
            }
            let before = tasks.len();
            let mut pending = Vec::new();
            for mut task in tasks {
                if task
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                    .is_pending()
                {
                    pending.push(task);
                }
            }
            let done = pending.len() < before;
            let spawned = TASKS.with(|t| !t.borrow().is_empty());
            TASKS.with(|t| t.borrow_mut().extend(pending));
            if !done && !spawned {
                return;
            }
        }
    }

    pub fn tasks(&self) -> usize {
        TASKS.with(|t| t.borrow().len())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        set_local_spawner(None);
        let tasks: Vec<LocalFuture> = TASKS.with(|t| t.borrow_mut().drain(..).collect());
        drop(tasks);
    }
}
