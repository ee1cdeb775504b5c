//! Test doubles: a virtual [`Clock`] so that code built on time is tested without sleeping.
//!
//! Enabled by the `testing` feature (add it to your dev-dependencies).
#![forbid(unsafe_code)]

mod clock;

pub use clock::Clock;
