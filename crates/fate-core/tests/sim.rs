//! The simulator: virtual time, TCP between simulated hosts through the ordinary networking
//! API, faults, and reproducible traces.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use fate::net::{
    self, for_protocol, Address, ClientFactory, CloseReason, ConnectError, Connector, HalfClose,
    Protocol, Transport,
};
use fate::testing::sim::{self, Link, Sim};

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

/// Echoes what it receives; logs how it ends.
struct Echo {
    t: Option<Transport>,
    log: Log,
}

impl Protocol for Echo {
    fn connection_made(&mut self, t: Transport) {
        self.t = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.t.as_ref().unwrap().write(data);
    }
    fn connection_lost(&mut self, reason: CloseReason) {
        self.log
            .borrow_mut()
            .push(format!("server lost: {reason:?}"));
    }
}

/// Sends `message`, collects what comes back, logs how it ends.
struct Sender {
    message: Vec<u8>,
    got: Rc<RefCell<Vec<u8>>>,
    chunks: Rc<Cell<usize>>,
    log: Log,
    t: Option<Transport>,
}

impl Protocol for Sender {
    fn connection_made(&mut self, t: Transport) {
        t.write(&self.message);
        self.t = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.chunks.set(self.chunks.get() + 1);
        self.got.borrow_mut().extend_from_slice(data);
    }
    fn connection_lost(&mut self, reason: CloseReason) {
        self.log
            .borrow_mut()
            .push(format!("client lost: {reason:?}"));
    }
}

struct Client {
    message: Vec<u8>,
    got: Rc<RefCell<Vec<u8>>>,
    chunks: Rc<Cell<usize>>,
    log: Log,
}

impl ClientFactory for Client {
    fn build_protocol(&mut self, _: &Address) -> Option<Box<dyn Protocol>> {
        Some(Box::new(Sender {
            message: self.message.clone(),
            got: self.got.clone(),
            chunks: self.chunks.clone(),
            log: self.log.clone(),
            t: None,
        }))
    }
    fn client_connection_failed(&mut self, _: &Connector, reason: &ConnectError) {
        self.log.borrow_mut().push(format!("failed: {reason}"));
    }
}

struct EchoRun {
    sim: Sim,
    got: Rc<RefCell<Vec<u8>>>,
    chunks: Rc<Cell<usize>>,
    log: Log,
}

/// An echo server on "server" (endpoint `tcp:7`) and a client on "client" that connects to
/// `server:7` at `connect_at` and sends `message`.
fn echo_pair(seed: u64, message: &[u8], connect_at: Duration) -> EchoRun {
    let sim = Sim::new(seed);
    let log = log();
    let l = log.clone();
    sim.host("server", move || {
        let l = l.clone();
        net::server_from_str("tcp:7")
            .unwrap()
            .listen(for_protocol(move || Echo {
                t: None,
                log: l.clone(),
            }));
    });
    let got = Rc::new(RefCell::new(Vec::new()));
    let chunks = Rc::new(Cell::new(0));
    let (g, c, l, m) = (got.clone(), chunks.clone(), log.clone(), message.to_vec());
    sim.host("client", move || {
        let client = Client {
            message: m.clone(),
            got: g.clone(),
            chunks: c.clone(),
            log: l.clone(),
        };
        fate::call_later(connect_at, move || {
            net::connect_tcp("server", 7, client);
        });
    });
    EchoRun {
        sim,
        got,
        chunks,
        log,
    }
}

