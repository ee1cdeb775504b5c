//! An echo server in Twisted's shape: a `Protocol` per connection, built by a factory,
//! listening on an endpoint string. Try it with `nc localhost 8000`.
//!
//! Run with: `cargo run --example echo_server -- [ENDPOINT]` (default `tcp:8000`).

use fate::net::{self, CloseReason, Protocol, Transport};

/// Writes back what it reads, and says hello and goodbye.
#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        println!("{} connected", transport.peer());
        transport.write(b"hello, I echo\r\n");
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.transport.as_ref().unwrap().write(data);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        let peer = self.transport.as_ref().map(|t| t.peer());
        println!("{} went away: {reason}", peer.unwrap());
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let description = std::env::args().nth(1).unwrap_or_else(|| "tcp:8000".into());
    let endpoint = net::server_from_str(&description)?;
    fate::run(move || {
        endpoint
            .listen(net::for_protocol(Echo::default))
            .add_callback(|port| println!("listening on {}; Ctrl-C stops", port.host()))
            .add_errback(|failure| {
                eprintln!("cannot listen: {failure}");
                fate::reactor().stop();
            });
    })?;
    Ok(())
}
