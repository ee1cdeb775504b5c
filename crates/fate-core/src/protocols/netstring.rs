//! Netstrings (`len:payload,`): `NetstringReceiver` (Twisted's `basic.NetstringReceiver`).

use crate::net::{CloseReason, Protocol, Transport};
use crate::protocols::strings::{FrameError, Framing, StringHandler, Strings};

/// A protocol that delivers [netstrings](https://cr.yp.to/proto/netstrings.txt).
///
/// The length is decimal without leading zeros; a length over the maximum (default 99,999)
/// is [`FrameError::TooLong`], anything else off-format [`FrameError::Malformed`]; both go to
/// [`StringHandler::bad_frame`] and stop delivery.
///
/// # Examples
///
/// ```
/// use fate::net::Protocol;
/// use fate::protocols::{NetstringReceiver, StringHandler, Strings};
/// use fate::testing::StringTransport;
///
/// #[derive(Default)]
/// struct Collect(Vec<Vec<u8>>);
/// impl StringHandler for Collect {
///     fn string_received(&mut self, _: &mut Strings, s: &[u8]) {
///         self.0.push(s.to_vec());
///     }
/// }
///
/// let t = StringTransport::new();
/// let mut p = NetstringReceiver::new(Collect::default());
/// p.connection_made(t.transport());
/// p.data_received(b"5:hello,0:,3:ab");
/// p.data_received(b"c,");
/// assert_eq!(p.handler().0, [b"hello".to_vec(), vec![], b"abc".to_vec()]);
/// ```
#[derive(Debug)]
pub struct NetstringReceiver<H> {
    handler: H,
    strings: Strings,
    buffer: Vec<u8>,
}

impl<H: StringHandler> NetstringReceiver<H> {
    /// A receiver for `handler`.
    pub fn new(handler: H) -> Self {
        NetstringReceiver {
            handler,
            strings: Strings::new(Framing::Netstring),
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

    /// Parses one netstring at the start of `input`: `(payload start, payload end, used)`,
    /// or `None` when more input is needed.
    fn parse(&self, input: &[u8]) -> Result<Option<(usize, usize, usize)>, FrameError> {
        let max = self.strings.max_length;
        let mut length: u64 = 0;
        let mut digits = 0;
        for (i, &b) in input.iter().enumerate() {
            match b {
                b'0'..=b'9' => {
                    if digits == 1 && length == 0 {
                        return Err(FrameError::Malformed("a length with a leading zero"));
                    }
                    length = length * 10 + u64::from(b - b'0');
                    digits += 1;
                    if length > max as u64 {
                        return Err(FrameError::TooLong { length, max });
                    }
                }
                b':' if digits > 0 => {
                    let start = i + 1;
                    let end = start + length as usize;
                    if input.len() <= end {
                        return Ok(None);
                    }
                    if input[end] != b',' {
                        return Err(FrameError::Malformed("a payload not followed by ','"));
                    }
                    return Ok(Some((start, end, end + 1)));
                }
                b':' => return Err(FrameError::Malformed("an empty length")),
                _ => return Err(FrameError::Malformed("a non-digit in the length")),
            }
        }
        Ok(None)
    }

    fn process(&mut self, input: &[u8]) -> usize {
        let mut pos = 0;
        while pos < input.len() && !self.strings.stopped() {
            match self.parse(&input[pos..]) {
                Ok(Some((start, end, used))) => {
                    let s = &input[pos + start..pos + end];
                    pos += used;
                    self.handler.string_received(&mut self.strings, s);
                }
                Ok(None) => break,
                Err(e) => {
                    self.handler.bad_frame(&mut self.strings, e);
                    return input.len();
                }
            }
        }
        pos
    }
}

impl<H: StringHandler> Protocol for NetstringReceiver<H> {
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
