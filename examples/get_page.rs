//! The article's `getPage`: download pages as Deferreds while the reactor keeps doing other
//! work. Each page is read a chunk at a time as it arrives; a ticking timer shows the loop
//! is never blocked. Without URLs, an embedded server on 127.0.0.1 serves a page to fetch.
//!
//! Run with: `cargo run --example get_page -- [URL...]`

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use fate::http::server::{from_fn, Request, Response, Site};
use fate::{Deferred, Failure};

/// Prints a tick every 100 ms until `pending` downloads are done.
fn tick(pending: Rc<Cell<usize>>, n: u32) {
    if pending.get() == 0 {
        return;
    }
    println!(
        "[{:5.2} s] tick {n}: the loop is free",
        fate::reactor().seconds()
    );
    fate::call_later(Duration::from_millis(100), move || tick(pending, n + 1));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let urls: Vec<String> = std::env::args().skip(1).collect();
    fate::run(move || {
        let urls = if urls.is_empty() {
            // A page of 64 KiB from an embedded server, so the example runs offline.
            let site = Site::new(from_fn(|_: Request| {
                Response::new(vec![b'x'; 65536].into())
            }));
            let listening = site.listen("127.0.0.1:0".parse().unwrap()).unwrap();
            vec![format!("http://{}/page", listening.local_addr())]
        } else {
            urls
        };
        let pending = Rc::new(Cell::new(urls.len()));
        for url in urls {
            let left = pending.clone();
            let page: Deferred<_> = fate::http::client::get_page(&url);
            page.add_both(move |r: Result<fate::http::Bytes, Failure>| {
                match r {
                    Ok(body) => println!("{url}: {} bytes", body.len()),
                    Err(failure) => eprintln!("{url}: {failure}"),
                }
                left.set(left.get() - 1);
                if left.get() == 0 {
                    fate::reactor().stop();
                }
            });
        }
        tick(pending, 1);
    })?;
    Ok(())
}
