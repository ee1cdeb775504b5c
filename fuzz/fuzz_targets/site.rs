//! A `Site` serving a directory, fed arbitrary requests over a real socket on 127.0.0.1:
//! request lines, paths (any bytes: encodings, `..`, NUL), `Range` and `If-Range` values
//! and headers. The server keeps answering (a panic or a hang ends the run), never sends a
//! byte of the file kept outside its root (reachable by `..` or a symlink), and every 206
//! is consistent: `Content-Range` within the file, the body exactly those bytes.
#![no_main]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use fate_http::server::{File, Site};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"OUTSIDE-THE-ROOT-SECRET";

/// The served files, each of a distinct length: (path under the root, content).
fn files() -> Vec<(&'static str, Vec<u8>)> {
    let pattern = |len: usize| (0..len).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>();
    vec![
        ("a.txt", pattern(10)),
        ("sp ace%.txt", pattern(11)),
        ("dir/b.bin", pattern(3000)),
        ("dir/index.html", pattern(12)),
        ("ünï.txt", pattern(13)),
        ("empty", Vec::new()),
    ]
}

/// Starts the site once, on a thread of its own; its address.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("fate-fuzz-site-{}", std::process::id()));
        let root: PathBuf = base.join("root");
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(root.join("dir")).unwrap();
        std::fs::write(base.join("secret"), SECRET).unwrap();
        for (path, content) in files() {
            std::fs::write(root.join(path), content).unwrap();
        }
        std::os::unix::fs::symlink(&base, root.join("up")).unwrap();
        std::os::unix::fs::symlink(base.join("secret"), root.join("secret-link")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            fate_core::block_on(async move {
                let site = Site::new(File::new(root));
                let listening = site.listen("127.0.0.1:0".parse().unwrap()).unwrap();
                tx.send(listening.local_addr()).unwrap();
                std::future::pending::<()>().await;
            })
            .unwrap();
        });
        rx.recv().unwrap()
    })
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    /// The request target, raw.
    path: Vec<u8>,
    /// A path made of pieces attackers like, used instead when `path` is empty.
    pieces: Vec<u8>,
    version: u8,
    range: Option<String>,
    if_range: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

const PIECES: [&str; 14] = [
    "/",
    "..",
    "%2e%2e",
    "%2f",
    "a.txt",
    "dir",
    "up",
    "secret",
    "secret-link",
    "%00",
    "//",
    "%5c",
    "sp%20ace%25.txt",
    "%C3%BCn%C3%AF.txt",
];

fn request(input: &Input) -> Vec<u8> {
    let methods = [
        "GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE", "get", "G\0T",
    ];
    let method = methods[usize::from(input.method) % methods.len()];
    let path = if input.path.is_empty() {
        let mut p = String::from("/");
        for &i in &input.pieces {
            p.push_str(PIECES[usize::from(i) % PIECES.len()]);
            if i & 0x80 != 0 {
                p.push('/');
            }
        }
        p.into_bytes()
    } else {
        input.path.clone()
    };
    let mut out = format!("{method} ").into_bytes();
    out.extend_from_slice(&path);
    out.extend_from_slice(format!(" HTTP/1.{}\r\nHost: fuzz\r\n", input.version % 2).as_bytes());
    if let Some(r) = &input.range {
        out.extend_from_slice(format!("Range: {r}\r\n").as_bytes());
    }
    if let Some(r) = &input.if_range {
        out.extend_from_slice(format!("If-Range: {r}\r\n").as_bytes());
    }
    for (name, value) in input.headers.iter().take(8) {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n", input.body.len()).as_bytes());
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&input.body);
    out
}

/// Sends `request`, half-closes, reads the answer to the end.
fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("the site stopped accepting: it died");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may answer (400) and close before reading everything: ignore write errors.
    let _ = s.write_all(request);
    let _ = s.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    match s.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("no answer to {:?}: {e}", String::from_utf8_lossy(request)),
    }
    answer
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fuzz_target!(|input: Input| {
    let addr = server();
    let request = request(&input);
    let answer = exchange(addr, &request);
    let shown = || String::from_utf8_lossy(&request).into_owned();
    assert!(
        !answer.windows(SECRET.len()).any(|w| w == SECRET),
        "the secret outside the root was served for {:?}",
        shown()
    );
    if answer.is_empty() {
        return;
    }
    assert!(
        answer.starts_with(b"HTTP/1."),
        "not a response to {:?}",
        shown()
    );
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return; // cut by a reset
    };
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let body = &answer[end + 4..];
    if !head.get(9..).unwrap_or("").starts_with("206") {
        return;
    }
    let range = header(&head, "content-range").expect("a 206 without Content-Range");
    let (span, total) = range
        .strip_prefix("bytes ")
        .and_then(|r| r.split_once('/'))
        .unwrap_or_else(|| panic!("Content-Range {range:?}"));
    let (first, last) = span.split_once('-').unwrap();
    let (first, last, total): (usize, usize, usize) = (
        first.parse().unwrap(),
        last.parse().unwrap(),
        total.parse().unwrap(),
    );
    assert!(first <= last && last < total, "{range:?} for {:?}", shown());
    let head_only = request.starts_with(b"HEAD");
    if !head_only {
        assert_eq!(body.len(), last - first + 1, "{range:?} for {:?}", shown());
        if let Some((_, content)) = files().into_iter().find(|(_, c)| c.len() == total) {
            assert_eq!(body, &content[first..=last], "{range:?} for {:?}", shown());
        }
    }
});
