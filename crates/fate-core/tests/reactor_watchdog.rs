//! The loop watchdog: a callback, timed call, task poll or I/O handler that holds the loop at
//! least the threshold is reported as a `tracing` warning naming its kind and where it was
//! created; quick ones are not, and a reactor built without a threshold reports nothing.
//!
//! One test blocks for real (200 ms in each of four kinds of code: the thing being detected);
//! the others set a zero threshold, so that every run is reported, and check the kinds and
//! sites without sleeping. (The stderr report, without a subscriber, is checked by the `fate`
//! crate's `never_silent` tests.)

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fate_core::net::{self, for_protocol, Protocol, Transport};
use fate_core::reactor::Reactor;

/// A watchdog report, as the subscriber saw it.
#[derive(Clone, Debug, Default)]
struct Report {
    kind: String,
    site: String,
    millis: u64,
    threshold_ms: u64,
    message: String,
}

/// A `tracing` subscriber that keeps the watchdog's warnings.
#[derive(Clone, Default)]
struct Reports(Arc<Mutex<Vec<Report>>>);

impl Reports {
    fn take(&self) -> Vec<Report> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Collects an event's fields.
#[derive(Default)]
struct Fields(Report);

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "kind" {
            self.0.kind = value.to_string();
        }
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        match field.name() {
            "millis" => self.0.millis = value,
            "threshold_ms" => self.0.threshold_ms = value,
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "site" => self.0.site = format!("{value:?}"),
            "message" => self.0.message = format!("{value:?}"),
            _ => {}
        }
    }
}

impl tracing::Subscriber for Reports {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if event.metadata().target() != "fate::reactor::watchdog" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Runs `f` with `reports` as this thread's subscriber.
fn capturing<R>(reports: &Reports, f: impl FnOnce() -> R) -> R {
    tracing::subscriber::with_default(reports.clone(), f)
}

/// `file:line:` of the line after the one that calls this.
macro_rules! next_line {
    () => {
        format!("{}:{}:", file!(), line!() + 1)
    };
}

/// The reports of `kind`, by site.
fn sites(reports: &[Report], kind: &str) -> Vec<String> {
    reports
        .iter()
        .filter(|r| r.kind == kind)
        .map(|r| r.site.clone())
        .collect()
}

/// The one report `reports` holds, checked to be of `kind` and made at `site`.
fn the_one_report(reports: &Reports, kind: &str, site: &str) -> Report {
    let mut got = reports.take();
    assert_eq!(got.len(), 1, "{got:#?}");
    let report = got.pop().unwrap();
    assert_eq!(report.kind, kind, "{report:#?}");
    assert!(
        report.site.starts_with(site),
        "{report:#?} is not at {site}"
    );
    report
}

/// Stops the reactor when its connection ends; blocks for `block` in `data_received`.
struct Blocking {
    block: Duration,
    transport: Option<Transport>,
}

impl Protocol for Blocking {
    fn connection_made(&mut self, t: Transport) {
        self.transport = Some(t);
    }
    fn data_received(&mut self, data: &[u8]) {
        std::thread::sleep(self.block);
        self.transport.as_ref().unwrap().write(data);
    }
    fn connection_lost(&mut self, _: net::CloseReason) {
        fate_core::reactor::current().stop();
    }
}

/// Listens on loopback with a [`Blocking`] protocol, has a client thread send `hi` and read
/// the echo, runs the reactor until the connection ends, and returns the `listen` site.
fn echo_once(reactor: &Reactor, block: Duration) -> String {
    let listen = next_line!();
    let port = net::listen_tcp(
        "127.0.0.1:0".parse().unwrap(),
        for_protocol(move || Blocking {
            block,
            transport: None,
        }),
    )
    .unwrap();
    let addr = port.host().socket_addr().unwrap();
    let client = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"hi").unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        back
    });
    let limit = reactor.call_later(Duration::from_secs(20), || panic!("no end"));
    reactor.run().unwrap();
    limit.cancel().unwrap();
    assert_eq!(client.join().unwrap(), b"hi");
    port.stop_listening();
    listen
}

