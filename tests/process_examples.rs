//! End to end: the process and standard-I/O examples run as programs, end by themselves and
//! exit 0 — `hot_potato` with its stdin a pipe and `/dev/null`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const EXAMPLES: &[&str] = &["process_output", "hot_potato"];

/// Builds the examples with this test's profile; returns the directory that holds them.
fn examples_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("<target>/<profile>/deps");
        let mut build = Command::new(env!("CARGO"));
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet"]);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        for name in EXAMPLES {
            build.args(["--example", name]);
        }
        let out = build.output().expect("run cargo build");
        assert!(
            out.status.success(),
            "building the examples failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        profile_dir.join("examples")
    })
}

/// Runs example `name` with `args` and `input` on its stdin (`None`: `/dev/null`).
fn run(name: &str, args: &[&str], input: Option<&[u8]>) -> String {
    let mut child = Command::new(examples_dir().join(name))
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "{name} exited with {status:?}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

#[test]
fn process_output_prints_each_commands_output_and_status() {
    let out = run("process_output", &[], None);
    for needle in [
        "(tick 1)",
        "== ls -l /: exit code 0",
        "== sort | uniq -c: exit code 3",
        "2 pear",
        "no-such-program-here: program not found",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
}

#[test]
fn hot_potato_plays_the_moves_from_a_pipe_then_lets_the_fuses_burn() {
    let out = run(
        "hot_potato",
        &["--fast", "--seed", "7"],
        Some(b"alice\nb\nzed\n"),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Seed 7."), "{out}");
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} missing from:\n{out}"))
    };
    assert!(at("the Hatter passes firecracker #0 to Alice") < at("passes firecracker #1 to Bob"));
    at("Nobody here is called \"zed\"");
    at("(no more input");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("BOOM!")).count(),
        3,
        "{out}"
    );
    assert!(
        lines.last().unwrap().starts_with("All gone. Burns:"),
        "{out}"
    );
}

#[test]
fn hot_potato_with_no_input_burns_the_hatter() {
    let out = run("hot_potato", &["--fast", "--seed", "3"], None);
    assert!(
        out.contains("All gone. Burns: the Hatter 3, Alice 0, Bob 0."),
        "{out}"
    );
}
