//! The one-allocation layout (lib.rs "Cost"): handlers queue in three inline slots that
//! spill to the heap, results pass between handlers on the stack up to a depth and are
//! parked when the chain stops — typed in the head's slot, boxed when the type changed,
//! untyped when they are failures. These tests pin that none of it shows: order, types,
//! pauses and panics behave the same on every path.

mod common;

use std::rc::Rc;

use common::{err_of, no_result, ok_of, GenericError, Log, Unhandled};
use fate_deferred::{Deferred, Failure, Panicked};

#[test]
fn order_holds_across_the_inline_ring_and_its_spill() {
    for before in 0..12 {
        let log = Log::new();
        let (d, fire) = Deferred::<u32>::pending();
        let mut d = d;
        for i in 0..before {
            let log = log.clone();
            d = d.add_callback(move |x| {
                log.push(i);
                x + 1
            });
        }
        fire.try_callback(0).unwrap();
        // Added to a fired Deferred: each runs at once, reusing the ring's slots.
        for i in before..before + 7 {
            let log = log.clone();
            d = d.add_callback(move |x| {
                log.push(i);
                x + 1
            });
        }
        assert_eq!(log.get(), (0..before + 7).collect::<Vec<_>>());
        assert_eq!(ok_of(d), before + 7);
    }
}

#[test]
fn callbacks_added_while_running_join_the_queue_behind_spilled_ones() {
    let log = Log::new();
    let (d, fire) = Deferred::<u32>::pending();
    let ctl = d.control();
    let tail: Rc<std::cell::RefCell<Option<Deferred<u32>>>> = Rc::default();
    let mut d = d;
    for i in 0..6 {
        let (log, tail) = (log.clone(), tail.clone());
        d = d.add_callback(move |x| {
            log.push(i);
            if i == 0 {
                // D8: a callback added from inside the running chain runs after the queued ones.
                let d = tail.borrow_mut().take().unwrap();
                let log = log.clone();
                *tail.borrow_mut() = Some(d.add_callback(move |x: u32| {
                    log.push(100);
                    x * 10
                }));
            }
            x + 1
        });
    }
    *tail.borrow_mut() = Some(d);
    fire.try_callback(0).unwrap();
    assert!(ctl.is_called());
    assert_eq!(log.get(), vec![0, 1, 2, 3, 4, 5, 100]);
    let d = tail.borrow_mut().take().unwrap();
    assert_eq!(ok_of(d), 60);
}

#[test]
fn types_change_across_deep_chains_and_come_out_right() {
    // Deeper than the direct hand-off goes, alternating between the head's type (parked in
    // its slot) and another (boxed), with failures (untyped) in between.
    let (d, fire) = Deferred::<i64>::pending();
    let mut d = d;
    for _ in 0..100 {
        d = d
            .add_callback(|x| x.to_string())
            .add_callback(|s: String| -> Result<i64, Failure> {
                Err(Failure::msg(format!("was {s}")))
            })
            .add_errback(|f| {
                let text = f.to_string();
                text.trim_start_matches("was ").parse::<i64>().unwrap() + 1
            });
    }
    fire.try_callback(0).unwrap();
    assert_eq!(ok_of(d), 100);
}

#[test]
fn pausing_mid_chain_parks_a_changed_type_and_resumes_with_it() {
    let (d, fire) = Deferred::<i64>::pending();
    let ctl = d.control();
    let pauser = ctl.clone();
    let d = d
        .add_callback(move |x| {
            pauser.pause();
            format!("{x}!")
        })
        .add_callback(|s: String| s.len());
    fire.try_callback(1234).unwrap();
    let d = no_result(d);
    ctl.unpause();
    assert_eq!(ok_of(d), 5);
}

#[test]
fn a_panic_fails_only_the_rest_of_the_chain() {
    let log = Log::new();
    let (d, fire) = Deferred::<i64>::pending();
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    let d = d
        .add_callback(move |x| {
            l1.push("first");
            x + 1
        })
        .add_callback(move |x: i64| -> i64 {
            l2.push("second");
            if x > 0 {
                panic!("boom at {x}");
            }
            x
        })
        .add_callback(move |x: i64| {
            l3.push("skipped");
            x
        })
        .add_errback(|f| {
            assert!(f.check::<Panicked>());
            assert!(f.to_string().contains("boom at 1"), "{f}");
            -1
        })
        .add_callback(|x: i64| x * 2);
    fire.try_callback(0).unwrap();
    assert_eq!(log.get(), vec!["first", "second"]);
    assert_eq!(ok_of(d), -2);
}

#[test]
fn a_failure_left_at_the_end_is_reported_once_when_dropped() {
    let unhandled = Unhandled::install();
    let (d, fire) = Deferred::<i64>::pending();
    let d = d
        .add_callback(|x| x.to_string())
        .add_callback(|_s: String| -> Result<u8, Failure> {
            Err(Failure::new(GenericError("late")))
        });
    fire.try_callback(1).unwrap();
    assert!(unhandled.texts().is_empty());
    drop(d);
    assert_eq!(unhandled.texts(), vec!["late".to_string()]);
}

#[test]
fn a_taken_failure_is_not_reported() {
    let unhandled = Unhandled::install();
    let (d, fire) = Deferred::<i64>::pending();
    let d = d.add_callback(|_x| -> Result<String, Failure> { Err(Failure::msg("taken")) });
    fire.try_callback(1).unwrap();
    assert_eq!(err_of(d).to_string(), "taken");
    assert!(unhandled.texts().is_empty());
}
