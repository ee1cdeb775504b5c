//! Twisted's `LoopingCall`: call a function every interval, on a grid aligned to when the loop
//! started. Calls the loop could not make on time are skipped, not replayed, and `with_count`
//! tells the function how many grid points passed since its last call.
//!
//! The Dormouse snores every half second. Once, the March Hare hogs the loop with a blocking
//! sleep — exactly what a handler must never do, here to make the skipped beats visible — and
//! the next snore learns it missed some. At 3.2 s the loop is stopped; its completion Deferred
//! fires, and its callback stops the reactor.
//!
//! Run with: `cargo run --example looping_call` (add `-- --fast` for a tenth of every wait).

use std::cell::Cell;
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

use fate::time::LoopingCall;
use fate::Failure;

/// Prints `what` with the seconds since the reactor started.
fn say(what: &str) {
    println!("[{:5.2} s] {what}", fate::reactor().seconds());
}

fn main() -> Result<(), Box<dyn Error>> {
    let scale = if std::env::args().any(|a| a == "--fast") {
        0.1
    } else {
        1.0
    };
    let secs = move |s: f64| Duration::from_secs_f64(s * scale);
    fate::run(move || {
        let snores = Rc::new(Cell::new(0u64));
        let counted = snores.clone();
        let dormouse = LoopingCall::with_count(fate::reactor(), move |beats: u64| {
            counted.set(counted.get() + 1);
            match beats {
                1 => say("the Dormouse snores"),
                n => say(&format!(
                    "the Dormouse snores, late: {n} beats since the last snore, {} skipped",
                    n - 1
                )),
            }
        });
        let done = match dormouse.start(secs(0.5), true) {
            Ok(done) => done,
            Err(e) => return say(&format!("cannot start the loop: {e}")),
        };

        let _hog = fate::call_later(secs(1.1), move || {
            let hog = secs(1.2);
            say(&format!(
                "the March Hare blocks the loop for {:.2} s (never do this in a handler!)",
                hog.as_secs_f64()
            ));
            std::thread::sleep(hog);
            say("the March Hare lets go of the loop");
        });
        let stopper = dormouse.clone();
        let _wake = fate::call_later(secs(3.2), move || {
            say("the Hatter pours tea on the Dormouse: stop the loop");
            stopper.stop();
        });
        done.add_both(move |result: Result<LoopingCall, Failure>| {
            fate::reactor().stop();
            match result {
                Ok(lc) => say(&format!(
                    "the loop's Deferred fired: {} snores, running = {}; stopping the reactor",
                    snores.get(),
                    lc.running()
                )),
                Err(failure) => say(&format!("the loop failed: {failure}; stopping the reactor")),
            }
        });
    })?;
    Ok(())
}
