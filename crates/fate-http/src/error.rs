//! `http::Error`: one opaque error for everything that can go wrong in a request or while
//! serving, with predicates to tell the cases apart (as hyper's and reqwest's).

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::time::Duration;

use http::StatusCode;

/// The boxed cause of an [`Error`].
type Source = Box<dyn StdError + Send + Sync>;

/// An HTTP failure: the URL was bad, the connection could not be made, a timeout passed, the
/// server answered with an error status, the body could not be read or decoded...
///
/// Ask what happened with the `is_*` predicates; the message names the URL when one is known.
///
/// # Examples
///
/// ```
/// let err = fate::http::Error::from_status(http::StatusCode::NOT_FOUND);
/// assert!(err.is_status());
/// assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND));
/// assert!(!err.is_timeout());
/// assert_eq!(err.to_string(), "HTTP status 404 Not Found");
/// ```
pub struct Error {
    kind: Kind,
    url: Option<String>,
    source: Option<Source>,
}

/// What went wrong; private so that cases can be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The URL or request could not be used (bad scheme, no host, bad header).
    Builder,
    /// No connection: refused, unresolvable host, TLS handshake failed.
    Connect,
    /// A timeout passed: which one.
    Timeout(Phase),
    /// The server's answer had an error status (only where that is an error: `get_page`).
    Status(StatusCode),
    /// Too many redirects, or one that cannot be followed.
    Redirect,
    /// Sending the request or reading the response failed (HTTP protocol or I/O).
    Transport,
    /// The body could not be decoded (gzip, deflate, br).
    Decode,
    /// A body was larger than allowed.
    TooLarge,
    /// Reading or writing a local file.
    File,
    /// The request was cancelled.
    Cancelled,
}

/// Which timeout passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Connect,
    Response,
    Idle,
    Total,
}

impl Error {
    pub(crate) fn new(kind: Kind) -> Error {
        Error {
            kind,
            url: None,
            source: None,
        }
    }

    pub(crate) fn with(kind: Kind, source: impl Into<Source>) -> Error {
        Error {
            kind,
            url: None,
            source: Some(source.into()),
        }
    }

    pub(crate) fn timeout(phase: Phase, after: Duration) -> Error {
        Error::with(
            Kind::Timeout(phase),
            format!("no progress within {after:?}"),
        )
    }

    /// An error for a response with `status` (what `get_page` fails with on a non-2xx answer).
    ///
    /// # Examples
    ///
    /// ```
    /// let err = fate::http::Error::from_status(http::StatusCode::BAD_GATEWAY);
    /// assert_eq!(err.status().map(|s| s.as_u16()), Some(502));
    /// ```
    pub fn from_status(status: StatusCode) -> Error {
        Error::new(Kind::Status(status))
    }

    /// Names the URL this error is about (shown in the message).
    pub(crate) fn for_url(mut self, url: impl fmt::Display) -> Error {
        if self.url.is_none() {
            self.url = Some(url.to_string());
        }
        self
    }

    /// The URL the error is about, if known.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = fate::http::Error::from_status(http::StatusCode::NOT_FOUND);
    /// assert_eq!(err.url(), None);
    /// ```
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Whether a timeout passed: connecting, waiting for the response, waiting for more of
    /// the body (idle), or the whole request.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, Kind::Timeout(_))
    }

    /// Whether the connection could not be made (refused, unresolvable, TLS handshake, or the
    /// connect timeout).
    pub fn is_connect(&self) -> bool {
        matches!(self.kind, Kind::Connect | Kind::Timeout(Phase::Connect))
    }

    /// Whether the server answered with an error status; see [`status`](Error::status).
    pub fn is_status(&self) -> bool {
        matches!(self.kind, Kind::Status(_))
    }

    /// Whether a redirect could not be followed (too many, or a body that cannot be resent).
    pub fn is_redirect(&self) -> bool {
        self.kind == Kind::Redirect
    }

    /// Whether the URL or request was unusable.
    pub fn is_builder(&self) -> bool {
        self.kind == Kind::Builder
    }

    /// Whether the response body could not be decoded.
    pub fn is_decode(&self) -> bool {
        self.kind == Kind::Decode
    }

    /// Whether a body exceeded its size limit.
    pub fn is_too_large(&self) -> bool {
        self.kind == Kind::TooLarge
    }

    /// Whether the request was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.kind == Kind::Cancelled
    }

    /// Whether sending the request or receiving the response failed midway.
    pub fn is_transport(&self) -> bool {
        self.kind == Kind::Transport
    }

    /// Whether a local file could not be read or written.
    pub fn is_file(&self) -> bool {
        self.kind == Kind::File
    }

    /// The error status, for [`is_status`](Error::is_status) errors.
    pub fn status(&self) -> Option<StatusCode> {
        match self.kind {
            Kind::Status(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Builder => f.write_str("invalid request")?,
            Kind::Connect => f.write_str("cannot connect")?,
            Kind::Timeout(Phase::Connect) => f.write_str("timed out connecting")?,
            Kind::Timeout(Phase::Response) => f.write_str("timed out waiting for the response")?,
            Kind::Timeout(Phase::Idle) => f.write_str("timed out waiting for more of the body")?,
            Kind::Timeout(Phase::Total) => f.write_str("the request took too long")?,
            Kind::Status(s) => write!(f, "HTTP status {s}")?,
            Kind::Redirect => f.write_str("cannot follow the redirect")?,
            Kind::Transport => f.write_str("connection failed during the request")?,
            Kind::Decode => f.write_str("cannot decode the body")?,
            Kind::TooLarge => f.write_str("body too large")?,
            Kind::File => f.write_str("file error")?,
            Kind::Cancelled => f.write_str("request cancelled")?,
        }
        if let Some(url) = &self.url {
            write!(f, " ({url})")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("http::Error");
        d.field("kind", &self.kind);
        if let Some(url) = &self.url {
            d.field("url", url);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

impl From<hyper::Error> for Error {
    fn from(e: hyper::Error) -> Error {
        // A hyper error may wrap one of ours (a timeout in a body we streamed).
        let kind = if e.is_timeout() {
            Kind::Timeout(Phase::Idle)
        } else {
            Kind::Transport
        };
        Error::with(kind, e)
    }
}

impl From<http::Error> for Error {
    fn from(e: http::Error) -> Error {
        Error::with(Kind::Builder, e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match e.kind {
            Kind::Timeout(_) => io::ErrorKind::TimedOut,
            Kind::TooLarge | Kind::Builder => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predicates_are_exclusive_and_connect_timeout_is_both() {
        let t = Error::timeout(Phase::Connect, Duration::from_secs(1));
        assert!(t.is_timeout() && t.is_connect() && !t.is_status());
        let i = Error::timeout(Phase::Idle, Duration::from_secs(1));
        assert!(i.is_timeout() && !i.is_connect());
        let c = Error::new(Kind::Connect).for_url("http://x/");
        assert!(c.is_connect() && !c.is_timeout());
        assert_eq!(c.to_string(), "cannot connect (http://x/)");
    }

    #[test]
    fn message_names_url_and_cause() {
        let e = Error::with(Kind::Decode, "bad gzip header").for_url("http://h/a");
        assert_eq!(
            e.to_string(),
            "cannot decode the body (http://h/a): bad gzip header"
        );
        assert!(e.source().is_some());
    }
}