#[test]
fn an_hour_of_ten_thousand_timers_takes_well_under_a_second() {
    let sim = Sim::new(1);
    let fired = Rc::new(Cell::new(0u32));
    let last = Rc::new(Cell::new(0.0f64));
    let (f, l) = (fired.clone(), last.clone());
    sim.host("timers", move || {
        for i in 0..10_000u64 {
            // Spread over the hour, 0.36 s apart.
            let (f, l) = (f.clone(), l.clone());
            fate::call_later(Duration::from_millis(360 * (i + 1)), move || {
                f.set(f.get() + 1);
                l.set(fate::reactor().seconds());
            });
        }
    });
    let wall = Instant::now();
    sim.run_until_idle().unwrap();
    let took = wall.elapsed();
    assert_eq!(fired.get(), 10_000);
    assert_eq!(last.get(), 3600.0);
    assert_eq!(sim.elapsed(), Duration::from_secs(3600));
    eprintln!("one virtual hour, 10,000 timers: {took:?} of wall time");
    // The goal is 1 s; the bound leaves room for a loaded machine and a debug build.
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn echo_between_two_hosts_through_endpoint_strings() {
    let message = b"the quick brown fox jumps over the lazy dog".repeat(100);
    let run = echo_pair(7, &message, Duration::ZERO);
    let done = run
        .sim
        .run_until(|| run.got.borrow().len() == message.len())
        .unwrap();
    assert!(done);
    assert_eq!(*run.got.borrow(), message);
    // Latency is 1–2 ms per crossing: the echo took a few of them, not zero, not seconds.
    let t = run.sim.elapsed();
    assert!(
        t >= Duration::from_millis(3) && t < Duration::from_millis(50),
        "{t:?}"
    );
}

#[test]
fn bytes_arrive_in_order_but_split_at_random_boundaries() {
    let message: Vec<u8> = (0..=255u8).cycle().take(4000).collect();
    let mut splits = Vec::new();
    for seed in 0..20 {
        let run = echo_pair(seed, &message, Duration::ZERO);
        run.sim
            .run_until(|| run.got.borrow().len() == message.len())
            .unwrap();
        assert_eq!(*run.got.borrow(), message, "seed {seed}");
        splits.push(run.chunks.get());
    }
    assert!(splits.iter().any(|&n| n > 1), "{splits:?}");
    assert!(splits.iter().any(|&n| n != splits[0]), "{splits:?}");
}

#[test]
fn connecting_where_nothing_listens_is_refused_and_unknown_names_fail() {
    let sim = Sim::new(3);
    let log = log();
    sim.host("server", || {});
    let l = log.clone();
    sim.host("client", move || {
        for host in ["server", "nowhere"] {
            net::connect_tcp(
                host,
                7,
                Client {
                    message: Vec::new(),
                    got: Rc::default(),
                    chunks: Rc::default(),
                    log: l.clone(),
                },
            );
        }
    });
    sim.run_until_idle().unwrap();
    let log = log.borrow();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log.iter().any(|l| l.contains("refused")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("nowhere")), "{log:?}");
}

#[test]
fn a_partition_silences_a_connection_until_it_is_repaired() {
    let run = echo_pair(5, b"ping", Duration::from_secs(1));
    run.sim
        .set_link("client", "server", Link::new(Duration::from_millis(10)));
    // Connected by 1.02 s; cut before the data (sent at once) can come back.
    run.sim.at(Duration::from_millis(1025), |sim| {
        sim.partition("client", "server")
    });
    run.sim.at(Duration::from_secs(60), |sim| {
        sim.repair("client", "server")
    });
    run.sim.run_for(Duration::from_secs(59)).unwrap();
    assert!(run.got.borrow().is_empty());
    run.sim.run_until(|| run.got.borrow().len() == 4).unwrap();
    assert_eq!(*run.got.borrow(), b"ping");
    assert!(run.sim.elapsed() >= Duration::from_secs(60));
    assert!(run.log.borrow().is_empty(), "{:?}", run.log.borrow());
}

#[test]
fn a_connect_across_a_partition_times_out() {
    let sim = Sim::new(2);
    sim.host("server", || {
        net::listen_tcp(
            "0.0.0.0:7".parse().unwrap(),
            for_protocol(|| Echo {
                t: None,
                log: log(),
            }),
        )
        .unwrap();
    });
    let log = log();
    let l = log.clone();
    sim.host("client", move || {
        let options = net::ConnectOptions::new().timeout(Duration::from_secs(5));
        let client = Client {
            message: Vec::new(),
            got: Rc::default(),
            chunks: Rc::default(),
            log: l.clone(),
        };
        fate::call_later(Duration::from_secs(1), move || {
            net::connect_tcp_with("server", 7, client, &options);
        });
    });
    sim.partition("client", "server");
    sim.run_until(|| !log.borrow().is_empty()).unwrap();
    assert!(log.borrow()[0].contains("timed out"), "{:?}", log.borrow());
    assert_eq!(sim.elapsed(), Duration::from_secs(6));
}

