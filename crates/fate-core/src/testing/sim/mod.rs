//! Deterministic simulation: real Fate programs on simulated hosts, a simulated network and
//! virtual time, replayable from a seed (feature `testing`).
//!
//! A [`Sim`] holds named hosts. Each runs ordinary Fate code on a reactor of its own —
//! `fate::call_later`, `fate::spawn`, `sleep`, `LoopingCall`, Deferreds, `Protocol`s and
//! `Factory`s, endpoints from strings such as `tcp:db:5432` — with the same types and no
//! `cfg` switch: the reactor was built for the simulation, so its sockets and name lookups go
//! to the simulated network and its clock is the simulation's. Host names resolve to their
//! addresses.
//!
//! - [`world`](Sim): the hosts, the loop, virtual time (it jumps to the next event when no
//!   host has work).
//! - `net`: TCP as ordered byte streams cut at random boundaries, with latency, jitter and
//!   bandwidth per [`Link`], a bounded window, refusals, resets and half-close; UDP with
//!   loss, duplication and reordering.
//! - [`faults`](Sim::partition): `partition`/`repair`, `hold`/`release`, `crash`/`restart`,
//!   by hand, scheduled with [`Sim::at`], or drawn from the seed ([`RandomFaults`]).
//! - `trace` and `rng`: one seeded generator for every random choice, and a hash over every
//!   event ([`Sim::trace_hash`]), equal for equal seeds.
//! - [`check`] and [`first_failure`]: a test body over many seeds; a failure names its seed
//!   and how to replay it ([`SimError`], [`Failure`]).
//!
//! # Where real and simulated part
//!
//! A simulated host's reactor is built by `ReactorBuilder::build_hosted`: virtual time
//! instead of the monotonic clock, and an attachment to the network. The networking code
//! asks for an attachment only where it creates a socket (listen, bind, connect, name lookup);
//! from there on, connections and listeners are the same generic code over a simulated
//! socket type instead of a kernel one. A reactor built any other way never looks.
//!
//! # What is simulated
//!
//! TCP in both styles (`listen_tcp`/`connect_tcp`, endpoints, `TcpListener`/`TcpStream`),
//! Unix streams in both styles (`listen_unix`/`connect_unix`, `unix:` endpoints,
//! `UnixListener`/`UnixStream`), UDP in both styles (`listen_udp` and its
//! `DatagramTransport`, the async `UdpSocket`), name lookups, timers and tasks. A Unix
//! socket path belongs to its host: only that host's code can connect to it, and a path
//! nobody listens on is `NotFound` (`ENOENT`), as on a real system; no socket file is made.
//! Unix datagram sockets, `UnixStream::pair`, TLS certificates' validity times, child
//! processes and `defer_to_thread` reach the real system from a simulated host, as does code
//! that reads the wall clock (`SystemTime`) itself; a run that uses them is not reproducible.
//! State a library keeps per thread is shared by the hosts of a simulation unless it is kept
//! per reactor ([`Reactor::id`](crate::reactor::Reactor::id)), as fate-http's pool for
//! `get_page` is.
//!
//! # Examples
//!
//! An echo server and a client on two hosts, through endpoint strings:
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! use fate::net::{self, for_protocol, Protocol, Transport};
//! use fate::testing::sim::Sim;
//!
//! struct Echo(Option<Transport>);
//! impl Protocol for Echo {
//!     fn connection_made(&mut self, t: Transport) {
//!         self.0 = Some(t);
//!     }
//!     fn data_received(&mut self, data: &[u8]) {
//!         self.0.as_ref().unwrap().write(data);
//!     }
//! }
//!
//! struct Client(Rc<RefCell<Vec<u8>>>);
//! impl Protocol for Client {
//!     fn connection_made(&mut self, t: Transport) {
//!         t.write(b"hello, simulated world");
//!     }
//!     fn data_received(&mut self, data: &[u8]) {
//!         self.0.borrow_mut().extend_from_slice(data);
//!     }
//! }
//!
//! let sim = Sim::new(7);
//! sim.host("server", || {
//!     net::server_from_str("tcp:7").unwrap().listen(for_protocol(|| Echo(None)));
//! });
//! let got = Rc::new(RefCell::new(Vec::new()));
//! let g = got.clone();
//! sim.host("client", move || {
//!     let g = g.clone();
//!     net::client_from_str("tcp:server:7").unwrap().connect(for_protocol(move || Client(g.clone())));
//! });
//! sim.run_until(|| got.borrow().len() == 22).unwrap();
//! assert_eq!(&*got.borrow(), b"hello, simulated world");
//! ```
#![forbid(unsafe_code)]

mod check;
mod error;
mod faults;
mod host;
mod link;
mod net;
mod rng;
pub(crate) mod socket;
mod trace;
mod world;

pub use check::{check, first_failure, Failure, SEED_VAR};
pub use error::SimError;
pub use faults::RandomFaults;
pub use link::Link;
pub use world::{Sim, SimBuilder};

pub(crate) use socket::Attachment;
