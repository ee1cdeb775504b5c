//! What a callback returns: a plain value, a `Result<U, Failure>`, or a `Deferred<U>`.

use crate::{Deferred, Failure};

/// The three shapes a callback's return can take, made explicit.
///
/// Callbacks rarely build an `Outcome` by hand — returning a value, a `Result<U, Failure>` or a
/// `Deferred<U>` converts through [`IntoOutcome`] — but returning one directly is allowed too.
///
/// # Examples
/// ```
/// use fate::deferred::{succeed, Outcome, Failure};
/// let d = succeed(2).add_callback(|x: i64| if x > 1 { Outcome::Value(x * 10) } else { Outcome::Failure(Failure::msg("small")) });
/// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(20));
/// ```
pub enum Outcome<T> {
    /// Continue down the callback path with this value.
    Value(T),
    /// Continue down the errback path with this failure.
    Failure(Failure),
    /// Pause the chain until this Deferred fires, then continue with its result.
    Chain(Deferred<T>),
}

impl<T> Outcome<T> {
    pub(crate) fn from_result(result: Result<T, Failure>) -> Outcome<T> {
        match result {
            Ok(v) => Outcome::Value(v),
            Err(f) => Outcome::Failure(f),
        }
    }
}

impl<T: std::fmt::Debug + 'static> std::fmt::Debug for Outcome<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Value(v) => f.debug_tuple("Value").field(v).finish(),
            Outcome::Failure(e) => f.debug_tuple("Failure").field(e).finish(),
            Outcome::Chain(d) => f.debug_tuple("Chain").field(d).finish(),
        }
    }
}

/// Marks the [`IntoOutcome`] impl for plain values (any `Unpin` type). Never named by users:
/// the compiler infers it.
///
/// # Examples
/// ```
/// use fate::deferred::{IntoOutcome, Outcome, Plain};
/// let o: Outcome<i64> = IntoOutcome::<i64, Plain>::into_outcome(5);
/// assert!(matches!(o, Outcome::Value(5)));
/// ```
#[derive(Debug)]
pub enum Plain {}

/// Marks the [`IntoOutcome`] impls for `Result<U, Failure>`, `Deferred<U>` and `Outcome<U>`.
/// Never named by users: the compiler infers it.
///
/// # Examples
/// ```
/// use fate::deferred::{Failure, IntoOutcome, Outcome, Shaped};
/// let o: Outcome<i64> = IntoOutcome::<i64, Shaped>::into_outcome(Err::<i64, _>(Failure::msg("x")));
/// assert!(matches!(o, Outcome::Failure(_)));
/// ```
#[derive(Debug)]
pub enum Shaped {}

/// Converts a callback's return into an [`Outcome`], so one `add_callback` accepts all shapes.
///
/// | callback returns     | the chain continues with           |
/// |----------------------|------------------------------------|
/// | `U` (any `Unpin` type) | `U` on the callback path          |
/// | `Result<U, Failure>` | `U`, or the failure on the errback path |
/// | `Deferred<U>`        | whatever that Deferred fires with (the chain waits) |
/// | `Outcome<U>`         | as the variant says                |
///
/// `M` is a marker ([`Plain`] or [`Shaped`]) the compiler infers; you never write it. The
/// shapes are told apart because [`Failure`] and [`Deferred`] are `!Unpin` while plain values
/// must be `Unpin` — every type is, except pinned futures: box those (`Box::pin`) to return
/// them as values. A `Result` with an error type other than `Failure` is a plain value (the
/// Deferred then carries that `Result`); convert with `?` or `map_err(Failure::new)` to fail.
///
/// # Examples
/// ```
/// use fate::deferred::{succeed, Deferred, Failure};
/// let d = succeed(1)
///     .add_callback(|x: i64| x + 1)                            // plain value
///     .add_callback(|x| -> Result<i64, Failure> { Ok(x * 2) }) // Result
///     .add_callback(|x| succeed(x - 3));                      // Deferred
/// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(1));
/// ```
pub trait IntoOutcome<T, M> {
    /// Converts into an [`Outcome`].
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{succeed, IntoOutcome, Outcome};
    /// assert!(matches!(succeed(1).into_outcome(), Outcome::Chain(_)));
    /// ```
    fn into_outcome(self) -> Outcome<T>;
}

impl<T: Unpin> IntoOutcome<T, Plain> for T {
    #[inline]
    fn into_outcome(self) -> Outcome<T> {
        Outcome::Value(self)
    }
}

impl<T> IntoOutcome<T, Shaped> for Result<T, Failure> {
    #[inline]
    fn into_outcome(self) -> Outcome<T> {
        match self {
            Ok(v) => Outcome::Value(v),
            Err(f) => Outcome::Failure(f),
        }
    }
}

impl<T> IntoOutcome<T, Shaped> for Deferred<T> {
    #[inline]
    fn into_outcome(self) -> Outcome<T> {
        Outcome::Chain(self)
    }
}

impl<T> IntoOutcome<T, Shaped> for Outcome<T> {
    #[inline]
    fn into_outcome(self) -> Outcome<T> {
        self
    }
}
