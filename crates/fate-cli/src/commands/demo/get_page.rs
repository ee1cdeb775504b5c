//! Scenario: the article's `getPage`. An embedded local web server sends a page in slow
//! pieces; `get_page` downloads it a chunk at a time while a fuse keeps burning on time on
//! the same thread, and the page arrives as a Deferred.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::rc::Rc;
use std::time::{Duration, Instant};

use fate::http::server::{from_fn, Request, Response, Site};
use fate::http::Body;
use fate::Failure;

use super::Narrator;

/// Pieces the server sends, and bytes in each.
const PIECES: usize = 8;
const PIECE_LEN: usize = 4096;
/// The fuse's ticks: it burns out well before the last piece (6 × 0.2 s against 8 × 0.25 s),
/// so the story reads the same every time.
const TICKS: u32 = 6;
/// The lateness beyond which the loop would have been blocked.
const PUNCTUAL: Duration = Duration::from_millis(100);

/// The fuse: narrates each tick and records how late it was.
fn burn(say: Narrator, period: Duration, due: Instant, n: u32, worst: Rc<Cell<Duration>>) {
    let late = Instant::now().saturating_duration_since(due);
    worst.set(worst.get().max(late));
    if n == TICKS {
        say.say(&format!("the fuse burns out after {TICKS} ticks"));
        return;
    }
    say.say(&format!("the fuse burns on: tick {n}"));
    let next = due + period;
    let _ = fate::call_later(next.saturating_duration_since(Instant::now()), move || {
        burn(say, period, next, n + 1, worst)
    });
}

/// Runs the scenario; fails unless the whole page arrived while the fuse ticked on time.
pub(crate) fn run(say: &Narrator) -> Result<(), Box<dyn Error>> {
    let page: Rc<RefCell<Option<Result<usize, String>>>> = Rc::default();
    let worst = Rc::new(Cell::new(Duration::ZERO));
    let (narrator, out, fuse) = (say.clone(), page.clone(), worst.clone());
    let (piece_gap, period) = (say.secs(0.25), say.secs(0.2));
    fate::run(move || {
        let site = Site::new(from_fn(move |_: Request| {
            let (tx, body) = Body::channel();
            fate::spawn_local(async move {
                for i in 0..PIECES {
                    fate::sleep(piece_gap).await;
                    let piece = vec![b'a' + i as u8; PIECE_LEN];
                    if tx.send(piece.into()).await.is_err() {
                        return;
                    }
                }
            })
            .detach();
            Response::new(body)
        }));
        let listening = match site.listen("127.0.0.1:0".parse().expect("an address")) {
            Ok(l) => l,
            Err(e) => {
                *out.borrow_mut() = Some(Err(e.to_string()));
                fate::reactor().stop();
                return;
            }
        };
        let url = format!("http://{}/article", listening.local_addr());
        narrator.say("an embedded server sends /article in 8 slow pieces; get_page(url)");
        let say = narrator.clone();
        fate::http::client::get_page(&url).add_both(move |r: Result<_, Failure>| {
            match &r {
                Ok(bytes) => say.say(&format!("the page arrived: {} bytes", bytes.len())),
                Err(f) => say.say(&format!("get_page failed: {f}")),
            }
            *out.borrow_mut() = Some(r.map(|b| b.len()).map_err(|f| f.to_string()));
            listening
                .shutdown()
                .add_both(|_: Result<(), Failure>| fate::reactor().stop());
        });
        burn(narrator.clone(), period, Instant::now() + period, 1, fuse);
    })?;
    let worst = worst.get();
    let page = page.borrow_mut().take();
    match page {
        Some(Ok(n)) if n == PIECES * PIECE_LEN && worst < PUNCTUAL => {
            say.say(&format!(
                "every tick came within {} ms of its time while the page downloaded",
                PUNCTUAL.as_millis()
            ));
            Ok(())
        }
        other => Err(format!(
            "expected {} bytes with a punctual fuse, got {other:?} (worst lateness {worst:?})",
            PIECES * PIECE_LEN
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuse_burns_while_the_page_downloads() {
        let say = Narrator::recording(0.1, 0);
        run(&say).unwrap();
        let at = |needle: &str| say.line_of(needle);
        assert!(at("get_page(url)") < at("tick 1"));
        assert!(at("tick 5") < at("burns out after 6 ticks"));
        assert!(at("burns out") < at("the page arrived: 32768 bytes"));
        at("every tick came within 100 ms");
    }
}
