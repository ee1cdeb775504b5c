//! The one load generator for `echo` (and the built-in client of `http`), the same for
//! every server implementation: shared/peers/rust/loadgen's ping-pong mode, run on its own
//! thread with its own current-thread tokio runtime.
//!
//! Each of `conns` connections loops { send one request; read the whole reply; check it }
//! and records each round trip's latency. The first `warmup` is not counted; round trips
//! started in the next `duration` are. A separate task reads the server thread's CPU clock
//! and the client thread's CPU at the window's edges.
//!
//! Bounded: connecting them all has 10 s, each round trip 5 s, and a connection still busy 5 s after
//! the window is abandoned (counted as an error).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::measure::{self, percentile_us};
use crate::report::Report;
use crate::server;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(5);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The hello-world request the HTTP client sends, keep-alive, one at a time per connection.
pub(crate) const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
/// A response head larger than this is an error.
const MAX_HEAD: usize = 16 * 1024;

/// What one round trip is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Protocol {
    /// Send `msg_size` bytes (a sequence number first), read the same bytes back.
    Echo { msg_size: usize },
    /// Send [`HTTP_REQUEST`], read one `200` response with a `Content-Length` body.
    Http,
}

/// Where and how hard to load.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Load {
    pub(crate) addr: SocketAddr,
    pub(crate) conns: usize,
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    /// CPU to pin the client thread to.
    pub(crate) cpu: Option<usize>,
    /// The CPU clock of the server's threads.
    pub(crate) server: server::ServerClock,
}

/// What the client measured over the window.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Round trips started in the window and completed.
    pub(crate) round_trips: u64,
    /// Their latencies in nanoseconds, ascending.
    pub(crate) latencies_ns: Vec<u64>,
    /// Failed connections (connection error, timeout, wrong reply), with the first reason.
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    /// Wall time between the two CPU readings (the window as the sampling task saw it).
    pub(crate) sampled: Duration,
    /// Server thread CPU between the readings.
    pub(crate) server_cpu: Duration,
    /// Times the server's threads blocked between the readings.
    pub(crate) server_sleeps: u64,
    /// Client thread CPU between the readings.
    pub(crate) client_cpu: Duration,
}

impl Outcome {
    /// `n` = round trips counted, `secs` = the nominal window `duration`, round-trip
    /// percentiles, the server's CPU per round trip (`server_cpu_us_per_op`) and how often
    /// its threads blocked per round trip (`server_sleeps_per_op`: each wake-up costs the
    /// kernel's work, which the CPU figure includes), with both threads' CPU utilisation
    /// over the window (a client near 1.0 is the bottleneck).
    pub(crate) fn report(&self, duration: Duration) -> Report {
        let per_op = |d: Duration| d.as_secs_f64() * 1e6 / self.round_trips.max(1) as f64;
        let util = |d: Duration| d.as_secs_f64() / self.sampled.as_secs_f64();
        Report::new(self.round_trips, duration)
            .with_us("p50_us", percentile_us(&self.latencies_ns, 50.0))
            .with_us("p99_us", percentile_us(&self.latencies_ns, 99.0))
            .with_us("p999_us", percentile_us(&self.latencies_ns, 99.9))
            .with_us("server_cpu_us_per_op", per_op(self.server_cpu))
            .with(
                "server_sleeps_per_op",
                crate::report::round(
                    self.server_sleeps as f64 / self.round_trips.max(1) as f64,
                    3,
                ),
            )
            .with(
                "server_cpu_util",
                crate::report::round(util(self.server_cpu), 3),
            )
            .with(
                "client_cpu_util",
                crate::report::round(util(self.client_cpu), 3),
            )
    }

    /// Why this run cannot be reported: failed connections, or nothing measured.
    pub(crate) fn problem(&self) -> Option<String> {
        if self.errors > 0 {
            let first = self.first_error.as_deref().unwrap_or("?");
            return Some(format!(
                "{} connections failed; first: {first}",
                self.errors
            ));
        }
        (self.round_trips == 0).then(|| "no round trip completed in the window".to_string())
    }
}

/// Runs the load on a new thread and waits for it.
///
/// # Errors
/// Connecting failed, or the server's CPU clock could not be read (its thread is gone).
pub(crate) fn run(load: Load, protocol: Protocol) -> Result<Outcome, String> {
    let client = std::thread::Builder::new()
        .name("fate-bench-client".into())
        .spawn(move || {
            server::pin(load.cpu);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("client runtime: {e}"))?;
            rt.block_on(drive(load, protocol))
        })
        .map_err(|e| format!("client thread: {e}"))?;
    client
        .join()
        .map_err(|_| "client thread panicked".to_string())?
}

