//! Deterministic simulation: a counter service on host `db` and two clients on `app1` and
//! `app2`, ordinary Fate code on a simulated network with a partition and a crash, all in
//! virtual time. Every random choice (latency jitter, where TCP splits the bytes) comes from
//! the seed: the same seed prints the same story and the same trace hash, on the last line.
//!
//! Run with: `cargo run --example simulation -- [--seed N]` (default seed 7).

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use fate::net::{self, ReconnectingClientFactory};
use fate::protocols::{LineHandler, LineReceiver, Lines};
use fate::testing::sim::Sim;
use fate::time::LoopingCall;

/// The service: answers each `INCR` with the counter's new value. The counter lives in
/// memory, so a crash loses it.
struct Counter(Rc<Cell<u64>>);

impl LineHandler for Counter {
    fn line_received(&mut self, lines: &mut Lines, line: &[u8]) {
        if line == b"INCR" {
            self.0.set(self.0.get() + 1);
            lines.send_line(self.0.get().to_string().as_bytes());
        }
    }
}

/// A client: sends `INCR` every second while connected, prints each answer.
struct App {
    name: &'static str,
    ticker: Option<LoopingCall>,
}

impl LineHandler for App {
    fn connection_made(&mut self, lines: &mut Lines) {
        println!("{:6.3}s {}: connected", now(), self.name);
        let transport = lines.transport().clone();
        let ticker = LoopingCall::new(fate::reactor(), move || transport.write(b"INCR\r\n"));
        ticker
            .start(Duration::from_secs(1), true)
            .expect("a new loop is not running yet");
        self.ticker = Some(ticker);
    }

    fn line_received(&mut self, _: &mut Lines, line: &[u8]) {
        let value = String::from_utf8_lossy(line);
        println!("{:6.3}s {}: counter is {value}", now(), self.name);
    }

    fn connection_lost(&mut self, _: &mut Lines, reason: net::CloseReason) {
        println!(
            "{:6.3}s {}: lost the connection: {reason}",
            now(),
            self.name
        );
        if let Some(ticker) = self.ticker.take() {
            ticker.stop();
        }
    }
}

fn now() -> f64 {
    fate::reactor().seconds()
}

/// Boots a client host: connects to `db:6379`, reconnecting after failures.
fn app(name: &'static str) -> impl Fn() {
    move || {
        let factory = net::for_protocol(move || LineReceiver::new(App { name, ticker: None }));
        let reconnecting = ReconnectingClientFactory::new(factory)
            .initial_delay(Duration::from_millis(500))
            .max_delay(Duration::from_secs(4));
        net::connect_tcp("db", 6379, reconnecting);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seed = match args.iter().position(|a| a == "--seed") {
        Some(i) => args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                eprintln!("--seed takes a number");
                std::process::exit(2)
            }),
        None => 7,
    };
    println!("simulating with seed {seed}");

    let sim = Sim::new(seed);
    sim.host("db", || {
        let counter = Rc::new(Cell::new(0));
        net::server_from_str("tcp:6379")
            .unwrap()
            .listen(net::for_protocol(move || {
                LineReceiver::new(Counter(counter.clone()))
            }));
    });
    sim.host("app1", app("app1"));
    sim.host("app2", app("app2"));

    sim.at(Duration::from_millis(3500), |sim| {
        println!("-- partition app1 | db");
        sim.partition("app1", "db");
    });
    sim.at(Duration::from_millis(6500), |sim| {
        println!("-- repair app1 | db");
        sim.repair("app1", "db");
    });
    sim.at(Duration::from_millis(9200), |sim| {
        println!("-- crash db");
        sim.crash("db");
    });
    sim.at(Duration::from_millis(9800), |sim| {
        println!("-- restart db");
        sim.restart("db");
    });

    if let Err(e) = sim.run_for(Duration::from_secs(15)) {
        eprintln!("{e}");
        std::process::exit(1);
    }
    println!(
        "{} events in {:?} of virtual time",
        sim.trace_len(),
        sim.elapsed()
    );
    println!("trace hash {:016x}", sim.trace_hash());
}
