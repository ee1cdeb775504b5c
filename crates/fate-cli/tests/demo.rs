//! End to end: `fate demo --fast` runs every scenario, narrates it, and exits 0 by itself.

use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn fast_demo_narrates_each_scenario_and_exits_zero() {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_fate"))
        .args(["demo", "--fast"])
        .env_remove("RUST_LOG")
        .output()
        .expect("run `fate demo --fast`");
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in [
        "1/",
        "Fate: the MadHatter and the FireCracker",
        "BOOM! The firecracker exploded in the unlucky hands of Alice",
        "Fate: a chain of fuses",
        "BOOM! The red chain went off",
        "BOOM! The blue chain went off",
        "Twisted: slow_multiply",
        "a callback prints 12",
        "both done: Ok([12, 42])",
        "Twisted: the MadHatter, left to chance",
        "Executing external commands",
        "the child says: 2 fuse",
        "the child ended: exit code 0",
        "6 scenarios done in",
    ] {
        assert!(
            stdout.contains(needle),
            "{needle:?} missing from:\n{stdout}"
        );
    }
    let endings = [
        "BOOM! It exploded in the hands of Alice",
        "BOOM! It exploded in the hands of the MadHatter",
        "fzzt... the firecracker was a dud",
    ];
    assert!(
        endings.iter().any(|e| stdout.contains(e)),
        "no ending in:\n{stdout}"
    );
    // The getPage scenario's embedded server keeps its access log to itself, and nothing
    // writes colour codes into a pipe.
    let stderr = String::from_utf8_lossy(&out.stderr);
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(!text.contains('\x1b'), "colour codes in {name}:\n{text}");
        assert!(
            !text.contains("\"GET /article"),
            "an access-log line in {name}:\n{text}"
        );
    }
    // Every narrated event carries a timestamp.
    assert!(stdout.contains("[  0.00 s]"), "no timestamps in:\n{stdout}");
    // Fast mode shortens every fuse tenfold: the whole demo takes a few seconds at most.
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn demo_help_mentions_fast() {
    let out = Command::new(env!("CARGO_BIN_EXE_fate"))
        .args(["demo", "--help"])
        .output()
        .expect("run `fate demo --help`");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--fast"));
}

/// The MadHatter's part of a demo run, without timestamps.
fn mad_hatter_story(seed: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_fate"))
        .args(["demo", "--fast", "--seed", seed])
        .output()
        .expect("run `fate demo --fast --seed`");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let from = stdout
        .find("the MadHatter, left to chance")
        .expect("the MadHatter scenario");
    // Up to the blank line before the next scenario: the others' timing may vary.
    stdout[from..]
        .lines()
        .take_while(|l| !l.is_empty())
        .map(|l| l.rsplit("] ").next().unwrap_or(l).to_owned())
        .collect()
}

#[test]
fn the_same_seed_tells_the_same_mad_hatter_story() {
    let story = mad_hatter_story("2026");
    assert!(story.iter().any(|l| l.contains("seed 2026")), "{story:#?}");
    assert_eq!(story, mad_hatter_story("2026"));
}
