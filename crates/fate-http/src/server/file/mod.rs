//! `File`: serves a directory tree (Twisted's `static.File`), with ranges, conditional
//! requests, MIME types and directory listings, and no way out of its root.
//!
//! # Staying inside the root
//!
//! The site percent-decodes segments before the walk, so `%2e%2e` arrives here as `..`.
//! Segments that are `.` or `..`, or that hold `/`, `\` or NUL (an encoded `%2f` or `%00`),
//! are refused with 400. The path that remains is resolved with symlinks followed
//! (`canonicalize`) and must still be under the root's own resolved path, so a symlink
//! inside the root that points out of it gives 403. Unless [`File::dotfiles`] allows them, a
//! path with a segment starting with `.` (`.env`, `.git/`), asked for or reached through a
//! symlink, is not found, and listings leave such names out.
//!
//! # Never blocking the reactor
//!
//! Everything that touches the file system — resolving the path, `stat`, opening, listing —
//! runs on the thread pool ([`lookup`]), and a file's body is read there too, a chunk at a
//! time, only when the connection has taken the previous one ([`Body::file`]). Only regular
//! files and directories are served: a FIFO, socket or device is not found, and is never
//! opened for reading. Out of file descriptors, a request gets 503 with `Retry-After`.

mod lookup;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{header, HeaderMap, HeaderValue, Method, StatusCode};

use crate::body::Body;
use crate::server::resource::{postpath, text_response, Reply, Request, Resource, Response};
use lookup::{is_hidden, Config, Found};

/// How long a client is asked to wait (`Retry-After`, in seconds) when the server is out of
/// file descriptors.
const RETRY_AFTER: &str = "1";

/// Serves the files under a directory.
///
/// # Examples
///
/// ```no_run
/// use fate::http::server::{File, Site};
///
/// fate::run(|| {
///     let site = Site::new(File::new("/var/www"));
///     let listening = site.listen("127.0.0.1:8080".parse().unwrap()).unwrap();
///     println!("serving on {}", listening.local_addr());
/// })
/// .unwrap();
/// ```
pub struct File {
    /// Shared with the lookups running on the thread pool.
    config: Arc<Config>,
}

impl File {
    /// Serves `root`: a directory, with directory listings and `index.html` as the index
    /// file; or a single file, at `/` and under its own name.
    pub fn new(root: impl Into<PathBuf>) -> File {
        File {
            config: Arc::new(Config {
                root: root.into(),
                listing: true,
                index: vec!["index.html".into()],
                dotfiles: false,
            }),
        }
    }

    /// Whether directories without an index file are listed (else 403). Default on.
    #[must_use]
    pub fn directory_listing(mut self, on: bool) -> File {
        Arc::make_mut(&mut self.config).listing = on;
        self
    }

    /// The file names tried, in order, for a directory's own page. Default `index.html`.
    #[must_use]
    pub fn index_files(mut self, names: &[&str]) -> File {
        Arc::make_mut(&mut self.config).index = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// Whether paths with a segment that starts with `.` (`.env`, `.git/config`) are
    /// served and listed. Default off: they are not found, as if absent.
    ///
    /// # Examples
    ///
    /// ```
    /// let site_with_dotfiles = fate::http::server::File::new("./public").dotfiles(true);
    /// # drop(site_with_dotfiles);
    /// ```
    #[must_use]
    pub fn dotfiles(mut self, on: bool) -> File {
        Arc::make_mut(&mut self.config).dotfiles = on;
        self
    }

    fn serve(&self, request: Request) -> Reply {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut r = text_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed".into());
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r.into();
        }
        let Some(relative) = safe_relative(postpath(&request)) else {
            return Reply::text(StatusCode::BAD_REQUEST, "bad path");
        };
        if !self.config.dotfiles && is_hidden(&relative) {
            return not_found().into();
        }
        let config = self.config.clone();
        let uri_path = request.uri().path().to_string();
        let found = fate_core::defer_to_thread(move || config.look_up(&relative, &uri_path));
        Reply::future(async move {
            match found.await {
                Ok(found) => respond(&request, found),
                Err(failure) => {
                    tracing::error!("looking up a file: {failure}");
                    text_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal server error".into(),
                    )
                }
            }
        })
    }
}

