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
use net_support::{memory_kib, reactor, run_bounded, stop};

const TOTAL: usize = 256 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// Most a [`Pump`] writes in one turn before it lets the loop run: a producer whose consumer
/// never pushes back must still not hold the loop (the watchdog reports a run over 100 ms).
const BATCH: usize = 4 * 1024 * 1024;

/// Writes `TOTAL` bytes in chunks while not paused, at most [`BATCH`] a turn, then closes.
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
        let batch_end = self.sent.get() + BATCH;
        while !self.paused.get() && !self.stopped.get() && self.sent.get() < TOTAL {
            if self.sent.get() >= batch_end {
                // Not paused yet: go on at the next turn, after the loop's other work.
                let me = self.me.upgrade().unwrap();
                fate_core::call_soon(move || me.run());
                return;
            }
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

/// A pull producer: one chunk each time it is asked, `chunks` in all.
struct Pull {
    transport: Transport,
    left: Cell<u32>,
    asked: Rc<Cell<u32>>,
}

impl Producer for Pull {
    fn pause_producing(&self) {
        unreachable!("pull producers are never paused");
    }
    fn resume_producing(&self) {
        self.asked.set(self.asked.get() + 1);
        if self.left.get() == 0 {
            self.transport.unregister_producer();
            self.transport.lose_connection();
            return;
        }
        self.left.set(self.left.get() - 1);
        self.transport.write(&[b'p'; CHUNK]);
    }
    fn stop_producing(&self) {}
}

struct PullServer(Rc<Cell<u32>>);

impl Protocol for PullServer {
    fn connection_made(&mut self, t: Transport) {
        let producer = Rc::new(Pull {
            transport: t.clone(),
            left: Cell::new(64),
            asked: self.0.clone(),
        });
        // Registering a pull producer asks it for a first chunk at once.
        t.register_producer(producer, ProducerMode::Pull).unwrap();
        assert_eq!(self.0.get(), 1);
        // lose_connection waits for the producer to unregister.
        t.lose_connection();
    }
    fn data_received(&mut self, _: &[u8]) {}
    fn connection_lost(&mut self, reason: CloseReason) {
        assert!(reason.is_clean(), "{reason}");
        stop();
    }
}

#[test]
fn a_pull_producer_is_asked_for_each_chunk_and_closing_waits_for_it() {
    let reactor = reactor();
    let asked = Rc::new(Cell::new(0));
    let a = asked.clone();
    let port = net::listen_tcp(
        "127.0.0.1:0".parse().unwrap(),
        for_protocol(move || PullServer(a.clone())),
    )
    .unwrap();
    let addr = port.host().socket_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all.len()
    });
    run_bounded(&reactor, Duration::from_secs(60));
    assert_eq!(reader.join().unwrap(), 64 * CHUNK);
    // 64 chunks, then one more call that finds nothing left and unregisters.
    assert_eq!(asked.get(), 65);
}
