//! A `Site` against clients that break the rules (issue 10): requests without a `Host` or
//! with two, heads over the limit sent in one write, and clients that stop reading. Real
//! sockets on 127.0.0.1; the clients are blocking std sockets on helper threads. Each test
//! runs twice: the site on the test's reactor, and on a pool of two reactors.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{off_thread, on_a_reactor_and_a_pool, raw_request, run, On, Served, TempDir};
use fate_http::server::{from_fn, File, Request, Response, Site, Tree};

const LIMIT: Duration = Duration::from_secs(60);

on_a_reactor_and_a_pool!(
    requests_without_a_host_or_with_two_are_400,
    a_head_over_the_limit_is_refused_even_in_one_write,
    send_timeout_aborts_a_client_that_stops_reading_a_file,
    send_timeout_aborts_a_closing_connection_whose_last_bytes_never_leave,
    a_refusal_reaches_a_client_that_is_still_sending_its_body,
);

/// Serves `dir` under `/files` and 8 MiB at `/big`, set up by `tune`.
fn serve(on: On, dir: &TempDir, tune: fn(Site) -> Site) -> Served {
    let dir = dir.path().to_owned();
    let big = Bytes::from(vec![3u8; 8 << 20]);
    Served::start(on, move || {
        let big = big.clone();
        tune(Site::new(
            Tree::new().put_child("files", File::new(&dir)).put_child(
                "big",
                from_fn(move |_: Request| Response::new(big.clone().into())),
            ),
        ))
    })
}

/// Issue 10, weakness 14: RFC 9112 §3.2 — an HTTP/1.1 request without `Host`, or any request
/// with two, is answered 400 (and the connection closed).
fn requests_without_a_host_or_with_two_are_400(on: On) {
    let dir = TempDir::new("host");
    dir.write("a.txt", b"a");
    // (request, expected status line)
    let table = [
        ("GET /files/a.txt HTTP/1.1\r\n\r\n", "HTTP/1.1 400"),
        (
            "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (
            "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (
            "GET /files/a.txt HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n",
            "HTTP/1.0 400",
        ),
        (
            "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "HTTP/1.1 200",
        ),
        ("GET /files/a.txt HTTP/1.0\r\n\r\n", "HTTP/1.0 200"),
    ];
    run(LIMIT, async move {
        let l = serve(on, &dir, |site| site);
        let addr = l.local_addr();
        for (request, want) in table {
            let answer = off_thread(move || raw_request(addr, request)).await;
            assert!(answer.starts_with(want), "{request:?}: {answer}");
        }
    });
}

/// Issue 10, weakness 15: the head limit (64 KiB by default) holds even when the whole head
/// arrives in one write; a head under it is served.
fn a_head_over_the_limit_is_refused_even_in_one_write(on: On) {
    let dir = TempDir::new("head-limit");
    dir.write("a.txt", b"a");
    let head = |filler: usize| {
        format!(
            "GET /files/a.txt HTTP/1.1\r\nHost: x\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
            "f".repeat(filler)
        )
    };
    let fits = head(32 << 10);
    run(LIMIT, async move {
        let l = serve(on, &dir, |site| site);
        let addr = l.local_addr();
        // Without a hard limit, heads up to about 100 KiB got through: they fit the spare
        // room of the read buffer, and were parsed whole before its size was checked.
        for kib in [66, 80, 96, 112] {
            let big = head(kib << 10);
            let answer = off_thread(move || raw_request(addr, &big)).await;
            assert!(
                answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
                "{kib} KiB: {answer}"
            );
        }
        let answer = off_thread(move || raw_request(addr, &fits)).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    });
}

/// Connects with a small receive buffer and asks for `path`; reads nothing.
fn ask_and_never_read(addr: SocketAddr, path: &str) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    socket.connect(&addr.into()).unwrap();
    let mut s: TcpStream = socket.into();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    s
}

/// Reads what the server sent before it aborted; panics if the whole response came.
fn assert_cut_short(mut s: TcpStream, len: usize) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = 0;
    let mut buf = vec![0; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(got < len, "all {got} bytes came");
}

/// Issue 10, weakness 11: a client that stops reading a file is aborted once the send has
/// made no progress for the send timeout, and no sooner.
fn send_timeout_aborts_a_client_that_stops_reading_a_file(on: On) {
    let dir = TempDir::new("send-timeout");
    let len = 32 << 20;
    dir.write("big.bin", &vec![5u8; len]);
    run(LIMIT, async move {
        let l = serve(on, &dir, |site| {
            site.send_timeout(Duration::from_millis(300))
        });
        let addr = l.local_addr();
        let started = Instant::now();
        let s = off_thread(move || ask_and_never_read(addr, "/files/big.bin")).await;
        l.wait_connections(Duration::from_secs(10), 1).await;
        l.wait_connections(Duration::from_secs(10), 0).await;
        assert!(started.elapsed() >= Duration::from_millis(300));
        off_thread(move || assert_cut_short(s, len)).await;
    });
}

/// The same once the response was handed over whole and only its last bytes wait: the
/// connection, closed by the head timeout, would wait for ever for a client that never
/// reads them.
fn send_timeout_aborts_a_closing_connection_whose_last_bytes_never_leave(on: On) {
    let dir = TempDir::new("send-timeout-closing");
    run(LIMIT, async move {
        let l = serve(on, &dir, |site| {
            site.header_read_timeout(Duration::from_millis(100))
                .send_timeout(Duration::from_millis(400))
        });
        let addr = l.local_addr();
        let s = off_thread(move || ask_and_never_read(addr, "/big")).await;
        l.wait_connections(Duration::from_secs(10), 1).await;
        l.wait_connections(Duration::from_secs(10), 0).await;
        off_thread(move || assert_cut_short(s, 8 << 20)).await;
    });
}

/// A 413 sent before the request's body was read, on a connection the server then closes,
/// reaches a client that goes on sending its body: the server lingers (shuts its side, reads
/// and drops what still comes), where closing at once would make the kernel answer the late
/// body with a reset that destroys the unread 413.
fn a_refusal_reaches_a_client_that_is_still_sending_its_body(on: On) {
    let dir = TempDir::new("linger");
    run(LIMIT, async move {
        let l = serve(on, &dir, |site| site.max_request_body(1000));
        let addr = l.local_addr();
        let answer = off_thread(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let head = "POST /files/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n";
            s.write_all(head.as_bytes()).unwrap();
            // Time for the server to answer and close before the body comes.
            std::thread::sleep(Duration::from_millis(300));
            let mut sent = 0;
            while sent < 1_000_000 {
                match s.write(&[b'x'; 16 * 1024]) {
                    Ok(n) => sent += n,
                    Err(e) => return format!("sending the body: {e}"),
                }
            }
            let mut answer = Vec::new();
            match s.read_to_end(&mut answer) {
                Ok(_) => String::from_utf8_lossy(&answer).into_owned(),
                Err(e) => format!("reading the answer: {e} (after {} bytes)", answer.len()),
            }
        })
        .await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    });
}
