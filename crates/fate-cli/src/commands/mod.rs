//! One module per subcommand; each exposes `Args` (clap) and `main(Args) -> ExitCode`;
//! `threads` is the `--threads` option the servers share.

pub(crate) mod demo;
pub(crate) mod echo;
pub(crate) mod get;
pub(crate) mod threads;
pub(crate) mod web;
