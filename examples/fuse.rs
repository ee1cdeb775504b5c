//! The smallest Fate program: light a fuse, and the loop calls its handler when it burns out.
//!
//! The article's event manager has one kind of event, a `Fuse`: "in this long, call this".
//! In Fate that is `fate::call_later`, and the article's run loop is `fate::run_until_idle`:
//! it runs `main`, then each handler as its fuse burns out, and returns once nothing is left
//! to wait for. Lighting a fuse returns at once, so the program goes on while it burns; a lit
//! fuse can still be stamped out (`cancel`).
//!
//! Run with: `cargo run --example fuse` (add `-- --fast` for fuses a tenth as long).

use std::error::Error;
use std::time::Duration;

/// Prints `what` with the seconds since the loop started.
fn say(what: &str) {
    println!("[{:4.2} s] {what}", fate::reactor().seconds());
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let second = Duration::from_millis(if fast { 100 } else { 1000 });
    fate::run_until_idle(move || {
        let _red = fate::call_later(second * 2, || say("BOOM! the red fuse burnt out"));
        let blue = fate::call_later(second * 3, || say("BOOM! the blue fuse burnt out"));
        say("two fuses are lit; main goes on at once");
        // A handler may do anything another function does, such as stamping out a fuse.
        let _stamp = fate::call_later(second, move || {
            blue.cancel().ok();
            say("the blue fuse is stamped out before it burns down");
        });
    })?;
    println!("nothing is left to burn: the program ends");
    Ok(())
}
