//! The simulated network: hosts with addresses, links with latency and jitter, and TCP as
//! ordered byte streams carried in packets that the simulator delivers one at a time.
//!
//! The network is a kernel for many hosts at once. Sockets ([`super::socket`]) call into it
//! for what a system call would do — bind, connect, read, write, shutdown, close — and it
//! answers at once, as a non-blocking socket does. What crosses a link becomes a packet
//! scheduled at `now + latency + jitter`; the simulator pops packets in (arrival, sequence)
//! order and [`Network::deliver_next`] applies each to its socket and says which registered
//! handlers to tell, as epoll would.
//!
//! # TCP, as far as a program can tell
//!
//! - A write is cut into chunks at random boundaries (drawn from the seed), each its own
//!   packet, so a reader sees a message split anywhere and several writes merged. Jitter may
//!   make chunks overtake each other on the wire; each carries its place in the stream and
//!   the receiver puts them back in order, as TCP's sequence numbers do.
//! - At most [`WINDOW`] bytes are unread per direction: a writer beyond that gets a short
//!   write or `WouldBlock`, and a writable edge once the reader has taken bytes and the
//!   acknowledgement has crossed the link.
//! - Connecting to an address where nothing listens is refused; to an address no host has,
//!   unreachable; to a host that is down, silence (the connect times out).
//! - `shutdown(Write)` sends a FIN after the bytes before it; closing a socket that still
//!   holds unread bytes sends a reset instead, and bytes arriving at a closed socket are
//!   answered with a reset.
//! - A partitioned or held link delivers nothing; its TCP packets wait and cross once the
//!   link is repaired or released (TCP retransmits), so connections survive a partition but
//!   hear nothing during it.
//! - A crashed host loses every socket; each peer it was connected to gets a reset.
//! - Unix stream sockets are the same streams over the host's loopback link, named by a
//!   path that only their own host can reach: connecting to a path nobody listens on is
//!   `NotFound` at once, as a missing socket file is.
//!
//! # UDP
//!
//! A datagram is lost with the link's `loss` probability, sent twice with its `duplicate`
//! probability, and reordered by jitter; a partition loses it (a hold keeps it); nothing
//! retransmits it. A datagram to a port where nothing is bound vanishes.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use mio::Token;

use super::link::Link;
use super::rng::Rng;
use super::trace::{hash_bytes, Trace};
use crate::net::Address;
use crate::reactor::io::Readiness;

/// A host's index in the simulation, in the order hosts were added.
pub(crate) type HostId = usize;

/// A socket's number: allocated in order, never reused, so it is stable from run to run.
pub(crate) type SockId = u64;

/// Bytes that may be sent and not yet read, per direction of a connection.
pub(crate) const WINDOW: usize = 128 * 1024;

/// First port handed out for port 0 and for outgoing connections.
const EPHEMERAL: u16 = 49152;

/// A handler to tell about readiness, as an epoll event would.
pub(crate) struct Notify {
    pub(crate) host: HostId,
    pub(crate) token: Token,
    pub(crate) readiness: Readiness,
}

/// The network's state. See the module docs.
pub(crate) struct NetState {
    /// Virtual time, in nanoseconds since the simulation began.
    pub(crate) now: u64,
    /// Tie-break for packets (and scheduled faults) due at the same time: first scheduled,
    /// first delivered.
    pub(crate) seq: u64,
    pub(crate) rng: Rng,
    /// Packets on the wire, by (arrival time, sequence).
    queue: BTreeMap<(u64, u64), Packet>,
    pub(crate) hosts: Vec<HostNet>,
    sockets: BTreeMap<SockId, Sock>,
    next_sock: SockId,
    pub(crate) default_link: Link,
    /// Per pair of hosts (lower id first): settings that differ from the default, and faults.
    links: BTreeMap<(HostId, HostId), LinkState>,
    /// Per direction (from, to) of a link with a bandwidth: when it has finished sending what
    /// it was given, in nanoseconds.
    busy_until: BTreeMap<(HostId, HostId), u64>,
    pub(crate) trace: Trace,
}

/// What the network knows of a host.
pub(crate) struct HostNet {
    pub(crate) name: String,
    pub(crate) ip: Ipv4Addr,
    /// False between a crash and the restart: packets to it vanish.
    pub(crate) up: bool,
    next_port: u16,
}

/// One link's settings and faults.
#[derive(Default)]
struct LinkState {
    link: Option<Link>,
    /// Partitioned: nothing crosses; TCP packets wait in `parked`.
    partitioned: bool,
    /// Held: nothing crosses; every packet waits in `parked`.
    held: bool,
    parked: Vec<Packet>,
}

enum Sock {
    Stream(Stream),
    Listener(Listener),
    Udp(Udp),
}

