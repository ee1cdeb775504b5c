//! `fate demo`: the article's scenarios, one after another, narrated with timestamps.
//!
//! Each scenario lives in its own module under `demo/` and exposes
//! `run(&Narrator) -> Result<(), Box<dyn Error>>`; it builds its own reactor (real time, real
//! sleeps), narrates what happens through the [`Narrator`], and returns once its reactor has
//! finished. [`SCENARIOS`] lists them in the article's order: to add one, write its module and
//! add a line there.

mod chain_of_fuses;
mod external_command;
mod firecracker;
mod get_page;
mod mad_hatter;
mod narrator;
mod slow_multiply;

use std::error::Error;
use std::process::ExitCode;
use std::time::Instant;

pub(crate) use narrator::Narrator;

/// Options of `fate demo`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Shorten fuse times tenfold, for the impatient.
    #[arg(long)]
    fast: bool,

    /// Seed the MadHatter's random turns, to tell the same story again (default: the clock).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

/// One scenario of the demo.
pub(crate) struct Scenario {
    /// The heading printed before it runs.
    pub(crate) title: &'static str,
    /// One sentence on what it shows.
    pub(crate) summary: &'static str,
    /// Runs it to the end on a reactor of its own.
    pub(crate) run: fn(&Narrator) -> Result<(), Box<dyn Error>>,
}

/// The scenarios, in the article's order.
pub(crate) const SCENARIOS: &[Scenario] = &[
    Scenario {
        title: "Fate: the MadHatter and the FireCracker",
        summary: "The article's event manager: a lit Fuse burns while the reactor runs the \
                  hand-over, then its handler makes the firecracker explode.",
        run: firecracker::run,
    },
    Scenario {
        title: "Fate: a chain of fuses",
        summary: "Each fuse's handler lights the next; two chains burn at once on one thread \
                  and the loop ends by itself when the last is out.",
        run: chain_of_fuses::run,
    },
    Scenario {
        title: "Twisted: slow_multiply",
        summary: "A function returns a Deferred at once and fires it from call_later; two run \
                  side by side, so both products arrive after the longer wait, not the sum.",
        run: slow_multiply::run,
    },
    Scenario {
        title: "Twisted: the MadHatter, left to chance",
        summary: "The fuse Deferred's callback is the explosion, its errback a dud; where it \
                  explodes depends on a random draw.",
        run: mad_hatter::run,
    },
    Scenario {
        title: "Executing external commands",
        summary: "A slow shell pipeline runs as a child process while the loop keeps ticking; \
                  its output and exit status arrive as a Deferred, and a missing program is \
                  a typed error.",
        run: external_command::run,
    },
    Scenario {
        title: "Twisted: getPage",
        summary: "An embedded web server sends a page in slow pieces; get_page downloads it \
                  a chunk at a time while a fuse keeps burning on time on the same thread.",
        run: get_page::run,
    },
];

pub(crate) fn main(args: Args) -> ExitCode {
    let seed = args.seed.unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        // Short enough to type back after `--seed`.
        now.map_or(0, |d| (d.as_nanos() % 10_000) as u64)
    });
    let narrator = Narrator::stdout(if args.fast { 0.1 } else { 1.0 }, seed);
    match run_all(&narrator, SCENARIOS) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fate demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `scenarios` in order, each under a numbered heading; stops at the first that fails.
fn run_all(narrator: &Narrator, scenarios: &[Scenario]) -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    for (i, scenario) in scenarios.iter().enumerate() {
        narrator.heading(i + 1, scenarios.len(), scenario.title, scenario.summary);
        (scenario.run)(narrator)
            .map_err(|e| format!("scenario {:?} failed: {e}", scenario.title))?;
    }
    narrator.line(&format!(
        "\nAll {} scenarios done in {:.2} s.",
        scenarios.len(),
        start.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_runs_under_its_heading_and_in_order() {
        let narrator = Narrator::recording(0.01, 0);
        run_all(&narrator, SCENARIOS).unwrap();
        let transcript = narrator.transcript();
        let mut at = 0;
        for (i, scenario) in SCENARIOS.iter().enumerate() {
            let heading = format!("{}/{}. {}", i + 1, SCENARIOS.len(), scenario.title);
            let found = transcript[at..].iter().position(|l| l.contains(&heading));
            at += found.unwrap_or_else(|| panic!("no heading {heading:?} in {transcript:#?}"));
        }
        let done = format!("All {} scenarios done", SCENARIOS.len());
        assert!(transcript.last().unwrap().contains(&done));
    }

    #[test]
    fn a_failing_scenario_stops_the_demo_with_its_title() {
        fn boom(_: &Narrator) -> Result<(), Box<dyn Error>> {
            Err("the fuse was wet".into())
        }
        fn never(_: &Narrator) -> Result<(), Box<dyn Error>> {
            unreachable!("runs after a failed scenario")
        }
        let scenarios = [
            Scenario {
                title: "wet",
                summary: "fails",
                run: boom,
            },
            Scenario {
                title: "after",
                summary: "must not run",
                run: never,
            },
        ];
        let err = run_all(&Narrator::recording(0.01, 0), &scenarios).unwrap_err();
        assert_eq!(err.to_string(), "scenario \"wet\" failed: the fuse was wet");
    }
}
