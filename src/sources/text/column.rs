//! One numeric column of a CSV, JSONL or columns file: what the headless commands' `--column`
//! reads. The file is parsed by the same [`RecordParser`] as a live input, so a column means
//! the same thing in `analyze` as on the screen; but here a bad cell of the column, or a line
//! that does not parse, is an error naming the line, since a series with a hole is not the
//! series the user has.

use std::path::Path;

use super::parser::{ParserOptions, RecordParser};
use super::{Format, TextError, read_text};
use crate::model::{ChannelKind, Value};

/// Reads `column` of the file at `path` (`-`: stdin), format inferred from the extension or the
/// first line. A JSONL line without the field is skipped; a value that is not a number, a line
/// that does not parse, a missing column and an empty input are errors.
pub fn read_column(path: &Path, column: &str) -> Result<Vec<f64>, TextError> {
    let text = read_text(path)?;
    read_column_from_text(path, &text, column)
}

/// A series: `column` of a CSV, JSONL or columns file when one is named, else one number per
/// line (the headless commands' inputs).
pub fn read_series(path: &Path, column: Option<&str>) -> Result<Vec<f64>, TextError> {
    match column {
        Some(column) => read_column(path, column),
        None => super::read_numbers(path),
    }
}

/// [`read_column`] on text already read; `path` names it in errors.
pub fn read_column_from_text(path: &Path, text: &str, column: &str) -> Result<Vec<f64>, TextError> {
    let Some(first) = text.lines().find(|l| !l.trim().is_empty()) else {
        return Err(TextError::invalid(path, "the input is empty"));
    };
    let format = Format::infer((path.as_os_str() != "-").then_some(path), first);
    let mut parser = RecordParser::new(ParserOptions {
        format,
        name: "\u{0}input".to_owned(),
        time_field: None,
        text_field: None,
        max_channels: usize::MAX,
    });
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let mut values = Vec::new();
    let mut channel = None;
    for (index, line) in text.lines().enumerate() {
        let line_no = index as u64 + 1;
        let parse_error = |message: String| TextError::Parse {
            path: path.to_path_buf(),
            line: line_no,
            message,
        };
        parser
            .parse_line(line_no, line, 0, &mut records, &mut problems)
            .map_err(|e| parse_error(e.message))?;
        if let Some(problem) = problems
            .drain(..)
            .find(|p| p.field.as_deref().is_none_or(|f| f == column))
        {
            return Err(parse_error(problem.message));
        }
        if channel.is_none() {
            channel = parser
                .catalog()
                .channels
                .iter()
                .find(|c| c.name == column && c.kind == ChannelKind::Scalar)
                .map(|c| c.id);
        }
        values.extend(records.drain(..).filter_map(|r| match r.value {
            Value::Scalar(x) if Some(r.channel) == channel => Some(x),
            _ => None,
        }));
    }
    if channel.is_none() {
        let fields = match &parser.catalog().channels[0].kind {
            ChannelKind::Event { fields } => fields.join(", "),
            _ => String::new(),
        };
        let message = if fields.is_empty() {
            format!("no column {column:?}: the input has no columns")
        } else {
            format!("no numeric column {column:?}; the {format} input has: {fields}")
        };
        return Err(TextError::invalid(path, message));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, text: &str, wanted: &str) -> Result<Vec<f64>, String> {
        read_column_from_text(Path::new(name), text, wanted).map_err(|e| e.to_string())
    }

    #[test]
    fn columns_of_every_format() {
        assert_eq!(
            column("a.csv", "t,x\n0,1.5\n1,-2\n", "x"),
            Ok(vec![1.5, -2.0])
        );
        assert_eq!(
            column("a.jsonl", "{\"x\":1}\n{\"y\":2}\n{\"x\":3,\"y\":4}\n", "x"),
            Ok(vec![1.0, 3.0])
        );
        assert_eq!(column("a.txt", "1 2\n3 4\n", "c2"), Ok(vec![2.0, 4.0]));
        assert_eq!(column("a.dat", "u v\n1 2\n3 4\n", "u"), Ok(vec![1.0, 3.0]));
    }

    #[test]
    fn bad_cells_missing_columns_and_empty_inputs_are_errors() {
        assert_eq!(
            column("a.csv", "t,x\n0,1\n1,oops\n", "x"),
            Err("a.csv:3: column \"x\": not a number: \"oops\"".to_owned())
        );
        // A bad cell elsewhere does not matter.
        assert_eq!(column("a.csv", "t,x\nz,1\n1,2\n", "x"), Ok(vec![1.0, 2.0]));
        assert_eq!(
            column("a.csv", "t,x\n0,1\n", "y"),
            Err("a.csv: no numeric column \"y\"; the csv input has: t, x".to_owned())
        );
        assert_eq!(
            column("a.csv", "\n\n", "x"),
            Err("a.csv: the input is empty".to_owned())
        );
        let err = column("a.csv", "1,2\n3,4\n", "x").unwrap_err();
        assert!(err.starts_with("a.csv:1: this CSV has no header"), "{err}");
        let err = column("a.jsonl", "{\"x\":1}\n{\"x\":\"two\"}\n", "x").unwrap_err();
        assert!(
            err.starts_with("a.jsonl:2: field \"x\" is a string"),
            "{err}"
        );
        let err = column("a.jsonl", "{\"x\":1}\n{\"x\":\n", "x").unwrap_err();
        assert!(err.starts_with("a.jsonl:2: not a JSON object"), "{err}");
    }
}
