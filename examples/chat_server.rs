//! The classic multi-user chat: every line a user sends goes to everyone else. Users pick a
//! name first; `/quit` leaves. One `LineReceiver` per connection, and a shared room that
//! holds each user's transport.
//!
//! Run with: `cargo run --example chat_server -- [ENDPOINT]` (default `tcp:8123`), then
//! `nc localhost 8123` (or `telnet localhost 8123`) from a few terminals: `LineReceiver`
//! takes lines ending in `\n` as well as `\r\n`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use fate::net::{self, CloseReason, Transport};
use fate::protocols::{LineHandler, LineReceiver, Lines};

/// Who is in the room: name → transport.
type Room = Rc<RefCell<BTreeMap<String, Transport>>>;

/// One user's session: first a name, then chat lines.
struct Chat {
    room: Room,
    name: Option<String>,
}

impl Chat {
    fn broadcast(&self, from: &str, text: &str) {
        for (name, t) in self.room.borrow().iter() {
            if name != from {
                t.write(format!("<{from}> {text}\r\n").as_bytes());
            }
        }
    }
}

impl LineHandler for Chat {
    fn connection_made(&mut self, lines: &mut Lines) {
        lines.send_line(b"What's your name?");
    }

    fn line_received(&mut self, lines: &mut Lines, line: &[u8]) {
        let text = String::from_utf8_lossy(line).trim().to_string();
        match &self.name {
            None if text.is_empty() || self.room.borrow().contains_key(&text) => {
                lines.send_line(b"Name taken or empty, pick another:");
            }
            None => {
                let others: Vec<String> = self.room.borrow().keys().cloned().collect();
                lines.send_line(format!("Welcome, {text}! Here: {}", others.join(", ")).as_bytes());
                self.room
                    .borrow_mut()
                    .insert(text.clone(), lines.transport().clone());
                self.broadcast(&text, "has joined");
                self.name = Some(text);
            }
            Some(_) if text == "/quit" => lines.lose_connection(),
            Some(name) => self.broadcast(name, &text),
        }
    }

    fn connection_lost(&mut self, _: &mut Lines, _: CloseReason) {
        if let Some(name) = self.name.take() {
            self.room.borrow_mut().remove(&name);
            self.broadcast(&name, "has left");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let description = std::env::args().nth(1).unwrap_or_else(|| "tcp:8123".into());
    let endpoint = net::server_from_str(&description)?;
    let room = Room::default();
    fate::run(move || {
        let factory = net::for_protocol(move || {
            LineReceiver::new(Chat {
                room: room.clone(),
                name: None,
            })
        });
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
