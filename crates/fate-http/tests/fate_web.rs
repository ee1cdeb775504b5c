//! The client against Fate's own server (a `Site` with `File`, as `fate web` runs it, plus
//! handlers for the cases a static site cannot show) over 127.0.0.1. Each test runs twice:
//! with the site on the test's own reactor, and on a pool of two reactors sharing the port
//! (`fate web --threads 2`), the client on the test's reactor.

mod common;

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{data, on_a_reactor_and_a_pool, raw_request, run, On, Served, TempDir};
use fate_http::client::Agent;
use fate_http::server::{from_fn, File, Reply, Request, Response, Site, Tree};
use fate_http::Body;
use http::{header, Method, StatusCode};

const LIMIT: Duration = Duration::from_secs(60);

on_a_reactor_and_a_pool!(
    ten_mib_file_arrives_byte_for_byte,
    download_page_writes_the_file_and_removes_it_on_failure,
    chunked_bodies_stream_both_ways,
    redirects_follow_the_method_and_body_rules,
    gzip_bodies_are_decoded,
    not_found_and_refused_are_errors,
    two_hundred_concurrent_downloads,
    keep_alive_reuses_one_connection,
    ranges_give_exact_bytes,
    path_escapes_are_refused,
    request_bodies_over_the_limit_are_refused,
    graceful_shutdown_finishes_the_request_in_flight,
    cancelling_get_page_closes_the_connection,
    header_read_timeout_closes_a_silent_client,
    header_read_timeout_closes_a_client_that_trickles_its_head,
    header_read_timeout_spares_slow_responses_and_slow_bodies,
    header_read_timeout_spares_a_slow_reader_of_a_large_response,
    head_requests_get_headers_only,
    idle_connections_expire_on_both_sides,
);

fn redirect(status: u16, to: &'static str) -> impl fate_http::server::Resource {
    from_fn(move |_: Request| {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::from_u16(status).unwrap();
        r.headers_mut()
            .insert(header::LOCATION, to.parse().unwrap());
        r
    })
}

/// Answers with the request's method and body.
fn echo() -> impl fate_http::server::Resource {
    from_fn(|req: Request| {
        Reply::future(async move {
            let method = req.method().to_string();
            match req.into_body().bytes().await {
                Ok(body) => {
                    let mut out = format!("{method} ").into_bytes();
                    out.extend_from_slice(&body);
                    Response::new(out.into())
                }
                Err(e) if e.is_too_large() => {
                    let mut r = Response::new("too large".into());
                    *r.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                    r
                }
                Err(e) => panic!("reading the body: {e}"),
            }
        })
    })
}

fn site(dir: &Path) -> Site {
    let root = Tree::new()
        .put_child("files", File::new(dir))
        .put_child("r301", redirect(301, "/files/small.txt"))
        .put_child("r302", redirect(302, "r301"))
        .put_child("r303", redirect(303, "/echo"))
        .put_child("r307", redirect(307, "/echo"))
        .put_child("r308", redirect(308, "http://127.0.0.1:1/unreachable"))
        .put_child("loop", redirect(302, "/loop"))
        .put_child("echo", echo())
        .put_child(
            "chunked",
            from_fn(|_: Request| {
                let (tx, body) = Body::channel();
                fate_core::spawn_local(async move {
                    for i in 0..50u32 {
                        let line = format!("chunk {i}\n");
                        if tx.send(line.into()).await.is_err() {
                            return;
                        }
                        fate_core::task::yield_now().await;
                    }
                })
                .detach();
                Response::new(body)
            }),
        )
        .put_child(
            "gzip",
            from_fn(|_: Request| {
                use std::io::Write;
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&data(300_000, 7)).unwrap();
                let mut r = Response::new(e.finish().unwrap().into());
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
                r
            }),
        )
        .put_child(
            "never",
            from_fn(|_: Request| Reply::future(std::future::pending())),
        );
    Site::new(root).max_request_body(1000)
}

/// Builds [`site`] on `dir` (on every worker of a pool).
fn site_of(dir: &TempDir) -> impl Fn() -> Site + Send + Sync + 'static {
    let dir = dir.path().to_owned();
    move || site(&dir)
}