#[test]
fn code_that_blocks_200_ms_is_reported_once_with_where_it_was_made() {
    const BLOCK: Duration = Duration::from_millis(200);
    let reports = Reports::default();
    capturing(&reports, || {
        // The debug-build default is on at 100 ms; say so in release builds.
        let builder = Reactor::builder().handle_signals(false);
        let builder = if cfg!(debug_assertions) {
            builder
        } else {
            builder.slow_callback_duration(Some(Duration::from_millis(100)))
        };
        let reactor = builder.build().unwrap();

        reactor.call_soon(|| {});
        let soon = next_line!();
        reactor.call_soon(|| std::thread::sleep(BLOCK));
        reactor.call_soon(|| {});
        reactor.run_until_idle().unwrap();
        let got = the_one_report(&reports, "callback", &soon);
        assert!(got.millis >= 150, "{got:#?}");
        assert_eq!(got.threshold_ms, 100);
        let says = format!("a callback (scheduled at {}) held the loop for", got.site);
        assert!(got.message.contains(&says), "{got:#?}");

        let later = next_line!();
        let _ = fate_core::call_later(Duration::ZERO, || std::thread::sleep(BLOCK));
        reactor.run_until_idle().unwrap();
        the_one_report(&reports, "timed call", &later);

        let spawn = next_line!();
        let _ = fate_core::spawn(async {
            fate_core::task::yield_now().await;
            std::thread::sleep(BLOCK);
            Ok(())
        });
        reactor.run_until_idle().unwrap();
        the_one_report(&reports, "task poll", &spawn);

        let listen = echo_once(&reactor, BLOCK);
        the_one_report(&reports, "I/O handler", &listen);
    });
}

#[test]
fn with_the_watchdog_off_nothing_is_reported() {
    let reports = Reports::default();
    capturing(&reports, || {
        let reactor = Reactor::builder()
            .handle_signals(false)
            .slow_callback_duration(None)
            .build()
            .unwrap();
        reactor.call_soon(|| std::thread::sleep(Duration::from_millis(20)));
        reactor.run_until_idle().unwrap();
    });
    assert!(reports.take().is_empty());
}

#[test]
fn every_kind_of_code_is_named_by_where_it_was_made() {
    let reports = Reports::default();
    let sites_made = capturing(&reports, || {
        let reactor = Reactor::builder()
            .handle_signals(false)
            .slow_callback_duration(Some(Duration::ZERO))
            .build()
            .unwrap();
        let soon = next_line!();
        reactor.call_soon(|| {});
        let at = next_line!();
        let _ = reactor.timeline().call_at(reactor.timeline().now(), || {});
        let looping = next_line!();
        let lc = fate_core::time::LoopingCall::new(&reactor, || {});
        let _ = lc.start(Duration::from_millis(1), false).unwrap();
        let _ = reactor.call_later(Duration::from_millis(3), move || lc.stop());
        let task = next_line!();
        fate_core::spawn_local(async {
            fate_core::task::yield_now().await;
        })
        .detach();
        let remote = reactor.remote();
        let from_thread = next_line!();
        std::thread::spawn(move || remote.call_from_thread(|| {}))
            .join()
            .unwrap();
        let reply = next_line!();
        let _ = fate_core::threads::defer_to_thread(|| 1).add_callback(|n| n + 1);
        reactor.run_until_idle().unwrap();
        [
            ("callback", soon, 1),
            ("timed call", at, 1),
            ("timed call", looping, 1),
            // Twice: to the `yield_now`, then to the end.
            ("task poll", task, 2),
            ("callback from another thread", from_thread, 1),
            ("thread reply", reply, 1),
        ]
    });
    let reports = reports.take();
    for (kind, site, count) in sites_made {
        let n = sites(&reports, kind)
            .iter()
            .filter(|s| s.starts_with(&site))
            .count();
        assert!(n >= count, "{count} {kind} at {site}: {reports:#?}");
    }
    for r in &reports {
        assert!(r.site.contains(".rs:"), "{r:#?}");
        assert_eq!(r.threshold_ms, 0);
    }
}

/// A panic caught anywhere on the loop — by the reactor, or by a Deferred's handler or
/// `maybe_deferred` inside a callback — is reported by its own boundary; the watchdog does
/// not blame the run for the time the panic's report took (a symbolized backtrace can take
/// hundreds of milliseconds). A zero threshold reports every other run.
#[test]
fn a_run_in_which_a_panic_was_caught_is_not_reported() {
    let reports = Reports::default();
    let quiet = capturing(&reports, || {
        let reactor = Reactor::builder()
            .handle_signals(false)
            .slow_callback_duration(Some(Duration::ZERO))
            .build()
            .unwrap();
        reactor.call_soon(|| {
            let d =
                fate_deferred::succeed(1).add_callback(|_: u32| -> u32 { panic!("in a callback") });
            assert!(d.try_result().is_ok_and(|r| r.is_err()));
        });
        reactor.call_soon(|| {
            let d = fate_deferred::maybe_deferred(|| -> u32 { panic!("in a producer") });
            assert!(d.try_result().is_ok_and(|r| r.is_err()));
        });
        reactor.call_soon(|| panic!("in the callback itself"));
        let quiet = next_line!();
        reactor.call_soon(|| {});
        reactor.run_until_idle().unwrap();
        quiet
    });
    the_one_report(&reports, "callback", &quiet);
}
