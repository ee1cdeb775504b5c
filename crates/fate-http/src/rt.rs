//! hyper's runtime hooks on the reactor: an executor that spawns `!Send` tasks, and a timer
//! whose sleeps are `Send + Sync` handles to reactor timers.
//!
//! hyper keeps its timer as an `Arc<dyn Timer + Send + Sync>` and requires every `Sleep` to
//! be `Send + Sync`, but the reactor's timers are `!Send` (they live in a `RefCell`ed wheel).
//! So a [`Sleep`] here holds only plain data — a deadline, a slot number and the thread it
//! belongs to — and the real `fate_core::time::Sleep` lives in a thread-local slab. hyper
//! never moves a connection between threads; if a `Sleep` is dropped on another thread anyway,
//! its slot is left alone (the timer then fires into a dead waker and is removed).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use slab::Slab;

thread_local! {
    /// The reactor sleeps behind this thread's [`Sleep`] handles, by slot.
    static SLEEPS: RefCell<Slab<fate_core::time::Sleep>> = const { RefCell::new(Slab::new()) };
}

/// Names the current thread cheaply: the address of its `SLEEPS` slot, unique among live
/// threads (`thread::current()` would touch an `Arc` on every timer).
fn thread_token() -> usize {
    SLEEPS.with(|s| s as *const _ as usize)
}

/// hyper's executor: runs hyper's background futures (HTTP/2 streams, connection tasks) as
/// reactor tasks. They need not be `Send`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Exec;

impl<F> hyper::rt::Executor<F> for Exec
where
    F: Future + 'static,
{
    fn execute(&self, fut: F) {
        fate_core::task::spawn_local(async move {
            fut.await;
        })
        .detach();
    }
}

/// hyper's timer, backed by the current thread's reactor. Zero-sized, so `Send + Sync`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Timer;

impl hyper::rt::Timer for Timer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep::until(Instant::now() + duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep::until(deadline))
    }

    /// Moves the reactor timer in place (hyper resets its header-read timeout for every
    /// request on a connection: no allocation, an O(1) move in the timing wheel).
    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(ours) => ours.get_mut().reset(deadline),
            None => *sleep = self.sleep_until(deadline),
        }
    }
}

/// A `Send + Sync` handle to a reactor sleep (see the module docs).
///
/// # Cancellation
///
/// Dropping it removes the reactor timer (on its own thread).
#[derive(Debug)]
pub(crate) struct Sleep {
    deadline: Instant,
    /// The slot of the reactor sleep in `SLEEPS`; `None` until first polled.
    slot: Option<usize>,
    /// The thread whose `SLEEPS` holds the slot (see [`thread_token`]).
    thread: usize,
}

impl Sleep {
    pub(crate) fn until(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            slot: None,
            thread: thread_token(),
        }
    }
}

impl Sleep {
    /// Moves the deadline, keeping the registered reactor timer.
    fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        let Some(slot) = self.slot else { return };
        if self.thread != thread_token() {
            return;
        }
        let _ = SLEEPS.try_with(|sleeps| {
            if let Some(sleep) = sleeps.borrow_mut().get_mut(slot) {
                sleep.reset(deadline);
            }
        });
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        assert_eq!(
            this.thread,
            thread_token(),
            "a fate-http timer was polled off its reactor's thread"
        );
        SLEEPS.with(|sleeps| {
            let mut sleeps = sleeps.borrow_mut();
            let slot = match this.slot {
                Some(slot) => slot,
                None => {
                    let reactor = fate_core::reactor::current();
                    let sleep = reactor.timeline().sleep_until(this.deadline);
                    let slot = sleeps.insert(sleep);
                    this.slot = Some(slot);
                    slot
                }
            };
            Pin::new(&mut sleeps[slot]).poll(cx)
        })
    }
}

impl hyper::rt::Sleep for Sleep {}

impl Drop for Sleep {
    fn drop(&mut self) {
        let Some(slot) = self.slot else { return };
        if SLEEPS.try_with(|s| s as *const _ as usize).ok() != Some(self.thread) {
            return;
        }
        // `try_with`: tasks dropped while the thread's locals are torn down must not panic.
        let removed = SLEEPS
            .try_with(|sleeps| sleeps.try_borrow_mut().ok()?.try_remove(slot))
            .ok()
            .flatten();
        drop(removed); // outside the borrow: its drop reaches the timeline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn sleep_and_timer_are_send_and_sync() {
        assert_send_sync::<Sleep>();
        assert_send_sync::<Timer>();
    }

    #[test]
    fn sleep_waits_for_its_deadline_and_frees_its_slot() {
        let reactor = fate_core::reactor::Reactor::builder()
            .handle_signals(false)
            .build()
            .unwrap();
        let start = Instant::now();
        reactor
            .block_on(async {
                Sleep::until(Instant::now() + Duration::from_millis(20)).await;
            })
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(SLEEPS.with(|s| s.borrow().len()), 0);
    }

    #[test]
    fn reset_moves_the_registered_timer_without_a_new_one() {
        let reactor = fate_core::reactor::Reactor::builder()
            .handle_signals(false)
            .build()
            .unwrap();
        let start = Instant::now();
        reactor
            .block_on(async move {
                use hyper::rt::Timer as _;
                let mut sleep = Timer.sleep(Duration::from_secs(60));
                let waker = std::task::Waker::noop();
                assert!(sleep
                    .as_mut()
                    .poll(&mut Context::from_waker(waker))
                    .is_pending());
                let before = SLEEPS.with(|s| s.borrow().len());
                Timer.reset(&mut sleep, Instant::now() + Duration::from_millis(10));
                assert_eq!(SLEEPS.with(|s| s.borrow().len()), before);
                sleep.await;
            })
            .unwrap();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(10) && waited < Duration::from_secs(30));
    }

    #[test]
    fn dropping_an_unfinished_sleep_removes_the_reactor_timer() {
        let reactor = fate_core::reactor::Reactor::builder()
            .handle_signals(false)
            .build()
            .unwrap();
        reactor
            .block_on(async {
                let mut sleep = Box::pin(Sleep::until(Instant::now() + Duration::from_secs(60)));
                let waker = std::task::Waker::noop();
                assert!(sleep
                    .as_mut()
                    .poll(&mut Context::from_waker(waker))
                    .is_pending());
                assert_eq!(SLEEPS.with(|s| s.borrow().len()), 1);
                let timers = fate_core::reactor::current()
                    .timeline()
                    .delayed_calls()
                    .len();
                drop(sleep);
                assert_eq!(SLEEPS.with(|s| s.borrow().len()), 0);
                assert_eq!(
                    fate_core::reactor::current()
                        .timeline()
                        .delayed_calls()
                        .len(),
                    timers - 1
                );
            })
            .unwrap();
    }
}
