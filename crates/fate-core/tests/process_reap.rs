//! No zombies: children are reaped after a normal exit, in crowds, when the protocol panics,
//! when the reactor stops with children alive, and when it is dropped with children alive.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fate_core::process::{self, ExitStatus, OnShutdown, ProcessProtocol};
use fate_core::reactor::{PanicPolicy, Reactor};

/// Zombie scans look at every child of this process: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// What /proc says of `pid`: its state letter and parent, if it exists.
fn proc_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ppid ...": comm may contain spaces, so split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Children of this process that are zombies.
fn zombies() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| proc_state(*pid) == Some(('Z', me)))
        .collect()
}

/// Whether `pid` is still a child of ours (alive or zombie).
fn is_our_child(pid: u32) -> bool {
    proc_state(pid).is_some_and(|(_, ppid)| ppid == std::process::id())
}

struct Ended(Rc<RefCell<Vec<ExitStatus>>>);

impl ProcessProtocol for Ended {
    fn process_ended(&mut self, status: ExitStatus) {
        self.0.borrow_mut().push(status);
    }
}

fn reactor() -> Reactor {
    Reactor::builder().handle_signals(false).build().unwrap()
}

#[test]
fn two_hundred_concurrent_children_are_all_reaped() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Two hundred fork+execs in one callback hold the loop on purpose (they must all be alive
    // at once): no watchdog report for that.
    let reactor = Reactor::builder()
        .handle_signals(false)
        .slow_callback_duration(None)
        .build()
        .unwrap();
    let ended = Rc::new(RefCell::new(Vec::new()));
    let pids = Rc::new(RefCell::new(Vec::new()));
    let alive_at_once = Rc::new(Cell::new(0));
    let (e, p, a) = (ended.clone(), pids.clone(), alive_at_once.clone());
    reactor.call_soon(move || {
        for i in 0..200 {
            let child = process::Command::new("sh")
                .args(["-c", &format!("sleep 0.2; exit {}", i % 7)])
                .spawn(Ended(e.clone()))
                .unwrap();
            p.borrow_mut().push(child.pid().unwrap());
        }
        a.set(p.borrow().iter().filter(|pid| is_our_child(**pid)).count());
    });
    reactor.run_until_idle().unwrap();
    assert_eq!(alive_at_once.get(), 200, "the children ran concurrently");
    let ended = ended.borrow();
    assert_eq!(ended.len(), 200);
    for code in 0..7 {
        let n = ended
            .iter()
            .filter(|s| **s == ExitStatus::Exited(code))
            .count();
        assert_eq!(n, (0..200).filter(|i| i % 7 == code).count());
    }
    assert!(pids.borrow().iter().all(|pid| !is_our_child(*pid)));
    assert_eq!(zombies(), Vec::<u32>::new());
}

struct Panicky;

impl ProcessProtocol for Panicky {
    fn out_received(&mut self, _: &[u8]) {
        panic!("a protocol that panics on output");
    }
}

#[test]
fn a_panicking_protocol_still_gets_its_child_reaped() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reactor = Reactor::builder()
        .handle_signals(false)
        .panic_policy(PanicPolicy::Log)
        .build()
        .unwrap();
    let pid = Rc::new(Cell::new(0));
    let p = pid.clone();
    reactor.call_soon(move || {
        // `yes` writes forever: after the panic its stdout is closed, so SIGPIPE ends it.
        let child = process::Command::new("yes").spawn(Panicky).unwrap();
        p.set(child.pid().unwrap());
    });
    reactor.run_until_idle().unwrap();
    assert!(!is_our_child(pid.get()));
    assert_eq!(zombies(), Vec::<u32>::new());
}

#[test]
fn stop_kills_and_reaps_running_children() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reactor = reactor();
    let ended = Rc::new(RefCell::new(Vec::new()));
    let pids = Rc::new(RefCell::new(Vec::new()));
    let (e, p) = (ended.clone(), pids.clone());
    reactor.call_when_running(move || {
        for _ in 0..5 {
            let child = process::Command::new("sleep")
                .arg("30")
                .spawn(Ended(e.clone()))
                .unwrap();
            p.borrow_mut().push(child.pid().unwrap());
        }
        let r = fate_core::reactor::current();
        let _ = r.call_later(Duration::from_millis(20), || {
            fate_core::reactor::current().stop();
        });
    });
    let started = Instant::now();
    reactor.run().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        *ended.borrow(),
        vec![
            ExitStatus::Signaled {
                signal: 9,
                core_dumped: false
            };
            5
        ]
    );
    assert!(pids.borrow().iter().all(|pid| !is_our_child(*pid)));
    assert_eq!(zombies(), Vec::<u32>::new());
}

#[test]
fn dropping_the_reactor_kills_and_reaps_children() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reactor = reactor();
    let pid = reactor
        .block_on(async {
            let child = process::Command::new("sleep")
                .arg("30")
                .spawn(process::DiscardOutput)
                .unwrap();
            child.pid().unwrap()
        })
        .unwrap();
    assert!(is_our_child(pid));
    drop(reactor);
    assert!(!is_our_child(pid));
    assert_eq!(zombies(), Vec::<u32>::new());
}

#[test]
fn detached_children_outlive_the_reactor_and_are_reaped_later() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let reactor = reactor();
    let pid = Rc::new(Cell::new(0));
    let p = pid.clone();
    reactor.call_when_running(move || {
        let child = process::Command::new("sleep")
            .arg("0.3")
            .on_shutdown(OnShutdown::Detach)
            .spawn(process::DiscardOutput)
            .unwrap();
        p.set(child.pid().unwrap());
        fate_core::reactor::current().stop();
    });
    reactor.run().unwrap();
    drop(reactor);
    let pid = pid.get();
    assert_eq!(
        proc_state(pid).map(|s| s.0 != 'Z'),
        Some(true),
        "still running"
    );
    // The reaper thread waits for it; poll /proc (bounded) until it is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_our_child(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!is_our_child(pid), "the detached child was never reaped");
}
