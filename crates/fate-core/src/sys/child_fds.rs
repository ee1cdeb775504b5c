//! Extra file descriptors for a child process (Twisted's `childFDs`): the child end of a pipe
//! placed at a chosen fd number (3, 4, ...) between fork and exec.
//!
//! This needs a `pre_exec` hook, which makes std fall back from `posix_spawn` to fork+exec;
//! that is why it is only installed when a caller asks for extra fds.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Arranges for each `(fd, target)` to appear as fd `target` in the child, without
/// close-on-exec. Every `fd` must be numbered above every `target` (see `pipe::dup_above`), so
/// that no `dup2` clobbers a source that is still needed; `cmd` keeps the fds open until it
/// is dropped.
pub(crate) fn map_child_fds(cmd: &mut Command, fds: Vec<(OwnedFd, RawFd)>) {
    let pairs: Vec<(RawFd, RawFd)> = fds.iter().map(|(fd, t)| (fd.as_raw_fd(), *t)).collect();
    let keep = fds;
    let hook = move || -> io::Result<()> {
        // `keep` owns the fds so they are open in the child at fork; it is only borrowed here.
        let _ = &keep;
        for &(from, to) in &pairs {
            // SAFETY: dup2 is async-signal-safe and only takes integers; `from` is open (owned by
            // `keep`), `to` is a plain fd number; dup2 leaves `to` without FD_CLOEXEC.
            if unsafe { libc::dup2(from, to) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec in the child, where only async-signal-safe
    // functions may be called: it calls nothing but dup2, allocates nothing, and takes no lock.
    unsafe {
        cmd.pre_exec(hook);
    }
}
