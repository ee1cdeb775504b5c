//! Redirect rules: which statuses are followed, with which method and body, where to, and
//! which headers must not follow the request to another origin.
//!
//! As browsers, curl and requests do (RFC 9110 section 15.4): 301 and 302 turn a POST into
//! a GET without a body (other methods are kept); 303 turns anything but HEAD into a GET
//! without a body; 307 and 308 keep the method and the body (a streamed body, which cannot be
//! sent twice, stops the redirect with an error). Where a redirect leads is
//! [`resolve_redirect`](crate::client::resolve_redirect)'s business.

use http::header::{self, HeaderName};
use http::{Method, StatusCode, Uri};

/// How to re-issue a request after a redirect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Follow {
    pub(crate) method: Method,
    /// Send the body again (else send none, and drop the headers that describe it).
    pub(crate) keep_body: bool,
}

/// The follow-up for `status` to a request made with `method`, or `None` if `status` is not
/// a redirect we follow.
pub(crate) fn follow(status: StatusCode, method: &Method) -> Option<Follow> {
    let same = || Follow {
        method: method.clone(),
        keep_body: true,
    };
    let get = |method| Follow {
        method,
        keep_body: false,
    };
    match status.as_u16() {
        301 | 302 if *method == Method::POST => Some(get(Method::GET)),
        301 | 302 => Some(same()),
        303 if *method == Method::HEAD => Some(get(Method::HEAD)),
        303 => Some(get(Method::GET)),
        307 | 308 => Some(same()),
        _ => None,
    }
}

/// Headers dropped when a redirect leaves the origin: credentials must not leak to another
/// host (Twisted's `RedirectAgent` list).
pub(crate) const SENSITIVE: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::COOKIE,
    header::PROXY_AUTHORIZATION,
    header::WWW_AUTHENTICATE,
];

/// Headers that describe a body, dropped when the body is.
pub(crate) const BODY_HEADERS: [HeaderName; 4] = [
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::TRANSFER_ENCODING,
];

/// Whether two URLs share scheme, host and port.
pub(crate) fn same_origin(a: &Uri, b: &Uri) -> bool {
    a.scheme() == b.scheme() && a.host() == b.host() && port(a) == port(b)
}

/// The port of an http(s) URL, defaulted by scheme.
pub(crate) fn port(uri: &Uri) -> u16 {
    uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("https") => 443,
        _ => 80,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_and_bodies_follow_the_rules() {
        // (status, method, expected method, body kept)
        let table = [
            (301, "GET", Some(("GET", true))),
            (301, "POST", Some(("GET", false))),
            (301, "PUT", Some(("PUT", true))),
            (302, "POST", Some(("GET", false))),
            (302, "HEAD", Some(("HEAD", true))),
            (303, "POST", Some(("GET", false))),
            (303, "PUT", Some(("GET", false))),
            (303, "HEAD", Some(("HEAD", false))),
            (307, "POST", Some(("POST", true))),
            (308, "DELETE", Some(("DELETE", true))),
            (300, "GET", None),
            (304, "GET", None),
            (200, "GET", None),
        ];
        for (status, method, want) in table {
            let got = follow(
                StatusCode::from_u16(status).unwrap(),
                &method.parse().unwrap(),
            );
            let want = want.map(|(m, keep_body)| Follow {
                method: m.parse().unwrap(),
                keep_body,
            });
            assert_eq!(got, want, "{status} {method}");
        }
    }

    #[test]
    fn origin_compares_scheme_host_and_default_port() {
        let a: Uri = "http://h.test/x".parse().unwrap();
        let b: Uri = "http://h.test:80/y".parse().unwrap();
        let c: Uri = "https://h.test/x".parse().unwrap();
        let d: Uri = "http://g.test/x".parse().unwrap();
        assert!(same_origin(&a, &b));
        assert!(!same_origin(&a, &c));
        assert!(!same_origin(&a, &d));
    }
}