#[test]
fn held_packets_arrive_together_on_release() {
    let run = echo_pair(9, b"hold me", Duration::ZERO);
    run.sim.hold("client", "server");
    // Less than the connect timeout (30 s): the held SYN is still awaited.
    run.sim.run_for(Duration::from_secs(20)).unwrap();
    assert!(run.got.borrow().is_empty());
    run.sim.release("client", "server");
    run.sim.run_until(|| run.got.borrow().len() == 7).unwrap();
    assert_eq!(*run.got.borrow(), b"hold me");
    assert!(run.log.borrow().is_empty(), "{:?}", run.log.borrow());
}

#[test]
fn a_crashed_host_resets_its_peers_and_restarts_with_its_boot_program() {
    let boots = Rc::new(Cell::new(0));
    let sim = Sim::new(4);
    let b = boots.clone();
    let log = log();
    let l = log.clone();
    sim.host("server", move || {
        b.set(b.get() + 1);
        let l = l.clone();
        net::listen_tcp(
            "0.0.0.0:7".parse().unwrap(),
            for_protocol(move || Echo {
                t: None,
                log: l.clone(),
            }),
        )
        .unwrap();
    });
    let got = Rc::new(RefCell::new(Vec::new()));
    let (g, l) = (got.clone(), log.clone());
    sim.host("client", move || {
        net::connect_tcp(
            "server",
            7,
            Client {
                message: b"hi".to_vec(),
                got: g.clone(),
                chunks: Rc::default(),
                log: l.clone(),
            },
        );
    });
    sim.run_until(|| got.borrow().len() == 2).unwrap();
    sim.crash("server");
    assert!(!sim.is_up("server"));
    sim.run_until_idle().unwrap();
    // The server's protocol vanished with it (no connection_lost); the client was reset.
    assert_eq!(*log.borrow(), ["client lost: Reset"]);
    sim.restart("server");
    assert_eq!(boots.get(), 2);
    // The restarted server listens again.
    let again = Rc::new(RefCell::new(Vec::new()));
    let a = again.clone();
    let l = log.clone();
    sim.on("client", move || {
        net::connect_tcp(
            "server",
            7,
            Client {
                message: b"again".to_vec(),
                got: a.clone(),
                chunks: Rc::default(),
                log: l.clone(),
            },
        );
    });
    sim.run_until(|| again.borrow().len() == 5).unwrap();
    assert_eq!(*again.borrow(), b"again");
}

/// Reads until the peer's end of stream, keeps the connection half-open, then answers with
/// what it read and closes.
struct ReplyAtEof {
    t: Option<Transport>,
    seen: Vec<u8>,
}

impl Protocol for ReplyAtEof {
    fn connection_made(&mut self, t: Transport) {
        self.t = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.seen.extend_from_slice(data);
    }
    fn read_connection_lost(&mut self) -> HalfClose {
        let t = self.t.as_ref().unwrap();
        t.write(format!("read {} bytes", self.seen.len()).as_bytes());
        t.lose_connection();
        HalfClose::KeepOpen
    }
}

/// Sends, half-closes, then collects the answer.
struct HalfCloser {
    got: Rc<RefCell<Vec<u8>>>,
    log: Log,
}

impl Protocol for HalfCloser {
    fn connection_made(&mut self, t: Transport) {
        t.write(b"0123456789");
        t.lose_write_connection();
    }
    fn data_received(&mut self, data: &[u8]) {
        self.got.borrow_mut().extend_from_slice(data);
    }
    fn read_connection_lost(&mut self) -> HalfClose {
        HalfClose::Close
    }
    fn connection_lost(&mut self, reason: CloseReason) {
        self.log.borrow_mut().push(format!("{reason:?}"));
    }
}

