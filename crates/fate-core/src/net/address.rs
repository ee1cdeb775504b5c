//! Addresses of the two ends of a connection or of a datagram.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where one end of a connection (or a datagram) is: an IP address and port, or a Unix
/// socket path (`None` for an unnamed Unix socket, such as the client end of a connection).
///
/// Twisted's `IPv4Address`/`IPv6Address`/`UNIXAddress`, in one enum.
///
/// # Examples
///
/// ```
/// use fate::net::Address;
///
/// let a = Address::from("127.0.0.1:8080".parse::<std::net::SocketAddr>().unwrap());
/// assert_eq!(a.to_string(), "127.0.0.1:8080");
/// assert_eq!(a.port(), Some(8080));
/// let u = Address::Unix(Some("/tmp/sock".into()));
/// assert_eq!(u.to_string(), "unix:/tmp/sock");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Address {
    /// An IPv4 or IPv6 address with a port.
    Inet(SocketAddr),
    /// A Unix socket path; `None` when the socket is not bound to a path.
    Unix(Option<PathBuf>),
    /// An in-memory endpoint (test transports), named for messages.
    Memory(String),
}

impl Address {
    /// The IP address and port, if this is an `Inet` address.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Address::Inet(a) => Some(*a),
            _ => None,
        }
    }

    /// The port, if this is an `Inet` address.
    pub fn port(&self) -> Option<u16> {
        self.socket_addr().map(|a| a.port())
    }

    /// The path, if this is a named Unix socket address.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Address::Unix(Some(p)) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn from_unix(addr: &std::os::unix::net::SocketAddr) -> Address {
        Address::Unix(addr.as_pathname().map(Path::to_path_buf))
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Address {
        Address::Inet(addr)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(a) => write!(f, "{a}"),
            Address::Unix(Some(p)) => write!(f, "unix:{}", p.display()),
            Address::Unix(None) => f.write_str("unix:(unnamed)"),
            Address::Memory(name) => write!(f, "memory:{name}"),
        }
    }
}
