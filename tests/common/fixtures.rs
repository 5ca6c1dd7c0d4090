//! Committed fixtures under `tests/fixtures/`: the one place that finds and reads them.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `tests/fixtures/<relative>`.
pub fn path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// The text of `tests/fixtures/<relative>`; a missing file panics naming it.
pub fn text(relative: &str) -> String {
    let path = path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON fixture.
pub fn json(relative: &str) -> Value {
    serde_json::from_str(&text(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// A JSON-lines fixture: one value per line.
pub fn json_lines(relative: &str) -> Vec<Value> {
    text(relative)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{relative}: {e}")))
        .collect()
}

/// A series fixture: one number per line.
pub fn series(relative: &str) -> Vec<f64> {
    numbers(&path(relative))
}

/// A file of one number per line, anywhere.
pub fn numbers(path: &Path) -> Vec<f64> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| {
            l.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{}: {l:?}: {e}", path.display()))
        })
        .collect()
}
