//! A stream connection (TCP or Unix) driving a [`Protocol`]: the heart of callback-style
//! networking.
//!
//! # States
//!
//! A connection is *open* from [`Conn::start`] until [`Conn::close`], then *closed* for good.
//! While open, these flags refine it (each only ever goes from false to true, except
//! `reading_paused`, `throttled`, `write_blocked` and `in_callback`):
//!
//! - `disconnecting`: `lose_connection` was called (or the peer ended its stream and the
//!   protocol did not keep the connection half-open); no more reading; close when the write
//!   buffer has drained and no producer is registered.
//! - `write_shut_requested` / `write_shut`: `lose_write_connection` was called / the writing
//!   half was shut down (after the buffer drained).
//! - `read_eof`: the peer ended its stream. `read_hup`: epoll said it has (or that the socket
//!   failed), which the reads will show once they get there.
//! - `reading_paused`: the protocol paused the transport as a producer
//!   (`Transport::pause_producing`). `throttled`: we stopped reading ourselves, see below.
//!
//! Forbidden: reading after `disconnecting` or `read_eof`; writing after `write_shut`;
//! calling into the protocol while it is already running (callbacks never nest: the transport
//! defers what would call back, e.g. `connection_lost`, to the next turn).
//!
//! # Edge-triggered I/O
//!
//! The socket is registered once for reading and writing. Reads go until the socket is
//! drained — a read shorter than the buffer means it is, as in tokio — or until
//! [`READ_FAIRNESS`] bytes were read this turn, when the rest is left for a `call_soon`.
//! Writes made while the protocol runs are coalesced and sent in one `write` when it returns;
//! other writes go straight to the socket when nothing is queued. Only what the socket
//! refuses is buffered, and the connection then waits for the writable edge.
//!
//! # Flow control
//!
//! Whatever feeds the write buffer is paused while the buffer is above the high water mark
//! and resumed once it has drained to the low water mark ([`DEFAULT_HIGH_WATER`],
//! [`DEFAULT_LOW_WATER`]). What feeds it is the registered push producer if there is one;
//! otherwise the connection is its own producer — what the protocol writes comes from what it
//! reads — and it stops reading (`throttled`) until the buffer drains. So an echo protocol
//! written the obvious way holds bounded memory however much a peer sends without reading.
//! A pull producer is asked for a chunk only when the buffer is empty, so it never overfills.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::Shutdown;
use std::rc::{Rc, Weak};

use mio::Interest;

use crate::net::live;
use crate::net::write_buf::WriteBuf;
use crate::net::{
    Address, CloseReason, Producer, ProducerError, ProducerMode, Protocol, RawTransport,
    StreamSocket, Transport,
};
use crate::reactor::io::{IoHandler, IoRegistration, Readiness};
use crate::reactor::watchdog::{Kind, Site};
use crate::reactor::Reactor;

/// Size of the shared read buffer.
pub(crate) const READ_BUF_LEN: usize = 64 * 1024;

/// Bytes one connection may read per turn before yielding to the others.
const READ_FAIRNESS: usize = 256 * 1024;

/// Default high water mark (Twisted's `bufferSize`): above it, what feeds the connection is
/// paused.
pub(crate) const DEFAULT_HIGH_WATER: usize = 64 * 1024;

/// Default low water mark: at or below it, what was paused is resumed. Above Twisted's 0, so
/// that the feeder is running again before the socket has sent its last buffered byte.
pub(crate) const DEFAULT_LOW_WATER: usize = 16 * 1024;

thread_local! {
    /// One read buffer per thread, lent to whichever connection is reading; a nested read
    /// (none happens today) would allocate its own.
    static READ_BUF: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
}

/// Borrows the thread's read buffer.
pub(crate) fn take_read_buf() -> Box<[u8]> {
    READ_BUF
        .with(Cell::take)
        .unwrap_or_else(|| vec![0u8; READ_BUF_LEN].into_boxed_slice())
}

/// Returns the read buffer.
pub(crate) fn put_read_buf(buf: Box<[u8]>) {
    READ_BUF.with(|b| b.set(Some(buf)));
}

