//! `midstream-tui compare --metric dtw|dtw-sq|lcs|edit [--window W] [--json] A B`: the
//! distance or similarity between two series or texts, printed as one number (DESIGN.md,
//! "Headless commands").
//!
//! - `dtw`: minimum over warping paths of Σ|aᵢ − bⱼ| (no root); `dtw-sq`: the square root of
//!   the minimum Σ(aᵢ − bⱼ)². Inputs are numbers, one per line. `--window W` allows the cells
//!   with |i − j| ≤ max(W, |len A − len B|).
//! - `lcs`: length of the longest common subsequence; `edit`: Levenshtein distance. The two
//!   files are compared as texts, Unicode scalar value by value, less one final newline.
//!
//! Plain output is the number alone on one line; `--json` prints one object on one line,
//! `{"metric": "...", "value": ...}`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::HeadlessError;
use crate::engines::temporal::{
    DtwCost, DtwOptions, Operand, TemporalError, dtw, lcs_len_str, levenshtein_str,
};
use crate::sources::text::{read_sequence_text, read_series};

/// What `compare` computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// DTW with |a − b| local costs, summed without a root.
    Dtw,
    /// DTW with squared local costs; the square root of the minimum sum.
    DtwSq,
    /// Length of the longest common subsequence of the two texts.
    Lcs,
    /// Levenshtein distance between the two texts.
    Edit,
}

impl Metric {
    /// The metric's name on the command line and in the JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Dtw => "dtw",
            Metric::DtwSq => "dtw-sq",
            Metric::Lcs => "lcs",
            Metric::Edit => "edit",
        }
    }

    /// Whether the metric compares numeric series (and so accepts `--window`).
    pub fn is_dtw(self) -> bool {
        matches!(self, Metric::Dtw | Metric::DtwSq)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = HeadlessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Metric::Dtw, Metric::DtwSq, Metric::Lcs, Metric::Edit]
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                HeadlessError::Invalid(format!(
                    "unknown metric {s:?}: expected dtw, dtw-sq, lcs or edit"
                ))
            })
    }
}

/// Options of `compare`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareOptions {
    pub metric: Metric,
    /// Sakoe–Chiba half-width for DTW (widened to the length difference).
    pub window: Option<usize>,
    /// Print one JSON object instead of the bare number.
    pub json: bool,
    /// First input (`-` for stdin).
    pub a: PathBuf,
    /// Second input (`-` for stdin).
    pub b: PathBuf,
    /// Read this column of both inputs (CSV, JSONL or columns) instead (dtw, dtw-sq).
    pub column: Option<String>,
}

/// The result of a comparison: a real distance (DTW) or a count (LCS length, edit distance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CompareValue {
    Distance(f64),
    Count(usize),
}

impl fmt::Display for CompareValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Rust's shortest representation that reads back to the same f64.
            CompareValue::Distance(v) => write!(f, "{v}"),
            CompareValue::Count(n) => write!(f, "{n}"),
        }
    }
}

/// Reads both inputs and computes the metric.
pub fn compute(opts: &CompareOptions) -> Result<CompareValue, HeadlessError> {
    if is_stdin(&opts.a) && is_stdin(&opts.b) {
        return Err(HeadlessError::Invalid(
            "A and B cannot both be read from stdin (`-`)".into(),
        ));
    }
    if opts.window.is_some() && !opts.metric.is_dtw() {
        return Err(HeadlessError::Invalid(format!(
            "--window applies to dtw and dtw-sq only, not to {}",
            opts.metric
        )));
    }
    if opts.column.is_some() && !opts.metric.is_dtw() {
        return Err(HeadlessError::Invalid(format!(
            "--column applies to dtw and dtw-sq only: {} compares the inputs as texts",
            opts.metric
        )));
    }
    match opts.metric {
        Metric::Dtw | Metric::DtwSq => {
            let a = read_series(&opts.a, opts.column.as_deref())?;
            let b = read_series(&opts.b, opts.column.as_deref())?;
            let cost = if opts.metric == Metric::Dtw {
                DtwCost::Absolute
            } else {
                DtwCost::Squared
            };
            let options = DtwOptions {
                cost,
                window: opts.window,
            };
            let distance = dtw(&a, &b, &options).map_err(|err| dtw_error(err, opts))?;
            if !distance.is_finite() {
                return Err(HeadlessError::Invalid(format!(
                    "the {} distance between {} and {} overflows a 64-bit float",
                    opts.metric,
                    opts.a.display(),
                    opts.b.display()
                )));
            }
            Ok(CompareValue::Distance(distance))
        }
        Metric::Lcs | Metric::Edit => {
            let a = read_sequence_text(&opts.a)?;
            let b = read_sequence_text(&opts.b)?;
            Ok(CompareValue::Count(if opts.metric == Metric::Lcs {
                lcs_len_str(&a, &b)
            } else {
                levenshtein_str(&a, &b)
            }))
        }
    }
}

