//! The framing protocols fed one input at random chunk splits: they never panic, and what
//! the handler sees does not depend on where the input was split (the same lines, strings,
//! raw bytes and errors as when the whole input arrives at once).
#![no_main]

use arbitrary::Arbitrary;
use fate_core::net::Protocol;
use fate_core::protocols::{
    FrameError, Int16StringReceiver, Int32StringReceiver, Int8StringReceiver, IntNStringReceiver,
    LineHandler, LineReceiver, LineTooLong, Lines, NetstringReceiver, StringHandler, Strings,
};
use fate_core::testing::StringTransport;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    /// Which receiver.
    kind: u8,
    /// Its maximum line or string length.
    max: u16,
    /// Chunk lengths to split `data` at (cycled; 0 counts as 1).
    splits: Vec<u8>,
    data: Vec<u8>,
}

/// What a handler saw, raw bytes merged (raw delivery is split-dependent by design).
#[derive(Debug, PartialEq, Eq, Default)]
struct Log(Vec<Event>);

#[derive(Debug, PartialEq, Eq)]
enum Event {
    Item(Vec<u8>),
    Raw(Vec<u8>),
    /// Only the kind: a too-long line's reported length depends on how much was buffered.
    Error(&'static str),
}

impl Log {
    fn raw(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if let Some(Event::Raw(r)) = self.0.last_mut() {
            r.extend_from_slice(data);
        } else {
            self.0.push(Event::Raw(data.to_vec()));
        }
    }
}

impl LineHandler for Log {
    fn line_received(&mut self, lines: &mut Lines, line: &[u8]) {
        self.0.push(Event::Item(line.to_vec()));
        if line == b"RAW" {
            lines.set_raw_mode();
        }
    }

    fn raw_data_received(&mut self, _: &mut Lines, data: &[u8]) {
        self.raw(data);
    }

    fn line_length_exceeded(&mut self, lines: &mut Lines, _: LineTooLong) {
        self.0.push(Event::Error("line too long"));
        lines.lose_connection();
    }
}

impl StringHandler for Log {
    fn string_received(&mut self, _: &mut Strings, s: &[u8]) {
        self.0.push(Event::Item(s.to_vec()));
    }

    fn bad_frame(&mut self, strings: &mut Strings, error: FrameError) {
        self.0.push(Event::Error(match error {
            FrameError::TooLong { .. } => "too long",
            _ => "bad frame",
        }));
        strings.lose_connection();
    }
}

/// Feeds `data` to a fresh receiver in chunks of the given lengths; returns what it saw.
fn run(kind: u8, max: usize, data: &[u8], splits: &[u8]) -> Log {
    macro_rules! feed {
        ($receiver:expr, $settings:ident) => {{
            let t = StringTransport::new();
            let mut p = $receiver;
            p.$settings().set_max_length(max);
            p.connection_made(t.transport());
            let mut rest = data;
            let mut i = 0;
            while !rest.is_empty() {
                let n = if splits.is_empty() {
                    rest.len()
                } else {
                    usize::from(splits[i % splits.len()]).max(1).min(rest.len())
                };
                i += 1;
                p.data_received(&rest[..n]);
                rest = &rest[n..];
            }
            std::mem::take(p.handler_mut())
        }};
    }
    match kind % 6 {
        0 => feed!(LineReceiver::new(Log::default()), lines),
        1 => feed!(NetstringReceiver::new(Log::default()), strings),
        2 => feed!(Int32StringReceiver::new(Log::default()), strings),
        3 => feed!(Int16StringReceiver::new(Log::default()), strings),
        4 => feed!(Int8StringReceiver::new(Log::default()), strings),
        _ => feed!(IntNStringReceiver::<Log, 3>::new(Log::default()), strings),
    }
}

fuzz_target!(|input: Input| {
    let max = usize::from(input.max);
    let whole = run(input.kind, max, &input.data, &[]);
    let split = run(input.kind, max, &input.data, &input.splits);
    assert_eq!(whole, split, "kind {} max {max}", input.kind % 6);
    let bytewise = run(input.kind, max, &input.data, &[1]);
    assert_eq!(
        whole,
        bytewise,
        "kind {} max {max}, byte by byte",
        input.kind % 6
    );
});
