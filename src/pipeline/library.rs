//! The pattern library: the built-in reference patterns (`assets/patterns/`, embedded so the
//! binary works from anywhere) and patterns the user adds from files.

use std::path::Path;

use super::engines::PatternSpec;
use crate::headless::HeadlessError;
use crate::headless::input::{parse_numbers, read_numbers};

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

/// A pattern from a file of numbers, one per line, named after the file's stem.
pub fn load_pattern(path: &Path) -> Result<PatternSpec, HeadlessError> {
    let values = read_numbers(path)?;
    if values.len() < 4 {
        return Err(HeadlessError::Invalid(format!(
            "{}: a pattern needs at least 4 samples, found {}",
            path.display(),
            values.len()
        )));
    }
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    Ok(PatternSpec { name, values })
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
    }
}
