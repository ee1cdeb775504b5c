//! Flow control: a producer feeding 256 MiB to a slow reader keeps the writer's memory
//! bounded, and the transport's producer contract (pause above the high water mark, resume
//! when drained, stop on close) holds.

mod net_support;

use std::cell::Cell;
use std::io::Read;
use std::rc::{Rc, Weak};
use std::time::Duration;

use fate_core::net::{
    self, for_protocol, CloseReason, Producer, ProducerMode, Protocol, Transport,
};
use net_support::{reactor, run_bounded, stop};

const TOTAL: usize = 256 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// Writes `TOTAL` bytes in chunks while not paused, then closes.
struct Pump {
    me: Weak<Pump>,
    transport: Transport,
    chunk: Vec<u8>,
    sent: Cell<usize>,
    paused: Cell<bool>,
    pauses: Rc<Cell<u32>>,
    stopped: Cell<bool>,
}

impl Pump {
    fn run(&self) {
        while !self.paused.get() && !self.stopped.get() && self.sent.get() < TOTAL {
            self.transport.write(&self.chunk);
            self.sent.set(self.sent.get() + self.chunk.len());
        }
        if self.sent.get() >= TOTAL && !self.stopped.replace(true) {
            self.transport.unregister_producer();
            self.transport.lose_connection();
        }
    }
}

impl Producer for Pump {
    fn pause_producing(&self) {
        self.paused.set(true);
        self.pauses.set(self.pauses.get() + 1);
    }
    fn resume_producing(&self) {
        self.paused.set(false);
        // Produce from the loop, not from inside the transport's call.
        let me = self.me.upgrade().unwrap();
        fate_core::call_soon(move || me.run());
    }
    fn stop_producing(&self) {
        self.stopped.set(true);
    }
}

struct Server {
    pauses: Rc<Cell<u32>>,
    done: Rc<Cell<bool>>,
}

impl Protocol for Server {
    fn connection_made(&mut self, t: Transport) {
        let pump = Rc::new_cyclic(|me| Pump {
            me: me.clone(),
            transport: t.clone(),
            chunk: vec![b'x'; CHUNK],
            sent: Cell::new(0),
            paused: Cell::new(false),
            pauses: self.pauses.clone(),
            stopped: Cell::new(false),
        });
        t.register_producer(pump.clone(), ProducerMode::Push)
            .unwrap();
        assert!(t
            .register_producer(pump.clone(), ProducerMode::Push)
            .is_err());
        pump.run();
    }
    fn data_received(&mut self, _: &[u8]) {}
    fn connection_lost(&mut self, reason: CloseReason) {
        assert!(reason.is_clean(), "{reason}");
        self.done.set(true);
        stop();
    }
}

/// `VmRSS` and `VmHWM` (peak) of this process, in KiB.
fn memory_kib() -> (u64, u64) {
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

#[test]
fn a_slow_reader_fed_256_mib_keeps_the_writer_bounded() {
    let reactor = reactor();
    let pauses = Rc::new(Cell::new(0));
    let done = Rc::new(Cell::new(false));
    let (p, d) = (pauses.clone(), done.clone());
    let port = net::listen_tcp(
        "127.0.0.1:0".parse().unwrap(),
        for_protocol(move || Server {
            pauses: p.clone(),
            done: d.clone(),
        }),
    )
    .unwrap();
    let addr = port.host().socket_addr().unwrap();
    let (rss_before, _) = memory_kib();
    // The reader: small reads on its own thread, slower than the writer can produce.
    let reader = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0usize;
        loop {
            match s.read(&mut buf).unwrap() {
                0 => break total,
                n => total += n,
            }
        }
    });
    run_bounded(&reactor, Duration::from_secs(120));
    let received = reader.join().unwrap();
    let (_, peak) = memory_kib();
    assert!(done.get());
    assert_eq!(received, TOTAL);
    assert!(pauses.get() > 0, "the producer was never paused");
    let growth_mib = peak.saturating_sub(rss_before) / 1024;
    assert!(growth_mib < 64, "RSS grew by {growth_mib} MiB");
}
