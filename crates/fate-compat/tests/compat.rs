//! fate-compat with real tokio-based crates, from a Fate loop: reqwest against a local
//! fate-http `Site`, sqlx on SQLite, and what cancelling, dropping and panicking do.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fate_compat::Compat;
use fate_core::reactor::RemoteHandle;
use fate_deferred::{Cancelled, Panicked};
use fate_http::server::{from_fn, Request, Response, Site, Tree};

/// A local site with one page at `/hello`; returns its base URL.
fn serve_hello() -> String {
    let root = Tree::new().put_child(
        "hello",
        from_fn(|_: Request| Response::new("hello from a Fate site".into())),
    );
    let listening = Site::new(root)
        .listen("127.0.0.1:0".parse().unwrap())
        .unwrap();
    let url = format!("http://{}/hello", listening.local_addr());
    // The listener lives as long as the test's reactor.
    std::mem::forget(listening);
    url
}

#[test]
fn reqwest_fetches_a_page_from_a_site_on_the_same_loop() {
    let body = fate_core::block_on(async {
        let url = serve_hello();
        // reqwest runs on the tokio runtime while the site answers on the reactor's thread.
        fate_compat::spawn(async move { reqwest::get(url).await?.text().await })
            .await
            .unwrap()
    })
    .unwrap();
    assert_eq!(body.unwrap(), "hello from a Fate site");
}

#[test]
fn reqwest_in_a_not_send_future_with_compat() {
    let (status, body) = fate_core::block_on(async {
        let url = serve_hello();
        let seen = Rc::new(Cell::new(0)); // keeps the future !Send
        let fetched = Compat::new(async {
            let response = reqwest::Client::new().get(url).send().await.unwrap();
            seen.set(seen.get() + 1);
            (response.status(), response.text().await.unwrap())
        })
        .await;
        assert_eq!(seen.get(), 1);
        fetched
    })
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, "hello from a Fate site");
}

#[test]
fn sqlx_on_sqlite_from_a_fate_program() {
    let names = fate_core::block_on(async {
        fate_compat::spawn(async {
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect("sqlite::memory:")
                .await?;
            sqlx::query("CREATE TABLE hatters (id INTEGER PRIMARY KEY, name TEXT)")
                .execute(&pool)
                .await?;
            for name in ["Alice", "Hatter", "Dormouse"] {
                sqlx::query("INSERT INTO hatters (name) VALUES (?)")
                    .bind(name)
                    .execute(&pool)
                    .await?;
            }
            sqlx::query_as::<_, (i64, String)>("SELECT id, name FROM hatters ORDER BY id")
                .fetch_all(&pool)
                .await
        })
        .await
    })
    .unwrap();
    let names = names.unwrap().unwrap();
    assert_eq!(
        names,
        [
            (1, "Alice".to_owned()),
            (2, "Hatter".into()),
            (3, "Dormouse".into())
        ]
    );
}

/// Sets its flag and stops the reactor when dropped: proof on the tokio side that the task's
/// future was dropped (aborted).
struct DroppedOnTokio {
    dropped: Arc<AtomicBool>,
    remote: RemoteHandle,
}

impl Drop for DroppedOnTokio {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
        self.remote.call_from_thread(|| fate_core::reactor().stop());
    }
}

/// Spawns a tokio task that never ends, whose future holds a [`DroppedOnTokio`]; `then`
/// gets its Deferred once the task runs on tokio. The run ends when the future is dropped,
/// or after 5 s. Returns whether the future was dropped before then (the runtime's own
/// shutdown at the end of the run drops it anyway).
fn abort_observed(then: impl FnOnce(fate_deferred::Deferred<()>) + 'static) -> bool {
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let timed_out = Rc::new(Cell::new(false));
    let timed_out2 = timed_out.clone();
    fate_core::run(move || {
        let guard = DroppedOnTokio {
            dropped: flag,
            remote: fate_core::reactor().remote(),
        };
        let (started, is_started) = tokio::sync::oneshot::channel();
        let task = fate_compat::spawn(async move {
            let _guard = guard;
            started.send(()).unwrap();
            std::future::pending::<()>().await;
        });
        let _ = fate_compat::spawn(is_started).add_callback(move |_| then(task));
        let _ = fate_core::call_later(Duration::from_secs(5), move || {
            timed_out.set(true);
            fate_core::reactor().stop();
        });
    })
    .unwrap();
    dropped.load(Ordering::SeqCst) && !timed_out2.get()
}

#[test]
fn dropping_the_deferred_aborts_the_tokio_task() {
    assert!(abort_observed(drop));
}

#[test]
fn cancelling_the_deferred_aborts_the_tokio_task() {
    assert!(abort_observed(|task| {
        task.cancel();
        let failure = task.try_result().ok().and_then(Result::err).unwrap();
        assert!(failure.check::<Cancelled>());
    }));
}

#[test]
fn dropping_the_future_that_awaits_it_aborts_the_tokio_task() {
    assert!(abort_observed(|task| {
        fate_core::spawn(async move {
            // The timeout drops its future, which cancels the Deferred it awaits.
            assert!(fate_core::timeout(Duration::from_millis(5), task)
                .await
                .is_err());
            Ok(())
        });
    }));
}

#[test]
fn a_deferred_dropped_with_callbacks_attached_still_delivers() {
    let delivered = Rc::new(Cell::new(0));
    let seen = delivered.clone();
    fate_core::run_until_idle(move || {
        let _ = fate_compat::spawn(async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            7
        })
        .add_callback(move |n| seen.set(n));
    })
    .unwrap();
    // run_until_idle waited for the tokio work, and the callback ran.
    assert_eq!(delivered.get(), 7);
}

#[test]
fn a_panic_on_tokio_becomes_a_failure_and_the_loop_goes_on() {
    let after = fate_core::block_on(async {
        let failure = fate_compat::spawn(async {
            if true {
                panic!("the hatter's tea is cold");
            }
        })
        .await
        .unwrap_err();
        assert_eq!(
            failure.downcast_ref::<Panicked>().map(Panicked::message),
            Some("the hatter's tea is cold")
        );
        // The reactor and the runtime both go on.
        fate_core::sleep(Duration::from_millis(1)).await;
        fate_compat::spawn(async { 1 + 1 }).await.unwrap()
    })
    .unwrap();
    assert_eq!(after, 2);
}

#[test]
fn the_runtime_starts_lazily_and_stops_with_the_reactor() {
    let was_started = Rc::new(Cell::new((false, false)));
    let seen = was_started.clone();
    fate_core::run(move || {
        let before = fate_compat::is_started();
        let _ = fate_compat::spawn(async {}).add_callback(move |()| {
            seen.set((before, fate_compat::is_started()));
            fate_core::reactor().stop();
        });
    })
    .unwrap();
    assert_eq!(was_started.get(), (false, true));
    assert!(!fate_compat::is_started());
}
