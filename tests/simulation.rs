//! Unchanged programs on a simulated network (`fate::testing::sim`): the examples' echo and
//! chat protocols, an HTTP `Agent` downloading from a `Site`, and a protocol bug that only a
//! network which splits messages shows, found within 100 seeds.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use fate::net::{self, CloseReason, Protocol, Transport};
use fate::protocols::{LineHandler, LineReceiver, Lines};
use fate::testing::sim::{self, Sim, SimError};

#[path = "../examples/protocols/echo.rs"]
mod echo;

#[path = "../examples/protocols/echo_client.rs"]
mod echo_client;

#[path = "../examples/protocols/chat.rs"]
mod chat;

type Shared<T> = Rc<RefCell<T>>;

#[test]
fn the_echo_examples_run_unchanged_on_two_simulated_hosts() {
    sim::check(0..20, |sim| -> Result<(), SimError> {
        sim.host("server", || {
            net::server_from_str("tcp:8000")
                .unwrap()
                .listen(net::for_protocol(echo::Echo::default));
        });
        let echoed: Shared<Option<Vec<u8>>> = Rc::default();
        let lost: Shared<Option<CloseReason>> = Rc::default();
        let (e, l) = (echoed.clone(), lost.clone());
        sim.host("client", move || {
            let (e, l) = (e.clone(), l.clone());
            let make = move || {
                let (e, l) = (e.clone(), l.clone());
                echo_client::EchoClient::new(
                    vec!["hello, echo".into(), "and again".into()],
                    move |received| *e.borrow_mut() = Some(received.to_vec()),
                    move |reason| *l.borrow_mut() = Some(reason),
                )
            };
            net::client_from_str("tcp:host=server:port=8000")
                .unwrap()
                .connect(net::for_protocol(make));
        });
        sim.run_until_idle()?;
        assert_eq!(
            echoed.borrow().as_deref(),
            Some(&b"hello, I echo\r\nhello, echo\r\nand again\r\n"[..])
        );
        assert!(lost.borrow().as_ref().is_some_and(CloseReason::is_clean));
        Ok(())
    });
}

