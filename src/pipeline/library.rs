//! The pattern library: the built-in reference patterns (`assets/patterns/`, embedded so the
//! binary works from anywhere), patterns the user adds from files, and patterns captured from
//! the screen, saved as files in the pattern directory (see [`crate::config`]).
//!
//! A pattern file is plain text, one number per line (`#` comments and blank lines allowed),
//! named after its pattern: `<name>.txt`.

use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::sources::text::{TextError, parse_numbers, read_numbers};

/// A named reference pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct PatternSpec {
    pub name: String,
    pub values: Vec<f64>,
}

/// The built-in patterns, by name; made by `scripts/make_patterns.py`.
const BUILTIN: [(&str, &str); 4] = [
    ("cycle", include_str!("../../assets/patterns/cycle.txt")),
    (
        "ramp-drop",
        include_str!("../../assets/patterns/ramp-drop.txt"),
    ),
    ("spike", include_str!("../../assets/patterns/spike.txt")),
    ("step-up", include_str!("../../assets/patterns/step-up.txt")),
];

/// The built-in reference patterns.
pub fn builtin_patterns() -> Vec<PatternSpec> {
    BUILTIN
        .iter()
        .filter_map(|(name, text)| {
            let path = format!("assets/patterns/{name}.txt");
            parse_numbers(Path::new(&path), text)
                .ok()
                .map(|values| PatternSpec {
                    name: (*name).to_owned(),
                    values,
                })
        })
        .collect()
}

/// The shortest pattern: z-normalising fewer points says little about a shape.
pub const MIN_PATTERN_SAMPLES: usize = 4;

/// Why values cannot be a pattern.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PatternError {
    #[error("a pattern needs at least {MIN_PATTERN_SAMPLES} samples, found {found}")]
    TooShort { found: usize },
    /// `sample` counts from 1.
    #[error("sample {sample} is not a finite number ({value})")]
    NotFinite { sample: usize, value: f64 },
    #[error("the pattern is constant ({0}): it has no shape to search for")]
    Constant(f64),
}

/// Why `values` cannot be a pattern, if they cannot: too short, not finite, or constant (a
/// constant pattern has no shape to z-normalise; it would match every flat stretch).
pub fn check_pattern(values: &[f64]) -> Result<(), PatternError> {
    if values.len() < MIN_PATTERN_SAMPLES {
        return Err(PatternError::TooShort {
            found: values.len(),
        });
    }
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(PatternError::NotFinite {
            sample: i + 1,
            value: *v,
        });
    }
    if values.iter().all(|v| *v == values[0]) {
        return Err(PatternError::Constant(values[0]));
    }
    Ok(())
}

/// A pattern from a file of numbers, one per line, named after the file's stem.
pub fn load_pattern(path: &Path) -> Result<PatternSpec, TextError> {
    let values = read_numbers(path)?;
    check_pattern(&values).map_err(|e| TextError::invalid(path, e.to_string()))?;
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    Ok(PatternSpec { name, values })
}

/// Every `*.txt` pattern in `dir`, in file-name order; a missing directory has none.
pub fn load_pattern_dir(dir: &Path) -> Result<Vec<PatternSpec>, TextError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(TextError::invalid(
                dir,
                format!("cannot list the pattern directory: {e}"),
            ));
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt") && p.is_file())
        .collect();
    paths.sort();
    paths.iter().map(|p| load_pattern(p)).collect()
}

/// `name` made safe as a file name: letters, digits, `.`, `_` and `-` are kept, anything
/// else becomes `_`, and a leading `.` becomes `_` (no hidden files, no `..`).
pub fn file_safe_name(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        safe.replace_range(0..0, "_");
    }
    safe
}

/// Writes `pattern` to `dir/<name>.txt` (creating `dir`), one number per line in the shortest
/// form that reads back to the same `f64`; returns the file's path. An existing file of that
/// name is replaced.
pub fn save_pattern(dir: &Path, pattern: &PatternSpec) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}.txt", file_safe_name(&pattern.name)));
    let mut text = format!(
        "# pattern {:?}, {} samples\n",
        pattern.name,
        pattern.values.len()
    );
    for v in &pattern.values {
        text.push_str(&format!("{v:?}\n"));
    }
    // Written aside and renamed, so a crash never leaves half a pattern under the name.
    let partial = path.with_extension("txt.partial");
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_pattern_parses() {
        let patterns = builtin_patterns();
        assert_eq!(patterns.len(), BUILTIN.len());
        let cycle = patterns.iter().find(|p| p.name == "cycle").unwrap();
        assert_eq!(cycle.values.len(), 50);
        assert!((cycle.values[12] - (2.0 * std::f64::consts::PI * 12.0 / 50.0).sin()).abs() < 1e-6);
        for p in &patterns {
            check_pattern(&p.values).unwrap();
        }
    }

    #[test]
    fn a_saved_pattern_reads_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let values = vec![0.1, -2.5e-7, 1.0 / 3.0, 12345.678, -0.0, 7.0];
        let spec = PatternSpec {
            name: "lorenz.x-1200".into(),
            values: values.clone(),
        };
        let path = save_pattern(&dir.path().join("new"), &spec).unwrap();
        assert_eq!(path.file_name().unwrap(), "lorenz.x-1200.txt");
        let back = load_pattern(&path).unwrap();
        assert_eq!(back.name, spec.name);
        assert_eq!(back.values, values);
        let all = load_pattern_dir(&dir.path().join("new")).unwrap();
        assert_eq!(all, vec![spec]);
        assert!(
            load_pattern_dir(&dir.path().join("absent"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn names_become_safe_file_names() {
        assert_eq!(file_safe_name("lorenz.x-12"), "lorenz.x-12");
        assert_eq!(file_safe_name("../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_safe_name("a b/c"), "a_b_c");
        assert_eq!(file_safe_name(""), "_");
        assert_eq!(file_safe_name(".hidden"), "_.hidden");
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        let reason = |values: &[f64]| check_pattern(values).unwrap_err().to_string();
        assert!(reason(&[1.0, 2.0, 3.0]).contains("at least 4"));
        assert!(reason(&[1.0, f64::NAN, 3.0, 4.0]).contains("sample 2"));
        assert!(reason(&[2.0; 8]).contains("constant"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flat.txt");
        std::fs::write(&path, "1\n1\n1\n1\n").unwrap();
        let err = load_pattern(&path).unwrap_err().to_string();
        assert!(
            err.contains("flat.txt") && err.contains("constant"),
            "{err}"
        );
    }
}
