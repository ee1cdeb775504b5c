//! The `fate` command: the article's scenarios as a demo, and small servers and clients built
//! on Fate. Each subcommand lives in its own module under `commands/`.

mod commands;

use std::io::IsTerminal;
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
    let cli = Cli::parse();
    // Only the servers show their access log by default: the demo's embedded server would
    // print it in the middle of the narration. `RUST_LOG` overrides either default.
    let default_filter = match cli.command {
        Command::Echo(_) | Command::Web(_) => "warn,fate_http::access=info",
        Command::Demo(_) | Command::Get(_) => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match cli.command {
        Command::Demo(args) => commands::demo::main(args),
        Command::Echo(args) => commands::echo::main(args),
        Command::Get(args) => commands::get::main(args),
        Command::Web(args) => commands::web::main(args),
    }
}
