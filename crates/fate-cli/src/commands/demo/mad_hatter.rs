//! Scenario: the article's Twisted MadHatter. The fuse's length, how long the hatter dawdles
//! and whether the firecracker is a dud are left to chance (`--seed N` repeats a draw); the
//! explosion is the fuse Deferred's callback, the dud its errback, and `add_both` stops the
//! reactor whatever happened.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use fate::{Deferred, Failure};

use super::Narrator;

/// Why a lit firecracker did not explode.
#[derive(Debug)]
struct Dud;

impl fmt::Display for Dud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the firecracker was a dud")
    }
}

impl Error for Dud {}

/// What chance decided, in story seconds, drawn up front so one seed always tells one story.
#[derive(Debug, Clone, Copy)]
struct Fortune {
    fuse: f64,
    hatter_holds_it: f64,
    dud: bool,
}

impl Fortune {
    /// Draws with SplitMix64 (a few lines; the demo needs no statistical quality).
    fn draw(seed: u64) -> Fortune {
        let mut state = seed;
        let mut unit = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
        Fortune {
            fuse: 1.0 + 3.0 * unit(),
            hatter_holds_it: 0.5 + 3.0 * unit(),
            dud: unit() < 1.0 / 6.0,
        }
    }

    /// How the story must end.
    fn ending(&self) -> &'static str {
        if self.dud {
            "fzzt... the firecracker was a dud; nobody is hurt"
        } else if self.fuse < self.hatter_holds_it {
            "BOOM! It exploded in the hands of the MadHatter"
        } else {
            "BOOM! It exploded in the hands of Alice"
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

/// Runs the scenario; fails if the story does not end as the draw says it must.
pub(crate) fn run(say: &Narrator) -> Result<(), Box<dyn Error>> {
    let fortune = Fortune::draw(say.seed());
    say.line(&format!(
        "  seed {} (`fate demo --seed {}` tells the same story)",
        say.seed(),
        say.seed()
    ));
    let ending = Rc::new(RefCell::new(None));
    let (narrator, out) = (say.clone(), ending.clone());
    fate::run(move || {
        let say = narrator;
        let holder = Rc::new(Cell::new("the MadHatter"));
        say.say("the MadHatter lights a firecracker, grinning");
        let burnt_out = light_fuse(say.secs(fortune.fuse), fortune.dud);

        let (hands, voice) = (holder.clone(), say.clone());
        let hand_over = fate::call_later(say.secs(fortune.hatter_holds_it), move || {
            hands.set("Alice");
            voice.say("the MadHatter thrusts the firecracker into Alice's hands");
        });

        let _story = burnt_out
            .add_callback(move |()| format!("BOOM! It exploded in the hands of {}", holder.get()))
            .add_errback(|failure: Failure| -> Result<String, Failure> {
                let dud = failure.trap::<Dud>()?;
                Ok(format!("fzzt... {dud}; nobody is hurt"))
            })
            .add_both(move |outcome: Result<String, Failure>| {
                // Whatever happened, it is too late to hand anything over now.
                hand_over.cancel().ok();
                let story = outcome.unwrap_or_else(|f| format!("something unforeseen: {f}"));
                say.say(&story);
                *out.borrow_mut() = Some(story);
            })
            // Last and on its own, so that even a panic above still stops the reactor.
            .add_both(|_: Result<(), Failure>| fate::reactor().stop());
    })?;
    let ending = ending.borrow_mut().take();
    match ending {
        Some(end) if end == fortune.ending() => Ok(()),
        other => Err(format!("the draw {fortune:?} ended as {other:?}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seed whose draw ends with `ending`.
    fn seed_for(ending: &str) -> u64 {
        (0..1000)
            .find(|&s| Fortune::draw(s).ending() == ending)
            .unwrap_or_else(|| panic!("no seed below 1000 ends with {ending:?}"))
    }

    #[test]
    fn each_ending_happens_for_some_seed_and_on_the_reactor_as_drawn() {
        for ending in [
            "BOOM! It exploded in the hands of Alice",
            "BOOM! It exploded in the hands of the MadHatter",
            "fzzt... the firecracker was a dud; nobody is hurt",
        ] {
            let seed = seed_for(ending);
            let say = Narrator::recording(0.01, seed);
            run(&say).unwrap();
            let transcript = say.transcript();
            assert!(
                transcript.last().unwrap().ends_with(ending),
                "{transcript:#?}"
            );
            let handed = transcript.iter().any(|l| l.contains("into Alice's hands"));
            let fortune = Fortune::draw(seed);
            assert_eq!(
                handed,
                fortune.hatter_holds_it < fortune.fuse,
                "{transcript:#?}"
            );
        }
    }

    #[test]
    fn a_seed_always_draws_the_same_fortune_within_the_ranges() {
        for seed in 0..100 {
            let (a, b) = (Fortune::draw(seed), Fortune::draw(seed));
            assert_eq!(
                (a.fuse, a.hatter_holds_it, a.dud),
                (b.fuse, b.hatter_holds_it, b.dud)
            );
            assert!((1.0..4.0).contains(&a.fuse));
            assert!((0.5..3.5).contains(&a.hatter_holds_it));
        }
    }
}