fn ten_mib_file_arrives_byte_for_byte(on: On) {
    let dir = TempDir::new("big");
    let big = data(10 << 20, 1);
    dir.write("big.bin", &big);
    let got = run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let url = format!("http://{}/files/big.bin", l.local_addr());
            let page = fate_http::client::get_page(&url).await.unwrap();
            let mut response = Agent::new().get(&url).await.unwrap();
            assert_eq!(response.progress().total, Some(10 << 20));
            let mut chunks = 0;
            let mut streamed = Vec::new();
            while let Some(chunk) = response.chunk().await.unwrap() {
                chunks += 1;
                streamed.extend_from_slice(&chunk);
                assert_eq!(response.progress().received, streamed.len() as u64);
            }
            assert!(chunks > 10, "the body streams in pieces ({chunks})");
            assert_eq!(streamed, page);
            page
        }
    });
    assert!(got == big, "the bytes differ");
}

fn download_page_writes_the_file_and_removes_it_on_failure(on: On) {
    let dir = TempDir::new("download");
    let body = data(200_000, 2);
    dir.write("d.bin", &body);
    let out = TempDir::new("download-out");
    let (target, missing) = (out.path().join("d.bin"), out.path().join("missing.bin"));
    run(LIMIT, {
        let (site, target, missing) = (site_of(&dir), target.clone(), missing.clone());
        async move {
            let l = Served::start(on, site);
            let url = format!("http://{}/files/d.bin", l.local_addr());
            let n = fate_http::client::download_page(&url, &target)
                .await
                .unwrap();
            assert_eq!(n, 200_000);
            let url = format!("http://{}/files/nope.bin", l.local_addr());
            let err = fate_http::client::download_page(&url, &missing)
                .await
                .unwrap_err();
            let err = err.downcast_ref::<fate_http::Error>().unwrap();
            assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
        }
    });
    assert_eq!(std::fs::read(&target).unwrap(), body);
    assert!(!missing.exists());
}

fn chunked_bodies_stream_both_ways(on: On) {
    let dir = TempDir::new("chunked");
    run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let base = format!("http://{}", l.local_addr());
            let response = Agent::new().get(&format!("{base}/chunked")).await.unwrap();
            assert_eq!(response.progress().total, None, "no Content-Length");
            assert_eq!(
                response.headers().get(header::TRANSFER_ENCODING).unwrap(),
                "chunked"
            );
            let text = response.text().await.unwrap();
            let want: String = (0..50).map(|i| format!("chunk {i}\n")).collect();
            assert_eq!(text, want);

            // A streamed request body.
            let (tx, body) = Body::channel();
            fate_core::spawn_local(async move {
                for part in ["one ", "two ", "three"] {
                    tx.send(Bytes::from_static(part.as_bytes())).await.unwrap();
                }
            })
            .detach();
            let req = http::Request::post(format!("{base}/echo"))
                .body(body)
                .unwrap();
            let response = Agent::new().request(req).await.unwrap();
            assert_eq!(response.text().await.unwrap(), "POST one two three");
        }
    });
}

fn redirects_follow_the_method_and_body_rules(on: On) {
    let dir = TempDir::new("redirect");
    dir.write("small.txt", b"small");
    run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let base = format!("http://{}", l.local_addr());
            let agent = Agent::new();
            // 302 -> 301 -> file.
            let r = agent.get(&format!("{base}/r302")).await.unwrap();
            assert_eq!(r.redirects(), 2);
            assert_eq!(r.url().path(), "/files/small.txt");
            assert_eq!(r.text().await.unwrap(), "small");
            // 303 turns a POST into a GET without a body.
            let req = http::Request::post(format!("{base}/r303"))
                .body(Body::from("payload"))
                .unwrap();
            assert_eq!(
                agent.request(req).await.unwrap().text().await.unwrap(),
                "GET "
            );
            // 307 keeps the method and body.
            let r = agent
                .post(&format!("{base}/r307"), "payload")
                .await
                .unwrap();
            assert_eq!(r.text().await.unwrap(), "POST payload");
            // 307 with a streamed body cannot be followed.
            let (tx, body) = Body::channel();
            drop(tx);
            let req = http::Request::post(format!("{base}/r307"))
                .body(body)
                .unwrap();
            assert!(agent.request(req).await.unwrap_err().is_redirect());
            // A loop stops at the limit.
            let err = Agent::builder()
                .redirect_limit(5)
                .build()
                .get(&format!("{base}/loop"))
                .await
                .unwrap_err();
            assert!(err.is_redirect(), "{err}");
            // With redirects off, the 3xx comes back as it is.
            let r = Agent::builder()
                .redirect_limit(0)
                .build()
                .get(&format!("{base}/r301"))
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        }
    });
}

