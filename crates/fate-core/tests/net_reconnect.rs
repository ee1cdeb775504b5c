//! `ReconnectingClientFactory` on a virtual clock: Twisted's back-off sequence, the retry
//! limit, reset after a success, `stop_trying` — against real refused connections, with the
//! waits on a `testing::Clock` so nothing sleeps.
#![cfg(all(feature = "testing", feature = "net"))]

mod net_support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use fate_core::net::{
    self, Address, ClientFactory, CloseReason, ConnectError, Connector, Protocol,
    ReconnectingClientFactory, Transport,
};
use fate_core::testing::Clock;
use net_support::reactor;

/// Logs attempts; its protocol closes right after connecting.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

struct Hangup;
impl Protocol for Hangup {
    fn connection_made(&mut self, t: Transport) {
        t.lose_connection();
    }
    fn data_received(&mut self, _: &[u8]) {}
}

impl ClientFactory for Log {
    fn build_protocol(&mut self, _: &Address) -> Option<Box<dyn Protocol>> {
        self.0.borrow_mut().push("connected".into());
        Some(Box::new(Hangup))
    }
    fn client_connection_failed(&mut self, _: &Connector, reason: &ConnectError) {
        assert!(matches!(reason, ConnectError::Refused { .. }), "{reason}");
        self.0.borrow_mut().push("refused".into());
    }
    fn client_connection_lost(&mut self, _: &Connector, reason: &CloseReason) {
        self.0
            .borrow_mut()
            .push(format!("lost: {}", reason.is_clean()));
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The delay of the one pending retry, in seconds.
fn pending_delay(clock: &Clock) -> f64 {
    let pending = clock.pending_calls();
    assert_eq!(pending.len(), 1, "{pending:?}");
    (pending[0] - clock.now()).as_secs_f64()
}

#[test]
fn back_off_follows_twisteds_sequence_and_stops_at_max_retries() {
    let reactor = reactor();
    let clock = Clock::new();
    let log = Log::default();
    let factory = ReconnectingClientFactory::new(log.clone())
        .jitter(0.0)
        .max_retries(4)
        .clock(&clock);
    net::connect_tcp("127.0.0.1", free_port(), factory.clone());
    let mut delays = Vec::new();
    loop {
        reactor.run_until_idle().unwrap();
        if clock.pending_calls().is_empty() {
            break;
        }
        let d = pending_delay(&clock);
        delays.push((d * 1000.0).round() as u64);
        clock.advance(Duration::from_secs_f64(d));
    }
    // e, e², e³, e⁴ seconds, in milliseconds (Twisted: 2.718, 7.389, 20.09, 54.60).
    assert_eq!(delays, [2718, 7389, 20086, 54598]);
    assert_eq!(log.0.borrow().len(), 5);
    assert!(log.0.borrow().iter().all(|l| l == "refused"));
    assert_eq!(factory.retries(), 5);
}

#[test]
fn max_delay_caps_and_jitter_varies_reproducibly() {
    let delays_with = |seed: u64| {
        let reactor = reactor();
        let clock = Clock::new();
        let factory = ReconnectingClientFactory::new(Log::default())
            .max_delay(Duration::from_secs(10))
            .max_retries(5)
            .seed(seed)
            .clock(&clock);
        net::connect_tcp("127.0.0.1", free_port(), factory);
        let mut delays = Vec::new();
        loop {
            reactor.run_until_idle().unwrap();
            if clock.pending_calls().is_empty() {
                break delays;
            }
            let d = pending_delay(&clock);
            delays.push(d);
            clock.advance(Duration::from_secs_f64(d));
        }
    };
    let a = delays_with(7);
    assert_eq!(a.len(), 5);
    assert_eq!(a, delays_with(7), "same seed, same delays");
    assert_ne!(a, delays_with(8), "jitter varies with the seed");
    // σ is 12% of the delay: after the cap, delays stay near 10 s.
    assert!(a[3..].iter().all(|d| (5.0..15.0).contains(d)), "{a:?}");
    assert!(a[0] != std::f64::consts::E, "jitter applies");
}

#[test]
fn success_resets_the_delay_and_stop_trying_ends_it() {
    let reactor = reactor();
    let clock = Clock::new();
    let log = Log::default();
    let port = free_port();
    let factory = ReconnectingClientFactory::new(log.clone())
        .jitter(0.0)
        .clock(&clock);
    net::connect_tcp("127.0.0.1", port, factory.clone());
    reactor.run_until_idle().unwrap();
    clock.advance(Duration::from_secs_f64(pending_delay(&clock)));
    reactor.run_until_idle().unwrap();
    assert_eq!(factory.retries(), 2);
    // Now something listens: the next attempt connects, which resets the back-off; the
    // server-side close makes it retry from the initial delay again.
    let server = net::listen_tcp(
        format!("127.0.0.1:{port}").parse().unwrap(),
        net::for_protocol(net_support::Echo::default),
    )
    .unwrap();
    clock.advance(Duration::from_secs_f64(pending_delay(&clock)));
    // The connection is made and lost over a few turns (the listener keeps the reactor
    // busy, so run until the factory has scheduled its next retry).
    fn until_retry(clock: Clock) {
        if clock.pending_calls().is_empty() {
            let _ = fate_core::call_later(Duration::from_millis(1), move || until_retry(clock));
        } else {
            net_support::stop();
        }
    }
    until_retry(clock.clone());
    net_support::run_bounded(&reactor, Duration::from_secs(30));
    assert_eq!(
        *log.0.borrow(),
        ["refused", "refused", "connected", "lost: true"]
    );
    assert_eq!(factory.retries(), 1);
    assert!((pending_delay(&clock) - std::f64::consts::E).abs() < 1e-6);
    factory.stop_trying();
    assert!(clock.pending_calls().is_empty());
    server.stop_listening();
}
