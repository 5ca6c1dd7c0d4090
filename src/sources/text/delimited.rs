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
    /// Cells in the last line split.
    cells_hint: usize,
}

impl Default for CsvSplitter {
    fn default() -> Self {
        // `Reader::new()`, not `Reader::default()`: the derived default has a NUL delimiter.
        Self {
            reader: Reader::new(),
            field: Vec::new(),
            fields: Vec::new(),
            cells_hint: 0,
        }
    }
}

impl CsvSplitter {
    /// Splits `line` (without its line break) into fields, unquoted. A line without a quote
    /// is split on its commas as it is (the common case, with no copy); one with quotes goes
    /// through csv-core.
    pub fn split<'a>(&'a mut self, line: &'a str) -> Result<Vec<&'a str>, String> {
        // Sized for the last line's cells: rows of a table have the same count.
        let mut cells = Vec::with_capacity(self.cells_hint);
        // One pass over the bytes finds the commas, or a quote that sends the line to
        // csv-core. Cells are short, so a plain loop beats a `memchr` call per cell.
        let mut start = 0;
        for (i, &b) in line.as_bytes().iter().enumerate() {
            if b == b',' {
                cells.push(&line[start..i]);
                start = i + 1;
            } else if b == b'"' {
                let count = self.split_quoted(line)?;
                self.cells_hint = count;
                return Ok(self.fields[..count].iter().map(String::as_str).collect());
            }
        }
        cells.push(&line[start..]);
        self.cells_hint = cells.len();
        Ok(cells)
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
    let cell = trim(cell);
    short_decimal(cell.as_bytes())
        .or_else(|| cell.parse::<f64>().ok())
        .filter(|x| x.is_finite())
}

/// Powers of ten that a double holds exactly.
const EXACT_POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The usual cell, `-12.3456`: a sign, at most 15 digits and one point, read without the
/// general parser. Clinger's fast path (Clinger 1990, "How to read floating point numbers
/// accurately"): the digits as an integer below 10^15 < 2^53 and the power of ten are both
/// exact doubles, so one IEEE division is the correctly rounded value, the same one
/// `str::parse` gives. Anything else (exponents, more digits) returns `None` for the general
/// parser.
#[inline]
fn short_decimal(cell: &[u8]) -> Option<f64> {
    let (negative, digits) = match cell {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, cell),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut mantissa = 0u64;
    let mut count = 0;
    let mut point = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
            }
            b'.' if point.is_none() => point = Some(i),
            _ => return None,
        }
    }
    if count == 0 || count > 15 {
        return None;
    }
    let fraction_digits = point.map_or(0, |p| digits.len() - p - 1);
    let x = mantissa as f64 / EXACT_POWERS_OF_TEN[fraction_digits];
    Some(if negative { -x } else { x })
}

/// `str::trim`, with a fast answer for the usual cell that has no space at either end.
#[inline]
pub fn trim(cell: &str) -> &str {
    match cell.as_bytes() {
        // A printable ASCII byte at each end is not white space (a byte past ASCII may begin
        // or end a Unicode space, such as U+00A0).
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => cell,
        [only] if only.is_ascii_graphic() => cell,
        _ => cell.trim(),
    }
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

    proptest::proptest! {
        /// The fast path gives exactly what `str::parse` gives, or leaves the cell to it.
        #[test]
        fn short_decimals_read_as_the_standard_parser_reads_them(
            cell in r"[+-]?[0-9]{0,17}(\.[0-9]{0,17})?",
            mantissa in 0u64..10u64.pow(15),
            scale in 0usize..16,
        ) {
            let expected = cell.parse::<f64>().ok();
            if let Some(x) = short_decimal(cell.as_bytes()) {
                proptest::prop_assert_eq!(Some(x.to_bits()), expected.map(f64::to_bits), "{}", cell);
            }
            let digits = format!("{mantissa:0>16}");
            let decimal = format!("{}.{}", &digits[..16 - scale], &digits[16 - scale..]);
            let decimal = decimal.trim_start_matches('0');
            proptest::prop_assert_eq!(
                number(decimal).map(f64::to_bits),
                decimal.parse::<f64>().ok().map(f64::to_bits),
                "{}", decimal
            );
        }
    }

    #[test]
    fn numbers_are_finite_floats() {
        assert_eq!(number("-0").map(f64::to_bits), Some((-0.0f64).to_bits()));
        assert_eq!(number("5."), Some(5.0));
        assert_eq!(number(".5"), Some(0.5));
        assert_eq!(number("+.5"), Some(0.5));
        assert_eq!(number("."), None);
        assert_eq!(number("-"), None);
        assert_eq!(number("1.2.3"), None);
        assert_eq!(number("0.1"), Some(0.1));
        assert_eq!(number("123456789012345.6"), Some(123456789012345.6));
        assert_eq!(number(" 2.5 "), Some(2.5));
        assert_eq!(number("-1e3"), Some(-1000.0));
        assert_eq!(number("nan"), None);
        assert_eq!(number("inf"), None);
        assert_eq!(number("12a"), None);
        assert_eq!(number(""), None);
        for cell in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\ta\u{a0}",
            "\u{3000}x",
            "x y",
            "\u{a0}",
            "\u{b}a",
        ] {
            assert_eq!(trim(cell), cell.trim(), "{cell:?}");
        }
    }
}
