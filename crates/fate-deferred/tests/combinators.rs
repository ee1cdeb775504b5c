//! twisted-semantics 3.4: DeferredList (L), gather_results (G), race (R), and first_success.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{err_of, no_result, ok_of, GenericError, Log, Unhandled};
use fate_deferred::{
    fail, first_success, gather_results, race, succeed, Cancelled, Deferred, DeferredList, Failure,
    FailureGroup, FirstError, ListResult,
};

fn all<T>(r: ListResult<T>) -> Vec<Result<T, Failure>> {
    match r {
        ListResult::All(v) => v,
        ListResult::First(..) => panic!("expected ListResult::All"),
    }
}

#[test]
fn l01_deferred_list() {
    let unhandled = Unhandled::install();
    let (d1, f1) = Deferred::<&str>::pending();
    let (d2, f2) = Deferred::<&str>::pending();
    let (d3, f3) = Deferred::<&str>::pending();
    let list = DeferredList::new([d1, d2, d3]).into_deferred();
    f1.try_callback("1").unwrap();
    let list = no_result(list);
    f2.try_errback(GenericError("2")).unwrap();
    let list = no_result(list);
    f3.try_callback("3").unwrap();
    let results = all(ok_of(list));
    assert_eq!(results[0].as_ref().ok(), Some(&"1"));
    assert_eq!(
        results[1].as_ref().err().map(|f| f.to_string()).as_deref(),
        Some("2")
    );
    assert_eq!(results[2].as_ref().ok(), Some(&"3"));
    // L7 without consume_errors: input #2 keeps its failure (Twisted: until a later errback of
    // the input handles it — an input moved into the list cannot get one), so it is reported.
    drop(results);
    assert_eq!(unhandled.texts(), ["2"]);
}

#[test]
fn l03_deferred_list_fire_on_one_error() {
    let (d1, f1) = Deferred::<&str>::pending();
    let (d2, f2) = Deferred::<&str>::pending();
    let list = DeferredList::new([d1, d2])
        .fire_on_one_errback()
        .consume_errors()
        .into_deferred();
    f1.try_callback("1").unwrap();
    let list = no_result(list);
    f2.try_errback(GenericError("from def2")).unwrap();
    let f = err_of(list);
    let first = f.downcast_ref::<FirstError>().unwrap();
    assert_eq!(first.index(), 1);
    assert_eq!(
        first.failure().downcast_ref::<GenericError>(),
        Some(&GenericError("from def2"))
    );
}

#[test]
fn l04_deferred_list_dont_consume_errors() {
    // Adapted: the input's own errback must be attached before the input moves into the list;
    // it sees "Bang" and passes it on, and the list records it.
    let unhandled = Unhandled::install();
    let seen = Log::new();
    let (d, fire) = Deferred::<()>::pending();
    let s = seen.clone();
    let d = d.add_errback(move |f| -> Result<(), Failure> {
        s.push(f.to_string());
        Err(f)
    });
    let list = DeferredList::new([d]).into_deferred();
    fire.try_errback(GenericError("Bang")).unwrap();
    assert_eq!(seen.get(), ["Bang"]);
    let results = all(ok_of(list));
    assert_eq!(
        results[0].as_ref().err().map(|f| f.to_string()).as_deref(),
        Some("Bang")
    );
    assert_eq!(unhandled.texts(), ["Bang"]); // the input's copy: nobody consumed it
}

#[test]
fn l05_consume_errors_reports_nothing() {
    let unhandled = Unhandled::install();
    let list = DeferredList::<()>::new([fail(GenericError("Bang"))])
        .consume_errors()
        .into_deferred();
    assert!(all(ok_of(list))[0].is_err());
    assert!(unhandled.log.get().is_empty());
}

#[test]
fn l06_fire_on_one_error_with_already_fired_deferreds() {
    let (d2, _f2) = Deferred::<i64>::pending();
    let list = DeferredList::new([fail(GenericError("d1")), d2])
        .fire_on_one_errback()
        .consume_errors()
        .into_deferred();
    assert_eq!(
        err_of(list)
            .downcast_ref::<FirstError>()
            .map(FirstError::index),
        Some(0)
    );
}

#[test]
fn l07_deferred_list_with_already_fired_deferreds() {
    let list = DeferredList::new([fail(GenericError("d1")), succeed(2)])
        .consume_errors()
        .into_deferred();
    let results = all(ok_of(list));
    assert!(results[0].is_err());
    assert_eq!(results[1].as_ref().ok(), Some(&2));
}

