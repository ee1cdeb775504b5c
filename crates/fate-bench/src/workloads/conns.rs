//! `conns`: the server's memory per idle connection. `--conns` clients connect to a server on
//! its own thread, each makes one round trip (`--protocol http`: one keep-alive `GET /`
//! answered `200`; `echo`: 64 bytes echoed), and then all stay open and idle, as idle
//! keep-alive clients do, for `--idle` seconds.
//!
//! `n` = connections; `secs` = connecting them all and their round trips. The figure that
//! decides is `bytes_per_conn`: the resident memory of this process at the end of the idle
//! time over what it held with the server started and one connection served, per
//! connection — what a server holds for connections that are idle, not just answered. The
//! allocators are asked to give back the memory they hold free before that reading, for
//! both servers alike, so it counts memory in use rather than an allocator's cache.
//! `peak_bytes_per_conn` is the peak over the same start: the most the connections held at
//! once, reached while they were being opened and served (a server that frees an idle
//! connection's buffers only after a while shows the difference). The client's share is
//! one file descriptor and a slot in a `Vec` per connection, so the figure is the server's:
//! its connection state, buffers and (for tokio) the task per connection. Kernel socket
//! buffers are not resident memory of the process and are not counted.
//!
//! The server implementations are `http`'s and `echo`'s (fate Protocol / fate-http `Site`,
//! tokio task per connection / hyper 1 on tokio): the same servers those workloads time.
//! Each connection takes two file descriptors in this process, so `--conns` is bounded by
//! half of `RLIMIT_NOFILE` (a failed connect fails the run).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::args::{Args, Flag};
use crate::loadgen::{http_response_len, HTTP_REQUEST};
use crate::measure::Footprint;
use crate::report::{round, Report};
use crate::server::{self, ServerThread, Stop};
use crate::workloads::{echo, fail, http, Impl, Workload};

pub(crate) const WORKLOAD: Workload = Workload {
    name: "conns",
    about: "N idle keep-alive connections after one round trip each; server memory per connection",
    flags: &[
        Flag::value("conns", "5000", "connections held open"),
        Flag::value(
            "idle",
            "3",
            "seconds the connections stay idle before the memory is read",
        ),
        Flag::value(
            "protocol",
            "http",
            "http (one GET / each) or echo (64 bytes each)",
        ),
    ],
    impls: &[(Impl::Fate, fate), (Impl::Tokio, tokio)],
};

/// How long one connection's round trip may take.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);

/// What each connection does before it goes idle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exchange {
    Http,
    Echo,
}

impl Exchange {
    fn from_args(args: &Args) -> Exchange {
        match args.get::<String>("protocol").as_str() {
            "http" => Exchange::Http,
            "echo" => Exchange::Echo,
            other => fail("conns", format!("--protocol {other:?}: http or echo")),
        }
    }

    /// Connects to `addr` and makes this exchange's one round trip.
    fn open(self, addr: SocketAddr) -> Result<TcpStream, String> {
        let mut s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(ROUND_TRIP_TIMEOUT))
            .map_err(|e| format!("set_read_timeout: {e}"))?;
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 256];
        let request: &[u8] = match self {
            Exchange::Http => HTTP_REQUEST,
            Exchange::Echo => &[b'x'; 64],
        };
        s.write_all(request).map_err(|e| format!("write: {e}"))?;
        loop {
            let done = match self {
                Exchange::Http => http_response_len(&buf)?.is_some(),
                Exchange::Echo => buf.len() >= request.len(),
            };
            if done {
                return Ok(s);
            }
            match s.read(&mut chunk) {
                Ok(0) => return Err("server closed the connection".to_string()),
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }
}

/// Runs `serve` on a server thread, opens the connections and reports the memory they added.
/// Exits with status 1 if any connection failed.
fn bench(args: &Args, peer: &str, serve: fn(TcpListener, Stop)) -> Report {
    let n: usize = args.get("conns");
    if n == 0 {
        fail("conns", "--conns must be >= 1");
    }
    let exchange = Exchange::from_args(args);
    let idle_secs: f64 = args.get("idle");
    if !(idle_secs >= 0.0 && idle_secs.is_finite()) {
        fail("conns", "--idle must be a number of seconds >= 0");
    }
    let idle_for = Duration::from_secs_f64(idle_secs);
    let serve_one = move |listeners, stop| serve(server::only(listeners), stop);
    let measured = ServerThread::round("fate-bench-conns", None, 1, serve_one, |server| {
        let addr = server.addr();
        // The first connection builds what a server builds once (buffers pools, a
        // runtime's first task); it is not per connection.
        let first = exchange.open(addr)?;
        crate::measure::reset_peak_rss();
        let footprint = Footprint::start();
        let t0 = Instant::now();
        let mut idle = Vec::with_capacity(n);
        for _ in 0..n {
            idle.push(exchange.open(addr)?);
        }
        let elapsed = t0.elapsed();
        std::thread::sleep(idle_for);
        // Both servers are read the same way: what their memory holds, without what the
        // allocator keeps cached after frees (mimalloc purges freed pages only later, and
        // only when the thread that freed them allocates again).
        crate::sys::release_free_memory();
        let held = footprint.held_per(n as u64);
        let peak = footprint.bytes_per(n as u64);
        drop((first, idle));
        Ok::<_, String>((elapsed, held, peak))
    });
    let (elapsed, held, peak) = match measured {
        Ok(Ok(m)) => m,
        Ok(Err(e)) | Err(e) => fail("conns", e),
    };
    let protocol = match exchange {
        Exchange::Http => "http",
        Exchange::Echo => "echo",
    };
    Report::new(n as u64, elapsed)
        .with("peer", peer)
        .with("protocol", protocol)
        .with("idle_secs", idle_secs)
        .with("bytes_per_conn", round(held, 1))
        .with("peak_bytes_per_conn", round(peak, 1))
}

/// fate-http's `Site` (`--protocol http`) or a fate echo `Protocol` (`echo`).
pub(crate) fn fate(args: &Args) -> Report {
    match Exchange::from_args(args) {
        Exchange::Http => bench(
            args,
            "fate-http Site (hyper 1 http1), fate reactor",
            http::serve_fate,
        ),
        Exchange::Echo => bench(
            args,
            "fate Protocol (callbacks), fate reactor",
            echo::serve_fate,
        ),
    }
}

/// hyper 1 `http1` on tokio current_thread (`--protocol http`) or a tokio echo task per
/// connection (`echo`).
pub(crate) fn tokio(args: &Args) -> Report {
    match Exchange::from_args(args) {
        Exchange::Http => bench(
            args,
            "hyper 1 http1, tokio current_thread",
            http::serve_tokio,
        ),
        Exchange::Echo => bench(
            args,
            "tokio current_thread, task per connection",
            echo::serve_tokio,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both servers, both protocols: a few connections each make their round trip and the
    /// figure comes out as a number.
    #[test]
    fn every_server_holds_idle_connections_and_is_measured() {
        for protocol in ["http", "echo"] {
            let argv: Vec<String> = ["--conns", "8", "--idle", "0", "--protocol", protocol]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let (_, args) = Args::parse(WORKLOAD.flags, &argv).unwrap();
            for (imp, run) in WORKLOAD.existing() {
                let line = run(&args).line("conns", imp.name()).to_string();
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                assert_eq!(v["n"], 8, "{line}");
                assert_eq!(v["protocol"], protocol, "{line}");
                assert!(v["bytes_per_conn"].is_number(), "{line}");
                assert!(v["peak_bytes_per_conn"].is_number(), "{line}");
            }
        }
    }
}