fn gzip_bodies_are_decoded(on: On) {
    let dir = TempDir::new("gzip");
    run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let url = format!("http://{}/gzip", l.local_addr());
            let r = Agent::new().get(&url).await.unwrap();
            assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
            assert_eq!(r.bytes().await.unwrap(), data(300_000, 7));
            // Decoding off: the raw gzip bytes.
            let r = Agent::builder()
                .decode(false)
                .build()
                .get(&url)
                .await
                .unwrap();
            assert_eq!(r.headers().get(header::CONTENT_ENCODING).unwrap(), "gzip");
            assert_eq!(&r.bytes().await.unwrap()[..2], &[0x1f, 0x8b]);
        }
    });
}

fn not_found_and_refused_are_errors(on: On) {
    let dir = TempDir::new("errors");
    run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let failure = fate_http::client::get_page(&format!("http://{}/nope", l.local_addr()))
                .await
                .unwrap_err();
            let err = failure.downcast_ref::<fate_http::Error>().unwrap();
            assert!(
                err.is_status() && err.status() == Some(StatusCode::NOT_FOUND),
                "{err}"
            );

            let port = common::free_port();
            let failure = fate_http::client::get_page(&format!("http://127.0.0.1:{port}/"))
                .await
                .unwrap_err();
            let err = failure.downcast_ref::<fate_http::Error>().unwrap();
            assert!(err.is_connect() && !err.is_timeout(), "{err}");
            assert!(err.to_string().contains("refused"), "{err}");

            let err = Agent::new().get("ftp://127.0.0.1/").await.unwrap_err();
            assert!(err.is_builder(), "{err}");
        }
    });
}

fn two_hundred_concurrent_downloads(on: On) {
    let dir = TempDir::new("concurrent");
    for i in 0..200 {
        dir.write(&format!("f{i}.bin"), &data(32 * 1024, i));
    }
    run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let agent = Agent::new();
            let pages: Vec<_> = (0..200u64)
                .map(|i| agent.get_page(&format!("http://{}/files/f{i}.bin", l.local_addr())))
                .collect();
            for (i, page) in pages.into_iter().enumerate() {
                assert_eq!(page.await.unwrap(), data(32 * 1024, i as u64), "file {i}");
            }
            assert!(agent.idle_connections(&format!("http://{}/", l.local_addr())) <= 8);
        }
    });
}

fn keep_alive_reuses_one_connection(on: On) {
    let dir = TempDir::new("keepalive");
    dir.write("a.txt", b"a");
    run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let url = format!("http://{}/files/a.txt", l.local_addr());
            let agent = Agent::new();
            for _ in 0..5 {
                assert_eq!(agent.get_page(&url).await.unwrap(), "a");
                assert_eq!(agent.idle_connections(&url), 1);
            }
            assert_eq!(l.connections().await, 1, "one connection served all five");
            agent.close_idle_connections();
            assert_eq!(agent.idle_connections(&url), 0);
        }
    });
}

fn ranges_give_exact_bytes(on: On) {
    let dir = TempDir::new("range");
    let body = data(100_000, 3);
    dir.write("r.bin", &body);
    run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let url = format!("http://{}/files/r.bin", l.local_addr());
            let agent = Agent::new();
            // (Range, status, expected slice)
            let table: [(&str, u16, Option<std::ops::Range<usize>>); 4] = [
                ("bytes=1000-1999", 206, Some(1000..2000)),
                ("bytes=99000-", 206, Some(99000..100_000)),
                ("bytes=-10", 206, Some(99_990..100_000)),
                ("bytes=200000-", 416, None),
            ];
            for (range, status, slice) in table {
                let req = http::Request::get(&url)
                    .header(header::RANGE, range)
                    .body(Body::empty())
                    .unwrap();
                let r = agent.request(req).await.unwrap();
                assert_eq!(r.status().as_u16(), status, "{range}");
                if let Some(slice) = slice {
                    let want = format!("bytes {}-{}/100000", slice.start, slice.end - 1);
                    assert_eq!(r.headers()[header::CONTENT_RANGE], want.as_str());
                    assert_eq!(r.bytes().await.unwrap(), body[slice]);
                } else {
                    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */100000");
                }
            }
            // Conditional: the ETag gives 304.
            let r = agent.get(&url).await.unwrap();
            let etag = r.headers()[header::ETAG].clone();
            assert!(r.headers().contains_key(header::LAST_MODIFIED));
            drop(r);
            let req = http::Request::get(&url)
                .header(header::IF_NONE_MATCH, etag)
                .body(Body::empty())
                .unwrap();
            assert_eq!(
                agent.request(req).await.unwrap().status(),
                StatusCode::NOT_MODIFIED
            );
        }
    });
}

