//! Flow control with no producer: an echo protocol written the obvious way (it writes what it
//! reads, nothing more) holds bounded memory when its client sends and never reads, because a
//! transport with no producer registered is its own producer and stops reading while its write
//! buffer is above the high water mark.
//!
//! Alone in its test binary: it checks the process's peak RSS, which other tests would raise.

mod net_support;

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::Duration;

use fate_core::net::{self, for_protocol, CloseReason, Protocol, Transport};
use net_support::{memory_kib, reactor, run_bounded, stop, Echo};

/// What the client offers to send; flow control stops it long before.
const OFFERED: usize = 64 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// The echo protocol, watched: after each chunk, how much the transport holds unsent.
struct Metered {
    echo: Echo,
    transport: Option<Transport>,
    peak: Rc<Cell<usize>>,
}

impl Protocol for Metered {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport.clone());
        self.echo.connection_made(transport);
    }
    fn data_received(&mut self, data: &[u8]) {
        self.echo.data_received(data);
        let buffered = self.transport.as_ref().unwrap().buffered();
        self.peak.set(self.peak.get().max(buffered));
    }
    fn connection_lost(&mut self, reason: CloseReason) {
        assert!(reason.is_clean(), "{reason}");
        stop();
    }
}

/// Byte `i` of the client's stream: a pattern that shows reordering or loss.
fn byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// Sends until the server stops taking bytes (no progress for a second: the kernel's buffers
/// are full because the server stopped reading), then reads back everything it sent.
/// Returns how many bytes it sent.
fn client(addr: std::net::SocketAddr) -> usize {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let mut chunk = vec![0u8; CHUNK];
    let mut sent = 0;
    'send: while sent < OFFERED {
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = byte(sent + i);
        }
        let mut off = 0;
        while off < CHUNK {
            match s.write(&chunk[off..]) {
                Ok(n) => off += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    sent += off;
                    break 'send;
                }
                Err(e) => panic!("client write: {e}"),
            }
        }
        sent += CHUNK;
    }
    s.shutdown(Shutdown::Write).unwrap();
    // Checked as it arrives, in one chunk's worth of memory: the client shares the process
    // whose RSS the test measures, so it must not hold the megabytes the kernel buffered.
    let mut received = 0;
    loop {
        let n = s.read(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        assert!(
            chunk[..n]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == byte(received + i)),
            "the echo reordered or lost bytes near byte {received}"
        );
        received += n;
    }
    assert_eq!(received, sent, "the echo lost or added bytes");
    sent
}

#[test]
fn an_echo_client_that_never_reads_holds_the_server_bounded() {
    let reactor = reactor();
    let peak = Rc::new(Cell::new(0));
    let p = peak.clone();
    let port = net::listen_tcp(
        "127.0.0.1:0".parse().unwrap(),
        for_protocol(move || Metered {
            echo: Echo::default(),
            transport: None,
            peak: p.clone(),
        }),
    )
    .unwrap();
    let addr = port.host().socket_addr().unwrap();
    let (rss_before, _) = memory_kib();
    let sender = std::thread::spawn(move || client(addr));
    run_bounded(&reactor, Duration::from_secs(60));
    let sent = sender.join().unwrap();
    let (_, rss_peak) = memory_kib();
    // The server stopped reading, so the client was stopped by full kernel buffers.
    assert!(sent < OFFERED, "the client sent all {OFFERED} bytes");
    // At most the high water mark (64 KiB) plus the chunk whose echo crossed it.
    assert!(
        peak.get() <= 128 * 1024,
        "the server buffered {} bytes",
        peak.get()
    );
    let growth_mib = rss_peak.saturating_sub(rss_before) / 1024;
    assert!(growth_mib < 16, "RSS grew by {growth_mib} MiB");
}
