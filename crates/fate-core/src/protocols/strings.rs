//! What length-prefixed and netstring receivers share: the handler trait, its state, and
//! the framing errors.

use std::error::Error;
use std::fmt;

use crate::net::{CloseReason, Transport};

/// A frame the receiver cannot accept.
///
/// # Examples
///
/// ```
/// use fate::protocols::FrameError;
///
/// let e = FrameError::TooLong { length: 100_000, max: 99_999 };
/// assert_eq!(e.to_string(), "frame of 100000 bytes exceeds the maximum of 99999");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The announced length is over the maximum (Twisted's `lengthLimitExceeded`).
    TooLong {
        /// The announced length.
        length: u64,
        /// The maximum in force.
        max: usize,
    },
    /// The input does not follow the framing (a netstring without its `:` or `,`, a leading
    /// zero, a non-digit in the length).
    Malformed(&'static str),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong { length, max } => {
                write!(f, "frame of {length} bytes exceeds the maximum of {max}")
            }
            FrameError::Malformed(what) => write!(f, "malformed frame: {what}"),
        }
    }
}

impl Error for FrameError {}

/// A string too long for the length prefix (Twisted's `StringTooLongError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StringTooLong {
    /// The string's length.
    pub length: usize,
    /// The largest length the prefix can carry.
    pub max: u64,
}

impl fmt::Display for StringTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a string of {} bytes does not fit a prefix whose maximum is {}",
            self.length, self.max
        )
    }
}

impl Error for StringTooLong {}

/// How strings are framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// A big-endian length prefix of this many bytes.
    Prefix(usize),
    /// `len:payload,`
    Netstring,
}

/// The state a [`StringHandler`] works with.
#[derive(Debug)]
pub struct Strings {
    pub(crate) transport: Option<Transport>,
    pub(crate) framing: Framing,
    pub(crate) max_length: usize,
    pub(crate) paused: bool,
}

impl Strings {
    /// Clears a pause and resumes the transport; the receiver then re-parses its buffer.
    pub(crate) fn unpause(&mut self) {
        self.paused = false;
        if let Some(t) = &self.transport {
            t.resume_producing();
        }
    }

    pub(crate) fn new(framing: Framing) -> Strings {
        Strings {
            transport: None,
            framing,
            max_length: 99_999,
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
            .expect("string receiver used before connection_made")
    }

    /// Frames and writes `s` (in one write).
    ///
    /// # Errors
    ///
    /// [`StringTooLong`] if the prefix cannot carry its length.
    pub fn send_string(&self, s: &[u8]) -> Result<(), StringTooLong> {
        match self.framing {
            Framing::Prefix(n) => {
                let max = if n >= 8 {
                    u64::MAX
                } else {
                    (1u64 << (8 * n)) - 1
                };
                if s.len() as u64 > max {
                    return Err(StringTooLong {
                        length: s.len(),
                        max,
                    });
                }
                let prefix = (s.len() as u64).to_be_bytes();
                self.transport().write_sequence(&[&prefix[8 - n..], s]);
            }
            Framing::Netstring => {
                let head = format!("{}:", s.len());
                self.transport().write_sequence(&[head.as_bytes(), s, b","]);
            }
        }
        Ok(())
    }

    /// Closes the connection once written data is sent.
    pub fn lose_connection(&self) {
        self.transport().lose_connection();
    }

    /// The largest accepted frame (default 99,999, as Twisted).
    pub fn set_max_length(&mut self, max: usize) {
        self.max_length = max;
    }

    /// Stops delivering strings and stops reading until the receiver's `resume_producing`.
    pub fn pause_producing(&mut self) {
        self.paused = true;
        if let Some(t) = &self.transport {
            t.pause_producing();
        }
    }

    pub(crate) fn stopped(&self) -> bool {
        self.paused
            || self
                .transport
                .as_ref()
                .is_some_and(Transport::is_disconnecting)
    }
}

/// What an [`Int32StringReceiver`](crate::protocols::Int32StringReceiver) or a
/// [`NetstringReceiver`](crate::protocols::NetstringReceiver) calls.
pub trait StringHandler: 'static {
    /// The connection is up.
    fn connection_made(&mut self, strings: &mut Strings) {
        let _ = strings;
    }

    /// A whole string arrived (possibly empty).
    fn string_received(&mut self, strings: &mut Strings, s: &[u8]);

    /// The peer sent a frame the receiver rejects; nothing more is delivered. The default
    /// logs `error` and closes the connection.
    fn bad_frame(&mut self, strings: &mut Strings, error: FrameError) {
        tracing::warn!(target: "fate::protocols", "{error}; closing the connection");
        strings.lose_connection();
    }

    /// The connection is gone.
    fn connection_lost(&mut self, strings: &mut Strings, reason: CloseReason) {
        let _ = (strings, reason);
    }
}
