//! URLs as browsers read them: parsing and redirect targets by the WHATWG URL standard (the
//! `url` crate), then handed to hyper as an `http::Uri`.
//!
//! Only `http` and `https` URLs with a host leave this module; a port out of range, a
//! `javascript:`, `data:`, `mailto:`, `urn:` or `file:` target is an error that names what
//! was refused, never something guessed at (such as a relative path on the same server).

use http::Uri;
use url::Url;

use crate::error::{Error, Kind};

/// Parses an absolute `http://` or `https://` URL (WHATWG rules: `HTTP://Host:080/a/../b`
/// becomes `http://host:80/b`; the fragment is dropped; the port must be in 0–65535).
///
/// # Examples
///
/// ```
/// use fate::http::client::parse_url;
///
/// assert_eq!(parse_url("HTTP://Example.com:8080/a/../b#top").unwrap(), "http://example.com:8080/b");
/// assert!(parse_url("http://example.com:99999/").unwrap_err().is_builder());
/// assert!(parse_url("ftp://example.com/f").is_err());
/// ```
///
/// # Errors
///
/// An unparsable URL (a bad port, a bad host), a scheme other than http or https, or no
/// host (`is_builder`).
pub fn parse_url(url: &str) -> Result<Uri, Error> {
    let parsed = Url::parse(url.trim())
        .map_err(|e| Error::with(Kind::Builder, format!("{e}")).for_url(url))?;
    to_uri(parsed).map_err(|why| Error::with(Kind::Builder, why).for_url(url))
}

/// Where a redirect leads: `location` resolved against `base`, the URL that answered (as
/// a browser does).
///
/// # Examples
///
/// ```
/// use fate::http::client::{parse_url, resolve_redirect};
///
/// let base = parse_url("http://a.test/b/c?q").unwrap();
/// assert_eq!(resolve_redirect(&base, "../d").unwrap(), "http://a.test/d");
/// assert_eq!(resolve_redirect(&base, "//cdn.test/x").unwrap(), "http://cdn.test/x");
/// let refused = resolve_redirect(&base, "file:///etc/passwd").unwrap_err();
/// assert!(refused.is_redirect());
/// assert!(refused.to_string().contains("file:///etc/passwd"), "{refused}");
/// ```
///
/// # Errors
///
/// A `location` that does not parse, or that leads to anything but an http(s) URL with a
/// host (`is_redirect`); the message names the refused target.
pub fn resolve_redirect(base: &Uri, location: &str) -> Result<Uri, Error> {
    let refuse = |why: String| Error::with(Kind::Redirect, why);
    let base = Url::parse(&base.to_string())
        .map_err(|e| refuse(format!("the base URL {base} does not parse: {e}")))?;
    let target = base
        .join(location.trim())
        .map_err(|e| refuse(format!("the Location {location:?} does not parse: {e}")))?;
    let shown = target.to_string();
    to_uri(target)
        .map_err(|why| refuse(format!("refusing to follow a redirect to {shown:?}: {why}")))
}

/// The `http::Uri` of a parsed URL, if it is one hyper can fetch.
fn to_uri(mut url: Url) -> Result<Uri, String> {
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(format!("the scheme {other:?} is not http or https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".to_string());
    }
    url.set_fragment(None);
    url.as_str()
        .parse()
        .map_err(|e| format!("{url} is not a valid request target: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_by_whatwg_rules() {
        // (input, parsed or the error's text)
        let table = [
            ("http://h.test/a", Ok("http://h.test/a")),
            (
                "HTTPS://H.test:443/x/./y/../z?q#f",
                Ok("https://h.test/x/z?q"),
            ),
            ("http://[::1]:8080/", Ok("http://[::1]:8080/")),
            ("http://h.test:65535/", Ok("http://h.test:65535/")),
            ("http://h.test:99999/", Err("invalid port number")),
            ("http://h.test:65616/", Err("invalid port number")),
            ("http://h.test:-1/", Err("invalid port number")),
            ("http://h.test:8x/", Err("invalid port number")),
            ("ftp://h.test/", Err("not http or https")),
            ("h.test/a", Err("relative URL without a base")),
            ("http://", Err("empty host")),
        ];
        for (input, want) in table {
            match (parse_url(input), want) {
                (Ok(uri), Ok(want)) => assert_eq!(uri.to_string(), want, "{input}"),
                (Err(e), Err(want)) => {
                    assert!(e.is_builder(), "{input}: {e}");
                    assert!(e.to_string().contains(want), "{input}: {e}");
                }
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn redirects_lead_only_to_http_and_https() {
        let base = parse_url("http://a.test:8080/b/c/d?q=1").unwrap();
        // (Location, target or a piece of the error)
        let table = [
            ("http://other.test/x", Ok("http://other.test/x")),
            ("HTTPS://other.test/x#frag", Ok("https://other.test/x")),
            ("//cdn.test/y", Ok("http://cdn.test/y")),
            ("/abs", Ok("http://a.test:8080/abs")),
            ("rel", Ok("http://a.test:8080/b/c/rel")),
            ("../up", Ok("http://a.test:8080/b/up")),
            ("../../../../top", Ok("http://a.test:8080/top")),
            ("./here/", Ok("http://a.test:8080/b/c/here/")),
            ("?p=2", Ok("http://a.test:8080/b/c/d?p=2")),
            ("", Ok("http://a.test:8080/b/c/d?q=1")),
            ("/a b", Ok("http://a.test:8080/a%20b")),
            ("javascript:alert(1)", Err("\"javascript:alert(1)\"")),
            ("data:text/plain,hi", Err("\"data:text/plain,hi\"")),
            ("mailto:a@b.test", Err("\"mailto:a@b.test\"")),
            ("urn:isbn:0451450523", Err("\"urn:isbn:0451450523\"")),
            ("file:/etc/passwd", Err("\"file:///etc/passwd\"")),
            ("ftp://files.test/f", Err("\"ftp://files.test/f\"")),
            ("http://h.test:70000/", Err("invalid port number")),
        ];
        for (location, want) in table {
            match (resolve_redirect(&base, location), want) {
                (Ok(uri), Ok(want)) => assert_eq!(uri.to_string(), want, "{location}"),
                (Err(e), Err(want)) => {
                    assert!(e.is_redirect(), "{location}: {e}");
                    assert!(e.to_string().contains(want), "{location}: {e}");
                }
                (got, want) => panic!("{location}: got {got:?}, want {want:?}"),
            }
        }
    }
}