/// Called once with the reason when a connection closes (after the protocol heard of it):
/// how client connectors learn that their connection ended.
pub(crate) type OnClose = Box<dyn FnOnce(&CloseReason)>;

/// One stream connection. See the module docs for its states.
pub(crate) struct Conn<S: StreamSocket> {
    /// Lets `&self` methods hand `Rc`s of the connection to deferred work.
    me: Weak<Conn<S>>,
    /// The socket; `None` once closed (closing drops it, which closes the fd).
    socket: RefCell<Option<S>>,
    /// Our registration with the reactor; `None` once closed.
    registration: RefCell<Option<IoRegistration>>,
    /// The protocol; taken out (and dropped) once `connection_lost` has run, which breaks the
    /// `Conn` → protocol → `Transport` → `Conn` cycle.
    protocol: RefCell<Option<Box<dyn Protocol>>>,
    /// The peer's address, known at accept/connect time.
    peer: Address,
    /// Set by `close`; nothing happens on a closed connection.
    closed: Cell<bool>,
    /// See the module docs.
    disconnecting: Cell<bool>,
    write_shut_requested: Cell<bool>,
    write_shut: Cell<bool>,
    read_eof: Cell<bool>,
    /// epoll reported the end of the peer's stream or an error: read until it shows, even
    /// after a short read (the edge was consumed and will not come again, e.g. when it came
    /// while reading was paused).
    read_hup: Cell<bool>,
    /// The transport was paused as a producer: do not read.
    reading_paused: Cell<bool>,
    /// No producer is registered and the write buffer went above the high water mark: the
    /// connection stopped reading (it is its own producer) until the buffer drains to the
    /// low water mark.
    throttled: Cell<bool>,
    /// The last write could not send everything: wait for the writable edge before writing.
    write_blocked: Cell<bool>,
    /// The protocol is running: buffer writes and send them when it returns.
    in_callback: Cell<bool>,
    /// Bytes waiting to be sent.
    wbuf: RefCell<WriteBuf>,
    /// The registered producer, its mode, and whether we paused it.
    producer: RefCell<Option<(Rc<dyn Producer>, ProducerMode)>>,
    producer_paused: Cell<bool>,
    /// Water marks for pausing and resuming a push producer.
    high_water: Cell<usize>,
    low_water: Cell<usize>,
    /// Told when the connection closes.
    on_close: RefCell<Option<OnClose>>,
    /// Where the connection's listener or connector was made: the watchdog names it when
    /// the protocol runs long.
    site: Site,
    /// The TLS layer, once TLS is started.
    #[cfg(feature = "tls")]
    tls: RefCell<Option<crate::net::tls::TlsLayer>>,
}

impl<S: StreamSocket> Conn<S> {
    /// Registers `socket`, gives `protocol` its transport, and starts reading.
    pub(crate) fn start(
        reactor: &Reactor,
        mut socket: S,
        peer: Address,
        protocol: Box<dyn Protocol>,
        on_close: Option<OnClose>,
        site: Site,
        #[cfg(feature = "tls")] tls: Option<crate::net::TlsRole>,
    ) -> io::Result<Rc<Conn<S>>> {
        let conn = Rc::new_cyclic(|me| Conn {
            me: me.clone(),
            socket: RefCell::new(None),
            registration: RefCell::new(None),
            protocol: RefCell::new(Some(protocol)),
            peer,
            closed: Cell::new(false),
            disconnecting: Cell::new(false),
            write_shut_requested: Cell::new(false),
            write_shut: Cell::new(false),
            read_eof: Cell::new(false),
            read_hup: Cell::new(false),
            reading_paused: Cell::new(false),
            throttled: Cell::new(false),
            write_blocked: Cell::new(false),
            in_callback: Cell::new(false),
            wbuf: RefCell::new(WriteBuf::default()),
            producer: RefCell::new(None),
            producer_paused: Cell::new(false),
            high_water: Cell::new(DEFAULT_HIGH_WATER),
            low_water: Cell::new(DEFAULT_LOW_WATER),
            on_close: RefCell::new(on_close),
            site,
            #[cfg(feature = "tls")]
            tls: RefCell::new(None),
        });
        let registration = reactor.inner.register_io(
            &mut socket,
            Interest::READABLE | Interest::WRITABLE,
            conn.clone(),
            site,
        )?;
        *conn.socket.borrow_mut() = Some(socket);
        *conn.registration.borrow_mut() = Some(registration);
        live::track(conn.clone());
        #[cfg(feature = "tls")]
        if let Some(role) = tls {
            conn.enable_tls(role)?;
        }
        let transport = conn.transport();
        conn.call_protocol(|p| p.connection_made(transport));
        #[cfg(feature = "tls")]
        conn.flush_tls();
        Ok(conn)
    }

