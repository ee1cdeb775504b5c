//! `Head<T>`: a chain's control block and the slot its fired value lands in (one allocation).

use std::cell::Cell;
use std::panic::Location;
use std::rc::Rc;

use crate::chain::{Chain, Consumer, Output, Slot, State, Step};
use crate::error::AlreadyCalled;
use crate::release::{release, release_node, Garbage};
use crate::{trampoline, unhandled, Failure};

pub(crate) struct Head<T> {
    /// The chain's control block.
    pub(crate) state: State,
    /// The fired value until the first node consumes it.
    slot: Cell<Slot<T>>,
    /// The first node added.
    next: Cell<Option<Rc<dyn Consumer<T>>>>,
}

impl<T: 'static> Head<T> {
    pub(crate) fn new(created: &'static Location<'static>) -> Head<T> {
        Head {
            state: State::new(created),
            slot: Cell::new(Slot::Empty),
            next: Cell::new(None),
        }
    }

    /// Fires with `result` (Twisted's `callback`/`errback`, A1/A2).
    pub(crate) fn fire(
        self: &Rc<Self>,
        result: Result<T, Failure>,
        at: &'static Location<'static>,
    ) -> Result<(), AlreadyCalled> {
        let st = &self.state;
        if st.fired.get() {
            if st.suppress_already_called.replace(false) {
                return Ok(());
            }
            return Err(AlreadyCalled {
                created: st.created,
                first_fired: st.first_fired.get(),
            });
        }
        st.first_fired.set(Some(at));
        self.slot.set(Slot::Ready(result));
        self.mark_fired();
        trampoline::run(self.clone());
        Ok(())
    }

    fn mark_fired(&self) {
        self.state.fired.set(true);
        drop(self.state.canceller.take()); // X7: break reference cycles
    }

    /// Someone other than the producer could still observe this Deferred: a handle, a
    /// control, or callbacks already attached.
    pub(crate) fn observed(self: &Rc<Self>) -> bool {
        if Rc::strong_count(self) > 1 {
            return true;
        }
        let next = self.next.take();
        let has = next.is_some();
        self.next.set(next);
        has
    }
}

impl<T: 'static> Chain for Head<T> {
    #[inline]
    fn state(&self) -> &State {
        &self.state
    }

    #[inline]
    fn advance_head(&self, chain: &Rc<dyn Chain>) -> Step {
        let Some(next) = self.next.take() else {
            return Step::Idle;
        };
        let input = match self.slot.take() {
            Slot::Ready(r) => r,
            Slot::Empty => Err(Failure::at(crate::Abandoned, self.state.created)),
        };
        next.feed(input, chain)
    }

    fn fail_head(&self, failure: Failure) {
        self.slot.set(Slot::Ready(Err(failure)));
        self.mark_fired();
    }
}

impl<T: 'static> Output<T> for Head<T> {
    #[inline]
    fn set_next(&self, next: Rc<dyn Consumer<T>>) {
        release_node(self.next.replace(Some(next)).map(Consumer::into_node));
    }

    #[inline]
    fn take_ready(&self) -> Option<Result<T, Failure>> {
        match self.slot.take() {
            Slot::Ready(r) => Some(r),
            Slot::Empty => None,
        }
    }

    fn has_ready(&self) -> bool {
        let slot = self.slot.take();
        let ready = matches!(slot, Slot::Ready(_));
        self.slot.set(slot);
        ready
    }
}

impl<T> Drop for Head<T> {
    fn drop(&mut self) {
        if let Slot::Ready(Err(failure)) = self.slot.take() {
            unhandled::report(self.state.created, failure);
        }
        if let Some(cursor) = self.state.cursor.take() {
            release(Garbage::Node(cursor));
        }
        if let Some(next) = self.next.take() {
            release(Garbage::Node(next.into_node()));
        }
    }
}
