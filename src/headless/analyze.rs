//! `midstream-tui analyze [--dt DT] [--dim M] [--delay T] [--json] FILE`: the attractor
//! engine's complete automatic analysis of one series.
//!
//! Plain output is a few labelled lines (samples, embedding, Lyapunov exponent with its unit and
//! fit range, correlation dimension, class, time); `--json` prints one JSON object on one line
//! with the keys of DESIGN.md (`n`, `embedding`, `lyapunov`, `correlation_dimension`, `class`,
//! `elapsed_ms`) and a few more.

use std::path::PathBuf;
use std::time::Instant;

use serde_json::{Value, json};

use super::HeadlessError;
use crate::engines::attractor::{AnalysisOptions, AttractorAnalysis, analyze};
use crate::sources::text::read_series;

/// Options of `analyze`, as the command line gives them.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeOptions {
    /// Sample period: the exponent is then per time unit instead of per sample.
    pub dt: Option<f64>,
    /// Embedding dimension (automatic when `None`).
    pub dim: Option<usize>,
    /// Embedding delay in samples (automatic when `None`).
    pub delay: Option<usize>,
    pub json: bool,
    /// Series, one number per line (`-` for stdin).
    pub file: PathBuf,
    /// Read this column of a CSV, JSONL or columns file instead.
    pub column: Option<String>,
}

/// Reads the series, analyses it and writes the result to `out`.
pub fn run(opts: &AnalyzeOptions, out: &mut dyn std::io::Write) -> Result<(), HeadlessError> {
    let series = read_series(&opts.file, opts.column.as_deref())?;
    let options = AnalysisOptions {
        dt: opts.dt,
        dim: opts.dim,
        delay: opts.delay,
    };
    let started = Instant::now();
    let analysis = analyze(&series, &options)
        .map_err(|err| HeadlessError::Invalid(format!("{}: {err}", opts.file.display())))?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    if opts.json {
        writeln!(out, "{}", to_json(&analysis, elapsed_ms))?;
    } else {
        write_plain(&analysis, elapsed_ms, out)?;
    }
    Ok(())
}

/// Finite numbers as JSON numbers, anything else as `null`.
fn number(x: Option<f64>) -> Value {
    x.filter(|v| v.is_finite()).map_or(Value::Null, Value::from)
}

/// The analysis as one JSON object (DESIGN.md's `analyze` keys, and more).
pub fn to_json(a: &AttractorAnalysis, elapsed_ms: f64) -> Value {
    let lyapunov = a.lyapunov.as_ref();
    let fit = a
        .lyapunov_fit()
        .map_or(Value::Null, |(from, to)| json!([from, to]));
    let dimension = a.correlation_dimension.as_ref();
    json!({
        "n": a.n,
        "embedding": {
            "dim": a.embedding.dim,
            "delay": a.embedding.delay,
            "delay_method": a.delay_method,
            "dimension_method": a.dimension_method,
            "theiler_window": a.theiler_window,
        },
        "lyapunov": {
            "value": number(a.lyapunov_value()),
            "unit": a.lyapunov_unit(),
            "fit": fit,
            "r2": number(lyapunov.map(|l| l.r2)),
            "per_sample": number(lyapunov.map(|l| l.per_sample)),
            "fit_steps": lyapunov.map_or(Value::Null, |l| json!([l.fit_steps.0, l.fit_steps.1])),
        },
        "correlation_dimension": {
            "value": number(dimension.map(|d| d.value)),
            "r_range": dimension.map_or(Value::Null, |d| json!([d.r_range.0, d.r_range.1])),
            "r2": number(dimension.map(|d| d.r2)),
        },
        "class": a.class.label(),
        "mean_period": number(Some(a.mean_period)),
        "exact_period": a.exact_period,
        "dt": number(a.dt),
        "elapsed_ms": number(Some(elapsed_ms)),
    })
}

