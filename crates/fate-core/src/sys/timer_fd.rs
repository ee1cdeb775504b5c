//! A monotonic `timerfd` that wakes `epoll` at an exact instant.
//!
//! mio's `Poll::poll` takes its timeout in whole milliseconds, so a loop that sleeps with it
//! fires a 1 ms timer 1–2 ms late. The reactor instead registers this timer with mio and arms
//! it with the next deadline, to the nanosecond, before it sleeps.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Instant;

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
    /// The `CLOCK_MONOTONIC` reading taken together with `base`, so that an `Instant` can be
    /// turned into an absolute expiry time without a syscall per arm.
    base_mono: Timespec,
    /// The `Instant` that corresponds to `base_mono`.
    base: Instant,
}

impl TimerFd {
    pub(crate) fn new() -> io::Result<TimerFd> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        let base = Instant::now();
        let base_mono = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        Ok(TimerFd {
            fd,
            base_mono,
            base,
        })
    }

    /// Arms the timer to expire once at `deadline` (replacing any earlier setting).
    ///
    /// A deadline in the past expires at once. `Instant` is `CLOCK_MONOTONIC` on Linux, so the
    /// offset from `base` maps exactly onto the kernel's clock.
    pub(crate) fn arm(&self, deadline: Instant) -> io::Result<()> {
        let offset = deadline.saturating_duration_since(self.base);
        let mut secs = self.base_mono.tv_sec + offset.as_secs() as i64;
        let mut nanos = self.base_mono.tv_nsec + i64::from(offset.subsec_nanos());
        if nanos >= 1_000_000_000 {
            secs += 1;
            nanos -= 1_000_000_000;
        }
        // An all-zero it_value would disarm the timer; 1 ns past the epoch is already due.
        if secs == 0 && nanos == 0 {
            nanos = 1;
        }
        let spec = Itimerspec {
            it_interval: Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: Timespec {
                tv_sec: secs,
                tv_nsec: nanos as _,
            },
        };
        timerfd_settime(&self.fd, TimerfdTimerFlags::ABSTIME, &spec)?;
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