#[test]
fn l09_cancel_deferred_list_callback() {
    let (d1, _f1) =
        Deferred::<&str>::with_canceller(|fire| fire.try_callback("Callback Result").unwrap());
    let (d2, _f2) = Deferred::<&str>::pending();
    let list = DeferredList::new([d1, d2]).consume_errors().into_deferred();
    list.cancel();
    let results = all(ok_of(list));
    assert_eq!(results[0].as_ref().ok(), Some(&"Callback Result"));
    assert!(results[1].as_ref().is_err_and(|f| f.check::<Cancelled>()));
}

#[test]
fn l10_cancel_deferred_list_with_fire_on_one_callback() {
    let (d1, _f1) = Deferred::<()>::pending();
    let (d2, _f2) = Deferred::<()>::pending();
    let list = DeferredList::new([d1, d2])
        .fire_on_one_callback()
        .consume_errors()
        .into_deferred();
    list.cancel();
    // Q3 kept: every input failed, so the list fires *successfully* with all the failures.
    let results = all(ok_of(list));
    assert!(results
        .iter()
        .all(|r| r.as_ref().is_err_and(|f| f.check::<Cancelled>())));
}

#[test]
fn l12_cancel_deferred_list_with_fire_on_one_errback() {
    let (d1, _f1) = Deferred::<()>::pending();
    let (d2, _f2) = Deferred::<()>::pending();
    let list = DeferredList::new([d1, d2])
        .fire_on_one_errback()
        .consume_errors()
        .into_deferred();
    list.cancel();
    let f = err_of(list);
    assert!(f
        .downcast_ref::<FirstError>()
        .unwrap()
        .failure()
        .check::<Cancelled>());
}

#[test]
fn l13_cancel_with_fire_on_one_errback_all_deferreds_callback() {
    let make =
        || Deferred::<&str>::with_canceller(|fire| fire.try_callback("Callback Result").unwrap());
    let ((d1, _f1), (d2, _f2)) = (make(), make());
    let list = DeferredList::new([d1, d2])
        .fire_on_one_errback()
        .into_deferred();
    list.cancel();
    let results = all(ok_of(list));
    assert!(results
        .iter()
        .all(|r| r.as_ref().ok() == Some(&"Callback Result")));
}

#[test]
fn l15_cancel_deferred_list_with_exception() {
    let (d1, f1) = Deferred::<()>::with_canceller(|_| panic!("RuntimeError"));
    let (d2, _f2) = Deferred::<()>::pending();
    let (c1, c2) = (d1.control(), d2.control());
    let list = DeferredList::new([d1, d2]).consume_errors().into_deferred();
    let cancelled = catch_unwind(AssertUnwindSafe(|| list.cancel()));
    assert!(cancelled.is_ok()); // logged ("Exception raised from user supplied canceller")
    assert!(!c1.is_called()); // input 1 left unfired
    assert!(c2.is_called()); // input 2 still cancelled
    let list = no_result(list);
    f1.try_callback(()).unwrap();
    let results = all(ok_of(list));
    assert!(results[0].is_ok() && results[1].is_err());
}

#[test]
fn l16_cancel_fired_on_one_callback_deferred_list() {
    let (d1, f1) = Deferred::<()>::pending();
    let (d2, _f2) = Deferred::<()>::pending();
    let c2 = d2.control();
    let list = DeferredList::new([d1, d2])
        .fire_on_one_callback()
        .into_deferred();
    f1.try_callback(()).unwrap();
    list.cancel();
    assert!(!c2.is_called()); // the remaining input is not cancelled
    assert!(matches!(ok_of(list), ListResult::First(0, ())));
}

// L18 (resultList after fireOnOneCallback): meaningless here — a value is moved into the
// list's result, not shared, so there is no resultList to observe afterwards.

#[test]
fn l06_empty_list_fires_at_once() {
    assert!(all(ok_of(DeferredList::<()>::new([]).into_deferred())).is_empty());
    // Deliberate difference: Twisted's fireOnOneCallback list over no inputs never fires.
    let list = DeferredList::<()>::new([])
        .fire_on_one_callback()
        .into_deferred();
    assert!(all(ok_of(list)).is_empty());
}

#[test]
fn g01_gather_results() {
    assert_eq!(ok_of(gather_results([succeed(1), succeed(2)])), vec![1, 2]);
    let f = err_of(gather_results([
        succeed(1),
        fail(GenericError("ValueError")),
    ]));
    let first = f.downcast_ref::<FirstError>().unwrap();
    assert_eq!(first.index(), 1);
    assert!(first.failure().check::<GenericError>());
}

