//! `Failure`: an error with its type identity, where it arose, and (when asked) a backtrace.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::error::Error;
use std::fmt;
use std::marker::PhantomPinned;
use std::panic::Location;
use std::rc::Rc;

use crate::debug::debugging;

/// Whether `RUST_LIB_BACKTRACE` asks library errors for backtraces: read once, then cached.
fn lib_backtrace_asked() -> bool {
    static ASKED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ASKED.get_or_init(|| std::env::var_os("RUST_LIB_BACKTRACE").is_some_and(|v| v != "0"))
}

/// `Result<T, Failure>`: what an async block that awaits Deferreds returns, so that `Ok(())`
/// needs no annotation and `?` converts any error.
///
/// # Examples
/// ```
/// async fn price(item: &str) -> fate::Result<u32> {
///     let cents: u32 = item.len().try_into()?;
///     Ok(cents * 100)
/// }
/// assert_eq!(fate::block_on(price("tea")).unwrap().unwrap(), 300);
/// ```
pub type Result<T, E = Failure> = std::result::Result<T, E>;

/// An error travelling down a Deferred's errback path.
///
/// A `Failure` wraps any `E: std::error::Error + 'static` (no `Send` needed) and keeps:
/// - its **type identity**: [`check`](Failure::check), [`trap`](Failure::trap),
///   [`downcast_ref`](Failure::downcast_ref);
/// - its **source chain**: [`source`](Failure::source), [`error`](Failure::error);
/// - **where it was created**: [`location`](Failure::location) (`#[track_caller]`, so `?` and
///   [`Fire::errback`](crate::Fire::errback) record the caller's line);
/// - a **backtrace** when debugging is on ([`set_debugging`](crate::set_debugging)) or
///   `RUST_LIB_BACKTRACE` asks for one (see [`backtrace`](Failure::backtrace)).
///
/// Cloning is cheap (one `Rc` increment) and clones are the *same* failure
/// ([`Failure::ptr_eq`]), as combinators such as `DeferredList` hand one failure to several
/// places.
///
/// # Why `Failure` is not `std::error::Error`
/// `Failure` converts *from* every error type (`impl<E: Error> From<E> for Failure`, so `?`
/// works in callbacks and async blocks returning `Result<_, Failure>`) and *into*
/// `Box<dyn Error>` (so `?` works in code returning that). Both blanket conversions would
/// conflict with std's if `Failure` itself were an `Error` (the same choice `anyhow::Error`
/// makes). Use [`Failure::error`] to get a `&dyn Error`.
///
/// # Why `Failure` is `!Unpin`
/// A callback may return a plain value, a `Result<U, Failure>` or a `Deferred<U>`
/// ([`IntoOutcome`](crate::IntoOutcome)). A plain value must be `Unpin`; `Failure` and
/// `Deferred` are not, which is what lets the compiler tell the three shapes apart without
/// annotations. Nothing else about `Failure` depends on pinning.
///
/// # Examples
/// ```
/// use fate::deferred::{Failure, Cancelled};
///
/// let f = Failure::new(Cancelled);
/// assert!(f.check::<Cancelled>());
/// assert!(!f.check::<std::io::Error>());
/// assert_eq!(f.to_string(), "Deferred was cancelled");
/// assert!(f.location().file().ends_with(".rs"));
///
/// // `?` converts any error into a Failure:
/// fn parse(s: &str) -> Result<i64, Failure> {
///     Ok(s.parse::<i64>()?)
/// }
/// assert!(parse("x").unwrap_err().check::<std::num::ParseIntError>());
/// ```
#[derive(Clone)]
pub struct Failure {
    inner: Rc<Inner>,
    _not_unpin: PhantomPinned,
}

/// The shared part of a [`Failure`]; never mutated after creation.
struct Inner {
    /// The wrapped error; a `Box` so that `from_boxed` keeps the original type identity.
    error: Box<dyn Error>,
    /// Where the failure was created (`#[track_caller]`).
    location: &'static Location<'static>,
    /// Captured per `set_debugging` / `RUST_LIB_BACKTRACE`; `Disabled` otherwise (free).
    backtrace: Backtrace,
}

