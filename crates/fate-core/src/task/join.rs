//! The handle to a spawned task's output.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::reactor::watchdog::Site;

/// Why a task produced no output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The task panicked; the panic's message.
    Panicked(String),
    /// The task was aborted (or its reactor went away) before it finished.
    Cancelled,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(msg) => write!(f, "the task panicked: {msg}"),
            JoinError::Cancelled => f.write_str("the task was cancelled before it finished"),
        }
    }
}

impl std::error::Error for JoinError {}

/// Awaits a task's output: `Ok(output)`, or a [`JoinError`].
///
/// # Cancellation
///
/// Dropping the handle detaches the task: it runs on and its output is dropped. Call
/// [`abort`](JoinHandle::abort) to cancel it: the future is dropped at once (or, if it is
/// being polled right now, when that poll returns).
///
/// # Examples
///
/// ```
/// let reactor = fate::reactor::Reactor::new().unwrap();
/// reactor.block_on(async {
///     let handle = fate::task::spawn_local(async { panic!("oops") });
///     assert!(matches!(handle.await, Err(fate::task::JoinError::Panicked(_))));
/// }).unwrap();
/// ```
#[must_use = "dropping a JoinHandle detaches the task; await it or call `detach` to say so"]
pub struct JoinHandle<T> {
    task: Option<async_task::FallibleTask<Result<T, JoinError>, Site>>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(task: async_task::Task<Result<T, JoinError>, Site>) -> Self {
        JoinHandle {
            task: Some(task.fallible()),
        }
    }

    /// Lets the task run to completion with nobody waiting for its output.
    pub fn detach(mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }

    /// Cancels the task: its future is dropped and this handle resolves to
    /// `Err(JoinError::Cancelled)` — unless it already finished, in which case the output is
    /// still returned.
    pub fn abort(&mut self) -> AbortedOrDone<'_, T> {
        AbortedOrDone { handle: self }
    }

    /// Whether the task has finished (its output is ready to take).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }
}

/// Returned by [`JoinHandle::abort`]: await it to learn whether the task had already finished,
/// or drop it to cancel without waiting.
#[must_use = "the task is cancelled either way; await this to get an output it already had"]
pub struct AbortedOrDone<'a, T> {
    handle: &'a mut JoinHandle<T>,
}

impl<T> Drop for AbortedOrDone<'_, T> {
    fn drop(&mut self) {
        if let Some(task) = self.handle.task.take() {
            // Dropping an async-task Task cancels it.
            drop(task);
        }
    }
}

impl<T> Future for AbortedOrDone<'_, T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(task) = self.handle.task.as_mut() else {
            return Poll::Ready(Err(JoinError::Cancelled));
        };
        if task.is_finished() {
            if let Poll::Ready(Some(out)) = Pin::new(task).poll(cx) {
                return Poll::Ready(out);
            }
        }
        self.handle.task.take();
        Poll::Ready(Err(JoinError::Cancelled))
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.detach();
        }
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(task) = self.task.as_mut() else {
            return Poll::Ready(Err(JoinError::Cancelled));
        };
        match Pin::new(task).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(out)) => {
                // Detaching a finished task is cheaper than dropping it (no cancel step).
                if let Some(task) = self.task.take() {
                    task.detach();
                }
                Poll::Ready(out)
            }
            Poll::Ready(None) => {
                self.task = None;
                Poll::Ready(Err(JoinError::Cancelled))
            }
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
