//! `echo`: a TCP echo server on its own thread under the shared ping-pong load generator:
//! `--conns` connections each sending `--msg-size` bytes and waiting for the echo, for
//! `--duration` seconds after `--warmup`.
//!
//! `n` = round trips in the window; `secs` = the window; `ops_per_sec` = messages/s;
//! `p50_us`/`p99_us` round trip. On 2 cores the client is often the bottleneck, so the
//! figure that decides is `server_cpu_us_per_op`: the server thread's CPU per message.
//! Server on the first allowed CPU, client on the second (`--no-pin` to not pin).
//!
//! It runs `--rounds` times (3 by default), each a fresh server under a fresh client, and
//! reports the round with the median `server_cpu_us_per_op` whole, every round's figure in
//! `server_cpu_us_per_op_rounds` (see [`crate::report::median_round`]).
//!
//! `--threads N` (N > 1) serves on N threads: `fate` is a `fate::pool::Pool` of N
//! reactors, `tokio` a multi-thread runtime with N workers, `tokio-reuseport` N
//! current-thread runtimes each on its own `SO_REUSEPORT` socket; `server_cpu_us_per_op`
//! sums the CPU of all the server's threads (see [`crate::server`]), and
//! `server_sleeps_per_op` how often they blocked per message: with the client on the same
//! cores, how the scheduler interleaves them sets that, and each wake-up's kernel work
//! shows in the CPU figure.
//!
//! A server implementation is a `fn(Vec<std::net::TcpListener>, server::Stop)` (see
//! [`crate::server`]); its workload entry is `pub(crate) fn fate(args: &Args) -> Report {
//! bench(args, "fate Protocol", serve) }`.

use std::net::TcpListener;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::args::{Args, Flag};
use crate::loadgen::{self, Load, Protocol};
use crate::report::{median_round, Report};
use crate::server::{self, Pinning, ServerThread, Stop};
use crate::workloads::{fail, Impl, Workload};

pub(crate) const WORKLOAD: Workload = Workload {
    name: "echo",
    about: "TCP echo server under C ping-pong connections of 64-byte messages",
    flags: &[
        Flag::value("conns", "64", "client connections"),
        Flag::value("duration", "3", "measured seconds"),
        Flag::value("warmup", "0.5", "seconds before measuring"),
        Flag::value("msg-size", "64", "bytes per message"),
        Flag::value(
            "rounds",
            "3",
            "rounds, each against a fresh server; the median is reported",
        ),
        Flag::value("threads", "1", "server threads (reactors, runtime workers)"),
        Flag::switch("no-pin", "do not pin server and client threads to CPUs"),
    ],
    impls: &[
        (Impl::Fate, fate),
        (Impl::FateAsync, fate_async),
        (Impl::Tokio, tokio),
        (Impl::TokioReuseport, tokio_reuseport),
    ],
};

/// `--threads`, checked: at least 1.
pub(crate) fn threads(workload: &str, args: &Args) -> usize {
    let n: usize = args.get("threads");
    if n == 0 {
        fail(workload, "--threads must be >= 1");
    }
    n
}

/// What a report of a server on `threads` threads says about where it ran.
pub(crate) fn threads_note(report: Report, threads: usize) -> Report {
    let report = report.with("server_threads", threads as u64);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads > 1 && threads >= cores {
        report.with(
            "note",
            format!(
                "the load generator shares the {cores} cores with the {threads} server threads: \
                 requests/s and latency are bounded by that; server CPU per op stays comparable"
            ),
        )
    } else {
        report
    }
}

/// The load flags shared by `echo` and `http`'s built-in client, checked.
pub(crate) fn window(workload: &str, args: &Args) -> (usize, Duration, Duration) {
    let conns: usize = args.get("conns");
    let duration: f64 = args.get("duration");
    let warmup: f64 = args.get("warmup");
    if conns == 0 || !(duration > 0.0 && duration <= 600.0) || !(0.0..=60.0).contains(&warmup) {
        fail(
            workload,
            "--conns must be >= 1, --duration in (0, 600], --warmup in [0, 60]",
        );
    }
    (
        conns,
        Duration::from_secs_f64(duration),
        Duration::from_secs_f64(warmup),
    )
}

/// Runs `serve` on a server thread under the shared load generator and reports it.
/// Exits with status 1 if a connection failed or the server did not stop.
pub(crate) fn bench<F>(args: &Args, peer: &str, listeners: usize, serve: F) -> Report
where
    F: FnOnce(Vec<TcpListener>, Stop) + Copy + Send + 'static,
{
    let window = window("echo", args);
    let threads = threads("echo", args);
    let msg_size: usize = args.get("msg-size");
    if msg_size == 0 {
        fail("echo", "--msg-size must be >= 1");
    }
    let pinning = Pinning::choose(args.switch("no-pin"), threads);
    let rounds = args.get::<u32>("rounds").max(1);
    let protocol = Protocol::Echo { msg_size };
    let measured: Vec<Report> = (0..rounds)
        .map(|_| loadgen_round("echo", (listeners, serve), pinning, window, protocol))
        .collect();
    threads_note(median_round(measured), threads)
        .with("peer", peer)
        .with("conns", window.0 as u64)
        .with("msg_size", msg_size as u64)
        .with("pinned", pinning.pinned())
}

