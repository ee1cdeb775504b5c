//! One module per subcommand; each exposes `Args` (clap) and `main(Args) -> ExitCode`.

pub(crate) mod demo;
pub(crate) mod echo;
pub(crate) mod get;
pub(crate) mod web;
