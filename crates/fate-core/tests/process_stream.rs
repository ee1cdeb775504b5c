//! Large transfers through a child's pipes: 100 MiB out while timers keep their schedule, and
//! 100 MiB in with backpressure.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use fate_core::process::{self, ExitStatus, ProcessProtocol, ProcessTransport};
use fate_core::reactor::Reactor;

const SIZE: usize = 100 * 1024 * 1024;

#[derive(Default)]
struct OutStats {
    bytes: usize,
    chunks: usize,
    biggest_chunk: usize,
    first: Option<Instant>,
    last: Option<Instant>,
    status: Option<ExitStatus>,
}

struct Count(Rc<RefCell<OutStats>>);

impl ProcessProtocol for Count {
    fn out_received(&mut self, data: &[u8]) {
        let mut s = self.0.borrow_mut();
        let now = Instant::now();
        s.first.get_or_insert(now);
        s.last = Some(now);
        s.bytes += data.len();
        s.chunks += 1;
        s.biggest_chunk = s.biggest_chunk.max(data.len());
    }

    fn process_ended(&mut self, status: ExitStatus) {
        self.0.borrow_mut().status = Some(status);
    }
}

/// A timer that re-arms itself every `period` until `done`, recording when it ran.
fn tick(
    reactor: Reactor,
    period: Duration,
    ticks: Rc<RefCell<Vec<Instant>>>,
    done: Rc<Cell<bool>>,
) {
    ticks.borrow_mut().push(Instant::now());
    if done.get() {
        return;
    }
    let again = reactor.clone();
    let _ = reactor.call_later(period, move || tick(again, period, ticks, done));
}

#[test]
fn hundred_mib_of_output_does_not_hold_up_timers() {
    let reactor = Reactor::builder().handle_signals(false).build().unwrap();
    let stats = Rc::new(RefCell::new(OutStats::default()));
    let ticks = Rc::new(RefCell::new(Vec::new()));
    let done = Rc::new(Cell::new(false));
    let period = Duration::from_millis(5);
    {
        let stats = stats.clone();
        let done = done.clone();
        let r = reactor.clone();
        let t = ticks.clone();
        reactor.call_soon(move || {
            struct Flag(Count, Rc<Cell<bool>>);
            impl ProcessProtocol for Flag {
                fn out_received(&mut self, data: &[u8]) {
                    self.0.out_received(data);
                }
                fn process_ended(&mut self, status: ExitStatus) {
                    self.0.process_ended(status);
                    self.1.set(true);
                }
            }
            process::Command::new("head")
                .args(["-c", &SIZE.to_string(), "/dev/zero"])
                .spawn(Flag(Count(stats), done.clone()))
                .unwrap();
            tick(r, period, t, done);
        });
    }
    reactor.run_until_idle().unwrap();

    let s = stats.borrow();
    assert_eq!(s.bytes, SIZE);
    assert_eq!(s.status, Some(ExitStatus::Exited(0)));
    assert!(
        s.biggest_chunk <= 64 * 1024,
        "one read took {}",
        s.biggest_chunk
    );
    let (first, last) = (s.first.unwrap(), s.last.unwrap());
    let ticks = ticks.borrow();
    let during: Vec<Instant> = ticks
        .iter()
        .copied()
        .filter(|t| *t > first && *t < last)
        .collect();
    let streaming = last - first;
    // The timer ran all through the stream, at most a few periods late: never starved.
    let expected = (streaming.as_secs_f64() / period.as_secs_f64()) as usize;
    assert!(
        during.len() * 2 >= expected,
        "{} ticks during {streaming:?} of streaming, {expected} expected",
        during.len()
    );
    let worst_gap = ticks.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        worst_gap < period + Duration::from_millis(250),
        "the timer was held up for {worst_gap:?} ({} chunks)",
        s.chunks
    );
}

#[derive(Default)]
struct InStats {
    written: usize,
    max_buffered: usize,
    pauses: usize,
    resumes: usize,
    out: Vec<u8>,
    status: Option<ExitStatus>,
}

struct Feed {
    transport: Option<ProcessTransport>,
    stats: Rc<RefCell<InStats>>,
    chunk: Vec<u8>,
}

impl Feed {
    /// Writes until the transport says stop (or everything is written).
    fn produce(&mut self) {
        let t = self.transport.clone().unwrap();
        loop {
            let mut s = self.stats.borrow_mut();
            if s.written == SIZE {
                drop(s);
                t.close_stdin();
                return;
            }
            let n = self.chunk.len().min(SIZE - s.written);
            s.written += n;
            drop(s);
            let more = t.write(&self.chunk[..n]);
            let mut s = self.stats.borrow_mut();
            s.max_buffered = s.max_buffered.max(t.buffered());
            if !more {
                return;
            }
        }
    }
}

impl ProcessProtocol for Feed {
    fn connection_made(&mut self, transport: &ProcessTransport) {
        self.transport = Some(transport.clone());
        self.produce();
    }
    fn pause_producing(&mut self) {
        self.stats.borrow_mut().pauses += 1;
    }
    fn resume_producing(&mut self) {
        self.stats.borrow_mut().resumes += 1;
        self.produce();
    }
    fn out_received(&mut self, data: &[u8]) {
        self.stats.borrow_mut().out.extend_from_slice(data);
    }
    fn process_ended(&mut self, status: ExitStatus) {
        self.stats.borrow_mut().status = Some(status);
    }
}

#[test]
fn hundred_mib_into_stdin_with_backpressure() {
    let reactor = Reactor::builder().handle_signals(false).build().unwrap();
    let stats = Rc::new(RefCell::new(InStats::default()));
    let s2 = stats.clone();
    reactor.call_soon(move || {
        let feed = Feed {
            transport: None,
            stats: s2,
            chunk: vec![b'x'; 16 * 1024],
        };
        process::Command::new("wc").arg("-c").spawn(feed).unwrap();
    });
    reactor.run_until_idle().unwrap();
    let s = stats.borrow();
    assert_eq!(s.status, Some(ExitStatus::Exited(0)));
    assert_eq!(String::from_utf8_lossy(&s.out).trim(), SIZE.to_string());
    assert!(s.pauses > 0, "the producer was never paused");
    assert_eq!(s.pauses, s.resumes);
    // Never more than the high-water mark plus one chunk waits in memory.
    assert!(
        s.max_buffered <= 64 * 1024 + 16 * 1024,
        "{} buffered",
        s.max_buffered
    );
}
