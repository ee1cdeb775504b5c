//! Test doubles: a virtual [`Clock`] so that code built on time is tested without sleeping.
//!
//! Enabled by the `testing` feature (add it to your dev-dependencies).
#![forbid(unsafe_code)]

mod clock;
#[cfg(feature = "net")]
mod memory_reactor;
#[cfg(feature = "net")]
mod string_transport;

pub use clock::Clock;
#[cfg(feature = "net")]
pub use memory_reactor::{connect_pipe, MemoryReactor, PipePump};
#[cfg(feature = "net")]
pub use string_transport::{ProducerState, StringTransport};
