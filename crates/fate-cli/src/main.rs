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
    /// Download URLs concurrently, with progress bars.
    Get(commands::get::Args),
    /// Serve a directory over HTTP (like `twist web`).
    Web(commands::web::Args),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,fate_http::access=info")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Demo(args) => commands::demo::main(args),
        Command::Echo(args) => commands::echo::main(args),
        Command::Get(args) => commands::get::main(args),
        Command::Web(args) => commands::web::main(args),
    }
}
