//! Where each download is saved: its file name from the URL, and a name in the output
//! directory that no other download of the run, no existing file and no partial download
//! holds (wget's convention: `f`, then `f.1`, `f.2`...).
//!
//! While it runs, a download is written to `NAME.part`; a name ending in `.part` is never a
//! target, so a partial file can never be (or overwrite) another download's result.
//!
//! This module depends on std and `url` only (the fuzz targets include it by path).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use url::Url;

/// What partial downloads are named: `NAME.part`.
pub(crate) const PARTIAL_SUFFIX: &str = ".part";

/// The file name a URL saves to: its last path segment, percent-decoded, with `/`, `\` and
/// control characters made `_`; `index.html` when that is empty, `.` or `..`.
pub(crate) fn file_name(url: &Url) -> String {
    let last = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .unwrap_or_default();
    let decoded = percent_encoding::percent_decode_str(last).decode_utf8_lossy();
    let safe: String = decoded
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if safe.is_empty() || safe == "." || safe == ".." {
        "index.html".to_string()
    } else {
        safe
    }
}

/// The partial file of a target: `NAME.part` beside it.
pub(crate) fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(PARTIAL_SUFFIX);
    target.with_file_name(name)
}

/// Hands out target names in one directory.
#[derive(Debug)]
pub(crate) struct Names {
    dir: PathBuf,
    /// Overwrite existing files (`--force`): only this run's own names are avoided.
    force: bool,
    /// Names handed out in this run.
    taken: HashSet<String>,
}

impl Names {
    /// Names in `dir`; with `force`, existing files do not make a name taken.
    pub(crate) fn new(dir: &Path, force: bool) -> Names {
        Names {
            dir: dir.to_path_buf(),
            force,
            taken: HashSet::new(),
        }
    }

    /// A target for a download whose file name is `base`: `base`, else `base.1`,
    /// `base.2`... — the first that ends not in `.part`, was not handed out before, and
    /// (unless forced) is not on disk, neither itself nor its partial file.
    pub(crate) fn claim(&mut self, base: &str) -> PathBuf {
        let mut n = 0u64;
        loop {
            let name = if n == 0 {
                base.to_string()
            } else {
                format!("{base}.{n}")
            };
            n += 1;
            if name.ends_with(PARTIAL_SUFFIX) || self.taken.contains(&name) {
                continue;
            }
            let path = self.dir.join(&name);
            if !self.force && (exists(&path) || exists(&partial_path(&path))) {
                continue;
            }
            self.taken.insert(name);
            return path;
        }
    }
}

/// Whether anything is at `path`, a dangling symlink included.
fn exists(path: &Path) -> bool {
    path.symlink_metadata().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_to_safe_file_names() {
        // (URL, file name)
        let table = [
            ("http://h/a/b.iso", "b.iso"),
            ("http://h/", "index.html"),
            ("http://h", "index.html"),
            ("http://h/dir/", "index.html"),
            ("http://h/x.txt?y=1#z", "x.txt"),
            ("http://h/with%20space", "with space"),
            ("http://h/%2e%2e", "index.html"),
            ("http://h/a/..", "index.html"),
            ("http://h/a%2fb", "a_b"),
            ("http://h/a%5cb%00c", "a_b_c"),
            ("http://h/f.part", "f.part"),
        ];
        for (url, name) in table {
            assert_eq!(file_name(&Url::parse(url).unwrap()), name, "{url}");
        }
    }

    #[test]
    fn names_are_distinct_and_never_partial() {
        let mut names = Names::new(Path::new("/nonexistent-fate-dir"), false);
        // (file name, target handed out)
        let table = [
            ("f", "f"),
            ("f", "f.1"),
            ("f.part", "f.part.1"),
            ("f", "f.2"),
            ("f.1", "f.1.1"),
        ];
        for (base, want) in table {
            assert_eq!(
                names.claim(base),
                Path::new("/nonexistent-fate-dir").join(want),
                "{base}"
            );
        }
        assert_eq!(
            partial_path(Path::new("d/f.iso")),
            Path::new("d/f.iso.part")
        );
    }
}
