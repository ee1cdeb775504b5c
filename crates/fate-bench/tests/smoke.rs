//! Runs every workload with tiny sizes through the built binary, `--impl all`, and checks
//! each printed line: valid JSON, the fixed fields, the workload's extras, plausible values.
//! Only counts and presence are asserted, never speed, so the test is deterministic.

use std::process::{Command, Output};

use serde_json::Value;

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fate-bench"))
        .args(args)
        .output()
        .expect("run fate-bench")
}

/// Runs `args` (workload first, `--impl all` added) and returns its JSON lines, checked for
/// the fields every line has; at least a tokio line must be there.
fn lines(args: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.extend(["--impl", "all"]);
    let out = bench(&all);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {}\n{stderr}", out.status);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["impl"] == "tokio"),
        "{args:?}: no tokio line in {stdout}"
    );
    for l in &lines {
        assert_eq!(l["workload"], args[0], "{l}");
        let imp = l["impl"].as_str().unwrap();
        assert!(["fate", "fate-async", "tokio"].contains(&imp), "{l}");
        assert!(l["n"].as_u64().is_some(), "{l}");
        assert!(l["secs"].as_f64().unwrap() > 0.0, "{l}");
        assert!(l["ops_per_sec"].as_f64().unwrap() > 0.0, "{l}");
        assert!(l["rss_kb"].as_u64().unwrap() > 0, "{l}");
        assert!(l["peer"].is_string(), "{l}");
    }
    lines
}

/// A positive number field.
fn positive(l: &Value, key: &str) -> f64 {
    let v = l[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing in {l}"));
    assert!(v > 0.0, "{key} in {l}");
    v
}

#[test]
fn timers() {
    for l in lines(&["timers", "--n", "2000", "--max-ms", "20"]) {
        assert_eq!(l["n"], 2000);
        assert_eq!(l["fired"], 1000);
        let p50 = l["late_p50_us"].as_f64().unwrap();
        let p99 = l["late_p99_us"].as_f64().unwrap();
        assert!(0.0 <= p50 && p50 <= p99, "{l}");
        // Every timer was due within 20 ms of being scheduled; the run took `secs`.
        assert!(p99 <= positive(&l, "secs") * 1e6, "{l}");
    }
}

#[test]
fn timer_churn() {
    for l in lines(&["timer-churn", "--n", "2000", "--pending", "500"]) {
        assert_eq!(l["n"], 2000);
        assert_eq!(l["pending"], 500);
    }
}

#[test]
fn spawn_and_pingpong() {
    for l in lines(&["spawn", "--n", "2000"]) {
        assert_eq!(l["n"], 2000);
    }
    for l in lines(&["pingpong", "--n", "2001"]) {
        assert_eq!(l["n"], 2001);
    }
}

#[test]
fn deferred_both_modes() {
    for l in lines(&["deferred", "--n", "2000"]) {
        assert_eq!(
            (l["n"].as_u64(), l["mode"].as_str()),
            (Some(2000), Some("interleaved"))
        );
    }
    for l in lines(&["deferred", "--n", "2000", "--batch"]) {
        assert_eq!(
            (l["n"].as_u64(), l["mode"].as_str()),
            (Some(2000), Some("batch"))
        );
    }
}

/// Checks the fields of a line from the echo/http load generator.
fn check_served(l: &Value, conns: u64) {
    assert_eq!(l["conns"], conns, "{l}");
    assert!(l["n"].as_u64().unwrap() > 0, "{l}");
    let (p50, p99) = (positive(l, "p50_us"), positive(l, "p99_us"));
    assert!(p50 <= p99, "{l}");
    positive(l, "server_cpu_us_per_op");
}

#[test]
fn echo() {
    let args = [
        "echo",
        "--conns",
        "4",
        "--duration",
        "0.3",
        "--warmup",
        "0.1",
        "--rounds",
        "2",
    ];
    for l in lines(&args) {
        check_served(&l, 4);
        assert_eq!(l["secs"], 0.3);
        assert_eq!(l["msg_size"], 64);
        positive(&l, "server_cpu_util");
        let rounds = l["server_cpu_us_per_op_rounds"].as_array().unwrap();
        assert_eq!(rounds.len(), 2, "{l}");
        assert!(rounds.contains(&l["server_cpu_us_per_op"]), "{l}");
    }
}

#[test]
fn http_builtin_client() {
    let args = [
        "http",
        "--client",
        "builtin",
        "--conns",
        "4",
        "--duration",
        "0.3",
        "--warmup",
        "0.1",
    ];
    for l in lines(&args) {
        check_served(&l, 4);
        assert_eq!(l["client"], "builtin");
    }
}

#[test]
fn spawn_process() {
    for l in lines(&["spawn-process", "--n", "10", "--concurrency", "4"]) {
        assert_eq!(l["n"], 10);
        assert_eq!(l["concurrency"], 4);
        positive(&l, "server_cpu_us_per_op");
    }
}

#[test]
fn help_lists_every_workload() {
    let out = bench(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for w in [
        "timers",
        "timer-churn",
        "spawn",
        "pingpong",
        "deferred",
        "echo",
        "http",
        "spawn-process",
    ] {
        assert!(
            help.contains(&format!("\n  {w}  — ")),
            "{w} missing:\n{help}"
        );
    }
}

#[test]
fn mistakes_exit_2_without_output() {
    for args in [
        &["nope"][..],
        &["timers", "--m", "1"],
        &["timers", "--n", "x"],
        &["timers", "--impl", "rayon"],
        &[],
    ] {
        let out = bench(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(out.stderr.starts_with(b"fate-bench: "), "{args:?}");
    }
}

/// A workload without a fate implementation says so and exits 2 under `--impl fate`.
#[test]
fn missing_implementation_is_refused() {
    let all = [
        "timers",
        "timer-churn",
        "spawn",
        "pingpong",
        "deferred",
        "echo",
        "http",
        "spawn-process",
    ];
    for w in all {
        let help = String::from_utf8(bench(&[w, "--help"]).stdout).unwrap();
        let impls = help
            .lines()
            .find_map(|l| l.trim().strip_prefix("implementations: "))
            .unwrap_or_else(|| panic!("{help}"));
        if impls.split(", ").any(|i| i == "fate") {
            continue;
        }
        let out = bench(&[w, "--impl", "fate"]);
        assert_eq!(out.status.code(), Some(2), "{w}");
        assert!(out.stdout.is_empty(), "{w}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("fate-bench: no fate implementation of {w} yet\n")
        );
    }
}
