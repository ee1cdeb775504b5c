//! A monotonic `timerfd` that wakes `epoll` at an exact instant.
//!
//! mio's `Poll::poll` takes its timeout in whole milliseconds, so a loop that sleeps with it
//! fires a 1 ms timer 1–2 ms late. The reactor instead registers this timer with mio and arms
//! it with the next deadline, to the nanosecond, before it sleeps.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
    Timespec,
};

/// A non-blocking `CLOCK_MONOTONIC` timerfd.
pub(crate) struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    pub(crate) fn new() -> io::Result<TimerFd> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        Ok(TimerFd { fd })
    }

    /// Arms the timer to expire once at `deadline` (replacing any earlier setting).
    ///
    /// The timer is set relative to now: the few hundred nanoseconds between reading the clock
    /// and the syscall are well inside the precision we promise, and it spares reading
    /// `CLOCK_MONOTONIC` through a second path. A deadline in the past expires at once.
    pub(crate) fn arm(&self, deadline: Instant) -> io::Result<()> {
        // An all-zero it_value would disarm the timer; 1 ns is already due.
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: wait.as_secs() as i64,
                tv_nsec: i64::from(wait.subsec_nanos()) as _,
            },
        };
        timerfd_settime(&self.fd, TimerfdTimerFlags::empty(), &spec)?;
        Ok(())
    }

    /// Consumes a pending expiry so the descriptor is no longer readable.
    pub(crate) fn clear(&self) {
        let mut buf = [0u8; 8];
        // WouldBlock (nothing expired) and short reads are both fine here.
        let _ = rustix::io::read(&self.fd, &mut buf);
    }
}

impl Source for TimerFd {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.fd.as_fd().as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.fd.as_fd().as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.fd.as_fd().as_raw_fd()).deregister(registry)
    }
}
