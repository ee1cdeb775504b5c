//! twisted-semantics 3.7: DeferredLock, DeferredSemaphore, DeferredQueue (K).

mod common;

use common::{err_of, ok_of, Log, Pool};
use fate_deferred::{
    Cancelled, Deferred, DeferredLock, DeferredQueue, DeferredSemaphore, Failure, Permit,
    QueueUnderflow, ZeroTokens,
};

#[test]
fn k01_lock() {
    let lock = DeferredLock::new();
    let counter = Log::new();
    let c = counter.clone();
    let first = lock.acquire().add_callback(move |p: Permit| {
        c.push(1);
        p
    });
    assert_eq!(counter.len(), 1);
    assert!(lock.locked());
    let c = counter.clone();
    let second = lock.acquire().add_callback(move |p: Permit| {
        c.push(2);
        p
    });
    assert_eq!(counter.len(), 1);
    drop(ok_of(first)); // release: the lock passes to the waiter at once
    assert!(lock.locked());
    assert_eq!(counter.get(), [1, 2]);
    drop(ok_of(second));
    assert!(!lock.locked());

    // `lock.run()` without a function is a TypeError in Twisted: meaningless with types.
    let (control, fire_control) = Deferred::<&str>::pending();
    let seen = Log::new();
    let s = seen.clone();
    let ran = lock.run(move || {
        s.push("A");
        control
    });
    assert!(lock.locked());
    assert_eq!(seen.get(), ["A"]); // synchronously
    let c = counter.clone();
    let waiter = lock.acquire().add_callback(move |p: Permit| {
        c.push(3);
        p
    });
    fire_control.try_callback("B").unwrap();
    assert_eq!(ok_of(ran), "B");
    assert_eq!(counter.get(), [1, 2, 3]);
    assert!(lock.locked()); // held by the waiter now

    let seen = Log::new();
    let s = seen.clone();
    let cancelled = lock.acquire().add_both(move |r: Result<Permit, Failure>| {
        s.push(r.as_ref().is_err_and(|f| f.check::<Cancelled>()));
    });
    cancelled.cancel();
    assert_eq!(seen.get(), [true]);
    drop(ok_of(waiter));
    assert!(!lock.locked());
}

#[test]
fn k02_cancel_lock_after_acquired() {
    let lock = DeferredLock::new();
    let errbacks = Log::new();
    let e = errbacks.clone();
    let d = lock
        .acquire()
        .add_errback(move |f| -> Result<Permit, Failure> {
            e.push(());
            Err(f)
        });
    d.cancel();
    assert!(errbacks.get().is_empty());
    drop(ok_of(d));
}

#[test]
fn k04_semaphore() {
    const N: usize = 13;
    let sem = DeferredSemaphore::new(N).unwrap();
    let (control, fire_control) = Deferred::<()>::pending();
    let seen = Log::new();
    let s = seen.clone();
    let ran = sem.run(move || {
        s.push("O");
        control
    });
    assert_eq!(seen.get(), ["O"]);
    fire_control.try_callback(()).unwrap();
    ok_of(ran);
    assert_eq!(sem.tokens(), N);

    let mut permits = Vec::new();
    for _ in 0..N {
        permits.push(ok_of(sem.acquire()));
    }
    assert_eq!(sem.tokens(), 0);
    let fourteenth = sem.acquire();
    let errbacks = Log::new();
    let e = errbacks.clone();
    let fourteenth = fourteenth.add_errback(move |f| -> Result<Permit, Failure> {
        e.push(f.check::<Cancelled>());
        Err(f)
    });
    fourteenth.cancel();
    assert_eq!(errbacks.get(), [true]);
    assert!(err_of(fourteenth).check::<Cancelled>());
    let fifteenth = sem.acquire();
    assert_eq!(sem.waiting(), 1);
    permits.pop(); // one release: the fifteenth gets it
    let fifteenth = ok_of(fifteenth);
    permits.clear(); // 12 more releases
    drop(fifteenth); // and the 13th
    assert_eq!(sem.tokens(), N);
}

#[test]
fn k05_semaphore_invalid_tokens() {
    assert_eq!(DeferredSemaphore::new(0).err(), Some(ZeroTokens));
    // Negative token counts are unrepresentable (`usize`).
}

