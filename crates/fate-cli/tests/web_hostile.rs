//! `fate web` against hostile clients and odd files (issue 10): each test runs the real
//! binary on a free port of 127.0.0.1 and talks raw HTTP to it over std sockets, with a read
//! timeout on every socket, so a server that stalls fails the test instead of hanging it.
//! A server that blocks its loop (a FIFO opened for reading) is a child process: it is killed
//! when the test ends, whatever happened. Each test runs twice: `fate web` on one reactor and
//! with `--threads 2`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::{on_one_and_two_threads, TempDir};

const FATE: &str = env!("CARGO_BIN_EXE_fate");

/// How long any one read may wait for the server.
const PATIENCE: Duration = Duration::from_secs(5);

/// `fate web` on a free port; killed when dropped.
struct Web {
    child: Child,
    addr: SocketAddr,
}

impl Web {
    /// `fate web --threads THREADS --path PATH EXTRA...`.
    fn start(path: &Path, threads: u32, extra: &[&str]) -> Web {
        Web::spawn(Command::new(FATE), path, threads, extra)
    }

    /// With at most `nofile` open files (set by the shell, in the child only).
    fn start_with_nofile(path: &Path, threads: u32, nofile: u32) -> Web {
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(format!("ulimit -n {nofile} && exec \"$0\" \"$@\""))
            .arg(FATE);
        Web::spawn(sh, path, threads, &[])
    }

    fn spawn(mut cmd: Command, path: &Path, threads: u32, extra: &[&str]) -> Web {
        let mut child = cmd
            .args(["web", "--listen", "tcp:0:interface=127.0.0.1", "--threads"])
            .arg(threads.to_string())
            .arg("--path")
            .arg(path)
            .args(extra)
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let line = common::first_line(&mut child);
        let addr = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches('/')
            .parse()
            .unwrap();
        Web { child, addr }
    }

    /// Bytes the server has read with `read` and friends so far (`rchar` of /proc/PID/io):
    /// its files, and the few bytes of the requests.
    fn bytes_read(&self) -> u64 {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.child.id())).unwrap();
        io.lines()
            .find_map(|l| l.strip_prefix("rchar: "))
            .unwrap()
            .parse()
            .unwrap()
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s
    }

    /// One request on a fresh connection (`Connection: close`).
    fn get(&self, path: &str) -> Answer {
        let mut s = self.connect();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        read_answer(&mut s).unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status, head (lower-cased) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Reads one response (its body by `Content-Length`) from a keep-alive connection.
fn read_answer(s: &mut TcpStream) -> Result<Answer, String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(0) => return Err(format!("closed after {} bytes of head", buf.len())),
            Ok(_) => buf.push(byte[0]),
            Err(e) => return Err(format!("reading the head: {e}")),
        }
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0; len];
    s.read_exact(&mut body)
        .map_err(|e| format!("reading a body of {len}: {e}"))?;
    Ok(Answer { status, head, body })
}

on_one_and_two_threads!(a_fifo_is_not_found_and_freezes_nothing: fifo_is_not_found, fifo_is_not_found_on_two_threads);

