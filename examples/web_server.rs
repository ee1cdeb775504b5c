//! A small web site on Fate: static files with ranges and listings under `/files/`, a page
//! rendered at once, one answered later by an async block, and one by a Deferred fired from
//! `call_later` — Twisted's `Site` and `Resource` tree. Ctrl-C shuts it down gracefully.
//!
//! Run with: `cargo run --example web_server -- [DIR]` then open http://127.0.0.1:8080/

use std::time::Duration;

use fate::http::server::{from_fn, File, Reply, Request, Response, Site, Tree};
use fate::reactor::{Phase, SystemEvent};
use fate::Deferred;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".into());
    fate::run(move || {
        let root = Tree::new()
            .index(from_fn(|_: Request| {
                Response::new("Try /files/, /later and /deferred\n".into())
            }))
            .put_child("files", File::new(&dir))
            .put_child(
                "later",
                from_fn(|_: Request| {
                    Reply::future(async {
                        fate::sleep(Duration::from_millis(500)).await;
                        Response::new("rendered after half a second\n".into())
                    })
                }),
            )
            .put_child(
                "deferred",
                from_fn(|_: Request| {
                    let (d, fire) = Deferred::<Response>::pending();
                    fate::call_later(Duration::from_millis(300), move || {
                        fire.callback(Response::new("fired by call_later\n".into()));
                    });
                    d
                }),
            );
        let listening = Site::new(root)
            .listen("127.0.0.1:8080".parse().unwrap())
            .expect("port 8080 is free");
        println!("serving on http://{}/", listening.local_addr());
        fate::reactor().add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
            println!("shutting down: finishing requests in flight");
            listening.shutdown()
        });
    })?;
    Ok(())
}