/// A datagram socket.
struct Udp {
    host: HostId,
    addr: SocketAddr,
    token: Option<Token>,
    /// Set by `connect`: only datagrams from there are received, `send` goes there.
    peer: Option<SocketAddr>,
    /// Datagrams received and not read yet, with their senders.
    queue: VecDeque<(Vec<u8>, SocketAddr)>,
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connecting,
    Open,
    /// The connect was refused; the error waits for `take_error`.
    Refused,
    /// A reset arrived (or the peer's host crashed).
    Reset,
}

/// One end of a TCP connection.
struct Stream {
    host: HostId,
    local: Address,
    remote: Address,
    /// The other end, once connected.
    peer: Option<(HostId, SockId)>,
    phase: Phase,
    token: Option<Token>,
    /// Bytes received in order and not read yet.
    recv: VecDeque<u8>,
    /// The place in the stream of the next segment to append.
    recv_next: u64,
    /// Segments that arrived ahead of their turn.
    early: BTreeMap<u64, Segment>,
    /// The peer's FIN has been reached: reads return 0 once `recv` is empty.
    recv_fin: bool,
    /// The place of the next segment this end sends.
    send_next: u64,
    /// Bytes sent that the peer has not read yet (as acknowledged).
    unacked: usize,
    /// A write found the window full: the next acknowledgement is a writable edge.
    blocked: bool,
    write_shut: bool,
    /// The pending socket error (`SO_ERROR`), taken by `take_error`.
    error: Option<io::ErrorKind>,
}

enum Segment {
    Data(Vec<u8>),
    Fin,
}

struct Listener {
    host: HostId,
    /// An IP address and port, or a Unix socket path (only this host can reach it).
    addr: Address,
    token: Option<Token>,
    /// Connections established and not accepted yet.
    backlog: VecDeque<SockId>,
}

/// A packet on the wire, from one host to another.
struct Packet {
    src: HostId,
    dst: HostId,
    kind: Kind,
}

enum Kind {
    Syn {
        client: SockId,
        client_addr: Address,
        dest: Address,
    },
    SynAck {
        client: SockId,
        server: SockId,
    },
    Refused {
        client: SockId,
    },
    Data {
        to: SockId,
        from: SockId,
        n: u64,
        bytes: Vec<u8>,
    },
    Fin {
        to: SockId,
        from: SockId,
        n: u64,
    },
    Ack {
        to: SockId,
        bytes: usize,
    },
    Rst {
        to: SockId,
    },
    /// A UDP datagram, to whichever socket is bound to `dest` when it arrives.
    Datagram {
        dest: SocketAddr,
        from: SocketAddr,
        bytes: Vec<u8>,
    },
    /// Not a packet: a socket was registered, and epoll reports its current state at once.
    Poke {
        to: SockId,
    },
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Syn { .. } => "syn",
            Kind::SynAck { .. } => "syn-ack",
            Kind::Refused { .. } => "refused",
            Kind::Data { .. } => "data",
            Kind::Fin { .. } => "fin",
            Kind::Ack { .. } => "ack",
            Kind::Rst { .. } => "rst",
            Kind::Datagram { .. } => "datagram",
            Kind::Poke { .. } => "poke",
        }
    }

    /// The fields that identify it, for the trace hash.
    fn fields(&self) -> [u64; 4] {
        match self {
            Kind::Syn {
                client,
                client_addr,
                dest,
            } => [
                *client,
                u64::from(client_addr.port().unwrap_or(0)),
                name_bits(dest),
                u64::from(dest.port().unwrap_or(0)),
            ],
            Kind::SynAck { client, server } => [*client, *server, 0, 0],
            Kind::Refused { client } => [*client, 0, 0, 0],
            Kind::Data { to, from, n, bytes } => [*to, *from, *n, hash_bytes(bytes)],
            Kind::Fin { to, from, n } => [*to, *from, *n, 0],
            Kind::Ack { to, bytes } => [*to, *bytes as u64, 0, 0],
            Kind::Rst { to } | Kind::Poke { to } => [*to, 0, 0, 0],
            Kind::Datagram { dest, from, bytes } => [
                u64::from(dest.port()),
                addr_bits(from),
                u64::from(from.port()),
                hash_bytes(bytes),
            ],
        }
    }
}

fn addr_bits(addr: &SocketAddr) -> u64 {
    match addr.ip() {
        IpAddr::V4(ip) => u64::from(u32::from(ip)),
        IpAddr::V6(ip) => u128::from(ip) as u64,
    }
}

/// The IP address's bits, or a hash of a Unix socket path, for the trace hash.
fn name_bits(addr: &Address) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    match addr {
        Address::Inet(a) => addr_bits(a),
        Address::Unix(Some(path)) => hash_bytes(path.as_os_str().as_bytes()),
        Address::Unix(None) | Address::Memory(_) => 0,
    }
}

