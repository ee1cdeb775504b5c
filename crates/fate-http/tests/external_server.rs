//! The client against servers that are not Fate: `python3 -m http.server` (started on a free
//! port, killed at the end) and a raw socket server that stalls mid-body.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{data, run, PythonServer, TempDir};
use fate_http::client::Agent;
use http::StatusCode;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn python_serves_ten_mib_identically() {
    let dir = TempDir::new("py-big");
    let big = data(10 << 20, 11);
    dir.write("big.bin", &big);
    let server = PythonServer::start(dir.path());
    let url = server.url("/big.bin");
    let page = run(LIMIT, async move {
        fate_http::client::get_page(&url).await.unwrap()
    });
    assert!(page == big, "the bytes differ");
}

#[test]
fn python_redirects_404s_and_concurrency() {
    let dir = TempDir::new("py-misc");
    dir.write("sub/index.html", b"<p>sub index</p>");
    for i in 0..20 {
        dir.write(&format!("f{i}.bin"), &data(100_000, 100 + i));
    }
    let server = PythonServer::start(dir.path());
    let base = server.url("");
    run(LIMIT, async move {
        let agent = Agent::new();
        // http.server answers a directory without its slash with a 301.
        let r = agent.get(&format!("{base}/sub")).await.unwrap();
        assert_eq!(r.redirects(), 1);
        assert_eq!(r.url().path(), "/sub/");
        assert_eq!(r.text().await.unwrap(), "<p>sub index</p>");

        let failure = agent
            .get_page(&format!("{base}/missing"))
            .await
            .unwrap_err();
        let err = failure.downcast_ref::<fate_http::Error>().unwrap();
        assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "{err}");
        assert!(err.to_string().contains("/missing"), "{err}");

        let pages: Vec<_> = (0..20u64)
            .map(|i| agent.get_page(&format!("{base}/f{i}.bin")))
            .collect();
        for (i, page) in pages.into_iter().enumerate() {
            assert_eq!(
                page.await.unwrap(),
                data(100_000, 100 + i as u64),
                "file {i}"
            );
        }
    });
}

#[test]
fn python_gzip_deflate_chunked_and_303() {
    let server = PythonServer::start_handler();
    let base = server.url("");
    run(LIMIT, async move {
        let agent = Agent::new();
        let hello = "hello ".repeat(1000);
        for path in ["/gzip", "/deflate"] {
            let r = agent.get(&format!("{base}{path}")).await.unwrap();
            assert!(r.headers().get(http::header::CONTENT_ENCODING).is_none());
            assert_eq!(r.text().await.unwrap(), hello, "{path}");
        }
        let r = agent.get(&format!("{base}/chunked")).await.unwrap();
        assert_eq!(r.progress().total, None);
        let want: String = (0..10).map(|i| format!("line {i}\n")).collect();
        assert_eq!(r.text().await.unwrap(), want);
        // A POST answered with 303 goes on as a GET.
        let r = agent
            .post(&format!("{base}/see-other"), "form=data")
            .await
            .unwrap();
        assert_eq!((r.redirects(), r.url().path()), (1, "/gzip"));
        assert_eq!(r.text().await.unwrap(), hello);
    });
}

#[test]
fn a_server_that_stalls_mid_body_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0; 4096];
        let _ = s.read(&mut buf);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
            .unwrap();
        // Stall until the client has given up (bounded).
        let _ = done_rx.recv_timeout(Duration::from_secs(10));
    });
    let started = Instant::now();
    let err = run(LIMIT, async move {
        let agent = Agent::builder()
            .idle_timeout(Duration::from_millis(300))
            .build();
        let mut r = agent.get(&format!("http://{addr}/")).await.unwrap();
        assert_eq!(&r.chunk().await.unwrap().unwrap()[..], b"0123456789");
        r.chunk().await.unwrap_err()
    });
    let _ = done_tx.send(());
    server.join().unwrap();
    assert!(err.is_timeout() && !err.is_connect(), "{err}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn total_timeout_bounds_a_stalled_response_head() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (_s, _) = listener.accept().unwrap();
        let _ = done_rx.recv_timeout(Duration::from_secs(10));
    });
    let err = run(LIMIT, async move {
        let agent = Agent::builder()
            .response_timeout(Duration::from_millis(200))
            .build();
        agent.get(&format!("http://{addr}/")).await.unwrap_err()
    });
    let _ = done_tx.send(());
    server.join().unwrap();
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("response"), "{err}");
}
