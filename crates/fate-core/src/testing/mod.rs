//! Test doubles: a virtual [`Clock`] so that code built on time is tested without sleeping,
//! in-memory transports, and Twisted's `SynchronousTestCase` helpers for reading a
//! Deferred's result ([`success_result_of`], [`failure_result_of`], [`assert_no_result`]).
//!
//! Enabled by the `testing` feature (add it to your dev-dependencies).
#![forbid(unsafe_code)]

mod clock;
#[cfg(feature = "net")]
mod memory_reactor;
mod results;
#[cfg(feature = "net")]
pub mod sim;
#[cfg(feature = "net")]
mod string_transport;

pub use clock::Clock;
#[cfg(feature = "net")]
pub use memory_reactor::{connect_pipe, MemoryReactor, PipePump};
pub use results::{assert_no_result, failure_result_of, success_result_of};
#[cfg(feature = "net")]
pub use string_transport::{ProducerState, StringTransport};