fn write_plain(
    a: &AttractorAnalysis,
    elapsed_ms: f64,
    out: &mut dyn std::io::Write,
) -> Result<(), HeadlessError> {
    let time_unit = if a.dt.is_some() {
        "time units"
    } else {
        "samples"
    };
    writeln!(out, "samples: {}", a.n)?;
    let samples = |k: usize| {
        if k == 1 {
            "1 sample".to_string()
        } else {
            format!("{k} samples")
        }
    };
    writeln!(
        out,
        "embedding: dimension {} ({}), delay {} ({}), Theiler window {}",
        a.embedding.dim,
        serde_json::to_value(a.dimension_method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        samples(a.embedding.delay),
        serde_json::to_value(a.delay_method)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        samples(a.theiler_window),
    )?;
    match (a.lyapunov_value(), a.lyapunov_fit(), a.lyapunov.as_ref()) {
        (Some(value), Some((from, to)), Some(l)) => {
            let digits = if a.dt.is_some() { 3 } else { 0 };
            writeln!(
                out,
                "lyapunov: {value:.4} {} (fit {from:.digits$} to {to:.digits$} {time_unit}, R² {:.3})",
                a.lyapunov_unit(),
                l.r2
            )?
        }
        _ => writeln!(
            out,
            "lyapunov: not estimated (series too short for a divergence curve)"
        )?,
    }
    match &a.correlation_dimension {
        Some(d) => writeln!(
            out,
            "correlation dimension: {:.3} (r {:.3} to {:.3} standard deviations, R² {:.4})",
            d.value, d.r_range.0, d.r_range.1, d.r2
        )?,
        None => writeln!(
            out,
            "correlation dimension: not estimated (no scaling region)"
        )?,
    }
    writeln!(out, "class: {}", a.class)?;
    writeln!(out, "time: {elapsed_ms:.1} ms")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn file_with(lines: &[String]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        for l in lines {
            writeln!(f, "{l}").expect("write");
        }
        f
    }

    fn options(path: &std::path::Path, json: bool, dt: Option<f64>) -> AnalyzeOptions {
        AnalyzeOptions {
            dt,
            dim: None,
            delay: None,
            json,
            file: path.to_path_buf(),
            column: None,
        }
    }

    fn logistic(n: usize) -> Vec<String> {
        let mut x = 0.3f64;
        (0..n + 100)
            .map(|_| {
                x = 4.0 * x * (1.0 - x);
                format!("{x}")
            })
            .skip(100)
            .collect()
    }

    #[test]
    fn json_has_the_documented_keys_on_one_line() {
        let f = file_with(&logistic(2000));
        let mut out = Vec::new();
        run(&options(f.path(), true, None), &mut out).expect("analysis");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), 1);
        let v: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["n"], 2000);
        assert!(v["embedding"]["dim"].as_u64().is_some());
        assert!(v["embedding"]["delay"].as_u64().is_some());
        let lambda = v["lyapunov"]["value"].as_f64().expect("λ");
        assert!((lambda - std::f64::consts::LN_2).abs() < 0.07, "{lambda}");
        assert_eq!(v["lyapunov"]["unit"], "per sample");
        assert_eq!(v["lyapunov"]["fit"].as_array().map(Vec::len), Some(2));
        assert!(v["lyapunov"]["r2"].as_f64().is_some());
        assert!(v["correlation_dimension"]["value"].as_f64().is_some());
        assert_eq!(v["class"], "chaotic");
        assert!(v["elapsed_ms"].as_f64().is_some_and(|t| t >= 0.0));
    }

    #[test]
    fn dt_makes_the_exponent_per_time_unit() {
        let f = file_with(&logistic(2000));
        let mut out = Vec::new();
        run(&options(f.path(), true, Some(0.5)), &mut out).expect("analysis");
        let v: Value = serde_json::from_slice(&out).expect("json");
        let lambda = v["lyapunov"]["value"].as_f64().expect("λ");
        let per_sample = v["lyapunov"]["per_sample"].as_f64().expect("λ");
        assert!((lambda - 2.0 * per_sample).abs() < 1e-12);
        assert_eq!(v["lyapunov"]["unit"], "per time unit");
        let fit = v["lyapunov"]["fit"].as_array().expect("fit");
        let steps = v["lyapunov"]["fit_steps"].as_array().expect("steps");
        assert_eq!(fit[1].as_f64(), steps[1].as_f64().map(|s| s * 0.5));
    }

    #[test]
    fn plain_output_names_every_result() {
        let f = file_with(&logistic(1000));
        let mut out = Vec::new();
        run(&options(f.path(), false, None), &mut out).expect("analysis");
        let text = String::from_utf8(out).expect("utf-8");
        for label in [
            "samples: 1000",
            "embedding: dimension",
            "lyapunov: ",
            "per sample (fit ",
            "correlation dimension: ",
            "class: chaotic",
            "time: ",
        ] {
            assert!(text.contains(label), "missing {label:?} in\n{text}");
        }
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        let short = file_with(&["1".into(), "2".into(), "3".into()]);
        let err = run(&options(short.path(), false, None), &mut Vec::new())
            .expect_err("too short")
            .to_string();
        assert!(
            err.contains("too short") && err.contains("3 samples"),
            "{err}"
        );

        let constant = file_with(&vec!["4.25".to_string(); 500]);
        let err = run(&options(constant.path(), true, None), &mut Vec::new())
            .expect_err("constant")
            .to_string();
        assert!(err.contains("constant"), "{err}");

        let mut lines = logistic(500);
        lines[41] = "NaN".into();
        let nan = file_with(&lines);
        let err = run(&options(nan.path(), true, None), &mut Vec::new())
            .expect_err("NaN")
            .to_string();
        assert!(err.ends_with(":42: not a finite number: \"NaN\""), "{err}");

        let f = file_with(&logistic(500));
        let err = run(
            &AnalyzeOptions {
                dt: Some(-1.0),
                ..options(f.path(), false, None)
            },
            &mut Vec::new(),
        )
        .expect_err("negative dt")
        .to_string();
        assert!(err.contains("dt"), "{err}");
        let missing = run(
            &options(std::path::Path::new("/nonexistent/series.txt"), false, None),
            &mut Vec::new(),
        )
        .expect_err("missing file")
        .to_string();
        assert!(missing.contains("/nonexistent/series.txt"), "{missing}");
    }
}