    /// A transport for this connection. It holds the connection weakly: the protocol owns
    /// its transport and the connection owns the protocol, and only the reactor's source
    /// table (while registered) and pending work keep a connection alive — so a dropped
    /// reactor frees its connections and closes their sockets.
    pub(crate) fn transport(self: &Rc<Self>) -> Transport {
        Transport::new(Rc::new(Handle {
            conn: Rc::downgrade(self),
            peer: self.peer.clone(),
        }))
    }

    fn rc(&self) -> Rc<Conn<S>> {
        self.me.upgrade().expect("a connection in use is alive")
    }

    /// Runs `f` at the next turn, as the connection's own work (the watchdog names the
    /// connection's site if it runs long).
    fn soon(&self, f: impl FnOnce() + 'static) {
        crate::reactor::current().call_soon_as(Kind::IoHandler, self.site, f);
    }

    /// Runs `f` on the protocol (if it is still there), then sends what it wrote.
    fn call_protocol<R: Default>(&self, f: impl FnOnce(&mut dyn Protocol) -> R) -> R {
        self.in_callback.set(true);
        let out = {
            let mut p = self.protocol.borrow_mut();
            match p.as_mut() {
                Some(p) => f(&mut **p),
                None => R::default(),
            }
        };
        self.in_callback.set(false);
        self.after_callback();
        out
    }

    /// Sends what a callback wrote and finishes a close it asked for.
    fn after_callback(&self) {
        if self.closed.get() {
            return;
        }
        #[cfg(feature = "tls")]
        self.move_tls_output();
        if self.write_blocked.get() {
            return;
        }
        if !self.wbuf.borrow().is_empty() {
            self.flush();
        } else if self.disconnecting.get()
            || (self.write_shut_requested.get() && !self.write_shut.get())
        {
            self.drained();
        }
    }

    /// Runs a producer method as if it were a protocol callback: its writes are coalesced,
    /// and a drained buffer asks a pull producer again.
    fn call_producer(&self, f: impl FnOnce()) {
        let was = self.in_callback.replace(true);
        f();
        self.in_callback.set(was);
        if !was {
            self.after_callback();
        }
    }

    // ---- reading ----

