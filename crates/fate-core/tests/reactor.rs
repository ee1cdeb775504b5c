//! The reactor's life cycle, ordering and panic boundary, on real time (short delays only).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use fate_core::reactor::{self, Phase, Reactor, ReactorError, SystemEvent, TriggerWait};

fn quiet_reactor() -> Reactor {
    Reactor::builder().handle_signals(false).build().unwrap()
}

#[test]
fn one_reactor_per_thread() {
    let first = quiet_reactor();
    assert!(matches!(Reactor::new(), Err(ReactorError::AlreadyExists)));
    drop(first);
    assert!(Reactor::new().is_ok());
}

#[test]
fn call_soon_runs_in_fifo_order_with_tasks() {
    let reactor = quiet_reactor();
    let log = Rc::new(RefCell::new(Vec::new()));
    for i in 0..3 {
        let log = log.clone();
        reactor.call_soon(move || log.borrow_mut().push(format!("call {i}")));
    }
    let l = log.clone();
    reactor
        .spawn_local(async move { l.borrow_mut().push("task".into()) })
        .detach();
    let l = log.clone();
    reactor.call_soon(move || l.borrow_mut().push("call 3".into()));
    reactor.run_until_idle().unwrap();
    assert_eq!(
        *log.borrow(),
        ["call 0", "call 1", "call 2", "task", "call 3"]
    );
}

#[test]
fn stop_runs_three_phases_in_order_and_before_can_delay() {
    let reactor = quiet_reactor();
    let log = Rc::new(RefCell::new(Vec::new()));
    for (phase, name) in [
        (Phase::After, "after"),
        (Phase::During, "during"),
        (Phase::Before, "before"),
    ] {
        let log = log.clone();
        reactor.add_system_event_trigger(phase, SystemEvent::Shutdown, move || {
            log.borrow_mut().push(name)
        });
    }
    let l = log.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        let l = l.clone();
        TriggerWait::future(async move {
            fate_core::sleep(Duration::from_millis(2)).await;
            l.borrow_mut().push("before waited");
        })
    });
    reactor.call_when_running(|| reactor::current().stop());
    reactor.run().unwrap();
    assert_eq!(
        *log.borrow(),
        ["before", "before waited", "during", "after"]
    );
    assert!(matches!(reactor.run(), Err(ReactorError::NotRestartable)));
    assert!(matches!(reactor.try_stop(), Err(ReactorError::NotRunning)));
    reactor.stop(); // harmless
}

#[test]
fn removed_trigger_does_not_run() {
    let reactor = quiet_reactor();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let id =
        reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || r.set(true));
    reactor.remove_system_event_trigger(id).unwrap();
    assert!(reactor.remove_system_event_trigger(id).is_err());
    reactor.call_when_running(|| reactor::current().stop());
    reactor.run().unwrap();
    assert!(!ran.get());
}

#[test]
fn stop_twice_is_harmless_and_try_stop_tells() {
    let reactor = quiet_reactor();
    let second = Rc::new(RefCell::new(None));
    let s = second.clone();
    let shutdowns = Rc::new(Cell::new(0));
    let n = shutdowns.clone();
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move || {
        n.set(n.get() + 1)
    });
    reactor.call_when_running(move || {
        let r = reactor::current();
        r.stop();
        r.stop();
        *s.borrow_mut() = Some(r.try_stop());
    });
    reactor.run().unwrap();
    assert!(matches!(
        *second.borrow(),
        Some(Err(ReactorError::NotRunning))
    ));
    assert_eq!(shutdowns.get(), 1);
}

#[test]
fn crash_leaves_the_loop_and_allows_another_run() {
    let reactor = quiet_reactor();
    let turns = Rc::new(Cell::new(0));
    for _ in 0..2 {
        let t = turns.clone();
        reactor.call_soon(move || {
            t.set(t.get() + 1);
            reactor::current().crash();
        });
        reactor.run().unwrap();
    }
    assert_eq!(turns.get(), 2);
}

#[test]
fn a_panicking_callback_is_logged_and_the_loop_goes_on() {
    let reactor = quiet_reactor();
    let after = Rc::new(Cell::new(false));
    reactor.call_soon(|| panic!("deliberate panic in a callback"));
    let _ = reactor.call_later(Duration::ZERO, || {
        panic!("deliberate panic in a timed call")
    });
    let a = after.clone();
    let _ = reactor.call_later(Duration::from_millis(1), move || a.set(true));
    reactor.run_until_idle().unwrap();
    assert!(after.get());
}

