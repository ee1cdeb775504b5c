//! `Head<T>`: a Deferred's one allocation, as its producer sees it — the control block and the
//! slot its fired value lands in.

use std::cell::Cell;
use std::panic::Location;
use std::rc::Rc;

use crate::chain::{Core, State, TypedSlot};
use crate::error::AlreadyCalled;
use crate::{trampoline, Failure};

pub(crate) type Head<T> = Core<TypedSlot<T>>;

impl<T: 'static> Core<TypedSlot<T>> {
    #[inline]
    pub(crate) fn new(created: &'static Location<'static>) -> Head<T> {
        Core {
            state: State::new(created),
            slot: TypedSlot(Cell::new(None)),
        }
    }

    /// Fires with `result` (Twisted's `callback`/`errback`, A1/A2).
    #[inline]
    pub(crate) fn fire(
        self: &Rc<Self>,
        result: Result<T, Failure>,
        at: &'static Location<'static>,
    ) -> Result<(), AlreadyCalled> {
        let st = &self.state;
        if st.fired() {
            return self.fired_again();
        }
        st.first_fired.set(Some(at));
        st.record_first_fire();
        st.mark_fired();
        trampoline::run_fired(self, result);
        Ok(())
    }

    #[cold]
    fn fired_again(&self) -> Result<(), AlreadyCalled> {
        let st = &self.state;
        if st.take_suppress_already_called() {
            return Ok(());
        }
        Err(AlreadyCalled {
            created: st.created,
            first_fired: st.first_fired.get(),
        })
    }

    /// Someone other than the producer could still observe this Deferred: a handle, a
    /// control, or callbacks already attached.
    pub(crate) fn observed(self: &Rc<Self>) -> bool {
        Rc::strong_count(self) > 1 || self.state.has_stages()
    }
}
