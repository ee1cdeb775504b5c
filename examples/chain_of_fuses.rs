//! The article's chain of fuses: each fuse's handler lights the next one, and the last one
//! sets off the bang. Two chains burn at once on the one thread; their events interleave in
//! time order, and the program ends by itself when the last fuse has burnt out.
//!
//! Run with: `cargo run --example chain_of_fuses` (add `-- --fast` for tenfold shorter fuses).

use std::error::Error;
use std::time::Duration;

/// A fuse in a chain: it burns for its length, then lights the next fuse of the chain.
struct ChainedFuse {
    chain: &'static str,
    /// Position in the chain, from 1.
    index: usize,
    length: Duration,
    /// The fuse this one lights when it burns out; `None` for the one that sets off the bang.
    next: Option<Box<ChainedFuse>>,
}

impl ChainedFuse {
    /// Builds a chain from fuse lengths and returns its first fuse.
    fn chain(name: &'static str, lengths: &[Duration]) -> Option<ChainedFuse> {
        lengths
            .iter()
            .enumerate()
            .rev()
            .fold(None, |next, (i, &length)| {
                Some(ChainedFuse {
                    chain: name,
                    index: i + 1,
                    length,
                    next: next.map(Box::new),
                })
            })
    }

    /// Lights this fuse; its handler lights the next one, or sets off the bang.
    fn light(self) {
        say(&format!(
            "{} fuse {} is lit ({:.2} s)",
            self.chain,
            self.index,
            self.length.as_secs_f64()
        ));
        fate::call_later(self.length, move || {
            say(&format!("{} fuse {} burnt out", self.chain, self.index));
            match self.next {
                Some(next) => next.light(),
                None => say(&format!("BOOM! The {} chain went off", self.chain)),
            }
        });
    }
}

/// Prints `what` with the seconds since the reactor started.
fn say(what: &str) {
    println!("[{:5.2} s] {what}", fate::reactor().seconds());
}

fn main() -> Result<(), Box<dyn Error>> {
    let scale = if std::env::args().any(|a| a == "--fast") {
        0.1
    } else {
        1.0
    };
    let secs = |s: &[f64]| -> Vec<Duration> {
        s.iter()
            .map(|s| Duration::from_secs_f64(s * scale))
            .collect()
    };
    let red = ChainedFuse::chain("red", &secs(&[1.0, 0.5, 1.0]));
    let blue = ChainedFuse::chain("blue", &secs(&[0.8, 0.6, 0.8, 0.5]));
    fate::run_until_idle(move || {
        red.into_iter().chain(blue).for_each(ChainedFuse::light);
    })?;
    println!("Every fuse has burnt out: Fate's loop is idle and the program ends.");
    Ok(())
}
