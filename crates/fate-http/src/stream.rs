//! `Stream`: a byte stream over a fate-core [`Transport`], for hyper and rustls.
//!
//! A [`StreamProtocol`] sits on the connection as its protocol and fills an inbox; the
//! [`Stream`] side reads from that inbox (`hyper::rt::Read`, `futures_io::AsyncRead`) and
//! writes through the transport (`hyper::rt::Write`, `futures_io::AsyncWrite`).
//!
//! # Flow control
//!
//! Reading: when more than [`INBOX_HIGH`] bytes wait unread, the transport stops reading
//! (`pause_producing`) until the reader has taken the inbox below [`INBOX_LOW`]. Writing: the
//! stream registers itself as the transport's push producer; while the transport has paused
//! it (its write buffer is above the high water mark) `poll_write` is pending, and it wakes
//! when the transport resumes it. So a slow peer holds bounded memory on both sides.
//!
//! # Re-entrancy
//!
//! A transport may call back (its producer hooks) from inside `write`; the shared state is
//! therefore never borrowed across a call into the transport.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use fate_core::net::{
    Address, ClientFactory, CloseReason, ConnectError, ConnectOptions, Connector, Factory,
    HalfClose, ListeningPort, Producer, ProducerMode, Protocol, Transport,
};
use fate_core::time::DelayedCall;

thread_local! {
    /// Alive until this thread's locals are torn down. First touched when a stream is made,
    /// so after the reactor's own locals: locals are destroyed in reverse order, so this one
    /// is gone before the reactor's queue, and a stream dropped from that queue's destructor
    /// knows not to call into the reactor.
    static ALIVE: Canary = const { Canary };
}

/// See [`ALIVE`].
struct Canary;

impl Drop for Canary {
    fn drop(&mut self) {}
}

/// Whether this thread's locals are still usable (see [`ALIVE`]).
fn thread_alive() -> bool {
    ALIVE.try_with(|_| ()).is_ok()
}

/// Stop reading the socket above this many unread bytes.
const INBOX_HIGH: usize = 256 * 1024;
/// Resume reading at or below this many.
const INBOX_LOW: usize = 64 * 1024;
/// How long a server connection lingers after its stream is dropped with the peer still
/// sending (see [`Stream::linger_on_close`]).
const LINGER: Duration = Duration::from_secs(2);
/// The transport's write buffer limits while a stream feeds it.
const WRITE_HIGH: usize = 256 * 1024;
const WRITE_LOW: usize = 64 * 1024;

/// Told once a server-side connection is made, with its stream.
type OnMade = Box<dyn FnOnce(Stream)>;

/// Received bytes not yet read: `buf[start..]`. A plain vector with a cursor, emptied in
/// place once read to the end, so that the usual request-at-a-time traffic never
/// reallocates.
#[derive(Default)]
struct Inbox {
    buf: Vec<u8>,
    start: usize,
}

impl Inbox {
    fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    fn push(&mut self, data: &[u8]) {
        if self.is_empty() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Puts `data` back in front of the unread bytes.
    fn put_back(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.start >= data.len() {
            self.start -= data.len();
            self.buf[self.start..self.start + data.len()].copy_from_slice(data);
        } else {
            let mut buf = Vec::with_capacity(data.len() + self.len());
            buf.extend_from_slice(data);
            buf.extend_from_slice(self.unread());
            *self = Inbox { buf, start: 0 };
        }
    }
}

/// What the protocol (transport side) and the stream (reader/writer side) share.
#[derive(Default)]
struct Shared {
    /// Set by `connection_made`; `None` before and once the stream let go of it.
    transport: RefCell<Option<Transport>>,
    /// Bytes received and not yet read.
    inbox: RefCell<Inbox>,
    /// Some bytes have been received (ever).
    received: Cell<bool>,
    /// The peer ended its stream (or the connection closed): reads return EOF once the inbox
    /// is empty.
    read_eof: Cell<bool>,
    /// Why the connection ended, once it has; an unclean reason fails reads and writes.
    lost: RefCell<Option<CloseReason>>,
    /// We paused the transport's reading because the inbox was full.
    reading_paused: Cell<bool>,
    /// The transport paused us as its producer: writes wait.
    write_paused: Cell<bool>,
    /// The task waiting to read / to write / to learn that the connection was made.
    reader: RefCell<Option<Waker>>,
    writer: RefCell<Option<Waker>>,
    /// How a client connection attempt ended (`None` while connecting).
    connected: RefCell<Option<Result<(), ConnectError>>>,
    /// Server side: told once the connection is made, with the stream.
    on_made: RefCell<Option<OnMade>>,
    /// Called once when the connection has closed for good.
    on_close: RefCell<Option<Box<dyn FnOnce()>>>,
    /// Told of every write (a server's head timeout counts output as progress).
    on_write: RefCell<Option<Rc<dyn Wrote>>>,
    /// Bytes handed to the transport so far (a server's send timeout subtracts what the
    /// transport still holds to learn what was sent).
    written: Cell<u64>,
    /// Closing lingers (see [`Stream::linger_on_close`]).
    linger_on_close: Cell<bool>,
    /// While lingering: the call that ends it; input is discarded meanwhile.
    lingering: RefCell<Option<DelayedCall>>,
}

/// Told when a [`Stream`] is written to.
pub(crate) trait Wrote {
    fn wrote(&self);
}

impl Shared {
    fn wake_reader(&self) {
        if let Some(w) = self.reader.borrow_mut().take() {
            w.wake();
        }
    }

