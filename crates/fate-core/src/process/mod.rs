//! Child processes on the reactor: Twisted's `spawnProcess`, `ProcessProtocol` and
//! `getProcessOutput`, without blocking the loop.
//!
//! [`spawn_process`] (or [`Command::spawn`]) starts a child with its stdin, stdout and stderr
//! as non-blocking pipes registered with the reactor, and connects a [`ProcessProtocol`] that
//! hears its output, the closing of each pipe, its exit and its end. The returned
//! [`ProcessTransport`] writes to its stdin (buffered, with flow control), closes pipes and
//! sends signals. [`get_process_output`] and [`get_process_output_and_value`] run a command
//! to completion and return a Deferred of what it printed.
//!
//! # How it works
//!
//! - The spawn is std's: without a `pre_exec` hook std uses `posix_spawn` (a vfork), the
//!   cheapest way to start a process. The parent's pipe ends are then set non-blocking.
//! - The exit is learned from a **pidfd** registered with epoll (readable once the child has
//!   exited); then the child is reaped with `waitpid` on its own pid. Where the kernel has no
//!   pidfds, a SIGCHLD watch polls this reactor's own children — never `waitpid(-1)`.
//! - Output is read in chunks of up to 64 KiB per readiness event; a pipe with more waiting
//!   is re-armed and read again on the next turn, so a child printing 100 MiB never holds up
//!   timers or other I/O.
//! - **No zombies**: every child is reaped — after a normal exit, when its protocol panicked,
//!   when the reactor stops (each child's [`OnShutdown`] policy kills it, and `stop` waits for
//!   the reaping, or detaches it to a reaper thread) and when the reactor is dropped with
//!   children still running.
//!
//! # Differences from Twisted
//!
//! - The environment is inherited unless the caller gives one (Twisted's default is empty).
//! - `args` does not repeat the program name.
//! - A protocol gets its transport as an argument of `connection_made`, not as an attribute.
//! - Exit statuses are an [`ExitStatus`] enum instead of `ProcessDone`/`ProcessTerminated`.
//!
//! # Examples
//!
//! ```
//! use fate::process::{self, ExitStatus, ProcessProtocol};
//!
//! struct Print;
//!
//! impl ProcessProtocol for Print {
//!     fn out_received(&mut self, data: &[u8]) {
//!         print!("{}", String::from_utf8_lossy(data));
//!     }
//!     fn process_ended(&mut self, status: ExitStatus) {
//!         assert_eq!(status, ExitStatus::Exited(3));
//!     }
//! }
//!
//! fate::run_until_idle(|| {
//!     process::spawn_process(Print, "sh", ["-c", "echo hello; exit 3"], None, None).unwrap();
//! })
//! .unwrap();
//! ```
#![forbid(unsafe_code)]

mod child;
mod command;
mod error;
mod output;
mod protocol;
mod reaper;
mod status;
mod transport;

pub use command::{spawn_process, ChildFd, Command, OnShutdown, Stdio};
pub use error::{Detached, SignalError, SpawnError, SpawnErrorKind};
pub use output::{get_process_output, get_process_output_and_value, Output, OutputError};
pub use protocol::{DiscardOutput, ProcessProtocol};
pub use status::ExitStatus;
pub use transport::ProcessTransport;
