//! Reactors that a simulator runs as its hosts (feature `testing`).
//!
//! A hosted reactor is an ordinary [`Reactor`] — same timeline, ready queue, tasks, triggers
//! and I/O sources — with two differences fixed when it is built: its time is virtual (the
//! simulator moves it), and it carries the [`Attachment`] that sends its sockets to the
//! simulated network. Several hosted reactors share one thread. The thread's reactor state
//! (the current reactor, the ready queue, the deferred spawner, the open connections) belongs
//! to whichever host is *entered*: [`HostState::swap`] trades the thread's state with a
//! host's saved one, and trading again restores it, so entering and leaving are the same
//! operation. Nothing here runs on a reactor built by [`ReactorBuilder::build`].

use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Instant;

use super::ready::{Ready, LOCAL};
use super::{
    local_spawner, Inner, PanicPolicy, Reactor, ReactorBuilder, ReactorError, RunState,
    SystemEvent, CURRENT,
};
use crate::testing::sim::Attachment;
use crate::time::Timeline;

/// The thread state of a host while it is not entered (and, while it is, the state of the
/// thread outside it).
pub(crate) struct HostState {
    current: Weak<Inner>,
    reactor_id: u64,
    panic_policy: PanicPolicy,
    /// The host's ready queue: callbacks and woken tasks waiting for its next turn.
    queue: VecDeque<Ready>,
    spawner: Option<fate_deferred::LocalSpawner>,
    /// The host's open connections and listeners, for its shutdown trigger.
    live: crate::net::live::Saved,
}

impl HostState {
    /// Trades the thread's reactor state with this one: enters the host if it is out, leaves
    /// it if it is in.
    pub(crate) fn swap(&mut self) {
        CURRENT.with(|c| std::mem::swap(&mut *c.borrow_mut(), &mut self.current));
        LOCAL.with(|l| {
            self.reactor_id = l.reactor_id.replace(self.reactor_id);
            self.panic_policy = l.panic_policy.replace(self.panic_policy);
            std::mem::swap(&mut *l.queue.borrow_mut(), &mut self.queue);
        });
        self.spawner = fate_deferred::set_local_spawner(self.spawner.take());
        crate::net::live::swap(&mut self.live);
    }

    /// Whether callbacks or woken tasks wait for the host's next turn (only meaningful while
    /// the host is not entered).
    pub(crate) fn has_ready(&self) -> bool {
        !self.queue.is_empty()
    }
}

impl ReactorBuilder {
    /// Builds a host's reactor on virtual time starting at `start`, attached to a simulated
    /// network. The thread's state is left alone: the host's own starts out in the returned
    /// [`HostState`].
    pub(crate) fn build_hosted(
        self,
        start: Instant,
        attachment: Attachment,
    ) -> Result<(Reactor, HostState), ReactorError> {
        let mut inner = self.make(Timeline::manual(start))?;
        Rc::get_mut(&mut inner)
            .expect("a reactor being built is not shared")
            .sim = Some(attachment);
        let state = HostState {
            current: Rc::downgrade(&inner),
            reactor_id: inner.id,
            panic_policy: inner.panic_policy,
            queue: VecDeque::new(),
            spawner: Some(local_spawner()),
            live: Default::default(),
        };
        Ok((Reactor { inner }, state))
    }
}

impl Reactor {
    /// Marks an entered host's reactor as running and fires its startup triggers, as `run`
    /// does before its first turn.
    pub(crate) fn start_hosted(&self) -> Result<(), ReactorError> {
        self.enter()?;
        self.fire_event(SystemEvent::Startup);
        Ok(())
    }

    /// One turn of an entered host at virtual time `now`: remote work, due timers, the ready
    /// queue (steps 1 to 3 of a real turn; the simulator delivers I/O itself).
    pub(crate) fn turn_hosted(&self, now: Instant) {
        self.run_ready(now);
    }

    /// Drops everything an entered host's reactor holds — timers, ready callbacks and tasks,
    /// I/O handlers, triggers — without running any of it, and marks it stopped: a power cut.
    pub(crate) fn halt_hosted(&self) {
        let inner = &*self.inner;
        inner.state.set(RunState::Stopped);
        drop(std::mem::take(&mut *inner.triggers.borrow_mut()));
        // What is dropped may queue or schedule more (a dropped task wakes another): repeat
        // until nothing is left.
        loop {
            let sources = std::mem::take(&mut *inner.sources.borrow_mut());
            let remote = inner.remote.take();
            let idle = sources.is_empty() && remote.is_empty() && inner.timeline.len() == 0;
            drop(sources);
            drop(remote);
            inner.timeline.clear();
            super::ready::clear();
            if idle && super::ready::is_empty() && inner.timeline.len() == 0 {
                break;
            }
        }
    }

    /// Whether other threads or other hosts sent this reactor work.
    pub(crate) fn has_remote_work(&self) -> bool {
        self.inner.remote.has_work()
    }

    /// The first panic that stopped this host under `PanicPolicy::Stop`, taken.
    pub(crate) fn take_panic(&self) -> Option<String> {
        self.inner.panicked.borrow_mut().take()
    }

    /// Runs the handler registered under `token` (if it still is) with `readiness`, behind the
    /// panic guard, as step 5 of a real turn does for an epoll event.
    pub(crate) fn dispatch_hosted(&self, token: mio::Token, readiness: super::io::Readiness) {
        self.dispatch(token, readiness);
    }
}
