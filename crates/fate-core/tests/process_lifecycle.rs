//! A child's lifecycle as its protocol sees it: event order, exit codes, signals, pipes,
//! extra fds, environment, the SIGCHLD fallback and the errors of a failed spawn.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use fate_core::process::{
    self, ChildFd, ExitStatus, ProcessProtocol, ProcessTransport, SignalError, SpawnErrorKind,
};
use fate_core::reactor::Reactor;

/// Records every call as a line.
#[derive(Clone, Default)]
struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    fn lines(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
    fn push(&self, line: String) {
        self.0.borrow_mut().push(line);
    }
}

struct Recorder {
    log: Log,
    transport: Rc<RefCell<Option<ProcessTransport>>>,
}

impl Recorder {
    fn new(log: &Log) -> Recorder {
        Recorder {
            log: log.clone(),
            transport: Rc::default(),
        }
    }
}

impl ProcessProtocol for Recorder {
    fn connection_made(&mut self, transport: &ProcessTransport) {
        *self.transport.borrow_mut() = Some(transport.clone());
        self.log.push("made".into());
    }
    fn child_data_received(&mut self, fd: i32, data: &[u8]) {
        self.log
            .push(format!("data {fd} {}", String::from_utf8_lossy(data)));
    }
    fn child_connection_lost(&mut self, fd: i32) {
        self.log.push(format!("lost {fd}"));
    }
    fn process_exited(&mut self, status: ExitStatus) {
        self.log.push(format!("exited {status}"));
    }
    fn process_ended(&mut self, status: ExitStatus) {
        let pid = self.transport.borrow().as_ref().unwrap().pid();
        self.log.push(format!("ended {status} pid={pid:?}"));
    }
}

/// Runs `start` on a fresh reactor until nothing is pending.
fn run(start: impl FnOnce() + 'static) {
    let reactor = Reactor::builder().handle_signals(false).build().unwrap();
    reactor.call_soon(start);
    reactor.run_until_idle().unwrap();
}

fn sh(script: &str, log: &Log) -> ProcessTransport {
    process::Command::new("sh")
        .args(["-c", script])
        .spawn(Recorder::new(log))
        .unwrap()
}

#[test]
fn events_come_in_twisted_order() {
    let log = Log::default();
    let l = log.clone();
    run(move || {
        sh("echo out; echo err >&2", &l);
    });
    let lines = log.lines();
    assert_eq!(lines.first().unwrap(), "made");
    assert_eq!(lines.last().unwrap(), "ended exit code 0 pid=None");
    for expected in [
        "data 1 out\n",
        "data 2 err\n",
        "lost 0",
        "lost 1",
        "lost 2",
        "exited exit code 0",
    ] {
        assert_eq!(
            lines.iter().filter(|l| *l == expected).count(),
            1,
            "{expected:?} in {lines:?}"
        );
    }
    let at = |s: &str| lines.iter().position(|l| l == s).unwrap();
    assert!(at("data 1 out\n") < at("lost 1"));
    assert!(at("data 2 err\n") < at("lost 2"));
    assert_eq!(lines.len(), 8, "{lines:?}");
}

/// A background grandchild inherits the shell's stdout and stderr and keeps them open after
/// the shell exits: the end still comes, one pipe grace after the exit, with what the shell
/// wrote (the grandchild's pid, so that the test can stop it).
#[test]
fn the_end_comes_while_a_grandchild_holds_the_pipes() {
    let log = Log::default();
    let l = log.clone();
    let grace = Duration::from_millis(200);
    let start = Instant::now();
    run(move || {
        process::Command::new("sh")
            .args(["-c", "sleep 10 & echo $!"])
            .pipe_grace(grace)
            .spawn(Recorder::new(&l))
            .unwrap();
    });
    let took = start.elapsed();
    let lines = log.lines();
    let grandchild = lines
        .iter()
        .find_map(|l| l.strip_prefix("data 1 "))
        .and_then(|pid| pid.trim().parse::<u32>().ok());
    if let Some(pid) = grandchild {
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
    }
    assert!(grandchild.is_some(), "no pid in {lines:?}");
    assert!(
        took >= grace && took < Duration::from_secs(5),
        "took {took:?}"
    );
    let at = |s: &str| lines.iter().position(|l| l == s).unwrap();
    assert!(at("exited exit code 0") < at("lost 1"), "{lines:?}");
    assert!(at("exited exit code 0") < at("lost 2"), "{lines:?}");
    assert_eq!(lines.last().unwrap(), "ended exit code 0 pid=None");
}

