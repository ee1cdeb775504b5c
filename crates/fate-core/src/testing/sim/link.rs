//! How a simulated link carries packets: latency and jitter.

use std::time::Duration;

/// The settings of a link between two simulated hosts: every packet takes `latency` plus a
/// draw in `0..=jitter` (from the simulation's seed) to cross. Jitter reorders packets on
/// the wire; TCP puts its bytes back in order, so a program sees only the delay.
///
/// The default link has 1 ms latency and 1 ms jitter; a host talks to itself (loopback)
/// without delay.
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
/// sim.set_link("a", "b", Link::new(Duration::from_millis(80)));
/// assert_eq!(sim.link("a", "b").latency, Duration::from_millis(80));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// The least time a packet takes.
    pub latency: Duration,
    /// The most extra time a packet may take.
    pub jitter: Duration,
}

impl Link {
    /// A link with `latency` and no jitter.
    pub fn new(latency: Duration) -> Link {
        Link {
            latency,
            jitter: Duration::ZERO,
        }
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
