//! Twisted's `SynchronousTestCase` in Fate: reading a Deferred's result in a test, fan-in
//! that consumes its errors, and a `DeferredList` cut by a timeout on the virtual clock.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use fate::deferred::{
    gather_results, gather_results_consuming_errors, reset_unhandled_hook, set_unhandled_hook,
    DeferredList, FirstError, ListResult, TimedOut,
};
use fate::testing::{assert_no_result, failure_result_of, success_result_of, Clock};
use fate::Deferred;

#[test]
fn success_and_failure_results_are_read_synchronously() {
    let clock = Clock::new();
    let d = fate::time::defer_later(&clock, Duration::from_secs(2), || 6 * 7);
    assert_no_result(&d);
    clock.advance(Duration::from_secs(2));
    assert_eq!(success_result_of(d), 42);

    let (d, fire) = Deferred::<i64>::pending();
    fire.errback(format!("{} is wet", "the fuse"));
    assert_eq!(failure_result_of(d).to_string(), "the fuse is wet");
}

#[test]
#[should_panic(expected = "success result expected, found no result")]
fn success_result_of_an_unfired_deferred_fails_the_test() {
    let (d, _fire) = Deferred::<i64>::pending();
    success_result_of(d);
}

#[test]
#[should_panic(expected = "success result expected, found failure: lost")]
fn success_result_of_a_failure_fails_the_test() {
    let (d, fire) = Deferred::<i64>::pending();
    fire.errback("lost");
    success_result_of(d);
}

#[test]
#[should_panic(expected = "failure result expected, found a success result")]
fn failure_result_of_a_success_fails_the_test() {
    failure_result_of(fate::deferred::succeed(1));
}

#[test]
#[should_panic(expected = "no result expected")]
fn assert_no_result_on_a_fired_deferred_fails_the_test() {
    assert_no_result(&fate::deferred::succeed(1));
}

/// Records the messages of failures reported as unhandled on this thread.
fn unhandled_reports() -> Rc<RefCell<Vec<String>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = seen.clone();
    set_unhandled_hook(move |u| log.borrow_mut().push(u.failure().to_string()));
    seen
}

#[test]
fn gather_results_consuming_errors_reports_nothing_twice() {
    let seen = unhandled_reports();
    let (a, fire_a) = Deferred::<i64>::pending();
    let (b, fire_b) = Deferred::<i64>::pending();
    let all = gather_results_consuming_errors([a, b]);
    fire_b.errback("b broke");
    fire_a.errback("a broke too");
    let failure = failure_result_of(all);
    assert_eq!(
        failure.downcast_ref::<FirstError>().map(FirstError::index),
        Some(1)
    );
    assert!(seen.borrow().is_empty(), "{:?}", seen.borrow());

    // Without consuming, each input keeps its failure and reports it.
    let (a, fire_a) = Deferred::<i64>::pending();
    let (b, fire_b) = Deferred::<i64>::pending();
    let all = gather_results([a, b]);
    fire_b.errback("b broke");
    fire_a.errback("a broke too");
    drop(failure_result_of(all));
    assert_eq!(*seen.borrow(), ["b broke", "a broke too"]);
    reset_unhandled_hook();
}

#[test]
fn a_deferred_list_cut_by_a_timeout_says_timed_out_for_each_entry() {
    let clock = Clock::new();
    let (fast, fire_fast) = Deferred::<&str>::pending();
    let (slow, _fire_slow) = Deferred::<&str>::pending();
    let (slower, _fire_slower) = Deferred::<&str>::pending();
    let list = DeferredList::new([fast, slow, slower])
        .consume_errors()
        .into_deferred();
    let list = list.add_timeout(Duration::from_secs(5), &clock);
    clock.advance(Duration::from_secs(1));
    fire_fast.callback("fast");
    clock.advance(Duration::from_secs(4));
    let ListResult::All(entries) = success_result_of(list) else {
        panic!("the list fires with every entry");
    };
    assert_eq!(entries[0].as_ref().ok(), Some(&"fast"));
    for entry in &entries[1..] {
        let failure = entry.as_ref().unwrap_err();
        assert!(failure.check::<TimedOut>(), "{failure}");
        assert_eq!(failure.to_string(), "Deferred timed out after 5s");
    }
    assert!(clock.pending_calls().is_empty());

    // A list cancelled by hand still says cancelled.
    let (d, _fire) = Deferred::<()>::pending();
    let list = DeferredList::new([d]).consume_errors().into_deferred();
    list.cancel();
    let ListResult::All(entries) = success_result_of(list) else {
        panic!("the list fires with every entry");
    };
    assert!(entries[0]
        .as_ref()
        .unwrap_err()
        .check::<fate::deferred::Cancelled>());
}

#[test]
fn delayed_call_clones_are_the_same_call() {
    use fate::time::DelayedCallError;
    let clock = Clock::new();
    let ran = Rc::new(RefCell::new(Vec::new()));
    let log = ran.clone();
    let fuse = clock.call_later(Duration::from_secs(3), move || {
        log.borrow_mut().push("boom")
    });
    let other = fuse.clone();
    // One timer resets another through its clone: no Rc<DelayedCall> needed.
    clock.call_later(Duration::from_secs(2), move || {
        other.reset(Duration::from_secs(3)).unwrap();
    });
    clock.pump(&[Duration::from_secs(1); 3]);
    assert!(ran.borrow().is_empty());
    assert_eq!(fuse.time(), clock.epoch() + Duration::from_secs(5));
    let again = fuse.clone();
    again.cancel().unwrap();
    assert!(!fuse.active());
    assert_eq!(fuse.cancel(), Err(DelayedCallError::AlreadyCancelled));
    clock.advance(Duration::from_secs(10));
    assert!(ran.borrow().is_empty());
}

#[test]
fn get_delayed_calls_cancels_what_a_test_left_behind() {
    let clock = Clock::new();
    let _a = clock.call_later(Duration::from_secs(2), || unreachable!());
    let _b = clock.call_later(Duration::from_secs(1), || unreachable!());
    let _sleep = clock.sleep(Duration::from_secs(1)); // a sleep's timer is not a call
    let calls = clock.get_delayed_calls();
    let times: Vec<_> = calls.iter().map(|c| c.time() - clock.epoch()).collect();
    assert_eq!(times, [Duration::from_secs(1), Duration::from_secs(2)]);
    for call in calls {
        call.cancel().unwrap();
    }
    assert!(clock.get_delayed_calls().is_empty());
    clock.advance(Duration::from_secs(5));
}