/// A protocol that has paused reading when the child exits loses nothing: the pipe grace
/// waits for `resume_reading`, then what the pipes hold is delivered before they close.
#[test]
fn the_pipe_grace_waits_for_a_paused_reader() {
    let log = Log::default();
    let l = log.clone();
    run(move || {
        let child = process::Command::new("sh")
            .args(["-c", "echo kept"])
            .pipe_grace(Duration::from_millis(10))
            .spawn(Recorder::new(&l))
            .unwrap();
        child.pause_reading();
        fate_core::call_later(Duration::from_millis(100), move || child.resume_reading());
    });
    let lines = log.lines();
    let at = |s: &str| lines.iter().position(|l| l == s).unwrap();
    assert!(at("exited exit code 0") < at("data 1 kept\n"), "{lines:?}");
    assert!(at("data 1 kept\n") < at("lost 1"), "{lines:?}");
    assert_eq!(lines.last().unwrap(), "ended exit code 0 pid=None");
}

/// With a grace of `Duration::MAX` the end waits for the grandchild, as in Twisted, and
/// what it writes after the shell's exit is delivered.
#[test]
fn an_endless_grace_waits_for_the_grandchild() {
    let log = Log::default();
    let l = log.clone();
    run(move || {
        process::Command::new("sh")
            .args(["-c", "(sleep 0.2; echo late) & echo early"])
            .pipe_grace(Duration::MAX)
            .spawn(Recorder::new(&l))
            .unwrap();
    });
    let lines = log.lines();
    let at = |s: &str| lines.iter().position(|l| l == s).unwrap();
    at("data 1 early\n");
    assert!(at("exited exit code 0") < at("data 1 late\n"), "{lines:?}");
    assert!(at("data 1 late\n") < at("lost 1"), "{lines:?}");
    assert_eq!(lines.last().unwrap(), "ended exit code 0 pid=None");
}

#[test]
fn exit_codes_are_reported_exactly() {
    let log = Log::default();
    let l = log.clone();
    run(move || {
        for code in [0, 1, 3, 42, 255] {
            sh(&format!("exit {code}"), &l);
        }
    });
    let mut ended: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("ended"))
        .collect();
    ended.sort();
    assert_eq!(
        ended,
        [
            "ended exit code 0 pid=None",
            "ended exit code 1 pid=None",
            "ended exit code 255 pid=None",
            "ended exit code 3 pid=None",
            "ended exit code 42 pid=None"
        ]
    );
}

#[test]
fn signals_are_reported_exactly() {
    let log = Log::default();
    let l = log.clone();
    let after_exit = Rc::new(RefCell::new(None));
    let a = after_exit.clone();
    run(move || {
        sh("kill -TERM $$", &l);
        sh("kill -USR1 $$", &l);
        let sleeper = sh("exec sleep 10", &l);
        sleeper.signal_process(libc::SIGKILL).unwrap();
        let quick = sh("exit 0", &l);
        let reactor = fate_core::reactor::current();
        let _ = reactor.call_later(Duration::from_millis(300), move || {
            *a.borrow_mut() = Some(quick.signal_process(libc::SIGTERM));
        });
    });
    let mut ended: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("ended"))
        .collect();
    ended.sort();
    assert_eq!(
        ended,
        [
            "ended exit code 0 pid=None",
            "ended killed by signal 10 pid=None",
            "ended killed by signal 15 pid=None",
            "ended killed by signal 9 pid=None",
        ]
    );
    assert!(matches!(
        after_exit.borrow_mut().take(),
        Some(Err(SignalError::ExitedAlready))
    ));
}

#[test]
fn stdin_is_flushed_before_close_and_echoed() {
    let log = Log::default();
    let l = log.clone();
    run(move || {
        let cat = sh("cat", &l);
        assert!(cat.write(b"hello "));
        assert!(cat.write(b"world"));
        cat.close_stdin();
        assert!(
            !cat.write(b"dropped"),
            "writes after close_stdin are dropped"
        );
    });
    let out: String = log
        .lines()
        .iter()
        .filter_map(|l| l.strip_prefix("data 1 ").map(str::to_owned))
        .collect();
    assert_eq!(out, "hello world");
}

