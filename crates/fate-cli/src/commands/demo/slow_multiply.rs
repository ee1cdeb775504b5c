//! Scenario: the article's `slowMultiply`. Each call returns a Deferred at once and fires it
//! from a `call_later`; two run side by side, so both products are there after the longer
//! wait, not after the sum of the two.

use std::cell::RefCell;
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

use fate::deferred::gather_results;
use fate::{Deferred, Failure};

use super::Narrator;

/// Returns a Deferred that fires with `x * y` after `delay`, narrating when it does.
fn slow_multiply(say: &Narrator, x: i64, y: i64, delay: Duration) -> Deferred<i64> {
    let (d, fire) = Deferred::pending();
    let say = say.clone();
    let _timer = fate::call_later(delay, move || {
        say.say(&format!(
            "slow_multiply({x}, {y}) fires its Deferred with {}",
            x * y
        ));
        // Nothing else fires this Deferred, so this cannot be `AlreadyCalled`.
        fire.try_callback(x * y).ok();
    });
    d
}

/// Runs the scenario; fails unless the products are 12 and 42.
pub(crate) fn run(say: &Narrator) -> Result<(), Box<dyn Error>> {
    let products = Rc::new(RefCell::new(None));
    let (narrator, out) = (say.clone(), products.clone());
    let (three, two) = (say.secs(3.0), say.secs(2.0));
    fate::run(move || {
        let twelve = slow_multiply(&narrator, 3, 4, three);
        let forty_two = slow_multiply(&narrator, 6, 7, two);
        narrator.say("slow_multiply(3, 4) and slow_multiply(6, 7) returned Deferreds; waiting");
        let say = narrator.clone();
        let printed = twelve.add_callback(move |product| {
            say.say(&format!("a callback prints {product}"));
            product
        });
        let say = narrator.clone();
        let _both = gather_results([printed, forty_two])
            .add_both(move |result| {
                say.say(&format!("both done: {result:?}; stopping the reactor"));
                *out.borrow_mut() = Some(result.map_err(|f| f.to_string()));
            })
            // Last and on its own, so that even a panic above still stops the reactor.
            .add_both(|_: Result<(), Failure>| fate::reactor().stop());
    })?;
    let products = products.borrow_mut().take();
    match products {
        Some(Ok(products)) if products == [12, 42] => Ok(()),
        other => Err(format!("expected the products [12, 42], got {other:?}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_products_arrive_and_the_shorter_wait_fires_first() {
        let say = Narrator::recording(0.01, 0);
        run(&say).unwrap();
        let at = |needle: &str| say.line_of(needle);
        assert!(at("returned Deferreds") < at("slow_multiply(6, 7) fires"));
        assert!(at("slow_multiply(6, 7) fires") < at("slow_multiply(3, 4) fires"));
        assert_eq!(
            at("a callback prints 12"),
            at("slow_multiply(3, 4) fires") + 1
        );
        assert!(say
            .transcript()
            .last()
            .unwrap()
            .contains("both done: Ok([12, 42])"));
    }
}
