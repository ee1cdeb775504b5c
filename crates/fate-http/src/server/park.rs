//! Parking: an idle keep-alive HTTP/1 connection gives back hyper's buffers while it waits
//! for its next request (what nginx does with an idle keep-alive connection).
//!
//! hyper's HTTP/1 connection holds an 8 KiB read buffer and an 8 KiB write buffer for as long
//! as it lives, so a server holding many idle keep-alive connections holds 16 KiB for each.
//! A [`Parkable`] serves a plain connection with hyper until its [`HeadWatch`] says it has
//! waited long enough for its next head ([`Site::park_idle_after`](super::Site::park_idle_after))
//! with nothing in flight below hyper. Then it ends hyper's connection without closing the
//! socket — `graceful_shutdown` on a connection between messages finishes it at once, and
//! `poll_without_shutdown` hands back the socket and the bytes hyper had read of a head not
//! yet complete — puts those bytes back in the stream, and keeps only the stream and the
//! site's service. When the client sends more (or ends its side), a fresh hyper connection
//! serves the stream, reading the bytes put back first. The socket stays registered with the
//! reactor throughout; the head timeout, the send timeout and shutdown see a parked
//! connection as they see any other (it keeps its slot and its [`HeadWatch`]).
//!
//! # States
//!
//! - `Serving(conn)`: hyper serves the connection. When the watch says it is due, the stream
//!   is quiet (no unread bytes, no write waiting for the transport) and hyper is known to be
//!   between messages — this hyper connection has handed over a response, or is the first
//!   one and the peer has sent nothing at all (one that read part of its first head is not:
//!   asked to shut down, it would serve that request with `Connection: close`) — hyper is
//!   asked to shut down and polled once without shutting the socket. Between messages it
//!   lets go at once: `Parked`. If it does not, it was not between messages after all:
//!   `Closing`.
//! - `Closing(conn)`: hyper finishes its message with keep-alive off; then the end.
//! - `Parked`: no hyper. Goes back to `Serving` with a fresh hyper connection once more bytes
//!   wait than were put back, or the peer ends its side.
//! - `Done`: only while moving between states, and after the end.
//!
//! A shutdown asked while parked, or while parking, ends the connection instead.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use hyper::server::conn::http1;

use crate::server::head_timeout::HeadWatch;
use crate::server::site::SiteService;
use crate::stream::{Stream, StreamView};

/// hyper's connection over a plain stream.
type Conn = http1::Connection<Stream, SiteService>;

/// A plain HTTP/1 connection that parks when idle (see the module docs).
///
/// # Cancellation
///
/// Dropping it closes the connection, as dropping hyper's would.
pub(crate) struct Parkable {
    phase: Phase,
    /// The stream's state, seen while hyper holds the stream.
    view: StreamView,
    watch: Rc<HeadWatch>,
    /// The watch's response count when the current hyper connection was made.
    responses_at_start: u32,
    /// The current hyper connection is the connection's first.
    first: bool,
    /// A graceful shutdown was asked: end instead of parking.
    closing: bool,
}

enum Phase {
    Serving(Conn),
    Closing(Conn),
    Parked {
        stream: Stream,
        service: SiteService,
        /// Bytes put back when it parked (part of a head).
        held: usize,
    },
    Done,
}

impl Parkable {
    pub(crate) fn new(stream: Stream, service: SiteService, watch: Rc<HeadWatch>) -> Parkable {
        let view = stream.view();
        let conn = service.http1().serve_connection(stream, service);
        Parkable {
            phase: Phase::Serving(conn),
            view,
            responses_at_start: watch.responses(),
            watch,
            first: true,
            closing: false,
        }
    }

    /// Asks the connection to finish the request in flight and close (a parked one closes
    /// at its next poll).
    pub(crate) fn graceful_shutdown(&mut self) {
        self.closing = true;
        if let Phase::Serving(conn) = &mut self.phase {
            Pin::new(conn).graceful_shutdown();
        }
    }

    /// Whether the serving hyper connection may be parked now (see the module docs).
    fn may_park(&self) -> bool {
        if self.closing || !self.watch.due_to_park() {
            return false;
        }
        let between_messages = self.watch.responses() != self.responses_at_start
            || (self.first && !self.view.has_received());
        between_messages && self.view.is_quiet()
    }
}

impl Future for Parkable {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match &mut this.phase {
                Phase::Serving(conn) => {
                    if Pin::new(&mut *conn).poll(cx).is_ready() {
                        return Poll::Ready(());
                    }
                    if !this.may_park() {
                        return Poll::Pending;
                    }
                    let Phase::Serving(conn) = &mut this.phase else {
                        unreachable!("matched above")
                    };
                    Pin::new(&mut *conn).graceful_shutdown();
                    match conn.poll_without_shutdown(cx) {
                        Poll::Ready(Ok(())) => this.park(),
                        Poll::Ready(Err(_)) => return Poll::Ready(()),
                        Poll::Pending => {
                            // Not between messages after all: hyper finishes the one it
                            // is on with keep-alive off, and the connection ends.
                            let Phase::Serving(conn) =
                                std::mem::replace(&mut this.phase, Phase::Done)
                            else {
                                unreachable!("matched above")
                            };
                            this.phase = Phase::Closing(conn);
                            return Poll::Pending;
                        }
                    }
                }
                Phase::Closing(conn) => return conn.poll_without_shutdown(cx).map(drop),
                Phase::Parked {
                    stream,
                    service: _,
                    held,
                } => {
                    if this.closing {
                        return Poll::Ready(());
                    }
                    if stream.poll_more_than(*held, cx).is_pending() {
                        return Poll::Pending;
                    }
                    let Phase::Parked {
                        stream, service, ..
                    } = std::mem::replace(&mut this.phase, Phase::Done)
                    else {
                        unreachable!("matched above")
                    };
                    this.watch.set_parked(false);
                    this.responses_at_start = this.watch.responses();
                    this.first = false;
                    this.phase = Phase::Serving(service.http1().serve_connection(stream, service));
                }
                Phase::Done => return Poll::Ready(()),
            }
        }
    }
}

impl Parkable {
    /// From `Serving`, once hyper has let go: keeps the stream and the service, with the
    /// bytes hyper had read of the next head put back in the stream.
    fn park(&mut self) {
        let Phase::Serving(conn) = std::mem::replace(&mut self.phase, Phase::Done) else {
            unreachable!("parked only from Serving")
        };
        let parts = conn.into_parts();
        // Copied into the stream: the bytes hyper hands back share its 8 KiB read buffer,
        // which is what parking gives back.
        parts.io.unread(&parts.read_buf);
        drop(parts.read_buf);
        let held = parts.io.unread_len();
        self.watch.set_parked(true);
        self.phase = Phase::Parked {
            stream: parts.io,
            service: parts.service,
            held,
        };
    }
}