#[test]
fn half_close_lets_the_peer_answer_after_end_of_stream() {
    let sim = Sim::new(11);
    sim.host("server", || {
        net::listen_tcp(
            "0.0.0.0:9".parse().unwrap(),
            for_protocol(|| ReplyAtEof {
                t: None,
                seen: Vec::new(),
            }),
        )
        .unwrap();
    });
    let got = Rc::new(RefCell::new(Vec::new()));
    let log = log();
    let (g, l) = (got.clone(), log.clone());
    sim.host("client", move || {
        let (g, l) = (g.clone(), l.clone());
        net::client_from_str("tcp:server:9")
            .unwrap()
            .connect(for_protocol(move || HalfCloser {
                got: g.clone(),
                log: l.clone(),
            }));
    });
    sim.run_until_idle().unwrap();
    assert_eq!(&*got.borrow(), b"read 10 bytes");
    assert_eq!(*log.borrow(), ["Done"]);
}

#[test]
fn the_same_seed_gives_the_same_trace_and_another_seed_another() {
    let message = b"determinism".repeat(500);
    let hash = |seed| {
        let run = echo_pair(seed, &message, Duration::from_millis(3));
        run.sim
            .run_until(|| run.got.borrow().len() == message.len())
            .unwrap();
        run.sim.run_until_idle().unwrap();
        (run.sim.trace_hash(), run.sim.trace_len())
    };
    same_seed_same_trace_other_seed_other(hash, 7);
}

/// Runs `run` (a seed to its trace's hash and length) twice with `seed` and once with the
/// next: the same seed gives the same trace, of more than ten events; the next another.
fn same_seed_same_trace_other_seed_other(run: impl Fn(u64) -> (u64, u64), seed: u64) {
    let a = run(seed);
    assert_eq!(a, run(seed));
    assert!(a.1 > 10);
    assert_ne!(a.0, run(seed + 1).0);
}

#[test]
fn a_host_panic_fails_the_run_naming_the_seed() {
    let sim = Sim::new(1234);
    sim.host("a", || {
        fate::call_later(Duration::from_secs(2), || panic!("boom"));
    });
    let err = sim.run_until_idle().unwrap_err();
    assert_eq!(err.seed(), 1234);
    assert_eq!(err.at(), Duration::from_secs(2));
    let text = err.to_string();
    assert!(text.contains("host \"a\" panicked: boom"), "{text}");
    assert!(text.contains("FATE_SIM_SEED=1234"), "{text}");
}

#[test]
fn check_names_the_first_failing_seed() {
    let failure = sim::first_failure(0..50, |sim| {
        sim.host("a", || {});
        if sim.seed() == 17 {
            panic!("seventeen");
        }
        Ok::<(), String>(())
    });
    let failure = failure.unwrap();
    assert_eq!(failure.seed, 17);
    assert_eq!(failure.message, "seventeen");
    assert!(failure.to_string().contains("FATE_SIM_SEED=17"));
}

/// Counts what it receives.
struct Sink(Rc<Cell<usize>>);

impl Protocol for Sink {
    fn data_received(&mut self, data: &[u8]) {
        self.0.set(self.0.get() + data.len());
    }
}

#[test]
fn a_link_with_a_bandwidth_takes_size_over_bandwidth_to_carry_a_stream() {
    let sim = Sim::new(6);
    let received = Rc::new(Cell::new(0));
    let r = received.clone();
    sim.host("server", move || {
        let r = r.clone();
        net::listen_tcp(
            "0.0.0.0:9".parse().unwrap(),
            for_protocol(move || Sink(r.clone())),
        )
        .unwrap();
    });
    sim.host("client", || {
        net::connect_tcp(
            "server",
            9,
            Client {
                message: vec![7u8; 1_000_000],
                got: Rc::default(),
                chunks: Rc::default(),
                log: log(),
            },
        );
    });
    sim.set_link(
        "client",
        "server",
        Link::new(Duration::from_millis(1)).bandwidth(1_000_000),
    );
    sim.run_until(|| received.get() == 1_000_000).unwrap();
    assert_eq!(received.get(), 1_000_000);
    // 1 MB at 1 MB/s, plus the handshake and the latency of the last packet.
    let t = sim.elapsed();
    assert!(
        t >= Duration::from_secs(1) && t < Duration::from_millis(1100),
        "{t:?}"
    );
}

