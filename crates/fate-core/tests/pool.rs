//! The reactor pool: a shared port both workers accept on, calls between loops that answer on
//! the caller's thread, panicked workers reported (or restarted), and stopping.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fate_core::net::{self, ListenOptions, Protocol, Transport};
use fate_core::pool::{self, Pool, PoolError, WorkerGone};
use fate_core::reactor::{PanicPolicy, Reactor};
use fate_deferred::{FirstError, Panicked};

/// How long a pool in these tests may run before the watchdog stops it.
const LIMIT: Duration = Duration::from_secs(20);

/// A two-worker pool that does not touch the test process's signals.
fn pool() -> Pool {
    Pool::new().threads(2).handle_signals(false)
}

/// Runs `pool` with `setup`, stopping it if it runs past [`LIMIT`] (a failed assertion in a
/// worker's callback would otherwise leave it running).
fn run<F>(pool: Pool, setup: F) -> Result<(), PoolError>
where
    F: Fn(pool::Worker) + Send + Sync + 'static,
{
    let running = pool.start(setup)?;
    let handle = running.handle();
    let (done, finished) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(LIMIT).is_err() {
            handle.stop();
        }
    });
    let ended = running.join();
    drop(done);
    watchdog.join().unwrap();
    ended
}

/// Answers each connection with the index of the worker that accepted it, then closes.
struct Tell(u8);

impl Protocol for Tell {
    fn connection_made(&mut self, transport: Transport) {
        transport.write(&[self.0]);
        transport.lose_connection();
    }

    fn data_received(&mut self, _: &[u8]) {}
}

#[test]
fn two_workers_share_one_port_and_both_accept() {
    let accepted: Arc<[AtomicUsize; 2]> = Arc::default();
    let (ready, listening) = mpsc::channel::<SocketAddr>();
    let ready = Mutex::new(ready);
    let counts = accepted.clone();
    let running = pool()
        .start(move |worker| {
            let index = worker.index();
            let counts = counts.clone();
            let factory = net::for_protocol(move || {
                counts[index].fetch_add(1, Ordering::SeqCst);
                Tell(index as u8)
            });
            let port = net::listen_tcp("127.0.0.1:0".parse().unwrap(), factory).unwrap();
            let addr = SocketAddr::from(([127, 0, 0, 1], port.host().port().unwrap()));
            ready.lock().unwrap().send(addr).unwrap();
        })
        .unwrap();
    let wait = Duration::from_secs(10);
    let first = listening.recv_timeout(wait).unwrap();
    let second = listening.recv_timeout(wait).unwrap();
    assert_eq!(first, second, "port 0 resolves to one shared port");

    let mut served_by = [0usize; 2];
    for _ in 0..200 {
        let mut conn = TcpStream::connect(first).unwrap();
        conn.set_read_timeout(Some(wait)).unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).unwrap();
        assert_eq!(answer.len(), 1, "every connection is served");
        served_by[answer[0] as usize] += 1;
    }
    running.handle().stop();
    running.join().unwrap();

    assert_eq!(served_by[0] + served_by[1], 200);
    assert!(served_by[0] > 0 && served_by[1] > 0, "{served_by:?}");
    let counted = [0, 1].map(|i| accepted[i].load(Ordering::SeqCst));
    assert_eq!(counted, served_by);
}

#[test]
fn a_listener_can_keep_its_port_to_itself() {
    let (ready, listening) = mpsc::channel::<u16>();
    let ready = Mutex::new(ready);
    run(pool(), move |worker| {
        let options = ListenOptions::new().reuse_port(false);
        let factory = net::for_protocol(|| Tell(0));
        let port = net::listen_tcp_with("127.0.0.1:0".parse().unwrap(), factory, &options);
        ready
            .lock()
            .unwrap()
            .send(port.unwrap().host().port().unwrap())
            .unwrap();
        if worker.index() == 0 {
            worker.pool().stop();
        }
    })
    .unwrap();
    let ports: Vec<u16> = listening.try_iter().collect();
    assert_eq!(ports.len(), 2);
    assert_ne!(ports[0], ports[1]);
}

#[test]
fn a_call_to_another_worker_answers_on_the_callers_thread() {
    let (report, reports) = mpsc::channel::<String>();
    let report = Mutex::new(report);
    run(pool(), move |worker| {
        if worker.index() != 1 {
            return;
        }
        let report = report.lock().unwrap().clone();
        let pool = worker.pool().clone();
        let caller = std::thread::current().id();
        let _ = pool
            .worker(0)
            .call(move || {
                assert_ne!(std::thread::current().id(), caller);
                // The closure runs on worker 0, with worker 0's reactor.
                fate_core::reactor();
                (pool::current_worker(), 6 * 7)
            })
            .add_callback(move |(ran_on, value)| {
                assert_eq!(std::thread::current().id(), caller);
                report
                    .send(format!("{ran_on:?} {value} {:?}", pool::current_worker()))
                    .unwrap();
                pool.stop();
            });
    })
    .unwrap();
    assert_eq!(reports.try_recv().unwrap(), "Some(0) 42 Some(1)");
}