#[test]
fn k07_queue() {
    let q = DeferredQueue::with_limits(Some(2), Some(2));
    let g0 = q.get().unwrap();
    let g1 = q.get().unwrap();
    assert_eq!(q.get().err(), Some(QueueUnderflow));
    q.put(0).unwrap();
    q.put(1).unwrap();
    assert_eq!((ok_of(g0), ok_of(g1)), (0, 1));
    q.put(2).unwrap();
    q.put(3).unwrap();
    assert_eq!(q.put(4).unwrap_err().into_inner(), 4);
    assert_eq!(ok_of(q.get().unwrap()), 2);
    assert_eq!(ok_of(q.get().unwrap()), 3);

    let q = DeferredQueue::new();
    let (a, b) = (q.get().unwrap(), q.get().unwrap());
    q.put(0).unwrap();
    q.put(1).unwrap();
    assert_eq!([ok_of(a), ok_of(b)], [0, 1]);

    assert!(DeferredQueue::with_limits(Some(0), None).put(1).is_err());
    assert_eq!(
        DeferredQueue::<i64>::with_limits(None, Some(0)).get().err(),
        Some(QueueUnderflow)
    );
}

#[test]
fn k08_cancel_queue_after_synchronous_get() {
    let q = DeferredQueue::new();
    let errbacks = Log::new();
    let e = errbacks.clone();
    let d = q
        .get()
        .unwrap()
        .add_errback(move |f| -> Result<i64, Failure> {
            e.push(());
            Err(f)
        });
    q.put(1).unwrap();
    d.cancel();
    assert!(errbacks.get().is_empty());
    assert_eq!(ok_of(d), 1);
}

#[test]
fn k09_cancelled_get_leaves_the_waiters() {
    let q = DeferredQueue::new();
    let d = q.get().unwrap();
    let later = q.get().unwrap();
    d.cancel();
    assert!(err_of(d).check::<Cancelled>());
    assert_eq!(q.waiting(), 1);
    q.put("x").unwrap();
    assert_eq!(ok_of(later), "x");
}

#[test]
fn k09_dropped_getter_does_not_swallow_an_item() {
    let q = DeferredQueue::new();
    drop(q.get().unwrap());
    q.put("x").unwrap();
    assert_eq!(ok_of(q.get().unwrap()), "x");
}

#[test]
fn k10_async_with_lock_and_semaphore() {
    let pool = Pool::install();
    let lock = DeferredLock::new();
    let log = Log::new();
    let (l, lk) = (log.clone(), lock.clone());
    let (gate, fire_gate) = Deferred::<()>::pending();
    let task = Deferred::<()>::from_future(async move {
        let _permit = lk.acquire().await?; // `async with lock:`
        l.push(format!("inside, locked={}", lk.locked()));
        let l2 = l.clone();
        let _inner = lk
            .acquire()
            .add_callback(move |_p: Permit| l2.push("inner acquired".into()));
        gate.await?;
        l.push("leaving".into());
        Ok::<_, Failure>(())
    });
    pool.run();
    fire_gate.try_callback(()).unwrap();
    pool.run();
    ok_of(task);
    assert_eq!(
        log.get(),
        ["inside, locked=true", "leaving", "inner acquired"]
    );

    let sem = DeferredSemaphore::new(3).unwrap();
    let tokens = Log::new();
    let (t, s) = (tokens.clone(), sem.clone());
    let task = Deferred::<()>::from_future(async move {
        let _a = s.acquire().await?;
        t.push(s.tokens());
        let _b = s.acquire().await?;
        t.push(s.tokens());
        let _c = s.acquire().await?;
        t.push(s.tokens());
        Ok::<_, Failure>(())
    });
    pool.run();
    ok_of(task);
    assert_eq!(tokens.get(), [2, 1, 0]);
    assert_eq!(sem.tokens(), 3);

    // An error inside the block propagates and the lock is released.
    let lk = lock.clone();
    let task = Deferred::<()>::from_future(async move {
        let _permit = lk.acquire().await?;
        Err::<(), _>(Failure::msg("inside the lock"))
    });
    pool.run();
    assert_eq!(err_of(task).to_string(), "inside the lock");
    assert!(!lock.locked());
}

// K11 (releasing an unlocked lock / over-releasing a semaphore): impossible by construction —
// releasing is dropping the one `Permit` an acquire gave.

#[test]
fn k12_waiters_are_served_first_in_first_out() {
    let sem = DeferredSemaphore::new(1).unwrap();
    let held = ok_of(sem.acquire());
    let order = Log::new();
    let waiters: Vec<Deferred<()>> = (0..3)
        .map(|i| {
            let o = order.clone();
            sem.acquire().add_callback(move |p: Permit| {
                o.push(i);
                drop(p);
            })
        })
        .collect();
    drop(held);
    assert_eq!(order.get(), [0, 1, 2]);
    for w in waiters {
        ok_of(w);
    }
}
