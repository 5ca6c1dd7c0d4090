//! Splitting one line of CSV (RFC 4180 quoting, by `csv-core`) or of whitespace columns.
//!
//! A line is split on its own: records never span lines here, since a stream is processed line
//! by line as it arrives. A quoted field with a line break in it is therefore not supported
//! (the two halves are two bad lines, counted and reported).

use csv_core::{ReadFieldResult, Reader};

/// Reusable buffers for splitting CSV lines without allocating per line.
#[derive(Debug)]
pub struct CsvSplitter {
    reader: Reader,
    field: Vec<u8>,
    fields: Vec<String>,
}

impl Default for CsvSplitter {
    fn default() -> Self {
        // `Reader::new()`, not `Reader::default()`: the derived default has a NUL delimiter.
        Self {
            reader: Reader::new(),
            field: Vec::new(),
            fields: Vec::new(),
        }
    }
}

impl CsvSplitter {
    /// Splits `line` (without its line break) into fields, unquoted. A line without a quote
    /// is split on its commas as it is (the common case, with no copy); one with quotes goes
    /// through csv-core.
    pub fn split<'a>(&'a mut self, line: &'a str) -> Result<Vec<&'a str>, String> {
        if !line.contains('"') {
            return Ok(line.split(',').collect());
        }
        let count = self.split_quoted(line)?;
        Ok(self.fields[..count].iter().map(String::as_str).collect())
    }

    /// Splits a line with quotes into `self.fields`; returns how many fields it has.
    fn split_quoted(&mut self, line: &str) -> Result<usize, String> {
        self.reader.reset();
        let mut input = line.as_bytes();
        let mut count = 0;
        loop {
            self.field.clear();
            let mut out = [0u8; 256];
            let last = loop {
                let (result, read, written) = self.reader.read_field(input, &mut out);
                input = &input[read..];
                self.field.extend_from_slice(&out[..written]);
                match result {
                    ReadFieldResult::OutputFull => continue,
                    ReadFieldResult::Field { record_end } => break record_end,
                    ReadFieldResult::InputEmpty => {
                        // The whole line is in: tell the reader the input has ended.
                        let (result, _, written) = self.reader.read_field(&[], &mut out);
                        self.field.extend_from_slice(&out[..written]);
                        match result {
                            ReadFieldResult::Field { record_end } => break record_end,
                            _ => break true,
                        }
                    }
                    ReadFieldResult::End => break true,
                }
            };
            let text = std::str::from_utf8(&self.field)
                .map_err(|_| format!("field {} is not valid UTF-8", count + 1))?;
            if count < self.fields.len() {
                self.fields[count].clear();
                self.fields[count].push_str(text);
            } else {
                self.fields.push(text.to_owned());
            }
            count += 1;
            if last {
                break;
            }
        }
        Ok(count)
    }
}

/// Splits a line of columns on runs of spaces or tabs.
pub fn split_columns(line: &str) -> std::str::SplitAsciiWhitespace<'_> {
    line.split_ascii_whitespace()
}

/// A cell as a number, when it is one: finite, in Rust's float syntax (which covers `1`,
/// `-2.5`, `1e-3`, `.5`), surrounding spaces allowed.
pub fn number(cell: &str) -> Option<f64> {
    cell.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_are_split_with_quotes() {
        let mut s = CsvSplitter::default();
        assert_eq!(s.split("a,b,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            s.split(r#"1,"two, three","say ""hi""",4"#).unwrap(),
            ["1", "two, three", r#"say "hi""#, "4"]
        );
        assert_eq!(s.split("x,,").unwrap(), ["x", "", ""]);
        assert_eq!(s.split("").unwrap(), [""]);
        // With and without quotes, the same fields.
        assert_eq!(s.split("1,\"2\",3").unwrap(), ["1", "2", "3"]);
        assert_eq!(s.split("1,2,3").unwrap(), ["1", "2", "3"]);
        assert_eq!(s.split(&"y".repeat(1000)).unwrap()[0].len(), 1000);
    }

    #[test]
    fn numbers_are_finite_floats() {
        assert_eq!(number(" 2.5 "), Some(2.5));
        assert_eq!(number("-1e3"), Some(-1000.0));
        assert_eq!(number("nan"), None);
        assert_eq!(number("inf"), None);
        assert_eq!(number("12a"), None);
        assert_eq!(number(""), None);
    }
}