    /// Reads until the socket is drained (or the fairness limit), delivering each chunk; stops
    /// early when the write buffer is over the high water mark (see Flow control).
    fn read_ready(&self) {
        let mut total = 0;
        loop {
            if self.closed.get()
                || self.disconnecting.get()
                || self.reading_paused.get()
                || self.read_eof.get()
            {
                return;
            }
            if self.wbuf.borrow().len() > self.high_water.get() && self.producer.borrow().is_none()
            {
                // The socket stays readable; `maybe_resume_reading` reads again.
                self.throttled.set(true);
                return;
            }
            let mut buf = take_read_buf();
            let res = match self.socket.borrow().as_ref() {
                Some(s) => s.read(&mut buf),
                None => Ok(0),
            };
            match res {
                Ok(0) => {
                    put_read_buf(buf);
                    self.eof();
                    return;
                }
                Ok(n) => {
                    self.deliver(&buf[..n]);
                    put_read_buf(buf);
                    total += n;
                    if n < READ_BUF_LEN && !self.read_hup.get() {
                        return;
                    }
                    if total >= READ_FAIRNESS {
                        let me = self.rc();
                        self.soon(move || me.read_ready());
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    put_read_buf(buf);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => put_read_buf(buf),
                Err(e) => {
                    put_read_buf(buf);
                    self.close(CloseReason::from_io(e));
                    return;
                }
            }
        }
    }

    /// Hands bytes read from the socket to the protocol (through TLS if it is on).
    fn deliver(&self, data: &[u8]) {
        #[cfg(feature = "tls")]
        if self.tls.borrow().is_some() {
            self.deliver_tls(data);
            return;
        }
        self.call_protocol(|p| p.data_received(data));
    }

    /// The peer ended its stream.
    fn eof(&self) {
        self.read_eof.set(true);
        match self.call_protocol(|p| Some(p.read_connection_lost())) {
            Some(crate::net::HalfClose::KeepOpen) if !self.write_shut.get() => {}
            _ => self.begin_disconnect(),
        }
    }

    // ---- writing ----

    /// Sends the buffer until it is empty or the socket is full.
    fn flush(&self) {
        loop {
            let res = {
                let buf = self.wbuf.borrow();
                if buf.is_empty() {
                    break;
                }
                match self.socket.borrow().as_ref() {
                    Some(s) => s.write(buf.as_slice()).map(|n| (n, buf.len())),
                    None => return,
                }
            };
            match res {
                Ok((n, len)) => {
                    self.wbuf.borrow_mut().consume(n);
                    self.maybe_resume_producer();
                    self.maybe_resume_reading();
                    if n < len {
                        // Short write: the socket's buffer is full; wait for the edge.
                        self.write_blocked.set(true);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_blocked.set(true);
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.write_failed(e);
                    return;
                }
            }
        }
        self.drained();
    }

    /// A write failed: the connection is lost; tell the protocol at the next turn.
    fn write_failed(&self, e: io::Error) {
        self.wbuf.borrow_mut().clear();
        self.close(CloseReason::from_io(e));
    }

    /// Resumes a paused push producer once the buffer is at or below the low water mark.
    fn maybe_resume_producer(&self) {
        if !self.producer_paused.get() || self.wbuf.borrow().len() > self.low_water.get() {
            return;
        }
        let producer = self.producer.borrow().as_ref().map(|(p, _)| p.clone());
        if let Some(p) = producer {
            self.producer_paused.set(false);
            p.resume_producing();
        }
    }

    /// Reads again once a throttled connection's buffer is at or below the low water mark.
    fn maybe_resume_reading(&self) {
        if !self.throttled.get() || self.wbuf.borrow().len() > self.low_water.get() {
            return;
        }
        self.throttled.set(false);
        // Edges that came while throttled were not acted on: look at the socket again.
        let me = self.rc();
        self.soon(move || me.read_ready());
    }

    /// The buffer is empty: finish a half-close or a close, or ask a pull producer for more.
    fn drained(&self) {
        if self.closed.get() {
            return;
        }
        if self.write_shut_requested.get() && !self.write_shut.get() {
            self.write_shut.set(true);
            let res = match self.socket.borrow().as_ref() {
                Some(s) => s.shutdown(Shutdown::Write),
                None => Ok(()),
            };
            if let Err(e) = res {
                self.close(CloseReason::from_io(e));
                return;
            }
            if self.read_eof.get() {
                self.close(CloseReason::Done);
                return;
            }
            self.call_protocol(|p| p.write_connection_lost());
            return;
        }
        let producer = self.producer.borrow().clone();
        match producer {
            Some((p, ProducerMode::Pull)) => {
                let me = self.rc();
                self.soon(move || {
                    let still = me
                        .producer
                        .borrow()
                        .as_ref()
                        .is_some_and(|(q, _)| Rc::ptr_eq(q, &p));
                    if still && !me.closed.get() && me.wbuf.borrow().is_empty() {
                        me.call_producer(|| p.resume_producing());
                    }
                });
            }
            Some((_, ProducerMode::Push)) => self.maybe_resume_producer(),
            None if self.disconnecting.get() => self.close(CloseReason::Done),
            None => {}
        }
    }

    /// Stops reading and closes once the buffer drains (and the producer is gone).
    fn begin_disconnect(&self) {
        if self.closed.get() || self.disconnecting.get() {
            return;
        }
        self.disconnecting.set(true);
        #[cfg(feature = "tls")]
        self.tls_close_notify();
        if self.in_callback.get() || self.write_blocked.get() {
            // after_callback, or the writable edge, finishes it.
            return;
        }
        let me = self.rc();
        self.soon(move || me.after_callback());
    }

    /// Closes the socket now and tells the protocol at the next turn (so never from inside a
    /// transport call), then whoever waits on `on_close`.
    pub(crate) fn close(&self, reason: CloseReason) {
        if self.closed.replace(true) {
            return;
        }
        let socket = self.socket.borrow_mut().take();
        let registration = self.registration.borrow_mut().take();
        if let (Some(mut socket), Some(registration)) = (socket, registration) {
            let _ = registration.deregister(&mut socket);
        }
        self.wbuf.borrow_mut().clear();
        #[cfg(feature = "tls")]
        self.tls.borrow_mut().take();
        if let Some((producer, _)) = self.producer.borrow_mut().take() {
            producer.stop_producing();
        }
        let me = self.rc();
        self.soon(move || me.deliver_lost(reason));
    }

    fn deliver_lost(&self, reason: CloseReason) {
        let protocol = self.protocol.borrow_mut().take();
        if let Some(mut p) = protocol {
            p.connection_lost(reason.clone());
        }
        if let Some(on_close) = self.on_close.borrow_mut().take() {
            on_close(&reason);
        }
    }
}

impl<S: StreamSocket> IoHandler for Conn<S> {
    fn ready(&self, r: Readiness) {
        if self.closed.get() {
            return;
        }
        if r.read_closed || r.error {
            self.read_hup.set(true);
        }
        if r.readable || r.read_closed || r.error {
            self.read_ready();
        }
        if self.closed.get() {
            return;
        }
        if (r.writable || r.write_closed || r.error) && self.write_blocked.get() {
            self.write_blocked.set(false);
            self.flush();
        }
    }
}

impl<S: StreamSocket> live::Live for Conn<S> {
    fn shut_down(&self) {
        if !self.closed.get() {
            self.close(CloseReason::Done);
        }
    }
}

impl<S: StreamSocket> RawTransport for Conn<S> {
    #[inline]
    fn write(&self, data: &[u8]) {
        if self.closed.get() || self.write_shut_requested.get() || data.is_empty() {
            return;
        }
        #[cfg(feature = "tls")]
        if self.tls.borrow().is_some() {
            self.write_tls(data);
            return;
        }
        if self.in_callback.get() || self.write_blocked.get() || !self.wbuf.borrow().is_empty() {
            self.wbuf.borrow_mut().push(data);
        } else {
            let res = match self.socket.borrow().as_ref() {
                Some(s) => s.write(data),
                None => return,
            };
            match res {
                Ok(n) if n == data.len() => return,
                Ok(n) => {
                    self.wbuf.borrow_mut().push(&data[n..]);
                    self.write_blocked.set(true);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.wbuf.borrow_mut().push(data);
                    self.write_blocked.set(true);
                }
                Err(e) => {
                    // Tell the protocol at the next turn, never from inside `write`.
                    self.wbuf.borrow_mut().clear();
                    let me = self.rc();
                    self.soon(move || me.close(CloseReason::from_io(e)));
                    return;
                }
            }
        }
        self.check_high_water();
    }

    fn write_sequence(&self, data: &[&[u8]]) {
        let was = self.in_callback.replace(true);
        for chunk in data {
            self.write(chunk);
        }
        self.in_callback.set(was);
        if !was {
            self.after_callback();
        }
    }

    fn lose_connection(&self) {
        self.begin_disconnect();
    }

    fn abort_connection(&self) {
        if self.closed.get() {
            return;
        }
        self.disconnecting.set(true);
        self.close(CloseReason::Aborted);
    }

    fn lose_write_connection(&self) {
        if self.closed.get() || self.write_shut_requested.replace(true) {
            return;
        }
        #[cfg(feature = "tls")]
        self.tls_close_notify();
        if !self.write_blocked.get() && !self.in_callback.get() {
            let me = self.rc();
            self.soon(move || me.after_callback());
        }
    }

    fn peer(&self) -> Address {
        self.peer.clone()
    }

    fn host(&self) -> Address {
        match self.socket.borrow().as_ref().map(|s| s.host()) {
            Some(Ok(a)) => a,
            _ => Address::Unix(None),
        }
    }

    fn set_no_delay(&self, on: bool) -> io::Result<()> {
        match self.socket.borrow().as_ref() {
            Some(s) => s.set_no_delay(on),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn set_keep_alive(&self, on: bool) -> io::Result<()> {
        match self.socket.borrow().as_ref() {
            Some(s) => s.set_keep_alive(on),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    fn register_producer(
        &self,
        producer: Rc<dyn Producer>,
        mode: ProducerMode,
    ) -> Result<(), ProducerError> {
        if self.producer.borrow().is_some() {
            return Err(ProducerError::AlreadyRegistered);
        }
        if self.closed.get() {
            producer.stop_producing();
            return Ok(());
        }
        *self.producer.borrow_mut() = Some((producer.clone(), mode));
        self.producer_paused.set(false);
        match mode {
            ProducerMode::Pull => self.call_producer(|| producer.resume_producing()),
            ProducerMode::Push => self.check_high_water(),
        }
        Ok(())
    }

    fn unregister_producer(&self) {
        self.producer.borrow_mut().take();
        self.producer_paused.set(false);
        if self.disconnecting.get() && !self.closed.get() && !self.in_callback.get() {
            let me = self.rc();
            self.soon(move || me.after_callback());
        }
    }

    fn pause_producing(&self) {
        self.reading_paused.set(true);
    }

    fn resume_producing(&self) {
        if !self.reading_paused.replace(false) || self.closed.get() {
            return;
        }
        // Edges that came while paused were ignored: look at the socket again.
        let me = self.rc();
        self.soon(move || me.read_ready());
    }

    fn set_write_buffer_limits(&self, high: usize, low: usize) {
        self.high_water.set(high);
        self.low_water.set(low);
        self.check_high_water();
        self.maybe_resume_producer();
        self.maybe_resume_reading();
    }

    fn buffered(&self) -> usize {
        self.wbuf.borrow().len()
    }

    fn is_connected(&self) -> bool {
        !self.closed.get()
    }

    fn is_disconnecting(&self) -> bool {
        self.disconnecting.get() || self.closed.get()
    }

    #[cfg(feature = "tls")]
    fn start_tls(&self, role: crate::net::TlsRole) -> io::Result<()> {
        self.enable_tls(role)?;
        if !self.in_callback.get() {
            self.flush_tls();
        }
        Ok(())
    }
}

impl<S: StreamSocket> Conn<S> {
    /// Pauses a push producer when the buffer is over the high water mark.
    fn check_high_water(&self) {
        if self.producer_paused.get() || self.wbuf.borrow().len() <= self.high_water.get() {
            return;
        }
        let producer = match self.producer.borrow().as_ref() {
            Some((p, ProducerMode::Push)) => p.clone(),
            _ => return,
        };
        self.producer_paused.set(true);
        producer.pause_producing();
    }
}

#[cfg(feature = "tls")]
impl<S: StreamSocket> Conn<S> {
    fn enable_tls(&self, role: crate::net::TlsRole) -> io::Result<()> {
        let mut tls = self.tls.borrow_mut();
        if tls.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "TLS is already started on this connection",
            ));
        }
        *tls = Some(crate::net::tls::TlsLayer::new(role)?);
        Ok(())
    }

    /// Moves what TLS wants to send into the write buffer.
    fn move_tls_output(&self) {
        if let Some(tls) = self.tls.borrow_mut().as_mut() {
            tls.take_output(&mut self.wbuf.borrow_mut());
        }
    }

    /// Moves TLS output into the buffer and, outside callbacks, sends it.
    fn flush_tls(&self) {
        self.move_tls_output();
        if !self.in_callback.get() && !self.write_blocked.get() && !self.wbuf.borrow().is_empty() {
            self.flush();
        }
        self.check_high_water();
    }

    fn write_tls(&self, data: &[u8]) {
        if let Some(tls) = self.tls.borrow_mut().as_mut() {
            tls.write_plain(data);
        }
        self.flush_tls();
    }

    fn tls_close_notify(&self) {
        if let Some(tls) = self.tls.borrow_mut().as_mut() {
            tls.close_notify();
        }
        self.move_tls_output();
    }

    /// Decrypts `data` and hands the plaintext to the protocol.
    fn deliver_tls(&self, data: &[u8]) {
        let mut plain = Vec::new();
        let outcome = match self.tls.borrow_mut().as_mut() {
            Some(tls) => tls.read_tls(data, &mut plain),
            None => return,
        };
        self.move_tls_output();
        match outcome {
            Ok(o) => {
                if o.handshake_done {
                    self.call_protocol(|p| p.handshake_completed());
                }
                if !plain.is_empty() && !self.closed.get() {
                    self.call_protocol(|p| p.data_received(&plain));
                }
                if o.peer_closed && !self.closed.get() {
                    self.eof();
                }
            }
            Err(message) => {
                // Send the alert rustls queued, then give up.
                if !self.write_blocked.get() {
                    self.flush();
                }
                self.close(CloseReason::Tls(message));
                return;
            }
        }
        if !self.closed.get() && !self.write_blocked.get() && !self.wbuf.borrow().is_empty() {
            self.flush();
        }
    }
}

/// What a protocol holds: a weak reference to its connection (see [`Conn::transport`]).
/// Once the connection is gone, writes are ignored and queries answer "closed".
struct Handle<S: StreamSocket> {
    conn: Weak<Conn<S>>,
    /// Kept for `peer()` after the connection is gone.
    peer: Address,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is closed")
}

impl<S: StreamSocket> RawTransport for Handle<S> {
    #[inline]
    fn write(&self, data: &[u8]) {
        if let Some(c) = self.conn.upgrade() {
            c.write(data);
        }
    }
    fn write_sequence(&self, data: &[&[u8]]) {
        if let Some(c) = self.conn.upgrade() {
            c.write_sequence(data);
        }
    }
    fn lose_connection(&self) {
        if let Some(c) = self.conn.upgrade() {
            c.lose_connection();
        }
    }
    fn abort_connection(&self) {
        if let Some(c) = self.conn.upgrade() {
            c.abort_connection();
        }
    }
    fn lose_write_connection(&self) {
        if let Some(c) = self.conn.upgrade() {
            c.lose_write_connection();
        }
    }
    fn peer(&self) -> Address {
        self.peer.clone()
    }
    fn host(&self) -> Address {
        match self.conn.upgrade() {
            Some(c) => c.host(),
            None => Address::Unix(None),
        }
    }
    fn set_no_delay(&self, on: bool) -> io::Result<()> {
        self.conn.upgrade().ok_or_else(gone)?.set_no_delay(on)
    }
    fn set_keep_alive(&self, on: bool) -> io::Result<()> {
        self.conn.upgrade().ok_or_else(gone)?.set_keep_alive(on)
    }
    fn register_producer(
        &self,
        producer: Rc<dyn Producer>,
        mode: ProducerMode,
    ) -> Result<(), ProducerError> {
        match self.conn.upgrade() {
            Some(c) => c.register_producer(producer, mode),
            None => {
                producer.stop_producing();
                Ok(())
            }
        }
    }
    fn unregister_producer(&self) {
        if let Some(c) = self.conn.upgrade() {
            c.unregister_producer();
        }
    }
    fn pause_producing(&self) {
        if let Some(c) = self.conn.upgrade() {
            c.pause_producing();
        }
    }
    fn resume_producing(&self) {
        if let Some(c) = self.conn.upgrade() {
            c.resume_producing();
        }
    }
    fn stop_producing(&self) {
        if let Some(c) = self.conn.upgrade() {
            c.stop_producing();
        }
    }
    fn set_write_buffer_limits(&self, high: usize, low: usize) {
        if let Some(c) = self.conn.upgrade() {
            c.set_write_buffer_limits(high, low);
        }
    }
    fn buffered(&self) -> usize {
        self.conn.upgrade().map_or(0, |c| c.buffered())
    }
    fn is_connected(&self) -> bool {
        self.conn.upgrade().is_some_and(|c| c.is_connected())
    }
    fn is_disconnecting(&self) -> bool {
        self.conn.upgrade().is_none_or(|c| c.is_disconnecting())
    }
    #[cfg(feature = "tls")]
    fn start_tls(&self, role: crate::net::TlsRole) -> io::Result<()> {
        self.conn.upgrade().ok_or_else(gone)?.start_tls(role)
    }
}