impl Resource for File {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: Request) -> Reply {
        self.serve(request)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("root", &self.config.root)
            .field("listing", &self.config.listing)
            .field("dotfiles", &self.config.dotfiles)
            .finish()
    }
}

fn not_found() -> Response {
    text_response(StatusCode::NOT_FOUND, "not found".into())
}

/// The response to `request` for what its lookup found.
fn respond(request: &Request, found: Found) -> Response {
    match found {
        Found::File {
            file,
            len,
            modified,
            path,
        } => serve_file(request, file, len, modified, &path),
        Found::Listing(html) => {
            let mut r = http::Response::new(Body::from(html));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
        Found::Directory => {
            let mut location = format!("{}/", request.uri().path());
            if let Some(q) = request.uri().query() {
                location = format!("{location}?{q}");
            }
            let mut r = text_response(StatusCode::MOVED_PERMANENTLY, "moved".into());
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Found::Status(StatusCode::SERVICE_UNAVAILABLE) => {
            let mut r = text_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "out of resources, try again".into(),
            );
            let headers = r.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
            // The connection's descriptor is better given back.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
        Found::Status(status) => {
            let text = status.canonical_reason().unwrap_or("error").to_lowercase();
            text_response(status, text)
        }
    }
}

fn serve_file(
    request: &Request,
    file: std::fs::File,
    len: u64,
    modified: Option<SystemTime>,
    path: &std::path::Path,
) -> Response {
    let etag = etag(len, modified);
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if let Some(m) = modified {
        if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(m)) {
            headers.insert(header::LAST_MODIFIED, v);
        }
    }
    if not_modified(request.headers(), &etag, modified) {
        return with_headers(StatusCode::NOT_MODIFIED, headers, Body::empty());
    }
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let content_type = match mime.type_() {
        mime_guess::mime::TEXT => format!("{mime}; charset=utf-8"),
        _ => mime.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    let range = request
        .headers()
        .get(header::RANGE)
        .filter(|_| if_range_holds(request.headers(), &etag, modified))
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len));
    let (status, start, count) = match range {
        None | Some(Range::Ignore) => (StatusCode::OK, 0, len),
        Some(Range::Unsatisfiable) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            let mut r = text_response(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range not satisfiable".into(),
            );
            r.headers_mut().extend(headers);
            return r;
        }
        Some(Range::Bytes(start, end)) => {
            let v = format!("bytes {start}-{end}/{len}");
            if let Ok(v) = HeaderValue::from_str(&v) {
                headers.insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if request.method() == Method::HEAD {
        return with_headers(status, headers, Body::empty());
    }
    with_headers(
        status,
        headers,
        Body::file_range(Arc::new(file), start, count),
    )
}

fn with_headers(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut r = http::Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

/// The relative path of decoded `segments`, or `None` if one could leave the directory.
fn safe_relative(segments: &[String]) -> Option<PathBuf> {
    let mut path = PathBuf::new();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            if i + 1 == segments.len() {
                continue; // the trailing slash of a directory
            }
            return None;
        }
        if seg == "." || seg == ".." || seg.contains(['/', '\\', '\0']) {
            return None;
        }
        path.push(seg);
    }
    Some(path)
}

/// A validator that changes when the file does: length and modification time.
fn etag(len: u64, modified: Option<SystemTime>) -> String {
    let nanos = modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{len:x}-{nanos:x}\"")
}

/// Whether the client's copy is current (If-None-Match wins over If-Modified-Since).
fn not_modified(headers: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        return inm
            .split(',')
            .map(|t| t.trim().trim_start_matches("W/"))
            .any(|t| t == "*" || t == etag);
    }
    let since = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    match (since, modified) {
        (Some(since), Some(modified)) => {
            let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            secs(modified) <= secs(since)
        }
        _ => false,
    }
}