fn path_escapes_are_refused(on: On) {
    let outside = TempDir::new("outside");
    outside.write("secret.txt", b"TOP SECRET");
    let dir = TempDir::new("root");
    dir.write("sub/inside.txt", b"inside");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("link.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("linkdir")).unwrap();
    let site = site_of(&dir);
    let outside_name = outside
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    run(LIMIT, async move {
        let l = Served::start(on, site);
        let addr = l.local_addr();
        let attempts = vec![
            "/files/../Cargo.toml".to_string(),
            format!("/files/../{outside_name}/secret.txt"),
            format!("/files/%2e%2e/{outside_name}/secret.txt"),
            format!("/files/sub/%2E%2E/%2e%2e/{outside_name}/secret.txt"),
            format!("/files/..%2f{outside_name}%2fsecret.txt"),
            "/files/link.txt".to_string(),
            "/files/linkdir/secret.txt".to_string(),
            "/files/sub/..%5c..%5csecret.txt".to_string(),
        ];
        for path in attempts {
            let answer = common::off_thread(move || {
                raw_request(
                    addr,
                    &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
                )
            })
            .await;
            let status: u16 = answer[9..12].parse().unwrap();
            assert!(matches!(status, 400 | 403 | 404), "{answer}");
            assert!(!answer.contains("TOP SECRET"), "{answer}");
        }
        let ok = common::off_thread(move || {
            raw_request(
                addr,
                "GET /files/sub/inside.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            )
        })
        .await;
        assert!(
            ok.starts_with("HTTP/1.1 200") && ok.ends_with("inside"),
            "{ok}"
        );
        let listing = Agent::new()
            .get(&format!("http://{addr}/files/"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(listing.contains("href=\"sub/\""), "{listing}");
        let r = Agent::builder()
            .redirect_limit(0)
            .build()
            .get(&format!("http://{addr}/files/sub"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(r.headers()[header::LOCATION], "/files/sub/");
    });
}

fn request_bodies_over_the_limit_are_refused(on: On) {
    let dir = TempDir::new("limit");
    run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let url = format!("http://{}/echo", l.local_addr());
            let agent = Agent::new();
            let req = http::Request::post(&url)
                .body(Body::from(vec![b'x'; 2000]))
                .unwrap();
            assert_eq!(
                agent.request(req).await.unwrap().status(),
                StatusCode::PAYLOAD_TOO_LARGE
            );
            let (tx, body) = Body::channel();
            fate_core::spawn_local(async move {
                for _ in 0..20 {
                    if tx.send(Bytes::from(vec![b'y'; 100])).await.is_err() {
                        return;
                    }
                }
            })
            .detach();
            let req = http::Request::post(&url).body(body).unwrap();
            assert_eq!(
                agent.request(req).await.unwrap().status(),
                StatusCode::PAYLOAD_TOO_LARGE
            );
            let req = http::Request::post(&url)
                .body(Body::from(vec![b'z'; 999]))
                .unwrap();
            let r = agent.request(req).await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.bytes().await.unwrap().len(), 5 + 999);
        }
    });
}

fn graceful_shutdown_finishes_the_request_in_flight(on: On) {
    // How many requests the page has begun to answer, on whichever worker.
    let started = Arc::new(AtomicU32::new(0));
    run(LIMIT, {
        let started = started.clone();
        async move {
            let counter = started.clone();
            let l = Served::start(on, move || {
                let counter = counter.clone();
                Site::new(from_fn(move |_: Request| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Reply::future(async {
                        fate_core::sleep(Duration::from_millis(200)).await;
                        Response::new("slow done".into())
                    })
                }))
            });
            let url = format!("http://{}/slow", l.local_addr());
            let page = fate_http::client::get_page(&url);
            common::wait_until(LIMIT, "the request to arrive", || {
                started.load(Ordering::SeqCst) == 1
            })
            .await;
            assert_eq!(l.connections().await, 1);
            let drained = Rc::new(Cell::new(false));
            let flag = drained.clone();
            let shutdown = l.shutdown();
            let shutdown = async move {
                shutdown.await.unwrap();
                flag.set(true);
            };
            let shutdown = fate_core::spawn_local(shutdown);
            assert!(!drained.get(), "the slow request is still in flight");
            assert_eq!(page.await.unwrap(), "slow done");
            shutdown.await.unwrap();
            assert!(drained.get());
            assert_eq!(l.connections().await, 0);
            let err = Agent::new().get(&url).await.unwrap_err();
            assert!(err.is_connect(), "{err}");
        }
    });
}

fn cancelling_get_page_closes_the_connection(on: On) {
    let dir = TempDir::new("cancel");
    run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let page = fate_http::client::get_page(&format!("http://{}/never", l.local_addr()));
            l.wait_connections(LIMIT, 1).await;
            page.cancel();
            let failure = page.await.unwrap_err();
            assert!(failure.check::<fate_deferred::Cancelled>(), "{failure}");
            l.wait_connections(Duration::from_secs(5), 0).await;
        }
    });
}