impl Failure {
    /// Wraps `error`, recording the caller's location.
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{Failure, TimedOut};
    /// use std::time::Duration;
    ///
    /// let f = Failure::new(TimedOut::new(Duration::from_secs(2)));
    /// assert_eq!(f.downcast_ref::<TimedOut>().map(|t| t.timeout()), Some(Duration::from_secs(2)));
    /// ```
    #[track_caller]
    pub fn new<E: Error + 'static>(error: E) -> Failure {
        Failure::from_boxed(Box::new(error))
    }

    /// Wraps an already boxed error, keeping its concrete type for [`check`](Failure::check)
    /// and [`downcast_ref`](Failure::downcast_ref).
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{Failure, Cancelled};
    /// use std::error::Error;
    ///
    /// let boxed: Box<dyn Error> = Box::new(Cancelled);
    /// assert!(Failure::from_boxed(boxed).check::<Cancelled>());
    /// ```
    #[track_caller]
    pub fn from_boxed(error: Box<dyn Error>) -> Failure {
        Failure::boxed_at(error, Location::caller())
    }

    /// A failure that names `location` as where it arose (for failures the crate creates on
    /// the user's behalf: panics, cancellation, abandonment).
    pub(crate) fn at<E: Error + 'static>(
        error: E,
        location: &'static Location<'static>,
    ) -> Failure {
        Failure::boxed_at(Box::new(error), location)
    }

    fn boxed_at(error: Box<dyn Error>, location: &'static Location<'static>) -> Failure {
        let backtrace = if debugging() || lib_backtrace_asked() {
            Backtrace::force_capture()
        } else {
            Backtrace::disabled()
        };
        Failure {
            inner: Rc::new(Inner {
                error,
                location,
                backtrace,
            }),
            _not_unpin: PhantomPinned,
        }
    }

    /// A failure carrying just a message (like `anyhow!`), for when no error type fits.
    ///
    /// # Examples
    /// ```
    /// let f = fate::Failure::msg("the hatter exploded");
    /// assert_eq!(f.to_string(), "the hatter exploded");
    /// ```
    #[track_caller]
    pub fn msg(message: impl fmt::Display) -> Failure {
        Failure::new(Message(message.to_string()))
    }

    /// Whether the wrapped error is an `E` (Twisted's `check`, for one type).
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{Failure, Cancelled, TimedOut};
    /// let f = Failure::new(Cancelled);
    /// assert!(f.check::<Cancelled>() || f.check::<TimedOut>());
    /// ```
    pub fn check<E: Error + 'static>(&self) -> bool {
        self.inner.error.is::<E>()
    }

    /// Borrows the wrapped `E`, or hands back (a clone of) this failure when it is something
    /// else — Twisted's `trap`, shaped for `?` in an errback.
    ///
    /// # Errors
    /// `Err(self.clone())` when the wrapped error is not an `E`.
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{fail, Cancelled, Failure};
    ///
    /// let d = fail::<i64>(Failure::new(Cancelled)).add_errback(|f| -> Result<i64, Failure> {
    ///     f.trap::<Cancelled>()?; // anything else keeps failing
    ///     Ok(0)
    /// });
    /// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(0));
    /// ```
    pub fn trap<E: Error + 'static>(&self) -> Result<&E, Failure> {
        self.downcast_ref::<E>().ok_or_else(|| self.clone())
    }

    /// The wrapped error as an `E`, if it is one.
    ///
    /// # Examples
    /// ```
    /// use fate::Failure;
    /// let f = Failure::new(std::io::Error::other("disk on fire"));
    /// assert_eq!(f.downcast_ref::<std::io::Error>().map(|e| e.kind()), Some(std::io::ErrorKind::Other));
    /// ```
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.inner.error.downcast_ref::<E>()
    }

    /// The wrapped error.
    ///
    /// # Examples
    /// ```
    /// let f = fate::Failure::new(fate::deferred::Cancelled);
    /// assert_eq!(f.error().to_string(), "Deferred was cancelled");
    /// ```
    pub fn error(&self) -> &(dyn Error + 'static) {
        &*self.inner.error
    }

    /// The wrapped error's source (the next link of the cause chain).
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{Failure, FirstError, Cancelled};
    /// let f = Failure::new(FirstError::new(1, Failure::new(Cancelled)));
    /// assert_eq!(f.source().map(|s| s.to_string()).as_deref(), Some("Deferred was cancelled"));
    /// ```
    pub fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.inner.error.source()
    }

    /// Where this failure was created: the `Failure::new` call, the `?`, the
    /// [`Fire::errback`](crate::Fire::errback) call, or the callback that panicked.
    ///
    /// # Examples
    /// ```
    /// let f = fate::Failure::msg("x");
    /// assert_eq!(f.location().line(), line!() - 1);
    /// ```
    pub fn location(&self) -> &'static Location<'static> {
        self.inner.location
    }

    /// The backtrace captured at creation; its status is `Disabled` unless debugging is on
    /// ([`set_debugging`](crate::set_debugging)) or the environment variable
    /// `RUST_LIB_BACKTRACE` is set to anything but `0` when the first failure is created.
    ///
    /// `RUST_BACKTRACE` alone does not capture one, unlike `std::backtrace::Backtrace::capture`:
    /// it is commonly set for panics, and capturing takes a process-wide lock that another
    /// thread printing a panic's backtrace holds for as long as symbolizing takes (tens to
    /// hundreds of milliseconds in a debug build). A failure created on the loop would wait
    /// for it, and block the loop. Opting in with `RUST_LIB_BACKTRACE` or `set_debugging`
    /// accepts that cost.
    ///
    /// # Examples
    /// ```
    /// let f = fate::Failure::msg("x");
    /// let _status = f.backtrace().status();
    /// ```
    pub fn backtrace(&self) -> &Backtrace {
        &self.inner.backtrace
    }

    /// Whether two failures are the same failure (clones of one another).
    ///
    /// # Examples
    /// ```
    /// use fate::Failure;
    /// let a = Failure::msg("x");
    /// assert!(Failure::ptr_eq(&a, &a.clone()));
    /// assert!(!Failure::ptr_eq(&a, &Failure::msg("x")));
    /// ```
    pub fn ptr_eq(a: &Failure, b: &Failure) -> bool {
        Rc::ptr_eq(&a.inner, &b.inner)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner.error, f)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Failure");
        s.field("error", &self.inner.error)
            .field("location", &format_args!("{}", self.inner.location));
        if self.inner.backtrace.status() == BacktraceStatus::Captured {
            s.field("backtrace", &format_args!("\n{}", self.inner.backtrace));
        }
        s.finish()
    }
}

