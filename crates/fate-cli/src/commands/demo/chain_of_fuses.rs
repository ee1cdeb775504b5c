//! Scenario: the article's chain of fuses. Each fuse's handler lights the next; two chains
//! burn at once, their events interleaving in time order, and the loop ends by itself.

use std::cell::Cell;
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

use super::Narrator;

/// A fuse in a chain: it burns for its length, then lights the next fuse.
struct ChainedFuse {
    chain: &'static str,
    /// Position in the chain, from 1.
    index: usize,
    length: Duration,
    /// The fuse this one lights; `None` for the one that sets off the bang.
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

    /// Lights this fuse; its handler lights the next one, or counts a bang.
    fn light(self, say: Narrator, bangs: Rc<Cell<usize>>) {
        say.say(&format!(
            "{} fuse {} is lit ({:.2} s)",
            self.chain,
            self.index,
            self.length.as_secs_f64()
        ));
        let _burning = fate::call_later(self.length, move || {
            say.say(&format!("{} fuse {} burnt out", self.chain, self.index));
            match self.next {
                Some(next) => next.light(say, bangs),
                None => {
                    bangs.set(bangs.get() + 1);
                    say.say(&format!("BOOM! The {} chain went off", self.chain));
                }
            }
        });
    }
}

/// Runs the scenario; fails unless both chains went off.
pub(crate) fn run(say: &Narrator) -> Result<(), Box<dyn Error>> {
    let lengths = |s: &[f64]| -> Vec<Duration> { s.iter().map(|&s| say.secs(s)).collect() };
    let chains: Vec<ChainedFuse> = [
        ChainedFuse::chain("red", &lengths(&[1.0, 0.5, 1.0])),
        ChainedFuse::chain("blue", &lengths(&[0.8, 0.6, 0.8, 0.5])),
    ]
    .into_iter()
    .flatten()
    .collect();
    let bangs = Rc::new(Cell::new(0));
    let (narrator, counted) = (say.clone(), bangs.clone());
    fate::run_until_idle(move || {
        for first in chains {
            first.light(narrator.clone(), counted.clone());
        }
    })?;
    say.say("every fuse is out: the loop is idle and returns by itself");
    match bangs.get() {
        2 => Ok(()),
        n => Err(format!("{n} of 2 chains went off").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The transcript's events, without timestamps and fuse lengths.
    fn events(say: &Narrator) -> Vec<String> {
        say.transcript()
            .iter()
            .map(|l| l.split("] ").last().unwrap_or(l).trim())
            .map(|l| l.split(" (").next().unwrap_or(l).to_owned())
            .collect()
    }

    #[test]
    fn each_fuse_lights_the_next_and_the_last_one_goes_off() {
        let say = Narrator::recording(0.02, 0);
        run(&say).unwrap();
        let events = events(&say);
        for (chain, fuses) in [("red", 3), ("blue", 4)] {
            let mut expected = Vec::new();
            for i in 1..=fuses {
                expected.push(format!("{chain} fuse {i} is lit"));
                expected.push(format!("{chain} fuse {i} burnt out"));
            }
            expected.push(format!("BOOM! The {chain} chain went off"));
            let seen: Vec<&String> = events.iter().filter(|e| e.contains(chain)).collect();
            assert_eq!(seen, expected.iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_two_chains_burn_at_once_in_time_order() {
        let say = Narrator::recording(0.02, 0);
        run(&say).unwrap();
        let events = events(&say);
        let at = |e: &str| events.iter().position(|x| x == e).unwrap();
        // Blue fuse 1 (0.8) burns out before red fuse 1 (1.0), though red was lit first.
        assert!(at("red fuse 1 is lit") < at("blue fuse 1 is lit"));
        assert!(at("blue fuse 1 burnt out") < at("red fuse 1 burnt out"));
        // Red's bang is due at 2.5 story-seconds, blue's at 2.7.
        assert!(at("BOOM! The red chain went off") < at("BOOM! The blue chain went off"));
        assert_eq!(
            events.last().map(String::as_str),
            Some("every fuse is out: the loop is idle and returns by itself")
        );
    }
}
