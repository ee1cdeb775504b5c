//! `fate web` and `fate get` end to end: the real binary serves a directory on a free port
//! of 127.0.0.1, and `fate get` downloads from it (and from a refused port). Every test that
//! runs `fate web` runs twice, side by side: on one reactor and with `--threads 2`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

mod common;
use common::{on_one_and_two_threads, TempDir};

const FATE: &str = env!("CARGO_BIN_EXE_fate");

/// `fate web` on a free port; killed when dropped.
struct Web {
    child: Child,
    base: String,
}

impl Web {
    /// Starts `fate web --threads THREADS` on `dir`.
    fn start(dir: &PathBuf, threads: u32) -> Web {
        let mut child = Command::new(FATE)
            .args(["web", "--listen", "tcp:0:interface=127.0.0.1", "--threads"])
            .arg(threads.to_string())
            .arg("--path")
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let line = common::first_line(&mut child);
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Web { child, base }
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

on_one_and_two_threads!(get_downloads_what_web_serves_and_fails_loudly:
    get_downloads_from_web, get_downloads_from_web_on_two_threads);

fn get_downloads_what_web_serves_and_fails_loudly(threads: u32) {
    let site = TempDir::new(&format!("site{threads}"));
    let big = data(3 << 20, 1);
    std::fs::write(site.0.join("big.bin"), &big).unwrap();
    std::fs::write(site.0.join("small.txt"), b"small").unwrap();
    let web = Web::start(&site.0, threads);
    let out = TempDir::new(&format!("out{threads}"));
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let run = Command::new(FATE)
        .args(["get", "-j", "2", "-o"])
        .arg(&out.0)
        .arg(format!("{}/big.bin", web.base))
        .arg(format!("{}/small.txt", web.base))
        .arg(format!("{}/missing.txt", web.base))
        .arg(format!("http://127.0.0.1:{refused}/x"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(std::fs::read(out.0.join("big.bin")).unwrap() == big);
    assert_eq!(std::fs::read(out.0.join("small.txt")).unwrap(), b"small");
    assert!(stdout.contains("small.txt (5 bytes)"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "fate get: HTTP status 404 Not Found ({}/missing.txt)",
            web.base
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "fate get: cannot connect (http://127.0.0.1:{refused}/x): \
             connection to 127.0.0.1:{refused} was refused"
        )),
        "{stderr}"
    );
    assert!(!out.0.join("missing.txt").exists());

    let ok = Command::new(FATE)
        .args(["get", "-o"])
        .arg(&out.0)
        .arg(format!("{}/small.txt", web.base))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(std::fs::read(out.0.join("small.txt")).unwrap(), b"small");
}

#[test]
fn web_refuses_bad_endpoints() {
    let run = Command::new(FATE)
        .args(["web", "--listen", "tcp:nope"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("not a port number"));
}

on_one_and_two_threads!(web_finishes_a_download_in_flight_when_interrupted:
    web_finishes_a_download_when_interrupted, web_finishes_a_download_when_interrupted_on_two_threads);

fn web_finishes_a_download_in_flight_when_interrupted(threads: u32) {
    use std::io::{Read, Write};

    let site = TempDir::new(&format!("graceful{threads}"));
    let big = data(8 << 20, 3);
    std::fs::write(site.0.join("big.bin"), &big).unwrap();
    let mut web = Web::start(&site.0, threads);
    let addr = web.base.trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 1024];
    let n = s.read(&mut first).unwrap();
    assert!(n > 0);
    let interrupted = Command::new("kill")
        .args(["-INT", &web.child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    let mut answer = first[..n].to_vec();
    answer.extend_from_slice(&rest);
    let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(answer.len() - head_end, big.len(), "the whole file arrived");
    assert!(answer[head_end..] == big[..], "the same bytes");
    let status = web.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn web_on_two_threads_finishes_fifty_downloads_on_sigterm() {
    use std::io::{Read, Write};

    let site = TempDir::new("sigterm");
    let big = data(4 << 20, 5);
    std::fs::write(site.0.join("big.bin"), &big).unwrap();
    let mut web = Web::start(&site.0, 2);
    let addr = web.base.trim_start_matches("http://").to_string();
    // Fifty downloads, each begun (its first bytes read) before the signal.
    let mut downloads: Vec<(std::net::TcpStream, Vec<u8>)> = (0..50)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            s.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut first = vec![0u8; 1024];
            let n = s.read(&mut first).unwrap();
            assert!(n > 0);
            first.truncate(n);
            (s, first)
        })
        .collect();
    let terminated = Command::new("kill")
        .args(["-TERM", &web.child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    for (s, answer) in &mut downloads {
        s.read_to_end(answer).unwrap();
        let head_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(answer.len() - head_end, big.len(), "the whole file arrived");
        assert!(answer[head_end..] == big[..], "the same bytes");
    }
    let status = web.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
}
