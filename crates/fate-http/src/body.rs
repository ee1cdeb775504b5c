//! `Body`: the body of a request or response — empty, bytes, a file, a channel fed by a
//! task, or any `http_body::Body`.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::fs::File;
use std::future::{Future, IntoFuture};
use std::io::{self, Seek};
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use fate_deferred::DeferredFuture;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

use crate::error::{Error, Kind};

/// How much of a file one frame carries (one read on the thread pool).
const FILE_CHUNK: u64 = 64 * 1024;

/// A request or response body: bytes known up front, a file, or a stream.
///
/// # Examples
///
/// ```
/// use fate::http::Body;
///
/// let body = Body::from("hello");
/// let bytes = fate::block_on(body.bytes()).unwrap().unwrap();
/// assert_eq!(&bytes[..], b"hello");
/// ```
pub struct Body {
    kind: BodyKind,
    /// Told when the body is dropped (a server learns that hyper has taken a response).
    on_drop: Option<DropSignal>,
}

/// Told when a [`Body`] is dropped.
pub(crate) trait Dropped {
    fn dropped(&self);
}

/// Calls [`Dropped::dropped`] when dropped itself.
struct DropSignal(Rc<dyn Dropped>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        self.0.dropped();
    }
}

enum BodyKind {
    Full(Option<Bytes>),
    /// Read from a file a chunk at a time on the thread pool, each chunk only once the
    /// previous one was taken (Twisted's `FileSender`, off the loop): `remaining` bytes from
    /// `offset`.
    File(FileBody),
    Channel(Rc<Channel>),
    Boxed(Pin<Box<dyn http_body::Body<Data = Bytes, Error = Error>>>),
}

impl Body {
    /// An empty body.
    ///
    /// # Examples
    ///
    /// ```
    /// use http_body::Body as _;
    /// assert!(fate::http::Body::empty().is_end_stream());
    /// ```
    pub fn empty() -> Body {
        Body::of(BodyKind::Full(None))
    }

    /// `len` bytes of `file` (a regular file), from its current position, read as the body
    /// is sent: a chunk of 64 KiB at a time on the thread pool
    /// ([`defer_to_thread`](fate_core::threads::defer_to_thread)), the next one only when
    /// the previous one was taken, so the reactor never waits for the disk, and a body
    /// dropped (the connection gone) reads at most the chunk already asked for.
    ///
    /// # Panics
    ///
    /// When polled on a thread without a reactor (the pool delivers each chunk to the
    /// reactor of the thread that asked for it).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// let file = std::fs::File::open("Cargo.toml").unwrap();
    /// let len = file.metadata().unwrap().len();
    /// let body = fate::http::Body::file(file, len);
    /// ```
    pub fn file(mut file: File, len: u64) -> Body {
        let offset = file.stream_position().unwrap_or(0);
        Body::file_range(Arc::new(file), offset, len)
    }

    /// `len` bytes of `file` from `offset`, read as [`Body::file`] does.
    pub(crate) fn file_range(file: Arc<File>, offset: u64, len: u64) -> Body {
        Body::of(BodyKind::File(FileBody {
            file,
            offset,
            remaining: len,
            reading: None,
        }))
    }

    /// A streaming body fed through the returned [`BodySender`]: each `send` waits until the
    /// previous chunk was taken, so a slow peer slows the sender down.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, body) = fate::http::Body::channel();
    /// let all = fate::block_on(async move {
    ///     fate::spawn_local(async move {
    ///         tx.send("a".into()).await.unwrap();
    ///         tx.send("b".into()).await.unwrap();
    ///     })
    ///     .detach();
    ///     body.bytes().await
    /// });
    /// assert_eq!(&all.unwrap().unwrap()[..], b"ab");
    /// ```
    pub fn channel() -> (BodySender, Body) {
        let channel = Rc::new(Channel::default());
        (
            BodySender {
                channel: channel.clone(),
            },
            Body::of(BodyKind::Channel(channel)),
        )
    }

    /// Wraps any body whose errors convert into [`Error`].
    pub fn wrap<B>(body: B) -> Body
    where
        B: http_body::Body<Data = Bytes> + 'static,
        B::Error: Into<Error>,
    {
        Body::of(BodyKind::Boxed(Box::pin(body.map_err(Into::into))))
    }

    fn of(kind: BodyKind) -> Body {
        Body {
            kind,
            on_drop: None,
        }
    }

    /// Has `to` told when this body is dropped.
    pub(crate) fn on_drop(&mut self, to: Rc<dyn Dropped>) {
        self.on_drop = Some(DropSignal(to));
    }

    /// Reads the whole body.
    ///
    /// # Errors
    ///
    /// What the stream failed with (a broken connection, a size limit, a timeout).
    pub async fn bytes(self) -> Result<Bytes, Error> {
        Ok(self.collect().await?.to_bytes())
    }