/// Issue 10, defect 2: a FIFO (or a symlink to one) is answered 404 at once; the server does
/// not wait for a writer and goes on serving.
fn a_fifo_is_not_found_and_freezes_nothing(threads: u32) {
    let dir = TempDir::new(&format!("fifo-{threads}"));
    dir.write("small.txt", b"small");
    let made = Command::new("mkfifo")
        .arg(dir.0.join("pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink(dir.0.join("pipe"), dir.0.join("link")).unwrap();
    let web = Web::start(&dir.0, threads, &[]);
    let started = Instant::now();
    assert_eq!(web.get("/pipe").status, 404);
    assert_eq!(web.get("/link").status, 404);
    assert!(started.elapsed() < PATIENCE);
    let small = web.get("/small.txt");
    assert_eq!((small.status, &small.body[..]), (200, &b"small"[..]));
}

on_one_and_two_threads!(path_to_a_file_serves_that_file: path_to_a_file, path_to_a_file_on_two_threads);

/// Issue 10, defect 9: `--path FILE` serves that file, at `/` and under its own name.
fn path_to_a_file_serves_that_file(threads: u32) {
    let dir = TempDir::new(&format!("one-file-{threads}"));
    let file = dir.write("hello.txt", b"hello, file");
    let web = Web::start(&file, threads, &[]);
    for path in ["/", "/hello.txt"] {
        let a = web.get(path);
        assert_eq!(
            (a.status, &a.body[..]),
            (200, &b"hello, file"[..]),
            "{path}"
        );
        assert!(a.head.contains("content-type: text/plain"), "{}", a.head);
    }
    assert_eq!(web.get("/other.txt").status, 404);
    assert_eq!(web.get("/hello.txt/x").status, 404);
}

on_one_and_two_threads!(dotfiles_are_hidden_unless_asked_for: dotfiles_hidden, dotfiles_hidden_on_two_threads);

/// Issue 10, defect 16: a path with a segment that starts with `.` is not found (nor listed)
/// unless `--dotfiles`.
fn dotfiles_are_hidden_unless_asked_for(threads: u32) {
    let dir = TempDir::new(&format!("dotfiles-{threads}"));
    dir.write(".env", b"SECRET=1");
    dir.write(".git/config", b"[core]");
    dir.write("public/.htpasswd", b"admin:x");
    dir.write("visible.txt", b"visible");
    std::os::unix::fs::symlink(dir.0.join(".env"), dir.0.join("env-link")).unwrap();
    let web = Web::start(&dir.0, threads, &[]);
    for path in [
        "/.env",
        "/.git/config",
        "/.git/",
        "/%2egit/config",
        "/public/.htpasswd",
        "/env-link",
    ] {
        assert_eq!(web.get(path).status, 404, "{path}");
    }
    assert_eq!(web.get("/visible.txt").status, 200);
    let listing = String::from_utf8(web.get("/").body).unwrap();
    assert!(listing.contains("visible.txt"), "{listing}");
    assert!(
        !listing.contains(".env") && !listing.contains(".git"),
        "{listing}"
    );
    drop(web);

    let web = Web::start(&dir.0, threads, &["--dotfiles"]);
    assert_eq!(web.get("/.env").body, b"SECRET=1");
    assert_eq!(web.get("/.git/config").body, b"[core]");
    let listing = String::from_utf8(web.get("/").body).unwrap();
    assert!(listing.contains(".env"), "{listing}");
}

on_one_and_two_threads!(out_of_file_descriptors_is_503_with_retry_after: out_of_descriptors_is_503, out_of_descriptors_is_503_on_two_threads);

/// Issue 10, defect 10: out of file descriptors, a request is answered 503 with
/// `Retry-After` (never 403), and the server serves again once descriptors are free.
fn out_of_file_descriptors_is_503_with_retry_after(threads: u32) {
    let dir = TempDir::new(&format!("emfile-{threads}"));
    dir.write("small.txt", b"small");
    let web = Web::start_with_nofile(&dir.0, threads, 40);
    let mut held = Vec::new();
    let mut refused = None;
    // Each kept-alive connection holds one descriptor of the server's 40: one of them gets
    // the last free descriptor, and the file it asks for cannot be opened.
    for _ in 0..60 {
        let mut s = web.connect();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        match read_answer(&mut s) {
            Ok(a) if a.status == 200 => held.push(s),
            Ok(a) => {
                refused = Some(a);
                break;
            }
            // Not even accepted (the listener is out of descriptors too).
            Err(e) => panic!("after {} connections: {e}", held.len()),
        }
    }
    let refused = refused.expect("the server never ran out of descriptors");
    assert_eq!(refused.status, 503, "{refused:?}");
    assert!(refused.head.contains("retry-after: "), "{}", refused.head);
    drop(held);
    let started = Instant::now();
    loop {
        let mut s = web.connect();
        s.write_all(b"GET /small.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let a = read_answer(&mut s).unwrap();
        if a.status == 200 {
            break;
        }
        assert!(started.elapsed() < PATIENCE, "still {a:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

on_one_and_two_threads!(a_client_that_never_reads_is_cut_after_the_send_timeout: never_reading_client_is_cut, never_reading_client_is_cut_on_two_threads);

/// Issue 10, defect 11: a client that never reads a large response loses its connection
/// after `--send-timeout` without progress; the server goes on serving.
fn a_client_that_never_reads_is_cut_after_the_send_timeout(threads: u32) {
    let dir = TempDir::new(&format!("send-timeout-{threads}"));
    let size = 32 << 20;
    dir.write("big.bin", &vec![7u8; size]);
    dir.write("small.txt", b"small");
    let web = Web::start(&dir.0, threads, &["--send-timeout", "0.4"]);
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(&web.addr.into()).unwrap();
    let mut s: TcpStream = socket.into();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Read nothing for a while: the send stalls, and the timeout passes.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        web.get("/small.txt").status,
        200,
        "the server serves others"
    );
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = 0;
    let mut buf = vec![0; 1 << 16];
    let ended = loop {
        match s.read(&mut buf) {
            Ok(0) => break "closed",
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break "reset",
            Err(e) => panic!("after {got} bytes: {e}"),
        }
    };
    assert!(
        got < size,
        "{ended} after {got} bytes: the whole response came"
    );
}

/// What a reset storm did to the server.
struct Storm {
    clients: usize,
    /// Bytes the server read, per storming client, from the storm's start until it settled.
    read_per_client: u64,
    /// Latencies of the small-file client's requests, in the same time, sorted.
    latencies: Vec<Duration>,
}

impl Storm {
    fn p99(&self) -> Duration {
        self.latencies[(self.latencies.len() * 99).div_ceil(100) - 1]
    }
}

impl std::fmt::Debug for Storm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resets: {} bytes read per client; small file: {} requests, p50 {:?}, p99 {:?}, max {:?}",
            self.clients,
            self.read_per_client,
            self.latencies.len(),
            self.latencies[self.latencies.len() / 2],
            self.p99(),
            self.latencies[self.latencies.len() - 1],
        )
    }
}

/// `clients` clients (on four threads) each ask for a `file_mib` MiB file, wait for the
/// first byte of the answer, and reset the connection (`SO_LINGER` 0); meanwhile another
/// client fetches a small file again and again on one keep-alive connection.
fn reset_storm(clients: usize, file_mib: usize, threads: u32) -> Storm {
    let dir = TempDir::new(&format!("storm-{clients}-{threads}"));
    dir.write("big.bin", &vec![1u8; file_mib << 20]);
    dir.write("small.txt", b"small");
    let web = Web::start(&dir.0, threads, &[]);
    let addr = web.addr;
    let stormed = Arc::new(AtomicBool::new(false));
    let small = std::thread::spawn({
        let stormed = stormed.clone();
        let mut s = web.connect();
        move || {
            let mut latencies = Vec::new();
            while !stormed.load(Ordering::SeqCst) || latencies.len() < 50 {
                let t = Instant::now();
                s.write_all(b"GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
                let a = read_answer(&mut s).unwrap();
                assert_eq!(a.body, b"small");
                latencies.push(t.elapsed());
                std::thread::sleep(Duration::from_millis(1));
            }
            latencies
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    let before = web.bytes_read();
    let storm: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                for _ in (t..clients).step_by(4) {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(PATIENCE)).unwrap();
                    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                        .unwrap();
                    let mut first = [0u8; 1];
                    // The answer has begun: the server is sending the file.
                    s.peek(&mut first).unwrap();
                    socket2::SockRef::from(&s)
                        .set_linger(Some(Duration::ZERO))
                        .unwrap();
                }
            })
        })
        .collect();
    for t in storm {
        t.join().unwrap();
    }
    // Settled: less than a chunk of a file (64 KiB) read in 200 ms, the small client's
    // requests and files included.
    let mut last = web.bytes_read();
    let settling = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = web.bytes_read();
        let settled = now - last < 64 << 10;
        last = now;
        if settled || settling.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    stormed.store(true, Ordering::SeqCst);
    let mut latencies = small.join().unwrap();
    latencies.sort();
    Storm {
        clients,
        read_per_client: (last - before) / clients as u64,
        latencies,
    }
}

on_one_and_two_threads!(a_reset_storm_reads_little_and_stalls_nobody: reset_storm_reads_little, reset_storm_reads_little_on_two_threads);

/// Issue 10, defect 1 (the suite's size): clients that reset right after asking for a large
/// file cost the server at most a chunk or two each, and never stall the other clients.
fn a_reset_storm_reads_little_and_stalls_nobody(threads: u32) {
    let storm = reset_storm(100, 16, threads);
    eprintln!("{storm:?}");
    assert!(storm.read_per_client < 1 << 20, "{storm:?}");
    // Generous: the suite runs on a busy machine; the acceptance test holds to 50 ms.
    assert!(storm.p99() < Duration::from_millis(500), "{storm:?}");
}

/// Issue 10's acceptance: 500 resets on a 64 MiB file leave a small-file client's p99 under
/// 50 ms and cost under 1 MiB of reading per client. Run with
/// `cargo test -p fate-cli --release --test web_hostile -- --ignored --nocapture`.
#[test]
#[ignore = "the acceptance figure: 500 clients, a 64 MiB file, a strict latency bound"]
fn a_reset_storm_of_500_on_64_mib() {
    let storm = reset_storm(500, 64, 1);
    eprintln!("{storm:?}");
    assert!(storm.read_per_client < 1 << 20, "{storm:?}");
    assert!(storm.p99() < Duration::from_millis(50), "{storm:?}");
}