async fn drive(load: Load, protocol: Protocol) -> Result<Outcome, String> {
    let mut streams = Vec::with_capacity(load.conns);
    let connect_deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    for _ in 0..load.conns {
        let s = tokio::time::timeout_at(connect_deadline, TcpStream::connect(load.addr))
            .await
            .map_err(|_| format!("connect {}: timed out", load.addr))?
            .map_err(|e| format!("connect {}: {e}", load.addr))?;
        s.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
        streams.push(s);
    }
    let start = Instant::now();
    let window = (start + load.warmup, start + load.warmup + load.duration);

    let server_clock = load.server;
    let sampler = tokio::spawn(async move {
        let read = || {
            let (cpu, sleeps) = (server_clock.read()?, server_clock.sleeps()?);
            Ok::<_, std::io::Error>((Instant::now(), cpu, sleeps, measure::thread_cpu()))
        };
        tokio::time::sleep_until(window.0.into()).await;
        let a = read()?;
        tokio::time::sleep_until(window.1.into()).await;
        let b = read()?;
        Ok::<_, std::io::Error>((b.0 - a.0, (b.1 - a.1, b.2.saturating_sub(a.2)), b.3 - a.3))
    });

    let conns: Vec<_> = streams
        .into_iter()
        .map(|s| tokio::spawn(connection(s, protocol, window)))
        .collect();
    let hard_stop = tokio::time::Instant::from(window.1 + DRAIN_TIMEOUT);
    let mut latencies_ns = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for c in conns {
        let abort = c.abort_handle();
        let result = match tokio::time::timeout_at(hard_stop, c).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(format!("connection task: {e}")),
            Err(_) => {
                abort.abort();
                Err("connection still busy 5 s after the window".to_string())
            }
        };
        let (lat, err) = match result {
            Ok(lat) => (lat, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        latencies_ns.extend(lat);
        if let Some(e) = err {
            errors += 1;
            first_error.get_or_insert(e);
        }
    }
    latencies_ns.sort_unstable();
    let (sampled, (server_cpu, server_sleeps), client_cpu) = sampler
        .await
        .map_err(|e| format!("sampler: {e}"))?
        .map_err(|e| format!("reading the server's CPU clock: {e}"))?;
    Ok(Outcome {
        round_trips: latencies_ns.len() as u64,
        latencies_ns,
        errors,
        first_error,
        sampled,
        server_cpu,
        server_sleeps,
        client_cpu,
    })
}

/// One connection's loop; the latencies (ns) of round trips started in `window`.
async fn connection(
    mut s: TcpStream,
    protocol: Protocol,
    window: (Instant, Instant),
) -> Result<Vec<u64>, String> {
    let mut lat = Vec::with_capacity(1 << 14);
    let msg_size = match protocol {
        Protocol::Echo { msg_size } => msg_size,
        Protocol::Http => 0,
    };
    let mut out = vec![b'x'; msg_size];
    let mut inb = vec![0u8; msg_size];
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut seq: u64 = 0;
    loop {
        let t0 = Instant::now();
        if t0 >= window.1 {
            return Ok(lat);
        }
        let round_trip = async {
            match protocol {
                Protocol::Echo { .. } => {
                    seq += 1;
                    let k = msg_size.min(8);
                    out[..k].copy_from_slice(&seq.to_le_bytes()[..k]);
                    s.write_all(&out).await.map_err(|e| format!("write: {e}"))?;
                    s.read_exact(&mut inb)
                        .await
                        .map_err(|e| format!("read: {e}"))?;
                    if inb != out {
                        return Err("echo differs from what was sent".to_string());
                    }
                }
                Protocol::Http => {
                    s.write_all(HTTP_REQUEST)
                        .await
                        .map_err(|e| format!("write: {e}"))?;
                    loop {
                        if let Some(len) = http_response_len(&buf)? {
                            buf.drain(..len);
                            break;
                        }
                        match s.read_buf(&mut buf).await {
                            Ok(0) => return Err("server closed the connection".to_string()),
                            Ok(_) => {}
                            Err(e) => return Err(format!("read: {e}")),
                        }
                    }
                }
            }
            Ok(())
        };
        match tokio::time::timeout(ROUND_TRIP_TIMEOUT, round_trip).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("round trip timed out after 5 s".to_string()),
        }
        if t0 >= window.0 {
            lat.push(t0.elapsed().as_nanos() as u64);
        }
    }
}

/// The length of the complete HTTP response at the start of `buf`, `None` if more bytes
/// are needed.
///
/// # Errors
/// Not a `HTTP/1.1 200` response, no `Content-Length` (chunked bodies are not read), or a
/// head over 16 KiB.
pub(crate) fn http_response_len(buf: &[u8]) -> Result<Option<usize>, String> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err("response head over 16 KiB".to_string());
        }
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "response head not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("unexpected status line {status:?}"));
    }
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .ok_or("response without Content-Length")?
        .1
        .trim()
        .parse::<usize>()
        .map_err(|_| "bad Content-Length")?;
    let total = head_end + 4 + length;
    Ok((buf.len() >= total).then_some(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Response bytes → the length the client must consume.
    const RESPONSES: &[(&[u8], usize)] = &[
        (
            b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 5\r\ndate: x\r\n\r\nhello",
            77,
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length:0\r\n\r\n", 37),
        (b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 2 \r\n\r\nhi", 41),
    ];

    #[test]
    fn responses_are_complete_only_when_whole() {
        for (bytes, len) in RESPONSES {
            assert_eq!(bytes.len(), *len);
            for split in 0..bytes.len() {
                assert_eq!(
                    http_response_len(&bytes[..split]),
                    Ok(None),
                    "split {split}"
                );
            }
            assert_eq!(http_response_len(bytes), Ok(Some(*len)));
            let mut two = bytes.to_vec();
            two.extend_from_slice(bytes);
            assert_eq!(http_response_len(&two), Ok(Some(*len)));
        }
    }

    #[test]
    fn bad_responses_are_errors() {
        let err = |b: &[u8]| http_response_len(b).unwrap_err();
        assert!(err(b"HTTP/1.1 404 Not Found\r\n\r\n").contains("status"));
        assert!(
            err(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                .contains("Content-Length")
        );
        assert!(err(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").contains("bad"));
        assert!(err(&vec![b'a'; MAX_HEAD + 1]).contains("16 KiB"));
    }
}
