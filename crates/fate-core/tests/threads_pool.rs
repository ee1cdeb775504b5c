//! `defer_to_thread`, `ThreadPool`, `Reply` and `resolve`: results on the loop thread,
//! panics as failures, a bounded pool, and a loop that keeps running while jobs block.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use fate_core::reactor::Reactor;
use fate_core::threads::{self, ThreadPool};
use fate_deferred::{Abandoned, Panicked};

fn reactor() -> Reactor {
    Reactor::builder().handle_signals(false).build().unwrap()
}

#[test]
fn results_fire_on_the_loop_thread() {
    let reactor = reactor();
    let loop_thread = std::thread::current().id();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    reactor.call_soon(move || {
        for i in 0..20u64 {
            let s = s.clone();
            let _ = threads::defer_to_thread(move || (i * i, std::thread::current().id()))
                .add_callback(move |(sq, worker)| {
                    assert_ne!(worker, loop_thread);
                    assert_eq!(std::thread::current().id(), loop_thread);
                    s.borrow_mut().push(sq);
                });
        }
    });
    // run_until_idle waits for the 20 jobs to come back.
    reactor.run_until_idle().unwrap();
    let mut seen = seen.borrow().clone();
    seen.sort();
    assert_eq!(seen, (0..20u64).map(|i| i * i).collect::<Vec<_>>());
}

#[test]
fn a_panic_in_a_job_becomes_a_failure() {
    let reactor = reactor();
    let message = reactor
        .block_on(async {
            let failure = threads::defer_to_thread(|| -> u8 { panic!("the job broke") })
                .await
                .unwrap_err();
            failure
                .downcast_ref::<Panicked>()
                .map(|p| p.message().to_owned())
        })
        .unwrap();
    assert_eq!(message.as_deref(), Some("the job broke"));
}

#[test]
fn the_pool_is_bounded_and_queues_the_rest() {
    let reactor = reactor();
    let pool = ThreadPool::new(2);
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let done = Rc::new(RefCell::new(0));
    let (r, m, d) = (running.clone(), most.clone(), done.clone());
    reactor.call_soon(move || {
        for _ in 0..8 {
            let (r, m, d) = (r.clone(), m.clone(), d.clone());
            let _ = pool
                .defer(move || {
                    let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                    m.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    r.fetch_sub(1, Ordering::SeqCst);
                })
                .add_callback(move |()| *d.borrow_mut() += 1);
        }
    });
    reactor.run_until_idle().unwrap();
    assert_eq!(*done.borrow(), 8);
    assert_eq!(most.load(Ordering::SeqCst), 2);
}

#[test]
fn timers_keep_running_while_a_job_blocks() {
    let reactor = reactor();
    let ticks = Rc::new(RefCell::new(0u32));
    let finished = Rc::new(RefCell::new(None));
    let (t, f) = (ticks.clone(), finished.clone());
    // The job blocks until the loop has ticked 5 times: it can only end if the loop runs.
    let gate = Arc::new(Barrier::new(2));
    let g = gate.clone();
    reactor.call_soon(move || {
        let f2 = f.clone();
        let _ = threads::defer_to_thread(move || {
            g.wait();
            Instant::now()
        })
        .add_callback(move |at| *f2.borrow_mut() = Some(at));
        fn tick(t: Rc<RefCell<u32>>, gate: Arc<Barrier>) {
            *t.borrow_mut() += 1;
            if *t.borrow() == 5 {
                // Opening the gate from the loop blocks only until the job reaches it.
                gate.wait();
                return;
            }
            let _ = fate_core::call_later(Duration::from_millis(2), move || tick(t, gate));
        }
        tick(t, gate);
    });
    reactor.run_until_idle().unwrap();
    assert_eq!(*ticks.borrow(), 5);
    assert!(finished.borrow().is_some());
}

#[test]
fn resolve_names_and_literals() {
    let reactor = reactor();
    let (local, literal, bad) = reactor
        .block_on(async {
            let local = threads::resolve("localhost", 80).await.unwrap();
            let literal = threads::resolve("192.0.2.7", 443).await.unwrap();
            let bad = threads::resolve("no-such-host.invalid", 1).await;
            (local, literal, bad)
        })
        .unwrap();
    assert!(!local.is_empty());
    assert!(local.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
    assert_eq!(literal, vec!["192.0.2.7:443".parse().unwrap()]);
    let failure = bad.unwrap_err();
    assert!(
        failure.downcast_ref::<std::io::Error>().is_some(),
        "{failure}"
    );
}

/// A `Reply` from a thread of the caller's own fires its Deferred on the loop thread; one
/// dropped unsent fails it with `Abandoned`; `run_until_idle` waits for both.
#[test]
fn a_reply_from_any_thread_fires_on_the_loop_and_a_dropped_one_abandons() {
    let reactor = reactor();
    let loop_thread = std::thread::current().id();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    reactor.call_soon(move || {
        let (sent, reply) = threads::Reply::<u32>::pending();
        let (dropped, unsent) = threads::Reply::<u32>::pending();
        std::thread::spawn(move || {
            reply.send(7);
            drop(unsent);
        });
        let s2 = s.clone();
        let _ = sent.add_callback(move |n| {
            assert_eq!(std::thread::current().id(), loop_thread);
            s2.borrow_mut().push(format!("sent {n}"));
        });
        let _ = dropped.add_errback(move |f| {
            assert!(f.check::<Abandoned>(), "{f:?}");
            s.borrow_mut().push("abandoned".to_string());
            0
        });
    });
    reactor.run_until_idle().unwrap();
    assert_eq!(*seen.borrow(), ["sent 7", "abandoned"]);
}
