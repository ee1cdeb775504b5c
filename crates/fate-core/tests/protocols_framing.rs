//! Framing protocols on a `StringTransport`, fed every input at every split point and one
//! byte at a time: the outcome must not depend on how the bytes were chunked.
#![cfg(all(feature = "testing", feature = "net"))]

use fate_core::net::{CloseReason, HalfClose, Protocol};
use fate_core::protocols::{
    FrameError, Int16StringReceiver, Int32StringReceiver, LineHandler, LineReceiver, LineTooLong,
    Lines, NetstringReceiver, StringHandler, Strings,
};
use fate_core::testing::StringTransport;

/// Every way of cutting `input` into two pieces, plus one byte at a time.
fn chunkings(input: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut out = vec![vec![input]];
    for i in 1..input.len() {
        out.push(vec![&input[..i], &input[i..]]);
    }
    out.push(input.chunks(1).collect());
    out
}

#[derive(Debug, Default, PartialEq)]
struct LineLog {
    lines: Vec<Vec<u8>>,
    raw: Vec<u8>,
    too_long: Vec<LineTooLong>,
    lost: usize,
}

struct Lh {
    log: LineLog,
    raw_on: &'static [u8],
    line_on: Option<usize>,
    echo: bool,
}

impl LineHandler for Lh {
    fn line_received(&mut self, lines: &mut Lines, line: &[u8]) {
        self.log.lines.push(line.to_vec());
        if self.echo {
            lines.send_line(line);
        }
        if line == self.raw_on {
            lines.set_raw_mode();
        }
    }
    fn raw_data_received(&mut self, lines: &mut Lines, data: &[u8]) {
        match self.line_on {
            // Take `n` raw bytes, then go back to lines with the rest.
            Some(n) => {
                let want = n - self.log.raw.len();
                if data.len() >= want {
                    self.log.raw.extend_from_slice(&data[..want]);
                    lines.set_line_mode(&data[want..]);
                } else {
                    self.log.raw.extend_from_slice(data);
                }
            }
            None => self.log.raw.extend_from_slice(data),
        }
    }
    fn line_length_exceeded(&mut self, lines: &mut Lines, error: LineTooLong) {
        self.log.too_long.push(error);
        lines.lose_connection();
    }
    fn connection_lost(&mut self, _: &mut Lines, _: CloseReason) {
        self.log.lost += 1;
    }
}

fn run_lines(
    chunks: &[&[u8]],
    raw_on: &'static [u8],
    line_on: Option<usize>,
    max: usize,
) -> (LineLog, Vec<u8>, bool) {
    let t = StringTransport::new();
    let mut p = LineReceiver::new(Lh {
        log: LineLog::default(),
        raw_on,
        line_on,
        echo: true,
    });
    p.lines().set_max_length(max);
    p.connection_made(t.transport());
    for c in chunks {
        p.data_received(c);
    }
    p.connection_lost(CloseReason::Done);
    let log = std::mem::take(&mut p.handler_mut().log);
    (log, t.value(), t.disconnecting())
}

#[test]
fn lines_and_raw_mode_at_every_split() {
    // Twisted's P01.
    let input = b"a\r\nb\r\nRAW\r\nxyz\r\n";
    for chunks in chunkings(input) {
        let (log, written, disconnecting) = run_lines(&chunks, b"RAW", None, 100);
        assert_eq!(
            log.lines,
            [b"a".to_vec(), b"b".to_vec(), b"RAW".to_vec()],
            "{chunks:?}"
        );
        assert_eq!(log.raw, b"xyz\r\n", "{chunks:?}");
        assert_eq!(written, b"a\r\nb\r\nRAW\r\n");
        assert!(!disconnecting);
        assert_eq!(log.lost, 1);
    }
}

#[test]
fn raw_then_back_to_lines_at_every_split() {
    let input = b"head\r\nBIN\r\n\x00\x01\r\n\x02tail\r\nend\r\npartial";
    for chunks in chunkings(input) {
        let (log, _, _) = run_lines(&chunks, b"BIN", Some(5), 100);
        assert_eq!(
            log.lines,
            [
                b"head".to_vec(),
                b"BIN".to_vec(),
                b"tail".to_vec(),
                b"end".to_vec()
            ],
            "{chunks:?}"
        );
        assert_eq!(log.raw, b"\x00\x01\r\n\x02", "{chunks:?}");
    }
}

#[test]
fn over_long_line_is_a_clear_error_at_every_split() {
    // Twisted's P03: max 4; "1234" is fine so far, "123456" (6 >= 4 + 2) is too long.
    for chunks in chunkings(b"ok\r\n123456") {
        let (log, _, disconnecting) = run_lines(&chunks, b"-", None, 4);
        assert_eq!(log.lines, [b"ok".to_vec()], "{chunks:?}");
        assert_eq!(
            log.too_long,
            [LineTooLong { length: 6, max: 4 }],
            "{chunks:?}"
        );
        assert!(disconnecting);
    }
    let (log, _, disconnecting) = run_lines(&[b"1234"], b"-", None, 4);
    assert!(log.too_long.is_empty() && !disconnecting);
    // A delimited line over the limit.
    let (log, _, _) = run_lines(&[b"12345\r\nnext\r\n"], b"-", None, 4);
    assert!(log.lines.is_empty());
    assert_eq!(log.too_long.len(), 1);
    assert_eq!(
        log.too_long[0].to_string(),
        "line of 13 bytes exceeds the maximum of 4"
    );
}

