//! Callbacks and async/await on one reactor, mixed freely.
//!
//! `slow_multiply` and `slow_divide` are written in Twisted's callback style: they return a
//! Deferred at once and fire it from a timer. An `async` function — this world's
//! `inlineCallbacks` — awaits those Deferreds like any future: one after another, several at
//! once with `gather_results`, recovering from a failure it can handle, and giving up on one
//! that takes too long with `fate::timeout` (which cancels the Deferred). The other way round,
//! `fate::spawn` runs the async function as a task and returns a Deferred of its result, so
//! callback-style code adds callbacks to what async code computed.
//!
//! Run with: `cargo run --example await_a_deferred` (add `-- --fast` for a tenth of each wait).

use std::error::Error;
use std::fmt;
use std::time::Duration;

use fate::deferred::gather_results;
use fate::{Deferred, Failure};

/// The one way to fail here.
#[derive(Debug)]
struct DivideByZero;

impl fmt::Display for DivideByZero {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("division by zero")
    }
}

impl Error for DivideByZero {}

/// Callback style: a Deferred that fires with `x * y` after `delay`.
fn slow_multiply(x: i64, y: i64, delay: Duration) -> Deferred<i64> {
    let (d, fire) = Deferred::pending();
    let _timer = fate::call_later(delay, move || {
        fire.callback(x * y);
    });
    d
}

/// Callback style: a Deferred that fires with `x / y` after `delay`, or fails.
fn slow_divide(x: i64, y: i64, delay: Duration) -> Deferred<i64> {
    let (d, fire) = Deferred::pending();
    let _timer = fate::call_later(delay, move || match x.checked_div(y) {
        Some(q) => fire.callback(q),
        None => fire.errback(DivideByZero),
    });
    d
}

/// Async style, reading top to bottom like `inlineCallbacks`.
async fn compute(step: Duration) -> Result<i64, Failure> {
    let twelve = slow_multiply(3, 4, step).await?;
    say(&format!("awaited slow_multiply(3, 4) = {twelve}"));
    let both = gather_results([slow_multiply(2, 3, step), slow_multiply(4, 5, step)]).await?;
    say(&format!(
        "awaited two at once: {both:?}, after one step, not two"
    ));
    let quotient = match slow_divide(twelve, 0, step).await {
        Ok(q) => q,
        Err(failure) if failure.check::<DivideByZero>() => {
            say(&format!("caught a failure: {failure}; using 0 instead"));
            0
        }
        Err(other) => return Err(other),
    };
    match fate::timeout(step, slow_multiply(6, 7, step * 10)).await {
        Ok(product) => say(&format!("6 * 7 = {}", product?)),
        Err(elapsed) => say(&format!(
            "gave up on 6 * 7: {elapsed}; its Deferred is cancelled"
        )),
    }
    Ok(twelve + both.iter().sum::<i64>() + quotient)
}

/// Prints `what` with the seconds since the reactor started.
fn say(what: &str) {
    println!("[{:5.2} s] {what}", fate::reactor().seconds());
}

fn main() -> Result<(), Box<dyn Error>> {
    let fast = std::env::args().any(|a| a == "--fast");
    let step = Duration::from_millis(if fast { 50 } else { 500 });
    fate::run(move || {
        // Async code becomes a Deferred again, and callback code consumes it.
        let total: Deferred<i64> = fate::spawn(compute(step));
        total
            .add_callback(|total: i64| say(&format!("a callback receives the total: {total}")))
            .add_errback(|failure: Failure| say(&format!("an errback receives: {failure}")))
            .add_both(|_: Result<(), Failure>| {
                fate::reactor().stop();
            });
    })?;
    Ok(())
}
