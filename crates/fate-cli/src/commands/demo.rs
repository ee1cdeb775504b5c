//! `fate demo`: the article's scenarios, one after another, narrated.

use std::process::ExitCode;

/// Options of `fate demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Shorten fuse times tenfold, for the impatient.
    #[arg(long)]
    fast: bool,
}

pub(crate) fn main(args: Args) -> ExitCode {
    let _ = args.fast;
    ExitCode::SUCCESS
}
