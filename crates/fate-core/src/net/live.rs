//! The open connections of this thread, so that a reactor shutdown closes them all and every
//! protocol hears `connection_lost` before the loop ends (Twisted's `disconnectAll`); and the
//! listening ports, which a shutdown stops once every `before` trigger's wait is over.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use crate::reactor::{Phase, SystemEvent, TriggerId, TriggerWait};

/// Something that can be closed at shutdown.
pub(crate) trait Live {
    /// Closes it now; its owner is told at the next turn.
    fn shut_down(&self);
}

thread_local! {
    /// Weak references to what is (or was recently) open; pruned as it grows.
    static LIVE: RefCell<Vec<Weak<dyn Live>>> = const { RefCell::new(Vec::new()) };
    /// The id of the reactor the shutdown trigger is installed on.
    static INSTALLED_FOR: Cell<u64> = const { Cell::new(0) };
}

/// A host's open items and the reactor its trigger is on, while another host of a simulation
/// runs on this thread (see `reactor::hosted`).
#[cfg(all(feature = "testing", feature = "net"))]
#[derive(Default)]
pub(crate) struct Saved {
    live: Vec<Weak<dyn Live>>,
    installed_for: u64,
}

/// Trades this thread's open items with `saved`.
#[cfg(all(feature = "testing", feature = "net"))]
pub(crate) fn swap(saved: &mut Saved) {
    LIVE.with(|live| std::mem::swap(&mut *live.borrow_mut(), &mut saved.live));
    saved.installed_for = INSTALLED_FOR.with(|i| i.replace(saved.installed_for));
}

/// Remembers `item` until it is dropped; installs the shutdown trigger on this thread's
/// reactor the first time.
pub(crate) fn track(item: Rc<dyn Live>) {
    LIVE.with(|live| {
        let mut live = live.borrow_mut();
        if live.len() == live.capacity() {
            live.retain(|w| w.strong_count() > 0);
        }
        live.push(Rc::downgrade(&item));
    });
    let Some(reactor) = crate::reactor::try_current() else {
        return;
    };
    if INSTALLED_FOR.with(|i| i.replace(reactor.inner.id)) != reactor.inner.id {
        reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
            INSTALLED_FOR.with(|i| i.set(0));
            // Close inside the wait, not when the trigger is called: the reactor awaits the
            // `before` waits in the order the triggers were added, so a graceful shutdown
            // added earlier (a server finishing its requests) completes before this cuts
            // what is still open (Twisted's `disconnectAll` comes after the `before` phase).
            TriggerWait::future(async {
                shut_down_all();
                // Let the `connection_lost` calls queued by the closes run before the loop
                // ends.
                crate::task::yield_now().await;
            })
        });
    }
}

/// Closes everything still open.
pub(crate) fn shut_down_all() {
    let items: Vec<Rc<dyn Live>> = LIVE.with(|live| {
        live.borrow_mut()
            .drain(..)
            .filter_map(|w| w.upgrade())
            .collect()
    });
    for item in items {
        item.shut_down();
    }
}

/// Shuts `port` down in the `during` phase of the reactor's shutdown: after every `before`
/// trigger's wait (a graceful server shutdown still accepts nothing new only once it is over)
/// and before the loop ends, so a Unix socket file is removed by a SIGTERM too. Returns the
/// trigger, for [`forget_at_shutdown`] when the port stops first; `None` without a reactor.
pub(crate) fn stop_at_shutdown(port: Weak<dyn Live>) -> Option<TriggerId> {
    let reactor = crate::reactor::try_current()?;
    Some(
        reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || {
            if let Some(port) = port.upgrade() {
                port.shut_down();
            }
        }),
    )
}

/// Removes a trigger from [`stop_at_shutdown`] (it may have run already).
pub(crate) fn forget_at_shutdown(trigger: Option<TriggerId>) {
    if let (Some(id), Some(reactor)) = (trigger, crate::reactor::try_current()) {
        let _ = reactor.remove_system_event_trigger(id);
    }
}
