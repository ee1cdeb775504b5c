//! `LineReceiver`: a protocol that splits its input into delimited lines, with a raw mode
//! for binary stretches (Twisted's `basic.LineReceiver`).

use std::error::Error;
use std::fmt;

use crate::net::{CloseReason, HalfClose, Protocol, Transport};

/// A line longer than the maximum (or an undelimited stretch that can no longer become a
/// valid line).
///
/// # Examples
///
/// ```
/// let e = fate::protocols::LineTooLong { length: 20000, max: 16384 };
/// assert_eq!(e.to_string(), "line of 20000 bytes exceeds the maximum of 16384");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineTooLong {
    /// How many bytes the offending line (or buffer) had.
    pub length: usize,
    /// The maximum line length in force.
    pub max: usize,
}

impl fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line of {} bytes exceeds the maximum of {}",
            self.length, self.max
        )
    }
}

impl Error for LineTooLong {}

/// The state a [`LineHandler`] works with: the transport, the mode and the settings.
#[derive(Debug)]
pub struct Lines {
    transport: Option<Transport>,
    /// Bytes received and not yet delivered.
    buffer: Vec<u8>,
    /// Bytes given back by `set_line_mode` while the receiver was running.
    pending: Vec<u8>,
    delimiter: Vec<u8>,
    /// Only the exact delimiter ends a line; else, with the default `\r\n`, a bare `\n` does
    /// too (see [`Lines::set_strict`]).
    strict: bool,
    max_length: usize,
    raw: bool,
    paused: bool,
}

impl Lines {
    fn new() -> Lines {
        Lines {
            transport: None,
            buffer: Vec::new(),
            pending: Vec::new(),
            delimiter: b"\r\n".to_vec(),
            strict: false,
            max_length: 16384,
            raw: false,
            paused: false,
        }
    }

    /// The connection's transport.
    ///
    /// # Panics
    ///
    /// Before `connection_made`.
    pub fn transport(&self) -> &Transport {
        self.transport
            .as_ref()
            .expect("LineReceiver used before connection_made")
    }

    /// Writes `line` and the delimiter (in one write).
    pub fn send_line(&self, line: &[u8]) {
        self.transport().write_sequence(&[line, &self.delimiter]);
    }

    /// Closes the connection once written data is sent.
    pub fn lose_connection(&self) {
        self.transport().lose_connection();
    }

    /// From now on, deliver bytes to `raw_data_received` as they come.
    pub fn set_raw_mode(&mut self) {
        self.raw = true;
    }

    /// Back to lines; `extra` (bytes a raw handler did not consume) is parsed first.
    pub fn set_line_mode(&mut self, extra: &[u8]) {
        self.raw = false;
        self.pending.extend_from_slice(extra);
    }

    /// Whether in raw mode.
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    /// Drops and returns the bytes not yet delivered.
    pub fn clear_line_buffer(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buffer);
        out.append(&mut self.pending);
        out
    }

    /// The delimiter (default `\r\n`): what [`send_line`](Self::send_line) appends, and what
    /// ends a received line. Setting one makes splitting strict: only `delimiter` ends a line.
    ///
    /// # Panics
    ///
    /// If `delimiter` is empty.
    pub fn set_delimiter(&mut self, delimiter: &[u8]) {
        assert!(!delimiter.is_empty(), "a line delimiter cannot be empty");
        self.delimiter = delimiter.to_vec();
        self.strict = true;
    }

    /// Whether only the exact delimiter ends a line (Twisted's `LineReceiver`), or — the
    /// default — with the `\r\n` delimiter a bare `\n` ends one too, so that `nc`, `telnet`
    /// and a terminal's stdin all work. In that lenient mode a `\r` before the `\n` is not
    /// part of the line, and lines are still sent with `\r\n`.
    ///
    /// # Examples
    ///
    /// ```
    /// use fate::net::Protocol;
    /// use fate::protocols::{LineHandler, LineReceiver, Lines};
    /// use fate::testing::StringTransport;
    ///
    /// struct Log(Vec<String>);
    /// impl LineHandler for Log {
    ///     fn line_received(&mut self, _: &mut Lines, line: &[u8]) {
    ///         self.0.push(String::from_utf8_lossy(line).into());
    ///     }
    /// }
    ///
    /// let t = StringTransport::new();
    /// let mut p = LineReceiver::new(Log(Vec::new()));
    /// p.connection_made(t.transport());
    /// p.data_received(b"from nc\nfrom telnet\r\n");
    /// p.lines().set_strict(true);
    /// p.data_received(b"half\nline\r\n");
    /// assert_eq!(p.handler().0, ["from nc", "from telnet", "half\nline"]);
    /// ```
    pub fn set_strict(&mut self, strict: bool) {
        self.strict = strict;
    }

    /// Where the next line ends in `input`: the line's length and the delimiter's.
    fn find_line(&self, input: &[u8]) -> Option<(usize, usize)> {
        if self.strict || self.delimiter != b"\r\n" {
            let i = memchr::memmem::find(input, &self.delimiter)?;
            return Some((i, self.delimiter.len()));
        }
        let i = memchr::memchr(b'\n', input)?;
        match i.checked_sub(1) {
            Some(cr) if input[cr] == b'\r' => Some((cr, 2)),
            _ => Some((i, 1)),
        }
    }

    /// The maximum line length (default 16384, as Twisted).
    pub fn set_max_length(&mut self, max: usize) {
        self.max_length = max;
    }

    /// Stops delivering lines and stops reading; see [`LineReceiver::resume_producing`].
    pub fn pause_producing(&mut self) {
        self.paused = true;
        if let Some(t) = &self.transport {
            t.pause_producing();
        }
    }

    fn stopped(&self) -> bool {
        self.paused
            || self
                .transport
                .as_ref()
                .is_some_and(Transport::is_disconnecting)
    }
}

