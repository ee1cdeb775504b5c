//! hyper's runtime hooks on the reactor: an executor that spawns `!Send` tasks, and a timer
//! whose sleeps are `Send + Sync` handles to a per-thread timer queue driven by one reactor
//! timer.
//!
//! hyper keeps its timer as an `Arc<dyn Timer + Send + Sync>` and requires every `Sleep` to
//! be `Send + Sync`, but the reactor's timers are `!Send`. So a [`Sleep`] holds only plain
//! data — a deadline, a slot number and a token naming its thread — and its waker lives in
//! this thread's [`Queue`]. hyper never moves a connection between threads; a `Sleep`
//! polled on another thread panics, one dropped on another thread leaves its slot alone.
//!
//! # Why a queue rather than a reactor timer per sleep
//!
//! hyper's sleeps are mostly timeouts that never fire (HTTP/2 keep-alive pings, the client's
//! timeouts). A slot in a slab costs a fraction of a timing-wheel entry, so the queue keeps
//! one reactor timer armed at its earliest deadline and moves it only when a sleep asks for
//! an earlier one. When that timer
//! fires, the queue wakes every due sleep and re-arms at the earliest deadline left — a scan
//! of the pending sleeps, which are about one per connection and rarely due.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use fate_core::time::DelayedCall;
use slab::Slab;

thread_local! {
    /// This thread's pending sleeps.
    static QUEUE: RefCell<Queue> = const {
        RefCell::new(Queue { sleeps: Slab::new(), armed: None })
    };
}

/// The pending sleeps of one thread and the reactor timer that serves them.
struct Queue {
    sleeps: Slab<Entry>,
    /// The reactor timer and when it is due. (A thread may run several reactors one after
    /// another: the timer of one that is gone is no longer active, and is replaced.)
    armed: Option<(Instant, DelayedCall)>,
}

/// One registered sleep.
struct Entry {
    deadline: Instant,
    /// The task to wake; `None` once woken (the sleep is then over).
    waker: Option<Waker>,
}

impl Queue {
    /// Makes sure the reactor timer fires by `deadline`.
    fn arm(&mut self, deadline: Instant) {
        // The common case, a later deadline than the armed one, touches no reactor. A timer
        // of a reactor that is gone is no longer active.
        if let Some((at, call)) = &self.armed {
            if *at <= deadline && call.active() {
                return;
            }
            let _ = call.cancel();
        }
        let call = fate_core::reactor::current()
            .timeline()
            .call_at(deadline, fire);
        self.armed = Some((deadline, call));
    }
}

/// The current reactor's time: the monotonic clock on a real reactor, virtual time on a
/// `testing::Clock`-driven or simulated one (`fate::testing::sim`), so that hyper's
/// timeouts follow the clock the reactor's own timers run on.
pub(crate) fn now() -> Instant {
    fate_core::reactor::try_current().map_or_else(Instant::now, |r| r.timeline().now())
}

/// The reactor timer's callback: wakes the due sleeps, re-arms for the rest.
fn fire() {
    let wakers: Vec<Waker> = QUEUE.with(|q| {
        let mut q = q.borrow_mut();
        q.armed = None;
        let now = now();
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for (_, entry) in q.sleeps.iter_mut() {
            if entry.waker.is_none() {
                continue;
            }
            if entry.deadline <= now {
                due.extend(entry.waker.take());
            } else {
                next = Some(next.map_or(entry.deadline, |n| n.min(entry.deadline)));
            }
        }
        if let Some(next) = next {
            q.arm(next);
        }
        due
    });
    for w in wakers {
        w.wake();
    }
}

/// Names the current thread cheaply: the address of its queue, unique among live threads
/// (`thread::current()` would touch an `Arc` for every sleep).
fn thread_token() -> usize {
    QUEUE.with(|q| q as *const _ as usize)
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
        Box::pin(Sleep::until(now() + duration))
    }

    fn now(&self) -> Instant {
        now()
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(Sleep::until(deadline))
    }

    /// Moves the deadline in place (no new allocation).
    fn reset(&self, sleep: &mut Pin<Box<dyn hyper::rt::Sleep>>, deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<Sleep>() {
            Some(ours) => ours.get_mut().reset(deadline),
            None => *sleep = self.sleep_until(deadline),
        }
    }
}

/// A `Send + Sync` handle to a sleep in this thread's queue (see the module docs).
///
/// # Cancellation
///
/// Dropping it removes it from the queue (on its own thread).
#[derive(Debug)]
pub(crate) struct Sleep {
    deadline: Instant,
    /// The slot of its entry in `QUEUE`; `None` until first polled while pending.
    slot: Option<usize>,
    /// The thread whose `QUEUE` holds the slot (see [`thread_token`]).
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

