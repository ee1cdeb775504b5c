//! Nothing goes wrong silently: with no `tracing` subscriber, an unhandled Deferred failure,
//! a second fire, a panicking callback, task or handler, a failing `react` main, and (in debug
//! builds) code that blocks the loop each print one readable report to stderr naming where it
//! came from; a program's own subscriber takes the reports over. Each scenario runs in a child process (this test binary, re-run with
//! `FATE_SCENARIO` set) whose stderr is checked.

use std::cell::Cell;
use std::process::{Command, Output};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fate::deferred::{set_debugging, Deferred};
use fate::Failure;

/// Runs `scenario` in a child process (the test named `scenario`, with the scenario switch
/// set) and returns what it wrote.
fn run_child(scenario: &str) -> Output {
    Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([scenario, "--exact", "--nocapture", "--test-threads=1"])
        .env("FATE_SCENARIO", scenario)
        .output()
        .expect("run the test binary as a child")
}

/// Whether this process is the child running `scenario`.
fn is_child(scenario: &str) -> bool {
    std::env::var("FATE_SCENARIO").is_ok_and(|s| s == scenario)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The line number of the first line of this file containing `marker` (the line marked).
fn line_of(marker: &str) -> u32 {
    let source = include_str!("never_silent.rs");
    let index = source
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(marker))
        .map(|(i, _)| i)
        .expect("marker in this file");
    index as u32 + 1
}

#[test]
fn an_unhandled_failure_is_reported_once_with_its_origin() {
    if is_child("an_unhandled_failure_is_reported_once_with_its_origin") {
        fate::run_until_idle(|| {
            let (d, fire) = Deferred::<i64>::pending(); // MARK:created
            let d = d.add_callback(|x| x + 1);
            fire.errback(format!("the fuse was wet ({} of {})", 1, 3)); // MARK:failed
            drop(d);
        })
        .unwrap();
        return;
    }
    let out = run_child("an_unhandled_failure_is_reported_once_with_its_origin");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("Unhandled error in Deferred").count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("fate: Unhandled error in Deferred: the fuse was wet (1 of 3)"),
        "{err}"
    );
    let created = format!("tests/never_silent.rs:{}", line_of("MARK:created"));
    let failed = format!("tests/never_silent.rs:{}", line_of("MARK:failed"));
    assert!(err.contains(&format!("created at {created}")), "{err}");
    assert!(err.contains(&format!("arose at {failed}")), "{err}");
}

#[test]
fn a_handled_failure_says_nothing() {
    if is_child("a_handled_failure_says_nothing") {
        fate::run_until_idle(|| {
            let (d, fire) = Deferred::<i64>::pending();
            d.add_callback(|x| x + 1).add_errback(|_| 0);
            fire.errback("handled");
        })
        .unwrap();
        return;
    }
    let out = run_child("a_handled_failure_says_nothing");
    assert!(out.status.success());
    assert!(!stderr(&out).contains("fate:"), "{}", stderr(&out));
}

#[test]
fn a_second_fire_is_reported_with_both_sites() {
    if is_child("a_second_fire_is_reported_with_both_sites") {
        let (d, fire) = Deferred::<i64>::pending(); // MARK:twice-created
        fire.clone().callback(1); // MARK:first-fire
        fire.callback(2); // MARK:second-fire
        assert_eq!(d.try_result().ok().and_then(Result::ok), Some(1));
        return;
    }
    let out = run_child("a_second_fire_is_reported_with_both_sites");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches("Deferred already called").count(), 1, "{err}");
    for (what, marker) in [
        ("created at", "MARK:twice-created"),
        ("first fired at", "MARK:first-fire"),
        ("fired again at", "MARK:second-fire"),
    ] {
        let at = format!("{what} tests/never_silent.rs:{}", line_of(marker));
        assert!(err.contains(&at), "missing {at:?} in {err}");
    }
}

