//! The trace of a simulation: every event it delivered, hashed as it happens, so two runs can
//! be compared by one number, plus the most recent events in words for a failure report.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

/// How many events the trace keeps in words (the hash covers them all).
const KEEP: usize = 64;

/// FNV-1a, 64 bits: stable across platforms, Rust versions and processes (unlike `std`'s
/// `DefaultHasher`), which is what a hash printed in one run and compared in another needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) const fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn bytes(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub(crate) fn u64(&mut self, x: u64) {
        self.bytes(&x.to_le_bytes());
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// The simulation's trace: a running hash and the last events in words.
pub(crate) struct Trace {
    hash: Fnv,
    events: u64,
    recent: VecDeque<String>,
}

impl Trace {
    pub(crate) fn new() -> Trace {
        Trace {
            hash: Fnv::new(),
            events: 0,
            recent: VecDeque::new(),
        }
    }

    /// Records one event: `kind` and `fields` go into the hash in a fixed encoding (length-
    /// prefixed kind, then each field as 8 little-endian bytes); `describe` is only called to
    /// keep the recent events in words.
    pub(crate) fn record(
        &mut self,
        at: Duration,
        kind: &str,
        fields: &[u64],
        describe: impl FnOnce() -> String,
    ) {
        let mut h = self.hash;
        h.u64(at.as_nanos() as u64);
        h.u64(kind.len() as u64);
        h.bytes(kind.as_bytes());
        for &f in fields {
            h.u64(f);
        }
        self.hash = h;
        self.events += 1;
        if self.recent.len() == KEEP {
            self.recent.pop_front();
        }
        self.recent
            .push_back(format!("{:>12.6}s {kind} {}", at.as_secs_f64(), describe()));
    }

    pub(crate) fn hash(&self) -> u64 {
        self.hash.finish()
    }

    pub(crate) fn len(&self) -> u64 {
        self.events
    }

    pub(crate) fn recent(&self) -> impl Iterator<Item = &str> {
        self.recent.iter().map(String::as_str)
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("hash", &format_args!("{:016x}", self.hash()))
            .field("events", &self.events)
            .finish()
    }
}

/// The hash of `data`, for trace fields that stand for bytes.
pub(crate) fn hash_bytes(data: &[u8]) -> u64 {
    let mut h = Fnv::new();
    h.bytes(data);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_vectors() {
        assert_eq!(hash_bytes(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash_bytes(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash_bytes(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_hash_depends_on_every_field_and_on_the_order() {
        let run = |events: &[(&str, u64)]| {
            let mut t = Trace::new();
            for &(kind, x) in events {
                t.record(Duration::ZERO, kind, &[x], String::new);
            }
            t.hash()
        };
        let base = run(&[("data", 1), ("fin", 2)]);
        assert_eq!(base, run(&[("data", 1), ("fin", 2)]));
        assert_ne!(base, run(&[("fin", 2), ("data", 1)]));
        assert_ne!(base, run(&[("data", 1), ("fin", 3)]));
    }
}
