//! The protocol of `echo_server`, in a module of its own so that a test can run it unchanged
//! (`tests/simulation.rs` runs it on a simulated network).

use fate::net::{CloseReason, Protocol, Transport};

/// Writes back what it reads, and says hello and goodbye.
#[derive(Default)]
pub(crate) struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        println!("{} connected", transport.peer());
        transport.write(b"hello, I echo\r\n");
        self.transport = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        self.transport.as_ref().unwrap().write(data);
    }

    fn connection_lost(&mut self, reason: CloseReason) {
        let peer = self.transport.as_ref().map(|t| t.peer());
        println!("{} went away: {reason}", peer.unwrap());
    }
}
