//! `DeferredList` and `gather_results`: fan-in over many Deferreds (twisted-semantics 2.10–2.11).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use crate::error::{Cancelled, FirstError, TimedOut};
use crate::{timeout, Control, Deferred, Failure, Fire, Outcome};

/// What a [`DeferredList`] fires with.
///
/// # Examples
/// ```
/// use fate::deferred::{succeed, DeferredList, ListResult};
/// let d = DeferredList::new([succeed(1), succeed(2)]).into_deferred();
/// match d.try_result().ok().and_then(|r| r.ok()) {
///     Some(ListResult::All(results)) => assert_eq!(results.len(), 2),
///     _ => unreachable!(),
/// }
/// ```
#[derive(Debug)]
pub enum ListResult<T> {
    /// Every input's outcome, in input order (Twisted's `[(ok, value), ...]`).
    All(Vec<Result<T, Failure>>),
    /// With `fire_on_one_callback`: the first success and its index (Twisted's
    /// `(value, index)`).
    First(usize, T),
}

/// Waits for many Deferreds and fires with all their outcomes (Twisted's `DeferredList`).
///
/// Build it with [`new`](DeferredList::new), choose options, then
/// [`into_deferred`](DeferredList::into_deferred):
/// - default: fires (on the success path) once every input has fired, with
///   [`ListResult::All`] — each input's `Ok(value)` or `Err(failure)` in input order.
///   With no inputs, fires at once with an empty list.
/// - [`fire_on_one_callback`](DeferredList::fire_on_one_callback): the first success fires
///   the list with [`ListResult::First`]; if every input fails, it fires with `All`, as
///   Twisted's does. With no inputs it fires `All(vec![])` at once, where Twisted never fires.
/// - [`fire_on_one_errback`](DeferredList::fire_on_one_errback): the first failure errbacks
///   the list with [`FirstError`].
/// - [`consume_errors`](DeferredList::consume_errors): an input's failure counts as handled
///   by the list. Without it the input keeps a copy, reported as unhandled when the input is
///   dropped — as Twisted leaves the failure in the input.
///
/// The inputs are moved in: their callbacks added before the list run first and change what
/// the list sees. Already-fired inputs are observed during construction.
///
/// # Cancellation
/// Cancelling the list before it fires cancels every input; a canceller that panics is logged
/// and the rest are still cancelled. The outcome then follows from the inputs'
/// results — the list itself never errbacks `Cancelled`, and stays unfired while an input
/// whose canceller panicked stays unfired. After the list fired, `cancel()` does nothing.
///
/// When a timeout ([`Deferred::add_timeout`]) cancels the list, each input it cancelled is
/// recorded as [`TimedOut`] — "Deferred timed out after 2s" — not `Cancelled` (Twisted
/// shows `CancelledError` there, which hides why).
///
/// # Examples
/// ```
/// use fate::deferred::{Deferred, DeferredList, ListResult, Failure};
/// let (a, fire_a) = Deferred::<&str>::pending();
/// let (b, fire_b) = Deferred::<&str>::pending();
/// let list = DeferredList::new([a, b]).consume_errors().into_deferred();
/// fire_b.errback(Failure::msg("b broke"));
/// fire_a.callback("a");
/// let Some(ListResult::All(results)) = list.try_result().ok().and_then(|r| r.ok()) else { panic!() };
/// assert_eq!(results[0].as_ref().ok(), Some(&"a"));
/// assert_eq!(results[1].as_ref().err().map(|f| f.to_string()).as_deref(), Some("b broke"));
/// ```
#[must_use = "a DeferredList does nothing until into_deferred()"]
#[derive(Debug)]
pub struct DeferredList<T: 'static> {
    inputs: Vec<Deferred<T>>,
    fire_on_one_callback: bool,
    fire_on_one_errback: bool,
    consume_errors: bool,
}

