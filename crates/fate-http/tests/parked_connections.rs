//! Idle keep-alive connections that a `Site` parks (gives back hyper's buffers, keeps the
//! socket) are served as before when their client sends again — a request split across the
//! parking moment, pipelined requests, a request a byte at a time — and the head timeout
//! and shutdown still end them. Real sockets on 127.0.0.1, blocking std clients on helper
//! threads; the site parks at once (`park_idle_after(Duration::ZERO)`), so that parking
//! follows every response without waiting on a clock. `sim_parking.rs` checks the delay.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{off_thread, run, trickle_head, wait_until};
use fate_http::server::{from_fn, Listening, Request, Response, Site};

const LIMIT: Duration = Duration::from_secs(60);

/// Answers every request with its path.
fn paths_site() -> Site {
    Site::new(from_fn(|r: Request| {
        Response::new(r.uri().path().to_string().into())
    }))
    .park_idle_after(Duration::ZERO)
}

/// A client connection and the bytes it has read past the responses taken so far.
struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        Client { s, buf: Vec::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Reads one response; returns its status line and body.
    fn response(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .expect("a content-length");
                let start = end + 4;
                if self.buf.len() >= start + len {
                    let body = String::from_utf8(self.buf[start..start + len].to_vec()).unwrap();
                    self.buf.drain(..start + len);
                    let status = head.lines().next().unwrap().to_string();
                    return (status, body);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self.s.read(&mut chunk).unwrap();
            assert!(n > 0, "the server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads the body of the next response.
    fn body(&mut self) -> String {
        let (status, body) = self.response();
        assert_eq!(status, "HTTP/1.1 200 OK");
        body
    }

    /// Reads until the server closes; how long that took.
    fn until_closed(&mut self) -> Duration {
        let started = Instant::now();
        let mut rest = Vec::new();
        let _ = self.s.read_to_end(&mut rest);
        assert!(self.buf.is_empty() && rest.is_empty(), "{rest:?}");
        started.elapsed()
    }
}

/// Runs `step` with the client on a helper thread.
async fn step<T: Send + 'static>(
    client: Client,
    step: impl FnOnce(&mut Client) -> T + Send + 'static,
) -> (Client, T) {
    off_thread(move || {
        let mut client = client;
        let out = step(&mut client);
        (client, out)
    })
    .await
}

async fn parked(l: &Listening, n: usize) {
    wait_until(Duration::from_secs(10), "parked connections", || {
        l.parked_connections() == n
    })
    .await;
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
}

#[test]
fn a_parked_connection_serves_every_way_its_client_sends_again() {
    run(LIMIT, async {
        let l = paths_site().listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr();
        // A request, and the next one cut short: the connection parks holding that part.
        let first = format!("{}GET /b HTTP/1.1\r\nHo", get("/a"));
        let (c, a) = step(Client::connect(addr), move |c| {
            c.send(first.as_bytes());
            c.body()
        })
        .await;
        assert_eq!(a, "/a");
        parked(&l, 1).await;
        // The rest of it arrives after the parking.
        let (c, b) = step(c, |c| {
            c.send(b"st: x\r\n\r\n");
            c.body()
        })
        .await;
        assert_eq!(b, "/b");
        parked(&l, 1).await;
        // Three requests in one write, answered in order.
        let pipelined = format!("{}{}{}", get("/c"), get("/d"), get("/e"));
        let (c, cde) = step(c, move |c| {
            c.send(pipelined.as_bytes());
            [c.body(), c.body(), c.body()]
        })
        .await;
        assert_eq!(cde, ["/c", "/d", "/e"]);
        parked(&l, 1).await;
        // A byte at a time: the first wakes it, the rest reach the fresh hyper connection.
        let (c, f) = step(c, |c| {
            for b in get("/f").bytes() {
                c.send(&[b]);
                std::thread::sleep(Duration::from_millis(2));
            }
            c.body()
        })
        .await;
        assert_eq!(f, "/f");
        parked(&l, 1).await;
        assert_eq!(l.connections(), 1, "one connection served all of it");
        // Shutdown closes a parked connection at once.
        let closing = step(c, |c| c.until_closed());
        let drained = l.shutdown();
        let (_, waited) = closing.await;
        assert!(waited < Duration::from_secs(5), "{waited:?}");
        drained.await.unwrap();
    });
}

#[test]
fn a_connection_that_sent_nothing_parks_and_is_served_when_it_does() {
    run(LIMIT, async {
        let l = paths_site().listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let c = Client::connect(l.local_addr());
        parked(&l, 1).await;
        let (_c, x) = step(c, |c| {
            c.send(get("/x").as_bytes());
            c.body()
        })
        .await;
        assert_eq!(x, "/x");
        parked(&l, 1).await;
    });
}

#[test]
fn the_head_timeout_closes_parked_connections_and_cuts_tricklers() {
    run(LIMIT, async {
        let l = paths_site()
            .header_read_timeout(Duration::from_millis(200))
            .listen("127.0.0.1:0".parse().unwrap())
            .unwrap();
        let addr = l.local_addr();
        let served = |path: &'static str| {
            step(Client::connect(addr), move |c| {
                c.send(get(path).as_bytes());
                let body = c.body();
                (body, Instant::now())
            })
        };
        // An idle client: parked, then closed by the head timeout.
        let (idle, (body, answered)) = served("/idle").await;
        assert_eq!(body, "/idle");
        parked(&l, 1).await;
        let (_, closed_after) = step(idle, |c| c.until_closed()).await;
        let waited = answered.elapsed();
        assert!(
            waited >= Duration::from_millis(180) && waited < Duration::from_secs(3),
            "{waited:?} ({closed_after:?} of it waiting for the close)"
        );
        // A client that trickles its next head after parking: the bytes arriving do not
        // restart the limit, which counts from the response.
        let (slow, (_, answered)) = served("/slow").await;
        parked(&l, 1).await;
        let (_, sent) = step(slow, |c| trickle_head(&mut c.s)).await;
        assert!(sent < 500, "the server never closed the connection");
        let waited = answered.elapsed();
        assert!(
            waited >= Duration::from_millis(180) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
        wait_until(Duration::from_secs(10), "no connections", || {
            l.connections() == 0
        })
        .await;
    });
}

/// On virtual time (a simulated network): with the default delay, an idle keep-alive
/// connection is parked no sooner than a second after its response and at most two ticks
/// (here, seconds) later; served again when its client sends; and closed by the head timeout
/// on time while parked.
#[test]
fn on_virtual_time_idle_connections_park_after_the_delay_and_expire_on_time() {
    use std::cell::RefCell;
    use std::future::poll_fn;
    use std::pin::Pin;
    use std::rc::Rc;

    use fate_core::net::TcpStream as SimClient;
    use fate_core::testing::sim::Sim;
    use futures_io::{AsyncRead, AsyncWrite};

    async fn send(s: &mut SimClient, mut data: &[u8]) {
        while !data.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut *s).poll_write(cx, data))
                .await
                .unwrap();
            data = &data[n..];
        }
    }
    /// Reads until the bytes read end with `end`, or the connection closes; what was read.
    async fn read_until(s: &mut SimClient, end: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 1024];
        while !out.ends_with(end) || out.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut *s).poll_read(cx, &mut chunk))
                .await
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..n]);
        }
        out
    }
    fn now() -> Instant {
        fate_core::reactor::current().timeline().now()
    }

    let sim = Sim::new(7);
    let listening: Rc<RefCell<Option<Listening>>> = Rc::default();
    let on_server = listening.clone();
    sim.host("server", move || {
        let site = Site::new(from_fn(|r: Request| {
            Response::new(r.uri().path().to_string().into())
        }))
        .header_read_timeout(Duration::from_secs(10)); // ticks of a second
        *on_server.borrow_mut() = Some(site.listen("0.0.0.0:80".parse().unwrap()).unwrap());
    });
    sim.host("client", || {});
    let parked = move || listening.borrow().as_ref().unwrap().parked_connections();
    let (parked_after, closed_after) = sim
        .block_on("client", async move {
            let mut s = SimClient::connect_host("server", 80).await.unwrap();
            send(&mut s, get("/a").as_bytes()).await;
            assert!(read_until(&mut s, b"/a").await.starts_with(b"HTTP/1.1 200"));
            let answered = now();
            fate_core::sleep(Duration::from_millis(990)).await;
            assert_eq!(parked(), 0, "parked before its second");
            for _ in 0..300 {
                if parked() == 1 {
                    break;
                }
                fate_core::sleep(Duration::from_millis(10)).await;
            }
            let parked_after = now() - answered;
            send(&mut s, get("/b").as_bytes()).await;
            assert!(read_until(&mut s, b"/b").await.starts_with(b"HTTP/1.1 200"));
            assert_eq!(parked(), 0, "serving again");
            let answered = now();
            fate_core::sleep(Duration::from_secs(5)).await;
            assert_eq!(parked(), 1);
            let rest = read_until(&mut s, b"never").await;
            assert!(rest.is_empty(), "{rest:?}");
            (parked_after, now() - answered)
        })
        .unwrap();
    assert!(
        parked_after >= Duration::from_secs(1) && parked_after <= Duration::from_secs(2),
        "{parked_after:?}"
    );
    assert!(
        closed_after >= Duration::from_secs(10) && closed_after <= Duration::from_secs(12),
        "{closed_after:?}"
    );
}
