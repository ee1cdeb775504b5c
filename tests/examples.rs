//! End to end: the article's examples run as programs, end by themselves, exit 0, and tell
//! the story in the right order. Each runs with `--fast` (fuses a tenth as long) on real time.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

/// The examples these tests run; built once, together, before the first one runs.
const EXAMPLES: &[&str] = &[
    "fuse",
    "firecracker",
    "chain_of_fuses",
    "not_send",
    "slow_multiply",
    "mad_hatter",
    "looping_call",
    "await_a_deferred",
    "guestbook",
    "get_page",
    "chat_server",
    "testing",
    "simulation",
];

/// Returns the directory that holds the examples, built with this test's profile.
///
/// `cargo test` builds the examples along with this test, so usually they are fresh and used
/// as they are; when they are missing or older than a source file (as with `cargo test --test
/// examples`, which builds no examples), they are built first.
fn examples_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This test runs from <target>/<profile>/deps/; examples go to <target>/<profile>/examples/.
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("<target>/<profile>/deps");
        let dir = profile_dir.join("examples");
        let newest_source = newest_source(Path::new(env!("CARGO_MANIFEST_DIR")));
        let fresh = EXAMPLES.iter().all(|name| {
            let built = fs::metadata(dir.join(name)).and_then(|m| m.modified());
            built.is_ok_and(|built| built > newest_source)
        });
        if !fresh {
            build_examples(profile_dir.ends_with("release"));
        }
        dir
    })
}

