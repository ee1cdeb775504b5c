//! Command-line parsing: `WORKLOAD [--impl NAME] [--flag value | --flag=value | --switch]...`.
//!
//! Each workload declares its flags ([`Flag`]); anything else is a usage error (exit 2), so a
//! typo never silently runs the default size.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// One size or mode flag a workload accepts.
#[derive(Debug)]
pub(crate) struct Flag {
    /// The name after `--`.
    pub(crate) name: &'static str,
    /// The value used when the flag is absent; `None` for a switch (present or not, no value).
    pub(crate) default: Option<&'static str>,
    /// One line for `--help`.
    pub(crate) help: &'static str,
}

impl Flag {
    /// A flag that takes a value, `default` when absent.
    pub(crate) const fn value(
        name: &'static str,
        default: &'static str,
        help: &'static str,
    ) -> Self {
        Flag {
            name,
            default: Some(default),
            help,
        }
    }

    /// A switch: `--name` alone turns it on.
    pub(crate) const fn switch(name: &'static str, help: &'static str) -> Self {
        Flag {
            name,
            default: None,
            help,
        }
    }
}

/// A command-line mistake, reported on stderr with exit status 2.
#[derive(Debug, PartialEq)]
pub(crate) struct UsageError(pub(crate) String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The flags given to one workload, checked against its declared [`Flag`]s.
#[derive(Debug)]
pub(crate) struct Args {
    /// The workload's declared flags, for defaults.
    flags: &'static [Flag],
    /// Values (or "" for switches) given on the command line.
    given: HashMap<&'static str, String>,
}

impl Args {
    /// Parses `argv` (after the workload name) against `flags`; `--impl` is taken out first
    /// and returned separately.
    pub(crate) fn parse(
        flags: &'static [Flag],
        argv: &[String],
    ) -> Result<(Option<String>, Args), UsageError> {
        let mut imp = None;
        let mut given = HashMap::new();
        let mut it = argv.iter();
        while let Some(a) = it.next() {
            let Some(body) = a.strip_prefix("--") else {
                return Err(UsageError(format!("unexpected argument {a:?}")));
            };
            let (name, inline) = match body.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (body, None),
            };
            let mut value = |what: &str| match inline.clone().or_else(|| it.next().cloned()) {
                Some(v) => Ok(v),
                None => Err(UsageError(format!("--{name} needs {what}"))),
            };
            if name == "impl" {
                imp = Some(value("a name")?);
                continue;
            }
            let Some(flag) = flags.iter().find(|f| f.name == name) else {
                let known: Vec<_> = flags.iter().map(|f| format!("--{}", f.name)).collect();
                return Err(UsageError(format!(
                    "unknown flag --{name} (this workload takes --impl {})",
                    known.join(" ")
                )));
            };
            let v = match flag.default {
                Some(_) => value("a value")?,
                None if inline.is_some() => {
                    return Err(UsageError(format!("--{name} takes no value")))
                }
                None => String::new(),
            };
            given.insert(flag.name, v);
        }
        Ok((imp, Args { flags, given }))
    }

    /// The value of `--name`, or its default, parsed as `T`.
    ///
    /// # Errors
    /// A value that does not parse as `T`.
    ///
    /// # Panics
    /// If the workload did not declare `--name` with a value (a bug in the workload).
    pub(crate) fn try_get<T: FromStr>(&self, name: &str) -> Result<T, UsageError> {
        let flag = self.flags.iter().find(|f| f.name == name);
        let default = flag.and_then(|f| f.default);
        let Some(default) = default else {
            panic!("fate-bench: --{name} is not a declared value flag of this workload")
        };
        let raw = self.given.get(name).map_or(default, String::as_str);
        raw.parse()
            .map_err(|_| UsageError(format!("bad value for --{name}: {raw:?}")))
    }

    /// Like [`Args::try_get`], exiting with status 2 on a bad value.
    pub(crate) fn get<T: FromStr>(&self, name: &str) -> T {
        self.try_get(name).unwrap_or_else(|e| {
            eprintln!("fate-bench: {e}");
            std::process::exit(2)
        })
    }

    /// Whether the switch `--name` was given.
    ///
    /// # Panics
    /// If the workload did not declare `--name` as a switch.
    pub(crate) fn switch(&self, name: &str) -> bool {
        let declared = self
            .flags
            .iter()
            .any(|f| f.name == name && f.default.is_none());
        assert!(declared, "fate-bench: --{name} is not a declared switch");
        self.given.contains_key(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        Flag::value("n", "10", "count"),
        Flag::value("duration", "0.5", "seconds"),
        Flag::switch("batch", "all at once"),
    ];

    fn parse(argv: &[&str]) -> Result<(Option<String>, Args), UsageError> {
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        Args::parse(FLAGS, &argv)
    }

    #[test]
    fn defaults_values_and_switches() {
        let (imp, a) = parse(&[]).unwrap();
        assert_eq!(imp, None);
        assert_eq!(a.get::<u64>("n"), 10);
        assert_eq!(a.get::<f64>("duration"), 0.5);
        assert!(!a.switch("batch"));

        let (imp, a) = parse(&["--n", "7", "--impl=tokio", "--batch", "--duration=2"]).unwrap();
        assert_eq!(imp.as_deref(), Some("tokio"));
        assert_eq!(a.get::<u64>("n"), 7);
        assert_eq!(a.get::<f64>("duration"), 2.0);
        assert!(a.switch("batch"));
    }

    #[test]
    fn mistakes_are_usage_errors() {
        let unknown = parse(&["--m", "3"]).unwrap_err();
        assert!(unknown.0.contains("unknown flag --m"), "{unknown}");
        assert!(unknown.0.contains("--n --duration --batch"), "{unknown}");
        assert_eq!(parse(&["--n"]).unwrap_err().0, "--n needs a value");
        assert_eq!(parse(&["n"]).unwrap_err().0, "unexpected argument \"n\"");
        assert_eq!(
            parse(&["--batch=1"]).unwrap_err().0,
            "--batch takes no value"
        );
        let (_, a) = parse(&["--n", "x"]).unwrap();
        assert_eq!(
            a.try_get::<u64>("n").unwrap_err().0,
            "bad value for --n: \"x\""
        );
    }
}
