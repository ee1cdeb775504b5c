//! A site served for a test either on the test's own reactor or on a pool of two reactors
//! (one `Site` per worker, sharing the port), so one test body checks both: what passes on
//! one reactor must pass when the kernel spreads the connections over two loops.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fate_core::pool::{Pool, PoolHandle, RunningPool};
use fate_core::reactor::{Phase, SystemEvent, TriggerWait};
use fate_core::task::JoinHandle;
use fate_http::server::{Listening, Site};

/// Where a test's site runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    /// On the reactor that runs the test (and its client).
    Reactor,
    /// On a pool of [`POOL_WORKERS`] reactors on their own threads, each listening on the
    /// same port; the client stays on the test's reactor.
    Pool,
}

/// How many workers the pool mode starts.
pub const POOL_WORKERS: usize = 2;

thread_local! {
    /// On a pool worker: the site it listens with.
    static LISTENING: RefCell<Option<Rc<Listening>>> = const { RefCell::new(None) };
}

/// A listening site, on this reactor or on a pool.
///
/// # Cancellation
///
/// Dropping it stops a pool (and waits for its threads); a site on this reactor keeps
/// listening until its reactor ends, as a dropped [`Listening`] does.
pub struct Served {
    addr: SocketAddr,
    inner: Inner,
}

enum Inner {
    Here(Listening),
    Pool {
        handle: PoolHandle,
        /// Until joined by [`Served::shutdown`].
        pool: RefCell<Option<RunningPool>>,
    },
}

impl Served {
    /// Listens on a free port of 127.0.0.1 with the site `make` builds (once per worker on
    /// a pool); returns once every worker listens.
    pub fn start(on: On, make: impl Fn() -> Site + Send + Sync + 'static) -> Served {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        if on == On::Reactor {
            let l = make().listen(any).unwrap();
            return Served {
                addr: l.local_addr(),
                inner: Inner::Here(l),
            };
        }
        let (tx, rx) = mpsc::channel();
        let tx = std::sync::Mutex::new(tx);
        let pool = Pool::new()
            .threads(POOL_WORKERS)
            .handle_signals(false)
            .start(move |_| {
                let l = Rc::new(make().listen(any).unwrap());
                tx.lock().unwrap().send(l.local_addr()).unwrap();
                LISTENING.with(|slot| *slot.borrow_mut() = Some(l.clone()));
                // Stopping the pool drains each worker's site, as `fate web` does.
                fate_core::reactor().add_system_event_trigger(
                    Phase::Before,
                    SystemEvent::Shutdown,
                    move || {
                        let l = l.clone();
                        TriggerWait::future(async move { l.shutdown().await.unwrap() })
                    },
                );
            })
            .unwrap();
        let addrs: Vec<SocketAddr> = (0..POOL_WORKERS)
            .map(|_| rx.recv_timeout(Duration::from_secs(10)).unwrap())
            .collect();
        assert!(addrs.iter().all(|a| *a == addrs[0]), "one port: {addrs:?}");
        Served {
            addr: addrs[0],
            inner: Inner::Pool {
                handle: pool.handle(),
                pool: RefCell::new(Some(pool)),
            },
        }
    }

    /// The address every worker listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Open connections (over every worker; 0 once a pool has stopped).
    pub async fn connections(&self) -> usize {
        match &self.inner {
            Inner::Here(l) => l.connections(),
            Inner::Pool { handle, .. } => {
                if handle.is_stopping() {
                    return 0;
                }
                let counts = handle
                    .broadcast(|| {
                        LISTENING.with(|l| l.borrow().as_ref().map_or(0, |l| l.connections()))
                    })
                    .await
                    .unwrap();
                counts.into_iter().sum()
            }
        }
    }

    /// Waits (a few milliseconds at a time) until exactly `n` connections are open; panics
    /// after `limit`.
    pub async fn wait_connections(&self, limit: Duration, n: usize) {
        let started = Instant::now();
        loop {
            let open = self.connections().await;
            if open == n {
                return;
            }
            assert!(
                started.elapsed() < limit,
                "still {open} connections, waiting for {n}"
            );
            fate_core::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Graceful shutdown, begun at once: stops accepting, lets requests in flight finish;
    /// the task ends when every connection has closed (on a pool: every worker has stopped).
    pub fn shutdown(&self) -> JoinHandle<()> {
        match &self.inner {
            Inner::Here(l) => {
                let drained = l.shutdown();
                fate_core::spawn_local(async move { drained.await.unwrap() })
            }
            Inner::Pool { handle, pool } => {
                handle.stop();
                let pool = pool.borrow_mut().take().expect("shut down twice");
                fate_core::spawn_local(async move {
                    super::off_thread(move || pool.join()).await.unwrap();
                })
            }
        }
    }
}

/// Declares `$check(On)` as a module of two tests named after it, `on_a_reactor` and
/// `on_a_pool`.
// Not every test binary that shares this module runs servers.
#[allow(unused_macros)]
macro_rules! on_a_reactor_and_a_pool {
    ($($check:ident),* $(,)?) => {$(
        mod $check {
            #[test]
            fn on_a_reactor() {
                super::$check(crate::common::On::Reactor);
            }

            #[test]
            fn on_a_pool() {
                super::$check(crate::common::On::Pool);
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use on_a_reactor_and_a_pool;
