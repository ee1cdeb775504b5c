//! `http`: a hello-world HTTP/1.1 server on its own thread under a fixed client: wrk
//! (`wrk -t1 -c50 -d5s`, as shared/peers/harness/w4_wrk.py) when it is on `PATH`, else the
//! built-in keep-alive client ([`crate::loadgen`], one request at a time per connection).
//! `--client wrk|builtin` forces one. The response: status 200, `content-type: text/html`,
//! body `hello`, with a `Content-Length` (the built-in client does not read chunked bodies).
//!
//! `n` = requests; `secs` = the measured time (wrk's duration, or the built-in client's
//! window after `--warmup`); `ops_per_sec` = requests/s. wrk saturates its core before a
//! fast server does, so the figure that decides is `server_cpu_us_per_op`: the server
//! thread's CPU per request.
//!
//! The implementation is measured `--rounds` times (3 by default), each round a fresh
//! server thread under a fresh client, and the round with the median
//! `server_cpu_us_per_op` is reported whole, with every round's figure in
//! `server_cpu_us_per_op_rounds`. On a shared two-core machine one round's CPU per request
//! swings by a fifth either way with the batching that client and server happen to fall
//! into, and keeps to it for the server's whole life; the median of three fresh servers
//! swings far less.
//!
//! Reading the figure: on this kind of VM a thread that blocks in `epoll_wait` and is woken
//! again is charged about 35 µs of CPU (two threads ping-ponging an eventfd through epoll:
//! ~35 µs CPU per round trip each, ~95 µs wall). A server that clears its batch sooner
//! sleeps more often and pays that more often. `server_sleeps_per_op` counts it: the times
//! the server's threads blocked (their voluntary context switches) per request.
//!
//! `--threads N` (N > 1) serves on N threads, as `echo --threads N` does: `fate` a
//! `fate::pool::Pool` of N reactors on `SO_REUSEPORT` sockets, `tokio` hyper on a
//! multi-thread runtime with N workers, `tokio-reuseport` N current-thread runtimes each on
//! its own socket; the CPU figure sums every server thread.
//!
//! A server implementation is a `fn(Vec<std::net::TcpListener>, server::Stop)`; its entry
//! is `pub(crate) fn fate(args: &Args) -> Report { bench(args, "fate http", 1, serve) }`.

use std::convert::Infallible;
use std::net::TcpListener;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::args::{Args, Flag};
use crate::loadgen::Protocol;
use crate::measure;
use crate::report::{median_round, round, Report};
use crate::server::{self, Pinning, ServerThread, Stop};
use crate::workloads::{echo, fail, Impl, Workload};
use crate::wrk;

pub(crate) const WORKLOAD: Workload = Workload {
    name: "http",
    about: "hello-world HTTP/1.1 server under wrk -t1 -c50 (or the built-in client)",
    flags: &[
        Flag::value("conns", "50", "client connections"),
        Flag::value("duration", "5", "measured seconds (whole seconds for wrk)"),
        Flag::value(
            "warmup",
            "0.5",
            "seconds before measuring (built-in client only)",
        ),
        Flag::value("client", "auto", "auto (wrk if on PATH), wrk or builtin"),
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
        (Impl::Tokio, tokio),
        (Impl::TokioReuseport, tokio_reuseport),
    ],
};

/// Runs `serve` on a server thread under the chosen client and reports it. Exits with
/// status 1 if any request failed or the server did not stop.
pub(crate) fn bench<F>(args: &Args, peer: &str, listeners: usize, serve: F) -> Report
where
    F: FnOnce(Vec<TcpListener>, Stop) + Copy + Send + 'static,
{
    let (conns, duration, warmup) = echo::window("http", args);
    let threads = echo::threads("http", args);
    let wrk = match args.get::<String>("client").as_str() {
        "auto" => wrk::find("wrk"),
        "wrk" => Some(wrk::find("wrk").unwrap_or_else(|| fail("http", "wrk is not on PATH"))),
        "builtin" => None,
        other => fail("http", format!("--client {other:?}: auto, wrk or builtin")),
    };
    let pinning = Pinning::choose(args.switch("no-pin"), threads);
    let rounds = args.get::<u32>("rounds").max(1);
    let measured: Vec<Report> = (0..rounds)
        .map(|_| match &wrk {
            Some(wrk) => ServerThread::round(
                "fate-bench-http",
                pinning.server,
                listeners,
                serve,
                |server| wrk_round(wrk, server, conns, duration, pinning.client),
            )
            .unwrap_or_else(|e| fail("http", e)),
            None => echo::loadgen_round(
                "http",
                (listeners, serve),
                pinning,
                (conns, duration, warmup),
                Protocol::Http,
            ),
        })
        .collect();
    let client = if wrk.is_some() { "wrk" } else { "builtin" };
    echo::threads_note(median_round(measured), threads)
        .with("client", client)
        .with("peer", peer)
        .with("conns", conns as u64)
        .with("pinned", pinning.pinned())
}

