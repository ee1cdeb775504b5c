//! The chat protocol of `chat_server`, in a module of its own so that a test can run it
//! unchanged (`tests/simulation.rs` runs it on a simulated network).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use fate::net::{CloseReason, Transport};
use fate::protocols::{LineHandler, Lines};

/// Who is in the room: name → transport.
pub(crate) type Room = Rc<RefCell<BTreeMap<String, Transport>>>;

/// One user's session: first a name, then chat lines.
pub(crate) struct Chat {
    room: Room,
    name: Option<String>,
}

impl Chat {
    /// A session in `room`, before the user has picked a name.
    pub(crate) fn new(room: Room) -> Chat {
        Chat { room, name: None }
    }

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
