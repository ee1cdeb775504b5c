//! An echo server in Twisted's shape: a `Protocol` per connection, built by a factory,
//! listening on an endpoint string. Try it with `nc localhost 8000`.
//!
//! Run with: `cargo run --example echo_server -- [ENDPOINT]` (default `tcp:8000`).

use fate::net;

#[path = "protocols/echo.rs"]
mod echo;

use echo::Echo;

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
