//! Deferreds: typed results that are not available yet.
#![forbid(unsafe_code)]