/// What a [`LineReceiver`] calls.
pub trait LineHandler: 'static {
    /// The connection is up.
    fn connection_made(&mut self, lines: &mut Lines) {
        let _ = lines;
    }

    /// A line arrived, without its delimiter.
    fn line_received(&mut self, lines: &mut Lines, line: &[u8]);

    /// Bytes arrived in raw mode.
    fn raw_data_received(&mut self, lines: &mut Lines, data: &[u8]) {
        let _ = (lines, data);
    }

    /// A line was too long; what was buffered is dropped. The default logs `error` and
    /// closes the connection.
    fn line_length_exceeded(&mut self, lines: &mut Lines, error: LineTooLong) {
        tracing::warn!(target: "fate::protocols", "{error}; closing the connection");
        lines.lose_connection();
    }

    /// The peer will send no more: stdin reached its end, or a socket's peer shut down its
    /// side (Twisted's `IHalfCloseableProtocol.readConnectionLost`).
    ///
    /// Return [`HalfClose::KeepOpen`] to go on writing — a line program answering the last
    /// command, a game finishing after its input ran out — until you call
    /// [`Lines::lose_connection`]; `connection_lost` follows then. The default,
    /// [`HalfClose::Close`], closes the connection once what was written is sent.
    ///
    /// An unterminated last line is not delivered (as in Twisted); it is still in the buffer,
    /// and [`Lines::clear_line_buffer`] returns it.
    ///
    /// # Examples
    ///
    /// ```
    /// use fate::net::{HalfClose, Protocol};
    /// use fate::protocols::{LineHandler, LineReceiver, Lines};
    /// use fate::testing::StringTransport;
    ///
    /// /// Counts lines, and says how many once the input has ended.
    /// struct Count(usize);
    ///
    /// impl LineHandler for Count {
    ///     fn line_received(&mut self, _: &mut Lines, _: &[u8]) {
    ///         self.0 += 1;
    ///     }
    ///     fn read_connection_lost(&mut self, lines: &mut Lines) -> HalfClose {
    ///         lines.send_line(format!("{} lines", self.0).as_bytes());
    ///         lines.lose_connection();
    ///         HalfClose::KeepOpen
    ///     }
    /// }
    ///
    /// let t = StringTransport::new();
    /// let mut p = LineReceiver::new(Count(0));
    /// p.connection_made(t.transport());
    /// p.data_received(b"a\nb\n");
    /// assert_eq!(p.read_connection_lost(), HalfClose::KeepOpen);
    /// assert_eq!(t.value(), b"2 lines\r\n");
    /// ```
    fn read_connection_lost(&mut self, lines: &mut Lines) -> HalfClose {
        let _ = lines;
        HalfClose::Close
    }

    /// The connection is gone.
    fn connection_lost(&mut self, lines: &mut Lines, reason: CloseReason) {
        let _ = (lines, reason);
    }
}