#[test]
fn extra_child_fds_in_both_directions() {
    let log = Log::default();
    let l = log.clone();
    run(move || {
        let child = process::Command::new("sh")
            .args(["-c", "echo three >&3; cat <&4"])
            .child_fd(3, ChildFd::Read)
            .child_fd(4, ChildFd::Write)
            .spawn(Recorder::new(&l))
            .unwrap();
        child.write_to_child(4, b"four").unwrap();
        child.close_child_fd(4);
        assert!(child.write_to_child(5, b"x").is_err());
    });
    let lines = log.lines();
    assert!(lines.contains(&"data 3 three\n".to_string()), "{lines:?}");
    assert!(lines.contains(&"data 1 four".to_string()), "{lines:?}");
    assert!(lines.contains(&"lost 3".to_string()) && lines.contains(&"lost 4".to_string()));
    assert_eq!(lines.last().unwrap(), "ended exit code 0 pid=None");
}

#[test]
fn environment_is_inherited_unless_given() {
    std::env::set_var("FATE_PROCESS_TEST", "inherited");
    let log = Log::default();
    let l = log.clone();
    run(move || {
        sh("echo A=$FATE_PROCESS_TEST", &l);
        let env = vec![("ONLY".into(), "this".into())];
        process::spawn_process(
            Recorder::new(&l),
            "/bin/sh",
            ["-c", "echo B=$FATE_PROCESS_TEST$ONLY; pwd"],
            Some(env),
            Some("/tmp".as_ref()),
        )
        .unwrap();
    });
    let lines = log.lines();
    assert!(
        lines.contains(&"data 1 A=inherited\n".to_string()),
        "{lines:?}"
    );
    let b: String = lines
        .iter()
        .filter_map(|l| l.strip_prefix("data 1 B="))
        .collect();
    assert!(b.starts_with("this\n"), "{lines:?}");
}

#[test]
fn sigchld_fallback_reaps_and_reports() {
    let log = Log::default();
    let l = log.clone();
    run(move || {
        for code in [0, 5, 7] {
            process::Command::new("sh")
                .args(["-c", &format!("sleep 0.0{code}; exit {code}")])
                .pidfd(false)
                .spawn(Recorder::new(&l))
                .unwrap();
        }
        let victim = process::Command::new("sleep")
            .arg("10")
            .pidfd(false)
            .spawn(Recorder::new(&l))
            .unwrap();
        victim.kill().unwrap();
    });
    let mut ended: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("ended"))
        .collect();
    ended.sort();
    assert_eq!(
        ended,
        [
            "ended exit code 0 pid=None",
            "ended exit code 5 pid=None",
            "ended exit code 7 pid=None",
            "ended killed by signal 9 pid=None"
        ]
    );
}

#[test]
fn spawn_errors_name_the_path() {
    let _reactor = Reactor::builder().handle_signals(false).build().unwrap();
    let missing = process::Command::new("/no/such/program")
        .spawn(process::DiscardOutput)
        .unwrap_err();
    assert_eq!(missing.kind(), SpawnErrorKind::NotFound);
    assert_eq!(missing.path(), std::path::Path::new("/no/such/program"));
    assert!(missing.to_string().contains("/no/such/program"));

    let on_path = process::Command::new("fate-no-such-program-on-path")
        .spawn(process::DiscardOutput)
        .unwrap_err();
    assert_eq!(on_path.kind(), SpawnErrorKind::NotFound);

    let dir = std::env::temp_dir().join(format!("fate-spawn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\necho hi\n").unwrap();
    let err = process::Command::new(&plain)
        .spawn(process::DiscardOutput)
        .unwrap_err();
    assert_eq!(err.kind(), SpawnErrorKind::NotExecutable);
    assert_eq!(err.path(), plain);

    let err = process::Command::new(&dir)
        .spawn(process::DiscardOutput)
        .unwrap_err();
    assert_eq!(err.kind(), SpawnErrorKind::NotExecutable);

    let bad = dir.join("no-such-dir");
    let err = process::Command::new("true")
        .current_dir(&bad)
        .spawn(process::DiscardOutput)
        .unwrap_err();
    assert_eq!(err.kind(), SpawnErrorKind::BadCwd);
    assert_eq!(err.path(), bad);
    std::fs::remove_dir_all(&dir).unwrap();
}
