//! `fate echo` end to end: the real binary holds bounded memory against a client that sends
//! and never reads, and on `unix:PATH` it restarts after a clean SIGTERM or SIGINT stop.

use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

const FATE: &str = env!("CARGO_BIN_EXE_fate");

/// `fate echo --listen ENDPOINT`; killed when dropped if still running.
struct Echo {
    child: Child,
    /// What it said it listens on.
    listening: String,
}

impl Echo {
    fn start(endpoint: &str) -> Echo {
        let mut child = Command::new(FATE)
            .args(["echo", "--listen", endpoint])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let line = common::first_line(&mut child);
        let listening = line
            .trim()
            .strip_prefix("fate echo: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Echo { child, listening }
    }

    /// Resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Sends `signal` and waits for a clean exit.
    fn stop_with(mut self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, signal).unwrap();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "fate echo exited with {status} after {signal:?}"
        );
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends what `fate echo` at `addr` will take without reading any of it back: until no byte
/// has gone for a second, or `offered` bytes. Returns the connection and how much was sent.
fn send_without_reading(addr: &str, offered: usize) -> (std::net::TcpStream, usize) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < offered {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    (s, sent)
}

#[test]
fn a_client_that_never_reads_holds_the_server_bounded() {
    const OFFERED: usize = 64 << 20;
    let echo = Echo::start("tcp:0:interface=127.0.0.1");
    let before = echo.rss_kib();
    let (mut s, sent) = send_without_reading(&echo.listening, OFFERED);
    let grown_mib = echo.rss_kib().saturating_sub(before) / 1024;
    assert!(sent < OFFERED, "the server took all {OFFERED} bytes");
    assert!(grown_mib < 16, "the server grew by {grown_mib} MiB");
    // Everything sent comes back once the client reads.
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf).unwrap() {
            0 => break,
            n => back += n,
        }
    }
    assert_eq!(back, sent);
}

/// A path in the temporary directory, removed when dropped.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One round trip through `fate echo` on a Unix socket.
fn ping(path: &PathBuf) {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.write_all(b"ping").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"ping");
}

#[test]
fn on_a_unix_socket_it_restarts_after_sigterm_and_sigint() {
    use rustix::process::Signal;
    let path =
        TempPath(std::env::temp_dir().join(format!("fate-echo-{}.sock", std::process::id())));
    let _ = std::fs::remove_file(&path.0);
    let endpoint = format!("unix:{}", path.0.display());
    for signal in [Signal::TERM, Signal::INT, Signal::TERM] {
        let echo = Echo::start(&endpoint);
        ping(&path.0);
        echo.stop_with(signal);
        assert!(!path.0.exists(), "{signal:?} left the socket file");
    }
    // A killed server leaves its socket file; the next one replaces it.
    drop(Echo::start(&endpoint));
    assert!(path.0.exists());
    let echo = Echo::start(&endpoint);
    ping(&path.0);
    echo.stop_with(Signal::TERM);
    // A file that is not a socket is refused with a message that says so.
    std::fs::write(&path.0, b"not a socket").unwrap();
    let out = Command::new(FATE)
        .args(["echo", "--listen", &endpoint])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("not a socket"), "{stderr}");
    assert!(stderr.contains(&path.0.display().to_string()), "{stderr}");
    assert_eq!(std::fs::read(&path.0).unwrap(), b"not a socket");
}
