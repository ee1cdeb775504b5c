//! End to end: the process, standard-I/O and chat examples run as programs, end by
//! themselves and exit 0 — `hot_potato` with its stdin a pipe and `/dev/null`, `chat_server`
//! with clients that end their lines with a bare `\n`, as `nc` does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

const EXAMPLES: &[&str] = &["process_output", "hot_potato", "chat_server"];

/// Builds the examples with this test's profile; returns the directory that holds them.
fn examples_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("<target>/<profile>/deps");
        let mut build = Command::new(env!("CARGO"));
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet"]);
        if profile_dir.ends_with("release") {
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
        profile_dir.join("examples")
    })
}

/// Runs example `name` with `args` and `input` on its stdin (`None`: `/dev/null`).
fn run(name: &str, args: &[&str], input: Option<&[u8]>) -> String {
    let mut child = Command::new(examples_dir().join(name))
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).unwrap();
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "{name} exited with {status:?}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

#[test]
fn process_output_prints_each_commands_output_and_status() {
    let out = run("process_output", &[], None);
    for needle in [
        "(tick 1)",
        "== ls -l /: exit code 0",
        "== sort | uniq -c: exit code 3",
        "2 pear",
        "no-such-program-here: program not found",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from:\n{out}");
    }
}

#[test]
fn hot_potato_plays_the_moves_from_a_pipe_then_lets_the_fuses_burn() {
    let out = run(
        "hot_potato",
        &["--fast", "--seed", "7"],
        Some(b"alice\nb\nzed\n"),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Seed 7."), "{out}");
    let at = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle:?} missing from:\n{out}"))
    };
    assert!(at("the Hatter passes firecracker #0 to Alice") < at("passes firecracker #1 to Bob"));
    at("Nobody here is called \"zed\"");
    at("(no more input");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("BOOM!")).count(),
        3,
        "{out}"
    );
    assert!(
        lines.last().unwrap().starts_with("All gone. Burns:"),
        "{out}"
    );
}

#[test]
fn hot_potato_with_no_input_burns_the_hatter() {
    let out = run("hot_potato", &["--fast", "--seed", "3"], None);
    assert!(
        out.contains("All gone. Burns: the Hatter 3, Alice 0, Bob 0."),
        "{out}"
    );
}

/// A chat client on a real socket, as `nc` is: lines out end in `\n` only.
struct Client {
    out: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    fn connect(port: u16) -> Client {
        let out = TcpStream::connect(("127.0.0.1", port)).expect("connect to the chat");
        out.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let reader = BufReader::new(out.try_clone().unwrap());
        Client { out, reader }
    }

    fn say(&mut self, line: &str) {
        self.out.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn hear(&mut self) -> String {
        let mut line = String::new();
        self.reader
            .read_line(&mut line)
            .expect("a line from the chat");
        line
    }
}

#[test]
fn chat_server_works_with_clients_that_send_bare_newlines() {
    let mut server = Command::new(examples_dir().join("chat_server"))
        .arg("tcp:0:interface=127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the chat server");
    let mut banner = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    // "chat on 127.0.0.1:PORT; Ctrl-C stops"
    let port: u16 = banner
        .split(&[':', ';'][..])
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {banner:?}"));

    let mut alice = Client::connect(port);
    assert_eq!(alice.hear(), "What's your name?\r\n");
    alice.say("alice");
    assert_eq!(alice.hear(), "Welcome, alice! Here: \r\n");
    let mut bob = Client::connect(port);
    assert_eq!(bob.hear(), "What's your name?\r\n");
    bob.say("bob");
    assert_eq!(bob.hear(), "Welcome, bob! Here: alice\r\n");
    assert_eq!(alice.hear(), "<bob> has joined\r\n");
    bob.say("hi alice");
    assert_eq!(alice.hear(), "<bob> hi alice\r\n");
    alice.say("/quit");
    let mut rest = Vec::new();
    alice.reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
    assert_eq!(bob.hear(), "<alice> has left\r\n");

    let stopped = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let out = server.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