    /// Moves the deadline; a sleep that was over waits again.
    fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        let Some(slot) = self.slot.take() else { return };
        if self.thread != thread_token() {
            return;
        }
        let removed = QUEUE.with(|q| q.borrow_mut().sleeps.try_remove(slot));
        drop(removed); // re-registered by the next poll
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
        QUEUE.with(|q| {
            let mut q = q.borrow_mut();
            match this.slot {
                Some(slot) => {
                    let entry = &mut q.sleeps[slot];
                    match &mut entry.waker {
                        None => Poll::Ready(()),
                        Some(w) => {
                            if !w.will_wake(cx.waker()) {
                                *w = cx.waker().clone();
                            }
                            Poll::Pending
                        }
                    }
                }
                None => {
                    // No clock read here: a deadline already past is served by the reactor
                    // timer at the next turn (hyper's sleeps are seconds away).
                    this.slot = Some(q.sleeps.insert(Entry {
                        deadline: this.deadline,
                        waker: Some(cx.waker().clone()),
                    }));
                    q.arm(this.deadline);
                    Poll::Pending
                }
            }
        })
    }
}

impl hyper::rt::Sleep for Sleep {}

impl Drop for Sleep {
    fn drop(&mut self) {
        let Some(slot) = self.slot else { return };
        // `try_with`: tasks dropped while the thread's locals are torn down must not panic.
        let removed = QUEUE
            .try_with(|q| {
                if q as *const _ as usize != self.thread {
                    return None;
                }
                q.try_borrow_mut().ok()?.sleeps.try_remove(slot)
            })
            .ok()
            .flatten();
        drop(removed); // its waker's drop, outside the borrow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    fn reactor() -> fate_core::reactor::Reactor {
        fate_core::reactor::Reactor::builder()
            .handle_signals(false)
            .build()
            .unwrap()
    }

    fn pending() -> usize {
        QUEUE.with(|q| q.borrow().sleeps.len())
    }

    #[test]
    fn hypers_sleeps_run_on_the_reactors_clock_even_when_it_is_virtual() {
        use hyper::rt::Timer as _;

        let sim = fate_core::testing::sim::Sim::new(1);
        sim.host("h", || {});
        let (slept, seconds) = sim
            .block_on("h", async {
                let before = Timer.now();
                Timer.sleep(Duration::from_secs(3600)).await;
                (
                    Timer.now() - before,
                    fate_core::reactor::current().seconds(),
                )
            })
            .unwrap();
        assert_eq!(slept, Duration::from_secs(3600));
        assert_eq!(seconds, 3600.0);
        assert_eq!(pending(), 0);
    }

    #[test]
    fn sleep_and_timer_are_send_and_sync() {
        assert_send_sync::<Sleep>();
        assert_send_sync::<Timer>();
    }

    #[test]
    fn sleep_waits_for_its_deadline_and_frees_its_slot() {
        let start = Instant::now();
        reactor()
            .block_on(async {
                Sleep::until(Instant::now() + Duration::from_millis(20)).await;
            })
            .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(20));
        assert_eq!(pending(), 0);
    }

    #[test]
    fn many_sleeps_share_one_reactor_timer_and_wake_in_order() {
        let order = std::rc::Rc::new(RefCell::new(Vec::new()));
        let log = order.clone();
        reactor()
            .block_on(async move {
                let base = Instant::now();
                let mut tasks = Vec::new();
                // Far enough apart that a loaded machine cannot reorder them or finish one before
                // the count below is taken.
                for (i, ms) in [300u64, 100, 200, 100].into_iter().enumerate() {
                    let log = log.clone();
                    tasks.push(fate_core::spawn_local(async move {
                        Sleep::until(base + Duration::from_millis(ms)).await;
                        log.borrow_mut().push(i);
                    }));
                }
                fate_core::task::yield_now().await;
                assert_eq!(pending(), 4);
                assert_eq!(
                    fate_core::reactor::current()
                        .timeline()
                        .delayed_calls()
                        .len(),
                    1,
                    "one reactor timer serves them all"
                );
                for t in tasks {
                    t.await.unwrap();
                }
            })
            .unwrap();
        let order = order.borrow();
        assert_eq!(order[3], 0, "the 300 ms sleep wakes last: {order:?}");
        assert_eq!(order[2], 2, "the 200 ms sleep wakes third: {order:?}");
        assert_eq!(
            pending(),
            0,
            "each sleep let go of its slot when it was dropped"
        );
    }

    #[test]
    fn reset_moves_the_deadline_without_a_new_allocation() {
        let start = Instant::now();
        reactor()
            .block_on(async move {
                use hyper::rt::Timer as _;
                let mut sleep = Timer.sleep(Duration::from_secs(60));
                let waker = Waker::noop();
                assert!(sleep
                    .as_mut()
                    .poll(&mut Context::from_waker(waker))
                    .is_pending());
                let before: *const () = (&*sleep as *const dyn hyper::rt::Sleep).cast();
                Timer.reset(&mut sleep, Instant::now() + Duration::from_millis(10));
                let after: *const () = (&*sleep as *const dyn hyper::rt::Sleep).cast();
                assert_eq!(before, after, "the same allocation");
                sleep.await;
            })
            .unwrap();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(10) && waited < Duration::from_secs(30));
    }

    #[test]
    fn dropping_an_unfinished_sleep_frees_its_slot() {
        reactor()
            .block_on(async {
                let mut sleep = Box::pin(Sleep::until(Instant::now() + Duration::from_secs(60)));
                assert!(sleep
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                    .is_pending());
                assert_eq!(pending(), 1);
                drop(sleep);
                assert_eq!(pending(), 0);
            })
            .unwrap();
    }
}
