//! SIGINT/SIGTERM and the abort panic policy, each in a child process (this test binary run
//! again in a "child mode" chosen by an environment variable), so no signal or abort touches
//! the test harness.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use fate_core::reactor::{PanicPolicy, Phase, Reactor, SystemEvent};

const MODE: &str = "FATE_SIGNAL_TEST_CHILD";

/// What the child does, by mode.
fn child(mode: &str) {
    match mode {
        "graceful" => {
            let reactor = Reactor::new().unwrap();
            reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
                println!("before shutdown");
            });
            reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, || {
                println!("after shutdown");
            });
            reactor.call_when_running(|| println!("ready"));
            reactor.run().unwrap();
            println!("run returned");
        }
        "stuck" => {
            let reactor = Reactor::new().unwrap();
            // A before-shutdown trigger that never lets shutdown finish.
            reactor.add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, || {
                println!("stuck in shutdown");
                let (d, fire) = fate_core::deferred::Deferred::<()>::pending();
                // Never fired, never dropped (a dropped end would errback `Abandoned`).
                std::mem::forget(fire);
                d
            });
            reactor.call_when_running(|| println!("ready"));
            reactor.run().unwrap();
            println!("run returned");
        }
        "abort" => {
            let reactor = Reactor::builder()
                .panic_policy(PanicPolicy::Abort)
                .handle_signals(false)
                .build()
                .unwrap();
            reactor.call_soon(|| panic!("deliberate panic under the abort policy"));
            let _ = reactor.call_later(Duration::from_millis(1), || println!("still running"));
            reactor.run_until_idle().unwrap();
        }
        other => panic!("unknown child mode {other}"),
    }
}

/// Runs this test binary as a child in `mode`, returning it with stdout piped.
fn spawn_child(test_name: &str, mode: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Reads lines until one equals `want`; returns every line read.
fn read_until(reader: &mut impl BufRead, want: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for line in reader.lines() {
        let line = line.unwrap();
        // The harness prints `test NAME ... ` with no newline before the child's first line.
        let done = line.ends_with(want);
        seen.push(line);
        if done {
            break;
        }
    }
    seen
}

fn signal(child: &std::process::Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}

#[test]
fn sigterm_stops_the_reactor_gracefully() {
    if let Ok(mode) = std::env::var(MODE) {
        return child(&mode);
    }
    let mut child = spawn_child("sigterm_stops_the_reactor_gracefully", "graceful");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut out, "ready");
    signal(&child, rustix::process::Signal::TERM);
    let rest: Vec<String> = out.lines().map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let ours = ["before shutdown", "after shutdown", "run returned"];
    let rest: Vec<&str> = rest
        .iter()
        .map(String::as_str)
        .filter(|l| ours.contains(l))
        .collect();
    assert_eq!(rest, ours);
}

#[test]
fn a_second_sigint_exits_at_once() {
    if let Ok(mode) = std::env::var(MODE) {
        return child(&mode);
    }
    let mut child = spawn_child("a_second_sigint_exits_at_once", "stuck");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut out, "ready");
    signal(&child, rustix::process::Signal::INT);
    read_until(&mut out, "stuck in shutdown");
    signal(&child, rustix::process::Signal::INT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 2), "{status:?}");
}

#[test]
fn the_abort_policy_aborts_on_a_panic() {
    if let Ok(mode) = std::env::var(MODE) {
        return child(&mode);
    }
    let mut child = spawn_child("the_abort_policy_aborts_on_a_panic", "abort");
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(6), "{status:?}");
    assert!(!out.contains("still running"));
}