impl<E: Error + 'static> From<E> for Failure {
    #[track_caller]
    fn from(error: E) -> Failure {
        Failure::new(error)
    }
}

impl From<Failure> for Box<dyn Error> {
    /// Boxes the failure as an error whose `Display` and `source` are the wrapped error's, so
    /// `?` works in functions returning `Result<_, Box<dyn Error>>`.
    fn from(failure: Failure) -> Box<dyn Error> {
        Box::new(AsError(failure))
    }
}

/// Anything [`Fire::errback`](crate::Fire::errback) accepts: a [`Failure`] (passed through
/// unchanged), any error type, or a message — `&str`, `String`, `format!(..)` (both wrapped,
/// recording the caller's location). [`fail`](crate::fail) takes the first two.
///
/// `M` is a marker ([`FromError`] or [`FromMessage`]) the compiler infers; you never write it.
///
/// # Examples
/// ```
/// use fate::deferred::{Failure, IntoFailure, Cancelled};
/// let f = Cancelled.into_failure();
/// assert!(f.clone().into_failure().check::<Cancelled>());
/// assert_eq!(format!("{} left", 3).into_failure().to_string(), "3 left");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot become a `Failure`",
    label = "not an error type, a message or a `Failure`",
    note = "a Failure is made from a `Failure`, any `std::error::Error + 'static`, a `&str` or a `String` (`format!(..)`)"
)]
pub trait IntoFailure<M = FromError> {
    /// Converts into a [`Failure`], recording the caller's location for a new one.
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::IntoFailure;
    /// let f = std::io::Error::other("x").into_failure();
    /// assert_eq!(f.location().line(), line!() - 1);
    /// ```
    #[track_caller]
    fn into_failure(self) -> Failure;
}

/// Marks the [`IntoFailure`] impls for [`Failure`] and error types. Never named by users: the
/// compiler infers it.
///
/// # Examples
/// ```
/// use fate::deferred::{Cancelled, FromError, IntoFailure};
/// assert!(IntoFailure::<FromError>::into_failure(Cancelled).check::<Cancelled>());
/// ```
#[derive(Debug)]
pub enum FromError {}

/// Marks the [`IntoFailure`] impls for messages (`&str`, `String`). Never named by users: the
/// compiler infers it.
///
/// # Examples
/// ```
/// use fate::deferred::{FromMessage, IntoFailure};
/// assert_eq!(IntoFailure::<FromMessage>::into_failure("lost").to_string(), "lost");
/// ```
#[derive(Debug)]
pub enum FromMessage {}

impl IntoFailure for Failure {
    fn into_failure(self) -> Failure {
        self
    }
}

impl<E: Error + 'static> IntoFailure for E {
    #[track_caller]
    fn into_failure(self) -> Failure {
        Failure::new(self)
    }
}

impl IntoFailure<FromMessage> for String {
    #[track_caller]
    fn into_failure(self) -> Failure {
        Failure::new(Message(self))
    }
}

impl IntoFailure<FromMessage> for &str {
    #[track_caller]
    fn into_failure(self) -> Failure {
        Failure::new(Message(self.to_owned()))
    }
}

/// A message-only error (for [`Failure::msg`]).
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Message {}

/// A [`Failure`] seen as a `dyn Error` (for `Box<dyn Error>`).
struct AsError(Failure);

impl fmt::Debug for AsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for AsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Error for AsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}
