//! `StandardIO`: the process's own stdin and stdout as a transport for a [`Protocol`] —
//! the article's "handling user input while doing background work".
//!
//! Input typed on a terminal or arriving through a pipe reaches the protocol's
//! `data_received` without blocking the loop, so timers and other connections keep running
//! while the user thinks. Writes to the transport go to stdout, buffered with the same flow
//! control as a socket. It works whatever stdin and stdout are:
//!
//! - terminals, pipes and sockets are set non-blocking and watched by epoll; the
//!   `O_NONBLOCK` flag, which a terminal shares with the shell, is put back when the
//!   connection closes;
//! - a regular file or `/dev/null` as stdin (which epoll refuses) is copied into a pipe by a
//!   helper thread; as stdout it is written directly (such writes never wait).
//!
//! End of input calls the protocol's `read_connection_lost` (half-close) or
//! `connection_lost`, as for a socket whose peer ended its stream. `lose_connection` closes
//! stdout for real (fd 1 then points at `/dev/null`), so a reader sees end of file.
//!
//! # Examples
//!
//! ```no_run
//! use fate::net::{Protocol, Transport};
//! use fate::stdio::StandardIO;
//!
//! struct Echo(Option<Transport>);
//!
//! impl Protocol for Echo {
//!     fn connection_made(&mut self, transport: Transport) {
//!         self.0 = Some(transport);
//!     }
//!     fn data_received(&mut self, data: &[u8]) {
//!         self.0.as_ref().unwrap().write(data);
//!     }
//! }
//!
//! fate::run(|| {
//!     StandardIO::new(Echo(None)).unwrap();
//! })
//! .unwrap();
//! ```
#![forbid(unsafe_code)]

mod pair;

use std::io;

use crate::net::{Address, Protocol, Transport};

/// The process's stdin and stdout connected to a [`Protocol`] (Twisted's
/// `stdio.StandardIO`).
///
/// The connection belongs to the reactor; this value is a handle to its transport. Dropping
/// it changes nothing. Use one `StandardIO` per process at a time: two would read the same
/// stdin.
///
/// # Examples
///
/// ```no_run
/// use fate::net::Protocol;
/// use fate::stdio::StandardIO;
///
/// struct Lines;
///
/// impl Protocol for Lines {
///     fn data_received(&mut self, data: &[u8]) {
///         print!("got {}", String::from_utf8_lossy(data));
///     }
/// }
///
/// fate::run(|| {
///     let stdio = StandardIO::new(Lines).unwrap();
///     stdio.transport().write(b"type something\n");
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct StandardIO {
    transport: Transport,
}

impl StandardIO {
    /// Connects `protocol` to stdin and stdout on this thread's reactor; its
    /// `connection_made` runs before this returns.
    ///
    /// # Errors
    ///
    /// If stdin or stdout cannot be duplicated, made non-blocking or registered.
    ///
    /// # Panics
    ///
    /// If this thread has no reactor.
    #[track_caller]
    pub fn new(protocol: impl Protocol) -> io::Result<StandardIO> {
        let reactor = crate::reactor::current();
        let pair = pair::StdioPair::new()?;
        let transport: std::rc::Rc<std::cell::RefCell<Option<Transport>>> = Default::default();
        let seen = transport.clone();
        let conn = crate::net::Conn::start(
            &reactor,
            pair,
            Address::Memory("stdin".into()),
            Box::new(Capture {
                protocol: Box::new(protocol),
                seen,
            }),
            None,
            std::panic::Location::caller(),
            #[cfg(feature = "tls")]
            None,
        )?;
        drop(conn);
        let transport = transport.borrow_mut().take();
        transport
            .map(|transport| StandardIO { transport })
            .ok_or_else(|| io::Error::other("the connection closed before it was made"))
    }

    /// The transport: write to stdout, close it, pause reading stdin.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }
}

/// Wraps the user's protocol to keep a copy of the transport it is given.
struct Capture {
    protocol: Box<dyn Protocol>,
    seen: std::rc::Rc<std::cell::RefCell<Option<Transport>>>,
}

impl Protocol for Capture {
    fn connection_made(&mut self, transport: Transport) {
        *self.seen.borrow_mut() = Some(transport.clone());
        self.protocol.connection_made(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.protocol.data_received(data);
    }
    fn connection_lost(&mut self, reason: crate::net::CloseReason) {
        self.protocol.connection_lost(reason);
    }
    fn read_connection_lost(&mut self) -> crate::net::HalfClose {
        self.protocol.read_connection_lost()
    }
    fn write_connection_lost(&mut self) {
        self.protocol.write_connection_lost();
    }
}
