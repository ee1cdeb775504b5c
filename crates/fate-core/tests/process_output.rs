//! `get_process_output`, `get_process_output_and_value` and `Command::output`: results,
//! errors, the timeout that kills, and cancellation.

use std::time::{Duration, Instant};

use fate_core::process::{self, Command, ExitStatus, OutputError, SpawnErrorKind};
use fate_core::reactor::Reactor;

fn reactor() -> Reactor {
    Reactor::builder().handle_signals(false).build().unwrap()
}

#[test]
fn output_of_ls_and_a_pipeline() {
    let reactor = reactor();
    let (ls, pipeline) = reactor
        .block_on(async {
            let ls = process::get_process_output("ls", ["/"]).await.unwrap();
            let pipeline = process::get_process_output_and_value(
                "sh",
                ["-c", "printf 'b\\na\\n' | sort; echo oops >&2; exit 4"],
            )
            .await
            .unwrap();
            (ls, pipeline)
        })
        .unwrap();
    let ls = String::from_utf8(ls).unwrap();
    assert!(ls.lines().any(|l| l == "tmp"), "{ls}");
    assert_eq!(pipeline.stdout, b"a\nb\n");
    assert_eq!(pipeline.stderr, b"oops\n");
    assert_eq!(pipeline.status, ExitStatus::Exited(4));
}

#[test]
fn a_missing_program_fails_the_deferred() {
    let reactor = reactor();
    let failure = reactor
        .block_on(async { process::get_process_output("/no/such/tool", ["x"]).await })
        .unwrap()
        .unwrap_err();
    match failure.downcast_ref::<OutputError>() {
        Some(OutputError::Spawn(e)) => {
            assert_eq!(e.kind(), SpawnErrorKind::NotFound);
            assert_eq!(e.path(), std::path::Path::new("/no/such/tool"));
        }
        other => panic!("unexpected failure {other:?}"),
    }
}

#[test]
fn the_timeout_kills_the_child_and_keeps_its_output() {
    let reactor = reactor();
    let started = Instant::now();
    let failure = reactor
        .block_on(async {
            Command::new("sh")
                .args(["-c", "echo started; exec sleep 30"])
                .timeout(Duration::from_millis(100))
                .output()
                .await
        })
        .unwrap()
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    match failure.downcast_ref::<OutputError>() {
        Some(OutputError::TimedOut { after, output }) => {
            assert_eq!(*after, Duration::from_millis(100));
            assert_eq!(output.stdout, b"started\n");
            assert_eq!(output.status.signal(), Some(libc::SIGKILL));
        }
        other => panic!("unexpected failure {other:?}"),
    }
}

#[test]
fn a_fast_child_beats_its_timeout() {
    let reactor = reactor();
    let out = reactor
        .block_on(async {
            Command::new("echo")
                .arg("quick")
                .timeout(Duration::from_secs(30))
                .output()
                .await
        })
        .unwrap()
        .unwrap();
    assert_eq!(out.stdout, b"quick\n");
    // The timer was cancelled: the reactor has nothing left to wait for.
    let started = Instant::now();
    reactor.run_until_idle().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn cancelling_output_kills_the_child() {
    let reactor = reactor();
    let started = Instant::now();
    let failure = reactor
        .block_on(async {
            let d = Command::new("sleep").arg("30").output();
            d.cancel();
            d.await
        })
        .unwrap()
        .unwrap_err();
    assert!(
        failure.downcast_ref::<fate_deferred::Cancelled>().is_some(),
        "{failure}"
    );
    // The killed child is still reaped before the reactor goes idle.
    reactor.run_until_idle().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn ended_fires_after_process_ended_and_also_later() {
    let reactor = reactor();
    let (first, again) = reactor
        .block_on(async {
            let child = Command::new("sh")
                .args(["-c", "exit 9"])
                .spawn(process::DiscardOutput)
                .unwrap();
            let first = child.ended().await.unwrap();
            // The process state is freed by now; the status is still known.
            let again = child.ended().await.unwrap();
            assert_eq!(child.exit_status(), Some(first));
            (first, again)
        })
        .unwrap();
    assert_eq!(first, ExitStatus::Exited(9));
    assert_eq!(again, first);
}
