//! `fate get` against hostile servers and careless use, one test per defect of issue 10
//! (3, 4, 5, 6, 12, 13) and one for the documented exit codes. Each test runs the real
//! binary against a raw server on 127.0.0.1 port 0 whose connections end by themselves, and
//! bounds every run in time.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

mod common;
use common::TempDir;

const FATE: &str = env!("CARGO_BIN_EXE_fate");

/// What a test server does with one connection: the request's path, then the stream.
type Answer = dyn Fn(&str, TcpStream) + Send + Sync;

/// A raw HTTP/1.1 server on 127.0.0.1 port 0: each connection's request head is read and
/// handed, with its path, to `answer` on a thread of its own. Stops accepting when dropped;
/// its connections time out after 20 s of silence at the latest.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(answer: impl Fn(&str, TcpStream) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let answer: Arc<Answer> = Arc::new(answer);
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let answer = answer.clone();
                            std::thread::spawn(move || serve(stream, &*answer));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            }
        });
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, answer: &Answer) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        // Not HTTP (a TLS ClientHello): never answer.
        return hold(stream);
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or("").to_string();
    answer(&path, stream);
}

/// Writes a whole `200 OK` response, ignoring a peer that went away.
fn ok(mut stream: TcpStream, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// Reads until the peer closes (or 20 s pass): a server that never answers.
fn hold(mut stream: TcpStream) {
    let mut sink = [0u8; 1024];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

/// Runs `fate ARGS`; panics if it is still running after `limit` (killing it).
fn fate(args: &[&str], limit: Duration) -> Output {
    let child = Command::new(FATE)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let _ = rx.recv_timeout(Duration::from_secs(5));
            panic!("fate {args:?} still running after {limit:?}");
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn dir_arg(dir: &TempDir) -> &str {
    dir.0.to_str().unwrap()
}

/// Waits (bounded) until `cond` holds.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < until, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn exit_codes_are_documented_and_hold() {
    let help = fate(&["get", "--help"], LIMIT);
    let text = String::from_utf8_lossy(&help.stdout);
    for line in [
        "Exit status:",
        "0  every URL was saved",
        "1  some download failed",
        "2  bad usage",
        "f.1",
        "--force",
        "NAME.part",
    ] {
        assert!(text.contains(line), "{line:?} not in --help:\n{text}");
    }
    let server = Server::start(|path, stream| match path {
        "/there" => ok(stream, b"here"),
        _ => {
            let mut s = stream;
            let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let out = TempDir::new("exit");
    let all = fate(&["get", "-o", dir_arg(&out), &server.url("/there")], LIMIT);
    assert_eq!(all.status.code(), Some(0), "{}", stderr(&all));
    let some = fate(
        &[
            "get",
            "-o",
            dir_arg(&out),
            &server.url("/there"),
            &server.url("/missing"),
        ],
        LIMIT,
    );
    assert_eq!(some.status.code(), Some(1), "{}", stderr(&some));
    assert!(stderr(&some).contains("404"), "{}", stderr(&some));
    let option = fate(&["get", "--no-such-option", &server.url("/there")], LIMIT);
    assert_eq!(option.status.code(), Some(2), "{}", stderr(&option));
    let url = fate(&["get", "-o", dir_arg(&out), "not a url"], LIMIT);
    assert_eq!(url.status.code(), Some(2), "{}", stderr(&url));
    assert_eq!(out.files(), ["there", "there.1"]);
}

/// Issue 10, defect 3: `--idle-timeout` covers the TLS handshake, the wait for the head
/// and the body; `--timeout` bounds the whole download.
#[test]
fn idle_timeout_covers_handshake_head_and_body() {
    let server = Server::start(|path, mut stream| match path {
        "/stall-body" => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nten bytes!");
            hold(stream);
        }
        "/trickle" => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
            for _ in 0..1000 {
                if stream.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        _ => hold(stream),
    });
    let out = TempDir::new("idle");
    let https = format!("https://{}/x", server.addr);
    // (URL, options, what the error says)
    let table = [
        (
            server.url("/head"),
            "1",
            None,
            "timed out waiting for the response",
        ),
        (https, "1", None, "timed out connecting"),
        (
            server.url("/stall-body"),
            "1",
            None,
            "timed out waiting for more of the body",
        ),
        (
            server.url("/trickle"),
            "5",
            Some("1"),
            "the request took too long",
        ),
    ];
    for (url, idle, total, says) in table {
        let mut args = vec!["get", "-o", dir_arg(&out), "--idle-timeout", idle];
        if let Some(total) = total {
            args.extend(["--timeout", total]);
        }
        args.push(&url);
        let started = Instant::now();
        let run = fate(&args, LIMIT);
        let took = started.elapsed();
        assert_eq!(run.status.code(), Some(1), "{url}: {}", stderr(&run));
        assert!(stderr(&run).contains(says), "{url}: {}", stderr(&run));
        assert!(took < Duration::from_secs(4), "{url}: took {took:?}");
    }
    assert!(out.files().is_empty(), "{:?}", out.files());
}

/// Issue 10, defect 4: one download's partial file is never another's target.
#[test]
fn a_download_never_takes_another_ones_target() {
    let out = TempDir::new("clash");
    let out_dir = out.0.clone();
    let server = Server::start(move |path, mut stream| match path {
        "/slow/f" => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSLOW");
            // The fast download completes while this one is half done.
            let fast_saved = || {
                std::fs::read_dir(&out_dir)
                    .unwrap()
                    .any(|e| std::fs::read(e.unwrap().path()).is_ok_and(|c| c == b"FAST"))
            };
            wait_until("the fast download saved", fast_saved);
            let _ = stream.write_all(b"SLOW");
        }
        _ => ok(stream, b"FAST"),
    });
    let run = fate(
        &[
            "get",
            "-j",
            "2",
            "-o",
            dir_arg(&out),
            &server.url("/slow/f"),
            &server.url("/fast/f.part"),
        ],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(out.files(), ["f", "f.part.1"]);
    assert_eq!(std::fs::read(out.0.join("f")).unwrap(), b"SLOWSLOW");
    assert_eq!(std::fs::read(out.0.join("f.part.1")).unwrap(), b"FAST");
}

/// Issue 10, defect 5: an invalid or out-of-range port is a usage error, and nothing is
/// fetched.
#[test]
fn bad_ports_are_usage_errors() {
    let server = Server::start(|_, stream| ok(stream, b"fetched"));
    let out = TempDir::new("ports");
    for port in ["99999", "65616", "65536", "-1", "8x", "1:2"] {
        let bad = format!("http://127.0.0.1:{port}/x");
        let run = fate(
            &["get", "-o", dir_arg(&out), &server.url("/good"), &bad],
            LIMIT,
        );
        assert_eq!(run.status.code(), Some(2), "{bad}: {}", stderr(&run));
        assert!(stderr(&run).contains(&bad), "{bad}: {}", stderr(&run));
        assert!(
            stderr(&run).contains("invalid port number"),
            "{bad}: {}",
            stderr(&run)
        );
    }
    assert!(out.files().is_empty(), "{:?}", out.files());
}

/// Issue 10, defect 6: only http and https redirects are followed; the error names the
/// refused target.
#[test]
fn redirects_to_other_schemes_are_refused() {
    const TARGETS: [&str; 7] = [
        "javascript:alert(1)",
        "data:text/plain,hi",
        "mailto:a@b.test",
        "urn:isbn:0451450523",
        "file:/etc/passwd",
        "ftp://127.0.0.1/x",
        "/ok",
    ];
    let server = Server::start(|path, mut stream| {
        match path
            .strip_prefix("/r/")
            .and_then(|n| n.parse::<usize>().ok())
        {
            Some(n) => {
                let head = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
                    TARGETS[n]
                );
                let _ = stream.write_all(head.as_bytes());
            }
            None => ok(stream, format!("GOT {path}").as_bytes()),
        }
    });
    for (n, target) in TARGETS.iter().enumerate() {
        let out = TempDir::new(&format!("redirect-{n}"));
        let run = fate(
            &["get", "-o", dir_arg(&out), &server.url(&format!("/r/{n}"))],
            LIMIT,
        );
        if *target == "/ok" {
            assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
            assert_eq!(
                std::fs::read(out.0.join(n.to_string())).unwrap(),
                b"GOT /ok"
            );
            continue;
        }
        assert_eq!(run.status.code(), Some(1), "{target}: {}", stderr(&run));
        let shown = if *target == "file:/etc/passwd" {
            "file:///etc/passwd"
        } else {
            target
        };
        assert!(
            stderr(&run).contains(&format!("refusing to follow a redirect to \"{shown}\"")),
            "{target}: {}",
            stderr(&run)
        );
        assert!(out.files().is_empty(), "{target}: {:?}", out.files());
    }
}

/// A gzip stream that expands to `size` zero bytes (a multiple of 1 MiB): one MiB of zeros
/// compressed once, its blocks repeated, then a valid trailer.
fn gzip_bomb(size: u64) -> Vec<u8> {
    use flate2::{Compress, Compression, Crc, FlushCompress};

    const MIB: usize = 1 << 20;
    let zeros = vec![0u8; MIB];
    // A full flush makes the block self-contained and byte-aligned: it can be repeated.
    let mut block = Vec::with_capacity(64 << 10);
    let mut c = Compress::new(Compression::best(), false);
    c.compress_vec(&zeros, &mut block, FlushCompress::Full)
        .unwrap();
    assert_eq!(c.total_in(), MIB as u64);
    let mut end = Vec::with_capacity(64);
    Compress::new(Compression::best(), false)
        .compress_vec(&[], &mut end, FlushCompress::Finish)
        .unwrap();
    let (mut crc, mut unit) = (Crc::new(), Crc::new());
    unit.update(&zeros);
    let blocks = size / MIB as u64;
    let mut bomb = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    bomb.reserve(block.len() * blocks as usize + 32);
    for _ in 0..blocks {
        bomb.extend_from_slice(&block);
        crc.combine(&unit);
    }
    bomb.extend_from_slice(&end);
    bomb.extend_from_slice(&crc.sum().to_le_bytes());
    bomb.extend_from_slice(&(size as u32).to_le_bytes());
    bomb
}

/// Peak resident set of this test binary's waited-for children, in KiB.
fn children_peak_rss_kib() -> i64 {
    use nix::sys::resource::{getrusage, UsageWho};
    getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss()
}

/// Issue 10, weakness 12: a 4 GiB gzip bomb ends as a clear error with a small peak RSS;
/// `--max-size` bounds the disk whatever the server says or does.
#[test]
fn bombs_and_endless_bodies_are_bounded() {
    let small = gzip_bomb(4 << 20);
    let mut check = flate2::read::GzDecoder::new(&small[..]);
    let mut decoded = Vec::new();
    check.read_to_end(&mut decoded).unwrap();
    assert!(decoded.len() == 4 << 20 && decoded.iter().all(|&b| b == 0));

    let bomb = Arc::new(gzip_bomb(4 << 30));
    assert!(bomb.len() < 8 << 20, "{}", bomb.len());
    let server = Server::start(move |path, mut stream| match path {
        "/bomb" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
                bomb.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&bomb);
        }
        "/endless" => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = vec![b'e'; 64 << 10];
            while stream.write_all(&chunk).is_ok() {}
        }
        _ => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n");
            hold(stream);
        }
    });
    let out = TempDir::new("bomb");
    let dir = dir_arg(&out);
    // (options, path, what the error says)
    let table: [(&[&str], &str, &str); 4] = [
        (&[], "/bomb", "refusing a likely decompression bomb"),
        (
            &["--max-ratio", "0", "--max-size", "16M"],
            "/bomb",
            "larger than --max-size 16777216 bytes",
        ),
        (
            &["--max-size", "1M"],
            "/endless",
            "larger than --max-size 1048576 bytes",
        ),
        (
            &["--max-size", "1M"],
            "/announced",
            "announces 1000000000 bytes, over --max-size 1048576",
        ),
    ];
    for (options, path, says) in table {
        let url = server.url(path);
        let mut args = vec!["get", "-o", dir];
        args.extend_from_slice(options);
        args.push(&url);
        let run = fate(&args, LIMIT);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", stderr(&run));
        assert!(stderr(&run).contains(says), "{args:?}: {}", stderr(&run));
        assert!(out.files().is_empty(), "{args:?}: {:?}", out.files());
    }
    let peak = children_peak_rss_kib();
    eprintln!("peak RSS of fate get children: {peak} KiB");
    assert!(peak < 64 << 10, "a child of this test peaked at {peak} KiB");
}