#[test]
fn faults_drawn_from_the_seed_are_the_same_for_the_same_seed() {
    let run_with = |seed| {
        let run = echo_pair(seed, b"x", Duration::from_secs(1));
        run.sim.host("bystander", || {});
        let faults = sim::RandomFaults::new(Duration::from_secs(120))
            .partitions(Duration::from_secs(10), Duration::from_secs(4))
            .crashes(Duration::from_secs(30), Duration::from_secs(5));
        let n = run.sim.random_faults(&faults);
        run.sim.run_until_idle().unwrap();
        (n, run.sim.trace_hash(), run.sim.recent_events())
    };
    let (n, hash, events) = run_with(21);
    assert!(n > 5, "{n} faults");
    assert!(
        events
            .iter()
            .any(|e| e.contains("repair") || e.contains("restart")),
        "{events:?}"
    );
    assert_eq!((n, hash), {
        let (n, hash, _) = run_with(21);
        (n, hash)
    });
    assert_ne!(hash, run_with(22).1);
}

#[test]
fn async_streams_connect_accept_and_half_close_between_simulated_hosts() {
    use futures_util::{AsyncReadExt, AsyncWriteExt};

    let sim = Sim::new(12);
    sim.host("server", || {
        fate::spawn_local(async {
            let listener = net::TcpListener::bind("0.0.0.0:5000".parse().unwrap()).unwrap();
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                fate::spawn_local(async move {
                    let mut buf = vec![0; 1024];
                    loop {
                        let n = s.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        s.write_all(&buf[..n]).await.unwrap();
                    }
                    s.close().await.unwrap();
                })
                .detach();
            }
        })
        .detach();
    });
    sim.host("client", || {});
    let (back, peer) = sim
        .block_on("client", async {
            let mut s = net::TcpStream::connect_host("server", 5000).await.unwrap();
            s.write_all(b"async hello").await.unwrap();
            s.close().await.unwrap();
            let mut back = Vec::new();
            s.read_to_end(&mut back).await.unwrap();
            (back, s.peer_addr().unwrap())
        })
        .unwrap();
    assert_eq!(back, b"async hello");
    assert_eq!(
        peer,
        std::net::SocketAddr::new(sim.ip("server").into(), 5000)
    );
    let refused = sim
        .block_on("client", async {
            net::TcpStream::connect_host("server", 5001).await.map(drop)
        })
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

/// Keeps the sequence numbers it receives.
struct Collect(Rc<RefCell<Vec<u32>>>);

impl net::DatagramProtocol for Collect {
    fn datagram_received(&mut self, data: &[u8], _from: Address) {
        self.0
            .borrow_mut()
            .push(u32::from_be_bytes(data.try_into().unwrap()));
    }
}

/// Sends datagrams 0..n from "client" to "server:53", one a millisecond.
fn datagrams(seed: u64, link: Link, n: u32) -> (Sim, Rc<RefCell<Vec<u32>>>) {
    let sim = Sim::new(seed);
    let got = Rc::new(RefCell::new(Vec::new()));
    let g = got.clone();
    sim.host("server", move || {
        net::listen_udp("0.0.0.0:53".parse().unwrap(), Collect(g.clone())).unwrap();
    });
    sim.host("client", move || {
        struct Quiet;
        impl net::DatagramProtocol for Quiet {
            fn datagram_received(&mut self, _: &[u8], _: Address) {}
        }
        let t = net::listen_udp("0.0.0.0:0".parse().unwrap(), Quiet).unwrap();
        let server = Address::Inet(std::net::SocketAddr::new([10, 0, 0, 1].into(), 53));
        for i in 0..n {
            let (t, server) = (t.clone(), server.clone());
            fate::call_later(Duration::from_millis(u64::from(i)), move || {
                t.write_to(&i.to_be_bytes(), &server).unwrap();
            });
        }
    });
    sim.set_link("client", "server", link);
    (sim, got)
}

#[test]
fn datagrams_are_lost_duplicated_and_reordered_as_the_link_says() {
    let link = Link::new(Duration::from_millis(5))
        .jitter(Duration::from_millis(5))
        .loss(0.1)
        .duplicate(0.05);
    let (sim, got) = datagrams(31, link, 1000);
    sim.run_until_idle().unwrap();
    let got = got.borrow();
    let mut unique = got.clone();
    unique.sort_unstable();
    unique.dedup();
    let lost = 1000 - unique.len();
    let duplicated = got.len() - unique.len();
    let reordered = got.windows(2).filter(|w| w[0] > w[1]).count();
    assert!((50..150).contains(&lost), "lost {lost}");
    assert!((20..90).contains(&duplicated), "duplicated {duplicated}");
    assert!(reordered > 50, "reordered {reordered}");
    // A lossless link without jitter delivers each once, in order.
    let (sim, got) = datagrams(31, Link::new(Duration::from_millis(5)), 1000);
    sim.run_until_idle().unwrap();
    assert_eq!(*got.borrow(), (0..1000).collect::<Vec<u32>>());
}