/// One wrk run against `server`: its requests, latency and the server thread's CPU.
fn wrk_round(
    wrk: &std::path::Path,
    server: &ServerThread,
    conns: usize,
    duration: std::time::Duration,
    cpu: Option<usize>,
) -> Report {
    let secs = duration.as_secs_f64().ceil() as u64;
    let clock = server.clock();
    let started = Instant::now();
    let (before, sleeps_before, children_before) =
        (clock.read(), clock.sleeps(), measure::children_cpu());
    let summary = wrk::run(wrk, server.addr(), conns, secs, cpu);
    let (after, sleeps_after, wrk_cpu) = (
        clock.read(),
        clock.sleeps(),
        measure::children_cpu() - children_before,
    );
    // Both CPU figures cover wrk's whole life, start-up included.
    let lifetime = started.elapsed().as_secs_f64();
    let summary = summary.unwrap_or_else(|e| fail("http", e));
    let (cpu, sleeps) = match (before, after, sleeps_before, sleeps_after) {
        (Ok(a), Ok(b), Ok(sa), Ok(sb)) => (b - a, sb.saturating_sub(sa)),
        _ => fail("http", "cannot read the server thread's CPU clock"),
    };
    if summary.errors > 0 || summary.requests == 0 {
        fail(
            "http",
            format!(
                "wrk: {} requests, {} errors",
                summary.requests, summary.errors
            ),
        );
    }
    Report::from_secs(summary.requests, summary.duration.as_secs_f64())
        .with_us("p50_us", summary.p50_us)
        .with_us("p99_us", summary.p99_us)
        .with_us(
            "server_cpu_us_per_op",
            cpu.as_secs_f64() * 1e6 / summary.requests as f64,
        )
        .with(
            "server_sleeps_per_op",
            round(sleeps as f64 / summary.requests as f64, 3),
        )
        .with("server_cpu_util", round(cpu.as_secs_f64() / lifetime, 3))
        .with(
            "client_cpu_util",
            round(wrk_cpu.as_secs_f64() / lifetime, 3),
        )
}

/// fate-http's `Site` on the fate reactor: hyper 1.x `http1` over fate-core transports, a
/// `from_fn` resource answering every path. With `--threads N`, a pool of N reactors, each
/// with its `Site` on one of the port's sockets.
pub(crate) fn fate(args: &Args) -> Report {
    match echo::threads("http", args) {
        1 => bench(
            args,
            "fate-http Site (hyper 1 http1), fate reactor",
            1,
            |listeners, stop| serve_fate(server::only(listeners), stop),
        ),
        n => bench(
            args,
            "fate-http Site (hyper 1 http1), fate::pool of N reactors, SO_REUSEPORT",
            n,
            |listeners, stop| {
                echo::serve_pool(listeners, stop, |listener| {
                    hello_site()
                        .adopt(listener)
                        .expect("fate-http adopts the listener");
                })
            },
        ),
    }
}

/// The hello-world site.
fn hello_site() -> fate::http::server::Site {
    use fate::http::server::{from_fn, Request, Response, Site};

    Site::new(from_fn(|_: Request| {
        let mut resp = Response::new(fate::http::Body::from("hello"));
        resp.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/html"),
        );
        resp
    }))
}

pub(crate) fn serve_fate(listener: TcpListener, stop: Stop) {
    fate::block_on(async move {
        let listening = hello_site()
            .adopt(listener)
            .expect("fate-http adopts the listener");
        stop.await;
        listening.stop_listening();
    })
    .expect("fate reactor");
}

/// hyper 1.x `http1` on tokio current_thread, a task per connection, keep-alive
/// (shared/peers w4_hyper_hello); with `--threads N`, on the multi-thread runtime with N
/// workers (work stealing), one listener.
pub(crate) fn tokio(args: &Args) -> Report {
    match echo::threads("http", args) {
        1 => bench(
            args,
            "hyper 1 http1, tokio current_thread",
            1,
            |listeners, stop| serve_tokio(server::only(listeners), stop),
        ),
        n => bench(
            args,
            "hyper 1 http1, tokio multi_thread (N workers)",
            1,
            move |listeners, stop| {
                hyper_on(server::tokio_multi_thread(n), server::only(listeners), stop)
            },
        ),
    }
}

/// hyper on N tokio current_thread runtimes, one per thread, each accepting on its own
/// `SO_REUSEPORT` socket.
pub(crate) fn tokio_reuseport(args: &Args) -> Report {
    let n = echo::threads("http", args);
    bench(
        args,
        "hyper 1 http1, tokio current_thread x N, SO_REUSEPORT",
        n,
        |listeners, stop| server::per_thread(listeners, stop, serve_tokio),
    )
}

async fn hello(_req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut resp = Response::new(Full::new(Bytes::from_static(b"hello")));
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html"),
    );
    Ok(resp)
}

pub(crate) fn serve_tokio(listener: TcpListener, stop: Stop) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("tokio runtime");
    hyper_on(rt, listener, stop);
}

/// The hyper server on `rt` until `stop`.
fn hyper_on(rt: tokio::runtime::Runtime, listener: TcpListener, stop: Stop) {
    rt.block_on(async move {
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let accept = async {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    continue;
                };
                let _ = s.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(s), service_fn(hello))
                        .await;
                });
            }
        };
        tokio::select! {
            () = stop => {}
            () = accept => {}
        }
    });
}
