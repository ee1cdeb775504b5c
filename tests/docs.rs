//! The docs say what a user can paste: doc examples name the facade (`fate::...`), never the
//! crates behind it.

use std::fs;
use std::path::{Path, PathBuf};

/// The crates whose items `fate` re-exports, and the facade itself.
const SOURCES: &[&str] = &[
    "src",
    "crates/fate-core/src",
    "crates/fate-deferred/src",
    "crates/fate-http/src",
    "crates/fate-compat/src",
    "crates/fate-db/src",
];

/// The `.rs` files under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The lines of code inside the doc comments' code blocks of `source`, with their numbers.
fn doc_code_lines(source: &str) -> Vec<(usize, &str)> {
    let mut code = Vec::new();
    let mut in_block = false;
    for (i, line) in source.lines().enumerate() {
        let trimmed = line.trim_start();
        let Some(doc) = trimmed
            .strip_prefix("///")
            .or_else(|| trimmed.strip_prefix("//!"))
        else {
            in_block = false;
            continue;
        };
        if doc.trim_start().starts_with("```") {
            in_block = !in_block;
        } else if in_block {
            code.push((i + 1, doc));
        }
    }
    code
}

#[test]
fn doc_examples_use_the_facades_paths() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in SOURCES {
        rust_files(&root.join(dir), &mut files);
    }
    let mut wrong = Vec::new();
    for file in &files {
        let source = fs::read_to_string(file).unwrap();
        for (n, line) in doc_code_lines(&source) {
            if [
                "fate_core",
                "fate_deferred",
                "fate_http",
                "fate_compat",
                "fate_db",
            ]
            .iter()
            .any(|inner| line.contains(&format!("{inner}::")))
            {
                wrong.push(format!("{}:{n}:{line}", file.display()));
            }
        }
    }
    assert!(files.len() > 50, "found only {} source files", files.len());
    assert!(
        wrong.is_empty(),
        "doc examples a user cannot paste (write fate::... instead):\n{}",
        wrong.join("\n")
    );
}
