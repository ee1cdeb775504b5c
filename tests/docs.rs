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

/// The lines of `text`, trimmed at both ends (indentation may differ in a quote).
fn trimmed(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).collect()
}

/// Where the lines of `chunk` appear together in `file`, at or after line `from`.
fn find_chunk(file: &[&str], chunk: &[&str], from: usize) -> Option<usize> {
    (from..=file.len().saturating_sub(chunk.len())).find(|&at| file[at..at + chunk.len()] == *chunk)
}

/// Checks the Rust snippets of the markdown file `doc`: each follows a
/// `<!-- snippet: PATH -->` line and is a copy of parts of PATH (in order, each part's lines
/// together), parts separated by `// ...` lines. Returns how many snippets it checked.
fn check_snippets(doc: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(root.join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"));
    let mut source: Option<&str> = None;
    let mut lines = text.lines().enumerate();
    let mut checked = 0;
    while let Some((n, line)) = lines.next() {
        if let Some(path) = line
            .strip_prefix("<!-- snippet: ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        {
            source = Some(path);
        }
        if !line.starts_with("```rust") {
            continue;
        }
        let path = source
            .take()
            .unwrap_or_else(|| panic!("{doc}:{}: a Rust snippet without a source", n + 1));
        let file = fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let file = trimmed(&file);
        let block: Vec<&str> = lines
            .by_ref()
            .map(|(_, l)| l)
            .take_while(|l| !l.starts_with("```"))
            .collect();
        let mut from = 0;
        for chunk in block.split(|l| l.trim() == "// ...") {
            let chunk: Vec<&str> = chunk.iter().map(|l| l.trim()).collect();
            from = find_chunk(&file, &chunk, from)
                .map(|at| at + chunk.len())
                .unwrap_or_else(|| {
                    panic!(
                        "{doc}:{}: this part of the snippet is not in {path} (in this order); \
                     copy it again from the file:\n{}",
                        n + 1,
                        chunk.join("\n")
                    )
                });
        }
        checked += 1;
    }
    checked
}

#[test]
fn the_tutorials_code_is_copied_from_its_examples() {
    assert!(check_snippets("docs/tutorial.md") >= 11);
}
