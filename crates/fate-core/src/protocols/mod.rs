//! Framing protocols: turn a byte stream into lines or strings (Twisted's
//! `protocols.basic`).
//!
//! - [`LineReceiver`]: delimited lines, with a raw mode for binary stretches.
//! - [`Int32StringReceiver`] (and 16/8-bit siblings): length-prefixed strings.
//! - [`NetstringReceiver`]: `len:payload,` strings.
//!
//! Each is a [`Protocol`](crate::net::Protocol) wrapping a handler you write
//! ([`LineHandler`], [`StringHandler`]); the handler gets the receiver's state ([`Lines`],
//! [`Strings`]) to write, switch modes and pause. Input may be split anywhere: the tests feed
//! every input at every split point, down to one byte at a time.
//!
//! # Errors
//!
//! Over-long lines ([`LineTooLong`]) and bad frames ([`FrameError`]) go to a handler hook
//! whose default logs the error and closes the connection.
#![forbid(unsafe_code)]

mod int_string;
mod line;
mod netstring;
mod strings;

pub use int_string::{
    Int16StringReceiver, Int32StringReceiver, Int8StringReceiver, IntNStringReceiver,
};
pub use line::{LineHandler, LineReceiver, LineTooLong, Lines};
pub use netstring::NetstringReceiver;
pub use strings::{FrameError, StringHandler, StringTooLong, Strings};
