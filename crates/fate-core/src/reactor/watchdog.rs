//! The loop watchdog: reports user code that holds the loop too long (asyncio's
//! `slow_callback_duration`).
//!
//! Nothing else runs while a callback, timed call, task poll or I/O handler runs, so one that
//! blocks — a synchronous read, a `std::thread::sleep`, a long computation — stalls every
//! connection and timer of the reactor. With a threshold set
//! ([`ReactorBuilder::slow_callback_duration`](super::ReactorBuilder::slow_callback_duration)),
//! the turn times each of them and reports those that held the loop at least that long,
//! naming the kind of code and where it was created: the `call_soon`, `call_later`, `spawn`,
//! `listen_*`, `connect_*` or `defer_to_thread` call, captured with `#[track_caller]`:
//!
//! ```text
//! fate: a task poll (task spawned at src/main.rs:12:5) held the loop for 203 ms; nothing
//! else ran meanwhile (slow callback threshold: 100 ms)
//! ```
//!
//! The report is a `tracing` warning (target `fate::reactor::watchdog`, fields `kind`, `site`,
//! `millis`, `threshold_ms`) when a subscriber is installed, else a line on stderr, like the
//! reactor's other reports (see `report`).
//!
//! # What counts
//!
//! Wall-clock time, less the time the thread spent waiting on a run queue for a CPU (Linux
//! `/proc/thread-self/schedstat`): on a loaded machine a callback that was merely preempted
//! is not the program's fault, while one that sleeps or blocks in a system call is. The
//! run-queue wait is read only when a run already exceeded the threshold, against a baseline
//! refreshed at most every quarter threshold: the wait subtracted may include up to a quarter
//! threshold from before the run started, so code that holds the loop for 1.25 times the
//! threshold is always reported, and code just over it may not be while the machine is busy.
//! A run in which a panic was caught is not reported — caught by the reactor, or inside the
//! run by a Deferred's handler, `maybe_deferred`, a spawned future or a cross-worker call:
//! the panic is reported where it was caught, and its report (a backtrace, with
//! `RUST_BACKTRACE` set) may be what took the time.
//!
//! # Cost
//!
//! Creation sites are recorded whether the watchdog is on or not, in records that exist
//! anyway: the callback's box, the task's header, the I/O source's entry (one pointer each).
//! A timer's is kept only while the watchdog is on, in a table beside the timing wheel: in
//! the wheel's node it made scheduling and cancelling a timer 12 instructions dearer (of 488).
//! The clock is read only while the watchdog is on: the turn loop is compiled twice, and the
//! copy that runs without a threshold reads no clock.

use std::cell::Cell;
use std::panic::Location;
use std::time::{Duration, Instant};

/// Where a callback, timer, task or I/O source was created.
pub(crate) type Site = &'static Location<'static>;

/// What kind of code ran, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A `call_soon` callback.
    Callback,
    /// A `call_from_thread` closure.
    FromThread,
    /// The result of a job run on another thread, firing its Deferred (and so the Deferred's
    /// callbacks).
    ThreadReply,
    /// A `call_later` / `call_at` callback, or one call of a `LoopingCall`.
    TimedCall,
    /// One poll of a task.
    TaskPoll,
    /// The handler of an I/O source: a connection's protocol, a listener's factory, a
    /// process's protocol.
    IoHandler,
}

impl Kind {
    /// How the report names the code, and how it names its site.
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Kind::Callback => ("callback", "scheduled at"),
            Kind::FromThread => ("callback from another thread", "sent at"),
            Kind::ThreadReply => ("thread reply", "to the job submitted at"),
            Kind::TimedCall => ("timed call", "scheduled at"),
            Kind::TaskPoll => ("task poll", "task spawned at"),
            Kind::IoHandler => ("I/O handler", "of the port, connection or process made at"),
        }
    }
}

/// How the turn runs user code: timed by the watchdog, or not. The turn loop is generic over
/// it, so that the untimed copy reads no clock and no site.
pub(super) trait Timing {
    /// Runs `f(item)`; `origin` says what `item` is and where it was created (`None`: not
    /// user code, such as a sleeping task's wake, whose poll is timed on its own).
    fn run<I>(&self, item: I, origin: fn(&I) -> Option<(Kind, Site)>, f: impl FnOnce(I));
}

/// The watchdog is off: run, nothing else.
pub(super) struct Untimed;

impl Timing for Untimed {
    #[inline(always)]
    fn run<I>(&self, item: I, _: fn(&I) -> Option<(Kind, Site)>, f: impl FnOnce(I)) {
        f(item);
    }
}