#[test]
fn a_panicking_call_fails_its_deferred_and_spares_the_worker() {
    let (report, reports) = mpsc::channel::<String>();
    let report = Mutex::new(report);
    run(pool(), move |worker| {
        if worker.index() != 0 {
            return;
        }
        let report = report.lock().unwrap().clone();
        let pool = worker.pool().clone();
        let target = pool.worker(1);
        let again = target.clone();
        let _ = target
            .call(|| -> u8 { panic!("bad message") })
            .add_both(move |result| {
                let failure = result.unwrap_err();
                let message = failure.downcast_ref::<Panicked>().unwrap().message();
                report.send(message.to_owned()).unwrap();
                again.call(|| 7u8).add_callback(move |n| {
                    report.send(n.to_string()).unwrap();
                    pool.stop();
                })
            });
    })
    .unwrap();
    let got: Vec<String> = reports.try_iter().collect();
    assert_eq!(got, ["bad message", "7"]);
}

#[test]
fn broadcast_reaches_every_worker_in_order() {
    let (report, reports) = mpsc::channel::<Vec<usize>>();
    let report = Mutex::new(report);
    run(
        Pool::new().threads(3).handle_signals(false),
        move |worker| {
            if worker.index() != 2 {
                return;
            }
            let report = report.lock().unwrap().clone();
            let pool = worker.pool().clone();
            let _ = pool
                .broadcast(|| pool::current_worker().unwrap())
                .add_callback(move |indices| {
                    report.send(indices).unwrap();
                    pool.stop();
                });
        },
    )
    .unwrap();
    assert_eq!(reports.try_recv().unwrap(), vec![0, 1, 2]);
}

#[test]
fn a_call_to_a_stopped_worker_fails_with_worker_gone() {
    let running = pool().start(|_| {}).unwrap();
    let handle = running.handle();
    let all = handle.clone();
    handle.stop();
    running.join().unwrap();
    assert_eq!(
        handle.worker(1).call_from_thread(|| ()),
        Err(WorkerGone { index: 1 })
    );
    // From a loop, the Deferred fails (on the next turn, as any answer would arrive).
    let reactor = Reactor::builder().handle_signals(false).build().unwrap();
    let one = handle.clone();
    let failure = reactor
        .block_on(async move { one.worker(0).call(|| 1u8).await })
        .unwrap()
        .unwrap_err();
    assert_eq!(
        failure.downcast_ref::<WorkerGone>(),
        Some(&WorkerGone { index: 0 })
    );
    let failure = reactor
        .block_on(async move { all.broadcast(|| 1u8).await })
        .unwrap()
        .unwrap_err();
    assert!(failure.check::<FirstError>());
}

#[test]
fn a_worker_whose_setup_panics_stops_the_pool_with_its_index() {
    let other_stopped = Arc::new(AtomicBool::new(false));
    let flag = other_stopped.clone();
    let ended = run(pool(), move |worker| {
        if worker.index() == 1 {
            panic!("worker 1 cannot start");
        }
        let flag = flag.clone();
        fate_core::reactor().add_system_event_trigger(
            fate_core::reactor::Phase::Before,
            fate_core::reactor::SystemEvent::Shutdown,
            move || flag.store(true, Ordering::SeqCst),
        );
    });
    match ended {
        Err(PoolError::WorkerPanicked { index, message }) => {
            assert_eq!(index, 1);
            assert_eq!(message, "worker 1 cannot start");
        }
        other => panic!("expected worker 1's panic, got {other:?}"),
    }
    assert!(
        other_stopped.load(Ordering::SeqCst),
        "worker 0 ran its shutdown triggers"
    );
}

#[test]
fn with_the_stop_policy_a_panicking_callback_ends_the_pool() {
    let stop_on_panic = Reactor::builder().panic_policy(PanicPolicy::Stop);
    let ended = run(pool().reactor(stop_on_panic), |worker| {
        if worker.index() == 0 {
            fate_core::call_soon(|| panic!("a callback broke"));
        }
    });
    let error = ended.unwrap_err();
    assert_eq!(error.worker(), Some(0));
    assert_eq!(error.to_string(), "worker 0 panicked: a callback broke");
}

#[test]
fn a_panicked_worker_restarts_when_asked() {
    let setups = Arc::new(AtomicUsize::new(0));
    let panicked = Arc::new(AtomicBool::new(false));
    let count = setups.clone();
    let stop_on_panic = Reactor::builder().panic_policy(PanicPolicy::Stop);
    run(
        pool().reactor(stop_on_panic).restart_panicked(true),
        move |worker| {
            count.fetch_add(1, Ordering::SeqCst);
            if worker.index() != 0 {
                return;
            }
            if !panicked.swap(true, Ordering::SeqCst) {
                // Worker 0's first life panics after its setup.
                fate_core::call_soon(|| panic!("first life"));
            } else {
                worker.pool().stop();
            }
        },
    )
    .unwrap();
    // Worker 0 twice, worker 1 once.
    assert_eq!(setups.load(Ordering::SeqCst), 3);
}
