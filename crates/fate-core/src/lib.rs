//! Fate's reactor.
