//! The article's `slowMultiply`: a function that returns a Deferred at once and fires it with
//! `x * y` three seconds later, from a `call_later` — Twisted's
//! `reactor.callLater(3, d.callback, x * y)`. A callback prints 12 and stops the reactor.
//!
//! The Deferred comes with its firing end ([`fate::deferred::Fire`]): the function keeps the
//! firing end in the timer and hands the Deferred to its caller, so both ends stay typed.
//! While the product is "being computed", the reactor is free: a heartbeat keeps ticking.
//!
//! Run with: `cargo run --example slow_multiply` (add `-- --fast` to wait 0.3 s instead).

use std::error::Error;
use std::time::Duration;

use fate::{Deferred, Failure};

/// Returns a Deferred that fires with `x * y` after `delay`.
fn slow_multiply(x: i64, y: i64, delay: Duration) -> Deferred<i64> {
    let (d, fire) = Deferred::pending();
    let _timer = fate::call_later(delay, move || {
        // Fire and forget: `fire` is the only firing end (never cloned), so nothing can have
        // fired the Deferred first and no already-called report can follow.
        fire.callback(x * y);
    });
    d
}

/// Prints `what` with the seconds since the reactor started.
fn say(what: &str) {
    println!("[{:5.2} s] {what}", fate::reactor().seconds());
}

/// A sign of life every `every`, to show the loop is not blocked while the Deferred waits.
fn heartbeat(every: Duration) {
    let _next = fate::call_later(every, move || {
        say("(the reactor is free: tick)");
        heartbeat(every);
    });
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let delay = Duration::from_secs(3) / if fast { 10 } else { 1 };
    fate::run(move || {
        let d = slow_multiply(3, 4, delay);
        say("slow_multiply(3, 4) returned a Deferred; its result is not there yet");
        heartbeat(delay * 2 / 5);
        d.add_callback(|product| {
            say("the Deferred fired; the callback prints:");
            println!("{product}");
            product
        })
        // Whatever happened above — even a panic, which becomes a failure — stop.
        .add_both(|_: Result<i64, Failure>| {
            fate::reactor().stop();
            say("stopping the reactor");
        });
    })?;
    println!("The reactor has stopped.");
    Ok(())
}
