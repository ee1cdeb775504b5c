//! The async stream types over 127.0.0.1 and Unix sockets: echo, half-close, errors naming
//! what was wrong.

use std::net::Shutdown;

use fate_core::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use futures_util::{AsyncReadExt, AsyncWriteExt};

fn localhost() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn tcp_echo_with_many_tasks() {
    const N: usize = 200;
    let total = fate_core::block_on(async {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        fate_core::spawn_local(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                fate_core::spawn_local(async move {
                    let mut buf = vec![0u8; 4096];
                    loop {
                        let n = s.read(&mut buf).await.unwrap();
                        if n == 0 {
                            break;
                        }
                        s.write_all(&buf[..n]).await.unwrap();
                    }
                })
                .detach();
            }
        })
        .detach();
        let clients: Vec<_> = (0..N)
            .map(|i| {
                fate_core::spawn_local(async move {
                    let mut c = TcpStream::connect(addr).await.unwrap();
                    let msg = format!("client {i} says hi ").repeat(i % 5 + 1);
                    c.write_all(msg.as_bytes()).await.unwrap();
                    c.close().await.unwrap(); // half-close: the server sees EOF after the data
                    let mut back = Vec::new();
                    c.read_to_end(&mut back).await.unwrap();
                    assert_eq!(back, msg.as_bytes());
                    back.len()
                })
            })
            .collect();
        let mut total = 0;
        for c in clients {
            total += c.await.unwrap();
        }
        total
    })
    .unwrap();
    assert!(total > N * 15);
}

#[test]
fn connect_refused_and_unknown_host_name_the_target() {
    fate_core::block_on(async {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let e = TcpStream::connect(free).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(e.to_string().contains(&free.to_string()), "{e}");
        let e = TcpStream::connect_host("no-such-host.invalid", 80)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no-such-host.invalid"), "{e}");
    })
    .unwrap();
}

#[test]
fn udp_round_trip_and_connected_refusal() {
    fate_core::block_on(async {
        let a = UdpSocket::bind(localhost()).unwrap();
        let b = UdpSocket::bind(localhost()).unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        a.send(b"over").await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"over"[..], a.local_addr().unwrap()));
        b.send_to(b"back", from).await.unwrap();
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");
        // Connected to a closed port: the next receive reports the refusal.
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = closed.local_addr().unwrap();
        drop(closed);
        let c = UdpSocket::bind(localhost()).unwrap();
        c.connect(to).unwrap();
        c.send(b"anyone?").await.unwrap();
        let e = c.recv(&mut buf).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    })
    .unwrap();
}

#[test]
fn unix_stream_round_trip_and_half_close() {
    let path = std::env::temp_dir().join(format!("fate-async-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let p = path.clone();
    let got = fate_core::block_on(async move {
        let listener = UnixListener::bind(&p).unwrap();
        fate_core::spawn_local(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).await.unwrap();
            all.reverse();
            s.write_all(&all).await.unwrap();
            s.shutdown(Shutdown::Write).unwrap();
        })
        .detach();
        let mut c = UnixStream::connect(&p).await.unwrap();
        c.write_all(b"stressed").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).await.unwrap();
        back
    })
    .unwrap();
    assert_eq!(got, b"desserts");
    let _ = std::fs::remove_file(&path);
    let e =
        fate_core::block_on(async move { UnixStream::connect(&path).await.unwrap_err() }).unwrap();
    assert!(e.to_string().contains("fate-async-"), "{e}");
}

#[test]
fn unix_pair_streams_bytes() {
    let out = fate_core::block_on(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let big = vec![7u8; 1 << 20];
        let expect = big.clone();
        let writer = fate_core::spawn_local(async move {
            a.write_all(&big).await.unwrap();
        });
        let mut got = vec![0u8; 1 << 20];
        b.read_exact(&mut got).await.unwrap();
        writer.await.unwrap();
        got == expect
    })
    .unwrap();
    assert!(out);
}

#[cfg(feature = "tokio-io")]
#[test]
fn tokio_io_wrapper_reads_and_writes() {
    use fate_core::net::TokioIo;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let out = fate_core::block_on(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut a, mut b) = (TokioIo::new(a), TokioIo::new(b));
        a.write_all(b"tokio traits").await.unwrap();
        a.shutdown().await.unwrap();
        let mut s = String::new();
        b.read_to_string(&mut s).await.unwrap();
        s
    })
    .unwrap();
    assert_eq!(out, "tokio traits");
}

/// Writes `chunk` until `poll_write` answers `Pending`; returns how much it took.
async fn write_until_pending(w: &mut (impl futures_io::AsyncWrite + Unpin), limit: usize) -> usize {
    let chunk = vec![b'w'; 64 * 1024];
    let mut written = 0;
    std::future::poll_fn(|cx| {
        while written < limit {
            match std::pin::Pin::new(&mut *w).poll_write(cx, &chunk) {
                std::task::Poll::Ready(Ok(n)) => written += n,
                std::task::Poll::Ready(Err(e)) => panic!("write: {e}"),
                std::task::Poll::Pending => return std::task::Poll::Ready(()),
            }
        }
        std::task::Poll::Ready(())
    })
    .await;
    written
}

#[test]
fn a_stream_writer_to_a_peer_that_never_reads_gets_pending() {
    const LIMIT: usize = 256 << 20;
    fate_core::block_on(async {
        // TCP: nothing is buffered above the socket, so the writer waits once the kernel's
        // buffers are full.
        let listener = TcpListener::bind(localhost()).unwrap();
        let mut c = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (_silent, _) = listener.accept().await.unwrap();
        let took = write_until_pending(&mut c, LIMIT).await;
        assert!(took > 0 && took < LIMIT, "TCP took {took} bytes");

        let path = std::env::temp_dir().join(format!("fate-pending-{}.sock", std::process::id()));
        let listener = UnixListener::bind(&path).unwrap();
        let mut c = UnixStream::connect(&path).await.unwrap();
        let (_silent, _) = listener.accept().await.unwrap();
        let took = write_until_pending(&mut c, LIMIT).await;
        assert!(took > 0 && took < LIMIT, "Unix took {took} bytes");
    })
    .unwrap();
}
