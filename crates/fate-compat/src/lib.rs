//! tokio-based crates from a Fate loop: reqwest, sqlx, tonic, the AWS SDK, redis.
//!
//! Twisted's weakness was that every library had to be rewritten for its reactor. Fate does
//! not ask that of the tokio ecosystem: it runs a tokio runtime *beside* the reactor and hands
//! results back as Deferreds.
//!
//! - [`spawn`] runs a `Send` future on that runtime and returns a
//!   [`Deferred`](fate_deferred::Deferred) that fires on the caller's reactor, through the
//!   reactor's cross-thread door (`call_from_thread`'s queue): the loop never blocks.
//!   Cancelling the Deferred, dropping the future that awaits it, or dropping it with nothing
//!   attached aborts the tokio task. A panic on the tokio side becomes a
//!   [`Panicked`](fate_deferred::Panicked) failure; the loop goes on.
//! - [`Compat`] wraps a future that is *not* `Send` (it holds `Rc`s, Deferreds, reactor
//!   handles) but calls into tokio — `tokio::time::sleep`, `tokio::spawn`, a reqwest request —
//!   so that it can be polled on the reactor's thread: it enters the runtime's context while
//!   polled (with the `async-compat` crate).
//!
//! The runtime is started lazily, at the first use on a reactor, with [`Builder`]'s settings
//! (one worker thread by default), and shut down when that reactor stops (an `after shutdown`
//! trigger) or is dropped. fate-core itself never depends on tokio.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! let answer = fate::block_on(async {
//!     // A Send future that needs tokio's timer, on the tokio runtime beside the reactor.
//!     fate::compat::spawn(async {
//!         tokio::time::sleep(Duration::from_millis(5)).await;
//!         42
//!     })
//!     .await
//! })
//! .unwrap();
//! assert_eq!(answer.unwrap(), 42);
//! ```
#![forbid(unsafe_code)]

mod compat;
mod runtime;
mod spawn;

pub use compat::Compat;
pub use runtime::{handle, is_started, AlreadyStarted, Builder};
pub use spawn::spawn;