/// Builds [`EXAMPLES`] with cargo.
fn build_examples(release: bool) {
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--features", "db"]);
    if release {
        build.arg("--release");
    }
    for name in EXAMPLES {
        build.args(["--example", name]);
    }
    let out = build.output().expect("run cargo build");
    assert!(
        out.status.success(),
        "building the examples failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The latest modification time of the workspace's sources and manifests (`target/` aside).
fn newest_source(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let Ok(entries) = fs::read_dir(dir) else {
        return newest;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        let name = entry.file_name();
        if meta.is_dir() {
            if name != "target" && !name.to_string_lossy().starts_with('.') {
                newest = newest.max(newest_source(&path));
            }
        } else if path
            .extension()
            .is_some_and(|ext| ext == "rs" || ext == "toml")
            || name == "Cargo.lock"
        {
            newest = newest.max(meta.modified().unwrap_or(newest));
        }
    }
    newest
}

/// Output of one example run.
struct Run {
    stdout: String,
    took: Duration,
}

impl Run {
    /// The narrated events (after each line's `] ` timestamp), in order.
    fn events(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter_map(|l| l.split_once("] ").map(|(_, event)| event))
            .collect()
    }

    /// The timestamp, in seconds, of the first line containing `needle`.
    fn at(&self, needle: &str) -> f64 {
        let line = self
            .stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{}", self.stdout));
        let stamp = line
            .trim_start_matches('[')
            .split(" s]")
            .next()
            .unwrap_or("");
        stamp
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("no timestamp on {line:?}"))
    }

    /// Index of the first event containing `needle`.
    fn index(&self, needle: &str) -> usize {
        self.events()
            .iter()
            .position(|e| e.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{}", self.stdout))
    }
}

/// Runs example `name` with `args`; asserts that it exits 0.
fn run(name: &str, args: &[&str]) -> Run {
    let path = examples_dir().join(name);
    let start = Instant::now();
    let out = Command::new(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{name} exited with {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    Run { stdout, took }
}

#[test]
fn simulation_prints_the_same_trace_hash_for_the_same_seed_and_another_for_another() {
    let last_line = |seed: &str| {
        let run = run("simulation", &["--seed", seed]);
        let last = run.stdout.lines().last().unwrap_or("").to_string();
        assert!(last.starts_with("trace hash "), "{}", run.stdout);
        // The story has its faults and recovers from them, in virtual time: fast.
        assert!(run.stdout.contains("-- crash db"), "{}", run.stdout);
        assert!(run.stdout.contains("lost the connection"), "{}", run.stdout);
        assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
        last
    };
    let seven = last_line("7");
    assert_eq!(seven, last_line("7"));
    assert_ne!(seven, last_line("8"));
}

#[test]
fn fuse_burns_one_fuse_stamps_out_the_other_and_ends_by_itself() {
    let run = run("fuse", &["--fast"]);
    assert_eq!(
        run.events(),
        [
            "two fuses are lit; main goes on at once",
            "the blue fuse is stamped out before it burns down",
            "BOOM! the red fuse burnt out",
        ]
    );
    // The red fuse burns 0.2 s with --fast; the blue one would have gone off at 0.3 s.
    assert!(run.at("BOOM! the red fuse") >= 0.2, "{}", run.stdout);
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    assert!(run.stdout.trim_end().ends_with("the program ends"));
}

#[test]
fn firecracker_explodes_in_alices_hands_after_the_fuse_time() {
    let run = run("firecracker", &["--fast"]);
    let boom = "BOOM! The firecracker exploded in the unlucky hands of Alice";
    assert!(run.index("lights the fuse") < run.index("hands the firecracker to Alice"));
    assert!(run.index("hands the firecracker to Alice") < run.index(boom));
    // The fuse burns 0.3 s with --fast, and the hand-over happens while it burns.
    assert!((0.1..0.3).contains(&run.at("hands the firecracker to Alice")));
    assert!(run.at(boom) >= 0.3, "exploded early:\n{}", run.stdout);
    assert!(
        run.took >= Duration::from_millis(300),
        "took {:?}",
        run.took
    );
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    assert!(run.stdout.trim_end().ends_with("the program ends."));
}

#[test]
fn chain_of_fuses_lights_each_fuse_from_the_last_and_ends_by_itself() {
    let run = run("chain_of_fuses", &["--fast"]);
    for (chain, fuses) in [("red", 3), ("blue", 4)] {
        for i in 1..fuses {
            let out = run.index(&format!("{chain} fuse {i} burnt out"));
            let next = run.index(&format!("{chain} fuse {} is lit", i + 1));
            assert_eq!(
                next,
                out + 1,
                "{chain} fuse {i} must light the next:\n{}",
                run.stdout
            );
        }
    }
    // The two chains burn at once: blue's first fuse (0.08 s) goes out before red's (0.1 s).
    assert!(run.index("blue fuse 1 burnt out") < run.index("red fuse 1 burnt out"));
    assert!(run.at("BOOM! The red chain went off") >= 0.25);
    assert!(run.at("BOOM! The blue chain went off") >= 0.27);
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
}

#[test]
fn not_send_shares_an_rc_between_callbacks_and_tasks() {
    let run = run("not_send", &[]);
    assert!(run.index("tea time") < run.index("pours cup number 1"));
    for n in 1..=5 {
        run.index(&format!("pours cup number {n}"));
    }
    assert!(run
        .stdout
        .contains("5 cups poured, 9 lines in the guest book"));
}

#[test]
fn slow_multiply_prints_12_when_the_deferred_fires_and_stops_the_reactor() {
    let run = run("slow_multiply", &["--fast"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let twelve = lines.iter().position(|l| *l == "12");
    let twelve = twelve.unwrap_or_else(|| panic!("no line \"12\" in:\n{}", run.stdout));
    assert!(lines[twelve - 1].contains("the Deferred fired"));
    // The Deferred fires after 0.3 s with --fast; the loop ticked while it waited.
    assert!(run.at("the Deferred fired") >= 0.3);
    assert!(run.index("(the reactor is free: tick)") < run.index("the Deferred fired"));
    assert!(run.index("stopping the reactor") > run.index("the Deferred fired"));
    assert_eq!(lines.last(), Some(&"The reactor has stopped."));
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
}

/// The final line of a `mad_hatter` story: how it ended, without its timestamp.
fn ending(run: &Run) -> String {
    run.events()
        .last()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn mad_hatter_tells_the_same_story_for_the_same_seed() {
    let first = run("mad_hatter", &["--fast", "--seed", "7"]);
    let again = run("mad_hatter", &["--fast", "--seed", "7"]);
    assert!(first.stdout.starts_with("seed 7 "));
    assert_eq!(first.events(), again.events());
}

#[test]
fn mad_hatter_outcomes_include_alice_the_hatter_and_a_dud() {
    // Start the stories at once: they run side by side in real time, a few tenths of a second.
    let path = examples_dir().join("mad_hatter");
    let children: Vec<_> = (0..20)
        .map(|seed| {
            Command::new(&path)
                .args(["--fast", "--seed", &seed.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn mad_hatter")
        })
        .collect();
    let mut endings = Vec::new();
    for child in children {
        let out = child.wait_with_output().expect("wait for mad_hatter");
        assert!(out.status.success());
        let run = Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            took: Duration::ZERO,
        };
        let end = ending(&run);
        if end.contains("hands of the MadHatter") {
            // He never handed it over.
            assert!(!run.stdout.contains("into Alice's hands"), "{}", run.stdout);
        } else if end.contains("hands of Alice") {
            assert!(run.index("into Alice's hands") < run.index("BOOM!"));
        }
        endings.push(end);
    }
    for outcome in [
        "BOOM! It exploded in the hands of Alice",
        "BOOM! It exploded in the hands of the MadHatter",
        "fzzt... the firecracker was a dud; nobody is hurt",
    ] {
        assert!(
            endings.iter().any(|e| e == outcome),
            "never {outcome:?}: {endings:#?}"
        );
    }
}

#[test]
fn mad_hatter_refuses_a_bad_seed() {
    let path = examples_dir().join("mad_hatter");
    let out = Command::new(path).args(["--seed", "tea"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("mad_hatter: --seed \"tea\": "));
}

#[test]
fn looping_call_skips_the_beats_a_blocked_loop_missed_then_stops() {
    let run = run("looping_call", &["--fast"]);
    let events = run.events();
    let snores: Vec<&&str> = events
        .iter()
        .filter(|e| e.contains("Dormouse snores"))
        .collect();
    let late = run.index("the Dormouse snores, late");
    // On time before the hog; one late call right after it, not one per missed beat.
    assert!(run.index("the March Hare lets go") < late);
    assert_eq!(
        events[late + 1..run.index("pours tea")]
            .iter()
            .filter(|e| e.contains("late"))
            .count(),
        0,
        "{}",
        run.stdout
    );
    assert!(events[late].contains("skipped"));
    let fired = events
        .iter()
        .find(|e| e.contains("Deferred fired"))
        .unwrap();
    assert!(
        fired.contains(&format!("{} snores, running = false", snores.len())),
        "{}",
        run.stdout
    );
    assert!(run.at("the loop's Deferred fired") >= 0.32);
}

#[test]
fn await_a_deferred_mixes_callbacks_and_async_in_one_chain() {
    let run = run("await_a_deferred", &["--fast"]);
    assert_eq!(
        run.events(),
        [
            "awaited slow_multiply(3, 4) = 12",
            "awaited two at once: [6, 20], after one step, not two",
            "caught a failure: division by zero; using 0 instead",
            "gave up on 6 * 7: deadline has elapsed; its Deferred is cancelled",
            "a callback receives the total: 38",
        ]
    );
    // Steps of 0.05 s: the two multiplications at once take one step; one after the other
    // they would take two, and timers never fire early.
    let two_at_once = run.at("awaited two at once") - run.at("awaited slow_multiply(3, 4)");
    assert!((0.04..0.1).contains(&two_at_once), "{}", run.stdout);
}

#[test]
fn get_page_downloads_from_its_embedded_server_while_the_loop_ticks() {
    let run = run("get_page", &[]);
    assert!(
        run.stdout.contains("tick 1: the loop is free"),
        "{}",
        run.stdout
    );
    let page = run
        .stdout
        .lines()
        .find(|l| l.ends_with("/page: 65536 bytes"));
    assert!(page.is_some(), "no page of 65536 bytes in:\n{}", run.stdout);
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
}

#[test]
fn testing_runs_its_checks_on_a_virtual_clock_and_a_string_transport() {
    let run = run("testing", &[]);
    assert_eq!(
        run.stdout.lines().filter(|l| l.starts_with("ok: ")).count(),
        2,
        "{}",
        run.stdout
    );
    // Three seconds of virtual time take no real time.
    assert!(run.took < Duration::from_secs(2), "took {:?}", run.took);
}

/// One chat user: a connection to the server and a reader of its lines.
struct ChatUser {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl ChatUser {
    fn connect(addr: &str) -> ChatUser {
        let stream = TcpStream::connect(addr).expect("connect to the chat server");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        ChatUser { stream, reader }
    }

    fn send(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
    }

    /// The next line from the server, without its line end; "" at the end of the stream.
    fn next(&mut self) -> String {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .expect("a line from the server");
        line.trim_end().to_string()
    }
}

/// A running example, killed if the test panics before it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            self.0.kill().ok();
            self.0.wait().ok();
        }
    }
}

#[test]
fn chat_server_relays_lines_between_users_and_stops_on_sigterm() {
    let mut server = Running(
        Command::new(examples_dir().join("chat_server"))
            .arg("tcp:0:interface=127.0.0.1")
            .stdout(Stdio::piped())
            .spawn()
            .expect("start chat_server"),
    );
    let mut banner = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let addr = banner
        .strip_prefix("chat on ")
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("no address in {banner:?}"))
        .to_string();

    let mut alice = ChatUser::connect(&addr);
    assert_eq!(alice.next(), "What's your name?");
    alice.send("alice");
    assert_eq!(alice.next(), "Welcome, alice! Here:");
    let mut bob = ChatUser::connect(&addr);
    assert_eq!(bob.next(), "What's your name?");
    bob.send("alice");
    assert_eq!(bob.next(), "Name taken or empty, pick another:");
    bob.send("bob");
    assert_eq!(bob.next(), "Welcome, bob! Here: alice");
    assert_eq!(alice.next(), "<bob> has joined");
    alice.send("hello, bob");
    assert_eq!(bob.next(), "<alice> hello, bob");
    bob.send("/quit");
    assert_eq!(bob.next(), "", "/quit closes the connection");
    assert_eq!(alice.next(), "<bob> has left");

    let term = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = server.0.wait().unwrap();
    assert!(
        status.success(),
        "chat_server ended with {status:?} on SIGTERM"
    );
}

#[test]
fn examples_end_even_when_their_reader_goes_away() {
    // As `example | head -1`: once the pipe is closed, println! panics inside a callback, and
    // the reactor must stop anyway.
    for name in [
        "slow_multiply",
        "mad_hatter",
        "looping_call",
        "await_a_deferred",
    ] {
        let mut child = Command::new(examples_dir().join(name))
            .arg("--fast")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the example");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read the first line");
        assert!(!first.is_empty(), "{name} printed nothing");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the example") {
                break Some(status);
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.is_some(), "{name} hung once its reader went away");
    }
}

#[test]
fn every_example_opens_with_a_summary_and_run_line_and_is_indexed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let index = fs::read_to_string(root.join("README.md")).expect("examples/README.md");
    let mut seen = 0;
    for entry in fs::read_dir(&root).expect("examples/") {
        let path = entry.expect("an entry of examples/").path();
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        seen += 1;
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let source = fs::read_to_string(&path).unwrap();
        let header: Vec<&str> = source
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .collect();
        assert!(
            !header.is_empty(),
            "{name}.rs does not open with a //! summary"
        );
        assert!(
            header.iter().any(|l| l.contains("Run with")),
            "{name}.rs has no \"Run with\" line in its summary"
        );
        assert!(
            index.contains(&format!("[`{name}`]({name}.rs)")),
            "{name} is not listed in examples/README.md"
        );
        // No traps taught by example: a second stop is harmless and handled chains do not
        // warn, so nothing unwraps `stop()` or silences a result with `let _ =`.
        for (n, line) in source.lines().enumerate() {
            assert!(
                !line.contains("stop().unwrap()") && !line.contains("let _ ="),
                "{name}.rs:{}: {}",
                n + 1,
                line.trim()
            );
        }
    }
    assert!(seen >= EXAMPLES.len());
}

/// Sends one HTTP/1.1 request with `Connection: close` and returns the whole response.
fn http_exchange(addr: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to the guestbook");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn guestbook_stores_a_signed_entry_and_lists_it() {
    use std::io::{BufRead, BufReader};
    let db = std::env::temp_dir().join(format!("fate-guestbook-{}.sqlite", std::process::id()));
    let mut child = Command::new(examples_dir().join("guestbook"))
        .args(["--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the guestbook");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("guestbook on http://")
        .and_then(|rest| rest.strip_suffix('/'))
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    let form = "name=Alice&message=Tea+at+six%21+%3Cb%3E";
    let signed = http_exchange(
        &addr,
        &format!(
            "POST /sign HTTP/1.1\r\nHost: guestbook\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    );
    let listed = http_exchange(
        &addr,
        "GET / HTTP/1.1\r\nHost: guestbook\r\nConnection: close\r\n\r\n",
    );
    let _ = child.kill();
    let _ = child.wait();
    for suffix in ["", "-wal", "-shm"] {
        let _ = fs::remove_file(format!("{}{suffix}", db.display()));
    }
    assert!(signed.starts_with("HTTP/1.1 303"), "{signed}");
    assert!(listed.starts_with("HTTP/1.1 200"), "{listed}");
    // Stored, read back, and escaped on the way out.
    assert!(
        listed.contains("<li><b>Alice</b>: Tea at six! &lt;b&gt;</li>"),
        "{listed}"
    );
}