#[test]
fn a_panicking_task_resolves_its_handle_to_panicked() {
    let reactor = quiet_reactor();
    let outcome = reactor
        .block_on(async {
            fate_core::task::spawn_local(async { panic!("deliberate panic in a task") }).await
        })
        .unwrap();
    assert_eq!(
        outcome,
        Err(fate_core::task::JoinError::Panicked(
            "deliberate panic in a task".into()
        ))
    );
}

#[test]
fn call_from_thread_wakes_a_sleeping_loop() {
    thread_local! {
        /// Which remote calls ran, in order; only the reactor's thread touches it.
        static RAN: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    }
    let reactor = quiet_reactor();
    let remote = reactor.remote();
    let worker = std::thread::spawn(move || {
        for i in 1..=100u32 {
            remote.call_from_thread(move || {
                RAN.with(|r| r.borrow_mut().push(i));
                if i == 100 {
                    reactor::current().stop();
                }
            });
        }
    });
    // The loop has nothing else to do: it sleeps until the worker's calls wake it.
    reactor.run().unwrap();
    worker.join().unwrap();
    let ran = RAN.with(|r| r.borrow().clone());
    assert_eq!(ran, (1..=100).collect::<Vec<u32>>());
}

#[test]
fn a_task_woken_from_another_thread_runs_on_the_reactor_thread() {
    use std::sync::mpsc;
    let reactor = quiet_reactor();
    let here = std::thread::current().id();
    let (tx, rx) = mpsc::channel::<std::task::Waker>();
    let waker_thread = std::thread::spawn(move || rx.recv().unwrap().wake());
    let out = reactor.block_on(async move {
        let woke = Rc::new(Cell::new(false));
        let w = woke.clone();
        std::future::poll_fn(move |cx| {
            if w.get() {
                return std::task::Poll::Ready(());
            }
            w.set(true);
            tx.send(cx.waker().clone()).unwrap();
            std::task::Poll::Pending
        })
        .await;
        std::thread::current().id()
    });
    waker_thread.join().unwrap();
    assert_eq!(out.unwrap(), here);
}

#[test]
fn run_until_idle_ends_when_the_last_timer_fires() {
    let reactor = quiet_reactor();
    let fired = Rc::new(Cell::new(0));
    for ms in [3, 1, 2] {
        let f = fired.clone();
        let _ = reactor.call_later(Duration::from_millis(ms), move || f.set(f.get() * 10 + ms));
    }
    reactor.run_until_idle().unwrap();
    assert_eq!(fired.get(), 123);
}

#[test]
fn nested_run_is_refused() {
    let reactor = quiet_reactor();
    let nested = Rc::new(RefCell::new(None));
    let n = nested.clone();
    reactor.call_soon(move || *n.borrow_mut() = Some(reactor::current().run()));
    reactor.run_until_idle().unwrap();
    assert!(matches!(
        *nested.borrow(),
        Some(Err(ReactorError::AlreadyRunning))
    ));
}

#[test]
fn spawn_returns_a_deferred_and_cancel_drops_the_future() {
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let reactor = quiet_reactor();
    let dropped = Rc::new(Cell::new(false));
    let flag = Flag(dropped.clone());
    let result = reactor
        .block_on(async move {
            let ok = fate_core::spawn(async { Ok(20 + 1) }).add_callback(|n: i32| n * 2);
            assert_eq!(ok.await.unwrap(), 42);
            let forever = fate_core::spawn(async move {
                let _flag = flag;
                fate_core::sleep(Duration::from_secs(3600)).await;
                Ok(1)
            });
            fate_core::task::yield_now().await;
            forever.cancel();
            forever.await
        })
        .unwrap();
    assert!(result
        .unwrap_err()
        .check::<fate_core::deferred::Cancelled>());
    assert!(dropped.get());
}

#[test]
fn a_before_shutdown_deferred_delays_shutdown() {
    let reactor = quiet_reactor();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
        let (d, fire) = fate_core::deferred::Deferred::<()>::pending();
        let l = l.clone();
        let _ = reactor::current().call_later(Duration::from_millis(2), move || {
            l.borrow_mut().push("listeners closed");
            fire.try_callback(()).unwrap();
        });
        d
    });
    let l = log.clone();
    reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, move || {
        l.borrow_mut().push("after")
    });
    reactor.call_when_running(|| reactor::current().stop());
    reactor.run().unwrap();
    assert_eq!(*log.borrow(), ["listeners closed", "after"]);
}

