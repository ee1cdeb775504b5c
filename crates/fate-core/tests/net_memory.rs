//! `testing::MemoryReactor` and the in-memory pipe: code written against `net::Network` is
//! exercised without sockets, deterministically, one `flush` at a time.
#![cfg(all(feature = "testing", feature = "net"))]

use std::cell::RefCell;
use std::rc::Rc;

use fate_core::net::{for_protocol, CloseReason, Network, Protocol, Transport};
use fate_core::protocols::{LineHandler, LineReceiver, Lines};
use fate_core::testing::MemoryReactor;

/// Answers each line with its length, and closes on "bye".
struct Count;

impl LineHandler for Count {
    fn line_received(&mut self, lines: &mut Lines, line: &[u8]) {
        if line == b"bye" {
            lines.lose_connection();
        } else {
            lines.send_line(line.len().to_string().as_bytes());
        }
    }
}

type Log = Rc<RefCell<Vec<String>>>;

/// Sends three lines, logs the answers and the end.
struct Asker(Log);

impl LineHandler for Asker {
    fn connection_made(&mut self, lines: &mut Lines) {
        lines.send_line(b"hello");
        lines.send_line(b"fate");
        lines.send_line(b"bye");
    }
    fn line_received(&mut self, _: &mut Lines, line: &[u8]) {
        self.0
            .borrow_mut()
            .push(String::from_utf8_lossy(line).into_owned());
    }
    fn connection_lost(&mut self, _: &mut Lines, reason: CloseReason) {
        self.0.borrow_mut().push(format!("lost: {reason}"));
    }
}

/// The code under test: a server and a client on whatever network it gets.
fn start(net: &impl Network, log: Log) -> u16 {
    let port = net
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            Box::new(for_protocol(|| LineReceiver::new(Count))),
        )
        .unwrap();
    let port_no = port.host().port().unwrap();
    net.connect_tcp(
        "127.0.0.1",
        port_no,
        Box::new(for_protocol(move || LineReceiver::new(Asker(log.clone())))),
    );
    port_no
}

#[test]
fn memory_reactor_records_and_pipes_a_conversation() {
    let memory = MemoryReactor::new();
    let log = Log::default();
    let port = start(&memory, log.clone());
    assert_ne!(port, 0, "port 0 gets a made-up port");
    assert_eq!(memory.tcp_clients(), [("127.0.0.1".to_string(), port)]);
    let pump = memory.connect(0, 0).unwrap();
    assert!(log.borrow().is_empty(), "nothing moves before flush");
    assert!(pump.flush());
    assert_eq!(
        *log.borrow(),
        ["5", "4", "lost: connection was closed cleanly"]
    );
    assert!(pump.is_closed());
    assert!(!pump.flush());
    assert!(memory.connect(1, 0).is_none());
    // A stopped listener accepts no more.
    let port = memory
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            Box::new(for_protocol(|| LineReceiver::new(Count))),
        )
        .unwrap();
    port.stop_listening();
    assert!(!port.is_listening());
    assert!(memory.connect(1, 0).is_none());
}

#[test]
fn the_same_code_runs_on_the_real_reactor() {
    let reactor = fate_core::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .unwrap();
    let log = Log::default();
    start(&reactor, log.clone());
    let l = log.clone();
    fn watch(l: Log) {
        if l.borrow().len() == 3 {
            fate_core::reactor::current().stop();
        } else {
            let _ = fate_core::call_later(std::time::Duration::from_millis(1), move || watch(l));
        }
    }
    watch(l);
    reactor.run().unwrap();
    assert_eq!(
        *log.borrow(),
        ["5", "4", "lost: connection was closed cleanly"]
    );
}

#[test]
fn abort_in_a_pipe_drops_what_was_written() {
    struct Abort;
    impl Protocol for Abort {
        fn connection_made(&mut self, t: Transport) {
            t.write(b"dropped");
            t.abort_connection();
        }
        fn data_received(&mut self, _: &[u8]) {}
    }
    struct Record(Log);
    impl Protocol for Record {
        fn data_received(&mut self, d: &[u8]) {
            self.0
                .borrow_mut()
                .push(String::from_utf8_lossy(d).into_owned());
        }
        fn connection_lost(&mut self, reason: CloseReason) {
            self.0.borrow_mut().push(format!("{reason:?}"));
        }
    }
    let log = Log::default();
    let pump = fate_core::testing::connect_pipe(
        Box::new(Abort),
        fate_core::net::Address::Memory("server".into()),
        Box::new(Record(log.clone())),
        fate_core::net::Address::Memory("client".into()),
    );
    pump.flush();
    assert_eq!(*log.borrow(), ["Done"]);
}
