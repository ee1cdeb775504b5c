//! Length-prefixed strings: `Int32StringReceiver` and its 16- and 8-bit siblings (Twisted's
//! `basic.IntNStringReceiver`).

use crate::net::{CloseReason, Protocol, Transport};
use crate::protocols::strings::{FrameError, Framing, StringHandler, Strings};

/// A protocol that delivers strings framed by an `N`-byte big-endian length prefix.
///
/// Use the aliases [`Int32StringReceiver`], [`Int16StringReceiver`], [`Int8StringReceiver`].
/// A prefix announcing more than the maximum (default 99,999) goes to
/// [`StringHandler::bad_frame`] as [`FrameError::TooLong`]; zero-length strings are
/// delivered as `b""`.
///
/// # Examples
///
/// ```
/// use fate::net::Protocol;
/// use fate::protocols::{Int32StringReceiver, StringHandler, Strings};
/// use fate::testing::StringTransport;
///
/// struct Upper;
/// impl StringHandler for Upper {
///     fn string_received(&mut self, strings: &mut Strings, s: &[u8]) {
///         strings.send_string(&s.to_ascii_uppercase()).unwrap();
///     }
/// }
///
/// let t = StringTransport::new();
/// let mut p = Int32StringReceiver::new(Upper);
/// p.connection_made(t.transport());
/// p.data_received(b"\0\0\0\x02hi\0\0");
/// p.data_received(b"\0\0");
/// assert_eq!(t.value(), b"\0\0\0\x02HI\0\0\0\0");
/// ```
#[derive(Debug)]
pub struct IntNStringReceiver<H, const N: usize> {
    handler: H,
    strings: Strings,
    buffer: Vec<u8>,
}

/// 4-byte prefix.
pub type Int32StringReceiver<H> = IntNStringReceiver<H, 4>;
/// 2-byte prefix.
pub type Int16StringReceiver<H> = IntNStringReceiver<H, 2>;
/// 1-byte prefix.
pub type Int8StringReceiver<H> = IntNStringReceiver<H, 1>;

impl<H: StringHandler, const N: usize> IntNStringReceiver<H, N> {
    /// A receiver for `handler`.
    pub fn new(handler: H) -> Self {
        IntNStringReceiver {
            handler,
            strings: Strings::new(Framing::Prefix(N)),
            buffer: Vec::new(),
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
    pub fn strings(&mut self) -> &mut Strings {
        &mut self.strings
    }

    /// Resumes after [`Strings::pause_producing`].
    pub fn resume_producing(&mut self) {
        self.strings.unpause();
        self.data_received(&[]);
    }

    fn process(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        while !self.strings.stopped() && input.len() - pos >= N {
            let mut be = [0u8; 8];
            be[8 - N..].copy_from_slice(&input[pos..pos + N]);
            let length = u64::from_be_bytes(be);
            let max = self.strings.max_length;
            if length > max as u64 {
                self.handler
                    .bad_frame(&mut self.strings, FrameError::TooLong { length, max });
                return input.len();
            }
            let end = pos + N + length as usize;
            if input.len() < end {
                break;
            }
            let s = &input[pos + N..end];
            pos = end;
            self.handler.string_received(&mut self.strings, s);
        }
        pos
    }
}

impl<H: StringHandler, const N: usize> Protocol for IntNStringReceiver<H, N> {
    fn connection_made(&mut self, transport: Transport) {
        self.strings.transport = Some(transport);
        self.handler.connection_made(&mut self.strings);
    }

    fn data_received(&mut self, data: &[u8]) {
        let mut input = std::mem::take(&mut self.buffer);
        if input.is_empty() {
            let used = self.process(data);
            input.extend_from_slice(&data[used..]);
        } else {
            input.extend_from_slice(data);
            let used = self.process(&input);
            input.drain(..used);
        }
        self.buffer = input;
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        self.handler.connection_lost(&mut self.strings, reason);
        self.strings.transport = None;
    }
}
