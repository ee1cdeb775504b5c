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
    fn zero_time_gives_null_rate() {
        let r = Report::from_secs(0, 0.0);
        let v: Value = serde_json::from_str(&r.line("w", "i").to_string()).unwrap();
        assert!(v["ops_per_sec"].is_null());
    }
}
