//! The listener survives `EMFILE`: with the descriptor table full, accepting fails, is
//! logged and retried after a pause, and succeeds once descriptors are free again.
//!
//! The limit is lowered in a child process (this test binary, re-executed), so the other
//! tests keep their descriptors.

mod net_support;

use std::fs::File;
use std::io::{Read, Write};
use std::process::Command;
use std::rc::Rc;
use std::time::Duration;

use fate_core::net::{self, for_protocol, ListenOptions, Protocol, Transport};
use net_support::{reactor, run_bounded, stop};

const CHILD: &str = "FATE_NET_EMFILE_CHILD";

#[test]
fn listener_survives_emfile_and_accepts_again() {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "listener_survives_emfile_and_accepts_again",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("CHILD OK"), "{stdout}\n{stderr}");
}

/// The listening port once made, and whether it was listening when the echo was served.
#[derive(Default)]
struct Served {
    port: std::cell::RefCell<Option<net::ListeningPort>>,
    listening: std::cell::Cell<bool>,
}

/// Echoes, notes whether its port still listens, and stops the reactor (which stops the
/// port).
struct EchoOnce(Option<Transport>, Rc<Served>);

impl Protocol for EchoOnce {
    fn connection_made(&mut self, t: Transport) {
        self.0 = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.0.as_ref().unwrap().write(data);
        let listening = self.1.port.borrow().as_ref().unwrap().is_listening();
        self.1.listening.set(listening);
        stop();
    }
}

fn child() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(64),
            maximum: limit.maximum,
        },
    )
    .unwrap();
    let reactor = reactor();
    let served = Rc::new(Served::default());
    let s = served.clone();
    let port = net::listen_tcp_with(
        "127.0.0.1:0".parse().unwrap(),
        for_protocol(move || EchoOnce(None, s.clone())),
        &ListenOptions::new().accept_retry_delay(Duration::from_millis(20)),
    )
    .unwrap();
    *served.port.borrow_mut() = Some(port.clone());
    // Fill the descriptor table, leaving one for the client socket.
    let mut hog = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(f) => hog.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                break;
            }
        }
    }
    hog.pop();
    let mut client = std::net::TcpStream::connect(port.host().socket_addr().unwrap()).unwrap();
    client.write_all(b"still there?").unwrap();
    // Once accepting has failed (the table is full), free descriptors.
    let hog = Rc::new(std::cell::RefCell::new(hog));
    let watch_port = port.clone();
    fn watch(port: net::ListeningPort, hog: Rc<std::cell::RefCell<Vec<File>>>) {
        if port.accept_errors() > 0 {
            hog.borrow_mut().truncate(0);
            return;
        }
        let _ = fate_core::call_later(Duration::from_millis(5), move || watch(port, hog));
    }
    watch(watch_port, hog.clone());
    run_bounded(&reactor, Duration::from_secs(30));
    assert!(port.accept_errors() > 0, "accept never failed");
    assert!(served.listening.get(), "the port stopped listening");
    let mut buf = [0u8; 12];
    client.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still there?");
    println!("CHILD OK after {} accept errors", port.accept_errors());
}
