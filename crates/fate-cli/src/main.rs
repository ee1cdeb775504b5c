//! The `fate` command: the article's scenarios as a demo, and small servers and clients built
//! on Fate. Each subcommand lives in its own module under `commands/`.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Fate: a Twisted-style event framework for Rust.
#[derive(Parser, Debug)]
#[command(name = "fate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the article's scenarios end to end, narrating each.
    Demo(commands::demo::Args),
    /// An echo server on an endpoint (`--listen tcp:8000`), for tests and benchmarks.
    Echo(commands::echo::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => commands::demo::main(args),
        Command::Echo(args) => commands::echo::main(args),
    }
}
