//! URLs as `fate get` takes them and redirects as the agent follows them: parsing never
//! panics; what parses is an http(s) URL with a host that parses again to itself (so a URL
//! accepted at start is never refused later); its file name is safe (no `/`, `\`, control
//! character, `.` or `..`) and never a partial file's name; a redirect target is again such
//! a URL, or an error that names it.
#![no_main]

use std::path::Path;

use arbitrary::Arbitrary;
use fate_http::client::{parse_url, resolve_redirect};
use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/fate-cli/src/commands/get/names.rs"]
mod names;

#[derive(Arbitrary, Debug)]
struct Input {
    url: String,
    location: String,
}

/// Checks what `fate get` relies on for a URL that parsed.
fn check(uri: &http::Uri, input: &str) {
    assert!(
        matches!(uri.scheme_str(), Some("http" | "https")),
        "{input:?} -> {uri}"
    );
    assert!(
        uri.host().is_some_and(|h| !h.is_empty()),
        "{input:?} -> {uri}"
    );
    let again = parse_url(&uri.to_string())
        .unwrap_or_else(|e| panic!("{input:?} -> {uri}, which does not parse: {e}"));
    assert_eq!(&again, uri, "{input:?}: not a fixed point");
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    path.parse::<http::Uri>()
        .unwrap_or_else(|e| panic!("{input:?} -> {uri}: origin form {path:?} refused: {e}"));
    let parsed = url::Url::parse(&uri.to_string()).expect("the url crate reads it back");
    let name = names::file_name(&parsed);
    assert!(
        !name.is_empty() && name != "." && name != "..",
        "{input:?}: {name:?}"
    );
    assert!(
        !name.contains(['/', '\\']) && !name.chars().any(char::is_control),
        "{input:?}: {name:?}"
    );
    let target = names::Names::new(Path::new("/nonexistent-fate-fuzz"), false).claim(&name);
    let target_name = target.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        !target_name.ends_with(names::PARTIAL_SUFFIX),
        "{input:?}: {target_name:?}"
    );
    assert!(names::partial_path(&target)
        .to_string_lossy()
        .ends_with(names::PARTIAL_SUFFIX));
}

fuzz_target!(|input: Input| {
    let Ok(base) = parse_url(&input.url) else {
        return;
    };
    check(&base, &input.url);
    match resolve_redirect(&base, &input.location) {
        Ok(next) => check(&next, &input.location),
        Err(e) => assert!(e.is_redirect(), "{:?}: {e}", input.location),
    }
});
