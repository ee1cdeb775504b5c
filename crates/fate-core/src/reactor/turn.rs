//! The loop itself: one turn after another, in the order the module docs of `reactor` give.

use std::io;
use std::time::{Duration, Instant};

use super::io::{Readiness, FIRST_IO_TOKEN};
use super::ready::{self, Ready};
use super::watchdog::{Kind, Timing, Untimed};
use super::{Reactor, ReactorError, RemoteWork, SIGNAL_TOKEN, TIMER_TOKEN, WAKER_TOKEN};

impl Reactor {
    /// Turns until `done()` holds, the reactor exits (stop or crash), or — with `until_idle` —
    /// nothing is pending.
    pub(super) fn turn_until(
        &self,
        done: &dyn Fn() -> bool,
        until_idle: bool,
    ) -> Result<(), ReactorError> {
        match &self.inner.watchdog {
            Some(watchdog) => self.turns(done, until_idle, watchdog),
            None => self.turns(done, until_idle, &Untimed),
        }
    }

    /// The loop, with user code run by `timing` (timed by the watchdog or not): compiled once
    /// for each, so that the loop without a watchdog reads no clock around user code.
    fn turns<T: Timing>(
        &self,
        done: &dyn Fn() -> bool,
        until_idle: bool,
        timing: &T,
    ) -> Result<(), ReactorError> {
        let inner = &*self.inner;
        // Polls without sleeping left before the loop may sleep: refilled by every poll that
        // reports I/O.
        let mut polls_left = 0;
        loop {
            // 1.-3. Remote work, due timers, the ready queue.
            self.run_ready_with(Instant::now(), timing);

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
                _ if polls_left > 0 => {
                    // More I/O may be a few microseconds away: let other threads run, then
                    // look again before paying for a sleep and a wake-up.
                    polls_left -= 1;
                    std::thread::yield_now();
                    Some(Duration::ZERO)
                }
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
            let mut had_io = false;
            for event in events.iter() {
                match event.token() {
                    WAKER_TOKEN => {}
                    TIMER_TOKEN => {
                        inner.timer_fd.clear();
                        inner.armed.set(None);
                    }
                    SIGNAL_TOKEN => self.on_signals(),
                    token if token.0 >= FIRST_IO_TOKEN => {
                        had_io = true;
                        self.dispatch_with(token, Readiness::from_event(event), timing);
                    }
                    _ => {}
                }
            }
            if had_io {
                polls_left = inner.polls_before_sleep;
            }
        }
    }

    /// Steps 1 to 3 of a turn: remote work onto the ready queue, the timers due at `now`, then
    /// the ready queue up to the budget. The simulator's hosts turn through this, with
    /// virtual time for `now`.
    #[cfg(all(feature = "testing", feature = "net"))]
    pub(crate) fn run_ready(&self, now: Instant) {
        match &self.inner.watchdog {
            Some(watchdog) => self.run_ready_with(now, watchdog),
            None => self.run_ready_with(now, &Untimed),
        }
    }

    /// [`run_ready`](Reactor::run_ready), with user code run by `timing`.
    #[inline(always)]
    fn run_ready_with<T: Timing>(&self, now: Instant, timing: &T) {
        let inner = &*self.inner;
        let policy = inner.panic_policy;
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
            timing.run(
                call,
                |call| Some((Kind::TimedCall, call.site()?)),
                |call| policy.guard("timed call", || call.run()),
            );
        }

        // 3. The ready queue, up to the budget.
        for _ in 0..inner.budget {
            match ready::pop() {
                Some(Ready::Call(f)) => timing.run(
                    f,
                    |f| Some(f.origin()),
                    |f| policy.guard("callback", || f.call()),
                ),
                Some(Ready::Task(runnable)) => timing.run(
                    runnable,
                    |r| Some((Kind::TaskPoll, *r.metadata())),
                    |r| {
                        policy.guard("task", || {
                            r.run();
                        })
                    },
                ),
                None => break,
            }
        }
    }

    /// Step 5 for one event: runs the handler registered under `token` (if it still is) with
    /// `readiness`, behind the panic guard. The simulator's hosts deliver their I/O here.
    #[cfg(all(feature = "testing", feature = "net"))]
    pub(crate) fn dispatch(&self, token: mio::Token, readiness: Readiness) {
        match &self.inner.watchdog {
            Some(watchdog) => self.dispatch_with(token, readiness, watchdog),
            None => self.dispatch_with(token, readiness, &Untimed),
        }
    }

    /// [`dispatch`](Reactor::dispatch), with the handler run by `timing`.
    #[inline(always)]
    fn dispatch_with<T: Timing>(&self, token: mio::Token, readiness: Readiness, timing: &T) {
        let policy = self.inner.panic_policy;
        if let Some(entry) = self.inner.handler_for(token) {
            timing.run(
                entry,
                |(_, site)| Some((Kind::IoHandler, *site)),
                |(handler, _)| policy.guard("I/O handler", || handler.ready(readiness)),
            );
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