/// A protocol that delivers its input line by line to a [`LineHandler`].
///
/// Lines are delimited by `\r\n` or a bare `\n` (see [`Lines::set_strict`] and
/// [`Lines::set_delimiter`]); a line longer than the
/// maximum — or an undelimited buffer of at least maximum + delimiter bytes — goes to
/// [`LineHandler::line_length_exceeded`]. Lines stop being delivered once the transport is
/// disconnecting or the receiver is paused. In raw mode the rest of the input goes to
/// [`LineHandler::raw_data_received`].
///
/// # Examples
///
/// Switching to raw mode: after the line `RAW`, the rest of the input arrives as raw bytes:
///
/// ```
/// use fate::net::Protocol;
/// use fate::protocols::{LineHandler, LineReceiver, Lines};
/// use fate::testing::StringTransport;
///
/// #[derive(Default)]
/// struct Log(Vec<String>, Vec<u8>);
/// impl LineHandler for Log {
///     fn line_received(&mut self, lines: &mut Lines, line: &[u8]) {
///         self.0.push(String::from_utf8_lossy(line).into());
///         if line == b"RAW" {
///             lines.set_raw_mode();
///         }
///     }
///     fn raw_data_received(&mut self, _: &mut Lines, data: &[u8]) {
///         self.1.extend_from_slice(data);
///     }
/// }
///
/// let t = StringTransport::new();
/// let mut p = LineReceiver::new(Log::default());
/// p.connection_made(t.transport());
/// p.data_received(b"a\r\nb\r");
/// p.data_received(b"\nRAW\r\nxyz\r\n");
/// assert_eq!(p.handler().0, ["a", "b", "RAW"]);
/// assert_eq!(p.handler().1, b"xyz\r\n");
/// ```
#[derive(Debug)]
pub struct LineReceiver<H> {
    handler: H,
    lines: Lines,
}

impl<H: LineHandler> LineReceiver<H> {
    /// A receiver in line mode.
    pub fn new(handler: H) -> LineReceiver<H> {
        LineReceiver {
            handler,
            lines: Lines::new(),
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// The receiver's state (transport, settings).
    pub fn lines(&mut self) -> &mut Lines {
        &mut self.lines
    }

    /// Resumes after [`Lines::pause_producing`]: delivers what is buffered, then reads again.
    pub fn resume_producing(&mut self) {
        self.lines.paused = false;
        if let Some(t) = &self.lines.transport {
            t.resume_producing();
        }
        self.feed(&[]);
    }

    /// Appends `data` and delivers what can be delivered.
    fn feed(&mut self, data: &[u8]) {
        let mut input = std::mem::take(&mut self.lines.buffer);
        if input.is_empty() {
            let used = self.process(data);
            input.extend_from_slice(&data[used..]);
        } else {
            input.extend_from_slice(data);
            let used = self.process(&input);
            input.drain(..used);
        }
        while !self.lines.pending.is_empty() {
            input.append(&mut self.lines.pending);
            let used = self.process(&input);
            input.drain(..used);
        }
        input.append(&mut self.lines.buffer);
        self.lines.buffer = input;
    }

    /// Delivers lines (or raw data) from `input`; returns how many bytes were consumed.
    fn process(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        while pos < input.len() && !self.lines.stopped() {
            if self.lines.raw {
                self.handler
                    .raw_data_received(&mut self.lines, &input[pos..]);
                return input.len();
            }
            let max = self.lines.max_length;
            match self.lines.find_line(&input[pos..]) {
                Some((i, _)) if i > max => {
                    let length = input.len() - pos;
                    self.handler
                        .line_length_exceeded(&mut self.lines, LineTooLong { length, max });
                    return input.len();
                }
                Some((i, d)) => {
                    let line = &input[pos..pos + i];
                    pos += i + d;
                    self.handler.line_received(&mut self.lines, line);
                }
                None if input.len() - pos >= max + self.lines.delimiter.len() => {
                    let length = input.len() - pos;
                    self.handler
                        .line_length_exceeded(&mut self.lines, LineTooLong { length, max });
                    return input.len();
                }
                None => break,
            }
        }
        pos
    }
}

impl<H: LineHandler> Protocol for LineReceiver<H> {
    fn connection_made(&mut self, transport: Transport) {
        self.lines.transport = Some(transport);
        self.handler.connection_made(&mut self.lines);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.feed(data);
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        self.handler.read_connection_lost(&mut self.lines)
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        self.handler.connection_lost(&mut self.lines, reason);
        self.lines.transport = None;
    }
}