    fn wake_writer(&self) {
        if let Some(w) = self.writer.borrow_mut().take() {
            w.wake();
        }
    }

    fn transport(&self) -> Option<Transport> {
        self.transport.borrow().clone()
    }
}

/// Remembers `waker` in `slot`, keeping the one there if it wakes the same task (a task
/// polled again while it waits need not clone its waker each time).
fn store_waker(slot: &RefCell<Option<Waker>>, waker: &Waker) {
    let mut slot = slot.borrow_mut();
    match &mut *slot {
        Some(w) if w.will_wake(waker) => {}
        other => *other = Some(waker.clone()),
    }
}

/// The protocol half: fills the inbox and records the connection's end.
struct StreamProtocol(Rc<Shared>);

impl Protocol for StreamProtocol {
    fn connection_made(&mut self, transport: Transport) {
        let shared = &self.0;
        transport.set_write_buffer_limits(WRITE_HIGH, WRITE_LOW);
        let watch = Rc::new(WriteWatch(Rc::downgrade(shared)));
        // A fresh transport has no producer, so this cannot fail.
        let _ = transport.register_producer(watch, ProducerMode::Push);
        let _ = transport.set_no_delay(true);
        *shared.transport.borrow_mut() = Some(transport);
        *shared.connected.borrow_mut() = Some(Ok(()));
        shared.wake_reader();
        let on_made = shared.on_made.borrow_mut().take();
        if let Some(on_made) = on_made {
            on_made(Stream::new(shared.clone()));
        }
    }

    fn data_received(&mut self, data: &[u8]) {
        let shared = &self.0;
        if shared.lingering.borrow().is_some() {
            return; // nobody will read it: the stream is gone
        }
        let full = {
            let mut inbox = shared.inbox.borrow_mut();
            inbox.push(data);
            inbox.len() > INBOX_HIGH
        };
        shared.received.set(true);
        if full && !shared.reading_paused.get() {
            shared.reading_paused.set(true);
            if let Some(t) = shared.transport() {
                t.pause_producing();
            }
        }
        shared.wake_reader();
    }

    fn read_connection_lost(&mut self) -> HalfClose {
        // The reader sees EOF; the writer may still answer (an HTTP/1.0 client that shut its
        // side after the request). The stream closes the connection when it is dropped.
        self.0.read_eof.set(true);
        self.0.wake_reader();
        HalfClose::KeepOpen
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        let shared = &self.0;
        shared.read_eof.set(true);
        *shared.lost.borrow_mut() = Some(reason);
        shared.transport.borrow_mut().take();
        if let Some(call) = shared.lingering.borrow_mut().take() {
            let _ = call.cancel(); // fails only if it already ran
        }
        shared.wake_reader();
        shared.wake_writer();
        let on_close = shared.on_close.borrow_mut().take();
        if let Some(f) = on_close {
            f();
        }
    }
}

/// The stream as the transport's producer: learns when writes must wait.
struct WriteWatch(Weak<Shared>);

impl Producer for WriteWatch {
    fn pause_producing(&self) {
        if let Some(shared) = self.0.upgrade() {
            shared.write_paused.set(true);
        }
    }

