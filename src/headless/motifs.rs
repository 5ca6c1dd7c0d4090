//! `midstream-tui motifs --window M [--top K] [--json] FILE`: the matrix profile's top motif
//! pairs and discords of one series.
//!
//! Plain output is one line per motif pair (`motif 1: 120 and 480, distance 0.123457`) and per
//! discord (`discord 1: 333, distance 9.876543`), positions being window starts counted from 0
//! over the numbers of the file; `--json` prints one JSON object on one line with the keys of
//! DESIGN.md (`motifs: [{a, b, distance}]`, `discords: [{index, distance}]`) and `window`, `n`,
//! `exclusion`, `top`, `elapsed_ms`.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};

use super::HeadlessError;
use crate::engines::meta::{MotifDiscovery, discover};
use crate::sources::text::read_series;

/// Motif pairs and discords reported when `--top` is not given.
pub const DEFAULT_TOP: usize = 3;

/// Options of `motifs`, as the command line gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct MotifsOptions {
    /// Window (subsequence) length in samples.
    pub window: usize,
    /// How many motif pairs, and how many discords, to report.
    pub top: usize,
    pub json: bool,
    /// Series, one number per line (`-` for stdin).
    pub file: PathBuf,
    /// Read this column of a CSV, JSONL or columns file instead.
    pub column: Option<String>,
}

/// Reads the series, finds its motifs and discords and writes them to `out`.
pub fn run(opts: &MotifsOptions, out: &mut dyn std::io::Write) -> Result<(), HeadlessError> {
    if opts.top == 0 {
        return Err(HeadlessError::Invalid(
            "--top must be at least 1".to_string(),
        ));
    }
    let series = read_series(&opts.file, opts.column.as_deref())?;
    let started = Instant::now();
    let found = discover(&series, opts.window, opts.top)
        .map_err(|err| HeadlessError::Invalid(format!("{}: {err}", opts.file.display())))?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    if opts.json {
        writeln!(
            out,
            "{}",
            to_json(&found, series.len(), opts.top, elapsed_ms)
        )?;
    } else {
        write_plain(&found, out)?;
    }
    Ok(())
}

/// The discovery as one JSON object (DESIGN.md's `motifs` keys, and more).
pub fn to_json(found: &MotifDiscovery, n: usize, top: usize, elapsed_ms: f64) -> Value {
    json!({
        "window": found.profile.window,
        "n": n,
        "exclusion": found.profile.exclusion,
        "top": top,
        "motifs": found.motifs,
        "discords": found.discords,
        "elapsed_ms": elapsed_ms,
    })
}

fn write_plain(found: &MotifDiscovery, out: &mut dyn std::io::Write) -> Result<(), HeadlessError> {
    for (k, pair) in found.motifs.iter().enumerate() {
        writeln!(
            out,
            "motif {}: {} and {}, distance {:.6}",
            k + 1,
            pair.a,
            pair.b,
            pair.distance
        )?;
    }
    for (k, discord) in found.discords.iter().enumerate() {
        writeln!(
            out,
            "discord {}: {}, distance {:.6}",
            k + 1,
            discord.index,
            discord.distance
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn file_with(values: &[f64]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        for v in values {
            writeln!(f, "{v}").expect("write");
        }
        f
    }

    /// Noise with one 20-sample bump at 30 and again at 130.
    fn series() -> Vec<f64> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut values: Vec<f64> = (0..200)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.2
            })
            .collect();
        for k in 0..20 {
            let bump = (k as f64 / 19.0 * std::f64::consts::PI).sin() * 3.0;
            values[30 + k] += bump;
            values[130 + k] += bump;
        }
        values
    }

    fn options(path: &std::path::Path, json: bool) -> MotifsOptions {
        MotifsOptions {
            window: 20,
            top: DEFAULT_TOP,
            json,
            file: path.to_path_buf(),
            column: None,
        }
    }

    #[test]
    fn json_has_the_documented_keys_on_one_line() {
        let f = file_with(&series());
        let mut out = Vec::new();
        run(&options(f.path(), true), &mut out).expect("motifs");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), 1);
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["window"], 20);
        assert_eq!(v["n"], 200);
        assert_eq!(v["exclusion"], 5);
        let motifs = v["motifs"].as_array().expect("motifs");
        assert_eq!(motifs.len(), 3);
        // The bump's two copies, give or take a few samples of noise at either end.
        let (a, b) = (motifs[0]["a"].as_u64(), motifs[0]["b"].as_u64());
        assert!(a.is_some_and(|a| (15..=45).contains(&a)) && b == a.map(|a| a + 100));
        assert!(motifs[0]["distance"].as_f64().is_some_and(|d| d < 1.0));
        let discords = v["discords"].as_array().expect("discords");
        assert_eq!(discords.len(), 3);
        for d in discords {
            assert!(d["index"].as_u64().is_some_and(|i| i <= 180));
            assert!(d["distance"].as_f64().is_some_and(|d| d > 1.0));
        }
        assert!(v["elapsed_ms"].as_f64().is_some_and(|t| t >= 0.0));
    }

    #[test]
    fn plain_output_is_one_line_per_pair_and_discord() {
        let f = file_with(&series());
        let mut out = Vec::new();
        run(
            &MotifsOptions {
                top: 2,
                ..options(f.path(), false)
            },
            &mut out,
        )
        .expect("motifs");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("motif 1: "), "{text}");
        assert!(lines[0].contains(", distance 0."), "{text}");
        assert!(lines[1].starts_with("motif 2: "), "{text}");
        assert!(lines[2].starts_with("discord 1: "), "{text}");
        assert!(lines[3].starts_with("discord 2: "), "{text}");
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let f = file_with(&series());
        let err = |opts: MotifsOptions| {
            run(&opts, &mut Vec::new())
                .expect_err("an error")
                .to_string()
        };
        let small = err(MotifsOptions {
            window: 2,
            ..options(f.path(), false)
        });
        assert!(small.contains("window 2 is too small"), "{small}");
        let large = err(MotifsOptions {
            window: 150,
            ..options(f.path(), false)
        });
        assert!(
            large.contains("window 150 is too large for 200 samples")
                && large.contains("the largest window for 200 samples is 132"),
            "{large}"
        );
        let top = err(MotifsOptions {
            top: 0,
            ..options(f.path(), false)
        });
        assert!(top.contains("--top"), "{top}");

        let mut lines: Vec<String> = series().iter().map(|v| v.to_string()).collect();
        lines[9] = "nan".into();
        let mut bad = tempfile::NamedTempFile::new().expect("temp file");
        writeln!(bad, "{}", lines.join("\n")).expect("write");
        let nan = err(options(bad.path(), true));
        assert!(nan.ends_with(":10: not a finite number: \"nan\""), "{nan}");
        let missing = err(options(
            std::path::Path::new("/nonexistent/series.txt"),
            false,
        ));
        assert!(missing.contains("/nonexistent/series.txt"), "{missing}");
    }
}