#[test]
fn no_lines_after_lose_connection() {
    struct Quit(Vec<Vec<u8>>);
    impl LineHandler for Quit {
        fn line_received(&mut self, lines: &mut Lines, line: &[u8]) {
            self.0.push(line.to_vec());
            if line == b"QUIT" {
                lines.lose_connection();
            }
        }
    }
    for chunks in chunkings(b"a\r\nQUIT\r\nb\r\n") {
        let t = StringTransport::new();
        let mut p = LineReceiver::new(Quit(Vec::new()));
        p.connection_made(t.transport());
        for c in &chunks {
            p.data_received(c);
        }
        assert_eq!(p.handler().0, [b"a".to_vec(), b"QUIT".to_vec()]);
    }
}

#[test]
fn pause_holds_lines_until_resume() {
    struct Pauser(Vec<Vec<u8>>);
    impl LineHandler for Pauser {
        fn line_received(&mut self, lines: &mut Lines, line: &[u8]) {
            self.0.push(line.to_vec());
            if line == b"wait" {
                lines.pause_producing();
            }
        }
    }
    let t = StringTransport::new();
    let mut p = LineReceiver::new(Pauser(Vec::new()));
    p.connection_made(t.transport());
    p.data_received(b"one\r\nwait\r\ntwo\r\nthree\r\n");
    assert_eq!(p.handler().0.len(), 2);
    assert_eq!(
        t.producer_state(),
        fate_core::testing::ProducerState::Paused
    );
    p.resume_producing();
    assert_eq!(
        p.handler().0,
        [
            b"one".to_vec(),
            b"wait".to_vec(),
            b"two".to_vec(),
            b"three".to_vec()
        ]
    );
}

#[test]
fn custom_delimiter_and_send_line() {
    struct Nl(Vec<Vec<u8>>);
    impl LineHandler for Nl {
        fn connection_made(&mut self, lines: &mut Lines) {
            lines.set_delimiter(b"\n");
            lines.send_line(b"hi");
        }
        fn line_received(&mut self, _: &mut Lines, line: &[u8]) {
            self.0.push(line.to_vec());
        }
    }
    for chunks in chunkings(b"x\ny\r\n\n") {
        let t = StringTransport::new();
        let mut p = LineReceiver::new(Nl(Vec::new()));
        p.connection_made(t.transport());
        for c in &chunks {
            p.data_received(c);
        }
        assert_eq!(
            p.handler().0,
            [b"x".to_vec(), b"y\r".to_vec(), b"".to_vec()]
        );
        assert_eq!(t.value(), b"hi\n");
    }
}

#[test]
fn bare_newlines_end_lines_by_default_and_not_in_strict_mode() {
    // `nc` and a terminal send `\n`; telnet sends `\r\n`; a lone `\r` stays in the line.
    let input: &[u8] = b"nc\ntelnet\r\n\nlone\rcr\r\n";
    for chunks in chunkings(input) {
        let (log, written, _) = run_lines(&chunks, b"-", None, 100);
        let lines: Vec<&[u8]> = log.lines.iter().map(Vec::as_slice).collect();
        assert_eq!(
            lines,
            [&b"nc"[..], b"telnet", b"", b"lone\rcr"],
            "{chunks:?}"
        );
        // Lines go out with `\r\n` either way.
        assert_eq!(written, b"nc\r\ntelnet\r\n\r\nlone\rcr\r\n");
    }
    struct Strict(Vec<Vec<u8>>);
    impl LineHandler for Strict {
        fn connection_made(&mut self, lines: &mut Lines) {
            lines.set_strict(true);
        }
        fn line_received(&mut self, _: &mut Lines, line: &[u8]) {
            self.0.push(line.to_vec());
        }
    }
    for chunks in chunkings(input) {
        let t = StringTransport::new();
        let mut p = LineReceiver::new(Strict(Vec::new()));
        p.connection_made(t.transport());
        for c in &chunks {
            p.data_received(c);
        }
        assert_eq!(
            p.handler().0,
            [b"nc\ntelnet".to_vec(), b"\nlone\rcr".to_vec()],
            "{chunks:?}"
        );
    }
}

/// Answers after the input ended: how many lines, then what the unterminated last line was.
struct Tally(usize);

impl LineHandler for Tally {
    fn line_received(&mut self, _: &mut Lines, _: &[u8]) {
        self.0 += 1;
    }
    fn read_connection_lost(&mut self, lines: &mut Lines) -> HalfClose {
        lines.send_line(format!("{} lines", self.0).as_bytes());
        let rest = lines.clear_line_buffer();
        lines.send_line(&rest);
        HalfClose::KeepOpen
    }
}