/// A one-page site whose clients have 200 ms to send a request head.
fn impatient_site(on: On) -> Served {
    Served::start(on, || {
        Site::new(from_fn(|_: Request| Response::new("x".into())))
            .header_read_timeout(Duration::from_millis(200))
    })
}

/// The impatient site closed the connection no sooner than its limit, and not much later.
fn assert_closed_in_time(waited: Duration) {
    assert!(
        waited >= Duration::from_millis(180) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

fn header_read_timeout_closes_a_silent_client(on: On) {
    run(LIMIT, async move {
        let l = impatient_site(on);
        let addr = l.local_addr();
        let started = std::time::Instant::now();
        let answer = common::off_thread(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap(); // and never the rest
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            out
        })
        .await;
        assert_closed_in_time(started.elapsed());
        let answer = String::from_utf8_lossy(&answer);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    });
}

fn header_read_timeout_closes_a_client_that_trickles_its_head(on: On) {
    run(LIMIT, async move {
        let l = impatient_site(on);
        let addr = l.local_addr();
        let started = std::time::Instant::now();
        // A byte every 20 ms keeps the connection busy but never finishes the head: bytes
        // arriving do not restart the limit (slowloris).
        let sent = common::off_thread(move || {
            common::trickle_head(&mut std::net::TcpStream::connect(addr).unwrap())
        })
        .await;
        assert!(sent < 500, "the server never closed the connection");
        assert_closed_in_time(started.elapsed());
        l.wait_connections(LIMIT, 0).await;
    });
}

fn header_read_timeout_spares_slow_responses_and_slow_bodies(on: On) {
    run(LIMIT, async move {
        // Both pages take three timeouts to answer; the head arrived in time, so neither
        // connection may be cut.
        let root = || {
            Tree::new()
                .put_child(
                    "slow-reply",
                    from_fn(|_: Request| {
                        Reply::future(async {
                            fate_core::sleep(Duration::from_millis(300)).await;
                            Response::new("late".into())
                        })
                    }),
                )
                .put_child(
                    "slow-body",
                    from_fn(|_: Request| {
                        let (tx, body) = Body::channel();
                        fate_core::spawn_local(async move {
                            for chunk in ["a", "b", "c"] {
                                fate_core::sleep(Duration::from_millis(100)).await;
                                tx.send(chunk.into()).await.unwrap();
                            }
                        })
                        .detach();
                        Response::new(body)
                    }),
                )
        };
        let l = Served::start(on, move || {
            Site::new(root()).header_read_timeout(Duration::from_millis(100))
        });
        let agent = Agent::new();
        let base = format!("http://{}", l.local_addr());
        assert_eq!(
            agent.get_page(&format!("{base}/slow-reply")).await.unwrap(),
            "late"
        );
        assert_eq!(
            agent.get_page(&format!("{base}/slow-body")).await.unwrap(),
            "abc"
        );
        // Then the keep-alive connection, idle, is closed by the same limit.
        l.wait_connections(LIMIT, 0).await;
    });
}

fn header_read_timeout_spares_a_slow_reader_of_a_large_response(on: On) {
    // A file goes out a chunk at a time as the reader makes room, over a second, against a
    // 200 ms head timeout: the wait for the next head starts when hyper has taken the last
    // chunk, while most of the file is still on its way. Every byte must arrive.
    const LEN: usize = 4 << 20;
    let dir = TempDir::new("slow-reader");
    let expected = data(LEN, 7);
    dir.write("big.bin", &expected);
    run(LIMIT, async move {
        let path = dir.path().to_owned();
        let l = Served::start(on, move || {
            Site::new(Tree::new().put_child("files", File::new(&path)))
                .header_read_timeout(Duration::from_millis(200))
        });
        let addr = l.local_addr();
        let received = common::off_thread(move || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET /files/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = Vec::new();
            let mut chunk = vec![0u8; 256 * 1024];
            loop {
                std::thread::sleep(Duration::from_millis(60));
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.extend_from_slice(&chunk[..n]),
                }
            }
            out
        })
        .await;
        let body_at = received
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head")
            + 4;
        assert_eq!(received.len() - body_at, LEN, "the whole body arrived");
        assert!(received[body_at..] == expected[..]);
    });
}

