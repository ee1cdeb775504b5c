//! Helpers shared by the networking integration tests.
#![allow(dead_code)]

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use fate_core::net::{Protocol, Transport};
use fate_core::reactor::Reactor;

/// A reactor without signal handling (tests run many on parallel threads).
pub(crate) fn reactor() -> Reactor {
    Reactor::builder().handle_signals(false).build().unwrap()
}

/// Runs `reactor` until something calls `stop`; fails the test if that takes longer than
/// `limit` (a bound on a broken test, not a timing assumption).
pub(crate) fn run_bounded(reactor: &Reactor, limit: Duration) {
    let expired = Rc::new(Cell::new(false));
    let flag = expired.clone();
    let watchdog = reactor.call_later(limit, move || {
        flag.set(true);
        fate_core::reactor::current().stop();
    });
    reactor.run().unwrap();
    let _ = watchdog.cancel();
    assert!(!expired.get(), "the test did not finish within {limit:?}");
}

/// Stops the current reactor.
pub(crate) fn stop() {
    fate_core::reactor::current().stop();
}

/// Writes back what it reads.
#[derive(Default)]
pub(crate) struct Echo(pub(crate) Option<Transport>);

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        self.0 = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.0.as_ref().unwrap().write(data);
    }
}

/// `VmRSS` and `VmHWM` (peak) of this process, in KiB.
pub(crate) fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}