/// A chat user: sends each line at its time, keeps everything it receives.
struct User {
    script: Vec<(Duration, &'static str)>,
    heard: Shared<Vec<u8>>,
}

impl Protocol for User {
    fn connection_made(&mut self, t: Transport) {
        for (at, line) in self.script.drain(..) {
            let t = t.clone();
            fate::call_later(at, move || t.write(format!("{line}\r\n").as_bytes()));
        }
    }
    fn data_received(&mut self, data: &[u8]) {
        self.heard.borrow_mut().extend_from_slice(data);
    }
}

/// Connects a chat user from host `name` to `server:8123`.
fn chat_user(sim: &Sim, name: &str, script: Vec<(Duration, &'static str)>) -> Shared<Vec<u8>> {
    let heard: Shared<Vec<u8>> = Rc::default();
    let h = heard.clone();
    sim.host(name, move || {
        let (h, script) = (h.clone(), script.clone());
        net::client_from_str("tcp:server:8123")
            .unwrap()
            .connect(net::for_protocol(move || User {
                script: script.clone(),
                heard: h.clone(),
            }));
    });
    heard
}

#[test]
fn the_chat_example_runs_unchanged_with_three_simulated_hosts() {
    sim::check(0..20, |sim| -> Result<(), SimError> {
        sim.host("server", || {
            let room = chat::Room::default();
            net::server_from_str("tcp:8123")
                .unwrap()
                .listen(net::for_protocol(move || {
                    LineReceiver::new(chat::Chat::new(room.clone()))
                }));
        });
        let s = Duration::from_secs;
        let alice = chat_user(sim, "alice", vec![(s(0), "alice"), (s(2), "hi bob")]);
        let bob = chat_user(
            sim,
            "bob",
            vec![(s(1), "bob"), (s(3), "hi alice"), (s(4), "/quit")],
        );
        sim.run_until_idle()?;
        let text = |b: &Shared<Vec<u8>>| String::from_utf8(b.borrow().clone()).unwrap();
        assert_eq!(
            text(&bob),
            "What's your name?\r\nWelcome, bob! Here: alice\r\n<alice> hi bob\r\n"
        );
        assert_eq!(
            text(&alice),
            "What's your name?\r\nWelcome, alice! Here: \r\n<bob> has joined\r\n\
             <bob> hi alice\r\n<bob> has left\r\n"
        );
        Ok(())
    });
}

#[test]
fn an_agent_downloads_a_page_from_a_site_on_another_simulated_host() {
    use fate::http::server::{from_fn, Request, Response, Site};

    sim::check(0..10, |sim| -> Result<(), String> {
        sim.host("web", || {
            let site = Site::new(from_fn(|_: Request| {
                Response::new(vec![b'x'; 100_000].into())
            }));
            // Dropping `Listening` leaves the site listening.
            site.listen("0.0.0.0:80".parse().unwrap()).unwrap();
        });
        sim.host("browser", || {});
        let body = sim
            .block_on("browser", async {
                fate::http::client::get_page("http://web/page").await
            })
            .map_err(|e| e.to_string())?
            .map_err(|f| f.to_string())?;
        assert_eq!(body.len(), 100_000);
        Ok(())
    });
}

#[test]
fn get_page_on_two_simulated_hosts_connects_from_each() {
    use fate::http::server::{from_fn, Request, Response, Site};

    let sim = Sim::new(8);
    sim.host("web", || {
        let site = Site::new(from_fn(|_: Request| Response::new("page".into())));
        site.listen("0.0.0.0:80".parse().unwrap()).unwrap();
    });
    // Both browsers boot at the same instant, on the same thread.
    sim.host("alice", || {});
    sim.host("bob", || {});
    for browser in ["alice", "bob"] {
        let body = sim
            .block_on(browser, async {
                fate::http::client::get_page("http://web/").await
            })
            .unwrap()
            .unwrap();
        assert_eq!(&body[..], b"page");
    }
    // Bob connected himself: he did not send his request down alice's pooled connection.
    let events = sim.recent_events();
    for browser in ["alice", "bob"] {
        let syn = format!("syn {browser} -> web");
        assert!(events.iter().any(|e| e.ends_with(&syn)), "{events:#?}");
    }
}

/// Reads requests and never answers.
struct Silent;

impl Protocol for Silent {
    fn data_received(&mut self, _: &[u8]) {}
}

#[test]
fn an_http_timeout_passes_in_virtual_time_on_the_reactors_clock() {
    use fate::http::client::Agent;

    sim::check(0..5, |sim| -> Result<(), String> {
        sim.host("tarpit", || {
            net::listen_tcp("0.0.0.0:80".parse().unwrap(), net::for_protocol(|| Silent)).unwrap();
        });
        sim.host("browser", || {});
        let outcome = sim
            .block_on("browser", async {
                let agent = Agent::builder()
                    .response_timeout(Duration::from_secs(30))
                    .build();
                let result = agent.get("http://tarpit/").await;
                (result.map(drop), fate::reactor().seconds())
            })
            .map_err(|e| e.to_string())?;
        let (result, at) = outcome;
        let err = result.expect_err("a server that never answers times out");
        assert!(err.is_timeout(), "{err}");
        // Thirty virtual seconds after the request went out (a few milliseconds in).
        assert!((30.0..30.1).contains(&at), "timed out at {at} s");
        Ok(())
    });
}

/// Sends half a request head, then nothing; notes when the server hangs up.
struct HalfHead(Shared<Option<f64>>);

impl Protocol for HalfHead {
    fn connection_made(&mut self, t: Transport) {
        t.write(b"GET / HTTP/1.1\r\nHost: web\r\n");
    }
    fn data_received(&mut self, _: &[u8]) {}
    fn connection_lost(&mut self, _: CloseReason) {
        *self.0.borrow_mut() = Some(fate::reactor().seconds());
    }
}

#[test]
fn a_sites_header_timeout_closes_a_slow_client_in_virtual_time() {
    use fate::http::server::{from_fn, Request, Response, Site};

    let sim = Sim::new(3);
    sim.host("web", || {
        let site = Site::new(from_fn(|_: Request| Response::new("hi".into())))
            .header_read_timeout(Duration::from_secs(10));
        site.listen("0.0.0.0:80".parse().unwrap()).unwrap();
    });
    let closed: Shared<Option<f64>> = Rc::default();
    let c = closed.clone();
    sim.host("slowloris", move || {
        let c = c.clone();
        net::client_from_str("tcp:web:80")
            .unwrap()
            .connect(net::for_protocol(move || HalfHead(c.clone())));
    });
    let wall = std::time::Instant::now();
    sim.run_until(|| closed.borrow().is_some()).unwrap();
    let at = closed.borrow().expect("the server hung up");
    // Ten virtual seconds and at most two ticks of an eighth of them (the documented
    // bound), no real ones.
    assert!((10.0..12.5).contains(&at), "hung up at {at} s");
    assert!(
        wall.elapsed() < Duration::from_secs(5),
        "{:?}",
        wall.elapsed()
    );
}

/// The bug: each `data_received` is taken for one whole message, as it often is on a quiet
/// loopback. Counts the numbers it is sent, one `ADD n\n` per message.
struct NaiveCounter {
    total: Shared<i64>,
}

impl Protocol for NaiveCounter {
    fn data_received(&mut self, data: &[u8]) {
        let message = std::str::from_utf8(data).unwrap();
        let n: i64 = message
            .strip_prefix("ADD ")
            .and_then(|m| m.strip_suffix('\n'))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("malformed message {message:?}"));
        *self.total.borrow_mut() += n;
    }
}

/// The same protocol done right: lines are framed by `LineReceiver`, however they arrive.
struct LineCounter {
    total: Shared<i64>,
}

impl LineHandler for LineCounter {
    fn line_received(&mut self, _: &mut Lines, line: &[u8]) {
        let line = std::str::from_utf8(line).unwrap();
        let n: i64 = line
            .strip_prefix("ADD ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("malformed line {line:?}"));
        *self.total.borrow_mut() += n;
    }
}

/// Sends `ADD 1000` .. `ADD 1009`, one a second, each in one write.
struct Adder;

impl Protocol for Adder {
    fn connection_made(&mut self, t: Transport) {
        for i in 0..10u64 {
            let t = t.clone();
            fate::call_later(Duration::from_secs(i), move || {
                t.write(format!("ADD {}\n", 1000 + i).as_bytes())
            });
        }
    }
    fn data_received(&mut self, _: &[u8]) {}
}

/// The counter server (naive or not) and one client; checks the total.
fn count_over_the_network(sim: &Sim, naive: bool) -> Result<(), SimError> {
    let total: Shared<i64> = Rc::default();
    let t = total.clone();
    sim.host("counter", move || {
        let t = t.clone();
        let endpoint = net::server_from_str("tcp:9000").unwrap();
        if naive {
            endpoint.listen(net::for_protocol(move || NaiveCounter { total: t.clone() }));
        } else {
            endpoint.listen(net::for_protocol(move || {
                LineReceiver::new(LineCounter { total: t.clone() })
            }));
        }
    });
    sim.host("client", || {
        net::client_from_str("tcp:counter:9000")
            .unwrap()
            .connect(net::for_protocol(|| Adder));
    });
    sim.run_until_idle()?;
    assert_eq!(*total.borrow(), (1000..1010).sum::<i64>());
    Ok(())
}

#[test]
fn the_sim_catches_a_protocol_that_takes_each_read_for_one_message() {
    let failure = sim::first_failure(0..100, |sim| count_over_the_network(sim, true))
        .expect("some seed splits a message");
    eprintln!("found: {failure}");
    assert!(
        failure.message.contains("malformed message"),
        "{}",
        failure.message
    );
    assert!(failure
        .to_string()
        .contains(&format!("FATE_SIM_SEED={}", failure.seed)));
    // Replaying the seed fails the same way.
    let replay = Sim::new(failure.seed);
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        count_over_the_network(&replay, true)
    }));
    assert!(matches!(again, Ok(Err(_))));
    // Framing the messages fixes it, on every seed.
    sim::check(0..100, |sim| count_over_the_network(sim, false));
}