#[test]
fn a_partition_loses_datagrams_and_a_hold_delays_them() {
    let (sim, got) = datagrams(2, Link::new(Duration::from_millis(1)), 100);
    sim.at(Duration::from_millis(20), |sim| {
        sim.partition("client", "server")
    });
    sim.at(Duration::from_millis(60), |sim| {
        sim.repair("client", "server")
    });
    sim.run_until_idle().unwrap();
    let n = got.borrow().len();
    assert!((55..=62).contains(&n), "{n} of 100 arrived");
    let (sim, got) = datagrams(2, Link::new(Duration::from_millis(1)), 100);
    sim.hold("client", "server");
    sim.at(Duration::from_millis(500), |sim| {
        sim.release("client", "server")
    });
    sim.run_until_idle().unwrap();
    assert_eq!(*got.borrow(), (0..100).collect::<Vec<u32>>());
}

#[test]
fn hosts_with_work_at_the_same_instant_run_in_an_order_drawn_from_the_seed() {
    let first = |seed| {
        let sim = Sim::new(seed);
        let log = log();
        for name in ["a", "b", "c"] {
            let l = log.clone();
            sim.host(name, move || {
                let l = l.clone();
                fate::call_later(Duration::from_secs(1), move || {
                    l.borrow_mut().push(name.to_string())
                });
            });
        }
        sim.run_until_idle().unwrap();
        let order = log.borrow().join("");
        order
    };
    let orders: std::collections::BTreeSet<String> = (0..30).map(first).collect();
    assert!(orders.len() >= 4, "{orders:?}");
    assert_eq!(first(5), first(5));
}

/// The socket path of the Unix tests: not one the real system has (its directory does not
/// exist), so only a simulated listener can serve it.
const UNIX_PATH: &str = "/nonexistent-fate-sim/echo.sock";

/// An echo server on Unix socket `UNIX_PATH` of "server", a client on the same host that
/// sends `message`, and one on "other" that tries the same path.
fn unix_echo(seed: u64, message: &[u8]) -> EchoRun {
    let sim = Sim::new(seed);
    let log = log();
    let got = Rc::new(RefCell::new(Vec::new()));
    let chunks = Rc::new(Cell::new(0));
    let client = |message: &[u8], got: &Rc<RefCell<Vec<u8>>>, chunks: &Rc<Cell<usize>>| Client {
        message: message.to_vec(),
        got: got.clone(),
        chunks: chunks.clone(),
        log: log.clone(),
    };
    let (same, other) = (
        client(message, &got, &chunks),
        client(b"", &Rc::default(), &Rc::default()),
    );
    let l = log.clone();
    let same = RefCell::new(Some(same));
    sim.host("server", move || {
        let l = l.clone();
        net::server_from_str(&format!("unix:{UNIX_PATH}"))
            .unwrap()
            .listen(for_protocol(move || Echo {
                t: None,
                log: l.clone(),
            }));
        if let Some(client) = same.borrow_mut().take() {
            net::client_from_str(&format!("unix:{UNIX_PATH}"))
                .unwrap()
                .connect(client);
        }
    });
    let other = RefCell::new(Some(other));
    sim.host("other", move || {
        if let Some(client) = other.borrow_mut().take() {
            fate::call_later(Duration::from_millis(5), move || {
                net::connect_unix(UNIX_PATH, client);
            });
        }
    });
    EchoRun {
        sim,
        got,
        chunks,
        log,
    }
}

