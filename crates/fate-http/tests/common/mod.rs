//! Shared test scaffolding: a bounded reactor run, a temporary directory, an external
//! `python3 -m http.server`, deterministic test data, raw HTTP over std sockets.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod served;
// Only the test binaries that run a site use these.
#[allow(unused_imports)]
pub(crate) use served::on_a_reactor_and_a_pool;
#[allow(unused_imports)]
pub use served::{On, Served};

/// Runs `fut` on a fresh reactor on this thread; panics if it takes longer than `limit`.
pub fn run<F: Future + 'static>(limit: Duration, fut: F) -> F::Output {
    let reactor = fate_core::reactor::Reactor::builder()
        .handle_signals(false)
        .build()
        .unwrap();
    reactor
        .block_on(async move {
            fate_core::timeout(limit, fut)
                .await
                .unwrap_or_else(|_| panic!("the test did not finish within {limit:?}"))
        })
        .unwrap()
}

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fate-http-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&path, data).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` bytes of a fixed pseudo-random sequence (xorshift), so a corruption anywhere
/// shows.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `python3 -m http.server` serving a directory on a free port; killed when dropped.
pub struct PythonServer {
    child: Child,
    pub addr: SocketAddr,
}

/// A Python HTTP/1.1 server with pages `http.server` lacks: `/gzip` and `/deflate`
/// (compressed "hello " * 1000), `/chunked` (ten chunks "line N\n"), `/see-other` (a 303 to
/// `/gzip`).
const PYTHON_HANDLER: &str = r#"
import gzip, sys, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b"hello " * 1000

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        if self.path in ("/gzip", "/deflate"):
            data = gzip.compress(BODY) if self.path == "/gzip" else zlib.compress(BODY)
            self.send_response(200)
            self.send_header("Content-Encoding", self.path[1:])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(10):
                line = ("line %d\n" % i).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/see-other":
            self.send_response(303)
            self.send_header("Location", "/gzip")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_error(404)
    def do_POST(self):
        self.do_GET()

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

impl PythonServer {
    /// `python3 -m http.server` serving `dir`.
    pub fn start(dir: &Path) -> PythonServer {
        let port = free_port();
        let mut cmd = Command::new("python3");
        cmd.args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .arg("--directory")
        .arg(dir);
        PythonServer::spawn(cmd, port)
    }

    /// The server of [`PYTHON_HANDLER`].
    pub fn start_handler() -> PythonServer {
        let port = free_port();
        let mut cmd = Command::new("python3");
        cmd.args(["-c", PYTHON_HANDLER, &port.to_string()]);
        PythonServer::spawn(cmd, port)
    }

    fn spawn(mut cmd: Command, port: u16) -> PythonServer {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 is needed for these tests");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "python3 -m http.server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        PythonServer { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `request` as raw bytes on a blocking socket and returns the whole answer (the
/// server closes after it: send `Connection: close`).
pub fn raw_request(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs a blocking function on a helper thread and awaits its result without blocking the
/// reactor (polls every few milliseconds).
pub async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let handle = std::thread::spawn(f);
    while !handle.is_finished() {
        fate_core::sleep(Duration::from_millis(2)).await;
    }
    handle.join().unwrap()
}

/// A slowloris client on `s`: a head that never ends, a byte every 20 ms, until the server
/// closes the connection or 500 bytes have gone; how many went.
pub fn trickle_head(s: &mut TcpStream) -> usize {
    let mut sent = 0;
    for b in b"GET / HTTP/1.1\r\nX-Slow: ".iter().cycle().take(500) {
        if s.write_all(&[*b]).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    sent
}

/// Waits (on the reactor, a few milliseconds at a time) until `cond` holds; panics after
/// `limit`.
pub async fn wait_until(limit: Duration, what: &str, cond: impl Fn() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < limit, "still waiting for {what}");
        fate_core::sleep(Duration::from_millis(2)).await;
    }
}
