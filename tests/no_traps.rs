//! Code written the obvious way compiles without warnings and does what it says: this file
//! is built with `#![deny(warnings)]`, so a warning on any of these lines fails the build.
//! (That a chain ending in `add_callback` does warn is pinned by a `compile_fail` doctest on
//! `Deferred::add_callback`.)
#![deny(warnings)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use fate::{Deferred, Failure};

#[test]
fn fire_and_forget_firing_and_handled_chains_need_no_let_underscore() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let (d, fire) = Deferred::<i64>::pending();
    let log = seen.clone();
    // A chain that ends handled is simply dropped.
    d.add_callback(|x| x * 2)
        .add_callbacks(|x| x + 1, |_f| 0)
        .add_both(move |r: Result<i64, Failure>| log.borrow_mut().push(r.ok()))
        .add_errback(|_| ());
    fire.callback(21);

    let (d, fire) = Deferred::<i64>::pending();
    let log = seen.clone();
    d.add_errback(move |f| {
        log.borrow_mut().push(None);
        assert_eq!(f.to_string(), "no route to example.com after 3 tries");
        0
    });
    let (host, tries) = ("example.com", 3);
    fire.errback(format!("no route to {host} after {tries} tries"));

    assert_eq!(*seen.borrow(), [Some(43), None]);
}

#[test]
fn a_second_stop_is_harmless() {
    let stops = Rc::new(Cell::new(0));
    let s = stops.clone();
    fate::run(move || {
        fate::call_soon(move || {
            fate::reactor().stop(); // `quit`
            s.set(s.get() + 1);
            fate::reactor().stop(); // then end of input
            s.set(s.get() + 1);
        });
        fate::call_later(Duration::from_secs(3600), || unreachable!());
    })
    .unwrap();
    assert_eq!(stops.get(), 2);
}

#[test]
fn a_spawned_task_returning_ok_unit_infers_its_types() {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    fate::run_until_idle(move || {
        fate::spawn(async move {
            let n: u32 = "7".parse()?; // any error becomes a Failure
            r.set(n == 7);
            Ok(())
        });
    })
    .unwrap();
    assert!(ran.get());
}

/// An `async fn` written against `fate::Result` needs no `Failure` in sight.
async fn double(text: &str) -> fate::Result<i64> {
    Ok(text.parse::<i64>()? * 2)
}

#[test]
fn fate_result_is_result_with_a_failure() {
    let d = fate::block_on(async { fate::spawn(double("21")).await }).unwrap();
    assert_eq!(d.unwrap(), 42);
}
