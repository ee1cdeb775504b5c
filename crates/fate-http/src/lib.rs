//! HTTP for Fate: a client ([`client::Agent`], [`client::get_page`]) and a server
//! ([`server::Site`] with [`server::Resource`]s and static [`server::File`]s), on hyper 1.x's
//! connection API over fate-core transports, all on the reactor's one thread.
//!
//! The article's `getPage` "downloads small chunks of the page at a time, allowing other
//! events to be handled during downloading": here it is, returning a Deferred.
//!
//! ```no_run
//! fate::run(|| {
//!     fate::http::client::get_page("http://127.0.0.1:8080/").add_both(|page| {
//!         match page {
//!             Ok(body) => println!("{} bytes", body.len()),
//!             Err(failure) => eprintln!("{failure}"),
//!         }
//!         fate::reactor().stop();
//!     });
//! })
//! .unwrap();
//! ```
//!
//! - [`client`]: [`Agent`](client::Agent) keeps connections alive per host, speaks HTTP/2
//!   over TLS when the server offers it (ALPN), follows redirects, decodes `gzip`, `deflate`
//!   and `br`, and bounds connecting, waiting and stalling with timeouts; a
//!   [`Response`](client::Response) streams its body with [`Progress`](client::Progress).
//! - [`server`]: a [`Site`](server::Site) routes each request down a tree of resources
//!   whose replies are responses, futures or Deferreds; [`File`](server::File) serves a
//!   directory with ranges, conditional requests, MIME types and listings, and never a
//!   path outside its root, a dotfile (unless asked) or anything but a regular file or
//!   directory; its file system calls and reads run on the thread pool. Request limits,
//!   head and send timeouts, idle keep-alive connections parked without hyper's buffers, an
//!   access log (`tracing` target `fate_http::access`) and graceful shutdown.
//! - [`Body`]: request and response bodies — bytes, a file, or a stream fed by a task.
//! - [`Error`]: one error type; ask it `is_timeout()`, `is_connect()`, `is_status()`...
//!
//! # How it sits on the reactor
//!
//! hyper runs its connections as reactor tasks (its executor is `spawn_local`; nothing here
//! is `Send`), its timeouts on the reactor's timer wheel, and its I/O through a fate-core
//! transport whose protocol feeds an inbox (so flow control is the transport's: a slow peer
//! pauses reading or writing, never memory). TLS is rustls with the `ring` provider.
//!
//! # Features
//!
//! - `webpki-roots`: trust Mozilla's root certificates (compiled in) as well as the
//!   system's, for machines without a certificate store.
#![forbid(unsafe_code)]

mod body;
pub mod client;
mod error;
mod io;
mod rt;
pub mod server;
mod stream;

pub use body::{Body, BodySender, Send};
pub use bytes::Bytes;
pub use error::Error;