#[test]
fn g03_cancel_gather_results() {
    let unhandled = Unhandled::install();
    let (d1, f1) = Deferred::<()>::pending();
    let (d2, f2) = Deferred::<()>::pending();
    let (c1, c2) = (d1.control(), d2.control());
    let gathered = gather_results([d1, d2]);
    gathered.cancel();
    assert!(c1.is_called() && c2.is_called());
    let f = err_of(gathered);
    assert!(f
        .downcast_ref::<FirstError>()
        .unwrap()
        .failure()
        .check::<Cancelled>());
    drop((f1, f2, c1, c2));
    // G1 with consumeErrors=False: each input keeps its failure (L7), unhandled.
    assert_eq!(
        unhandled.texts(),
        ["Deferred was cancelled", "Deferred was cancelled"]
    );
}

#[test]
fn g04_cancel_gather_results_with_all_deferreds_callback() {
    let make =
        || Deferred::<&str>::with_canceller(|fire| fire.try_callback("Callback Result").unwrap());
    let ((d1, _f1), (d2, _f2)) = (make(), make());
    let gathered = gather_results([d1, d2]);
    gathered.cancel();
    assert_eq!(ok_of(gathered), vec!["Callback Result", "Callback Result"]);
}

fn counted(
    n: usize,
) -> (
    Vec<Deferred<i64>>,
    Vec<fate_deferred::Fire<i64>>,
    Log<usize>,
) {
    let cancels = Log::new();
    let mut ds = Vec::new();
    let mut fires = Vec::new();
    for i in 0..n {
        let c = cancels.clone();
        let (d, fire) = Deferred::with_canceller(move |_| c.push(i));
        ds.push(d);
        fires.push(fire);
    }
    (ds, fires, cancels)
}

#[test]
fn r01_race_success() {
    for k in 0..3 {
        let (ds, mut fires, cancels) = counted(3);
        let raced = race(ds);
        fires.remove(k).try_callback(42).unwrap();
        assert_eq!(ok_of(raced), (k, 42));
        let mut cancelled = cancels.get();
        cancelled.sort();
        let expected: Vec<usize> = (0..3).filter(|i| *i != k).collect();
        assert_eq!(cancelled, expected); // every loser once, never the winner
    }
}

#[test]
fn r02_race_failure() {
    let (ds, fires, cancels) = counted(3);
    let raced = race(ds);
    let failure = Failure::new(GenericError("no"));
    for fire in fires {
        fire.try_errback(failure.clone()).unwrap();
    }
    let f = err_of(raced);
    let group = f.downcast_ref::<FailureGroup>().unwrap();
    assert_eq!(group.failures().len(), 3);
    assert!(group
        .failures()
        .iter()
        .all(|g| Failure::ptr_eq(g, &failure)));
    assert!(cancels.get().is_empty());
}

#[test]
fn r04_result_from_cancel() {
    let (winner, fire_winner) = Deferred::<&str>::pending();
    let (loser, _fire_loser) =
        Deferred::<&str>::with_canceller(|fire| fire.try_callback("loser").unwrap());
    let raced = race([winner, loser]);
    fire_winner.try_callback("winner").unwrap();
    assert_eq!(ok_of(raced), (0, "winner"));
}

#[test]
fn r05_cancel_race() {
    let (ds, _fires, cancels) = counted(3);
    let raced = race(ds);
    raced.cancel();
    let mut cancelled = cancels.get();
    cancelled.sort();
    assert_eq!(cancelled, [0, 1, 2]);
    let f = err_of(raced);
    let group = f.downcast_ref::<FailureGroup>().unwrap();
    assert!(group.failures().iter().all(|g| g.check::<Cancelled>()));
}

#[test]
fn race_of_nothing_fails_at_once() {
    let f = err_of(race(Vec::<Deferred<()>>::new()));
    assert!(f
        .downcast_ref::<FailureGroup>()
        .unwrap()
        .failures()
        .is_empty());
}

#[test]
fn first_success_leaves_losers_running() {
    let (ds, mut fires, cancels) = counted(3);
    let first = first_success(ds);
    fires.remove(1).try_errback(GenericError("b")).unwrap();
    fires.remove(1).try_callback(3).unwrap(); // input 2
    assert_eq!(ok_of(first), (2, 3));
    assert!(cancels.get().is_empty());
    fires.remove(0).try_callback(1).unwrap(); // a late success is consumed quietly
}