#[test]
fn unix_streams_are_simulated_and_reach_only_their_own_host() {
    let message = b"over a simulated unix socket".repeat(50);
    let run = unix_echo(5, &message);
    run.sim.run_until_idle().unwrap();
    assert_eq!(*run.got.borrow(), message);
    assert!(!std::path::Path::new(UNIX_PATH).exists());
    let log = run.log.borrow();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].starts_with("failed:"), "{log:?}");
    assert!(log[0].contains(UNIX_PATH), "{log:?}");
    assert!(log[0].contains("No such file"), "{log:?}");
}

#[test]
fn a_unix_run_gives_the_same_trace_for_the_same_seed() {
    let message = b"unix determinism".repeat(300);
    let hash = |seed| {
        let run = unix_echo(seed, &message);
        run.sim.run_until_idle().unwrap();
        assert_eq!(*run.got.borrow(), message);
        (run.sim.trace_hash(), run.sim.trace_len())
    };
    same_seed_same_trace_other_seed_other(hash, 9);
}

#[test]
fn async_unix_streams_are_simulated_and_local_to_their_host() {
    use futures_util::{AsyncReadExt, AsyncWriteExt};

    let sim = Sim::new(13);
    sim.host("server", || {
        fate::spawn_local(async {
            let listener = net::UnixListener::bind(UNIX_PATH).unwrap();
            let (mut s, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, Address::Unix(None));
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
            s.close().await.unwrap();
        })
        .detach();
    });
    sim.host("other", || {});
    let (back, peer) = sim
        .block_on("server", async {
            let mut s = net::UnixStream::connect(UNIX_PATH).await.unwrap();
            s.write_all(b"async unix").await.unwrap();
            s.close().await.unwrap();
            let mut back = Vec::new();
            s.read_to_end(&mut back).await.unwrap();
            (back, s.peer_addr().unwrap())
        })
        .unwrap();
    assert_eq!(back, b"async unix");
    assert_eq!(peer, Address::Unix(Some(UNIX_PATH.into())));
    let elsewhere = sim
        .block_on("other", async {
            net::UnixStream::connect(UNIX_PATH).await.map(drop)
        })
        .unwrap()
        .unwrap_err();
    assert_eq!(elsewhere.kind(), std::io::ErrorKind::NotFound);
    assert!(elsewhere.to_string().contains(UNIX_PATH), "{elsewhere}");
}

/// An async `UdpSocket` echo on "server" port 53; "client" sends `n` datagrams over `link`
/// and returns the sequence numbers that came back, in order of arrival.
fn async_udp_echo(seed: u64, link: Link, n: u32) -> (Sim, Vec<u32>) {
    let sim = Sim::new(seed);
    sim.host("server", || {
        fate::spawn_local(async {
            let socket = net::UdpSocket::bind("0.0.0.0:53".parse().unwrap()).unwrap();
            let mut buf = [0u8; 64];
            loop {
                let (len, from) = socket.recv_from(&mut buf).await.unwrap();
                socket.send_to(&buf[..len], from).await.unwrap();
            }
        })
        .detach();
    });
    sim.host("client", || {});
    sim.set_link("client", "server", link);
    let server = std::net::SocketAddr::new(sim.ip("server").into(), 53);
    let back = sim
        .block_on("client", async move {
            let socket = net::UdpSocket::bind("0.0.0.0:0".parse().unwrap()).unwrap();
            socket.connect(server).unwrap();
            for i in 0..n {
                socket.send(&i.to_be_bytes()).await.unwrap();
            }
            let mut back = Vec::new();
            let mut buf = [0u8; 4];
            loop {
                match fate::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await {
                    Ok(len) => {
                        let len = len.unwrap();
                        back.push(u32::from_be_bytes(buf[..len].try_into().unwrap()));
                    }
                    Err(_) => break back,
                }
            }
        })
        .unwrap();
    (sim, back)
}

#[test]
fn async_udp_sockets_are_simulated_with_the_links_loss() {
    let (_, clean) = async_udp_echo(4, Link::default(), 50);
    let mut sorted = clean.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    let lossy = Link::default().loss(0.3);
    let (sim, lost) = async_udp_echo(4, lossy, 50);
    assert!(!lost.is_empty() && lost.len() < 50, "{lost:?}");
    let hash = sim.trace_hash();
    let (again, lost_again) = async_udp_echo(4, lossy, 50);
    assert_eq!((hash, &lost), (again.trace_hash(), &lost_again));
}
