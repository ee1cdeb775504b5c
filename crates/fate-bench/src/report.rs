//! One implementation run's result, printed as one JSON line.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// What one implementation run measured.
///
/// `n` counts the workload's unit (timers, register+cancel pairs, tasks, wakes, Deferreds,
/// messages, requests, processes) and `secs` is the wall time the measured part took, so
/// `secs / n` is the cost per unit and `ops_per_sec = n / secs`. Workload-specific figures
/// go in `extras`, printed after the fixed fields in the order they were added.
#[derive(Debug)]
pub(crate) struct Report {
    /// Units of work done in the measured part.
    n: u64,
    /// Wall seconds of the measured part.
    secs: f64,
    /// Further fields, in print order; a key added twice keeps its last value.
    extras: Vec<(&'static str, Value)>,
}

impl Report {
    /// A report for `n` units done in `elapsed`.
    pub(crate) fn new(n: u64, elapsed: Duration) -> Self {
        Report::from_secs(n, elapsed.as_secs_f64())
    }

    /// A report for `n` units done in `secs` seconds (when the time comes from elsewhere, e.g. wrk).
    pub(crate) fn from_secs(n: u64, secs: f64) -> Self {
        Report {
            n,
            secs,
            extras: Vec::new(),
        }
    }

    /// Adds (or replaces) a workload-specific field.
    pub(crate) fn with(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.extras.retain(|(k, _)| *k != key);
        self.extras.push((key, value.into()));
        self
    }

    /// A numeric field added earlier, if there is one.
    pub(crate) fn get_f64(&self, key: &str) -> Option<f64> {
        self.extras
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.as_f64())
    }

    /// Adds a microsecond figure, rounded to nanoseconds (NaN becomes null).
    pub(crate) fn with_us(self, key: &'static str, us: f64) -> Self {
        self.with(key, round(us, 3))
    }

    /// The JSON line for this run of `imp` on `workload`.
    pub(crate) fn line<'a>(&'a self, workload: &'a str, imp: &'a str) -> Line<'a> {
        Line {
            report: self,
            workload,
            imp,
        }
    }
}

/// A [`Report`] with its workload and implementation names, displayed as one JSON object:
/// `workload`, `impl`, `n`, `secs`, `ops_per_sec`, then the extras.
pub(crate) struct Line<'a> {
    report: &'a Report,
    workload: &'a str,
    imp: &'a str,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.report;
        let ops = if r.secs > 0.0 {
            r.n as f64 / r.secs
        } else {
            f64::NAN
        };
        write!(
            f,
            "{{\"workload\":{},\"impl\":{},\"n\":{},\"secs\":{},\"ops_per_sec\":{}",
            Value::from(self.workload),
            Value::from(self.imp),
            r.n,
            round(r.secs, 6),
            round(ops, 1),
        )?;
        for (k, v) in &r.extras {
            write!(f, ",{}:{}", Value::from(*k), v)?;
        }
        f.write_str("}")
    }
}

/// Of several rounds of one server workload, the round with the median
/// `server_cpu_us_per_op` (the upper one of an even count), whole, with every round's figure,
/// in the order they ran, as `server_cpu_us_per_op_rounds`.
///
/// A server's CPU per operation keeps to the batching regime that it and its client fall into
/// for the server's whole life, and regimes differ by a fifth either way on a shared two-core
/// machine; the median of a few fresh servers is far steadier than any one.
pub(crate) fn median_round(mut rounds: Vec<Report>) -> Report {
    let cpu = |r: &Report| r.get_f64("server_cpu_us_per_op").unwrap_or(f64::NAN);
    let figures: Vec<Value> = rounds.iter().map(|r| cpu(r).into()).collect();
    rounds.sort_by(|a, b| cpu(a).total_cmp(&cpu(b)));
    let middle = rounds.len() / 2;
    rounds
        .swap_remove(middle)
        .with("server_cpu_us_per_op_rounds", figures)
}

/// `x` rounded to `decimals` places as a JSON number; null when not finite.
pub(crate) fn round(x: f64, decimals: i32) -> Value {
    let scale = 10f64.powi(decimals);
    let r = (x * scale).round() / scale;
    serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_has_fixed_fields_then_extras_in_order() {
        let r = Report::new(4, Duration::from_millis(2))
            .with("peer", "x")
            .with_us("p99_us", 1.23456)
            .with("peer", "y")
            .with_us("late_us", f64::NAN);
        assert_eq!(
            r.line("timers", "tokio").to_string(),
            r#"{"workload":"timers","impl":"tokio","n":4,"secs":0.002,"ops_per_sec":2000.0,"p99_us":1.235,"peer":"y","late_us":null}"#
        );
    }

    #[test]
    fn the_median_round_is_reported_whole_with_every_rounds_figure() {
        let round = |n: u64, cpu: f64| Report::from_secs(n, 1.0).with("server_cpu_us_per_op", cpu);
        let picked = median_round(vec![round(1, 7.0), round(2, 5.0), round(3, 6.0)]);
        let line = picked.line("http", "fate").to_string();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["n"], 3, "the round with 6.0 us, whole: {line}");
        assert_eq!(v["server_cpu_us_per_op"], 6.0);
        assert_eq!(
            v["server_cpu_us_per_op_rounds"],
            serde_json::json!([7.0, 5.0, 6.0])
        );
        let one = median_round(vec![round(9, 1.0)]);
        assert_eq!(one.get_f64("server_cpu_us_per_op"), Some(1.0));
    }

    #[test]
    fn zero_time_gives_null_rate() {
        let r = Report::from_secs(0, 0.0);
        let v: Value = serde_json::from_str(&r.line("w", "i").to_string()).unwrap();
        assert!(v["ops_per_sec"].is_null());
    }
}
