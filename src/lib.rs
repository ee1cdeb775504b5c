//! Fate: a Twisted-style, single-threaded event framework for Rust.
//!
//! One thread runs one reactor. Whatever would block — a sleep, a socket, a child process, a
//! result computed elsewhere — becomes an event the reactor dispatches, and a result that is
//! not there yet is a typed [`Deferred`] you can chain callbacks on or simply `.await`.
//!
//! These docs follow the article Fate grew from: a tiny event manager first, then Twisted.
//!
//! # 1. A MadHatter and a FireCracker
//!
//! A madman walks up to you and thrusts a firecracker into your hand; its fuse is burning and
//! it will explode in a few seconds. Modelling the burning fuse with a `sleep` is the trap:
//! while the program sleeps, nothing else happens — the firecracker cannot even be handed
//! over, and it explodes in the hands of whoever lit it. The fuse must be an *event*: "in
//! three seconds, call this handler", and meanwhile the program goes on.
//!
//! # 2. Fate: an event manager
//!
//! The article's event manager, Fate, keeps the burning fuses and a loop that waits for the
//! next one to burn out, calls its handler, and ends when no fuse is left. Here a fuse is
//! [`call_later`], and that loop is [`run_until_idle`]:
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! let owner = Rc::new(Cell::new("the MadHatter"));
//! let holder = owner.clone();
//! fate::run_until_idle(move || {
//!     let _fuse = fate::call_later(Duration::from_millis(30), move || {
//!         println!("BOOM! in the hands of {}", holder.get());
//!     });
//!     // The fuse burns while the program goes on: the hand-over happens first.
//!     owner.set("Alice");
//! })
//! .unwrap();
//! ```
//!
//! [`call_later`] returns a [`time::DelayedCall`] that can [`cancel`](time::DelayedCall::cancel),
//! [`reset`](time::DelayedCall::reset) or [`delay`](time::DelayedCall::delay) the fuse.
//! `examples/firecracker.rs` is the whole story, with a `Fuse`, a `FireCracker` and a
//! `MadHatter`.
//!
//! # 3. A chain of fuses
//!
//! A handler may light new fuses: each fuse of a chain lights the next one, and the loop
//! keeps going until the last has burnt out (`examples/chain_of_fuses.rs`).
//!
//! ```
//! use std::time::Duration;
//!
//! fn light(fuse: u32, of: u32) {
//!     fate::call_later(Duration::from_millis(5), move || {
//!         if fuse < of {
//!             light(fuse + 1, of);
//!         } else {
//!             println!("BOOM after {of} fuses");
//!         }
//!     });
//! }
//!
//! fate::run_until_idle(|| light(1, 3)).unwrap();
//! ```
//!
//! Because every handler runs on the reactor's one thread, one after another, they share
//! state through `Rc`, `RefCell` and `Cell`: nothing needs to be `Send`, nothing takes a lock
//! (`examples/not_send.rs`). The price is the article's rule: **no handler may block**.
//!
//! # 4. Twisted's reactor
//!
//! Twisted generalises Fate's loop into the *reactor*: it waits on timers, sockets, pipes,
//! child processes and signals at once. [`run`] builds this thread's reactor, runs `main`,
//! and turns until [`reactor::Reactor::stop`]; [`reactor()`] is the current thread's reactor;
//! [`call_soon`] runs a callback on the next turn. SIGINT and SIGTERM stop it gracefully,
//! after the shutdown triggers have run.
//!
//! ```
//! use std::time::Duration;
//!
//! fate::run(|| {
//!     fate::call_later(Duration::from_millis(10), || {
//!         println!("done");
//!         fate::reactor().stop();
//!     });
//! })
//! .unwrap();
//! ```
//!
//! Each turn runs the timers that are due, then the ready callbacks and tasks (up to a
//! budget), then waits for I/O until the next deadline; ARCHITECTURE.md walks through it.
//!
//! # 5. Deferreds
//!
//! "A Deferred is Twisted's indication that the returner will fire it at some point in the
//! future." The article's `slowMultiply` returns one at once and fires it three seconds later
//! from a timer. In Fate a Deferred comes with its firing end, [`Fire`], so that both ends are
//! typed:
//!
//! ```
//! use std::time::Duration;
//! use fate::Deferred;
//!
//! fn slow_multiply(x: i64, y: i64) -> Deferred<i64> {
//!     let (d, fire) = Deferred::pending();
//!     fate::call_later(Duration::from_millis(30), move || {
//!         fire.callback(x * y);
//!     });
//!     d
//! }
//!
//! fate::run(|| {
//!     slow_multiply(3, 4)
//!         .add_callback(|product| println!("{product}")) // 12
//!         .add_both(|_| fate::reactor().stop()); // success or failure, the story ends
//! })
//! .unwrap();
//! ```
//!
//! Callbacks form a chain: each gets the previous one's result, and may return a value, a
//! `Result<_, Failure>`, or another Deferred the chain then waits for. A [`Failure`] takes the
//! errback path, where [`add_errback`](Deferred::add_errback) may handle it and recover:
//!
//! ```
//! use fate::{Deferred, Failure};
//!
//! let (d, fire) = Deferred::<i64>::pending();
//! let d = d
//!     .add_callback(|x| -> Result<i64, Failure> { Err(Failure::msg(format!("{x} is wet"))) })
//!     .add_callback(|x| x * 10) // skipped: the chain is on the errback path
//!     .add_errback(|failure| {
//!         println!("the fuse fizzled: {failure}");
//!         0
//!     });
//! fire.callback(3);
//! assert_eq!(d.try_result().ok().and_then(Result::ok), Some(0));
//! ```
//!
//! `examples/mad_hatter.rs` is the article's Twisted version of the story, where the outcome
//! is left to chance. The rest of Twisted's Deferred toolbox — `DeferredList`,
//! `gather_results`, `race`, locks, semaphores, queues, timeouts — is in [`deferred`].
//!
//! # 6. `inlineCallbacks` is `async`/`await`
//!
//! A Deferred is a future: awaiting it gives its `Result<T, Failure>`, and `?` passes a
//! failure on. An `async` function that awaits Deferreds reads top to bottom, as Twisted's
//! `inlineCallbacks` do; [`spawn`] runs it as a task on the same reactor as the callbacks and
//! returns a Deferred of its result, so the two styles mix freely. [`react`] (Twisted's
//! `task.react`) runs the reactor until a Deferred fires and turns it into an exit code:
//!
//! ```
//! use std::process::ExitCode;
//! use std::time::Duration;
//! use fate::{Deferred, Failure};
//!
//! fn slow_multiply(x: i64, y: i64) -> Deferred<i64> {
//!     let (d, fire) = Deferred::pending();
//!     fate::call_later(Duration::from_millis(5), move || {
//!         fire.callback(x * y);
//!     });
//!     d
//! }
//!
//! // Twisted: `twelve = yield slowMultiply(3, 4)` inside an `@inlineCallbacks` function.
//! async fn twenty_four() -> Result<i64, Failure> {
//!     let twelve = slow_multiply(3, 4).await?;
//!     fate::sleep(Duration::from_millis(5)).await;
//!     slow_multiply(twelve, 2).await
//! }
//!
//! let code = fate::react(|_reactor| {
//!     fate::spawn(twenty_four()).add_callback(|n| assert_eq!(n, 24))
//! });
//! assert_eq!(code, ExitCode::SUCCESS);
//! ```
//!
//! # 7. Beyond the article
//!
//! - [`time`]: `LoopingCall`, [`sleep`], [`timeout`], all on an injectable `Timeline`.
//! - [`task`]: `!Send` futures as tasks.
//! - [`net`]: TCP and Unix sockets as Twisted protocols and transports, or as async streams.
//! - [`process`]: child processes with `ProcessProtocol` and `get_process_output`.
//! - [`threads`]: `defer_to_thread` for the blocking work that cannot be avoided.
//! - `http` (feature `http`): the article's `getPage` as `http::client::get_page`, an
//!   `Agent` with keep-alive and redirects, and a static-file web server, on hyper.
//! - `compat` (feature `compat`): tokio-based crates from a Fate loop — a `Send` future on a
//!   tokio runtime beside the reactor, its output as a Deferred; `Compat` for `!Send` ones.
//! - `db` (feature `db`): Twisted's `adbapi` — `ConnectionPool::run_query`,
//!   `run_interaction` — on blocking drivers (SQLite built in), results as Deferreds.
//! - `testing` (feature `testing`): a virtual `Clock`, so that tests of timed code never
//!   sleep:
//!
//! ```
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! let clock = fate::testing::Clock::new();
//! let exploded = Rc::new(Cell::new(false));
//! let boom = exploded.clone();
//! let _fuse = clock.call_later(Duration::from_secs(3), move || boom.set(true));
//! clock.advance(Duration::from_secs(2));
//! assert!(!exploded.get());
//! clock.advance(Duration::from_secs(1));
//! assert!(exploded.get());
//! ```
//!
//! # Features
//!
//! - `net` (default): TCP, UDP and Unix sockets.
//! - `process` (default): child processes.
//! - `http` (default): the HTTP client and server, as `fate::http`.
//! - `compat`: tokio-based crates (reqwest, sqlx, ...) from a Fate loop, as `fate::compat`.
//! - `db`: Twisted's adbapi — a pool of blocking database connections, SQLite built in — as
//!   `fate::db`; `postgres` adds its PostgreSQL driver.
//! - `testing`: the virtual clock, in-memory transports, and `testing::sim` (programs on
//!   simulated hosts and network, replayable from a seed).
//!
//! What Fate leaves out on purpose, and why, is in FEATURES.md.

#[cfg(feature = "compat")]
#[doc(inline)]
pub use fate_compat as compat;
pub use fate_core::*;
#[cfg(feature = "db")]
#[doc(inline)]
pub use fate_db as db;
#[doc(inline)]
pub use fate_deferred as deferred;
pub use fate_deferred::{Deferred, Failure, Fire, Result};
#[cfg(feature = "http")]
#[doc(inline)]
pub use fate_http as http;

/// The README's code, compiled and run as doctests so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