    /// The bytes, for a body that holds them (and so can be sent again on a redirect).
    pub(crate) fn replayable(&self) -> Option<Bytes> {
        match &self.kind {
            BodyKind::Full(b) => Some(b.clone().unwrap_or_default()),
            _ => None,
        }
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            BodyKind::Full(b) => return f.debug_tuple("Body").field(b).finish(),
            BodyKind::File(file) => {
                return f
                    .debug_struct("Body")
                    .field("file_bytes", &file.remaining)
                    .finish()
            }
            BodyKind::Channel(_) => "channel",
            BodyKind::Boxed(_) => "stream",
        };
        f.debug_tuple("Body").field(&kind).finish()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body::of(BodyKind::Full((!b.is_empty()).then_some(b)))
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::from(Bytes::from(v))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Body::from(Bytes::from_static(s))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match &mut self.get_mut().kind {
            BodyKind::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            BodyKind::File(file) => file.poll_chunk(cx),
            BodyKind::Channel(ch) => ch.poll_recv(cx),
            BodyKind::Boxed(b) => b.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Full(b) => b.is_none(),
            BodyKind::File(file) => file.remaining == 0,
            BodyKind::Channel(_) => false,
            BodyKind::Boxed(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            BodyKind::File(file) => SizeHint::with_exact(file.remaining),
            BodyKind::Channel(_) => SizeHint::default(),
            BodyKind::Boxed(b) => b.size_hint(),
        }
    }
}

/// A file body's state: what is left to send, and the chunk being read, if any.
struct FileBody {
    file: Arc<File>,
    /// Where the next chunk starts.
    offset: u64,
    /// Bytes still to send (the chunk being read included).
    remaining: u64,
    /// The read on the thread pool, once the body was polled for a chunk; dropping it
    /// (with the body) leaves the read to finish and its bytes to be dropped.
    reading: Option<DeferredFuture<io::Result<Bytes>>>,
}

impl FileBody {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let reading = self.reading.get_or_insert_with(|| {
            let (file, offset) = (self.file.clone(), self.offset);
            let len = self.remaining.min(FILE_CHUNK) as usize;
            fate_core::defer_to_thread(move || read_chunk(&file, offset, len)).into_future()
        });
        let read = match Pin::new(reading).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(read) => read,
        };
        self.reading = None;
        let chunk = match read {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => return Poll::Ready(Some(Err(Error::with(Kind::File, e)))),
            Err(failure) => {
                return Poll::Ready(Some(Err(Error::with(Kind::File, failure.to_string()))))
            }
        };
        self.offset += chunk.len() as u64;
        self.remaining -= chunk.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }
}

/// Reads `len` bytes at `offset` (on a pool thread); fails if the file ends first.
fn read_chunk(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    let mut chunk = vec![0; len];
    file.read_exact_at(&mut chunk, offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(e.kind(), "the file is shorter than announced")
        } else {
            e
        }
    })?;
    Ok(chunk.into())
}

/// The state a [`BodySender`] and its body share: one chunk in flight.
#[derive(Default)]
struct Channel {
    slot: RefCell<Option<Bytes>>,
    /// The sender finished (dropped) or aborted.
    done: Cell<bool>,
    aborted: RefCell<Option<String>>,
    /// The body was dropped: sends fail.
    closed: Cell<bool>,
    receiver: RefCell<Option<Waker>>,
    sender: RefCell<Option<Waker>>,
}

impl Channel {
    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if let Some(chunk) = self.slot.borrow_mut().take() {
            if let Some(w) = self.sender.borrow_mut().take() {
                w.wake();
            }
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if let Some(why) = self.aborted.borrow_mut().take() {
            return Poll::Ready(Some(Err(Error::with(Kind::Transport, why))));
        }
        if self.done.get() {
            return Poll::Ready(None);
        }
        *self.receiver.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }

    fn wake_receiver(&self) {
        if let Some(w) = self.receiver.borrow_mut().take() {
            w.wake();
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let BodyKind::Channel(ch) = &self.kind {
            ch.closed.set(true);
            if let Some(w) = ch.sender.borrow_mut().take() {
                w.wake();
            }
        }
    }
}

/// The feeding end of [`Body::channel`]. Dropping it ends the body cleanly; [`abort`]
/// ends it with an error (the peer sees a broken body, not a short one).
///
/// [`abort`]: BodySender::abort
pub struct BodySender {
    channel: Rc<Channel>,
}

impl BodySender {
    /// Sends one chunk, waiting until the previous one was taken.
    ///
    /// # Errors
    ///
    /// Gives the chunk back if the body was dropped (the request or connection went away).
    pub fn send(&self, chunk: Bytes) -> Send<'_> {
        Send {
            channel: &self.channel,
            chunk: Some(chunk),
        }
    }

    /// Ends the body with an error.
    pub fn abort(self, why: impl fmt::Display) {
        *self.channel.aborted.borrow_mut() = Some(why.to_string());
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        self.channel.done.set(true);
        self.channel.wake_receiver();
    }
}

impl fmt::Debug for BodySender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodySender")
            .field("closed", &self.channel.closed.get())
            .finish()
    }
}

/// The future of [`BodySender::send`].
#[must_use = "the chunk is sent only when this is awaited"]
pub struct Send<'a> {
    channel: &'a Channel,
    chunk: Option<Bytes>,
}

impl Future for Send<'_> {
    type Output = Result<(), Bytes>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Bytes>> {
        let channel = self.channel;
        if channel.closed.get() {
            return Poll::Ready(Err(self.chunk.take().unwrap_or_default()));
        }
        let Some(chunk) = self.chunk.take() else {
            return Poll::Ready(Ok(()));
        };
        if channel.slot.borrow().is_some() {
            self.chunk = Some(chunk);
            *channel.sender.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        *channel.slot.borrow_mut() = Some(chunk);
        channel.wake_receiver();
        Poll::Ready(Ok(()))
    }
}

impl fmt::Debug for Send<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Send").field("chunk", &self.chunk).finish()
    }
}
