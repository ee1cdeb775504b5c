//! Saving one download: the bytes go to `NAME.part`, created new (never through a symlink,
//! never over an existing file), and only a complete download becomes `NAME` — without
//! replacing an existing file unless forced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::commands::get::names::partial_path;

/// A download being written: its partial file, removed on drop unless it was kept.
#[derive(Debug)]
pub(crate) struct Partial {
    file: File,
    path: PathBuf,
    target: PathBuf,
    force: bool,
    /// Bytes written so far.
    written: u64,
    /// Once renamed into place, drop has nothing to clean.
    done: bool,
}

impl Partial {
    /// Creates `TARGET.part` with `O_EXCL | O_NOFOLLOW`: if anything is there (a stale
    /// partial file, a planted symlink), this fails, unless `force` allows removing it
    /// first (a symlink is removed, not followed).
    ///
    /// # Errors
    ///
    /// The partial file exists (without `force`) or cannot be created.
    pub(crate) fn create(target: &Path, force: bool) -> io::Result<Partial> {
        let path = partial_path(target);
        if force {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o666)
            .open(&path)?;
        Ok(Partial {
            file,
            path,
            target: target.to_path_buf(),
            force,
            written: 0,
            done: false,
        })
    }

    /// The partial file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Appends `data`.
    ///
    /// # Errors
    ///
    /// The write failed (disk full...).
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.written += data.len() as u64;
        Ok(())
    }

    /// Moves the complete download to its target. Without `force` an existing target is
    /// kept: the move fails and the data stays in the partial file.
    ///
    /// # Errors
    ///
    /// The target exists (without `force`), or the rename or link failed; the partial file
    /// is then kept.
    pub(crate) fn finish(mut self) -> io::Result<PathBuf> {
        self.file.flush()?;
        // From here on the partial file holds a whole download: never delete it.
        self.done = true;
        if self.force {
            fs::rename(&self.path, &self.target)?;
            return Ok(self.target.clone());
        }
        // A hard link never replaces what is at the target, so a file that appeared there
        // meanwhile is kept. Where links are not supported, check, then rename.
        match fs::hard_link(&self.path, &self.target) {
            Ok(()) => fs::remove_file(&self.path)?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
            Err(_) if self.target.symlink_metadata().is_err() => {
                fs::rename(&self.path, &self.target)?;
            }
            Err(e) => return Err(e),
        }
        Ok(self.target.clone())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_file(&self.path);
        }
    }
}
