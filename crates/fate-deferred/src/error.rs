//! Small named conditions of the deferred layer (Twisted's `CancelledError`, `AlreadyCalledError`,
//! `TimeoutError`, `FirstError`, `FailureGroup`, `QueueOverflow`, `QueueUnderflow`, plus the
//! ones Rust lets us name: `Abandoned`, `Panicked`, `NoExecutor`, `ChainedToItself`).

use std::error::Error;
use std::fmt;
use std::panic::Location;
use std::time::Duration;

use crate::Failure;

/// A Deferred was cancelled and its canceller (if any) did not fire it.
///
/// # Examples
/// ```
/// use fate::deferred::{Deferred, Cancelled};
/// let (d, _fire) = Deferred::<i64>::pending();
/// d.cancel();
/// assert!(d.try_result().ok().and_then(|r| r.err()).is_some_and(|f| f.check::<Cancelled>()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Deferred was cancelled")
    }
}

impl Error for Cancelled {}

/// A Deferred was fired a second time; the Deferred is unchanged.
///
/// Names where the Deferred was created and where it was first fired (Twisted shows these only
/// in debug mode; recording a `Location` costs nothing, so we always do).
///
/// # Examples
/// ```
/// use fate::Deferred;
/// let (_d, fire) = Deferred::<i64>::pending();
/// fire.clone().callback(1);
/// let err = fire.try_callback(2).unwrap_err();
/// assert!(err.to_string().starts_with("Deferred already called"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyCalled {
    pub(crate) created: &'static Location<'static>,
    pub(crate) first_fired: Option<&'static Location<'static>>,
}

impl AlreadyCalled {
    /// Where the Deferred was created.
    ///
    /// # Examples
    /// ```
    /// # use fate::Deferred;
    /// let (_d, fire) = Deferred::<()>::pending();
    /// fire.clone().callback(());
    /// assert_eq!(fire.try_callback(()).unwrap_err().created().line(), line!() - 2);
    /// ```
    pub fn created(&self) -> &'static Location<'static> {
        self.created
    }

    /// Where the Deferred was first fired (`None` when cancellation fired it).
    ///
    /// # Examples
    /// ```
    /// # use fate::Deferred;
    /// let (_d, fire) = Deferred::<()>::pending();
    /// fire.clone().callback(());
    /// assert_eq!(fire.try_callback(()).unwrap_err().first_fired().map(|l| l.line()), Some(line!() - 1));
    /// ```
    pub fn first_fired(&self) -> Option<&'static Location<'static>> {
        self.first_fired
    }
}

impl fmt::Display for AlreadyCalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deferred already called: created at {}", self.created)?;
        match self.first_fired {
            Some(at) => write!(f, ", first fired at {at}"),
            None => f.write_str(", fired by cancellation"),
        }
    }
}

impl Error for AlreadyCalled {}

/// Every firing end ([`Fire`](crate::Fire)) of a Deferred was dropped before it fired.
///
/// Twisted cannot know this and leaves such a Deferred waiting forever; we errback instead.
///
/// # Examples
/// ```
/// use fate::deferred::{Deferred, Abandoned};
/// let (d, fire) = Deferred::<i64>::pending();
/// drop(fire);
/// assert!(d.try_result().ok().and_then(|r| r.err()).is_some_and(|f| f.check::<Abandoned>()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Abandoned;

impl fmt::Display for Abandoned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Deferred abandoned: every firing end was dropped before it fired")
    }
}

impl Error for Abandoned {}

/// A timeout cancelled the Deferred (Twisted's `TimeoutError(timeout, "Deferred")`).
///
/// # Examples
/// ```
/// use fate::deferred::TimedOut;
/// use std::time::Duration;
/// let t = TimedOut::new(Duration::from_millis(2500));
/// assert_eq!(t.to_string(), "Deferred timed out after 2.5s");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    timeout: Duration,
}

