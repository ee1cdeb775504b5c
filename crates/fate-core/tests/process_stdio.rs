//! `StandardIO`, tested through a child: this test binary runs itself as a child whose
//! stdin and stdout are pipes (or `/dev/null`), with a protocol that echoes lines while a
//! timer ticks, and the parent drives it with `spawn_process`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use fate_core::net::{CloseReason, HalfClose, Protocol, Transport};
use fate_core::process::{self, ExitStatus, ProcessProtocol, ProcessTransport, Stdio};
use fate_core::reactor::Reactor;
use fate_core::stdio::StandardIO;

const ROLE: &str = "FATE_STDIO_CHILD";

/// The child's protocol: echoes each line as `ECHO:<LINE>`; at end of input says `EOF`,
/// ticks once more and closes.
struct Echo {
    transport: Option<Transport>,
    partial: Vec<u8>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        transport.write(b"READY\n");
        self.transport = Some(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.partial.extend_from_slice(data);
        while let Some(at) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=at).collect();
            let t = self.transport.as_ref().unwrap();
            t.write(b"ECHO:");
            t.write(&line.to_ascii_uppercase());
        }
    }
    fn read_connection_lost(&mut self) -> HalfClose {
        let t = self.transport.clone().unwrap();
        t.write(b"EOF\n");
        let _ = fate_core::call_later(Duration::from_millis(20), move || {
            t.write(b"BYE\n");
            t.lose_connection();
        });
        HalfClose::KeepOpen
    }
    fn connection_lost(&mut self, _: CloseReason) {
        fate_core::reactor::current().stop();
    }
}

/// The child's main: StandardIO plus a timer that writes `TICK` every 10 ms, 3 times.
fn child() {
    let reactor = Reactor::builder().handle_signals(false).build().unwrap();
    reactor.call_when_running(|| {
        let stdio = StandardIO::new(Echo {
            transport: None,
            partial: Vec::new(),
        })
        .unwrap();
        let t = stdio.transport().clone();
        fn tick(t: Transport, n: u32) {
            t.write(b"TICK\n");
            if n > 1 {
                let _ = fate_core::call_later(Duration::from_millis(10), move || tick(t, n - 1));
            }
        }
        tick(t, 3);
    });
    reactor.run().unwrap();
}

/// The parent's protocol: once the child has ticked three times (so it ran its timer while
/// its stdin was empty), sends input in pieces 20 ms apart, then closes the child's stdin.
struct Driver {
    transport: Option<ProcessTransport>,
    lines: Vec<&'static [u8]>,
    out: Rc<RefCell<(Vec<u8>, Option<ExitStatus>)>>,
}

impl ProcessProtocol for Driver {
    fn connection_made(&mut self, transport: &ProcessTransport) {
        self.transport = Some(transport.clone());
    }
    fn out_received(&mut self, data: &[u8]) {
        let ticks_before = count_ticks(&self.out.borrow().0);
        self.out.borrow_mut().0.extend_from_slice(data);
        if ticks_before < 3 && count_ticks(&self.out.borrow().0) >= 3 {
            let t = self.transport.clone().unwrap();
            let lines = std::mem::take(&mut self.lines);
            let n = lines.len() as u64;
            for (i, line) in lines.into_iter().enumerate() {
                let t = t.clone();
                let _ = fate_core::call_later(Duration::from_millis(20 * i as u64), move || {
                    t.write(line);
                });
            }
            let _ =
                fate_core::call_later(Duration::from_millis(20 * n + 20), move || t.close_stdin());
        }
    }
    fn process_ended(&mut self, status: ExitStatus) {
        self.out.borrow_mut().1 = Some(status);
    }
}

fn count_ticks(out: &[u8]) -> usize {
    String::from_utf8_lossy(out).matches("TICK").count()
}

fn run_child(stdin: Stdio, lines: Vec<&'static [u8]>) -> (String, Option<ExitStatus>) {
    let out = Rc::new(RefCell::new((Vec::new(), None)));
    let o = out.clone();
    let reactor = Reactor::builder().handle_signals(false).build().unwrap();
    reactor.call_soon(move || {
        process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "standard_io_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, "1")
            .stdin(stdin)
            .stderr(Stdio::Inherit)
            .spawn(Driver {
                transport: None,
                lines,
                out: o,
            })
            .unwrap();
    });
    reactor.run_until_idle().unwrap();
    let (bytes, status) = out.borrow().clone();
    (String::from_utf8_lossy(&bytes).into_owned(), status)
}

/// Not a test of its own: the child's entry point when `FATE_STDIO_CHILD` is set.
#[test]
fn standard_io_child() {
    if std::env::var_os(ROLE).is_some() {
        child();
    }
}

/// Lines of the child's output that came from its protocol (libtest prints its own too).
fn ours(out: &str) -> Vec<&str> {
    out.lines()
        .map(|l| l.trim_start_matches("test standard_io_child ... "))
        .filter(|l| {
            ["READY", "ECHO:", "TICK", "EOF", "BYE"]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

#[test]
fn standard_io_over_pipes_echoes_while_timers_run() {
    let (out, status) = run_child(Stdio::Pipe, vec![b"hello\n", b"wor", b"ld\n"]);
    assert_eq!(status, Some(ExitStatus::Exited(0)), "{out}");
    let lines = ours(&out);
    assert_eq!(lines.first(), Some(&"READY"), "{out}");
    let echoes: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("ECHO:"))
        .collect();
    assert_eq!(echoes, ["ECHO:HELLO", "ECHO:WORLD"], "{out}");
    // All three ticks came while the child was still waiting for its first line.
    let first_echo = lines.iter().position(|l| l.starts_with("ECHO:")).unwrap();
    assert_eq!(
        lines[..first_echo].iter().filter(|l| **l == "TICK").count(),
        3,
        "{out}"
    );
    assert_eq!(&lines[lines.len() - 2..], ["EOF", "BYE"], "{out}");
}

#[test]
fn standard_io_with_dev_null_as_stdin() {
    let (out, status) = run_child(Stdio::Null, Vec::new());
    assert_eq!(status, Some(ExitStatus::Exited(0)), "{out}");
    let lines = ours(&out);
    assert_eq!(lines.first(), Some(&"READY"), "{out}");
    // End of input comes at once, while the timer ticks; the child closes 20 ms later, so
    // how many ticks get out before that is up to the scheduler.
    assert!(lines.contains(&"EOF") && lines.contains(&"BYE"), "{out}");
    assert!(lines.contains(&"TICK"), "{out}");
}
