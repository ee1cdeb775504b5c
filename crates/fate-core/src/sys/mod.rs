//! Operating-system primitives the reactor needs and mio does not give.
//!
//! This is the only module of fate-core that may contain `unsafe` (see ARCHITECTURE.md); every
//! block in it carries a `// SAFETY:` comment. Most of it is rustix's safe wrappers; the
//! `unsafe` is in the fork-to-exec hook that places a child's extra fds (`child_fds`) and in
//! the inline storage of timer callbacks (`inline_fn`), each measured to matter.

#[cfg(feature = "process")]
mod child_fds;
mod inline_fn;
#[cfg(feature = "process")]
mod pidfd;
#[cfg(feature = "process")]
mod pipe;
mod timer_fd;

#[cfg(feature = "process")]
pub(crate) use child_fds::map_child_fds;
pub(crate) use inline_fn::InlineFn;
#[cfg(feature = "process")]
pub(crate) use pidfd::{kill, PidFd};
#[cfg(feature = "process")]
pub(crate) use pipe::{dup_above, pipe, PipeFd};
pub(crate) use timer_fd::TimerFd;