/// On one reactor only: it is about the timers of the reactor that runs the site.
#[test]
fn a_site_whose_connections_have_closed_leaves_the_reactor_idle() {
    // The head timeout ticks (every second here) only while connections are open: once the
    // last one closes no timer is left, and run_until_idle returns at once.
    let served = Rc::new(Cell::new(false));
    let done = served.clone();
    fate_core::run_until_idle(move || {
        let site = Site::new(from_fn(|_: Request| Response::new("x".into())))
            .header_read_timeout(Duration::from_secs(60));
        let l = site.listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let url = format!("http://{}/", l.local_addr());
        fate_core::spawn_local(async move {
            let agent = Agent::new();
            assert_eq!(agent.get_page(&url).await.unwrap(), "x");
            agent.close_idle_connections();
            common::wait_until(LIMIT, "the server to see the close", || {
                l.connections() == 0
            })
            .await;
            l.stop_listening();
            let pending = fate_core::reactor().timeline().delayed_calls();
            assert!(pending.is_empty(), "timers left: {pending:?}");
            done.set(true);
        })
        .detach();
    })
    .unwrap();
    assert!(served.get());
}

fn head_requests_get_headers_only(on: On) {
    let dir = TempDir::new("head");
    dir.write("h.txt", b"hello head");
    run(LIMIT, {
        let site = site_of(&dir);
        async move {
            let l = Served::start(on, site);
            let req = http::Request::head(format!("http://{}/files/h.txt", l.local_addr()))
                .body(Body::empty())
                .unwrap();
            let r = Agent::new().request(req).await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.headers()[header::CONTENT_LENGTH], "10");
            assert_eq!(
                r.headers()[header::CONTENT_TYPE],
                "text/plain; charset=utf-8"
            );
            assert!(r.bytes().await.unwrap().is_empty());
            let req = http::Request::builder()
                .method(Method::DELETE)
                .uri(format!("http://{}/files/h.txt", l.local_addr()))
                .body(Body::empty())
                .unwrap();
            assert_eq!(
                Agent::new().request(req).await.unwrap().status(),
                StatusCode::METHOD_NOT_ALLOWED
            );
        }
    });
}

fn idle_connections_expire_on_both_sides(on: On) {
    let dir = TempDir::new("expire");
    dir.write("a.txt", b"a");
    run(LIMIT, {
        let site = {
            let site = site_of(&dir);
            move || site().header_read_timeout(Duration::from_millis(150))
        };
        async move {
            let l = Served::start(on, site);
            let url = format!("http://{}/files/a.txt", l.local_addr());
            // The agent's pool lets go first.
            let agent = Agent::builder()
                .pool_idle_timeout(Duration::from_millis(50))
                .build();
            assert_eq!(agent.get_page(&url).await.unwrap(), "a");
            assert_eq!(agent.idle_connections(&url), 1);
            fate_core::sleep(Duration::from_millis(100)).await;
            assert_eq!(agent.idle_connections(&url), 0);
            // The server closes a connection idle past its header timeout; the agent then
            // notices and connects afresh.
            let agent = Agent::new();
            assert_eq!(agent.get_page(&url).await.unwrap(), "a");
            l.wait_connections(Duration::from_secs(5), 0).await;
            assert_eq!(agent.get_page(&url).await.unwrap(), "a");
            assert_eq!(agent.idle_connections(&url), 1);
        }
    });
}
