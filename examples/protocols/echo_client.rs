//! The protocol of `echo_client`, in a module of its own so that a test can run it unchanged
//! (`tests/simulation.rs` runs it on a simulated network).

use fate::net::{CloseReason, Protocol, Transport};

/// Hears everything received, once the echo is complete.
type OnEchoed = Box<dyn FnOnce(&[u8])>;

/// Sends its lines, waits for their echo (after the server's greeting line), hands what it
/// received to `on_echoed`, then closes; `on_lost` hears how the connection ended.
pub(crate) struct EchoClient {
    lines: Vec<String>,
    received: Vec<u8>,
    transport: Option<Transport>,
    on_echoed: Option<OnEchoed>,
    on_lost: Option<Box<dyn FnOnce(CloseReason)>>,
}

impl EchoClient {
    pub(crate) fn new(
        lines: Vec<String>,
        on_echoed: impl FnOnce(&[u8]) + 'static,
        on_lost: impl FnOnce(CloseReason) + 'static,
    ) -> EchoClient {
        EchoClient {
            lines,
            received: Vec::new(),
            transport: None,
            on_echoed: Some(Box::new(on_echoed)),
            on_lost: Some(Box::new(on_lost)),
        }
    }
}

impl Protocol for EchoClient {
    fn connection_made(&mut self, transport: Transport) {
        for line in &self.lines {
            transport.write_sequence(&[line.as_bytes(), b"\r\n"]);
        }
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.received.extend_from_slice(data);
        let lines = self.received.split(|&b| b == b'\n').count() - 1;
        // The server's greeting, then our lines.
        if lines > self.lines.len() {
            if let Some(report) = self.on_echoed.take() {
                report(&self.received);
                self.transport.as_ref().unwrap().lose_connection();
            }
        }
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        if let Some(report) = self.on_lost.take() {
            report(reason);
        }
    }
}
