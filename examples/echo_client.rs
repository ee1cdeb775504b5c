//! An echo client: connects through an endpoint string, sends each argument as a line,
//! prints what comes back, and closes once everything was echoed. The connection attempt is
//! a Deferred; a refused connection or an unknown host errbacks with a message naming it.
//!
//! Run with: `cargo run --example echo_client -- tcp:host=localhost:port=8000 hello world`
//! (start `cargo run --example echo_server` first).

use fate::net::{self, CloseReason, Protocol, Transport};

/// Sends the lines, waits for their echo (after the server's greeting line), then closes.
struct Client {
    lines: Vec<String>,
    expected: usize,
    received: Vec<u8>,
    transport: Option<Transport>,
}

impl Protocol for Client {
    fn connection_made(&mut self, transport: Transport) {
        for line in &self.lines {
            transport.write_sequence(&[line.as_bytes(), b"\r\n"]);
        }
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.received.extend_from_slice(data);
        let lines = self.received.split(|&b| b == b'\n').count() - 1;
        if lines >= self.expected {
            print!("{}", String::from_utf8_lossy(&self.received));
            self.transport.as_ref().unwrap().lose_connection();
        }
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        println!("-- {reason}");
        fate::reactor().stop();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let description = args
        .next()
        .unwrap_or_else(|| "tcp:host=localhost:port=8000".into());
    let mut lines: Vec<String> = args.collect();
    if lines.is_empty() {
        lines.push("hello, echo".into());
    }
    let endpoint = net::client_from_str(&description)?;
    fate::run(move || {
        let expected = lines.len() + 1; // the server's greeting, then our lines
        let make = move || Client {
            lines: lines.clone(),
            expected,
            received: Vec::new(),
            transport: None,
        };
        endpoint
            .connect(net::for_protocol(make))
            .add_callback(|t| println!("-- connected to {}", t.peer()))
            .add_errback(|failure| {
                eprintln!("-- {failure}");
                fate::reactor().stop();
            });
    })?;
    Ok(())
}
