//! The head timeout: a connection whose client takes too long to send a request head is
//! closed (slowloris protection), with one coarse reactor timer per listener rather than a
//! timer per request.
//!
//! A connection is *waiting for a head* from when it opens, and again from when the previous
//! response has been handed to hyper in full (its body dropped), until hyper has parsed the
//! next head (the site's service is called). Output restarts the wait: hyper may still be
//! sending a large response to a slow reader after it dropped the body, and that connection
//! is making progress, not idling. A [`HeadClock`] counts ticks of `timeout / 8`
//! (at most one second) on a reactor timer that runs only while its listener has connections.
//! A connection that began waiting at tick `t` expires at tick `t + ticks + 1`, where
//! `ticks = ceil(timeout / tick)`: never before `timeout` has passed, at most two ticks after.
//!
//! The same wait decides when an idle keep-alive connection is *parked* (see
//! [`park`](super::park)): once it has waited more than `park_ticks` ticks (at once if the
//! delay is zero), the tick wakes it to give back hyper's buffers. Parking does not restart
//! the wait, so a parked connection expires on the same tick it would have unparked.
//!
//! hyper's own `header_read_timeout` would do the same with a timer per request, read from
//! the clock and allocated anew each time; that cost a seventh of the site's per-request
//! instructions (callgrind, `fate-bench http`).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::body::Dropped;
use crate::stream::Wrote;

/// The longest tick.
const MAX_TICK: Duration = Duration::from_secs(1);
/// The shortest tick.
const MIN_TICK: Duration = Duration::from_millis(1);

/// A listener's tick counter and the limits its connections are held to: the head timeout,
/// and the [send timeout](super::send_timeout), which counts the same ticks.
#[derive(Debug)]
pub(crate) struct HeadClock {
    /// Ticks counted so far (advanced only while the listener has connections).
    now: Cell<u64>,
    /// How long a tick is: an eighth of the shorter timeout, within bounds.
    tick: Duration,
    /// Whole ticks in the head timeout, rounded up.
    ticks: u64,
    /// Whole ticks in the send timeout, rounded up.
    send_ticks: u64,
    /// Whole ticks an idle connection waits before it is parked, rounded up; 0: at once.
    park_ticks: u64,
}

impl HeadClock {
    /// A clock for these limits; an idle connection is parked after `park_after` (at once
    /// if zero; the tick does not depend on it).
    pub(crate) fn new(
        head_timeout: Duration,
        send_timeout: Duration,
        park_after: Duration,
    ) -> HeadClock {
        let tick = (head_timeout.min(send_timeout) / 8).clamp(MIN_TICK, MAX_TICK);
        let ticks_in = |timeout: Duration| {
            let ticks = timeout.as_nanos().div_ceil(tick.as_nanos()).max(1);
            u64::try_from(ticks).unwrap_or(u64::MAX)
        };
        HeadClock {
            now: Cell::new(0),
            tick,
            ticks: ticks_in(head_timeout),
            send_ticks: ticks_in(send_timeout),
            park_ticks: if park_after.is_zero() {
                0
            } else {
                ticks_in(park_after)
            },
        }
    }

    /// How long the reactor timer waits between ticks.
    pub(crate) fn tick(&self) -> Duration {
        self.tick
    }

    /// The tick count now.
    pub(crate) fn now(&self) -> u64 {
        self.now.get()
    }

    /// Whole ticks in the send timeout.
    pub(crate) fn send_ticks(&self) -> u64 {
        self.send_ticks
    }

    /// Counts one tick (called by the listener's timer).
    pub(crate) fn advance(&self) {
        self.now.set(self.now.get() + 1);
    }
}

/// One connection's view of the head timeout.
#[derive(Debug)]
pub(crate) struct HeadWatch {
    clock: Rc<HeadClock>,
    /// The tick at which it began waiting for a head; `None` while a request is served.
    waiting_since: Cell<Option<u64>>,
    /// The connection is parked: it holds no HTTP state while it waits.
    parked: Cell<bool>,
    /// Responses handed over in full so far (wrapping): the parker learns from it that
    /// hyper finished a message.
    responses: Cell<u32>,
}

impl HeadWatch {
    /// A new connection: waiting for its first head.
    pub(crate) fn new(clock: &Rc<HeadClock>) -> HeadWatch {
        HeadWatch {
            clock: clock.clone(),
            waiting_since: Cell::new(Some(clock.now.get())),
            parked: Cell::new(false),
            responses: Cell::new(0),
        }
    }

    /// The connection waits for a head from now on.
    pub(crate) fn waiting(&self) {
        self.waiting_since.set(Some(self.clock.now.get()));
    }

    /// A head has arrived: no limit until the response has been handed over.
    pub(crate) fn head_received(&self) {
        self.waiting_since.set(None);
    }

    /// No limit for the rest of the connection's life (HTTP/2 has none).
    pub(crate) fn disarm(&self) {
        self.waiting_since.set(None);
    }

    /// Whether it has waited for a head long enough to be parked, and is not parked yet.
    pub(crate) fn due_to_park(&self) -> bool {
        let park = self.clock.park_ticks;
        !self.parked.get()
            && self
                .waiting_since
                .get()
                .is_some_and(|since| park == 0 || self.clock.now.get() - since > park)
    }

    /// Records whether the connection is parked.
    pub(crate) fn set_parked(&self, parked: bool) {
        self.parked.set(parked);
    }

    /// Whether the connection is parked.
    pub(crate) fn is_parked(&self) -> bool {
        self.parked.get()
    }

