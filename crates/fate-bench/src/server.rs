//! The server side of `echo` and `http`: a server implementation on its own thread, with a
//! loopback listener bound for it, a way to tell it to stop, and its CPU clock.
//!
//! Any implementation plugs in as `FnOnce(std::net::TcpListener, Stop)`: serve connections
//! on the listener (127.0.0.1, port 0, blocking mode as bound) until [`Stop`] resolves, then
//! return, closing every connection. All of the server's work must happen on the calling
//! thread — its CPU clock is what `server_cpu_us_per_op` reads.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::mpsc;
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

/// Which CPUs the server and the client threads are pinned to, when they are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pinning {
    pub(crate) server: Option<usize>,
    pub(crate) client: Option<usize>,
}

impl Pinning {
    /// Server on the first CPU this process may use, client on the second (as
    /// shared/peers/run.sh does); no pinning when `off` or with fewer than two CPUs.
    pub(crate) fn choose(off: bool) -> Pinning {
        let cpus = if off {
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
    clock: ThreadClock,
    stop: oneshot::Sender<()>,
    /// Receives () when `serve` has returned; disconnected if it panicked.
    done: mpsc::Receiver<()>,
    handle: thread::JoinHandle<()>,
}

impl ServerThread {
    /// Binds 127.0.0.1 port 0 and runs `serve` on a new thread named `name`, pinned to `cpu`.
    pub(crate) fn start<F>(name: &str, cpu: Option<usize>, serve: F) -> io::Result<ServerThread>
    where
        F: FnOnce(TcpListener, Stop) + Send + 'static,
    {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let (stop, stop_rx) = oneshot::channel();
        let (clock_tx, clock_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let handle = thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                pin(cpu);
                let _ = clock_tx.send(ThreadClock::current());
                serve(listener, Stop(stop_rx));
                let _ = done_tx.send(());
            })?;
        let clock = clock_rx
            .recv()
            .map_err(|_| io::Error::other("server thread died before starting"))?;
        Ok(ServerThread {
            addr,
            clock,
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
        serve: F,
        client: impl FnOnce(&ServerThread) -> R,
    ) -> Result<R, String>
    where
        F: FnOnce(TcpListener, Stop) + Send + 'static,
    {
        let server = ServerThread::start(name, cpu, serve)
            .map_err(|e| format!("starting the server: {e}"))?;
        let out = client(&server);
        server.stop()?;
        Ok(out)
    }

    /// Where the server listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server thread's CPU clock.
    pub(crate) fn clock(&self) -> ThreadClock {
        self.clock
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
