//! Replays every saved fuzz input in `tests/fuzz_regressions/<target>/` with the same checks as
//! the cargo-fuzz target of that name (`fuzz/checks.rs`), so fixed crashes stay fixed.

use std::path::PathBuf;

#[path = "../fuzz/checks.rs"]
mod checks;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: input {} fails", path.display());
        count += 1;
    }
    assert!(count > 0, "no inputs in {}", dir.display());
}

#[test]
fn extract_links_inputs() {
    replay("extract_links", checks::extract_links);
}

#[test]
fn canonicalize_inputs() {
    replay("canonicalize", checks::canonicalize);
}

#[test]
fn charset_inputs() {
    replay("charset", checks::charset);
}

#[test]
fn sitemap_inputs() {
    replay("sitemap", checks::sitemap);
}

/// The link pass (no DOM) gets the same saved HTML inputs as the DOM-based target.
#[test]
fn link_pass_inputs() {
    replay("extract_links", checks::link_pass);
}