/// Runs `compare`: one number on one line, or one JSON object on one line with `--json`.
pub fn run(opts: &CompareOptions, out: &mut dyn Write) -> Result<(), HeadlessError> {
    let value = compute(opts)?;
    if opts.json {
        let json_value = match value {
            CompareValue::Distance(v) => serde_json::Value::from(v),
            CompareValue::Count(n) => serde_json::Value::from(n),
        };
        let object = serde_json::json!({ "metric": opts.metric.name(), "value": json_value });
        writeln!(out, "{object}")?;
    } else {
        writeln!(out, "{value}")?;
    }
    Ok(())
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Turns an engine error into one naming the input file.
fn dtw_error(err: TemporalError, opts: &CompareOptions) -> HeadlessError {
    let name = |operand: Operand| match operand {
        Operand::First => ("A", &opts.a),
        Operand::Second => ("B", &opts.b),
    };
    match err {
        TemporalError::EmptySeries(operand) => {
            let (label, path) = name(operand);
            HeadlessError::Invalid(format!(
                "input {label} ({}) has no numbers: DTW needs at least one value in each series",
                path.display()
            ))
        }
        TemporalError::NonFinite {
            operand,
            index,
            value,
        } => {
            let (label, path) = name(operand);
            HeadlessError::Invalid(format!(
                "input {label} ({}): value number {} is not finite ({value})",
                path.display(),
                index + 1
            ))
        }
        other => HeadlessError::Invalid(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_temp(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn run_to_string(opts: &CompareOptions) -> Result<String, HeadlessError> {
        let mut out = Vec::new();
        run(opts, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    fn options(metric: Metric, a: &Path, b: &Path) -> CompareOptions {
        CompareOptions {
            metric,
            window: None,
            json: false,
            a: a.to_path_buf(),
            b: b.to_path_buf(),
            column: None,
        }
    }

    #[test]
    fn prints_one_number_or_one_json_object() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_temp(dir.path(), "a.txt", "0\n1\n3\n");
        let b = write_temp(dir.path(), "b.txt", "1\n2\n2\n5\n");
        assert_eq!(run_to_string(&options(Metric::Dtw, &a, &b)).unwrap(), "5\n");
        let sq = run_to_string(&options(Metric::DtwSq, &a, &b)).unwrap();
        assert_eq!(sq.trim().parse::<f64>().unwrap(), 7f64.sqrt());
        let json = run_to_string(&CompareOptions {
            json: true,
            ..options(Metric::Dtw, &a, &b)
        })
        .unwrap();
        assert_eq!(json, "{\"metric\":\"dtw\",\"value\":5.0}\n");

        let ta = write_temp(dir.path(), "ta.txt", "kitten\n");
        let tb = write_temp(dir.path(), "tb.txt", "sitting");
        assert_eq!(
            run_to_string(&options(Metric::Edit, &ta, &tb)).unwrap(),
            "3\n"
        );
        let json = run_to_string(&CompareOptions {
            json: true,
            ..options(Metric::Lcs, &ta, &tb)
        })
        .unwrap();
        assert_eq!(json, "{\"metric\":\"lcs\",\"value\":4}\n");
    }

    #[test]
    fn errors_name_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_temp(dir.path(), "a.txt", "1\n2\n");
        let empty = write_temp(dir.path(), "empty.txt", "# nothing\n\n");
        let bad = write_temp(dir.path(), "bad.txt", "1\n2\nthree\n");
        let err = compute(&options(Metric::Dtw, &a, &empty))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("input B ("), "{err}");
        assert!(
            err.contains("empty.txt") && err.contains("no numbers"),
            "{err}"
        );
        let err = compute(&options(Metric::DtwSq, &bad, &a))
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("bad.txt:3: not a number: \"three\""), "{err}");
        let err = compute(&CompareOptions {
            window: Some(2),
            ..options(Metric::Edit, &a, &a)
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("--window"), "{err}");
        let stdin = Path::new("-");
        assert!(compute(&options(Metric::Lcs, stdin, stdin)).is_err());
        // Empty texts are fine for lcs and edit; a lone final newline is ignored.
        let blank = write_temp(dir.path(), "blank.txt", "");
        let newline = write_temp(dir.path(), "newline.txt", "\n");
        let abc = write_temp(dir.path(), "abc.txt", "abc\n");
        assert_eq!(
            compute(&options(Metric::Edit, &blank, &abc)).unwrap(),
            CompareValue::Count(3)
        );
        assert_eq!(
            compute(&options(Metric::Edit, &newline, &blank)).unwrap(),
            CompareValue::Count(0)
        );
        assert_eq!(
            compute(&options(Metric::Lcs, &blank, &abc)).unwrap(),
            CompareValue::Count(0)
        );
    }

    #[test]
    fn metric_names_round_trip() {
        for metric in [Metric::Dtw, Metric::DtwSq, Metric::Lcs, Metric::Edit] {
            assert_eq!(metric.name().parse::<Metric>().unwrap(), metric);
        }
        assert!("euclid".parse::<Metric>().is_err());
    }
}
