//! An echo client: connects through an endpoint string, sends each argument as a line,
//! prints what comes back, and closes once everything was echoed. The connection attempt is
//! a Deferred; a refused connection or an unknown host errbacks with a message naming it.
//!
//! Run with: `cargo run --example echo_client -- tcp:host=localhost:port=8000 hello world`
//! (start `cargo run --example echo_server` first).

use fate::net;

#[path = "protocols/echo_client.rs"]
mod echo_client;

use echo_client::EchoClient;

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
        let make = move || {
            EchoClient::new(
                lines.clone(),
                |received| print!("{}", String::from_utf8_lossy(received)),
                |reason| {
                    println!("-- {reason}");
                    fate::reactor().stop();
                },
            )
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
