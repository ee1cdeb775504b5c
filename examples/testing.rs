//! Testing it all without waiting and without sockets: timed code on a virtual
//! `testing::Clock`, a protocol on a `testing::StringTransport` that records what it writes.
//!
//! `slow_multiply` takes the timeline its timer runs on — the reactor's in a program, a test's
//! `Clock` in a test — so a test can check that it fires after exactly three seconds, in no
//! real time at all. The `Greeter` protocol is fed its input a byte at a time, as a network may
//! deliver it, and the test reads back every byte it wrote. The checks are `#[test]`s when the
//! file is built as a test (`cargo test` runs them); `main` runs the same checks.
//!
//! Run with: `cargo run --example testing` (or `cargo test --example testing`)

use std::time::Duration;

use fate::net::Protocol;
use fate::protocols::{LineHandler, LineReceiver, Lines};
use fate::testing::{assert_no_result, success_result_of, Clock, StringTransport};
use fate::time::{defer_later, Timeline};
use fate::Deferred;

/// The article's `slowMultiply`, on whichever timeline it is given.
fn slow_multiply(timeline: impl AsRef<Timeline>, x: i64, y: i64) -> Deferred<i64> {
    defer_later(timeline, Duration::from_secs(3), move || x * y)
}

/// Asks for a name, greets it, and hangs up on `bye`.
struct Greeter;

impl LineHandler for Greeter {
    fn connection_made(&mut self, lines: &mut Lines) {
        lines.send_line(b"What's your name?");
    }

    fn line_received(&mut self, lines: &mut Lines, line: &[u8]) {
        match line {
            b"bye" => lines.lose_connection(),
            name => lines.send_line(&[b"Hello, ", name, b"!"].concat()),
        }
    }
}

#[cfg_attr(test, test)]
fn slow_multiply_fires_after_three_virtual_seconds() {
    let clock = Clock::new();
    let d = slow_multiply(&clock, 3, 4);
    clock.advance(Duration::from_millis(2999));
    assert_no_result(&d);
    clock.advance(Duration::from_millis(1));
    assert_eq!(success_result_of(d), 12);
}

#[cfg_attr(test, test)]
fn greeter_greets_whatever_way_the_bytes_arrive() {
    let wire = StringTransport::new();
    let mut greeter = LineReceiver::new(Greeter);
    greeter.connection_made(wire.transport());
    assert_eq!(wire.take(), b"What's your name?\r\n");
    for byte in b"Alice\r\nbye\r\n" {
        greeter.data_received(&[*byte]);
    }
    assert_eq!(wire.take(), b"Hello, Alice!\r\n");
    assert!(wire.disconnecting(), "bye hangs up");
}

fn main() {
    slow_multiply_fires_after_three_virtual_seconds();
    println!("ok: slow_multiply fired with 12 after 3 s of virtual time, and not before");
    greeter_greets_whatever_way_the_bytes_arrive();
    println!("ok: the Greeter greeted Alice and hung up on bye, fed a byte at a time");
}
