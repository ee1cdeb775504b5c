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
//! A server implementation is a `fn(std::net::TcpListener, server::Stop)` (see
//! [`crate::server`]); its workload entry is `pub(crate) fn fate(args: &Args) -> Report {
//! bench(args, "fate Protocol", serve) }`.

use std::net::TcpListener;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::args::{Args, Flag};
use crate::loadgen::{self, Load, Protocol};
use crate::report::{median_round, Report};
use crate::server::{Pinning, ServerThread, Stop};
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
        Flag::switch("no-pin", "do not pin server and client threads to CPUs"),
    ],
    impls: &[
        (Impl::Fate, fate),
        (Impl::FateAsync, fate_async),
        (Impl::Tokio, tokio),
    ],
};

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
pub(crate) fn bench<F>(args: &Args, peer: &str, serve: F) -> Report
where
    F: FnOnce(TcpListener, Stop) + Copy + Send + 'static,
{
    let window = window("echo", args);
    let msg_size: usize = args.get("msg-size");
    if msg_size == 0 {
        fail("echo", "--msg-size must be >= 1");
    }
    let pinning = Pinning::choose(args.switch("no-pin"));
    let rounds = args.get::<u32>("rounds").max(1);
    let protocol = Protocol::Echo { msg_size };
    let measured: Vec<Report> = (0..rounds)
        .map(|_| loadgen_round("echo", serve, pinning, window, protocol))
        .collect();
    median_round(measured)
        .with("peer", peer)
        .with("conns", window.0 as u64)
        .with("msg_size", msg_size as u64)
        .with("pinned", pinning.pinned())
}

/// One round of a server workload under the built-in load generator: a fresh server thread
/// running `serve`, for `window` = (connections, measured time, warm-up) as [`window`] gives
/// them, speaking `protocol`. Exits with status 1 if a connection failed or the server did
/// not stop.
pub(crate) fn loadgen_round<F>(
    workload: &str,
    serve: F,
    pinning: Pinning,
    (conns, duration, warmup): (usize, Duration, Duration),
    protocol: Protocol,
) -> Report
where
    F: FnOnce(TcpListener, Stop) + Send + 'static,
{
    let name = format!("fate-bench-{workload}");
    let outcome = ServerThread::round(&name, pinning.server, serve, |server| {
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
pub(crate) fn fate(args: &Args) -> Report {
    bench(args, "fate Protocol (callbacks), fate reactor", serve_fate)
}

pub(crate) fn serve_fate(listener: TcpListener, stop: Stop) {
    use fate::net::{self, Protocol, Transport};

    struct Echo(Option<Transport>);
    impl Protocol for Echo {
        fn connection_made(&mut self, transport: Transport) {
            self.0 = Some(transport);
        }
        fn data_received(&mut self, data: &[u8]) {
            if let Some(t) = &self.0 {
                t.write(data);
            }
        }
    }

    let reactor = fate::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("fate reactor");
    let _port =
        net::adopt_tcp_listener(listener, net::for_protocol(|| Echo(None))).expect("fate listener");
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
    bench(
        args,
        "fate async TcpStream, task per connection",
        serve_fate_async,
    )
}

fn serve_fate_async(listener: TcpListener, stop: Stop) {
    use futures::{AsyncReadExt, AsyncWriteExt};

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
/// (shared/peers w3_tokio_echo).
pub(crate) fn tokio(args: &Args) -> Report {
    bench(
        args,
        "tokio current_thread, task per connection",
        serve_tokio,
    )
}

pub(crate) fn serve_tokio(listener: TcpListener, stop: Stop) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
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
