//! Numbers one per line (series, patterns) and whole texts, from a file or `-` for stdin.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::TextError;

/// Reads a whole input, from a file or from stdin when the path is `-`.
pub fn read_text(path: &Path) -> Result<String, TextError> {
    let io_err = |source| TextError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(io_err)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path).map_err(io_err)
    }
}

/// Reads a text for `lcs`/`edit`: the file as it is, less one final newline if present.
pub fn read_sequence_text(path: &Path) -> Result<String, TextError> {
    let mut text = read_text(path)?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// Parses one number per line. Blank lines and lines starting with `#` are skipped; anything
/// else that is not a finite number is an error naming the file and the line.
pub fn parse_numbers(path: &Path, text: &str) -> Result<Vec<f64>, TextError> {
    let mut values = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parse_err = |message: String| TextError::Parse {
            path: PathBuf::from(path),
            line: index as u64 + 1,
            message,
        };
        let value: f64 = line
            .parse()
            .map_err(|_| parse_err(format!("not a number: {line:?}")))?;
        if !value.is_finite() {
            return Err(parse_err(format!("not a finite number: {line:?}")));
        }
        values.push(value);
    }
    Ok(values)
}

/// Reads a numeric series from a file or stdin.
pub fn read_numbers(path: &Path) -> Result<Vec<f64>, TextError> {
    let text = read_text(path)?;
    parse_numbers(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_names_the_bad_line() {
        let path = Path::new("a.txt");
        assert_eq!(
            parse_numbers(path, "1\n 2.5 \n\n# note\n-3e2\n").unwrap(),
            vec![1.0, 2.5, -300.0]
        );
        let err = parse_numbers(path, "1\n2\nx7\n").unwrap_err().to_string();
        assert_eq!(err, "a.txt:3: not a number: \"x7\"");
        let err = parse_numbers(path, "1\nNaN\n").unwrap_err().to_string();
        assert_eq!(err, "a.txt:2: not a finite number: \"NaN\"");
    }
}
