//! One simulated host: a name, the program that boots it, and — while it is up — its own
//! reactor, entered whenever the simulator runs something of it.

use std::rc::Rc;
use std::time::Instant;

use super::net::HostId;
use super::socket::Attachment;
use crate::reactor::hosted::HostState;
use crate::reactor::{PanicPolicy, Reactor};

/// A host of the simulation. See the module docs.
pub(crate) struct Host {
    pub(crate) id: HostId,
    pub(crate) name: String,
    /// What boots the host: run at its start and at every restart.
    boot: Rc<dyn Fn()>,
    /// The host's reactor and its saved thread state while it is up; `None` while crashed.
    up: Option<(Reactor, HostState)>,
    /// How many times it started.
    pub(crate) boots: u32,
}

impl Host {
    pub(crate) fn new(id: HostId, name: &str, boot: Rc<dyn Fn()>) -> Host {
        Host {
            id,
            name: name.to_string(),
            boot,
            up: None,
            boots: 0,
        }
    }

    /// Builds the host's reactor on virtual time `now` and runs its boot program on it, as
    /// `fate::run` runs `main`.
    ///
    /// # Panics
    ///
    /// If the reactor cannot be built (epoll or its timer could not be created).
    pub(crate) fn boot(&mut self, now: Instant, attachment: Attachment) {
        let (reactor, state) = Reactor::builder()
            .panic_policy(PanicPolicy::Stop)
            .handle_signals(false)
            .build_hosted(now, attachment)
            .expect("a simulated host's reactor (epoll, eventfd, timerfd) could be built");
        self.up = Some((reactor, state));
        self.boots += 1;
        let boot = self.boot.clone();
        self.within(|r| {
            r.start_hosted()
                .expect("a new reactor is idle and may start");
            r.inner.panic_policy.guard("host boot", || boot());
        });
    }

    /// The host's reactor, while it is up.
    pub(crate) fn reactor(&self) -> Option<&Reactor> {
        self.up.as_ref().map(|(r, _)| r)
    }

    /// Runs `f` with the host entered: its reactor is the thread's current one.
    ///
    /// Returns `None` if the host is down.
    pub(crate) fn within<R>(&mut self, f: impl FnOnce(&Reactor) -> R) -> Option<R> {
        let (reactor, state) = self.up.as_mut()?;
        state.swap();
        // Leave again even if `f` panics (a panic inside the reactor's guard never gets here;
        // one in the simulator's own code must not leave the thread inside a host).
        struct Leave<'a>(&'a mut HostState);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.swap();
            }
        }
        let _leave = Leave(state);
        Some(f(reactor))
    }

    /// Whether the host has something to do at virtual time `now`.
    pub(crate) fn is_runnable(&self, now: Instant) -> bool {
        let Some((reactor, state)) = &self.up else {
            return false;
        };
        state.has_ready()
            || reactor.has_remote_work()
            || reactor
                .timeline()
                .next_deadline()
                .is_some_and(|deadline| deadline <= now)
    }

    /// The earliest timer of the host (a lower bound; see `Timeline::next_deadline`).
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.reactor()?.timeline().next_deadline()
    }

    /// Takes the host down: every timer, task, callback and handler of its reactor is dropped
    /// without running, as a power cut would. Its sockets must already be gone from the
    /// network (so that dropping them sends nothing).
    pub(crate) fn halt(&mut self) {
        self.within(|r| r.halt_hosted());
        self.up = None;
    }
}