/// The watchdog is on: times each run and reports those that held the loop `threshold` or
/// more.
pub(crate) struct Watchdog {
    /// Runs that hold the loop this long are reported.
    threshold: Duration,
    /// When the run-queue wait was last read (`None`: never yet).
    read_at: Cell<Option<Instant>>,
    /// The run-queue wait then (`None`: not available on this system): the baseline a slow
    /// run's wait is measured against.
    waited: Cell<Option<Duration>>,
}

impl Watchdog {
    /// A watchdog reporting runs of `threshold` or more.
    pub(crate) fn new(threshold: Duration) -> Watchdog {
        Watchdog {
            threshold,
            read_at: Cell::new(None),
            waited: Cell::new(None),
        }
    }

    /// Reads the run-queue wait if the baseline is more than a quarter threshold old at
    /// `now`, the start of a run.
    fn refresh(&self, now: Instant) {
        let stale = match self.read_at.get() {
            Some(at) => now.saturating_duration_since(at) >= self.threshold / 4,
            None => true,
        };
        if stale {
            self.read_at.set(Some(now));
            self.waited.set(runqueue_wait());
        }
    }

    /// A run of `kind` created at `site` took `took` of wall time, more than the threshold:
    /// reports it unless most of that was spent waiting for a CPU.
    #[cold]
    #[inline(never)]
    fn check(&self, kind: Kind, site: Site, took: Duration) {
        let before = self.waited.get();
        let now = runqueue_wait();
        self.read_at.set(Some(Instant::now()));
        self.waited.set(now);
        let held = held(took, before, now);
        if held >= self.threshold {
            report(kind, site, held, self.threshold);
        }
    }
}

impl Timing for Watchdog {
    fn run<I>(&self, item: I, origin: fn(&I) -> Option<(Kind, Site)>, f: impl FnOnce(I)) {
        let Some((kind, site)) = origin(&item) else {
            return f(item);
        };
        let panics = super::panic::caught();
        let start = Instant::now();
        self.refresh(start);
        f(item);
        let took = start.elapsed();
        // A run that panicked is reported by the panic policy, not here.
        if took >= self.threshold && super::panic::caught() == panics {
            self.check(kind, site, took);
        }
    }
}

/// How long a run that took `took` held the loop, given the thread's total run-queue wait
/// `before` (the baseline) and `now`: `took` less the wait between them, or all of `took`
/// where the wait is unknown.
fn held(took: Duration, before: Option<Duration>, now: Option<Duration>) -> Duration {
    match (before, now) {
        (Some(before), Some(now)) => took.saturating_sub(now.saturating_sub(before)),
        _ => took,
    }
}

/// How long this thread has waited on a run queue for a CPU, in total; `None` where Linux
/// schedstat is not available.
fn runqueue_wait() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().nth(1)?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Says that the `kind` of code created at `site` held the loop for `held`.
fn report(kind: Kind, site: Site, held: Duration, threshold: Duration) {
    let (what, created) = kind.describe();
    let millis = held.as_millis();
    let threshold_ms = threshold.as_millis();
    let message = format!(
        "a {what} ({created} {site}) held the loop for {millis} ms; nothing else ran \
         meanwhile (slow callback threshold: {threshold_ms} ms)"
    );
    if super::report::subscriber_installed() {
        tracing::warn!(
            target: "fate::reactor::watchdog",
            kind = what,
            site = %site,
            millis = millis as u64,
            threshold_ms = threshold_ms as u64,
            "{message}"
        );
    } else {
        eprintln!("fate: {message}");
    }
}

/// The default threshold: 100 ms in debug builds, off in release builds.
pub(super) const DEFAULT_THRESHOLD: Option<Duration> = if cfg!(debug_assertions) {
    Some(Duration::from_millis(100))
} else {
    None
};

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn time_spent_waiting_for_a_cpu_is_not_held_time() {
        // Preempted for 150 ms of a 200 ms run: it held the loop for 50 ms.
        assert_eq!(held(200 * MS, Some(1000 * MS), Some(1150 * MS)), 50 * MS);
        // Never waited: a sleep, say.
        assert_eq!(held(200 * MS, Some(1000 * MS), Some(1000 * MS)), 200 * MS);
        // The baseline is older than the run: the wait may exceed the run.
        assert_eq!(
            held(200 * MS, Some(1000 * MS), Some(1300 * MS)),
            Duration::ZERO
        );
        // No schedstat: wall time it is.
        assert_eq!(held(200 * MS, None, None), 200 * MS);
    }
}
