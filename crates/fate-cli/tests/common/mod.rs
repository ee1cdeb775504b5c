//! What the CLI's test binaries share: a scratch directory, the first line a child prints,
//! and running a server test on one reactor and on two.
// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Child;

/// A directory removed when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// A fresh, empty directory named after `tag` and this test process.
    pub(crate) fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("fate-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// Writes `data` to `name` (parents created) and returns its path.
    pub(crate) fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        path
    }

    /// The names of the files in the directory, sorted.
    pub(crate) fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The first line `child` prints on its piped stdout (where a server says what it listens on).
pub(crate) fn first_line(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line
}

/// Runs `$check(threads)` as one test per mode, `fate web` (or `echo`) on one reactor and with
/// `--threads 2`, so both modes run side by side.
// Not every test binary that shares this module runs servers.
#[allow(unused_macros)]
macro_rules! on_one_and_two_threads {
    ($check:ident: $one:ident, $two:ident) => {
        #[test]
        fn $one() {
            $check(1);
        }

        #[test]
        fn $two() {
            $check(2);
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_one_and_two_threads;
