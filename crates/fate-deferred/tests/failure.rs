//! `Failure`: type identity, source chain, locations, backtraces, conversions.

mod common;

use std::error::Error;
use std::fmt;

use common::GenericError;
use fate_deferred::{Cancelled, Failure, FirstError, IntoFailure, TimedOut};

#[derive(Debug)]
struct Outer(GenericError);

impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outer")
    }
}

impl Error for Outer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn check_trap_and_downcast() {
    let f = Failure::new(GenericError("g"));
    assert!(f.check::<GenericError>());
    assert!(!f.check::<Cancelled>());
    assert_eq!(f.trap::<GenericError>().ok(), Some(&GenericError("g")));
    let err = f.trap::<TimedOut>().unwrap_err();
    assert!(Failure::ptr_eq(&err, &f)); // the same failure comes back
    assert_eq!(f.downcast_ref::<GenericError>().map(|g| g.0), Some("g"));
}

#[test]
fn source_chain_and_display() {
    let f = Failure::new(Outer(GenericError("inner")));
    assert_eq!(f.to_string(), "outer");
    assert_eq!(f.source().map(|s| s.to_string()).as_deref(), Some("inner"));
    assert_eq!(f.error().to_string(), "outer");
    let boxed: Box<dyn Error> = f.into();
    assert_eq!(boxed.to_string(), "outer");
    assert_eq!(
        boxed.source().map(|s| s.to_string()).as_deref(),
        Some("inner")
    );
}

#[test]
fn location_is_the_question_mark() {
    fn parse(s: &str) -> Result<i64, Failure> {
        Ok(s.parse::<i64>()?)
    }
    let f = parse("x").unwrap_err();
    assert_eq!(f.location().line(), line!() - 3);
    let f = GenericError("g").into_failure();
    assert_eq!(f.location().line(), line!() - 1);
}

#[test]
fn from_boxed_keeps_type_identity() {
    let boxed: Box<dyn Error> = Box::new(GenericError("boxed"));
    assert!(Failure::from_boxed(boxed).check::<GenericError>());
}

#[test]
fn first_error_exposes_its_sub_failure_as_source() {
    let sub = Failure::new(Cancelled);
    let e = FirstError::new(2, sub.clone());
    assert_eq!(e, FirstError::new(2, sub.clone()));
    assert_ne!(e, FirstError::new(2, Failure::new(Cancelled)));
    assert_eq!(
        e.source().map(|s| s.to_string()).as_deref(),
        Some("Deferred was cancelled")
    );
}

#[test]
fn debug_names_error_and_location() {
    let text = format!("{:?}", Failure::new(GenericError("dbg")));
    assert!(
        text.contains("GenericError") && text.contains("failure.rs"),
        "{text}"
    );
}

/// Run by `backtraces_follow_rust_lib_backtrace_not_rust_backtrace` in a child process whose
/// environment it sets: prints whether a new failure captured a backtrace.
#[test]
#[ignore = "run by backtraces_follow_rust_lib_backtrace_not_rust_backtrace"]
fn print_backtrace_status_of_a_new_failure() {
    let f = Failure::msg("x");
    println!("status={:?}", f.backtrace().status());
}

#[test]
fn backtraces_follow_rust_lib_backtrace_not_rust_backtrace() {
    let status_with = |vars: &[(&str, &str)]| {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args([
                "--ignored",
                "--exact",
                "print_backtrace_status_of_a_new_failure",
                "--nocapture",
            ])
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE");
        for (k, v) in vars {
            child.env(k, v);
        }
        let out = child.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("status="))
            .unwrap()
            .to_string()
    };
    // RUST_BACKTRACE is for panics: a failure created on the loop must not take the
    // process-wide backtrace lock a panicking thread may hold.
    assert_eq!(status_with(&[("RUST_BACKTRACE", "1")]), "Disabled");
    assert_eq!(status_with(&[("RUST_LIB_BACKTRACE", "1")]), "Captured");
    assert_eq!(
        status_with(&[("RUST_BACKTRACE", "1"), ("RUST_LIB_BACKTRACE", "0")]),
        "Disabled"
    );
}
