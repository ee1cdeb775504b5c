//! Finding what a request names under a [`File`](super::File)'s root: run on the thread pool,
//! never on the reactor, because every step may wait for a disk (or, for a FIFO, for ever).
//!
//! # What is served
//!
//! Only regular files and directories. Anything else (a FIFO, a socket, a device) is not
//! found: it is recognised by `stat` and never opened. A file is opened with `O_NONBLOCK`
//! and `O_NOFOLLOW`, and the opened descriptor is checked again (`fstat`: a regular file, the
//! same device and inode as the `stat`), so a file swapped for a FIFO or a symlink between
//! the two calls is refused too, without blocking.
//!
//! # Errors as statuses
//!
//! Missing, not a directory, a symlink loop: 404. Permission denied: 403. Out of file
//! descriptors (`EMFILE`, `ENFILE`) or memory: 503, for the client to retry. Anything else:
//! 500, logged.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use http::StatusCode;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

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

/// What a [`File`](super::File) serves, as the thread pool needs it.
#[derive(Debug, Clone)]
pub(super) struct Config {
    pub(super) root: PathBuf,
    pub(super) listing: bool,
    pub(super) index: Vec<String>,
    pub(super) dotfiles: bool,
}

/// What a request found.
#[derive(Debug)]
pub(super) enum Found {
    /// A regular file, open for reading.
    File {
        file: fs::File,
        len: u64,
        modified: Option<SystemTime>,
        /// Its path, for its MIME type.
        path: PathBuf,
    },
    /// A directory's listing page (HTML).
    Listing(String),
    /// A directory asked for without its trailing slash.
    Directory,
    /// Nothing to serve: 404, 403, 503 or 500.
    Status(StatusCode),
}

impl Config {
    /// Finds what `relative` (a path already checked by `safe_relative`) names; `uri_path`
    /// is the request's path as sent, for a listing's title.
    pub(super) fn look_up(&self, relative: &Path, uri_path: &str) -> Found {
        self.try_look_up(relative, uri_path)
            .unwrap_or_else(|e| Found::Status(status_of(&e)))
    }

    fn try_look_up(&self, relative: &Path, uri_path: &str) -> io::Result<Found> {
        let root = self.root.canonicalize()?;
        let root_meta = fs::metadata(&root)?;
        if !root_meta.is_dir() {
            // A single file: served at `/` and under its own name, nowhere else.
            let own_name = root.file_name().map(Path::new);
            let is_it = relative.as_os_str().is_empty() || Some(relative) == own_name;
            return if is_it && root_meta.is_file() {
                open_file(&root, &root_meta)
            } else {
                Ok(Found::Status(StatusCode::NOT_FOUND))
            };
        }
        let path = root.join(relative).canonicalize()?;
        let Ok(inside) = path.strip_prefix(&root) else {
            return Ok(Found::Status(StatusCode::FORBIDDEN));
        };
        if !self.dotfiles && is_hidden(inside) {
            return Ok(Found::Status(StatusCode::NOT_FOUND));
        }
        let meta = fs::metadata(&path)?;
        if meta.is_file() {
            return open_file(&path, &meta);
        }
        if !meta.is_dir() {
            return Ok(Found::Status(StatusCode::NOT_FOUND));
        }
        if !uri_path.ends_with('/') {
            return Ok(Found::Directory);
        }
        for name in &self.index {
            let Ok(candidate) = path.join(name).canonicalize() else {
                continue;
            };
            let Ok(inside) = candidate.strip_prefix(&root) else {
                continue;
            };
            if !self.dotfiles && is_hidden(inside) {
                continue;
            }
            if let Ok(meta) = fs::metadata(&candidate) {
                if meta.is_file() {
                    return open_file(&candidate, &meta);
                }
            }
        }
        if !self.listing {
            return Ok(Found::Status(StatusCode::FORBIDDEN));
        }
        listing(&path, uri_path, self.dotfiles).map(Found::Listing)
    }
}

/// Whether a path (relative to the root) has a segment that starts with `.`.
pub(super) fn is_hidden(relative: &Path) -> bool {
    relative.components().any(|c| match c {
        Component::Normal(name) => name.as_encoded_bytes().first() == Some(&b'.'),
        _ => false,
    })
}

/// Opens the regular file `path` whose `stat` was `meta`, without ever blocking: see the
/// module docs.
fn open_file(path: &Path, meta: &fs::Metadata) -> io::Result<Found> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)?;
    let opened = file.metadata()?;
    if !opened.is_file() || opened.dev() != meta.dev() || opened.ino() != meta.ino() {
        return Ok(Found::Status(StatusCode::NOT_FOUND));
    }
    Ok(Found::File {
        len: opened.len(),
        modified: opened.modified().ok(),
        file,
        path: path.to_path_buf(),
    })
}

/// The status for a failed file system call.
fn status_of(e: &io::Error) -> StatusCode {
    match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG) => {
            StatusCode::NOT_FOUND
        }
        Some(libc::EACCES | libc::EPERM) => StatusCode::FORBIDDEN,
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM) => StatusCode::SERVICE_UNAVAILABLE,
        _ => {
            tracing::warn!("serving a file: {e}");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// An HTML page listing a directory (dotfiles left out unless `dotfiles`).
fn listing(dir: &Path, uri_path: &str, dotfiles: bool) -> io::Result<String> {
    let mut entries: Vec<(String, bool, u64)> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| {
            let meta = e.metadata().ok();
            (
                e.file_name().to_string_lossy().into_owned(),
                meta.as_ref().is_some_and(fs::Metadata::is_dir),
                meta.map_or(0, |m| m.len()),
            )
        })
        .filter(|(name, _, _)| dotfiles || !name.starts_with('.'))
        .collect();
    entries.sort();
    let title = escape(&percent_encoding::percent_decode_str(uri_path).decode_utf8_lossy());
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
    Ok(html)
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
    fn listing_escapes_names() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn a_segment_starting_with_a_dot_hides_the_path() {
        for (path, hidden) in [
            (".env", true),
            ("a/.git/config", true),
            ("a/b.c/d", false),
            ("x.", false),
            ("", false),
        ] {
            assert_eq!(is_hidden(Path::new(path)), hidden, "{path}");
        }
    }

    #[test]
    fn errors_map_to_statuses() {
        for (errno, status) in [
            (libc::ENOENT, 404),
            (libc::ENOTDIR, 404),
            (libc::ELOOP, 404),
            (libc::EACCES, 403),
            (libc::EMFILE, 503),
            (libc::ENFILE, 503),
            (libc::EIO, 500),
        ] {
            let e = io::Error::from_raw_os_error(errno);
            assert_eq!(status_of(&e).as_u16(), status, "{e}");
        }
    }
}
