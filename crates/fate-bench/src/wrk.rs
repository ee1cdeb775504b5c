//! `http`'s preferred client: wrk, run as shared/peers/harness/w4_wrk.py runs it
//! (`wrk -t1 -cC -dDs --timeout 5s` with a `done()` hook printing one JSON object).

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// shared/peers/harness/wrk_report.lua: totals and latency percentiles (µs) as JSON.
const REPORT_LUA: &str = r#"done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d,' ..
    '"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"#;

/// What wrk reported.
#[derive(Debug, PartialEq)]
pub(crate) struct Summary {
    pub(crate) requests: u64,
    pub(crate) duration: Duration,
    /// connect + read + write + status + timeout errors.
    pub(crate) errors: u64,
    pub(crate) p50_us: f64,
    pub(crate) p99_us: f64,
}

/// The first executable called `name` on `PATH`.
pub(crate) fn find(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|p| p.is_file())
}

/// Runs wrk against `http://addr/` for `secs` whole seconds with `conns` connections on one
/// thread, pinned to `cpu` with taskset when both are available.
///
/// # Errors
/// wrk could not start, failed, printed no report, or ran 20 s past its duration (killed).
pub(crate) fn run(
    wrk: &Path,
    addr: SocketAddr,
    conns: usize,
    secs: u64,
    cpu: Option<usize>,
) -> Result<Summary, String> {
    let script = std::env::temp_dir().join(format!("fate-bench-wrk-{}.lua", std::process::id()));
    std::fs::write(&script, REPORT_LUA).map_err(|e| format!("writing {script:?}: {e}"))?;
    let taskset = cpu.and_then(|cpu| find("taskset").map(|t| (t, cpu)));
    let mut cmd = match &taskset {
        Some((taskset, cpu)) => {
            let mut c = Command::new(taskset);
            c.arg("-c").arg(cpu.to_string()).arg(wrk);
            c
        }
        None => Command::new(wrk),
    };
    cmd.arg("-t1")
        .arg(format!("-c{conns}"))
        .arg(format!("-d{secs}s"))
        .args(["--timeout", "5s", "-s"])
        .arg(&script)
        .arg(format!("http://{addr}/"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = run_bounded(cmd, Duration::from_secs(secs + 20));
    let _ = std::fs::remove_file(&script);
    let output = output.map_err(|e| format!("wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("wrk failed ({}): {}", output.status, stderr.trim()));
    }
    parse(&stdout)
}

/// Waits for `cmd` at most `limit`, killing it after that.
fn run_bounded(mut cmd: Command, limit: Duration) -> io::Result<std::process::Output> {
    let mut child = cmd.spawn()?;
    let deadline = Instant::now() + limit;
    // wrk's output is a few hundred bytes: the pipes cannot fill while we poll.
    while child.try_wait()?.is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output()
}

/// The summary in wrk's output: the last line that is a JSON object.
pub(crate) fn parse(stdout: &str) -> Result<Summary, String> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| format!("no report in wrk's output: {:?}", stdout.trim()))?;
    let v: Value = serde_json::from_str(line).map_err(|e| format!("wrk report: {e}"))?;
    let num = |k: &str| {
        v[k].as_f64()
            .ok_or_else(|| format!("wrk report without {k}: {line}"))
    };
    let errors = [
        "err_connect",
        "err_read",
        "err_write",
        "err_status",
        "err_timeout",
    ]
    .iter()
    .map(|k| num(k))
    .sum::<Result<f64, _>>()?;
    Ok(Summary {
        requests: num("requests")? as u64,
        duration: Duration::from_micros(num("duration_us")? as u64),
        errors: errors as u64,
        p50_us: num("lat_p50_us")?,
        p99_us: num("lat_p99_us")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_done_hook_line() {
        let out = "Running 5s test @ http://127.0.0.1:1/\n  1 threads and 50 connections\n\
            {\"requests\":860000,\"duration_us\":5000100,\"bytes\":99,\"err_connect\":0,\
            \"err_read\":1,\"err_write\":0,\"err_status\":2,\"err_timeout\":0,\
            \"lat_mean_us\":290.1,\"lat_p50_us\":280,\"lat_p90_us\":300,\"lat_p99_us\":410,\
            \"lat_max_us\":9000}\n";
        assert_eq!(
            parse(out),
            Ok(Summary {
                requests: 860000,
                duration: Duration::from_micros(5000100),
                errors: 3,
                p50_us: 280.0,
                p99_us: 410.0,
            })
        );
        assert!(parse("Running\n").unwrap_err().contains("no report"));
        assert!(parse("{\"requests\":1}").unwrap_err().contains("without"));
    }
}
