//! Reporting failures nobody handled: a Deferred dropped while holding a `Failure`.

use std::backtrace::BacktraceStatus;
use std::cell::RefCell;
use std::panic::Location;
use std::rc::Rc;

use crate::debug::DebugSites;
use crate::{report, Failure};

/// A failure that was dropped unconsumed, as the unhandled-failure hook sees it.
///
/// # Examples
/// ```
/// use fate::deferred::{fail, set_unhandled_hook, reset_unhandled_hook, Failure};
/// use std::{cell::RefCell, rc::Rc};
///
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let log = seen.clone();
/// set_unhandled_hook(move |u| log.borrow_mut().push((u.failure().to_string(), u.created().line())));
/// drop(fail::<i64>(Failure::msg("nobody listened")));
/// assert_eq!(*seen.borrow(), vec![("nobody listened".to_string(), line!() - 1)]);
/// reset_unhandled_hook();
/// ```
#[derive(Debug)]
pub struct Unhandled<'a> {
    failure: &'a Failure,
    created: &'static Location<'static>,
}

impl Unhandled<'_> {
    /// The failure (its [`location`](Failure::location) says where it arose).
    ///
    /// # Examples
    /// ```
    /// fate::deferred::set_unhandled_hook(|u| assert_eq!(u.failure().to_string(), "x"));
    /// drop(fate::deferred::fail::<()>(fate::Failure::msg("x")));
    /// fate::deferred::reset_unhandled_hook();
    /// ```
    pub fn failure(&self) -> &Failure {
        self.failure
    }

    /// Where the Deferred holding it was created.
    ///
    /// # Examples
    /// ```
    /// fate::deferred::set_unhandled_hook(|u| assert!(u.created().file().ends_with(".rs")));
    /// drop(fate::deferred::fail::<()>(fate::Failure::msg("x")));
    /// fate::deferred::reset_unhandled_hook();
    /// ```
    pub fn created(&self) -> &'static Location<'static> {
        self.created
    }
}

type Hook = Rc<dyn Fn(&Unhandled<'_>)>;

thread_local! {
    static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// Installs this thread's unhandled-failure hook, replacing the default report.
///
/// The default report names the failure, where the Deferred was created and where the
/// failure arose (Twisted's "Unhandled error in Deferred"). It is a `tracing` error event
/// (target `fate::deferred`) when the program installed a `tracing` subscriber, and is
/// written to stderr otherwise, so a forgotten errback is never silent.
///
/// The hook runs from `Drop`, whenever the last reference to a node holding a failure goes
/// away: the `Deferred` handle, or the chain it was attached to. A hook that panics makes the
/// drop panic — the way to make tests fail on unhandled failures. While the thread is already
/// panicking the default hook is used instead (a panic inside a panic aborts).
///
/// # Examples
/// ```should_panic
/// fate::deferred::set_unhandled_hook(|u| panic!("unhandled: {}", u.failure()));
/// drop(fate::deferred::fail::<()>(fate::Failure::msg("lost")));
/// ```
pub fn set_unhandled_hook(hook: impl Fn(&Unhandled<'_>) + 'static) {
    HOOK.with(|h| *h.borrow_mut() = Some(Rc::new(hook)));
}

/// Restores the default unhandled-failure hook on this thread.
///
/// # Examples
/// ```
/// fate::deferred::set_unhandled_hook(|_| {});
/// fate::deferred::reset_unhandled_hook();
/// ```
pub fn reset_unhandled_hook() {
    HOOK.with(|h| *h.borrow_mut() = None);
}

/// Reports `failure`, held by a Deferred created at `created`, through the hook; `sites` are
/// what debugging recorded about that Deferred.
pub(crate) fn report(
    created: &'static Location<'static>,
    failure: Failure,
    sites: Option<&DebugSites>,
) {
    let unhandled = Unhandled {
        failure: &failure,
        created,
    };
    let hook = if std::thread::panicking() {
        None
    } else {
        HOOK.try_with(|h| h.borrow().clone()).ok().flatten()
    };
    match hook {
        Some(hook) => hook(&unhandled),
        None => log(&unhandled, sites),
    }
}

/// The default hook: Twisted's "Unhandled error in Deferred", with the origin.
fn log(u: &Unhandled<'_>, sites: Option<&DebugSites>) {
    let mut text = format!(
        "Unhandled error in Deferred: {}\n  the Deferred was created at {}\n  the failure arose at {}",
        u.failure,
        u.created,
        u.failure.location()
    );
    if u.failure.backtrace().status() == BacktraceStatus::Captured {
        text.push_str(&format!("\nFailure backtrace:\n{}", u.failure.backtrace()));
    }
    match sites {
        Some(sites) => text.push_str(&format!("\n{sites}")),
        None if !crate::debugging() => {
            text.push_str("\n  (fate::deferred::set_debugging(true) records where Deferreds are created and fired)");
        }
        None => {}
    }
    report::error(format_args!("{text}"));
}