/// Whether an `If-Range` (if any) still matches, so the range applies.
fn if_range_holds(headers: &HeaderMap, etag: &str, modified: Option<SystemTime>) -> bool {
    let Some(v) = headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if v.starts_with('"') {
        return v == etag;
    }
    match (httpdate::parse_http_date(v), modified) {
        (Ok(date), Some(m)) => {
            let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            secs(m) == secs(date)
        }
        _ => false,
    }
}

/// A `Range` header, applied to a file of some length.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Send these bytes (inclusive).
    Bytes(u64, u64),
    /// 416: no byte of the file is in the range.
    Unsatisfiable,
    /// Send the whole file (a malformed header, another unit, or several ranges).
    Ignore,
}

fn parse_range(header: &str, len: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Range::Ignore;
    };
    if spec.contains(',') {
        return Range::Ignore;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Ignore;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        (true, true) => Range::Ignore,
        (true, false) => match parse(last) {
            Some(0) => Range::Unsatisfiable,
            Some(_) if len == 0 => Range::Unsatisfiable,
            Some(n) => Range::Bytes(len.saturating_sub(n), len - 1),
            None => Range::Ignore,
        },
        (false, _) => {
            let Some(start) = parse(first) else {
                return Range::Ignore;
            };
            let end = if last.is_empty() {
                Some(u64::MAX)
            } else {
                parse(last)
            };
            match end {
                None => Range::Ignore,
                Some(end) if end < start => Range::Ignore,
                Some(_) if start >= len => Range::Unsatisfiable,
                Some(end) => Range::Bytes(start, end.min(len - 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_against_a_length() {
        // (header, file length, expected)
        let table = [
            ("bytes=0-99", 1000, Range::Bytes(0, 99)),
            ("bytes=500-", 1000, Range::Bytes(500, 999)),
            ("bytes=-100", 1000, Range::Bytes(900, 999)),
            ("bytes=-5000", 1000, Range::Bytes(0, 999)),
            ("bytes=990-2000", 1000, Range::Bytes(990, 999)),
            ("bytes=1000-", 1000, Range::Unsatisfiable),
            ("bytes=-0", 1000, Range::Unsatisfiable),
            ("bytes=0-", 0, Range::Unsatisfiable),
            ("bytes=5-1", 1000, Range::Ignore),
            ("bytes=0-1,5-6", 1000, Range::Ignore),
            ("items=0-1", 1000, Range::Ignore),
            ("bytes=x-1", 1000, Range::Ignore),
            ("bytes=-", 1000, Range::Ignore),
        ];
        for (header, len, want) in table {
            assert_eq!(parse_range(header, len), want, "{header} of {len}");
        }
    }

    #[test]
    fn escaping_segments_are_refused() {
        let seg = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            safe_relative(&seg(&["a", "b.txt"])),
            Some(PathBuf::from("a/b.txt"))
        );
        assert_eq!(
            safe_relative(&seg(&["dir", ""])),
            Some(PathBuf::from("dir"))
        );
        for bad in [
            &["..", "etc", "passwd"][..],
            &["a", "..", "..", "x"],
            &["."],
            &["a/../../x"],
            &["a\\..\\x"],
            &["a\0"],
            &["a", "", "b"],
        ] {
            assert_eq!(safe_relative(&seg(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn conditional_requests_compare_etag_then_date() {
        let modified = UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let tag = etag(10, Some(modified));
        let mut h = HeaderMap::new();
        assert!(!not_modified(&h, &tag, Some(modified)));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&tag).unwrap());
        assert!(not_modified(&h, &tag, Some(modified)));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_str(&httpdate::fmt_http_date(modified)).unwrap(),
        );
        assert!(
            !not_modified(&h, &tag, Some(modified)),
            "If-None-Match wins"
        );
        h.remove(header::IF_NONE_MATCH);
        assert!(not_modified(&h, &tag, Some(modified)));
        let earlier = modified - std::time::Duration::from_secs(1);
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_str(&httpdate::fmt_http_date(earlier)).unwrap(),
        );
        assert!(!not_modified(&h, &tag, Some(modified)));
    }
}