/// Issue 10, weakness 13: a planted `NAME.part` symlink is never followed, existing files
/// are kept unless `--force`, and a killed download is left as `NAME.part`.
#[test]
fn existing_files_and_symlinks_are_never_written_through() {
    let server = Server::start(|path, mut stream| match path {
        "/stall/h" => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nten bytes!");
            hold(stream);
        }
        _ => ok(stream, format!("NEW {path}").as_bytes()),
    });
    let out = TempDir::new("keep");
    let outside = TempDir::new("outside");
    let secret = outside.0.join("secret");
    std::fs::write(&secret, b"SECRET").unwrap();
    std::os::unix::fs::symlink(&secret, out.0.join("f.part")).unwrap();
    std::fs::write(out.0.join("g"), b"OLD").unwrap();

    let run = fate(
        &[
            "get",
            "-o",
            dir_arg(&out),
            &server.url("/f"),
            &server.url("/g"),
        ],
        LIMIT,
    );
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(std::fs::read(&secret).unwrap(), b"SECRET");
    assert_eq!(std::fs::read(out.0.join("g")).unwrap(), b"OLD");
    assert_eq!(std::fs::read(out.0.join("f.1")).unwrap(), b"NEW /f");
    assert_eq!(std::fs::read(out.0.join("g.1")).unwrap(), b"NEW /g");
    assert_eq!(out.files(), ["f.1", "f.part", "g", "g.1"]);

    let forced = fate(
        &[
            "get",
            "--force",
            "-o",
            dir_arg(&out),
            &server.url("/f"),
            &server.url("/g"),
        ],
        LIMIT,
    );
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert_eq!(std::fs::read(&secret).unwrap(), b"SECRET");
    assert_eq!(std::fs::read(out.0.join("f")).unwrap(), b"NEW /f");
    assert_eq!(std::fs::read(out.0.join("g")).unwrap(), b"NEW /g");
    assert_eq!(out.files(), ["f", "f.1", "g", "g.1"]);

    // A killed download leaves NAME.part, never NAME; the next run keeps it.
    let killed = TempDir::new("killed");
    let mut child = Command::new(FATE)
        .args(["get", "-o", dir_arg(&killed), &server.url("/stall/h")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let part = killed.0.join("h.part");
    wait_until("ten bytes in h.part", || {
        std::fs::metadata(&part).is_ok_and(|m| m.len() == 10)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(killed.files(), ["h.part"]);
    let again = fate(&["get", "-o", dir_arg(&killed), &server.url("/h")], LIMIT);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(killed.files(), ["h.1", "h.part"]);
    assert_eq!(std::fs::read(&part).unwrap(), b"ten bytes!");
}