#[test]
fn end_of_input_reaches_the_handler_which_may_keep_writing() {
    for chunks in chunkings(b"one\ntwo\r\nthr") {
        let t = StringTransport::new();
        let mut p = LineReceiver::new(Tally(0));
        p.connection_made(t.transport());
        for c in &chunks {
            p.data_received(c);
        }
        assert_eq!(p.read_connection_lost(), HalfClose::KeepOpen);
        assert_eq!(t.value(), b"2 lines\r\nthr\r\n", "{chunks:?}");
        assert!(!t.disconnecting());
        // Writing goes on after the end of input until the handler closes.
        p.lines().send_line(b"later");
        assert_eq!(t.value(), b"2 lines\r\nthr\r\nlater\r\n");
    }
    // A handler that does not override the hook closes when the input ends.
    let mut p = LineReceiver::new(Lh {
        log: LineLog::default(),
        raw_on: b"",
        line_on: None,
        echo: false,
    });
    p.connection_made(StringTransport::new().transport());
    assert_eq!(p.read_connection_lost(), HalfClose::Close);
}

#[derive(Default)]
struct Sh {
    got: Vec<Vec<u8>>,
    bad: Vec<FrameError>,
}

impl StringHandler for Sh {
    fn string_received(&mut self, strings: &mut Strings, s: &[u8]) {
        self.got.push(s.to_vec());
        strings.send_string(s).unwrap();
    }
    fn bad_frame(&mut self, strings: &mut Strings, error: FrameError) {
        self.bad.push(error);
        strings.lose_connection();
    }
}

#[test]
fn int32_strings_at_every_split() {
    let mut input = Vec::new();
    for s in [&b"hello"[..], b"", b"\x00\x01\x02", &[b'z'; 300][..]] {
        input.extend_from_slice(&(s.len() as u32).to_be_bytes());
        input.extend_from_slice(s);
    }
    for chunks in chunkings(&input) {
        let t = StringTransport::new();
        let mut p = Int32StringReceiver::new(Sh::default());
        p.connection_made(t.transport());
        for c in &chunks {
            p.data_received(c);
        }
        assert_eq!(p.handler().got.len(), 4);
        assert_eq!(p.handler().got[1], b"");
        assert_eq!(p.handler().got[3].len(), 300);
        // The echo re-frames identically.
        assert_eq!(t.value(), input);
    }
}

#[test]
fn int_prefix_over_the_limit_is_rejected() {
    for chunks in chunkings(b"\x00\x00\x01\x00rest") {
        let t = StringTransport::new();
        let mut p = Int32StringReceiver::new(Sh::default());
        p.strings().set_max_length(255);
        p.connection_made(t.transport());
        for c in &chunks {
            p.data_received(c);
        }
        assert_eq!(
            p.handler().bad,
            [FrameError::TooLong {
                length: 256,
                max: 255
            }]
        );
        assert!(t.disconnecting());
    }
}

#[test]
fn int16_send_string_refuses_what_the_prefix_cannot_carry() {
    let t = StringTransport::new();
    let mut p = Int16StringReceiver::new(Sh::default());
    p.connection_made(t.transport());
    let err = p.strings().send_string(&vec![0u8; 70_000]).unwrap_err();
    assert_eq!(err.max, 65_535);
    assert!(t.value().is_empty());
    p.strings().send_string(b"ok").unwrap();
    assert_eq!(t.value(), b"\x00\x02ok");
}

#[test]
fn netstrings_at_every_split() {
    let input = b"5:hello,0:,12:hello, world,";
    for chunks in chunkings(input) {
        let t = StringTransport::new();
        let mut p = NetstringReceiver::new(Sh::default());
        p.connection_made(t.transport());
        for c in &chunks {
            p.data_received(c);
        }
        assert_eq!(
            p.handler().got,
            [b"hello".to_vec(), vec![], b"hello, world".to_vec()],
            "{chunks:?}"
        );
        assert_eq!(t.value(), input);
        assert!(p.handler().bad.is_empty());
    }
}

#[test]
fn malformed_netstrings_are_named() {
    let cases: &[(&[u8], FrameError)] = &[
        (
            b"05:hello,",
            FrameError::Malformed("a length with a leading zero"),
        ),
        (b"x:", FrameError::Malformed("a non-digit in the length")),
        (b":", FrameError::Malformed("an empty length")),
        (
            b"3:abc;",
            FrameError::Malformed("a payload not followed by ','"),
        ),
        (
            b"100000:",
            FrameError::TooLong {
                length: 100_000,
                max: 99_999,
            },
        ),
    ];
    for (input, expected) in cases {
        for chunks in chunkings(input) {
            let t = StringTransport::new();
            let mut p = NetstringReceiver::new(Sh::default());
            p.connection_made(t.transport());
            for c in &chunks {
                p.data_received(c);
            }
            assert_eq!(
                p.handler().bad,
                std::slice::from_ref(expected),
                "{input:?} {chunks:?}"
            );
            assert!(t.disconnecting());
        }
    }
}
