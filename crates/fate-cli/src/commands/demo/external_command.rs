//! Scenario: executing external commands without blocking. While a slow shell pipeline runs,
//! the reactor keeps ticking a timer; the child's output and exit status arrive as Deferreds,
//! and a missing program is a typed error, not a crash.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

use fate::process::{self, Output};
use fate::Failure;

use super::Narrator;

/// Narrates a tick every `period` while `busy` holds.
fn tick(say: Narrator, period: Duration, busy: Rc<Cell<bool>>, n: u32) {
    if !busy.get() {
        return;
    }
    say.say(&format!("tick {n}: the loop is free while the child runs"));
    let _ = fate::call_later(period, move || tick(say, period, busy, n + 1));
}

/// Runs the scenario; fails unless the pipeline printed its count and exited 0.
pub(crate) fn run(say: &Narrator) -> Result<(), Box<dyn Error>> {
    let result: Rc<RefCell<Option<Result<Output, String>>>> = Rc::default();
    let (narrator, out) = (say.clone(), result.clone());
    let (slow, period) = (say.secs(1.0), say.secs(0.25));
    fate::run(move || {
        let script = format!(
            "sleep {:.3}; printf 'fuse\\nfuse\\nmatch\\n' | sort | uniq -c",
            slow.as_secs_f64()
        );
        narrator.say("spawning `sh -c \"sleep; printf ... | sort | uniq -c\"`");
        let busy = Rc::new(Cell::new(true));
        let (say, done) = (narrator.clone(), busy.clone());
        let _ = process::get_process_output_and_value("sh", ["-c", script.as_str()]).add_both(
            move |r: Result<Output, Failure>| {
                done.set(false);
                match &r {
                    Ok(o) => {
                        for line in String::from_utf8_lossy(&o.stdout).lines() {
                            say.say(&format!("the child says: {}", line.trim()));
                        }
                        say.say(&format!("the child ended: {}", o.status));
                    }
                    Err(f) => say.say(&format!("the child failed: {f}")),
                }
                *out.borrow_mut() = Some(r.map_err(|f| f.to_string()));
                fate::reactor().stop();
            },
        );
        let say = narrator.clone();
        let _ = process::get_process_output("no-such-program-in-the-demo", ["x"]).add_both(
            move |r: Result<Vec<u8>, Failure>| {
                if let Err(f) = r {
                    say.say(&format!("a missing program is an error, not a crash: {f}"));
                }
            },
        );
        tick(narrator.clone(), period, busy, 1);
    })?;
    let result = result.borrow_mut().take();
    match result {
        Some(Ok(o))
            if o.status.success() && String::from_utf8_lossy(&o.stdout).contains("2 fuse") =>
        {
            Ok(())
        }
        other => Err(format!("expected the pipeline's count and exit 0, got {other:?}").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loop_ticks_while_the_child_runs_and_its_output_arrives() {
        let say = Narrator::recording(0.01, 0);
        run(&say).unwrap();
        let at = |needle: &str| say.line_of(needle);
        assert!(at("tick 1") < at("the child ended: exit code 0"));
        assert!(at("the child says: 2 fuse") < at("the child ended"));
        assert!(at("the child says: 1 match") < at("the child ended"));
        at("a missing program is an error, not a crash: cannot run no-such-program-in-the-demo");
    }
}
