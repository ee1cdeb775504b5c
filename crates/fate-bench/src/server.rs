//! The server side of `echo` and `http`: a server implementation on its own thread, with
//! loopback listeners bound for it, a way to tell it to stop, and its CPU clock.
//!
//! Any implementation plugs in as `FnOnce(Vec<std::net::TcpListener>, Stop)`: serve
//! connections on the listeners (127.0.0.1, one port, blocking mode as bound) until [`Stop`]
//! resolves, then return, closing every connection. One listener is a plain socket; several
//! (for a server on several threads, `--threads N`) share the port with `SO_REUSEPORT`, so
//! each thread accepts on its own. The server's CPU is the calling thread's plus that of
//! every thread the server starts and counts with [`count_this_thread`]: the sum is what
//! `server_cpu_us_per_op` reads.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::{mpsc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use futures::channel::oneshot;
use futures::FutureExt;

use crate::measure::ThreadClock;
use crate::sys;

/// How long a server has to return after being asked to stop.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Resolves when the harness asks the server to stop (or has gone away). Runtime-agnostic:
/// any executor can await it; it is woken from the harness's thread.
pub(crate) struct Stop(oneshot::Receiver<()>);

impl Future for Stop {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_unpin(cx).map(|_| ())
    }
}

impl Stop {
    /// A stop for each of `n` threads, and what fires them all: a server on several threads
    /// hands one to each.
    pub(crate) fn split(n: usize) -> (Vec<Stop>, impl FnOnce()) {
        let (senders, stops): (Vec<_>, Vec<_>) = (0..n)
            .map(|_| {
                let (tx, rx) = oneshot::channel::<()>();
                (tx, Stop(rx))
            })
            .unzip();
        let fire = move || {
            for tx in senders {
                let _ = tx.send(());
            }
        };
        (stops, fire)
    }
}

/// The CPU clocks of the running server's threads: the server thread's first.
static SERVER_THREADS: Mutex<Vec<ThreadClock>> = Mutex::new(Vec::new());

/// Counts the calling thread's CPU as the running server's: every thread a server starts
/// (a pool's workers, a multi-thread runtime's workers) calls it as it starts.
pub(crate) fn count_this_thread() {
    SERVER_THREADS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(ThreadClock::current());
}

/// The CPU of every thread of the running server (see [`count_this_thread`]), readable from
/// the load generator.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ServerClock;

impl ServerClock {
    /// CPU time (user + system) the server's threads have used so far, summed.
    ///
    /// # Errors
    /// A counted thread has exited.
    pub(crate) fn read(self) -> io::Result<Duration> {
        Self::clocks().iter().map(|clock| clock.read()).sum()
    }

    /// Times the server's threads have blocked so far, summed (see
    /// [`ThreadClock::sleeps`]).
    ///
    /// # Errors
    /// A counted thread has exited.
    pub(crate) fn sleeps(self) -> io::Result<u64> {
        Self::clocks().iter().map(|clock| clock.sleeps()).sum()
    }

