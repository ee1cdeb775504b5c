//! The send timeout: a connection whose output makes no progress for too long is aborted
//! (nginx's `send_timeout`), so a client that never reads a response cannot hold its
//! connection, its buffers and its file descriptor for ever.
//!
//! Output is *stalled* while bytes wait in the transport (the kernel's socket buffer is
//! full) and the count of bytes sent has not grown since the last look. The listener's tick
//! ([`HeadClock`](super::head_timeout::HeadClock)) looks at every connection, including one
//! whose response was handed over in full and that is only draining its last bytes (or
//! closing after them). A connection stalled at tick `t` is aborted at the first tick after
//! `t + ticks`, where `ticks = ceil(timeout / tick)`: never before the timeout has passed
//! without progress, at most two ticks after. Output that waits nowhere (all of it accepted
//! by the kernel) is never stalled: the head timeout covers an idle connection.

use std::cell::Cell;

use crate::stream::Output;

/// One connection's send timeout.
pub(crate) struct SendWatch {
    output: Output,
    stall: Stall,
}

impl SendWatch {
    pub(crate) fn new(output: Output) -> SendWatch {
        SendWatch {
            output,
            stall: Stall::default(),
        }
    }

    /// Ends the connection's lingering close, if any, and forgoes it (see
    /// [`Output::stop_lingering`]).
    pub(crate) fn stop_lingering(&self) {
        self.output.stop_lingering();
    }

    /// At tick `now`: aborts the connection if its output has been stalled for more than
    /// `ticks` ticks; says whether it did.
    pub(crate) fn check(&self, now: u64, ticks: u64) -> bool {
        let Some((sent, waiting)) = self.output.progress() else {
            return false;
        };
        if !self.stall.stalled(sent, waiting, now, ticks) {
            return false;
        }
        tracing::debug!("aborting a connection whose output made no progress in time");
        self.output.abort();
        true
    }
}

/// What the looks at a connection's output have seen so far.
#[derive(Debug, Default)]
struct Stall {
    /// Bytes sent at the last look.
    sent: Cell<u64>,
    /// The tick from which no byte was sent while some waited; `None` while not stalled.
    since: Cell<Option<u64>>,
}

impl Stall {
    /// Records a look at the output (`sent` so far, `waiting` in the transport) at tick
    /// `now`; whether it has been stalled for more than `ticks` ticks.
    fn stalled(&self, sent: u64, waiting: usize, now: u64, ticks: u64) -> bool {
        let moved = sent != self.sent.replace(sent);
        if waiting == 0 {
            self.since.set(None);
            return false;
        }
        match self.since.get() {
            Some(since) if !moved => now - since > ticks,
            _ => {
                self.since.set(Some(now));
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_stalled_past_its_ticks_times_out_and_progress_restarts_the_count() {
        let w = Stall::default();
        // (sent, waiting, tick, timed out) with a limit of 3 ticks
        let steps = [
            (100, 0, 0, false), // all accepted by the kernel: not stalled
            (200, 10, 1, false),
            (200, 10, 2, false),
            (200, 10, 3, false),
            (200, 10, 4, false),
            (300, 10, 5, false), // progress: counting again from here
            (300, 10, 6, false),
            (300, 10, 8, false),
            (300, 10, 9, true),
        ];
        for (sent, waiting, now, want) in steps {
            assert_eq!(w.stalled(sent, waiting, now, 3), want, "tick {now}");
        }
    }

    #[test]
    fn output_that_waits_nowhere_never_times_out() {
        let w = Stall::default();
        for now in 0..100 {
            assert!(!w.stalled(5, 0, now, 3));
        }
        assert!(!w.stalled(5, 1, 100, 3), "stalled from tick 100 on");
        assert!(!w.stalled(5, 1, 103, 3));
        assert!(w.stalled(5, 1, 104, 3));
    }
}