/// One round of a server workload under the built-in load generator: a fresh server thread
/// running `serve` on `listeners` sockets, for `window` = (connections, measured time,
/// warm-up) as [`window`] gives them, speaking `protocol`. Exits with status 1 if a
/// connection failed or the server did not stop.
pub(crate) fn loadgen_round<F>(
    workload: &str,
    (listeners, serve): (usize, F),
    pinning: Pinning,
    (conns, duration, warmup): (usize, Duration, Duration),
    protocol: Protocol,
) -> Report
where
    F: FnOnce(Vec<TcpListener>, Stop) + Send + 'static,
{
    let name = format!("fate-bench-{workload}");
    let outcome = ServerThread::round(&name, pinning.server, listeners, serve, |server| {
        loadgen::run(
            Load {
                addr: server.addr(),
                conns,
                warmup,
                duration,
                cpu: pinning.client,
                server: server.clock(),
            },
            protocol,
        )
    })
    .and_then(|outcome| outcome)
    .unwrap_or_else(|e| fail(workload, e));
    if let Some(problem) = outcome.problem() {
        fail(workload, problem);
    }
    outcome.report(duration)
}

/// fate Protocol: an echo `Protocol` per connection on an adopted listener; the reactor
/// stops (closing every connection through its shutdown triggers) when the harness asks.
/// With `--threads N`, a pool of N reactors, each adopting one of the port's sockets.
pub(crate) fn fate(args: &Args) -> Report {
    match threads("echo", args) {
        1 => bench(
            args,
            "fate Protocol (callbacks), fate reactor",
            1,
            |listeners, stop| serve_fate(server::only(listeners), stop),
        ),
        n => bench(
            args,
            "fate Protocol (callbacks), fate::pool of N reactors, SO_REUSEPORT",
            n,
            |listeners, stop| serve_pool(listeners, stop, adopt_echo),
        ),
    }
}

/// Writes back whatever it reads.
struct Echo(Option<fate::net::Transport>);

impl fate::net::Protocol for Echo {
    fn connection_made(&mut self, transport: fate::net::Transport) {
        self.0 = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.0 {
            t.write(data);
        }
    }
}

/// Serves echo on `listener` from this thread's reactor.
fn adopt_echo(listener: TcpListener) {
    fate::net::adopt_tcp_listener(listener, fate::net::for_protocol(|| Echo(None)))
        .expect("fate listener");
}

/// A `fate::pool::Pool` with a worker per listener: worker `i` counts its thread as the
/// server's and runs `adopt` on listener `i`; the pool stops when the harness asks.
pub(crate) fn serve_pool(listeners: Vec<TcpListener>, stop: Stop, adopt: fn(TcpListener)) {
    let threads = listeners.len();
    let listeners: Mutex<Vec<Option<TcpListener>>> =
        Mutex::new(listeners.into_iter().map(Some).collect());
    let pool = fate::pool::Pool::new()
        .threads(threads)
        .handle_signals(false)
        .start(move |worker| {
            server::count_this_thread();
            let listener = listeners.lock().unwrap()[worker.index()].take();
            adopt(listener.expect("one listener per worker"));
        })
        .expect("fate pool");
    futures::executor::block_on(stop);
    pool.handle().stop();
    pool.join().expect("fate pool");
}

pub(crate) fn serve_fate(listener: TcpListener, stop: Stop) {
    let reactor = fate::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("fate reactor");
    adopt_echo(listener);
    reactor
        .spawn_local(async move {
            stop.await;
            fate::reactor().stop();
        })
        .detach();
    reactor.run().expect("fate reactor run");
}

/// fate async: a task per connection over `fate::net::TcpStream`, reading up to 64 KiB
/// and writing it back (the tokio peer's shape on Fate's reactor).
pub(crate) fn fate_async(args: &Args) -> Report {
    if threads("echo", args) > 1 {
        fail(
            "echo",
            "fate-async has no --threads form; --impl fate runs a pool",
        );
    }
    bench(
        args,
        "fate async TcpStream, task per connection",
        1,
        serve_fate_async,
    )
}

fn serve_fate_async(listeners: Vec<TcpListener>, stop: Stop) {
    use futures::{AsyncReadExt, AsyncWriteExt};

    let listener = server::only(listeners);
    fate::block_on(async move {
        let listener = fate::net::TcpListener::from_std(listener).expect("fate listener");
        let accept = async {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    continue;
                };
                fate::spawn_local(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match s.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                })
                .detach();
            }
        };
        futures::pin_mut!(accept);
        futures::future::select(stop, accept).await;
    })
    .expect("fate reactor");
}

/// tokio current_thread, a task per connection reading up to 64 KiB and writing it back
/// (shared/peers w3_tokio_echo); with `--threads N`, the multi-thread runtime with N
/// workers (work stealing), one listener.
pub(crate) fn tokio(args: &Args) -> Report {
    match threads("echo", args) {
        1 => bench(
            args,
            "tokio current_thread, task per connection",
            1,
            |listeners, stop| serve_tokio(server::only(listeners), stop),
        ),
        n => bench(
            args,
            "tokio multi_thread (N workers), task per connection",
            1,
            move |listeners, stop| {
                echo_on(server::tokio_multi_thread(n), server::only(listeners), stop)
            },
        ),
    }
}

/// N tokio current_thread runtimes, one per thread, each accepting on its own
/// `SO_REUSEPORT` socket: thread-per-core built from tokio (the same shape as fate's pool).
pub(crate) fn tokio_reuseport(args: &Args) -> Report {
    let n = threads("echo", args);
    bench(
        args,
        "tokio current_thread x N, SO_REUSEPORT, task per connection",
        n,
        |listeners, stop| server::per_thread(listeners, stop, serve_tokio),
    )
}

pub(crate) fn serve_tokio(listener: TcpListener, stop: Stop) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    echo_on(rt, listener, stop);
}

/// The tokio echo server on `rt` until `stop`.
fn echo_on(rt: tokio::runtime::Runtime, listener: TcpListener, stop: Stop) {
    rt.block_on(async move {
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let accept = async {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    continue;
                };
                let _ = s.set_nodelay(true);
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match s.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        };
        tokio::select! {
            () = stop => {}
            () = accept => {}
        }
    });
}
