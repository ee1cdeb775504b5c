//! System event triggers: code that runs when the reactor starts up or shuts down.
//!
//! Twisted's three-phase events. Firing an event runs its `before` triggers, waits for every
//! one of them that returned something to wait on (a Deferred or a future), then runs the
//! `during` triggers, then the `after` triggers. Each trigger runs once and is removed as it
//! runs; a panicking trigger is reported by the panic policy and the others still run.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A reactor life-cycle event that triggers can be attached to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SystemEvent {
    /// The reactor starts running (`run`).
    Startup,
    /// The reactor stops (`stop`, SIGINT, SIGTERM).
    Shutdown,
}

/// When, relative to the event, a trigger runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// First; a `before` trigger may return something to wait on, which delays the event.
    Before,
    /// Once every `before` trigger's wait is over. The reactor's own shutdown work (leaving
    /// the loop) happens in this phase.
    During,
    /// Last.
    After,
}

/// Identifies a registered trigger, for [`Reactor::remove_system_event_trigger`].
///
/// [`Reactor::remove_system_event_trigger`]: crate::reactor::Reactor::remove_system_event_trigger
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TriggerId(u64);

/// A trigger id that names no pending trigger: it already ran, was removed, or never existed.
///
/// # Examples
///
/// ```
/// use fate::reactor::{Phase, Reactor, SystemEvent};
///
/// let reactor = Reactor::new().unwrap();
/// let id = reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || ());
/// assert!(reactor.remove_system_event_trigger(id).is_ok());
/// assert!(reactor.remove_system_event_trigger(id).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownTrigger(pub TriggerId);

impl fmt::Display for UnknownTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no pending system event trigger has id {}", (self.0).0)
    }
}

impl std::error::Error for UnknownTrigger {}

/// What a trigger returns: nothing, or something the event must wait for.
///
/// `()` means "done". A future (or a Deferred, through its `IntoFuture`) delays the rest of the
/// event until it completes — how a server closes its listeners gracefully before shutdown.
pub struct TriggerWait(pub(crate) Option<Pin<Box<dyn Future<Output = ()>>>>);

impl From<()> for TriggerWait {
    fn from((): ()) -> Self {
        TriggerWait(None)
    }
}

/// A Deferred returned by a `before` trigger delays the event until it fires; a failure is
/// reported (see [`PanicPolicy`](super::PanicPolicy)) and the event goes on.
impl<T: 'static> From<fate_deferred::Deferred<T>> for TriggerWait {
    fn from(d: fate_deferred::Deferred<T>) -> Self {
        TriggerWait::future(async move {
            if let Err(failure) = d.await {
                super::report::error(format_args!("a system event trigger failed: {failure}"));
            }
        })
    }
}

impl TriggerWait {
    /// Waits for `fut` (its output is ignored) before the event goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// use fate::reactor::{Phase, Reactor, SystemEvent, TriggerWait};
    ///
    /// let reactor = Reactor::new().unwrap();
    /// reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
    ///     TriggerWait::future(fate::sleep(std::time::Duration::from_millis(1)))
    /// });
    /// reactor.call_soon(|| fate::reactor::current().stop());
    /// reactor.run().unwrap();
    /// ```
    pub fn future<F: Future + 'static>(fut: F) -> TriggerWait {
        TriggerWait(Some(Box::pin(async move {
            fut.await;
        })))
    }
}

type TriggerFn = Box<dyn FnOnce() -> TriggerWait>;

/// The registered, not yet run triggers, in registration order.
#[derive(Default)]
pub(crate) struct Triggers {
    next_id: u64,
    pending: Vec<(TriggerId, SystemEvent, Phase, TriggerFn)>,
}

impl Triggers {
    pub(crate) fn add(&mut self, phase: Phase, event: SystemEvent, f: TriggerFn) -> TriggerId {
        self.next_id += 1;
        let id = TriggerId(self.next_id);
        self.pending.push((id, event, phase, f));
        id
    }

    pub(crate) fn remove(&mut self, id: TriggerId) -> Result<(), UnknownTrigger> {
        let at = self
            .pending
            .iter()
            .position(|t| t.0 == id)
            .ok_or(UnknownTrigger(id))?;
        drop(self.pending.remove(at));
        Ok(())
    }

    /// Removes and returns the oldest trigger for `event` in `phase`.
    pub(crate) fn take_next(&mut self, event: SystemEvent, phase: Phase) -> Option<TriggerFn> {
        let at = self
            .pending
            .iter()
            .position(|t| t.1 == event && t.2 == phase)?;
        Some(self.pending.remove(at).3)
    }
}
