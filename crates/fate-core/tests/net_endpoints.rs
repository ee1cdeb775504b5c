//! Endpoint strings: bad ones are typed errors naming the problem; good ones listen and
//! connect, with Deferreds that fire with the port and the transport or errback with a
//! `Failure` naming what went wrong.

mod net_support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use fate_core::net::{
    client_from_str, for_protocol, server_from_str, ConnectError, ListeningPort, Transport,
};
use fate_deferred::Failure;
use net_support::{reactor, run_bounded, stop, Echo};

#[test]
fn bad_server_strings_say_what_is_wrong() {
    let cases = [
        ("", "empty endpoint description"),
        (
            "udp:53",
            "unknown endpoint type \"udp\" (expected tcp, unix or tls)",
        ),
        ("tcp", "missing port"),
        ("tcp:http", "port \"http\" is not a number from 0 to 65535"),
        (
            "tcp:70000",
            "port \"70000\" is not a number from 0 to 65535",
        ),
        (
            "tcp:80:interface=nowhere",
            "interface \"nowhere\" is not an IP address",
        ),
        (
            "tcp:80:backlog=-1",
            "backlog \"-1\" is not a positive number",
        ),
        (
            "tcp:80:colour=red",
            "unknown option \"colour\" for a tcp endpoint",
        ),
        (
            "tcp:80:backlog=5:backlog=6",
            "option \"backlog\" given twice",
        ),
        (
            "tcp:80:backlog=5:extra",
            "positional field \"extra\" after name=value options",
        ),
        ("tcp:80:81", "unexpected field \"81\""),
        ("unix", "missing address"),
    ];
    for (input, message) in cases {
        let e = server_from_str(input).unwrap_err();
        assert_eq!(e.message(), message, "{input:?}");
        assert_eq!(e.input(), input);
        assert!(e.to_string().contains(message));
    }
}

#[test]
fn bad_client_strings_say_what_is_wrong() {
    let cases = [
        ("tcp:host=example.com", "missing port"),
        ("tcp:port=80", "missing host"),
        ("tcp:host=:port=80", "empty host"),
        (
            "tcp:host=a:port=80:timeout=soon",
            "timeout \"soon\" is not a positive number of seconds",
        ),
        (
            "tcp:host=a:port=80:timeout=-3",
            "timeout \"-3\" is not a positive number of seconds",
        ),
        // Found by fuzzing (fuzz/fuzz_targets/endpoint.rs): this panicked.
        (
            "tcp:host=a:port=80:timeout=23333333333333333333333333333333333333333333333333.4",
            "timeout \"23333333333333333333333333333333333333333333333333.4\" is not a positive \
             number of seconds",
        ),
        (
            "tcp:host=a:port=80:timeout=NaN",
            "timeout \"NaN\" is not a positive number of seconds",
        ),
        (
            "tcp:host=a:port=80:timeout=1e-300",
            "timeout \"1e-300\" is not a positive number of seconds",
        ),
        (
            "tcp:host=a:port=80:bindAddress=x",
            "bindAddress \"x\" is not an IP address",
        ),
        (
            "gopher:host=a",
            "unknown endpoint type \"gopher\" (expected tcp, unix or tls)",
        ),
        ("unix:timeout=3", "missing path"),
    ];
    for (input, message) in cases {
        let e = client_from_str(input).unwrap_err();
        assert_eq!(e.message(), message, "{input:?}");
    }
}

#[test]
fn good_strings_parse_both_ways_of_writing() {
    assert_eq!(
        server_from_str("tcp:8080").unwrap().to_string(),
        "tcp:0.0.0.0:8080"
    );
    assert_eq!(
        server_from_str("tcp:port=8080:interface=\\:\\:1")
            .unwrap()
            .to_string(),
        "tcp:[::1]:8080"
    );
    assert_eq!(
        server_from_str("unix:/run/x.sock:backlog=5")
            .unwrap()
            .to_string(),
        "unix:/run/x.sock"
    );
    assert_eq!(
        client_from_str("tcp:example.com:80").unwrap().to_string(),
        "tcp:example.com:80"
    );
    assert_eq!(
        client_from_str("unix:path=/run/x.sock:timeout=1")
            .unwrap()
            .to_string(),
        "unix:/run/x.sock"
    );
}

