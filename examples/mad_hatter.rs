//! The article's Twisted version of the MadHatter story, with Deferreds and a random outcome.
//!
//! The MadHatter lights a firecracker and means to hand it to Alice, but how long the fuse
//! burns and how long he dawdles are left to chance: it may explode in Alice's hands, in the
//! hatter's own hands, or fizzle out as a dud. Lighting the fuse returns a Deferred; the
//! explosion is its callback, the dud its errback, and a last `add_both` stops the reactor
//! whatever happened.
//!
//! Run with: `cargo run --example mad_hatter` (`-- --seed N` repeats an outcome; `-- --fast`
//! shortens every wait tenfold).

use std::cell::Cell;
use std::error::Error;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fate::{Deferred, Failure};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Why a lit firecracker did not explode.
#[derive(Debug)]
struct Dud;

impl fmt::Display for Dud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the firecracker was a dud")
    }
}

impl Error for Dud {}

/// What chance decided, up front, so that one seed always tells the same story.
struct Fortune {
    fuse: Duration,
    hatter_holds_it: Duration,
    dud: bool,
}

impl Fortune {
    fn draw(seed: u64, scale: f64) -> Fortune {
        let mut rng = SmallRng::seed_from_u64(seed);
        let secs = |s: f64| Duration::from_secs_f64(s * scale);
        Fortune {
            fuse: secs(rng.random_range(1.0..4.0)),
            hatter_holds_it: secs(rng.random_range(0.5..3.5)),
            dud: rng.random_bool(1.0 / 6.0),
        }
    }
}

/// Lights a fuse of `length`: the Deferred fires when it burns out, or fails with [`Dud`].
fn light_fuse(length: Duration, dud: bool) -> Deferred<()> {
    let (burnt_out, fire) = Deferred::pending();
    let _fuse = fate::call_later(length, move || {
        if dud {
            fire.errback(Dud);
        } else {
            fire.callback(());
        }
    });
    burnt_out
}

/// Prints `what` with the seconds since the reactor started.
fn say(what: &str) {
    println!("[{:5.2} s] {what}", fate::reactor().seconds());
}

fn main() -> Result<(), Box<dyn Error>> {
    let (seed, scale) = parse_args().unwrap_or_else(|e| {
        eprintln!("mad_hatter: {e} (usage: mad_hatter [--seed N] [--fast])");
        std::process::exit(2)
    });
    let fortune = Fortune::draw(seed, scale);
    println!("seed {seed} (run again with `-- --seed {seed}` for the same story)");
    fate::run(move || {
        let holder = Rc::new(Cell::new("the MadHatter"));
        let burnt_out = light_fuse(fortune.fuse, fortune.dud);

        let hands = holder.clone();
        let hand_over = fate::call_later(fortune.hatter_holds_it, move || {
            hands.set("Alice");
            say("the MadHatter thrusts the firecracker into Alice's hands");
        });

        burnt_out
            .add_callback(move |()| format!("BOOM! It exploded in the hands of {}", holder.get()))
            .add_errback(|failure: Failure| -> Result<String, Failure> {
                let dud = failure.trap::<Dud>()?;
                Ok(format!("fzzt... {dud}; nobody is hurt"))
            })
            .add_both(move |outcome: Result<String, Failure>| {
                // Whatever happened, it is too late to hand anything over now.
                hand_over.cancel().ok();
                match outcome {
                    Ok(story) => say(&story),
                    Err(failure) => say(&format!("something unforeseen: {failure}")),
                }
            })
            // Last and on its own, so that even a panic above still stops the reactor.
            .add_both(|_: Result<(), Failure>| fate::reactor().stop());
        // Said once the story is wired up: if saying it fails, the reactor still stops.
        say("the MadHatter lights a firecracker, grinning");
    })?;
    Ok(())
}

/// `--seed N` (default: from the clock) and `--fast` (a tenth of every wait).
fn parse_args() -> Result<(u64, f64), Box<dyn Error>> {
    let mut seed = None;
    let mut scale = 1.0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--fast" => scale = 0.1,
            "--seed" => {
                let n = args.next().ok_or("--seed needs a number")?;
                seed = Some(n.parse().map_err(|e| format!("--seed {n:?}: {e}"))?);
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let from_clock = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            // Short enough to type back after `--seed`.
            .map(|d| (d.as_nanos() % 10_000) as u64)
    };
    Ok((seed.map_or_else(from_clock, Ok)?, scale))
}
