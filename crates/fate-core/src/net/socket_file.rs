//! The file a Unix socket is bound to: claimed at bind (a stale socket file is replaced, a
//! live one or a file of another kind is an error that says so), removed when the socket
//! closes.
//!
//! Binding a Unix socket creates a file that outlives the socket: a server that stopped, even
//! cleanly, leaves it, and the next `bind` on the path fails with `EADDRINUSE`. So:
//!
//! - at bind, a socket file nobody listens on (a connect is refused) is removed and the bind
//!   retried; a socket someone listens on is `AddrInUse` ("another process is listening");
//!   anything else at the path (a regular file, a directory, a FIFO) is `AlreadyExists` and
//!   left alone;
//! - at close, the file is removed if it is still the one we bound (same device and inode):
//!   a server that took the path over since is not disturbed. Drop the guard *before* closing
//!   the socket: a bound socket holds a reference to its file's inode, so while it is open the
//!   inode number cannot have been reused for another file at the path.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

/// A socket file we bound; removed when dropped, if it is still ours. Drop it before the
/// socket (see the module docs).
pub(crate) struct SocketFile {
    path: PathBuf,
    /// Device and inode of the file `bind` created.
    id: (u64, u64),
}

impl SocketFile {
    /// Binds a new non-blocking Unix socket of type `ty` at `path`, replacing a stale socket
    /// file; returns the socket and the guard that removes the file.
    ///
    /// # Errors
    ///
    /// `AddrInUse` when a live socket is there, `AlreadyExists` when something other than a
    /// socket is, else the OS error of `socket` or `bind`. Messages do not repeat the path:
    /// callers prefix it.
    pub(crate) fn bind(path: &Path, ty: Type) -> io::Result<(Socket, SocketFile)> {
        let addr = SockAddr::unix(path)?;
        let socket = Socket::new(Domain::UNIX, ty.nonblocking().cloexec(), None)?;
        match socket.bind(&addr) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                replace_stale(path, &addr, ty, e)?;
                socket.bind(&addr)?;
            }
            Err(e) => return Err(e),
        }
        let meta = std::fs::symlink_metadata(path)?;
        let file = SocketFile {
            path: path.to_path_buf(),
            id: (meta.dev(), meta.ino()),
        };
        Ok((socket, file))
    }
}

/// What is at `path` made our bind fail with `in_use`: remove it if it is a socket nobody
/// listens on, else explain.
fn replace_stale(path: &Path, addr: &SockAddr, ty: Type, in_use: io::Error) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        // Gone since: the retry will tell.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => return Err(in_use),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "the path exists and is not a socket ({}); only a stale socket file is replaced",
                kind_of(&meta.file_type())
            ),
        ));
    }
    // A non-blocking probe: a full backlog answers `EAGAIN` rather than blocking us.
    let probe = Socket::new(Domain::UNIX, ty.nonblocking().cloexec(), None)?;
    match probe.connect(addr) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(
                target: "fate::net",
                "removing the stale socket file {} (nothing listens on it)",
                path.display()
            );
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }
        Ok(()) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another process is listening on this socket",
        )),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another process is listening on this socket",
        )),
        Err(_) => Err(in_use),
    }
}

/// Names a file type for a message.
fn kind_of(t: &std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a socket"
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && (m.dev(), m.ino()) == self.id);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("fate-sf-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn a_stale_socket_file_is_replaced_and_ours_is_removed_on_drop() {
        let path = temp("stale");
        // std leaves the file behind when the listener closes.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let (socket, file) = SocketFile::bind(&path, Type::STREAM).unwrap();
        drop(file);
        drop(socket);
        assert!(!path.exists());
    }

    #[test]
    fn a_live_socket_is_in_use_and_kept() {
        let path = temp("live");
        let live = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let err = SocketFile::bind(&path, Type::STREAM).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(
            err.to_string().contains("another process is listening"),
            "{err}"
        );
        assert!(path.exists());
        drop(live);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn another_kind_of_file_is_left_alone_with_a_clear_error() {
        let path = temp("regular");
        std::fs::write(&path, b"precious").unwrap();
        let err = SocketFile::bind(&path, Type::STREAM).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert!(
            err.to_string().contains("not a socket (a regular file)"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"precious");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_successor_socket_at_the_path_is_not_removed() {
        let path = temp("successor");
        let (socket, file) = SocketFile::bind(&path, Type::STREAM).unwrap();
        std::fs::remove_file(&path).unwrap();
        let successor = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(file);
        drop(socket);
        assert!(path.exists(), "the successor's socket file was removed");
        drop(successor);
        std::fs::remove_file(&path).unwrap();
    }
}