impl TimedOut {
    /// A timeout of `timeout`.
    ///
    /// # Examples
    /// ```
    /// let _t = fate::deferred::TimedOut::new(std::time::Duration::from_secs(1));
    /// ```
    pub fn new(timeout: Duration) -> TimedOut {
        TimedOut { timeout }
    }

    /// How long the Deferred was given.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(fate::deferred::TimedOut::new(Duration::from_secs(1)).timeout(), Duration::from_secs(1));
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Deferred timed out after {:?}", self.timeout)
    }
}

impl Error for TimedOut {}

/// A callback, canceller or future panicked; the panic was caught and became this failure.
///
/// # Examples
/// ```
/// use fate::deferred::{succeed, Panicked};
/// let d = succeed(1).add_callback(|_x: i64| -> i64 { panic!("boom") });
/// let f = d.try_result().ok().and_then(|r| r.err()).unwrap();
/// assert_eq!(f.downcast_ref::<Panicked>().map(|p| p.message()), Some("boom"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked {
    message: String,
}

impl Panicked {
    /// Builds from a panic payload (`&str` and `String` payloads keep their text), such as the
    /// one `std::panic::catch_unwind` returns, or a panic caught on another thread or runtime.
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::Panicked;
    /// let payload = std::panic::catch_unwind(|| panic!("hatter")).unwrap_err();
    /// assert_eq!(Panicked::from_payload(&*payload).message(), "hatter");
    /// ```
    pub fn from_payload(payload: &(dyn std::any::Any + Send)) -> Panicked {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "Box<dyn Any>".to_owned()
        };
        Panicked { message }
    }

    /// The panic message.
    ///
    /// # Examples
    /// ```
    /// # use fate::deferred::{maybe_deferred, Panicked};
    /// let d = maybe_deferred(|| -> i64 { panic!("hatter") });
    /// let f = d.try_result().ok().and_then(|r| r.err()).unwrap();
    /// assert_eq!(f.downcast_ref::<Panicked>().unwrap().message(), "hatter");
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "callback panicked: {}", self.message)
    }
}

impl Error for Panicked {}

/// [`Deferred::from_future`](crate::Deferred::from_future) was called on a thread with no
/// spawner installed ([`set_local_spawner`](crate::set_local_spawner)); the reactor installs one.
///
/// # Examples
/// ```
/// use fate::deferred::{Deferred, NoExecutor};
/// let d = Deferred::<i64>::from_future(async { 7 });
/// assert!(d.try_result().ok().and_then(|r| r.err()).is_some_and(|f| f.check::<NoExecutor>()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoExecutor;

impl fmt::Display for NoExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no local spawner on this thread: run futures inside a reactor")
    }
}

impl Error for NoExecutor {}

/// A callback returned the very Deferred it was attached to (Twisted's circular-chain warning,
/// made an error: the chain could never fire).
///
/// # Examples
/// ```
/// use fate::deferred::ChainedToItself;
/// assert!(ChainedToItself.to_string().contains("returned the Deferred it was attached to"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChainedToItself;

impl fmt::Display for ChainedToItself {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Callback returned the Deferred it was attached to")
    }
}

impl Error for ChainedToItself {}

/// The first failure among a `DeferredList`'s (or `gather_results`') inputs, with its index.
///
/// # Examples
/// ```
/// use fate::deferred::{Failure, FirstError, Cancelled};
/// let e = FirstError::new(1, Failure::new(Cancelled));
/// assert_eq!(e.index(), 1);
/// assert!(e.failure().check::<Cancelled>());
/// assert_eq!(e.to_string(), "FirstError[#1, Deferred was cancelled]");
/// ```
#[derive(Debug, Clone)]
pub struct FirstError {
    index: usize,
    failure: Failure,
}

impl FirstError {
    /// The failure of input `index`.
    ///
    /// # Examples
    /// ```
    /// let _e = fate::deferred::FirstError::new(0, fate::Failure::msg("x"));
    /// ```
    pub fn new(index: usize, failure: Failure) -> FirstError {
        FirstError { index, failure }
    }