#[test]
fn react_maps_main_deferred_to_exit_status() {
    use std::process::ExitCode;
    let ok = fate_core::react(|r| {
        let (d, fire) = fate_core::deferred::Deferred::<i64>::pending();
        let _ = r.call_later(Duration::from_millis(1), move || {
            fire.try_callback(3 * 4).unwrap()
        });
        d
    });
    assert_eq!(ok, ExitCode::SUCCESS);
    let failed = fate_core::react(|_| {
        fate_core::deferred::fail::<()>(fate_core::deferred::Failure::new(std::io::Error::other(
            "deliberate",
        )))
    });
    assert_eq!(failed, ExitCode::FAILURE);
}

#[test]
fn a_panicking_main_stops_run_with_an_error() {
    let outcome = fate_core::run(|| panic!("deliberate panic in main"));
    match outcome {
        Err(ReactorError::MainPanicked(msg)) => assert_eq!(msg, "deliberate panic in main"),
        other => panic!("want MainPanicked, got {other:?}"),
    }
    let idle = fate_core::run_until_idle(|| panic!("again"));
    assert!(matches!(idle, Err(ReactorError::MainPanicked(_))));
}

#[test]
fn a_panicking_future_ends_block_on_with_an_error() {
    // Other work pending (a far timer) must not keep block_on running once its future is gone.
    let reactor = Reactor::builder().handle_signals(false).build().unwrap();
    let outcome = reactor.block_on(async {
        fate_core::call_later(Duration::from_secs(3600), || {});
        fate_core::sleep(Duration::from_millis(1)).await;
        panic!("deliberate panic in block_on");
    });
    match outcome {
        Err(ReactorError::MainPanicked(msg)) => assert_eq!(msg, "deliberate panic in block_on"),
        other => panic!("want MainPanicked, got {other:?}"),
    }
    assert_eq!(
        reactor.block_on(async { 7 }).unwrap(),
        7,
        "the reactor runs on"
    );
}

#[test]
fn a_call_that_keeps_scheduling_due_calls_does_not_starve_the_loop() {
    // Each timed call schedules another one at the same instant in the past, so it is always
    // due; a call_soon callback queued meanwhile must still get its turn, and stops the chain.
    fn again(at: std::time::Instant, stop: Rc<Cell<bool>>, runs: Rc<Cell<u32>>) {
        if stop.get() {
            return;
        }
        runs.set(runs.get() + 1);
        let _ = reactor::current()
            .timeline()
            .call_at(at, move || again(at, stop, runs));
    }
    let reactor = quiet_reactor();
    let at = std::time::Instant::now();
    let stop = Rc::new(Cell::new(false));
    let runs = Rc::new(Cell::new(0));
    again(at, stop.clone(), runs.clone());
    let s = stop.clone();
    reactor.call_soon(move || s.set(true));
    reactor.run_until_idle().unwrap();
    assert!(stop.get());
    assert!(runs.get() >= 1);
}

/// CPU time the calling thread has used so far (the kernel's `sum_exec_runtime`).
fn thread_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    let nanos = stat.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_nanos(nanos)
}

#[test]
fn a_loop_that_polls_before_sleeping_still_sleeps_when_idle() {
    use fate_core::net::UnixStream;
    use futures_util::{AsyncReadExt, AsyncWriteExt};
    use std::time::Instant;

    let reactor = Reactor::builder()
        .handle_signals(false)
        .polls_before_sleep(1000)
        .build()
        .unwrap();
    let (idle_cpu, waited) = reactor
        .block_on(async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            for _ in 0..10 {
                // The read waits first, so the byte arrives as an I/O event.
                let writer = fate_core::spawn_local(async move {
                    a.write_all(b"x").await.unwrap();
                    a
                });
                let mut byte = [0u8];
                b.read_exact(&mut byte).await.unwrap();
                a = writer.await.unwrap();
            }
            // The loop just handled I/O: it may poll a thousand times, then it must sleep
            // until the timer, which fires on time.
            let (cpu, start) = (thread_cpu_time(), Instant::now());
            fate_core::sleep(Duration::from_millis(300)).await;
            (thread_cpu_time() - cpu, start.elapsed())
        })
        .unwrap();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert!(idle_cpu < Duration::from_millis(100), "{idle_cpu:?}");
}
