//! Endpoint strings (`tcp:8080:interface=127.0.0.1`, `unix:path=...`, `tls:host=...`): the
//! parsers never panic, answer the same twice, and an error names the input and says why.
#![no_main]

use fate_core::net::{client_from_str, server_from_str};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let shown = |r: Result<String, (String, String)>| r;
    let server = || {
        shown(
            server_from_str(s)
                .map(|e| e.to_string())
                .map_err(|e| (e.input().to_string(), e.message().to_string())),
        )
    };
    let client = || {
        shown(
            client_from_str(s)
                .map(|e| e.to_string())
                .map_err(|e| (e.input().to_string(), e.message().to_string())),
        )
    };
    for (first, again) in [(server(), server()), (client(), client())] {
        assert_eq!(first, again, "{s:?} parsed differently twice");
        if let Err((input, message)) = first {
            assert_eq!(input, s, "the error names another input");
            assert!(!message.is_empty(), "{s:?}: an error without a reason");
        }
    }
});
