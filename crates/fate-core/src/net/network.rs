//! `Network`: the listen and connect calls as a trait, so code can run on the real reactor
//! or on a [`MemoryReactor`](crate::testing::MemoryReactor) in tests.

use std::io;
use std::net::SocketAddr;

use crate::net::{ClientFactory, Factory, ListeningPort};
use crate::reactor::Reactor;

/// What code that starts servers and clients needs from a reactor (Twisted's
/// `IReactorTCP`), as a trait: write `fn start(net: &impl Network)` and pass the reactor in
/// production, a `testing::MemoryReactor` in tests.
pub trait Network {
    /// As [`listen_tcp`](crate::net::listen_tcp).
    ///
    /// # Errors
    ///
    /// As `listen_tcp`.
    fn listen_tcp(&self, addr: SocketAddr, factory: Box<dyn Factory>) -> io::Result<ListeningPort>;

    /// As [`connect_tcp`](crate::net::connect_tcp) (the connector is not returned).
    fn connect_tcp(&self, host: &str, port: u16, factory: Box<dyn ClientFactory>);
}

impl Factory for Box<dyn Factory> {
    fn build_protocol(
        &mut self,
        addr: &crate::net::Address,
    ) -> Option<Box<dyn crate::net::Protocol>> {
        (**self).build_protocol(addr)
    }
    fn start_factory(&mut self) {
        (**self).start_factory()
    }
    fn stop_factory(&mut self) {
        (**self).stop_factory()
    }
}

impl ClientFactory for Box<dyn ClientFactory> {
    fn build_protocol(
        &mut self,
        addr: &crate::net::Address,
    ) -> Option<Box<dyn crate::net::Protocol>> {
        (**self).build_protocol(addr)
    }
    fn started_connecting(&mut self, c: &crate::net::Connector) {
        (**self).started_connecting(c)
    }
    fn client_connection_failed(
        &mut self,
        c: &crate::net::Connector,
        r: &crate::net::ConnectError,
    ) {
        (**self).client_connection_failed(c, r)
    }
    fn client_connection_lost(&mut self, c: &crate::net::Connector, r: &crate::net::CloseReason) {
        (**self).client_connection_lost(c, r)
    }
}

impl Network for Reactor {
    fn listen_tcp(&self, addr: SocketAddr, factory: Box<dyn Factory>) -> io::Result<ListeningPort> {
        crate::net::listen_tcp(addr, factory)
    }

    fn connect_tcp(&self, host: &str, port: u16, factory: Box<dyn ClientFactory>) {
        crate::net::connect_tcp(host, port, factory);
    }
}
