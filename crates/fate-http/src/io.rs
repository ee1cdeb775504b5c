//! `Io<T>`: any futures-io stream as hyper's `Read`/`Write` (used for TLS streams).

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};

thread_local! {
    /// Scratch space for reads: hyper's cursor can only be filled from an initialised slice
    /// without `unsafe`, so reads land here and are copied (kept, so never re-zeroed).
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; 32 * 1024]);
}

/// Adapts a futures-io stream to hyper's I/O traits.
#[derive(Debug)]
pub(crate) struct Io<T>(pub(crate) T);

impl<T: AsyncRead + Unpin> hyper::rt::Read for Io<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let len = buf.remaining().min(scratch.len());
            match Pin::new(&mut self.0).poll_read(cx, &mut scratch[..len]) {
                Poll::Ready(Ok(n)) => {
                    buf.put_slice(&scratch[..n]);
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
    }
}

impl<T: AsyncWrite + Unpin> hyper::rt::Write for Io<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}
