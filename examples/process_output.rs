//! Running external commands without blocking the loop: `ls`, a shell pipeline, and a
//! command that does not exist, their output and exit statuses printed as they finish.
//!
//! The article lists "executing external commands" among the things an event loop must do
//! without waiting. Here three children run at once while a timer keeps ticking; each result
//! is a Deferred: the callback style (`add_callback`/`add_errback`) for `ls`, `async`/`await`
//! for the pipeline. Nothing blocks: the reactor learns of each exit from a pidfd.
//!
//! Run with: `cargo run --example process_output`

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use fate::process::{self, OutputError};
use fate::Failure;

/// Prints a command's result the same way for every child.
fn show(title: &str, output: process::Output) {
    println!("== {title}: {}", output.status);
    print!("{}", String::from_utf8_lossy(&output.stdout));
    if !output.stderr.is_empty() {
        print!("(stderr) {}", String::from_utf8_lossy(&output.stderr));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    fate::run(|| {
        let running = Rc::new(Cell::new(3));
        let done = {
            let running = running.clone();
            move || {
                running.set(running.get() - 1);
                if running.get() == 0 {
                    fate::reactor().stop();
                }
            }
        };

        // Callback style: `ls -l /`, its listing and exit status.
        let d1 = done.clone();
        process::get_process_output_and_value("ls", ["-l", "/"])
            .add_callback(|output: process::Output| show("ls -l /", output))
            .add_both(move |r: Result<(), Failure>| {
                d1();
                r
            });

        // async/await: a pipeline through the shell, with a non-zero exit on purpose.
        let d2 = done.clone();
        fate::spawn_local(async move {
            let script = "printf 'pear\\napple\\npear\\nfig\\n' | sort | uniq -c; exit 3";
            match process::get_process_output_and_value("sh", ["-c", script]).await {
                Ok(output) => show("sort | uniq -c", output),
                Err(failure) => println!("== pipeline failed: {failure}"),
            }
            d2();
        })
        .detach();

        // A program that is not there: a typed error naming it, never a panic.
        let d3 = done;
        process::get_process_output("no-such-program-here", ["--help"])
            .add_callbacks(
                |_: Vec<u8>| println!("== no-such-program-here ran?"),
                |failure: Failure| match failure.downcast_ref::<OutputError>() {
                    Some(OutputError::Spawn(e)) => println!("== {}: {e}", e.path().display()),
                    _ => println!("== unexpected: {failure}"),
                },
            )
            .add_both(move |_: Result<(), Failure>| d3());

        // Meanwhile the loop is free: a timer ticks until the children are done.
        fn tick(running: Rc<Cell<u32>>, n: u32) {
            if running.get() > 0 {
                println!("(tick {n})");
                fate::call_later(Duration::from_millis(2), move || tick(running, n + 1));
            }
        }
        tick(running, 1);
    })?;
    Ok(())
}
