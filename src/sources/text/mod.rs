//! Records from text: numbers one per line, JSON lines, CSV and whitespace-separated columns.
//!
//! Pure parsing, no reading: the headless commands, the configuration, the pattern library and
//! the live input sources ([`super::input`]) all go through it, so a line means the same thing
//! everywhere.
//!
//! - [`numbers`]: one number per line (series, patterns), texts, `-` for stdin.
//! - [`RecordParser`]: lines of a stream turned into channels and records as they arrive. A
//!   numeric field becomes a scalar channel named after it, each line (object or row) is also
//!   one record of an event channel named after the source, and a field that first appears
//!   later adds a channel ([`RecordParser::take_catalog`]).
//! - [`MessageParser`]: messages of named subjects (NATS) by the same rules, each subject its
//!   own channels.
//! - [`read_column`]: one numeric column of a CSV, JSONL or columns file, for the headless
//!   commands' `--column`.

mod column;
mod delimited;
mod jsonl;
mod message;
pub mod numbers;
mod parser;
mod time;

use std::fmt;
use std::path::{Path, PathBuf};

pub use column::{read_column, read_column_from_text, read_series};
pub use message::{MessageParser, MessageProblem, MessageStats};
pub use numbers::{parse_numbers, read_numbers, read_sequence_text, read_text};
pub use parser::{ParseStats, ParserOptions, RecordParser, tokenize};
pub use time::parse_time_s;

/// Why a text input could not be used, naming the input and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl TextError {
    pub(crate) fn invalid(path: &Path, message: impl Into<String>) -> Self {
        TextError::Invalid {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

/// How the lines of an input are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header line naming the columns (RFC 4180 quoting).
    Csv,
    /// Numbers separated by runs of spaces or tabs, with an optional first line of names.
    Columns,
}

impl Format {
    /// The names `--format` takes.
    pub const NAMES: [&'static str; 3] = ["jsonl", "csv", "columns"];

    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Columns => "columns",
        }
    }

    /// The format a file's extension names, if it names one.
    pub fn from_extension(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "tsv" | "txt" | "dat" | "tab" => Some(Format::Columns),
            _ => None,
        }
    }

    /// The format a first line looks like: `{` starts JSON, a comma outside quotes makes CSV,
    /// anything else is columns.
    pub fn from_first_line(line: &str) -> Format {
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.starts_with('{') {
            Format::Jsonl
        } else if line.contains(',') {
            Format::Csv
        } else {
            Format::Columns
        }
    }

    /// The extension's format when the path has a known one, else the first line's.
    pub fn infer(path: Option<&Path>, first_line: &str) -> Format {
        path.and_then(Format::from_extension)
            .unwrap_or_else(|| Format::from_first_line(first_line))
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jsonl" | "ndjson" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            "columns" => Ok(Format::Columns),
            other => Err(format!(
                "unknown format {other:?}; valid formats: {}",
                Format::NAMES.join(", ")
            )),
        }
    }
}

/// One line that could not be used, or one cell of it, with the input's own line number
/// (counting from 1; a CSV header is line 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    /// The field or column at fault, when one cell is (the rest of the line was used).
    pub field: Option<String>,
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_inferred_from_the_extension_then_the_first_line() {
        assert_eq!(
            Format::infer(Some(Path::new("a.JSONL")), "1,2"),
            Format::Jsonl
        );
        assert_eq!(Format::infer(Some(Path::new("a.csv")), "{"), Format::Csv);
        assert_eq!(
            Format::infer(Some(Path::new("a.log")), "{\"a\":1}"),
            Format::Jsonl
        );
        assert_eq!(Format::infer(None, "x,y\n"), Format::Csv);
        assert_eq!(Format::infer(None, "1 2\t3"), Format::Columns);
        assert_eq!("columns".parse::<Format>(), Ok(Format::Columns));
        assert!(
            "xml"
                .parse::<Format>()
                .unwrap_err()
                .contains("jsonl, csv, columns")
        );
    }
}
