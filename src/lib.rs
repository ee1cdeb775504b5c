//! Fate: a Twisted-style event framework.
pub use fate_core::*;
pub use fate_deferred as deferred;
