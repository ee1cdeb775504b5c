//! The loop itself: one turn after another, in the order the module docs of `reactor` give.

use std::io;
use std::time::{Duration, Instant};

use super::io::{Readiness, FIRST_IO_TOKEN};
use super::ready::{self, Ready};
use super::{Reactor, ReactorError, RemoteWork, SIGNAL_TOKEN, TIMER_TOKEN, WAKER_TOKEN};

impl Reactor {
    /// Turns until `done()` holds, the reactor exits (stop or crash), or — with `until_idle` —
    /// nothing is pending.
    pub(super) fn turn_until(
        &self,
        done: &dyn Fn() -> bool,
        until_idle: bool,
    ) -> Result<(), ReactorError> {
        let inner = &*self.inner;
        loop {
            // 1.-3. Remote work, due timers, the ready queue.
            self.run_ready(Instant::now());

            if inner.exit_requested.get() || done() {
                inner.exit_requested.set(false);
                return Ok(());
            }

            // 4. Poll: without sleeping if work remains, else until the next deadline.
            let timeout = if !ready::is_empty() {
                if inner.sources.borrow().is_empty() && inner.signals.borrow().is_none() {
                    // Nothing epoll could report but wakes and timers, which the next turn
                    // checks without a syscall.
                    continue;
                }
                Some(Duration::ZERO)
            } else if until_idle && self.is_idle() {
                return Ok(());
            } else {
                self.sleep_timeout()?
            };
            let timeout = match timeout {
                Some(Duration::ZERO) => Some(Duration::ZERO),
                other if inner.remote.prepare_to_sleep() => other,
                _ => Some(Duration::ZERO),
            };
            let polled = inner
                .poll
                .borrow_mut()
                .poll(&mut inner.events.borrow_mut(), timeout);
            inner.remote.woke_up();
            match polled {
                Ok(()) => {}
                // A signal handler ran: nothing happened that the next turn will not see.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReactorError::Io(e)),
            }

            // 5. Dispatch.
            let events = inner.events.borrow();
            for event in events.iter() {
                match event.token() {
                    WAKER_TOKEN => {}
                    TIMER_TOKEN => {
                        inner.timer_fd.clear();
                        inner.armed.set(None);
                    }
                    SIGNAL_TOKEN => self.on_signals(),
                    token if token.0 >= FIRST_IO_TOKEN => {
                        if let Some(handler) = inner.handler_for(token) {
                            let readiness = Readiness::from_event(event);
                            inner
                                .panic_policy
                                .guard("I/O handler", || handler.ready(readiness));
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Steps 1 to 3 of a turn: remote work onto the ready queue, the timers due at `now`, then
    /// the ready queue up to the budget. The simulator's hosts turn through this too, with
    /// virtual time for `now`.
    #[inline(always)]
    pub(crate) fn run_ready(&self, now: Instant) {
        let inner = &*self.inner;
        // 1. Remote work.
        for work in inner.remote.take() {
            ready::push(match work {
                RemoteWork::Call(f) => Ready::Call(f),
                RemoteWork::Task(runnable) => Ready::Task(runnable),
            });
        }

        // 2. Timers that are due. At most as many as were pending when the step began: a
        //    call that keeps scheduling already-due calls (`call_at` in the past) must not
        //    keep the loop here forever; the rest run next turn.
        let mut left = inner.timeline.len();
        while left > 0 {
            let Some(call) = inner.timeline.pop_due(now) else {
                break;
            };
            left -= 1;
            inner.panic_policy.guard("timed call", || call.run());
        }

        // 3. The ready queue, up to the budget.
        for _ in 0..inner.budget {
            match ready::pop() {
                Some(Ready::Call(f)) => inner.panic_policy.guard("callback", f),
                Some(Ready::Task(runnable)) => inner.panic_policy.guard("task", || {
                    runnable.run();
                }),
                None => break,
            }
        }
    }

    /// How long `poll` may sleep: `None` (until an event) with the timerfd armed for the next
    /// deadline, or zero if a deadline has already passed.
    fn sleep_timeout(&self) -> Result<Option<Duration>, ReactorError> {
        let inner = &*self.inner;
        let Some(deadline) = inner.timeline.next_deadline() else {
            return Ok(None);
        };
        if deadline <= Instant::now() {
            return Ok(Some(Duration::ZERO));
        }
        if inner.armed.get() != Some(deadline) {
            inner.timer_fd.arm(deadline)?;
            inner.armed.set(Some(deadline));
        }
        Ok(None)
    }

    /// Whether nothing could ever happen again without outside help.
    fn is_idle(&self) -> bool {
        let inner = &*self.inner;
        ready::is_empty()
            && inner.timeline.next_deadline().is_none()
            && inner.sources.borrow().is_empty()
            && inner.outstanding.get() == 0
    }
}