impl<T: 'static> DeferredList<T> {
    /// A list over `inputs`, with Twisted's default options (all off).
    ///
    /// # Examples
    /// ```
    /// let _list = fate::deferred::DeferredList::new(vec![fate::deferred::succeed(1)]);
    /// ```
    pub fn new(inputs: impl IntoIterator<Item = Deferred<T>>) -> DeferredList<T> {
        DeferredList {
            inputs: inputs.into_iter().collect(),
            fire_on_one_callback: false,
            fire_on_one_errback: false,
            consume_errors: false,
        }
    }

    /// Fire with the first success, as `ListResult::First(index, value)`.
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{Deferred, DeferredList, ListResult};
    /// let (a, _fire_a) = Deferred::<i64>::pending();
    /// let list = DeferredList::new([a, fate::deferred::succeed(9)]).fire_on_one_callback().into_deferred();
    /// assert!(matches!(list.try_result().ok().and_then(|r| r.ok()), Some(ListResult::First(1, 9))));
    /// ```
    pub fn fire_on_one_callback(mut self) -> DeferredList<T> {
        self.fire_on_one_callback = true;
        self
    }

    /// Errback with [`FirstError`] at the first failure.
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{fail, succeed, DeferredList, Failure, FirstError};
    /// let list = DeferredList::new([succeed(1), fail(Failure::msg("x"))]).fire_on_one_errback().into_deferred();
    /// let f = list.try_result().ok().and_then(|r| r.err()).unwrap();
    /// assert_eq!(f.downcast_ref::<FirstError>().map(|e| e.index()), Some(1));
    /// ```
    pub fn fire_on_one_errback(mut self) -> DeferredList<T> {
        self.fire_on_one_errback = true;
        self
    }

    /// Take responsibility for the inputs' failures (they are not reported as unhandled).
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{fail, DeferredList, Failure};
    /// let list = DeferredList::<i64>::new([fail(Failure::msg("x"))]).consume_errors().into_deferred();
    /// assert!(list.has_result());
    /// ```
    pub fn consume_errors(mut self) -> DeferredList<T> {
        self.consume_errors = true;
        self
    }

    /// Attaches to every input and returns the list's Deferred.
    ///
    /// # Examples
    /// ```
    /// use fate::deferred::{succeed, DeferredList, ListResult};
    /// let d = DeferredList::<i64>::new([]).into_deferred();
    /// assert!(matches!(d.try_result().ok().and_then(|r| r.ok()), Some(ListResult::All(v)) if v.is_empty()));
    /// ```
    #[track_caller]
    pub fn into_deferred(self) -> Deferred<ListResult<T>> {
        let controls: Vec<Control> = self.inputs.iter().map(Deferred::control).collect();
        let timed_out = Rc::new(Cell::new(None));
        let cause = timed_out.clone();
        let (list, fire) = Deferred::with_canceller(move |_fire| {
            cause.set(timeout::timing_out());
            cancel_all(&controls, None);
        });
        list.chain.state.set_cancel_only_forwards();
        let n = self.inputs.len();
        let state = Rc::new(ListState {
            fire: RefCell::new(Some(fire)),
            results: RefCell::new((0..n).map(|_| None).collect()),
            remaining: Cell::new(n),
            fire_on_one_callback: self.fire_on_one_callback,
            fire_on_one_errback: self.fire_on_one_errback,
            timed_out,
        });
        if n == 0 {
            state.finish();
        }
        let consume = self.consume_errors;
        for (index, input) in self.inputs.into_iter().enumerate() {
            let state = state.clone();
            let _observed: Deferred<()> = input.add_both(move |r| -> Outcome<()> {
                let kept = match &r {
                    Err(f) if !consume => Some(f.clone()),
                    _ => None,
                };
                state.arrive(index, r);
                match kept {
                    Some(f) => Outcome::Failure(f),
                    None => Outcome::Value(()),
                }
            });
        }
        list
    }
}

/// Cancels every input but `except`, logging cancellers that panic (L8, L15).
pub(crate) fn cancel_all(controls: &[Control], except: Option<usize>) {
    for (i, control) in controls.iter().enumerate() {
        if Some(i) == except {
            continue;
        }
        if crate::catch_panic(|| control.cancel()).is_err() {
            tracing::error!(input = i, "Exception raised from user supplied canceller");
        }
    }
}

/// What every input's observer shares.
struct ListState<T: 'static> {
    /// The list's firing end; taken when the list fires.
    fire: RefCell<Option<Fire<ListResult<T>>>>,
    /// Each input's outcome, once it arrived (Twisted's `resultList`).
    results: RefCell<Vec<Option<Result<T, Failure>>>>,
    /// Inputs still to fire.
    remaining: Cell<usize>,
    fire_on_one_callback: bool,
    fire_on_one_errback: bool,
    /// Set when a timeout cancelled the list: inputs it cancelled record [`TimedOut`].
    timed_out: Rc<Cell<Option<Duration>>>,
}

