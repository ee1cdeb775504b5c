//! What the workloads measure besides wall time: CPU time of a thread or of the process,
//! peak resident memory, and latency percentiles.

use std::io;
use std::time::Duration;

use crate::sys;

/// CPU time (user + system) the calling thread has used so far.
pub(crate) fn thread_cpu() -> Duration {
    let (user, system) = sys::rusage(sys::Who::Thread).expect("getrusage(RUSAGE_THREAD)");
    user + system
}

/// CPU time (user + system) of every thread of this process so far, reaped children excluded.
pub(crate) fn process_cpu() -> Duration {
    let (user, system) = sys::rusage(sys::Who::Process).expect("getrusage(RUSAGE_SELF)");
    user + system
}

/// CPU time (user + system) of this process's children reaped so far.
pub(crate) fn children_cpu() -> Duration {
    let (user, system) = sys::rusage(sys::Who::Children).expect("getrusage(RUSAGE_CHILDREN)");
    user + system
}

/// One thread's CPU clock and sleep count, readable from other threads: how a load
/// generator reads the server thread's CPU at the edges of its measuring window without the
/// server's help.
///
/// Reading fails once the thread has exited.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ThreadClock {
    clock: libc::clockid_t,
    /// The thread's id, for its `/proc` entry (`None` if `/proc` did not say).
    tid: Option<u32>,
}

impl ThreadClock {
    /// The calling thread's clock.
    pub(crate) fn current() -> Self {
        ThreadClock {
            clock: sys::thread_cpu_clock().expect("pthread_getcpuclockid"),
            tid: current_tid(),
        }
    }

    /// CPU time (user + system) the thread has used so far, to the nanosecond.
    pub(crate) fn read(self) -> io::Result<Duration> {
        sys::clock_time(self.clock)
    }

    /// How many times the thread has blocked so far (its voluntary context switches: an
    /// event loop's waits in `epoll_wait`, a runtime worker's parks on a futex). A server
    /// that blocks and is woken for every few requests pays the kernel for each wake-up,
    /// which its CPU per request shows.
    pub(crate) fn sleeps(self) -> io::Result<u64> {
        let tid = self
            .tid
            .ok_or_else(|| io::Error::other("the thread's id is unknown"))?;
        let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| io::Error::other("no voluntary_ctxt_switches in /proc"))
    }
}

/// The calling thread's id: `/proc/thread-self` links to `<pid>/task/<tid>`.
fn current_tid() -> Option<u32> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// Starts a fresh peak-memory reading: frees what malloc keeps cached and resets the
/// process's peak RSS to its current RSS (`/proc/self/clear_refs`, value 5).
///
/// Called before each implementation runs, so `rss_kb` is that run's peak, not an earlier one's.
pub(crate) fn reset_peak_rss() {
    sys::malloc_trim();
    // Without the reset rss_kb would carry an earlier run's peak; the kernels we run on all
    // have it (Linux >= 4.0), so a failure here is worth knowing about.
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        eprintln!("fate-bench: cannot reset peak RSS ({e}); rss_kb is the process's peak");
    }
}

/// Peak resident set size of this process since the last [`reset_peak_rss`], in KiB (VmHWM).
pub(crate) fn peak_rss_kb() -> Option<u64> {
    status_kb("VmHWM:")
}

/// Resident set size of this process now, in KiB (VmRSS).
pub(crate) fn rss_kb() -> Option<u64> {
    status_kb("VmRSS:")
}

/// A `/proc/self/status` field given in kB.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The memory a run adds per unit: resident memory when the units start to pile up, against
/// the peak once they have (`bytes_per_timer`, `bytes_per_deferred`, `bytes_per_task`,
/// `bytes_per_conn`).
///
/// Start it after the inputs the implementations share (a workload's plan), so the figure
/// counts what the implementation keeps per unit: its nodes, handles and buffers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Footprint {
    start_kb: Option<u64>,
}

impl Footprint {
    /// Reads the resident memory now.
    pub(crate) fn start() -> Footprint {
        Footprint { start_kb: rss_kb() }
    }

    /// Bytes per unit between the start and the peak since the last [`reset_peak_rss`];
    /// NaN when either reading failed or `units` is 0.
    pub(crate) fn bytes_per(&self, units: u64) -> f64 {
        match (self.start_kb, peak_rss_kb()) {
            (Some(start), Some(peak)) if units > 0 => {
                peak.saturating_sub(start) as f64 * 1024.0 / units as f64
            }
            _ => f64::NAN,
        }
    }

    /// Bytes per unit between the start and the resident memory now (what the units still
    /// hold, where [`bytes_per`](Self::bytes_per) is the most they held at once); NaN when
    /// either reading failed or `units` is 0.
    pub(crate) fn held_per(&self, units: u64) -> f64 {
        match (self.start_kb, rss_kb()) {
            (Some(start), Some(now)) if units > 0 => {
                now.saturating_sub(start) as f64 * 1024.0 / units as f64
            }
            _ => f64::NAN,
        }
    }
}

/// The `p`th percentile (0..=100) of ascending `sorted` nanosecond samples, in microseconds:
/// the sample at rank round(p/100 * (len-1)), as the peers compute it. NaN when empty.
pub(crate) fn percentile_us(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[idx] as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_by_rank() {
        let v: Vec<u64> = (1..=101).map(|x| x * 1000).collect();
        assert_eq!(percentile_us(&v, 0.0), 1.0);
        assert_eq!(percentile_us(&v, 50.0), 51.0);
        assert_eq!(percentile_us(&v, 99.0), 100.0);
        assert_eq!(percentile_us(&v, 100.0), 101.0);
        assert_eq!(percentile_us(&[7000], 99.0), 7.0);
        assert!(percentile_us(&[], 50.0).is_nan());
    }

    #[test]
    fn thread_clock_counts_this_threads_work() {
        let clock = ThreadClock::current();
        let a = clock.read().unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let b = clock.read().unwrap();
        assert!(b > a, "{a:?} -> {b:?} ({x})");
        let sleeps = clock.sleeps().unwrap();
        std::thread::sleep(Duration::from_millis(1));
        assert!(clock.sleeps().unwrap() > sleeps);
        assert!(thread_cpu() > Duration::ZERO);
        assert!(process_cpu() >= thread_cpu());
    }

    #[test]
    fn peak_rss_is_read() {
        reset_peak_rss();
        assert!(peak_rss_kb().unwrap() > 0);
        assert!(rss_kb().unwrap() > 0);
    }

    #[test]
    fn a_footprint_counts_what_was_touched_since_it_started() {
        reset_peak_rss();
        let footprint = Footprint::start();
        let block = vec![1u8; 64 << 20];
        let per_byte = footprint.bytes_per(block.len() as u64);
        // At least the block; other tests of this process allocate alongside, so no upper
        // bound closer than that.
        assert!((0.95..8.0).contains(&per_byte), "{per_byte}");
        assert!(footprint.bytes_per(0).is_nan());
        drop(block);
    }
}
