//! Blocking work off the loop: a bounded pool of threads whose results come back as Deferreds.
//!
//! [`defer_to_thread`] runs a `Send` closure on the default [`ThreadPool`] and returns a
//! [`Deferred`](fate_deferred::Deferred) that fires on the reactor's thread with the
//! closure's result — Twisted's `deferToThread`. A panic in the closure becomes a
//! [`Panicked`](fate_deferred::Panicked) failure. [`resolve`] looks a host name up with the
//! system resolver (`getaddrinfo`) on the same pool, Twisted's `ThreadedResolver`.
//!
//! While a job is out, the reactor counts it as pending work: `run_until_idle` waits for the
//! result to come back.
//!
//! # Examples
//!
//! ```
//! let sum = fate::block_on(async {
//!     fate::threads::defer_to_thread(|| (1..=100u64).sum::<u64>()).await
//! })
//! .unwrap()
//! .unwrap();
//! assert_eq!(sum, 5050);
//! ```
#![forbid(unsafe_code)]

mod pool;
pub(crate) mod reply;
mod resolve;

pub use pool::{defer_to_thread, ThreadPool};
pub use reply::Reply;
pub use resolve::resolve;
