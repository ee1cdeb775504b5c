//! The classic multi-user chat: every line a user sends goes to everyone else. Users pick a
//! name first; `/quit` leaves. One `LineReceiver` per connection, and a shared room that
//! holds each user's transport.
//!
//! Run with: `cargo run --example chat_server -- [ENDPOINT]` (default `tcp:8123`), then
//! `nc localhost 8123` (or `telnet localhost 8123`) from a few terminals: `LineReceiver`
//! takes lines ending in `\n` as well as `\r\n`.

use fate::net;
use fate::protocols::LineReceiver;

#[path = "protocols/chat.rs"]
mod chat;

use chat::{Chat, Room};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let description = std::env::args().nth(1).unwrap_or_else(|| "tcp:8123".into());
    let endpoint = net::server_from_str(&description)?;
    let room = Room::default();
    fate::run(move || {
        let factory = net::for_protocol(move || LineReceiver::new(Chat::new(room.clone())));
        endpoint
            .listen(factory)
            .add_callback(|port| println!("chat on {}; Ctrl-C stops", port.host()))
            .add_errback(|failure| {
                eprintln!("cannot listen: {failure}");
                fate::reactor().stop();
            });
    })?;
    Ok(())
}
