//! `File`: serves a directory tree (Twisted's `static.File`), with ranges, conditional
//! requests, MIME types and directory listings, and no way out of its root.
//!
//! # Staying inside the root
//!
//! The site percent-decodes segments before the walk, so `%2e%2e` arrives here as `..`.
//! Segments that are `.` or `..`, or that hold `/`, `\` or NUL (an encoded `%2f` or `%00`),
//! are refused with 400. The path that remains is resolved with symlinks followed
//! (`canonicalize`) and must still be under the root's own resolved path, so a symlink
//! inside the root that points out of it gives 403.
//!
//! Files are read with blocking reads on the reactor thread, a 64 KiB chunk per write to
//! the connection (as Twisted's `FileSender`): fine for local disks, not for network mounts.

use std::fmt;
use std::fs;
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::body::Body;
use crate::server::resource::{postpath, text_response, Reply, Request, Resource, Response};

/// Characters escaped in listing links.
const LINK: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

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
    root: PathBuf,
    listing: bool,
    index: Vec<String>,
}

impl File {
    /// Serves `root` (a directory, or a single file), with directory listings and
    /// `index.html` as the index file.
    pub fn new(root: impl Into<PathBuf>) -> File {
        File {
            root: root.into(),
            listing: true,
            index: vec!["index.html".into()],
        }
    }

    /// Whether directories without an index file are listed (else 403). Default on.
    #[must_use]
    pub fn directory_listing(mut self, on: bool) -> File {
        self.listing = on;
        self
    }

    /// The file names tried, in order, for a directory's own page. Default `index.html`.
    #[must_use]
    pub fn index_files(mut self, names: &[&str]) -> File {
        self.index = names.iter().map(|n| n.to_string()).collect();
        self
    }

    fn serve(&self, request: &Request) -> Response {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut r = text_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed".into());
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let segments = postpath(request);
        let Some(relative) = safe_relative(segments) else {
            return text_response(StatusCode::BAD_REQUEST, "bad path".into());
        };
        let Ok(root) = self.root.canonicalize() else {
            return text_response(StatusCode::NOT_FOUND, "not found".into());
        };
        let Ok(path) = root.join(&relative).canonicalize() else {
            return text_response(StatusCode::NOT_FOUND, "not found".into());
        };
        if !path.starts_with(&root) {
            return text_response(StatusCode::FORBIDDEN, "forbidden".into());
        }
        let Ok(meta) = path.metadata() else {
            return text_response(StatusCode::NOT_FOUND, "not found".into());
        };
        if !meta.is_dir() {
            return self.serve_file(request, &path, &meta);
        }
        if !request.uri().path().ends_with('/') {
            let mut location = format!("{}/", request.uri().path());
            if let Some(q) = request.uri().query() {
                location = format!("{location}?{q}");
            }
            let mut r = text_response(StatusCode::MOVED_PERMANENTLY, "moved".into());
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            return r;
        }
        for name in &self.index {
            let candidate = path.join(name);
            if let Ok(meta) = candidate.metadata() {
                if meta.is_file() {
                    return self.serve_file(request, &candidate, &meta);
                }
            }
        }
        if !self.listing {
            return text_response(StatusCode::FORBIDDEN, "forbidden".into());
        }
        listing(request, &path)
    }

    fn serve_file(&self, request: &Request, path: &Path, meta: &fs::Metadata) -> Response {
        let len = meta.len();
        let modified = meta.modified().ok();
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
        let file = fs::File::open(path).and_then(|mut f| {
            f.seek(SeekFrom::Start(start))?;
            Ok(f)
        });
        match file {
            Ok(f) => with_headers(status, headers, Body::file(f, count)),
            Err(e) => {
                tracing::warn!("cannot open {}: {e}", path.display());
                text_response(StatusCode::FORBIDDEN, "forbidden".into())
            }
        }
    }
}

impl Resource for File {
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: Request) -> Reply {
        self.serve(&request).into()
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File")
            .field("root", &self.root)
            .field("listing", &self.listing)
            .finish()
    }
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

/// An HTML page listing a directory.
fn listing(request: &Request, dir: &Path) -> Response {
    let mut entries: Vec<(String, bool, u64)> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .map(|e| {
                let meta = e.metadata().ok();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    meta.as_ref().is_some_and(fs::Metadata::is_dir),
                    meta.map_or(0, |m| m.len()),
                )
            })
            .collect(),
        Err(_) => return text_response(StatusCode::FORBIDDEN, "forbidden".into()),
    };
    entries.sort();
    let title =
        escape(&percent_encoding::percent_decode_str(request.uri().path()).decode_utf8_lossy());
    let mut html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Directory listing for {title}</title></head>\n\
         <body><h1>Directory listing for {title}</h1>\n<table>\n<tr><th>Name</th><th>Size</th></tr>\n"
    );
    for (name, is_dir, size) in entries {
        let slash = if is_dir { "/" } else { "" };
        let href = utf8_percent_encode(&name, LINK);
        let size = if is_dir {
            String::from("-")
        } else {
            size.to_string()
        };
        html.push_str(&format!(
            "<tr><td><a href=\"{href}{slash}\">{}{slash}</a></td><td>{size}</td></tr>\n",
            escape(&name)
        ));
    }
    html.push_str("</table>\n</body></html>\n");
    let mut r = http::Response::new(Body::from(html));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
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

    #[test]
    fn listing_escapes_names() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
