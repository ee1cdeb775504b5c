//! The trampoline (twisted-semantics 2.4): a million chained or nested Deferreds neither
//! overflow the stack nor go quadratic. Test threads have a 2 MiB stack, so recursion per
//! link would fail long before a million.

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use common::{err_of, ok_of};
use fate_deferred::{succeed, Cancelled, Deferred, Fire};

const N: u64 = 1_000_000;

#[test]
fn million_callbacks_each_returning_a_pending_deferred_fired_later() {
    let fires: Rc<RefCell<VecDeque<Fire<u64>>>> = Rc::default();
    let (d, fire) = Deferred::<u64>::pending();
    let mut d = d;
    for _ in 0..N {
        let fires = fires.clone();
        d = d.add_callback(move |x| {
            let (inner, fire) = Deferred::<u64>::pending();
            fires.borrow_mut().push_back(fire);
            inner.add_callback(move |y| x + y)
        });
    }
    fire.try_callback(0).unwrap();
    let mut fired = 0;
    loop {
        let next = fires.borrow_mut().pop_front();
        let Some(next) = next else { break };
        next.try_callback(1).unwrap();
        fired += 1;
    }
    assert_eq!(fired, N);
    assert_eq!(ok_of(d), N);
}

#[test]
fn million_nested_deferreds_each_waiting_on_the_next() {
    // d1 waits on d2 waits on d3 ... waits on dN; firing dN unwinds them all.
    let (last, fire_last) = Deferred::<u64>::pending();
    let mut d = last;
    for _ in 1..N {
        let inner = d;
        d = succeed(()).add_callback(move |()| inner.add_callback(|x| x + 1));
    }
    fire_last.try_callback(1).unwrap();
    assert_eq!(ok_of(d), N);
}

#[test]
fn million_nested_deferreds_cancelled_from_the_top() {
    let (last, _fire_last) = Deferred::<u64>::pending();
    let mut d = last;
    for _ in 1..N {
        let inner = d;
        d = succeed(()).add_callback(move |()| inner);
    }
    d.cancel(); // forwarded a million levels down, iteratively
    assert!(err_of(d).check::<Cancelled>());
}

#[test]
fn million_synchronous_callbacks_on_one_deferred() {
    let (d, fire) = Deferred::<u64>::pending();
    let mut d = d;
    for _ in 0..N {
        d = d.add_callback(|x| x + 1);
    }
    fire.try_callback(0).unwrap();
    assert_eq!(ok_of(d), N);
}

#[test]
fn dropping_a_million_unfired_callbacks_does_not_recurse() {
    let (d, fire) = Deferred::<u64>::pending();
    let mut d = d;
    for _ in 0..N {
        d = d.add_callback(|x| x + 1);
    }
    drop(d);
    drop(fire);
}

#[test]
fn dropping_a_million_unfired_nested_deferreds_does_not_recurse() {
    let (last, fire_last) = Deferred::<u64>::pending();
    let mut d = last;
    for _ in 1..N {
        let inner = d;
        d = succeed(()).add_callback(move |()| inner);
    }
    drop(d);
    drop(fire_last);
}