#[test]
fn panics_in_callbacks_tasks_and_deferred_callbacks_are_reported() {
    if is_child("panics_in_callbacks_tasks_and_deferred_callbacks_are_reported") {
        // Keep std's own panic messages out of the way: only Fate's reports are checked.
        std::panic::set_hook(Box::new(|_| {}));
        fate::run_until_idle(|| {
            fate::call_soon(|| panic!("a bad callback"));
            drop(fate::call_later(std::time::Duration::ZERO, || {
                panic!("a bad timer")
            }));
            drop(fate::spawn_local(async { panic!("a bad task") }));
            let (d, fire) = Deferred::<i64>::pending(); // MARK:panicky
            drop(d.add_callback(|_: i64| -> i64 { panic!("a bad Deferred callback") }));
            fate::call_soon(move || fire.callback(1));
        })
        .unwrap();
        return;
    }
    let out = run_child("panics_in_callbacks_tasks_and_deferred_callbacks_are_reported");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    for report in [
        "fate: a callback panicked: a bad callback",
        "fate: a timed call panicked: a bad timer",
        "fate: a task panicked: a bad task",
        "fate: Unhandled error in Deferred: ",
    ] {
        assert_eq!(err.matches(report).count(), 1, "{report:?} once in {err}");
    }
    assert!(err.contains("a bad Deferred callback"), "{err}");
    let created = format!(
        "created at tests/never_silent.rs:{}",
        line_of("MARK:panicky")
    );
    assert!(err.contains(&created), "{err}");
}

#[test]
fn a_task_that_blocks_the_loop_is_reported_in_debug_builds() {
    if is_child("a_task_that_blocks_the_loop_is_reported_in_debug_builds") {
        fate::run_until_idle(|| {
            drop(fate::spawn(async {
                // MARK:blocking: the task spawned on the line above blocks the loop.
                std::thread::sleep(std::time::Duration::from_millis(200));
                Ok(())
            }));
        })
        .unwrap();
        return;
    }
    let out = run_child("a_task_that_blocks_the_loop_is_reported_in_debug_builds");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    if !cfg!(debug_assertions) {
        // The watchdog is off by default in release builds.
        assert!(!err.contains("held the loop"), "{err}");
        return;
    }
    assert_eq!(err.matches("held the loop").count(), 1, "{err}");
    let spawned = format!(
        "fate: a task poll (task spawned at tests/never_silent.rs:{}:",
        line_of("MARK:blocking") - 1
    );
    assert!(err.contains(&spawned), "missing {spawned:?} in {err}");
    assert!(err.contains("(slow callback threshold: 100 ms)"), "{err}");
}

#[test]
fn a_failing_react_main_is_reported_and_exits_1() {
    if is_child("a_failing_react_main_is_reported_and_exits_1") {
        let code = fate::react(|_| fate::deferred::fail::<()>(Failure::msg("no route to host")));
        assert_eq!(code, std::process::ExitCode::FAILURE);
        return;
    }
    let out = run_child("a_failing_react_main_is_reported_and_exits_1");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("fate: main failed: no route to host").count(),
        1,
        "{err}"
    );
    assert!(!err.contains("Unhandled"), "{err}");
}

#[test]
fn deferred_debugging_shows_creation_and_first_fire_backtraces() {
    if is_child("deferred_debugging_shows_creation_and_first_fire_backtraces") {
        set_debugging(true);
        let (d, fire) = Deferred::<i64>::pending();
        fire.clone().callback(1);
        fire.callback(2);
        drop(d);
        let (d, fire) = Deferred::<i64>::pending();
        fire.errback("lost in debug mode");
        drop(d);
        return;
    }
    let out = run_child("deferred_debugging_shows_creation_and_first_fire_backtraces");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let already = err.find("Deferred already called").expect(&err);
    let unhandled = err.find("Unhandled error in Deferred").expect(&err);
    let (first, second) = (&err[already..unhandled], &err[unhandled..]);
    assert!(first.contains("Deferred created:\n"), "{first}");
    assert!(first.contains("Deferred first fired:\n"), "{first}");
    assert!(second.contains("Deferred created:\n"), "{second}");
    assert!(second.contains("Failure backtrace:\n"), "{second}");
    // The backtraces go through this test's function.
    assert!(
        second.contains("deferred_debugging_shows_creation_and_first_fire_backtraces"),
        "{second}"
    );
}

/// Counts the error events it is given.
struct CountErrors(Arc<AtomicUsize>);

impl tracing::Subscriber for CountErrors {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if *event.metadata().level() == tracing::Level::ERROR {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_programs_own_subscriber_takes_the_reports() {
    if is_child("a_programs_own_subscriber_takes_the_reports") {
        std::panic::set_hook(Box::new(|_| {}));
        let errors = Arc::new(AtomicUsize::new(0));
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        tracing::subscriber::with_default(CountErrors(errors.clone()), move || {
            fate::run_until_idle(move || {
                drop(fate::deferred::fail::<()>(Failure::msg("unhandled")));
                fate::call_soon(move || {
                    r.set(true);
                    panic!("a bad callback");
                });
            })
            .unwrap();
        });
        assert!(ran.get());
        assert_eq!(errors.load(Ordering::Relaxed), 2);
        return;
    }
    let out = run_child("a_programs_own_subscriber_takes_the_reports");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("fate:"), "{err}");
}