    fn resume_producing(&self) {
        if let Some(shared) = self.0.upgrade() {
            shared.write_paused.set(false);
            shared.wake_writer();
        }
    }

    fn stop_producing(&self) {
        if let Some(shared) = self.0.upgrade() {
            shared.wake_writer();
        }
    }
}

/// A connection as an async byte stream.
///
/// # Cancellation
///
/// Dropping it closes the connection (after what was written is sent).
pub(crate) struct Stream {
    shared: Rc<Shared>,
}

impl Stream {
    /// Connects to `host:port` over TCP, within `timeout` if given.
    pub(crate) fn connect(host: &str, port: u16, timeout: Option<Duration>) -> Connect {
        let shared = Rc::new(Shared::default());
        let mut options = ConnectOptions::new();
        options = match timeout {
            Some(t) => options.timeout(t),
            None => options.no_timeout(),
        };
        let factory = ConnectFactory(Some(shared.clone()));
        let connector = fate_core::net::connect_tcp_with(host, port, factory, &options);
        Connect {
            shared: Some(shared),
            connector,
        }
    }

    /// Serves a listening socket made elsewhere, giving each accepted connection's stream
    /// to `on_stream`.
    pub(crate) fn adopt(
        listener: std::net::TcpListener,
        on_stream: impl FnMut(Stream, &Address) + 'static,
    ) -> io::Result<ListeningPort> {
        fate_core::net::adopt_tcp_listener(
            listener,
            AcceptFactory(Rc::new(RefCell::new(on_stream))),
        )
    }

    /// Listens on `addr` and gives each accepted connection's stream to `on_stream`.
    pub(crate) fn listen(
        addr: std::net::SocketAddr,
        on_stream: impl FnMut(Stream, &Address) + 'static,
    ) -> io::Result<ListeningPort> {
        fate_core::net::listen_tcp(addr, AcceptFactory(Rc::new(RefCell::new(on_stream))))
    }

    /// Calls `f` once the connection has closed for good (after `close`, once what was
    /// written has been sent; or when the peer or an error ends it). At once if it has.
    /// Tells `to` of every write from now on.
    pub(crate) fn on_write(&self, to: Rc<dyn Wrote>) {
        *self.shared.on_write.borrow_mut() = Some(to);
    }

    /// A view of this connection's output that outlives the stream: until the connection
    /// has closed, what is sent and what waits, and a way to abort it. `None` once closed.
    pub(crate) fn output(&self) -> Option<Output> {
        Some(Output {
            shared: Rc::downgrade(&self.shared),
            transport: self.shared.transport()?,
        })
    }

    /// Makes dropping this stream a lingering close (RFC 9112 §9.6) when the peer has not
    /// ended its side: our side is shut once what was written is sent, then whatever the peer
    /// still sends is read and thrown away until it closes too, for at most [`LINGER`].
    /// Closing at once would make the kernel answer those late bytes with a reset, which
    /// can destroy a response the peer has not read yet (a 413 to a client still sending
    /// its body).
    pub(crate) fn linger_on_close(&self) {
        self.shared.linger_on_close.set(true);
    }

    pub(crate) fn on_close(&self, f: impl FnOnce() + 'static) {
        if self.shared.lost.borrow().is_some() {
            f();
        } else {
            *self.shared.on_close.borrow_mut() = Some(Box::new(f));
        }
    }

    /// Hands back bytes read from this stream but not used (a parked HTTP connection's
    /// partial head, see `server::park`): the next read returns them first. Then lets go of
    /// the inbox's room beyond them, which an idle connection does not need.
    pub(crate) fn unread(&self, data: &[u8]) {
        let mut inbox = self.shared.inbox.borrow_mut();
        inbox.put_back(data);
        if inbox.buf.capacity() > inbox.len() {
            let kept = inbox.unread().to_vec();
            *inbox = Inbox {
                buf: kept,
                start: 0,
            };
        }
    }