impl NetState {
    pub(crate) fn new(seed: u64, default_link: Link) -> NetState {
        NetState {
            now: 0,
            seq: 0,
            rng: Rng::new(seed),
            queue: BTreeMap::new(),
            hosts: Vec::new(),
            sockets: BTreeMap::new(),
            next_sock: 1,
            default_link,
            links: BTreeMap::new(),
            busy_until: BTreeMap::new(),
            trace: Trace::new(),
        }
    }

    pub(crate) fn now(&self) -> Duration {
        Duration::from_nanos(self.now)
    }

    /// Adds a host; its address is 10.0.x.y in the order of addition.
    pub(crate) fn add_host(&mut self, name: &str) -> HostId {
        let id = self.hosts.len();
        let n = id as u32 + 1;
        self.hosts.push(HostNet {
            name: name.to_string(),
            ip: Ipv4Addr::new(10, 0, (n >> 8) as u8, n as u8),
            up: true,
            next_port: EPHEMERAL,
        });
        id
    }

    pub(crate) fn host_by_name(&self, name: &str) -> Option<HostId> {
        self.hosts.iter().position(|h| h.name == name)
    }

    /// The host an address reaches from `from`: loopback is `from` itself.
    fn host_by_ip(&self, from: HostId, ip: IpAddr) -> Option<HostId> {
        if ip.is_loopback() {
            return Some(from);
        }
        self.hosts
            .iter()
            .position(|h| IpAddr::V4(h.ip) == ip || ip.to_canonical() == IpAddr::V4(h.ip))
    }

