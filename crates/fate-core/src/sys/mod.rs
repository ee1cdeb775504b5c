//! Operating-system primitives the reactor needs and mio does not give.
//!
//! This is the only module of fate-core that may contain `unsafe` (see ARCHITECTURE.md); every
//! block in it carries a `// SAFETY:` comment. Today it needs none: the timer below uses
//! rustix's safe wrappers.

mod timer_fd;

pub(crate) use timer_fd::TimerFd;