    /// The counted threads' clocks (copied: reading them makes syscalls).
    fn clocks() -> Vec<ThreadClock> {
        SERVER_THREADS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// `n` listening sockets on one free port of 127.0.0.1: a plain one for `n` = 1, else `n`
/// sharing the port with `SO_REUSEPORT`.
fn bind_listeners(n: usize) -> io::Result<Vec<TcpListener>> {
    if n <= 1 {
        return Ok(vec![TcpListener::bind(("127.0.0.1", 0))?]);
    }
    let mut addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut listeners = Vec::with_capacity(n);
    for _ in 0..n {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        socket.set_reuse_port(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        let listener: TcpListener = socket.into();
        addr = listener.local_addr()?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// The one listener of a server on one thread.
pub(crate) fn only(listeners: Vec<TcpListener>) -> TcpListener {
    let [listener] = <[TcpListener; 1]>::try_from(listeners).expect("one listener");
    listener
}

/// A tokio multi-thread runtime with `workers` worker threads, each counted as the server's.
pub(crate) fn tokio_multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .on_thread_start(count_this_thread)
        .enable_all()
        .build()
        .expect("tokio multi-thread runtime")
}

/// Serves with `serve_one` on one thread per listener, each counted as the server's, until
/// `stop`: the shape of a thread-per-core server built from single-thread ones.
pub(crate) fn per_thread(
    listeners: Vec<TcpListener>,
    stop: Stop,
    serve_one: fn(TcpListener, Stop),
) {
    let (stops, fire) = Stop::split(listeners.len());
    let threads: Vec<_> = listeners
        .into_iter()
        .zip(stops)
        .enumerate()
        .map(|(i, (listener, stop))| {
            thread::Builder::new()
                .name(format!("fate-bench-server-{i}"))
                .spawn(move || {
                    count_this_thread();
                    serve_one(listener, stop);
                })
                .expect("start a server thread")
        })
        .collect();
    futures::executor::block_on(stop);
    fire();
    for thread in threads {
        thread.join().expect("a server thread panicked");
    }
}

/// Which CPUs the server and the client threads are pinned to, when they are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pinning {
    pub(crate) server: Option<usize>,
    pub(crate) client: Option<usize>,
}

impl Pinning {
    /// Server on the first CPU this process may use, client on the second (as
    /// shared/peers/run.sh does); no pinning when `off`, with fewer than two CPUs, or for a
    /// server on more than one thread (its threads would inherit the one CPU).
    pub(crate) fn choose(off: bool, server_threads: usize) -> Pinning {
        let cpus = if off || server_threads > 1 {
            Vec::new()
        } else {
            sys::allowed_cpus().unwrap_or_default()
        };
        match cpus[..] {
            [server, client, ..] => Pinning {
                server: Some(server),
                client: Some(client),
            },
            _ => Pinning {
                server: None,
                client: None,
            },
        }
    }

    /// Whether both sides are pinned.
    pub(crate) fn pinned(&self) -> bool {
        self.server.is_some() && self.client.is_some()
    }
}

/// Pins the calling thread to `cpu`, if given; a failure only leaves it unpinned.
pub(crate) fn pin(cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        if let Err(e) = sys::pin_current_thread(cpu) {
            eprintln!("fate-bench: cannot pin a thread to CPU {cpu}: {e}");
        }
    }
}

/// A running server thread.
#[must_use = "a server thread runs until stopped; dropping this leaves it running"]
pub(crate) struct ServerThread {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    /// Receives () when `serve` has returned; disconnected if it panicked.
    done: mpsc::Receiver<()>,
    handle: thread::JoinHandle<()>,
}

impl ServerThread {
    /// Binds `listeners` sockets on one port of 127.0.0.1 and runs `serve` on a new thread
    /// named `name`, pinned to `cpu`.
    pub(crate) fn start<F>(
        name: &str,
        cpu: Option<usize>,
        listeners: usize,
        serve: F,
    ) -> io::Result<ServerThread>
    where
        F: FnOnce(Vec<TcpListener>, Stop) + Send + 'static,
    {
        let listeners = bind_listeners(listeners)?;
        let addr = listeners[0].local_addr()?;
        let (stop, stop_rx) = oneshot::channel();
        let (started_tx, started) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        SERVER_THREADS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let handle = thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                pin(cpu);
                count_this_thread();
                let _ = started_tx.send(());
                serve(listeners, Stop(stop_rx));
                let _ = done_tx.send(());
            })?;
        started
            .recv()
            .map_err(|_| io::Error::other("server thread died before starting"))?;
        Ok(ServerThread {
            addr,
            stop,
            done,
            handle,
        })
    }

    /// Starts a server as [`start`](ServerThread::start) does, runs `client` against it, and
    /// stops it: one round of a server workload.
    ///
    /// # Errors
    /// The server did not start, panicked or did not stop (what `client` returned is lost).
    pub(crate) fn round<F, R>(
        name: &str,
        cpu: Option<usize>,
        listeners: usize,
        serve: F,
        client: impl FnOnce(&ServerThread) -> R,
    ) -> Result<R, String>
    where
        F: FnOnce(Vec<TcpListener>, Stop) + Send + 'static,
    {
        let server = ServerThread::start(name, cpu, listeners, serve)
            .map_err(|e| format!("starting the server: {e}"))?;
        let out = client(&server);
        server.stop()?;
        Ok(out)
    }

    /// Where the server listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The CPU clock of the server's threads.
    pub(crate) fn clock(&self) -> ServerClock {
        ServerClock
    }

    /// Asks the server to stop and waits for it to return.
    ///
    /// # Errors
    /// The server panicked, or did not return within 5 s (its thread is then left behind;
    /// the process exit ends it).
    pub(crate) fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(());
        match self.done.recv_timeout(STOP_GRACE) {
            Ok(()) => self
                .handle
                .join()
                .map_err(|_| "server thread panicked".to_string()),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = self.handle.join();
                Err("server thread panicked".to_string())
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("server did not stop within {STOP_GRACE:?}"))
            }
        }
    }
}