    /// Ready once more than `held` bytes wait unread or the peer has ended its side (or the
    /// connection is gone); otherwise the task is woken when that changes.
    pub(crate) fn poll_more_than(&self, held: usize, cx: &mut Context<'_>) -> Poll<()> {
        let shared = &self.shared;
        if shared.inbox.borrow().len() > held || shared.read_eof.get() {
            return Poll::Ready(());
        }
        store_waker(&shared.reader, cx.waker());
        Poll::Pending
    }

    /// Bytes waiting unread.
    pub(crate) fn unread_len(&self) -> usize {
        self.shared.inbox.borrow().len()
    }

    /// A view of this stream's state that does not own it (see [`StreamView`]).
    pub(crate) fn view(&self) -> StreamView {
        StreamView(self.shared.clone())
    }

    fn read_into(
        &self,
        cx: &mut Context<'_>,
        dst: &mut dyn FnMut(&[u8]) -> usize,
    ) -> Poll<io::Result<()>> {
        let shared = &self.shared;
        let resume = {
            let mut inbox = shared.inbox.borrow_mut();
            if inbox.is_empty() {
                if shared.read_eof.get() {
                    return match &*shared.lost.borrow() {
                        Some(reason) if !reason.is_clean() => {
                            Poll::Ready(Err(io::Error::other(reason.clone())))
                        }
                        _ => Poll::Ready(Ok(())),
                    };
                }
                store_waker(&shared.reader, cx.waker());
                return Poll::Pending;
            }
            let n = dst(inbox.unread());
            inbox.consume(n);
            shared.reading_paused.get() && inbox.len() <= INBOX_LOW
        };
        if resume {
            shared.reading_paused.set(false);
            if let Some(t) = shared.transport() {
                t.resume_producing();
            }
        }
        Poll::Ready(Ok(()))
    }

    fn write_from(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let shared = &self.shared;
        let Some(transport) = shared.transport() else {
            return Poll::Ready(Err(closed(&shared.lost.borrow())));
        };
        if shared.write_paused.get() {
            store_waker(&shared.writer, cx.waker());
            return Poll::Pending;
        }
        transport.write(data);
        shared.written.set(shared.written.get() + data.len() as u64);
        if let Some(to) = &*shared.on_write.borrow() {
            to.wrote();
        }
        Poll::Ready(Ok(data.len()))
    }

    fn close(&self) {
        let transport = self.shared.transport.borrow_mut().take();
        // With its reactor gone, or the thread's locals being torn down (a task dropped as
        // the thread ends), the transport cannot be told anything: the socket closes when
        // it is dropped.
        if !thread_alive() || fate_core::reactor::try_current().is_none() {
            return;
        }
        if let Some(t) = transport {
            t.unregister_producer();
            if self.shared.linger_on_close.get() && !self.shared.read_eof.get() {
                self.linger(t);
            } else {
                t.lose_connection();
            }
        }
    }

    /// See [`Stream::linger_on_close`]. The peer's end of stream then closes the connection
    /// (our side being shut already); the timer closes it otherwise.
    fn linger(&self, t: Transport) {
        let shared = &self.shared;
        *shared.inbox.borrow_mut() = Inbox::default(); // nobody will read it
        let end = t.clone();
        *shared.lingering.borrow_mut() = Some(fate_core::call_later(LINGER, move || {
            end.lose_connection();
        }));
        if shared.reading_paused.replace(false) {
            t.resume_producing();
        }
        t.lose_write_connection();
    }
}

/// A stream's state seen by whoever serves it while hyper holds the stream itself; dropping
/// it does not close anything.
pub(crate) struct StreamView(Rc<Shared>);

impl StreamView {
    /// No unread bytes wait and no write waits for the transport: nothing is in flight
    /// below hyper.
    pub(crate) fn is_quiet(&self) -> bool {
        self.0.inbox.borrow().is_empty() && !self.0.write_paused.get()
    }

