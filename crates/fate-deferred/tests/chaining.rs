//! twisted-semantics 3.2: a callback returns another Deferred (C1–C6, 2.3).
//!
//! Rust note: the returned Deferred is *moved* into the chain, so Twisted's observations of
//! the inner Deferred "afterwards" (its later callbacks see `None`: H04, H10, H14) cannot be
//! made; callbacks attached to it before the hand-off are what remains, and they see the value.

mod common;

use common::{err_of, no_result, ok_of, GenericError, Log, Unhandled};
use fate_deferred::{fail, gather_results, succeed, Deferred, Failure};

#[test]
fn h01_callback_returns_deferred() {
    let log = Log::new();
    let (d1, fire1) = Deferred::<i64>::pending();
    let (d2, fire2) = Deferred::<i64>::pending();
    d2.pause();
    let d2_ctl = d2.control(); // d2 moves into d1's callback; its Control still reaches it
    let l = log.clone();
    let d1 = d1
        .add_callback(move |_| d2)
        .add_callback(move |x| l.push(x));
    fire1.try_callback(1).unwrap();
    assert!(log.get().is_empty());
    fire2.try_callback(2).unwrap();
    assert!(log.get().is_empty()); // d2 is paused
    d2_ctl.unpause();
    assert_eq!(log.get(), [2]);
    ok_of(d1);
}

#[test]
fn h02_errback_returns_deferred() {
    let log = Log::new();
    let (d, fire) = Deferred::<&str>::pending();
    let (d2, fire2) = Deferred::<&str>::pending();
    let l = log.clone();
    let d = d.add_errback(move |_f| d2).add_callback(move |s| l.push(s));
    fire.try_errback(GenericError("ValueError")).unwrap();
    let d = no_result(d);
    assert!(log.get().is_empty());
    fire2.try_callback("result").unwrap();
    assert_eq!(log.get(), ["result"]);
    ok_of(d);
}

#[test]
fn h04_paused_deferred_chained() {
    // Adapted: the inner's own callbacks (attached before the hand-off) are not blocked by a
    // pause of the outer; the outer's later callbacks wait for its unpause.
    let log = Log::new();
    let (first, fire_first) = Deferred::<()>::pending();
    let (second, fire_second) = Deferred::<()>::pending();
    let (l1, l2) = (log.clone(), log.clone());
    let second = second.add_callback(move |()| l1.push("second's callback"));
    let first = first
        .add_callback(move |()| second)
        .add_callback(move |()| l2.push("first's callback"));
    fire_first.try_callback(()).unwrap();
    first.pause();
    fire_second.try_callback(()).unwrap();
    assert_eq!(log.get(), ["second's callback"]);
    first.unpause();
    assert_eq!(log.get(), ["second's callback", "first's callback"]);
    ok_of(first);
}

#[test]
fn h05_inner_callbacks_preserved() {
    let results: Log<String> = Log::new();
    let failures = Log::new();
    let (inner, fire_inner) = Deferred::<String>::pending();
    let r = results.clone();
    let outer = succeed("outer".to_string()).add_callback(move |o: String| {
        r.push(format!("start-of-cb {o}"));
        let (r1, r2) = (r.clone(), r.clone());
        succeed("inner".to_string())
            .add_callback(move |i: String| {
                r1.push(format!("firstCallback {i}"));
                inner
            })
            .add_callback(move |x: String| {
                r2.push(format!("secondCallback {x}"));
                x.repeat(2)
            })
    });
    fire_inner.try_callback("orange".into()).unwrap();
    let (r, f) = (results.clone(), failures.clone());
    let outer = outer.add_callbacks(move |x| r.push(x), move |e| f.push(e.to_string()));
    ok_of(outer);
    assert_eq!(
        results.get(),
        [
            "start-of-cb outer",
            "firstCallback inner",
            "secondCallback orange",
            "orangeorange"
        ]
    );
    assert!(failures.get().is_empty());
}

#[test]
fn h07_continue_callback_not_first() {
    h07_h08(false);
}

#[test]
fn h08_callback_order_preserved() {
    h07_h08(true);
}

fn h07_h08(with_final: bool) {
    let log: Log<String> = Log::new();
    let (a, fire_a) = Deferred::<&str>::pending();
    let l = log.clone();
    let outer = succeed("outer").add_callback(move |o| {
        l.push(format!("cb {o}"));
        let (l1, l2) = (l.clone(), l.clone());
        succeed(())
            .add_callback(move |()| {
                l1.push("firstCallback None".into());
                gather_results([a])
            })
            .add_callback(move |v: Vec<&str>| l2.push(format!("secondCallback {v:?}")))
    });
    let l = log.clone();
    let outer = if with_final {
        outer.add_callback(move |()| l.push("final None".into()))
    } else {
        outer
    };
    assert_eq!(log.get(), ["cb outer", "firstCallback None"]);
    fire_a.try_callback("withers").unwrap();
    let mut expected = vec![
        "cb outer",
        "firstCallback None",
        "secondCallback [\"withers\"]",
    ];
    if with_final {
        expected.push("final None");
    }
    assert_eq!(log.get(), expected);
    ok_of(outer);
}