#[cfg(feature = "tls")]
#[test]
fn tls_strings_need_readable_certificates() {
    let e = server_from_str("tls:443:certKey=/nonexistent.pem").unwrap_err();
    assert!(e.message().contains("/nonexistent.pem"), "{e}");
    let e = server_from_str("tls:443").unwrap_err();
    assert_eq!(e.message(), "missing certKey");
    let e = client_from_str("tls:host=a:port=443:caCerts=/nonexistent-ca.pem").unwrap_err();
    assert!(e.message().contains("/nonexistent-ca.pem"), "{e}");
}

#[test]
fn listen_and_connect_through_deferreds() {
    let reactor = reactor();
    let port: Rc<RefCell<Option<ListeningPort>>> = Rc::default();
    let p = port.clone();
    let _ = server_from_str("tcp:0:interface=127.0.0.1")
        .unwrap()
        .listen(for_protocol(Echo::default))
        .add_callback(move |listening| *p.borrow_mut() = Some(listening));
    let listening = port.borrow().clone().expect("listen fires at once");
    let peer = Rc::new(RefCell::new(None));
    let pe = peer.clone();
    let client = format!(
        "tcp:host=127.0.0.1:port={}",
        listening.host().port().unwrap()
    );
    let _ = client_from_str(&client)
        .unwrap()
        .connect(for_protocol(Echo::default))
        .add_callback(move |t: Transport| {
            *pe.borrow_mut() = Some(t.peer());
            t.lose_connection();
            stop();
        });
    run_bounded(&reactor, Duration::from_secs(30));
    assert_eq!(*peer.borrow(), Some(listening.host()));
}

#[test]
fn failures_reach_the_deferreds() {
    let reactor = reactor();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let failures = Rc::new(RefCell::new(Vec::<String>::new()));
    let f = failures.clone();
    let listen = format!(
        "tcp:{}:interface=127.0.0.1",
        busy.local_addr().unwrap().port()
    );
    let _ = server_from_str(&listen)
        .unwrap()
        .listen(for_protocol(Echo::default))
        .add_both(move |r: Result<ListeningPort, Failure>| {
            f.borrow_mut().push(r.unwrap_err().to_string());
        });
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for (target, check) in [
        (
            format!("tcp:host=127.0.0.1:port={}", free.port()),
            "refused",
        ),
        (
            "tcp:host=no-such-host.invalid:port=80".to_string(),
            "could not resolve host",
        ),
    ] {
        let f = failures.clone();
        let _ = client_from_str(&target)
            .unwrap()
            .connect(for_protocol(Echo::default))
            .add_both(move |r: Result<Transport, Failure>| {
                let failure = r.unwrap_err();
                assert!(failure.check::<ConnectError>(), "{failure}");
                assert!(failure.to_string().contains(check), "{failure}");
                f.borrow_mut().push(failure.to_string());
            });
    }
    reactor.run_until_idle().unwrap();
    let failures = failures.borrow();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(failures[0].contains("cannot listen on"), "{failures:?}");
}

#[test]
fn cancelling_the_connect_deferred_stops_the_attempt() {
    let reactor = reactor();
    let outcome = Rc::new(RefCell::new(None));
    let o = outcome.clone();
    let d = client_from_str("tcp:host=no-such-host.invalid:port=80")
        .unwrap()
        .connect(for_protocol(Echo::default));
    d.cancel();
    let _ = d.add_both(move |r: Result<Transport, Failure>| {
        *o.borrow_mut() = Some(r.map(|_| ()).map_err(|f| f.to_string()));
    });
    reactor.run_until_idle().unwrap();
    let got = outcome.borrow().clone().unwrap();
    assert!(got.unwrap_err().contains("cancel"));
}