impl<T: 'static> ListState<T> {
    fn arrive(&self, index: usize, result: Result<T, Failure>) {
        self.remaining.set(self.remaining.get().saturating_sub(1));
        let result = match (result, self.timed_out.get()) {
            (Err(f), Some(timeout)) if f.check::<Cancelled>() => {
                Err(Failure::at(TimedOut::new(timeout), f.location()))
            }
            (result, _) => result,
        };
        let fired = self.fire.borrow().is_none();
        if !fired {
            match result {
                Ok(value) if self.fire_on_one_callback => {
                    return self.fire_with(Ok(ListResult::First(index, value)));
                }
                Err(failure) if self.fire_on_one_errback => {
                    let first = FirstError::new(index, failure.clone());
                    if let Some(slot) = self.results.borrow_mut().get_mut(index) {
                        *slot = Some(Err(failure));
                    }
                    return self.fire_with(Err(Failure::new(first)));
                }
                result => {
                    if let Some(slot) = self.results.borrow_mut().get_mut(index) {
                        *slot = Some(result);
                    }
                }
            }
        }
        if self.remaining.get() == 0 {
            self.finish();
        }
    }

    fn finish(&self) {
        if self.fire.borrow().is_none() {
            return;
        }
        let results = std::mem::take(&mut *self.results.borrow_mut());
        let all = results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Failure::new(crate::Abandoned))))
            .collect();
        self.fire_with(Ok(ListResult::All(all)));
    }

    fn fire_with(&self, result: Result<ListResult<T>, Failure>) {
        let fire = self.fire.borrow_mut().take();
        if let Some(fire) = fire {
            fire.try_fire(result).ok();
        }
    }
}

/// Waits for every input and fires with their values in input order; the first failure
/// errbacks with [`FirstError`] (Twisted's `gatherResults`).
///
/// As in Twisted, the other inputs are not cancelled when one fails, and their later failures
/// stay with them (reported as unhandled if nobody handles them). Cancelling the gather
/// cancels every input.
///
/// # Examples
/// ```
/// use fate::deferred::{gather_results, succeed};
/// let d = gather_results([succeed(1), succeed(2)]);
/// assert_eq!(d.try_result().ok().and_then(|r| r.ok()), Some(vec![1, 2]));
/// ```
#[track_caller]
pub fn gather_results<T: 'static>(
    inputs: impl IntoIterator<Item = Deferred<T>>,
) -> Deferred<Vec<T>> {
    gather(DeferredList::new(inputs))
}

/// [`gather_results`] that consumes the inputs' failures (Twisted's
/// `gatherResults(ds, consumeErrors=True)`): the first one errbacks the gather with
/// [`FirstError`], and none of them is also reported as unhandled by its input.
///
/// # Examples
/// ```
/// use fate::deferred::{gather_results_consuming_errors, Deferred, FirstError};
///
/// let (a, fire_a) = Deferred::<i64>::pending();
/// let (b, fire_b) = Deferred::<i64>::pending();
/// let all = gather_results_consuming_errors([a, b]);
/// fire_b.errback("b broke");
/// fire_a.errback("a broke too"); // consumed: not reported
/// let failure = all.try_result().ok().and_then(|r| r.err()).unwrap();
/// assert_eq!(failure.downcast_ref::<FirstError>().map(|e| e.index()), Some(1));
/// ```
#[track_caller]
pub fn gather_results_consuming_errors<T: 'static>(
    inputs: impl IntoIterator<Item = Deferred<T>>,
) -> Deferred<Vec<T>> {
    gather(DeferredList::new(inputs).consume_errors())
}

/// The values of `list`'s inputs, or its first failure.
#[track_caller]
fn gather<T: 'static>(list: DeferredList<T>) -> Deferred<Vec<T>> {
    list.fire_on_one_errback()
        .into_deferred()
        .add_callback(|list| -> Result<Vec<T>, Failure> {
            match list {
                ListResult::All(results) => results.into_iter().collect(),
                ListResult::First(_, value) => Ok(vec![value]), // not asked for: cannot happen
            }
        })
}
