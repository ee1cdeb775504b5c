//! How a simulated link carries packets: latency, jitter and bandwidth.

use std::time::Duration;

/// The settings of a link between two simulated hosts: every packet takes `latency` plus a
/// draw in `0..=jitter` (from the simulation's seed) to cross. Jitter reorders packets on
/// the wire; TCP puts its bytes back in order, so a program sees only the delay. With a
/// `bandwidth`, each direction sends one packet after the other, each taking its size divided
/// by the bandwidth before its latency starts.
///
/// Datagrams (UDP) may also be lost (`loss`, a probability) or delivered twice
/// (`duplicate`); TCP never loses or duplicates what it carries.
///
/// The default link has 1 ms latency, 1 ms jitter, no bandwidth limit, no loss and no
/// duplication; a host talks to itself (loopback) without delay.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use fate::testing::sim::{Link, Sim};
///
/// let sim = Sim::builder()
///     .seed(3)
///     .link(Link::new(Duration::from_millis(20)).jitter(Duration::from_millis(5)))
///     .build();
/// sim.host("a", || {});
/// sim.host("b", || {});
/// sim.set_link("a", "b", Link::new(Duration::from_millis(80)).bandwidth(125_000));
/// assert_eq!(sim.link("a", "b").latency, Duration::from_millis(80));
/// assert_eq!(sim.link("a", "b").bandwidth, Some(125_000)); // 1 Mbit/s
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// The least time a packet takes.
    pub latency: Duration,
    /// The most extra time a packet may take.
    pub jitter: Duration,
    /// Bytes per second in each direction; `None` for no limit.
    pub bandwidth: Option<u64>,
    /// The probability that a datagram is lost.
    pub loss: f64,
    /// The probability that a datagram is delivered twice.
    pub duplicate: f64,
}

impl Link {
    /// A link with `latency` and no jitter.
    pub fn new(latency: Duration) -> Link {
        Link {
            latency,
            jitter: Duration::ZERO,
            bandwidth: None,
            loss: 0.0,
            duplicate: 0.0,
        }
    }

    /// The same link losing each datagram with probability `p`.
    pub fn loss(mut self, p: f64) -> Link {
        self.loss = p;
        self
    }

    /// The same link delivering each datagram twice with probability `p`.
    pub fn duplicate(mut self, p: f64) -> Link {
        self.duplicate = p;
        self
    }

    /// The same link carrying at most `bytes_per_second` each way.
    pub fn bandwidth(mut self, bytes_per_second: u64) -> Link {
        self.bandwidth = Some(bytes_per_second.max(1));
        self
    }

    /// The same link with up to `jitter` more per packet.
    pub fn jitter(mut self, jitter: Duration) -> Link {
        self.jitter = jitter;
        self
    }

    /// A host's link to itself: no delay.
    pub(crate) fn loopback() -> Link {
        Link::new(Duration::ZERO)
    }
}

impl Default for Link {
    fn default() -> Link {
        Link::new(Duration::from_millis(1)).jitter(Duration::from_millis(1))
    }
}
