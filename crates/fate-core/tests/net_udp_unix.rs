//! UDP (plain and connected) and Unix stream and datagram round trips.

mod net_support;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use fate_core::net::{
    self, for_protocol, Address, CloseReason, DatagramProtocol, DatagramTransport, Protocol,
    Transport,
};
use net_support::{reactor, run_bounded, stop, Echo};

const LIMIT: Duration = Duration::from_secs(30);

/// Echoes every datagram to its sender.
#[derive(Default)]
struct UdpEcho(Option<DatagramTransport>);

impl DatagramProtocol for UdpEcho {
    fn start_protocol(&mut self, t: DatagramTransport) {
        self.0 = Some(t);
    }
    fn datagram_received(&mut self, data: &[u8], from: Address) {
        self.0.as_ref().unwrap().write_to(data, &from).unwrap();
    }
}

/// Sends datagrams to `to` (connected or not) and logs what comes back.
struct Pinger {
    to: Address,
    connected: bool,
    log: Rc<RefCell<Vec<String>>>,
    t: Option<DatagramTransport>,
}

impl DatagramProtocol for Pinger {
    fn start_protocol(&mut self, t: DatagramTransport) {
        if self.connected {
            t.connect(&self.to).unwrap();
            assert_eq!(t.peer(), Some(self.to.clone()));
            t.write(b"ping").unwrap();
        } else {
            assert!(t.write(b"x").is_err(), "write without connect must fail");
            t.write_to(b"ping", &self.to).unwrap();
        }
        self.t = Some(t);
    }
    fn datagram_received(&mut self, data: &[u8], from: Address) {
        assert_eq!(from, self.to);
        self.log
            .borrow_mut()
            .push(String::from_utf8_lossy(data).into_owned());
        self.t.as_ref().unwrap().stop_listening();
    }
    fn connection_refused(&mut self) {
        self.log.borrow_mut().push("refused".into());
        self.t.as_ref().unwrap().stop_listening();
    }
    fn stop_protocol(&mut self) {
        self.log.borrow_mut().push("stopped".into());
        stop();
    }
}

fn udp_round_trip(connected: bool) -> Vec<String> {
    let reactor = reactor();
    let server = net::listen_udp("127.0.0.1:0".parse().unwrap(), UdpEcho::default()).unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    net::listen_udp(
        "127.0.0.1:0".parse().unwrap(),
        Pinger {
            to: server.host(),
            connected,
            log: log.clone(),
            t: None,
        },
    )
    .unwrap();
    run_bounded(&reactor, LIMIT);
    server.stop_listening();
    let out = log.borrow().clone();
    out
}

#[test]
fn udp_round_trip_to_an_address() {
    assert_eq!(udp_round_trip(false), ["ping", "stopped"]);
}

#[test]
fn connected_udp_round_trip() {
    assert_eq!(udp_round_trip(true), ["ping", "stopped"]);
}

#[test]
fn connected_udp_hears_a_closed_port_as_refused() {
    let reactor = reactor();
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = Address::Inet(closed.local_addr().unwrap());
    drop(closed);
    let log = Rc::new(RefCell::new(Vec::new()));
    net::listen_udp(
        "127.0.0.1:0".parse().unwrap(),
        Pinger {
            to,
            connected: true,
            log: log.clone(),
            t: None,
        },
    )
    .unwrap();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*log.borrow(), ["refused", "stopped"]);
}

fn temp_path(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("fate-{name}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// Sends a greeting and records what comes back until the server closes.
struct Greeter(Rc<RefCell<Vec<u8>>>, Option<Transport>);

impl Protocol for Greeter {
    fn connection_made(&mut self, t: Transport) {
        t.write(b"hello over unix");
        self.1 = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.0.borrow_mut().extend_from_slice(data);
        if self.0.borrow().len() == 15 {
            self.1.as_ref().unwrap().lose_connection();
        }
    }
    fn connection_lost(&mut self, reason: CloseReason) {
        assert!(reason.is_clean(), "{reason}");
        stop();
    }
}

#[test]
fn unix_stream_round_trip() {
    let reactor = reactor();
    let path = temp_path("stream");
    let port = net::listen_unix(&path, for_protocol(Echo::default)).unwrap();
    assert_eq!(port.host(), Address::Unix(Some(path.clone())));
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    let connector = net::connect_unix(&path, for_protocol(move || Greeter(g.clone(), None)));
    assert_eq!(connector.destination(), format!("unix:{}", path.display()));
    run_bounded(&reactor, LIMIT);
    assert_eq!(&*got.borrow(), b"hello over unix");
    port.stop_listening();
    assert!(!path.exists());
}

#[test]
fn unix_connect_to_a_missing_path_names_it() {
    #[derive(Default, Clone)]
    struct Failed(Rc<RefCell<Option<String>>>);
    impl net::ClientFactory for Failed {
        fn build_protocol(&mut self, _: &Address) -> Option<Box<dyn Protocol>> {
            None
        }
        fn client_connection_failed(&mut self, _: &net::Connector, reason: &net::ConnectError) {
            *self.0.borrow_mut() = Some(reason.to_string());
        }
    }
    let reactor = reactor();
    let path = temp_path("missing");
    let f = Failed::default();
    net::connect_unix(&path, f.clone());
    reactor.run_until_idle().unwrap();
    let msg = f.0.borrow().clone().unwrap();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
}

#[test]
fn unix_datagram_round_trip() {
    let reactor = reactor();
    let server_path = temp_path("dgram-server");
    let client_path = temp_path("dgram-client");
    let server = net::listen_unix_datagram(&server_path, UdpEcho::default()).unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    net::listen_unix_datagram(
        &client_path,
        Pinger {
            to: Address::Unix(Some(server_path.clone())),
            connected: false,
            log: log.clone(),
            t: None,
        },
    )
    .unwrap();
    run_bounded(&reactor, LIMIT);
    assert_eq!(*log.borrow(), ["ping", "stopped"]);
    server.stop_listening();
    assert!(!server_path.exists() && !client_path.exists());
}
