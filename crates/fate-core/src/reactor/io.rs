//! Registration of I/O sources with the reactor, and dispatch of their readiness.
//!
//! A source (socket, pipe, pidfd, ...) is registered once, edge-triggered, with a handler. When
//! epoll reports it, the reactor calls the handler's [`IoHandler::ready`] with what changed.
//! Edge-triggered means the handler is told once per change: it must read (or write) until the
//! operation returns `WouldBlock`, or re-queue itself with `call_soon` to finish later, or it
//! will never hear of that source again.
//!
//! Tokens carry a generation, so an event that was already in the batch for a source that was
//! deregistered (and whose slot was reused) during the same batch is dropped, not delivered to
//! the newcomer.

// Its users are the networking and process modules.
#![cfg_attr(not(any(feature = "net", feature = "process")), allow(dead_code))]

use std::io;
use std::rc::{Rc, Weak};

use mio::event::Source;
use mio::{Interest, Token};

use super::watchdog::Site;
use super::Inner;

/// Tokens below this value are the reactor's own (waker, timer, signals).
pub(crate) const FIRST_IO_TOKEN: usize = 8;

/// What epoll reported for a source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Readiness {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer closed its writing half (EOF is readable); reading will return 0.
    pub(crate) read_closed: bool,
    /// Our writing half can no longer be used (peer reset or closed).
    pub(crate) write_closed: bool,
    /// The source has a pending error (`SO_ERROR`).
    pub(crate) error: bool,
}

impl Readiness {
    pub(crate) fn from_event(event: &mio::event::Event) -> Readiness {
        Readiness {
            readable: event.is_readable(),
            writable: event.is_writable(),
            read_closed: event.is_read_closed(),
            write_closed: event.is_write_closed(),
            error: event.is_error(),
        }
    }
}

/// Something that wants to hear when its source becomes ready.
pub(crate) trait IoHandler {
    /// Called on the loop thread with what changed; see the module docs for the edge-triggered
    /// contract. A panic here is caught by the reactor's panic policy.
    fn ready(&self, readiness: Readiness);
}

/// One registered source: its handler, the generation its token was issued with, and where
/// the code its handler runs came from (for the watchdog's report).
pub(crate) struct IoEntry {
    pub(crate) handler: Rc<dyn IoHandler>,
    pub(crate) generation: u32,
    pub(crate) site: Site,
}

/// The registration of one source; deregister it before closing the source.
///
/// Dropping a registration removes its handler from the reactor (so the handler is never
/// called again) but cannot deregister the source from epoll, since it no longer has the source:
/// closing the fd does that. Call [`IoRegistration::deregister`] when the source outlives it.
pub(crate) struct IoRegistration {
    reactor: Weak<Inner>,
    token: Token,
}

impl IoRegistration {
    /// The token epoll reports for this source.
    #[allow(dead_code)]
    pub(crate) fn token(&self) -> Token {
        self.token
    }

    /// Changes the interests the source is registered for.
    #[cfg_attr(not(feature = "process"), allow(dead_code))] // the process pipes' user
    pub(crate) fn reregister(
        &self,
        source: &mut impl Source,
        interest: Interest,
    ) -> io::Result<()> {
        let reactor = self.reactor.upgrade().ok_or_else(gone)?;
        reactor.registry.reregister(source, self.token, interest)
    }

    /// Removes the source from epoll and its handler from the reactor.
    pub(crate) fn deregister(self, source: &mut impl Source) -> io::Result<()> {
        match self.reactor.upgrade() {
            Some(reactor) => reactor.registry.deregister(source),
            None => Ok(()),
        }
        // `self` drops here and removes the handler.
    }
}

impl Drop for IoRegistration {
    fn drop(&mut self) {
        if let Some(reactor) = self.reactor.upgrade() {
            let (index, generation) = split_token(self.token);
            let mut sources = reactor.sources.borrow_mut();
            if sources
                .get(index)
                .is_some_and(|e| e.generation == generation)
            {
                let entry = sources.remove(index);
                drop(sources);
                drop(entry);
            }
        }
    }
}

#[cfg_attr(not(feature = "process"), allow(dead_code))]
pub(crate) fn gone() -> io::Error {
    io::Error::other("the reactor this source was registered with is gone")
}

/// Packs a slab index and a generation into a mio token.
fn make_token(index: usize, generation: u32) -> Token {
    Token(((generation as usize) << 32) | (index + FIRST_IO_TOKEN))
}

/// The inverse of [`make_token`].
pub(crate) fn split_token(token: Token) -> (usize, u32) {
    let raw = token.0;
    ((raw & 0xffff_ffff) - FIRST_IO_TOKEN, (raw >> 32) as u32)
}

impl Inner {
    /// Registers `source` for `interest`, edge-triggered, with `handler`; `site` is where the
    /// user code the handler runs was given to us (a `listen_*` or `connect_*` call, say).
    pub(crate) fn register_io(
        self: &Rc<Self>,
        source: &mut impl Source,
        interest: Interest,
        handler: Rc<dyn IoHandler>,
        site: Site,
    ) -> io::Result<IoRegistration> {
        let generation = self.next_generation.get().wrapping_add(1);
        self.next_generation.set(generation);
        let index = self.sources.borrow_mut().insert(IoEntry {
            handler,
            generation,
            site,
        });
        let token = make_token(index, generation);
        if let Err(e) = self.registry.register(source, token, interest) {
            self.sources.borrow_mut().remove(index);
            return Err(e);
        }
        Ok(IoRegistration {
            reactor: Rc::downgrade(self),
            token,
        })
    }

    /// The handler for `token` and its site, if it is still registered under that generation.
    pub(crate) fn handler_for(&self, token: Token) -> Option<(Rc<dyn IoHandler>, Site)> {
        let (index, generation) = split_token(token);
        let sources = self.sources.borrow();
        let entry = sources.get(index)?;
        (entry.generation == generation).then(|| (entry.handler.clone(), entry.site))
    }
}
