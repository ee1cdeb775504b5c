//! Operating-system primitives the reactor needs and mio does not give.
//!
//! This is the only module of fate-core that may contain `unsafe` (see ARCHITECTURE.md); every
//! block in it carries a `// SAFETY:` comment. Most of it is rustix's safe wrappers; the one
//! `unsafe` block is the fork-to-exec hook that places a child's extra fds (`child_fds`).

mod child_fds;
mod pidfd;
mod pipe;
mod timer_fd;

pub(crate) use child_fds::map_child_fds;
pub(crate) use pidfd::{kill, PidFd};
pub(crate) use pipe::{dup_above, pipe, PipeFd};
pub(crate) use timer_fd::TimerFd;
