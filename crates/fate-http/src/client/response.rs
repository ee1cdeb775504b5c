//! `Response`: status and headers at once, the body streamed chunk by chunk with progress.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::client::decode::Decoder;
use crate::client::pool::Return;
use crate::error::{Error, Kind, Phase};

/// How much of a body has arrived: bytes as sent on the wire (before decoding) and the
/// announced `Content-Length`, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Body bytes received so far (encoded, as counted by `Content-Length`).
    pub received: u64,
    /// The announced length, if the server sent one.
    pub total: Option<u64>,
}

/// Decoded bytes allowed whatever the ratio: small bodies compress far better than large
/// ones.
const RATIO_GRACE: u64 = 1 << 20;

/// A response: status and headers are here; the body arrives as it is read
/// ([`chunk`](Response::chunk), [`bytes`](Response::bytes)), decoded if the server
/// compressed it.
///
/// # Cancellation
///
/// Dropping a response before its body was read to the end closes its connection (the
/// unread rest would otherwise corrupt the next response on it). Read to the end, the
/// connection goes back to the agent's pool.
pub struct Response {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) url: Uri,
    pub(crate) redirects: usize,
    /// `None` once the body ended.
    pub(crate) body: Option<Incoming>,
    pub(crate) decoder: Option<Decoder>,
    /// Decoded bytes handed out so far.
    pub(crate) decoded: u64,
    /// The most decoded bytes per received byte (past [`RATIO_GRACE`]).
    pub(crate) max_decode_ratio: Option<u32>,
    pub(crate) progress: Progress,
    /// Longest wait for the next chunk.
    pub(crate) idle_timeout: Option<Duration>,
    /// When the whole request must be over.
    pub(crate) deadline: Option<(Instant, Duration)>,
    /// The connection to give back at the end of the body.
    pub(crate) pool_return: Option<Return>,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version the server answered with (HTTP/2 after ALPN chose `h2`).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The headers. After decoding, `Content-Encoding` and `Content-Length` are removed
    /// (they described the encoded body).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL that answered, after redirects.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// How many redirects were followed to get here.
    pub fn redirects(&self) -> usize {
        self.redirects
    }

    /// How much of the body has arrived.
    pub fn progress(&self) -> Progress {
        self.progress
    }

    /// Turns a non-2xx status into an [`Error`] (whose `is_status()` holds), as Twisted's
    /// `getPage` did. The body is dropped (and the connection with it).
    ///
    /// # Errors
    ///
    /// If the status is not 2xx.
    pub fn error_for_status(self) -> Result<Response, Error> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(Error::from_status(self.status).for_url(&self.url))
        }
    }

    /// The next chunk of the (decoded) body, or `None` at its end.
    ///
    /// A decoded chunk is at most about 64 KiB whatever the compression ratio, so reading a
    /// body chunk by chunk takes bounded memory.
    ///
    /// # Errors
    ///
    /// The connection broke, the idle or total timeout passed, the body could not be
    /// decoded, or it decodes to more than the agent's
    /// [`max_decode_ratio`](crate::client::AgentBuilder::max_decode_ratio) times its
    /// size (`is_too_large`).
    ///
    /// # Cancellation
    ///
    /// Dropping the future loses nothing: the chunk it was waiting for is returned by the
    /// next call.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            if let Some(decoder) = self.decoder.as_mut().filter(|d| d.has_pending()) {
                let out = match decoder.pull() {
                    Ok(out) => out,
                    Err(e) => return Err(self.fail(Error::with(Kind::Decode, e))),
                };
                if out.is_empty() {
                    continue;
                }
                self.count_decoded(out.len())?;
                return Ok(Some(out));
            }
            let Some(body) = self.body.as_mut() else {
                return Ok(None);
            };
            let frame = match wait(body.frame(), self.idle_timeout, self.deadline).await {
                Ok(frame) => frame,
                Err(e) => return Err(self.fail(e)),
            };
            match frame {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    }; // trailers
                    self.progress.received += data.len() as u64;
                    match self.decoder.as_mut() {
                        Some(decoder) => decoder.feed(data),
                        None => return Ok(Some(data)),
                    }
                }
                Some(Err(e)) => return Err(self.fail(Error::from(e))),
                None => {
                    self.body = None;
                    if let Some(ret) = self.pool_return.take() {
                        ret.release();
                    }
                    if let Some(decoder) = self.decoder.take() {
                        let rest = decoder
                            .finish()
                            .map_err(|e| Error::with(Kind::Decode, e).for_url(&self.url))?;
                        if !rest.is_empty() {
                            self.count_decoded(rest.len())?;
                            return Ok(Some(rest));
                        }
                    }
                    return Ok(None);
                }
            }
        }
    }

    /// Ends the body with `error` (the connection is dropped with it).
    fn fail(&mut self, error: Error) -> Error {
        self.body = None;
        self.decoder = None;
        error.for_url(&self.url)
    }

    /// Counts `n` more decoded bytes against the ratio guard.
    fn count_decoded(&mut self, n: usize) -> Result<(), Error> {
        self.decoded += n as u64;
        let Some(ratio) = self.max_decode_ratio else {
            return Ok(());
        };
        let allowed = (u64::from(ratio) * self.progress.received).max(RATIO_GRACE);
        if self.decoded <= allowed {
            return Ok(());
        }
        let message = format!(
            "it decodes to over {ratio} times its size ({} bytes from {}): \
             refusing a likely decompression bomb",
            self.decoded, self.progress.received
        );
        Err(self.fail(Error::with(Kind::TooLarge, message)))
    }

    /// Reads the whole (decoded) body.
    ///
    /// # Errors
    ///
    /// As [`chunk`](Response::chunk).
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let mut all = BytesMut::new();
        if let Some(n) = self.progress.total {
            if self.decoder.is_none() {
                all.reserve(n.min(64 << 20) as usize);
            }
        }
        while let Some(chunk) = self.chunk().await? {
            if all.is_empty() && self.body.is_none() {
                return Ok(chunk); // the only chunk: no copy
            }
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }

    /// Reads the body as text (UTF-8, invalid sequences replaced).
    ///
    /// # Errors
    ///
    /// As [`chunk`](Response::chunk).
    pub async fn text(self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url)
            .field("status", &self.status)
            .field("version", &self.version)
            .field("headers", &self.headers)
            .field("progress", &self.progress)
            .finish()
    }
}

/// Awaits `fut` for at most `idle` and not past `deadline`; the error names which passed.
pub(crate) async fn wait<F: std::future::IntoFuture>(
    fut: F,
    idle: Option<Duration>,
    deadline: Option<(Instant, Duration)>,
) -> Result<F::Output, Error> {
    wait_phase(fut, idle.map(|d| (Phase::Idle, d)), deadline).await
}

/// As [`wait`], for a phase other than body idleness.
pub(crate) async fn wait_phase<F: std::future::IntoFuture>(
    fut: F,
    limit: Option<(Phase, Duration)>,
    deadline: Option<(Instant, Duration)>,
) -> Result<F::Output, Error> {
    let now = crate::rt::now();
    let total_left = deadline.map(|(at, total)| (at.saturating_duration_since(now), total));
    let (phase, wait, shown) = match (limit, total_left) {
        (None, None) => return Ok(fut.await),
        (Some((p, d)), None) => (p, d, d),
        (None, Some((left, total))) => (Phase::Total, left, total),
        (Some((p, d)), Some((left, total))) => {
            if d <= left {
                (p, d, d)
            } else {
                (Phase::Total, left, total)
            }
        }
    };
    fate_core::timeout(wait, fut)
        .await
        .map_err(|_| Error::timeout(phase, shown))
}