    /// Whether the peer has sent anything yet.
    pub(crate) fn has_received(&self) -> bool {
        self.0.received.get()
    }
}

/// A connection's output, seen from outside its [`Stream`] (see [`Stream::output`]); it
/// stays useful after the stream is dropped, while the transport sends what was written.
pub(crate) struct Output {
    shared: Weak<Shared>,
    transport: Transport,
}

impl Output {
    /// Bytes sent so far and bytes waiting in the transport; `None` once the connection is
    /// gone.
    pub(crate) fn progress(&self) -> Option<(u64, usize)> {
        let shared = self.shared.upgrade()?;
        if !self.transport.is_connected() {
            return None;
        }
        let waiting = self.transport.buffered();
        Some((shared.written.get() - waiting as u64, waiting))
    }

    /// Closes without lingering from now on, and ends a linger under way: a server that is
    /// shutting down does not wait for slow peers.
    pub(crate) fn stop_lingering(&self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        shared.linger_on_close.set(false);
        let lingering = shared.lingering.borrow_mut().take();
        if let Some(call) = lingering {
            let _ = call.cancel(); // fails only if it already ran
            self.transport.lose_connection();
        }
    }

    /// Closes the connection at once, dropping what waits to be sent.
    pub(crate) fn abort(&self) {
        self.transport.abort_connection();
    }
}

fn closed(reason: &Option<CloseReason>) -> io::Error {
    match reason {
        Some(reason) if !reason.is_clean() => {
            io::Error::new(io::ErrorKind::BrokenPipe, reason.clone())
        }
        _ => io::Error::new(io::ErrorKind::BrokenPipe, "the connection is closed"),
    }
}

impl Stream {
    fn new(shared: Rc<Shared>) -> Stream {
        ALIVE.with(|_| ());
        Stream { shared }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.close();
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        self.read_into(cx, &mut |src| {
            let n = src.len().min(buf.remaining());
            buf.put_slice(&src[..n]);
            n
        })
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_from(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Written bytes are the transport's to send; it never loses them.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

impl futures_io::AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut read = 0;
        match self.read_into(cx, &mut |src| {
            read = src.len().min(buf.len());
            buf[..read].copy_from_slice(&src[..read]);
            read
        }) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(read)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl futures_io::AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_from(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

/// The client factory: hands the one connection to its [`Connect`].
struct ConnectFactory(Option<Rc<Shared>>);

impl ClientFactory for ConnectFactory {
    fn build_protocol(&mut self, _addr: &Address) -> Option<Box<dyn Protocol>> {
        self.0
            .take()
            .map(|s| Box::new(StreamProtocol(s)) as Box<dyn Protocol>)
    }

    fn client_connection_failed(&mut self, _connector: &Connector, reason: &ConnectError) {
        if let Some(shared) = &self.0 {
            *shared.connected.borrow_mut() = Some(Err(reason.clone()));
            shared.wake_reader();
        }
    }
}

/// Resolves to the connected [`Stream`] or why it could not connect.
///
/// # Cancellation
///
/// Dropping it before it resolves stops the attempt.
pub(crate) struct Connect {
    shared: Option<Rc<Shared>>,
    connector: Connector,
}

impl Future for Connect {
    type Output = Result<Stream, ConnectError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(shared) = self.shared.as_ref() else {
            return Poll::Ready(Err(ConnectError::Cancelled));
        };
        let outcome = shared.connected.borrow_mut().take();
        match outcome {
            None => {
                *shared.reader.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
            Some(Err(e)) => {
                self.shared = None;
                Poll::Ready(Err(e))
            }
            Some(Ok(())) => {
                let shared = self.shared.take().expect("checked above");
                Poll::Ready(Ok(Stream::new(shared)))
            }
        }
    }
}

impl Drop for Connect {
    fn drop(&mut self) {
        if self.shared.is_some() {
            self.connector.stop_connecting();
            self.connector.disconnect();
        }
    }
}

/// The server factory: a stream per accepted connection.
struct AcceptFactory<F>(Rc<RefCell<F>>);

impl<F: FnMut(Stream, &Address) + 'static> Factory for AcceptFactory<F> {
    fn build_protocol(&mut self, addr: &Address) -> Option<Box<dyn Protocol>> {
        let shared = Rc::new(Shared::default());
        let on_stream = self.0.clone();
        let addr = addr.clone();
        *shared.on_made.borrow_mut() = Some(Box::new(move |stream: Stream| {
            (on_stream.borrow_mut())(stream, &addr)
        }));
        Some(Box::new(StreamProtocol(shared)))
    }
}