    /// Which input failed (Twisted's `.index`).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(fate::deferred::FirstError::new(3, fate::Failure::msg("x")).index(), 3);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// The input's failure (Twisted's `.subFailure`).
    ///
    /// # Examples
    /// ```
    /// let e = fate::deferred::FirstError::new(0, fate::Failure::msg("x"));
    /// assert_eq!(e.failure().to_string(), "x");
    /// ```
    pub fn failure(&self) -> &Failure {
        &self.failure
    }
}

impl PartialEq for FirstError {
    /// Equal when the index and the very same failure match (Twisted compares `(index,
    /// subFailure)`).
    fn eq(&self, other: &FirstError) -> bool {
        self.index == other.index && Failure::ptr_eq(&self.failure, &other.failure)
    }
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FirstError[#{}, {}]", self.index, self.failure)
    }
}

impl Error for FirstError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.failure.error())
    }
}

/// Every input of a `race` or `first_success` failed; the failures in input order.
///
/// # Examples
/// ```
/// use fate::deferred::{Failure, FailureGroup};
/// let g = FailureGroup::new(vec![Failure::msg("a"), Failure::msg("b")]);
/// assert_eq!(g.failures().len(), 2);
/// assert_eq!(g.to_string(), "all 2 Deferreds failed: [a, b]");
/// ```
#[derive(Debug, Clone)]
pub struct FailureGroup {
    failures: Vec<Failure>,
}

impl FailureGroup {
    /// A group of `failures`.
    ///
    /// # Examples
    /// ```
    /// let _g = fate::deferred::FailureGroup::new(Vec::new());
    /// ```
    pub fn new(failures: Vec<Failure>) -> FailureGroup {
        FailureGroup { failures }
    }

    /// The failures, in input order.
    ///
    /// # Examples
    /// ```
    /// assert!(fate::deferred::FailureGroup::new(Vec::new()).failures().is_empty());
    /// ```
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }
}

impl fmt::Display for FailureGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "all {} Deferreds failed: [", self.failures.len())?;
        for (i, failure) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{failure}")?;
        }
        f.write_str("]")
    }
}

impl Error for FailureGroup {}

/// `DeferredQueue::put` found no waiting getter and the queue full; the item is handed back.
///
/// # Examples
/// ```
/// use fate::deferred::DeferredQueue;
/// let q = DeferredQueue::with_limits(Some(0), None);
/// assert_eq!(q.put(5).unwrap_err().into_inner(), 5);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOverflow<T> {
    item: T,
}

impl<T> QueueOverflow<T> {
    pub(crate) fn new(item: T) -> QueueOverflow<T> {
        QueueOverflow { item }
    }

    /// The item that did not fit.
    ///
    /// # Examples
    /// ```
    /// let q = fate::deferred::DeferredQueue::with_limits(Some(0), None);
    /// assert_eq!(q.put("x").unwrap_err().into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.item
    }
}

impl<T> fmt::Display for QueueOverflow<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeferredQueue is full")
    }
}

impl<T: fmt::Debug> Error for QueueOverflow<T> {}

/// `DeferredQueue::get` found the queue empty and the backlog of waiting getters full.
///
/// # Examples
/// ```
/// use fate::deferred::{DeferredQueue, QueueUnderflow};
/// let q = DeferredQueue::<i64>::with_limits(None, Some(0));
/// assert_eq!(q.get().err(), Some(QueueUnderflow));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueUnderflow;

impl fmt::Display for QueueUnderflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeferredQueue has too many waiting getters")
    }
}

impl Error for QueueUnderflow {}

/// `DeferredSemaphore::new(0)`: a semaphore needs at least one token.
///
/// # Examples
/// ```
/// use fate::deferred::{DeferredSemaphore, ZeroTokens};
/// assert_eq!(DeferredSemaphore::new(0).err(), Some(ZeroTokens));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZeroTokens;

impl fmt::Display for ZeroTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a DeferredSemaphore needs at least one token")
    }
}

impl Error for ZeroTokens {}