#[test]
fn h10_asynchronous_implicit_chain() {
    let (first_log, second_log) = (Log::new(), Log::new());
    let (first, fire_first) = Deferred::<&str>::pending();
    let f = first_log.clone();
    let first = first.add_callback(move |x| {
        f.push(x);
        x
    });
    let s = second_log.clone();
    let second = succeed(())
        .add_callback(move |()| first)
        .add_callback(move |x| s.push(x));
    assert!(first_log.get().is_empty() && second_log.get().is_empty());
    fire_first.try_callback("R").unwrap();
    // Twisted: first's recorder, added *after* the hand-off, sees None; ours was attached
    // before (the handle moved), so it sees R, and so does second's.
    assert_eq!(first_log.get(), ["R"]);
    assert_eq!(second_log.get(), ["R"]);
    ok_of(second);
}

#[test]
fn h11_synchronous_implicit_error_chain() {
    let unhandled = Unhandled::install();
    let first = fail::<i64>(GenericError("RuntimeError"));
    let second = succeed(()).add_callback(move |()| first);
    let f = err_of(second);
    assert!(f.check::<GenericError>());
    assert!(unhandled.log.get().is_empty()); // the failure moved: nothing left unhandled
}

#[test]
fn h13_double_asynchronous_implicit_chaining() {
    let log = Log::new();
    let (first, fire_first) = Deferred::<&str>::pending();
    let (second, fire_second) = Deferred::<()>::pending();
    let (third, fire_third) = Deferred::<()>::pending();
    let second = second.add_callback(move |()| first);
    let l = log.clone();
    let third = third
        .add_callback(move |()| second)
        .add_callback(move |x| l.push(x));
    fire_second.try_callback(()).unwrap();
    fire_third.try_callback(()).unwrap();
    assert!(log.get().is_empty());
    fire_first.try_callback("R").unwrap();
    assert_eq!(log.get(), ["R"]);
    ok_of(third);
}

#[test]
fn h14_result_of_deferred_result_of_deferred_of_fired_deferred() {
    // Adapted: first waits on second which waits on third; firing in the order second, first,
    // third delivers third's value to a callback on first (Twisted checks that a callback on
    // second sees None afterwards, which a moved handle cannot show).
    let (first, fire_first) = Deferred::<()>::pending();
    let (second, fire_second) = Deferred::<()>::pending();
    let (third, fire_third) = Deferred::<&str>::pending();
    let second = second.add_callback(move |()| third);
    let first = first.add_callback(move |()| second);
    fire_second.try_callback(()).unwrap();
    fire_first.try_callback(()).unwrap();
    let first = no_result(first);
    fire_third.try_callback("third").unwrap();
    assert_eq!(ok_of(first), "third");
}

#[test]
fn h17_repr() {
    let (d, fire) = Deferred::<&str>::pending();
    assert!(format!("{d:?}").contains("pending"));
    fire.try_callback("orange").unwrap();
    assert!(format!("{d:?}").contains("has result"));
    let (inner, _fire_inner) = Deferred::<()>::pending();
    let waiting = succeed(()).add_callback(move |()| inner);
    assert!(format!("{waiting:?}").contains("waiting on another Deferred"));
    assert!(format!("{waiting:?}").contains("chaining.rs"));
}

#[test]
fn h19_chain_deferred_forwarding() {
    let (d1, fire1) = Deferred::<i64>::pending();
    let (d2, fire2) = Deferred::<i64>::pending();
    let d1 = d1.chain_deferred(fire2);
    fire1.try_callback(5).unwrap();
    assert_eq!(ok_of(d2), 5);
    ok_of(d1); // d1's own result is () now

    let (d1, fire1) = Deferred::<i64>::pending();
    let (d2, fire2) = Deferred::<i64>::pending();
    let d1 = d1.chain_deferred(fire2);
    let failure = Failure::new(GenericError("e"));
    fire1.try_errback(failure.clone()).unwrap();
    assert!(Failure::ptr_eq(&err_of(d2), &failure));
    ok_of(d1); // the failure is d2's responsibility: d1 ends with ()
}

#[test]
fn c4_failure_moved_from_inner_continues_on_error_path() {
    let (inner, fire_inner) = Deferred::<i64>::pending();
    let log = Log::new();
    let l = log.clone();
    let outer = succeed(())
        .add_callback(move |()| inner)
        .add_callback(|x| x + 1)
        .add_errback(move |f| {
            l.push(f.to_string());
            0
        });
    fire_inner.try_errback(GenericError("inner broke")).unwrap();
    assert_eq!(log.get(), ["inner broke"]);
    assert_eq!(ok_of(outer), 0);
}

#[test]
fn p4_waiting_and_user_paused_needs_both_released() {
    let (inner, fire_inner) = Deferred::<i64>::pending();
    let outer = succeed(())
        .add_callback(move |()| inner)
        .add_callback(|x| x + 1);
    outer.pause();
    outer.unpause(); // the wait is not a pause unpause() can undo
    let outer = no_result(outer);
    outer.pause();
    fire_inner.try_callback(1).unwrap();
    let outer = no_result(outer);
    outer.unpause();
    assert_eq!(ok_of(outer), 2);
}