    /// Name lookup on `from`: IP literals, `localhost`, and the simulation's host names.
    pub(crate) fn resolve(&self, from: HostId, name: &str, port: u16) -> Option<SocketAddr> {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Some(SocketAddr::new(ip, port));
        }
        if name.eq_ignore_ascii_case("localhost") {
            return Some(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port));
        }
        let _ = from;
        let host = self.host_by_name(name)?;
        Some(SocketAddr::new(self.hosts[host].ip.into(), port))
    }

    fn link_key(a: HostId, b: HostId) -> (HostId, HostId) {
        (a.min(b), a.max(b))
    }

    /// The settings of the link between `a` and `b`.
    pub(crate) fn link(&self, a: HostId, b: HostId) -> Link {
        if a == b {
            return Link::loopback();
        }
        self.links
            .get(&Self::link_key(a, b))
            .and_then(|l| l.link)
            .unwrap_or(self.default_link)
    }

    pub(crate) fn set_link(&mut self, a: HostId, b: HostId, link: Link) {
        self.links.entry(Self::link_key(a, b)).or_default().link = Some(link);
    }

    /// Cuts (`partitioned`) or holds the link between `a` and `b`, or ends that; packets that
    /// waited are sent again when the link carries again.
    pub(crate) fn set_fault(&mut self, a: HostId, b: HostId, partitioned: bool, held: bool) {
        let key = Self::link_key(a, b);
        let state = self.links.entry(key).or_default();
        state.partitioned = partitioned;
        state.held = held;
        if partitioned || held {
            return;
        }
        let parked = std::mem::take(&mut state.parked);
        for packet in parked {
            self.send(packet);
        }
    }

    fn ephemeral_port(&mut self, host: HostId) -> u16 {
        let h = &mut self.hosts[host];
        let port = h.next_port;
        h.next_port = if port == u16::MAX {
            EPHEMERAL
        } else {
            port + 1
        };
        port
    }

    fn new_id(&mut self) -> SockId {
        let id = self.next_sock;
        self.next_sock += 1;
        id
    }

    /// Puts `packet` on the wire: it leaves once the link has sent what came before (with a
    /// bandwidth) and arrives after the link's latency and a draw of jitter.
    fn send(&mut self, packet: Packet) {
        let link = self.link(packet.src, packet.dst);
        let mut departs = self.now;
        if let Some(bandwidth) = link.bandwidth {
            let size = match &packet.kind {
                Kind::Data { bytes, .. } => bytes.len() as u64,
                _ => 0,
            };
            let busy = self.busy_until.entry((packet.src, packet.dst)).or_insert(0);
            departs = (*busy).max(self.now) + size * 1_000_000_000 / bandwidth;
            *busy = departs;
        }
        let jitter = link.jitter.as_nanos() as u64;
        let delay = link.latency.as_nanos() as u64 + self.rng.below(jitter + 1);
        self.schedule(departs + delay, packet);
    }

    fn schedule(&mut self, at: u64, packet: Packet) {
        self.seq += 1;
        self.queue.insert((at, self.seq), packet);
    }

    /// The (time, sequence) of the next packet.
    pub(crate) fn next_key(&self) -> Option<(u64, u64)> {
        self.queue.keys().next().copied()
    }

    // ---- what sockets ask for ----

    /// Binds a listening socket on `host`.
    pub(crate) fn listen(&mut self, host: HostId, addr: SocketAddr) -> io::Result<SockId> {
        let ip = addr.ip();
        let own = IpAddr::V4(self.hosts[host].ip);
        if !(ip.is_unspecified() || ip.is_loopback() || ip == own) {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!(
                    "{ip} is not an address of simulated host {}",
                    self.hosts[host].name
                ),
            ));
        }
        let port = if addr.port() == 0 {
            self.ephemeral_port(host)
        } else {
            addr.port()
        };
        let taken = self.sockets.values().any(|s| match s {
            Sock::Listener(Listener {
                host: h,
                addr: Address::Inet(a),
                ..
            }) => *h == host && clashes(*a, ip, port),
            Sock::Listener(_) | Sock::Stream(_) | Sock::Udp(_) => false,
        });
        if taken {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        let id = self.new_id();
        let addr = SocketAddr::new(ip, port);
        self.sockets.insert(
            id,
            Sock::Listener(Listener {
                host,
                addr: Address::Inet(addr),
                token: None,
                backlog: VecDeque::new(),
            }),
        );
        let name = self.hosts[host].name.clone();
        self.trace.record(
            self.now(),
            "listen",
            &[host as u64, id, u64::from(port)],
            || format!("{name} {addr}"),
        );
        Ok(id)
    }

    /// Listens on the Unix socket `path` of `host`: a name in that host's file system, so
    /// only its own processes can connect. A path another listener holds is `AddrInUse`.
    pub(crate) fn listen_unix(&mut self, host: HostId, path: &Path) -> io::Result<SockId> {
        let addr = Address::Unix(Some(path.to_path_buf()));
        let taken = self.sockets.values().any(|s| match s {
            Sock::Listener(l) => l.host == host && l.addr == addr,
            Sock::Stream(_) | Sock::Udp(_) => false,
        });
        if taken {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        let id = self.new_id();
        let name = self.hosts[host].name.clone();
        self.trace.record(
            self.now(),
            "listen",
            &[host as u64, id, name_bits(&addr)],
            || format!("{name} {addr}"),
        );
        self.sockets.insert(
            id,
            Sock::Listener(Listener {
                host,
                addr,
                token: None,
                backlog: VecDeque::new(),
            }),
        );
        Ok(id)
    }

    /// Starts connecting from `host` to `dest`.
    pub(crate) fn connect(&mut self, host: HostId, dest: SocketAddr) -> io::Result<SockId> {
        let Some(dst) = self.host_by_ip(host, dest.ip()) else {
            return Err(io::Error::new(
                io::ErrorKind::HostUnreachable,
                format!("no simulated host has the address {}", dest.ip()),
            ));
        };
        let ip = if dest.ip().is_loopback() {
            dest.ip()
        } else {
            IpAddr::V4(self.hosts[host].ip)
        };
        let local = SocketAddr::new(ip, self.ephemeral_port(host));
        Ok(self.open(host, dst, local.into(), dest.into()))
    }

    /// Starts connecting from `host` to the Unix socket `path` on the same host. As on a
    /// real system, a path where nobody listens is `NotFound` at once (a listener removes
    /// its socket file when it stops); a listener that stops while the connection is on its
    /// way refuses it.
    pub(crate) fn connect_unix(&mut self, host: HostId, path: &Path) -> io::Result<SockId> {
        let dest = Address::Unix(Some(path.to_path_buf()));
        let listening = self.sockets.values().any(|s| match s {
            Sock::Listener(l) => l.host == host && l.addr == dest,
            Sock::Stream(_) | Sock::Udp(_) => false,
        });
        if !listening {
            // The OS error itself, so the message reads as the real one does.
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        Ok(self.open(host, host, Address::Unix(None), dest))
    }

    /// A connecting stream socket on `host`, and its SYN to `dst`.
    fn open(&mut self, host: HostId, dst: HostId, local: Address, dest: Address) -> SockId {
        let id = self.new_id();
        self.sockets.insert(
            id,
            Sock::Stream(Stream::new(
                host,
                local.clone(),
                dest.clone(),
                Phase::Connecting,
            )),
        );
        self.send(Packet {
            src: host,
            dst,
            kind: Kind::Syn {
                client: id,
                client_addr: local,
                dest,
            },
        });
        id
    }

    /// Records the token a socket was registered with and schedules the edge epoll would
    /// report for its current state.
    pub(crate) fn register(&mut self, id: SockId, token: Option<Token>) {
        let host = match self.sockets.get_mut(&id) {
            Some(Sock::Stream(s)) => {
                s.token = token;
                s.host
            }
            Some(Sock::Listener(l)) => {
                l.token = token;
                l.host
            }
            Some(Sock::Udp(u)) => {
                u.token = token;
                u.host
            }
            None => return,
        };
        if token.is_some() {
            self.schedule(
                self.now,
                Packet {
                    src: host,
                    dst: host,
                    kind: Kind::Poke { to: id },
                },
            );
        }
    }

    fn stream(&mut self, id: SockId) -> io::Result<&mut Stream> {
        match self.sockets.get_mut(&id) {
            Some(Sock::Stream(s)) => Ok(s),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    pub(crate) fn read(&mut self, id: SockId, buf: &mut [u8]) -> io::Result<usize> {
        let s = self.stream(id)?;
        match s.phase {
            Phase::Reset => return Err(io::ErrorKind::ConnectionReset.into()),
            Phase::Connecting => return Err(io::ErrorKind::WouldBlock.into()),
            Phase::Refused => return Err(io::ErrorKind::NotConnected.into()),
            Phase::Open => {}
        }
        if s.recv.is_empty() {
            return if s.recv_fin {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(s.recv.len());
        for (dst, src) in buf.iter_mut().zip(s.recv.drain(..n)) {
            *dst = src;
        }
        if let Some((peer_host, peer)) = s.peer {
            let host = s.host;
            self.send(Packet {
                src: host,
                dst: peer_host,
                kind: Kind::Ack { to: peer, bytes: n },
            });
        }
        Ok(n)
    }

    pub(crate) fn write(&mut self, id: SockId, data: &[u8]) -> io::Result<usize> {
        let s = self.stream(id)?;
        match s.phase {
            Phase::Reset => return Err(io::ErrorKind::ConnectionReset.into()),
            Phase::Connecting => return Err(io::ErrorKind::WouldBlock.into()),
            Phase::Refused => return Err(io::ErrorKind::NotConnected.into()),
            Phase::Open => {}
        }
        if s.write_shut {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = data.len().min(WINDOW - s.unacked);
        if n < data.len() {
            s.blocked = true;
        }
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        s.unacked += n;
        let (host, (peer_host, peer)) = (s.host, s.peer.expect("an open stream has a peer"));
        let mut rest = &data[..n];
        let pieces = 1 + self.rng.below(4.min(n as u64)) as usize;
        for piece in 0..pieces {
            let take = if piece + 1 == pieces {
                rest.len()
            } else {
                // Leave at least one byte for each piece still to come.
                1 + self.rng.below((rest.len() - (pieces - piece)) as u64 + 1) as usize
            };
            let (chunk, tail) = rest.split_at(take);
            rest = tail;
            let s = self.stream(id)?;
            let seq = s.send_next;
            s.send_next += 1;
            self.send(Packet {
                src: host,
                dst: peer_host,
                kind: Kind::Data {
                    to: peer,
                    from: id,
                    n: seq,
                    bytes: chunk.to_vec(),
                },
            });
        }
        Ok(n)
    }

    pub(crate) fn shutdown_write(&mut self, id: SockId) -> io::Result<()> {
        let s = self.stream(id)?;
        if s.phase != Phase::Open {
            return Err(io::ErrorKind::NotConnected.into());
        }
        if s.write_shut {
            return Ok(());
        }
        s.write_shut = true;
        let seq = s.send_next;
        s.send_next += 1;
        let (host, (peer_host, peer)) = (s.host, s.peer.expect("an open stream has a peer"));
        self.send(Packet {
            src: host,
            dst: peer_host,
            kind: Kind::Fin {
                to: peer,
                from: id,
                n: seq,
            },
        });
        Ok(())
    }

    pub(crate) fn take_error(&mut self, id: SockId) -> Option<io::Error> {
        match self.sockets.get_mut(&id) {
            Some(Sock::Stream(s)) => s.error.take().map(io::Error::from),
            _ => None,
        }
    }

    pub(crate) fn peer(&self, id: SockId) -> io::Result<Address> {
        match self.sockets.get(&id) {
            Some(Sock::Stream(s)) if s.peer.is_some() => Ok(s.remote.clone()),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    pub(crate) fn local(&self, id: SockId) -> io::Result<Address> {
        match self.sockets.get(&id) {
            Some(Sock::Stream(s)) => Ok(s.local.clone()),
            Some(Sock::Listener(l)) => Ok(l.addr.clone()),
            Some(Sock::Udp(u)) => Ok(Address::Inet(u.addr)),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    pub(crate) fn accept(&mut self, id: SockId) -> io::Result<(SockId, Address)> {
        let server = match self.sockets.get_mut(&id) {
            Some(Sock::Listener(l)) => l.backlog.pop_front(),
            _ => return Err(io::ErrorKind::InvalidInput.into()),
        };
        let Some(server) = server else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        match self.sockets.get(&server) {
            Some(Sock::Stream(s)) => Ok((server, s.remote.clone())),
            _ => Err(io::ErrorKind::ConnectionAborted.into()),
        }
    }

    /// The socket was closed (its handle dropped): a FIN to the peer, or a reset if unread
    /// bytes are thrown away; a listener resets what it never accepted.
    pub(crate) fn close(&mut self, id: SockId) {
        match self.sockets.remove(&id) {
            Some(Sock::Stream(s)) => {
                let Some((peer_host, peer)) = s.peer else {
                    return;
                };
                if s.phase != Phase::Open {
                    return;
                }
                let kind = if !s.recv.is_empty() {
                    Kind::Rst { to: peer }
                } else if !s.write_shut {
                    Kind::Fin {
                        to: peer,
                        from: id,
                        n: s.send_next,
                    }
                } else {
                    return;
                };
                self.send(Packet {
                    src: s.host,
                    dst: peer_host,
                    kind,
                });
            }
            Some(Sock::Listener(l)) => {
                for pending in l.backlog {
                    self.reset(pending);
                }
            }
            Some(Sock::Udp(_)) | None => {}
        }
    }

    /// Drops `id` and resets its peer (an abort with `SO_LINGER` 0, or a crash).
    fn reset(&mut self, id: SockId) {
        if let Some(Sock::Stream(s)) = self.sockets.remove(&id) {
            if let (Some((peer_host, peer)), Phase::Open) = (s.peer, s.phase) {
                self.send(Packet {
                    src: s.host,
                    dst: peer_host,
                    kind: Kind::Rst { to: peer },
                });
            }
        }
    }

    /// A host goes down: every socket on it is gone and its peers are reset.
    pub(crate) fn crash(&mut self, host: HostId) {
        self.hosts[host].up = false;
        let ids: Vec<SockId> = self
            .sockets
            .iter()
            .filter(|(_, s)| match s {
                Sock::Stream(s) => s.host == host,
                Sock::Listener(l) => l.host == host,
                Sock::Udp(u) => u.host == host,
            })
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.reset(id);
            self.sockets.remove(&id);
        }
    }

    // ---- datagrams ----

    /// Binds a datagram socket on `host` (port 0 picks a free port).
    pub(crate) fn bind_udp(&mut self, host: HostId, addr: SocketAddr) -> io::Result<SockId> {
        let ip = addr.ip();
        let own = IpAddr::V4(self.hosts[host].ip);
        if !(ip.is_unspecified() || ip.is_loopback() || ip == own) {
            return Err(io::ErrorKind::AddrNotAvailable.into());
        }
        let port = if addr.port() == 0 {
            self.ephemeral_port(host)
        } else {
            addr.port()
        };
        let taken = self
            .sockets
            .values()
            .any(|s| matches!(s, Sock::Udp(u) if u.host == host && clashes(u.addr, ip, port)));
        if taken {
            return Err(io::ErrorKind::AddrInUse.into());
        }
        let id = self.new_id();
        let addr = SocketAddr::new(ip, port);
        self.sockets.insert(
            id,
            Sock::Udp(Udp {
                host,
                addr,
                token: None,
                peer: None,
                queue: VecDeque::new(),
            }),
        );
        Ok(id)
    }

    fn udp(&mut self, id: SockId) -> io::Result<&mut Udp> {
        match self.sockets.get_mut(&id) {
            Some(Sock::Udp(u)) => Ok(u),
            _ => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Sends a datagram: lost with the link's `loss`, sent twice with its `duplicate`
    /// (each copy with its own jitter, so they may overtake other datagrams). A datagram to
    /// an address no host has is lost, as it would be.
    pub(crate) fn send_to(&mut self, id: SockId, data: &[u8], to: SocketAddr) -> io::Result<usize> {
        let u = self.udp(id)?;
        let (host, local) = (u.host, u.addr);
        let from = if to.ip().is_loopback() || !local.ip().is_unspecified() {
            local
        } else {
            SocketAddr::new(IpAddr::V4(self.hosts[host].ip), local.port())
        };
        let Some(dst) = self.host_by_ip(host, to.ip()) else {
            return Ok(data.len());
        };
        let link = self.link(host, dst);
        let copies = if self.rng.chance(link.loss) {
            0
        } else if self.rng.chance(link.duplicate) {
            2
        } else {
            1
        };
        if copies == 0 {
            let name = self.hosts[host].name.clone();
            self.trace.record(
                self.now(),
                "dropped",
                &[host as u64, dst as u64, hash_bytes(data)],
                || format!("datagram from {name}, {} bytes", data.len()),
            );
        }
        for _ in 0..copies {
            self.send(Packet {
                src: host,
                dst,
                kind: Kind::Datagram {
                    dest: to,
                    from,
                    bytes: data.to_vec(),
                },
            });
        }
        Ok(data.len())
    }

    pub(crate) fn recv_from(
        &mut self,
        id: SockId,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr)> {
        let u = self.udp(id)?;
        let Some((data, from)) = u.queue.pop_front() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        // As recvfrom(2): what does not fit is lost.
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        Ok((n, from))
    }

    pub(crate) fn connect_udp(&mut self, id: SockId, to: SocketAddr) -> io::Result<()> {
        self.udp(id)?.peer = Some(to);
        Ok(())
    }

    pub(crate) fn send_udp(&mut self, id: SockId, data: &[u8]) -> io::Result<usize> {
        let to = self.udp(id)?.peer.ok_or(io::ErrorKind::NotConnected)?;
        self.send_to(id, data, to)
    }

    // ---- delivery ----

    /// Delivers the next packet if it is due by `until`; returns whom to tell, or `None` when
    /// no packet is due.
    pub(crate) fn deliver_next(&mut self, until: u64) -> Option<Vec<Notify>> {
        let (&key, _) = self
            .queue
            .iter()
            .next()
            .filter(|(&(at, _), _)| at <= until)?;
        let packet = self.queue.remove(&key).expect("the first packet is there");
        let mut notify = Vec::new();
        if !matches!(packet.kind, Kind::Poke { .. }) {
            let fault = self
                .links
                .get(&Self::link_key(packet.src, packet.dst))
                .filter(|l| (l.partitioned || l.held) && packet.src != packet.dst);
            if let Some(link) = fault {
                if link.partitioned && matches!(packet.kind, Kind::Datagram { .. }) {
                    // Nothing retransmits a datagram.
                    self.trace_packet("lost", &packet);
                    return Some(notify);
                }
                self.trace_packet("parked", &packet);
                self.links
                    .get_mut(&Self::link_key(packet.src, packet.dst))
                    .expect("the link is there")
                    .parked
                    .push(packet);
                return Some(notify);
            }
            if !self.hosts[packet.dst].up {
                self.trace_packet("lost", &packet);
                return Some(notify);
            }
            self.trace_packet(packet.kind.name(), &packet);
        }
        self.apply(packet, &mut notify);
        Some(notify)
    }

    fn trace_packet(&mut self, what: &str, packet: &Packet) {
        let f = packet.kind.fields();
        let (src, dst) = (packet.src, packet.dst);
        let names = (self.hosts[src].name.as_str(), self.hosts[dst].name.as_str());
        let detail = match &packet.kind {
            Kind::Data { bytes, .. } => format!(" {} bytes", bytes.len()),
            _ => String::new(),
        };
        let kind = packet.kind.name();
        let text = if kind == what {
            format!("{} -> {}{detail}", names.0, names.1)
        } else {
            format!("{kind} {} -> {}{detail}", names.0, names.1)
        };
        self.trace.record(
            self.now(),
            what,
            &[src as u64, dst as u64, f[0], f[1], f[2], f[3]],
            || text,
        );
    }

    fn apply(&mut self, packet: Packet, notify: &mut Vec<Notify>) {
        let (src, dst) = (packet.src, packet.dst);
        match packet.kind {
            Kind::Syn {
                client,
                client_addr,
                dest,
            } => {
                let listener = self.sockets.iter().find_map(|(&id, s)| match s {
                    Sock::Listener(l) if l.host == dst && serves(&l.addr, &dest, src == dst) => {
                        Some(id)
                    }
                    _ => None,
                });
                let Some(listener) = listener else {
                    self.send(Packet {
                        src: dst,
                        dst: src,
                        kind: Kind::Refused { client },
                    });
                    return;
                };
                let server = self.new_id();
                let mut stream = Stream::new(dst, dest, client_addr, Phase::Open);
                stream.peer = Some((src, client));
                self.sockets.insert(server, Sock::Stream(stream));
                if let Some(Sock::Listener(l)) = self.sockets.get_mut(&listener) {
                    l.backlog.push_back(server);
                }
                self.notify(listener, notify);
                self.send(Packet {
                    src: dst,
                    dst: src,
                    kind: Kind::SynAck { client, server },
                });
            }
            Kind::SynAck { client, server } => match self.sockets.get_mut(&client) {
                Some(Sock::Stream(s)) if s.phase == Phase::Connecting => {
                    s.peer = Some((src, server));
                    s.phase = Phase::Open;
                    self.notify(client, notify);
                }
                _ => self.send(Packet {
                    src: dst,
                    dst: src,
                    kind: Kind::Rst { to: server },
                }),
            },
            Kind::Refused { client } => {
                if let Some(Sock::Stream(s)) = self.sockets.get_mut(&client) {
                    if s.phase == Phase::Connecting {
                        s.phase = Phase::Refused;
                        s.error = Some(io::ErrorKind::ConnectionRefused);
                        self.notify(client, notify);
                    }
                }
            }
            Kind::Data { to, from, n, bytes } => {
                self.segment(src, dst, to, from, n, Segment::Data(bytes), notify)
            }
            Kind::Fin { to, from, n } => self.segment(src, dst, to, from, n, Segment::Fin, notify),
            Kind::Ack { to, bytes } => {
                if let Some(Sock::Stream(s)) = self.sockets.get_mut(&to) {
                    s.unacked = s.unacked.saturating_sub(bytes);
                    if s.blocked && s.phase == Phase::Open {
                        s.blocked = false;
                        self.notify(to, notify);
                    }
                }
            }
            Kind::Rst { to } => {
                if let Some(Sock::Stream(s)) = self.sockets.get_mut(&to) {
                    if s.phase == Phase::Open {
                        s.phase = Phase::Reset;
                        s.recv.clear();
                        s.early.clear();
                        self.notify(to, notify);
                    }
                }
            }
            Kind::Datagram { dest, from, bytes } => {
                let socket = self.sockets.iter_mut().find_map(|(&id, s)| match s {
                    Sock::Udp(u)
                        if u.host == dst
                            && u.addr.port() == dest.port()
                            && (u.addr.ip().is_unspecified()
                                || u.addr.ip() == dest.ip()
                                || (u.addr.ip().is_loopback() && src == dst))
                            && u.peer.is_none_or(|p| p == from) =>
                    {
                        Some((id, u))
                    }
                    _ => None,
                });
                if let Some((id, u)) = socket {
                    u.queue.push_back((bytes, from));
                    self.notify(id, notify);
                }
            }
            Kind::Poke { to } => self.notify(to, notify),
        }
    }

    /// A segment of a stream arrives: appended in order, or kept until its turn.
    #[allow(clippy::too_many_arguments)]
    fn segment(
        &mut self,
        src: HostId,
        dst: HostId,
        to: SockId,
        from: SockId,
        n: u64,
        segment: Segment,
        notify: &mut Vec<Notify>,
    ) {
        let Some(Sock::Stream(s)) = self.sockets.get_mut(&to) else {
            // A FIN answering ours after we closed is acknowledged (TIME_WAIT), not reset.
            if matches!(segment, Segment::Fin) {
                return;
            }
            // Nobody has this connection any more: reset the sender of the bytes.
            self.send(Packet {
                src: dst,
                dst: src,
                kind: Kind::Rst { to: from },
            });
            return;
        };
        // While connecting, the peer's first bytes may overtake its SYN-ACK on the wire: keep
        // them for when the connection opens.
        if !matches!(s.phase, Phase::Open | Phase::Connecting) {
            return;
        }
        s.early.insert(n, segment);
        let mut arrived = false;
        while let Some(segment) = s.early.remove(&s.recv_next) {
            s.recv_next += 1;
            arrived = true;
            match segment {
                Segment::Data(bytes) => s.recv.extend(bytes),
                Segment::Fin => s.recv_fin = true,
            }
        }
        if arrived {
            self.notify(to, notify);
        }
    }

    /// Tells `id`'s handler (if registered) its current readiness.
    fn notify(&self, id: SockId, notify: &mut Vec<Notify>) {
        let (host, token, readiness) = match self.sockets.get(&id) {
            Some(Sock::Stream(s)) => (s.host, s.token, s.readiness()),
            Some(Sock::Listener(l)) => (
                l.host,
                l.token,
                Readiness {
                    readable: !l.backlog.is_empty(),
                    ..Readiness::default()
                },
            ),
            Some(Sock::Udp(u)) => (
                u.host,
                u.token,
                Readiness {
                    readable: !u.queue.is_empty(),
                    writable: true,
                    ..Readiness::default()
                },
            ),
            None => return,
        };
        if let Some(token) = token {
            notify.push(Notify {
                host,
                token,
                readiness,
            });
        }
    }
}

/// Whether a listener bound to `bound` takes a connection to `dest` (`local`: from its own
/// host).
fn serves(bound: &Address, dest: &Address, local: bool) -> bool {
    match (bound, dest) {
        (Address::Inet(l), Address::Inet(d)) => {
            l.port() == d.port()
                && (l.ip().is_unspecified() || l.ip() == d.ip() || (l.ip().is_loopback() && local))
        }
        (Address::Unix(Some(l)), Address::Unix(Some(d))) => local && l == d,
        _ => false,
    }
}

impl Stream {
    fn new(host: HostId, local: Address, remote: Address, phase: Phase) -> Stream {
        Stream {
            host,
            local,
            remote,
            peer: None,
            phase,
            token: None,
            recv: VecDeque::new(),
            recv_next: 0,
            early: BTreeMap::new(),
            recv_fin: false,
            send_next: 0,
            unacked: 0,
            blocked: false,
            write_shut: false,
            error: None,
        }
    }

    /// What epoll would report for this socket now.
    fn readiness(&self) -> Readiness {
        let failed = matches!(self.phase, Phase::Reset | Phase::Refused);
        let open = self.phase == Phase::Open;
        Readiness {
            readable: !self.recv.is_empty() || self.recv_fin || failed,
            writable: open && !self.write_shut && self.unacked < WINDOW,
            read_closed: self.recv_fin || failed,
            write_closed: failed,
            error: failed,
        }
    }
}

/// Whether a socket bound at `bound` keeps another from binding `ip:port` on the same host:
/// the same port, and the same address or either one the wildcard.
fn clashes(bound: SocketAddr, ip: IpAddr, port: u16) -> bool {
    bound.port() == port && (bound.ip().is_unspecified() || ip.is_unspecified() || bound.ip() == ip)
}