    /// Responses handed over in full so far (wrapping).
    pub(crate) fn responses(&self) -> u32 {
        self.responses.get()
    }

    /// Whether it has waited past the limit at the clock's current tick.
    pub(crate) fn expired(&self) -> bool {
        self.waiting_since
            .get()
            .is_some_and(|since| self.clock.now.get() - since > self.clock.ticks)
    }
}

/// A response's body was dropped: hyper has taken all of it, so the next head is awaited.
impl Dropped for HeadWatch {
    fn dropped(&self) {
        self.responses.set(self.responses.get().wrapping_add(1));
        self.waiting();
    }
}

/// Bytes went out: a connection waiting for a head waits afresh from now (the end of a
/// response is still being sent).
impl Wrote for HeadWatch {
    fn wrote(&self) {
        if self.waiting_since.get().is_some() {
            self.waiting();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(timeout_ms: u64) -> (Rc<HeadClock>, HeadWatch) {
        let clock = Rc::new(HeadClock::new(
            Duration::from_millis(timeout_ms),
            Duration::from_secs(60),
            Duration::from_secs(1),
        ));
        let watch = HeadWatch::new(&clock);
        (clock, watch)
    }

    #[test]
    fn ticks_are_an_eighth_of_the_timeout_within_bounds() {
        // (timeout, tick, ticks)
        let table = [
            (30_000, 1_000, 30),
            (200, 25, 8),
            (4, 1, 4),
            (0, 1, 1),
            (8_001, 1_000, 9),
        ];
        for (timeout, tick, ticks) in table {
            let clock = HeadClock::new(
                Duration::from_millis(timeout),
                Duration::MAX,
                Duration::ZERO,
            );
            assert_eq!(clock.tick(), Duration::from_millis(tick), "{timeout} ms");
            assert_eq!(clock.ticks, ticks, "{timeout} ms");
        }
    }

    #[test]
    fn the_shorter_timeout_sets_the_tick() {
        let clock = HeadClock::new(
            Duration::from_secs(30),
            Duration::from_millis(800),
            Duration::ZERO,
        );
        assert_eq!(clock.tick(), Duration::from_millis(100));
        assert_eq!((clock.ticks, clock.send_ticks()), (300, 8));
    }

    #[test]
    fn a_waiting_connection_expires_only_after_all_its_ticks_and_one_more() {
        let (clock, watch) = watch(200); // 8 ticks of 25 ms
        for _ in 0..8 {
            clock.advance();
            assert!(!watch.expired());
        }
        clock.advance();
        assert!(
            watch.expired(),
            "the ninth tick is at least 200 ms after it began waiting"
        );
    }

    #[test]
    fn a_connection_serving_a_request_never_expires_and_waits_afresh_after() {
        let (clock, watch) = watch(200);
        clock.advance();
        watch.head_received();
        for _ in 0..100 {
            clock.advance();
        }
        assert!(!watch.expired(), "no limit while a request is served");
        let watch = Rc::new(watch);
        let as_dropped: Rc<dyn Dropped> = watch.clone();
        as_dropped.dropped();
        for _ in 0..8 {
            clock.advance();
        }
        assert!(
            !watch.expired(),
            "waiting starts again when the response is handed over"
        );
        clock.advance();
        assert!(watch.expired());
        watch.disarm();
        assert!(!watch.expired());
    }

    #[test]
    fn a_waiting_connection_is_due_to_park_after_its_park_ticks_and_one_more() {
        // 200 ms: ticks of 25 ms; parked after 50 ms: 2 ticks.
        let clock = Rc::new(HeadClock::new(
            Duration::from_millis(200),
            Duration::from_secs(60),
            Duration::from_millis(50),
        ));
        let watch = HeadWatch::new(&clock);
        watch.head_received();
        clock.advance();
        assert!(!watch.due_to_park(), "serving a request");
        watch.waiting();
        for _ in 0..2 {
            assert!(!watch.due_to_park());
            clock.advance();
        }
        assert!(
            !watch.due_to_park(),
            "two ticks may be one tick and a moment"
        );
        clock.advance();
        assert!(watch.due_to_park());
        watch.set_parked(true);
        assert!(!watch.due_to_park(), "parked already");
        for _ in 0..5 {
            clock.advance();
        }
        assert!(!watch.expired(), "8 ticks since it began waiting");
        clock.advance();
        assert!(watch.expired(), "parking does not restart the wait");
    }

    #[test]
    fn a_zero_park_delay_parks_as_soon_as_a_head_is_awaited() {
        let clock = Rc::new(HeadClock::new(
            Duration::from_secs(30),
            Duration::from_secs(60),
            Duration::ZERO,
        ));
        let watch = HeadWatch::new(&clock);
        assert!(watch.due_to_park());
        watch.head_received();
        assert!(!watch.due_to_park());
    }

    #[test]
    fn output_restarts_the_wait_but_does_not_start_one() {
        let (clock, watch) = watch(200);
        watch.head_received();
        clock.advance();
        watch.wrote();
        for _ in 0..20 {
            clock.advance();
        }
        assert!(!watch.expired(), "writing a response starts no wait");
        watch.waiting();
        for _ in 0..8 {
            clock.advance();
        }
        watch.wrote();
        for _ in 0..8 {
            clock.advance();
        }
        assert!(
            !watch.expired(),
            "the end of a response went out 8 ticks ago"
        );
        clock.advance();
        assert!(watch.expired());
    }
}
