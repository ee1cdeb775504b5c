//! `Control`: a cloneable, untyped handle to cancel, pause or unpause a Deferred.

use std::fmt;
use std::panic::Location;
use std::rc::Rc;

use crate::chain::Chain;
use crate::error::{Abandoned, Cancelled};
use crate::{trampoline, Failure};

/// A cloneable, untyped handle on a Deferred: cancel, pause, unpause, ask whether it fired.
///
/// A [`Deferred`](crate::Deferred) is moved by `add_callback`, by `await` and by combinators;
/// a `Control` taken beforehand still reaches the same Deferred — the way a timeout or a user's
/// "stop" button cancels a Deferred that lives inside a callback chain. Holding a `Control`
/// keeps the Deferred's chain alive (not its result: only the `Deferred` handle can read that).
///
/// # Examples
/// ```
/// use fate::deferred::{Deferred, Cancelled};
///
/// let (d, _fire) = Deferred::<i64>::pending();
/// let ctl = d.control();
/// let d = d.add_callback(|x| x + 1);
/// ctl.cancel();
/// assert!(ctl.is_called());
/// assert!(d.try_result().ok().and_then(|r| r.err()).is_some_and(|f| f.check::<Cancelled>()));
/// ```
#[derive(Clone)]
pub struct Control {
    pub(crate) chain: Rc<Chain>,
}

impl Control {
    /// Cancels the Deferred; see [`Deferred::cancel`](crate::Deferred::cancel).
    ///
    /// # Examples
    /// ```
    /// let (d, _fire) = fate::Deferred::<()>::pending();
    /// d.control().cancel();
    /// assert!(d.is_called());
    /// ```
    #[track_caller]
    pub fn cancel(&self) {
        cancel(&self.chain, Location::caller());
    }

    /// Pauses the Deferred; see [`Deferred::pause`](crate::Deferred::pause).
    ///
    /// # Examples
    /// ```
    /// let d = fate::deferred::succeed(1);
    /// let ctl = d.control();
    /// ctl.pause();
    /// let d = d.add_callback(|x: i64| x + 1);
    /// assert!(!d.has_result());
    /// ctl.unpause();
    /// assert!(d.has_result());
    /// ```
    pub fn pause(&self) {
        pause(&self.chain);
    }

    /// Unpauses the Deferred; see [`Deferred::unpause`](crate::Deferred::unpause).
    ///
    /// # Examples
    /// ```
    /// let d = fate::deferred::succeed(1);
    /// d.control().pause();
    /// d.control().unpause();
    /// assert!(d.has_result());
    /// ```
    #[track_caller]
    pub fn unpause(&self) {
        unpause(&self.chain, Location::caller());
    }

    /// Whether the Deferred has been fired (by its producer, a canceller or cancellation).
    ///
    /// # Examples
    /// ```
    /// let (d, fire) = fate::Deferred::<()>::pending();
    /// let ctl = d.control();
    /// assert!(!ctl.is_called());
    /// fire.callback(());
    /// assert!(ctl.is_called());
    /// ```
    pub fn is_called(&self) -> bool {
        self.chain.state().fired()
    }
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("created", &format_args!("{}", self.chain.state().created))
            .field("called", &self.is_called())
            .finish()
    }
}

/// twisted-semantics 2.7 (X1–X6), iteratively along the chain of waited-on Deferreds.
pub(crate) fn cancel(chain: &Rc<Chain>, at: &'static Location<'static>) {
    let mut cur = chain.clone();
    loop {
        let st = cur.state();
        if !st.fired() {
            match st.take_canceller() {
                Some(canceller) => canceller(), // may fire; a panic propagates (X6)
                None => st.set_suppress_already_called(true),
            }
            let st = cur.state();
            if !st.fired() {
                if !st.cancel_only_forwards() {
                    st.fail_head(Failure::at(Cancelled, at));
                    trampoline::run(cur);
                } else if st.firers.get() == 0 {
                    st.fail_head(Failure::at(Abandoned, at));
                    trampoline::run(cur);
                }
            }
            return;
        }
        match st.waited_on() {
            Some(inner) => cur = inner, // X4: forward into the Deferred we wait on
            None => return,             // X5: fired with an ordinary result
        }
    }
}

pub(crate) fn pause(chain: &Rc<Chain>) {
    let st = chain.state();
    st.pause();
}

/// Unpausing an unpaused Deferred is ignored with a warning (Twisted lets the counter go
/// negative and blocks the Deferred forever, Q1).
pub(crate) fn unpause(chain: &Rc<Chain>, at: &'static Location<'static>) {
    let st = chain.state();
    match st.paused() {
        0 => tracing::warn!(
            created = %st.created,
            at = %at,
            "unpause() on a Deferred that is not paused: ignored"
        ),
        _ => {
            st.unpause();
            trampoline::run_if_runnable(chain);
        }
    }
}
