//! The file a Unix listener binds: replaced when stale, left alone (with a clear error) when
//! it is not a socket or someone listens on it, and removed however the listener ends — by
//! `stop_listening`, by a reactor shutdown, or with its reactor.

mod net_support;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use fate_core::net::{
    self, for_protocol, CloseReason, DatagramProtocol, DatagramTransport, Protocol, Transport,
    UnixListener,
};
use net_support::{reactor, run_bounded, stop, Echo};

/// A fresh path in the temporary directory, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        let path =
            std::env::temp_dir().join(format!("fate-unix-{tag}-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Leaves a socket file nobody listens on at `path`, as a killed server does.
fn stale_socket(path: &PathBuf) {
    drop(std::os::unix::net::UnixListener::bind(path).unwrap());
    assert!(path.exists());
}

/// Echoes one message through the socket at `path` from a client thread.
fn echo_once(path: PathBuf) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
        s.write_all(b"ping").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        back
    })
}

/// Echoes, and stops the reactor when its connection ends.
#[derive(Default)]
struct EchoOnce(Echo);

impl Protocol for EchoOnce {
    fn connection_made(&mut self, transport: Transport) {
        self.0.connection_made(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.0.data_received(data);
    }
    fn connection_lost(&mut self, _: CloseReason) {
        stop();
    }
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let path = TempPath::new("stale");
    stale_socket(&path.0);
    let reactor = reactor();
    net::listen_unix(&path.0, for_protocol(EchoOnce::default)).unwrap();
    let client = echo_once(path.0.clone());
    run_bounded(&reactor, Duration::from_secs(20));
    assert_eq!(client.join().unwrap(), b"ping");
}

#[test]
fn a_file_that_is_not_a_socket_is_a_clear_error_and_left_alone() {
    let path = TempPath::new("regular");
    std::fs::write(&path.0, b"precious").unwrap();
    let _reactor = reactor();
    let err = net::listen_unix(&path.0, for_protocol(Echo::default)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
    let message = err.to_string();
    assert!(message.contains(&path.0.display().to_string()), "{message}");
    assert!(message.contains("not a socket"), "{message}");
    assert!(!message.contains("in use"), "{message}");
    assert_eq!(std::fs::read(&path.0).unwrap(), b"precious");

    let dir = TempPath::new("dir");
    std::fs::create_dir(&dir.0).unwrap();
    let err = UnixListener::bind(&dir.0).unwrap_err();
    assert!(
        err.to_string().contains("not a socket (a directory)"),
        "{err}"
    );
    std::fs::remove_dir(&dir.0).unwrap();
}

#[test]
fn a_socket_someone_listens_on_is_not_taken_over() {
    let path = TempPath::new("live");
    let _reactor = reactor();
    let first = net::listen_unix(&path.0, for_protocol(Echo::default)).unwrap();
    let err = net::listen_unix(&path.0, for_protocol(Echo::default)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    assert!(
        err.to_string().contains("another process is listening"),
        "{err}"
    );
    assert!(first.is_listening());
    assert!(path.0.exists());
    first.stop_listening();
    assert!(!path.0.exists(), "stop_listening left the socket file");
}

#[test]
fn a_reactor_shutdown_removes_the_socket_file() {
    let path = TempPath::new("shutdown");
    let reactor = reactor();
    let port = net::listen_unix(&path.0, for_protocol(Echo::default)).unwrap();
    reactor.call_soon(stop);
    run_bounded(&reactor, Duration::from_secs(20));
    assert!(!port.is_listening());
    assert!(!path.0.exists(), "the shutdown left the socket file");
}

#[test]
fn dropping_the_reactor_removes_the_socket_file() {
    let path = TempPath::new("dropped");
    let reactor = reactor();
    net::listen_unix(&path.0, for_protocol(Echo::default)).unwrap();
    drop(reactor);
    assert!(
        !path.0.exists(),
        "the dropped listener left its socket file"
    );
}

#[test]
fn an_async_listener_replaces_a_stale_file_and_removes_it_when_dropped() {
    let path = TempPath::new("async");
    stale_socket(&path.0);
    let _reactor = reactor();
    let listener = UnixListener::bind(&path.0).unwrap();
    drop(listener);
    assert!(
        !path.0.exists(),
        "the dropped listener left its socket file"
    );
}

struct Quiet;
impl DatagramProtocol for Quiet {
    fn datagram_received(&mut self, _: &[u8], _: net::Address) {}
}

#[test]
fn a_unix_datagram_port_replaces_a_stale_file_and_removes_it_when_stopped() {
    let path = TempPath::new("dgram");
    drop(std::os::unix::net::UnixDatagram::bind(&path.0).unwrap());
    let _reactor = reactor();
    let port: DatagramTransport = net::listen_unix_datagram(&path.0, Quiet).unwrap();
    port.stop_listening();
    assert!(!path.0.exists());
}
