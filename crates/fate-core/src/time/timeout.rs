//! `Timeout`: a future with a time limit.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::Sleep;

pin_project! {
    /// A future with a time limit, made by [`Timeline::timeout`](super::Timeline::timeout):
    /// resolves to `Ok(output)`, or to `Err(Elapsed)` if the deadline comes first.
    ///
    /// The inner future is polled first, so an output that is ready when the deadline
    /// passes still wins.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::future::Future;
    /// # use std::task::{Context, Poll, Waker};
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let limited = clock.timeout(Duration::from_secs(1), std::future::pending::<u8>());
    /// let mut limited = std::pin::pin!(limited);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(limited.as_mut().poll(&mut cx).is_pending());
    /// clock.advance(Duration::from_secs(1));
    /// assert!(matches!(limited.poll(&mut cx), Poll::Ready(Err(_))));
    /// ```
    ///
    /// # Cancellation
    ///
    /// Dropping a `Timeout` drops the inner future and removes the timer.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

impl<F> Timeout<F> {
    pub(super) fn new(future: F, sleep: Sleep) -> Timeout<F> {
        Timeout { future, sleep }
    }

    /// The inner future.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// let clock = fate::testing::Clock::new();
    /// let limited = clock.timeout(Duration::from_secs(1), std::future::ready(3));
    /// assert_eq!(limited.into_inner().into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        match Pin::new(this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The error of a [`Timeout`] whose deadline passed first.
///
/// # Examples
///
/// ```
/// # use std::future::Future;
/// # use std::task::{Context, Poll, Waker};
/// # use std::time::Duration;
/// let clock = fate::testing::Clock::new();
/// let mut limited = Box::pin(clock.timeout(Duration::ZERO, std::future::pending::<()>()));
/// let Poll::Ready(Err(elapsed)) = limited.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
///     panic!("a zero timeout elapses at once");
/// };
/// assert_eq!(elapsed.to_string(), "deadline has elapsed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}
