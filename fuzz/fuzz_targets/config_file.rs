//! The configuration file parser, `Config::parse`, the function `Config::load` (and so the
//! binary's `--config`) runs on the file's text, with the file in a scratch directory that holds
//! two pattern files (`dip.txt`, good, and `bad.txt`, not numbers); then every formula of a
//! configuration that parses goes through the LTL parser, as a session's startup does.
//!
//! Input: the text of a configuration file (UTF-8; other inputs are skipped, as `load` refuses
//! them before parsing). Inputs whose `[[pattern]] file` is absolute or climbs out with `..` are
//! skipped: they would make the fuzzer read the host's files (`/dev/zero` never ends).
//!
//! Checked: an error names the file, and a TOML error's line lies in the text; a configuration
//! that parses has its capture length within the bounds, no empty formula, patterns with
//! distinct non-empty names and values the pattern search accepts, and its pattern directory
//! under the configuration's directory when the file gives a relative one.
#![no_main]

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use midstream::config::{Config, ConfigError, MAX_CAPTURE_SAMPLES, MIN_CAPTURE_SAMPLES};
use midstream::engines::ltl::parse;
use midstream::pipeline::library::check_pattern;

/// The scratch directory, with the pattern files a configuration may name, and the
/// configuration's path in it.
fn config_path() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a scratch directory");
        std::fs::write(dir.path().join("dip.txt"), "0\n-1\n-2\n-1\n0\n").expect("dip.txt");
        std::fs::write(dir.path().join("bad.txt"), "1\ntwo\n").expect("bad.txt");
        let path = dir.path().join("config.toml");
        (dir, path)
    })
    .1
}

/// Whether a `file` of a `[[pattern]]` stays inside the configuration's directory.
fn stays_inside(file: &str) -> bool {
    Path::new(file)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Whether every pattern file the text names (as far as TOML says) stays in the scratch
/// directory. Text that is not TOML cannot reach the pattern files.
fn safe(text: &str) -> bool {
    let Ok(table) = text.parse::<toml::Table>() else {
        return true;
    };
    let Some(patterns) = table.get("pattern") else {
        return true;
    };
    let Some(patterns) = patterns.as_array() else {
        return true;
    };
    patterns.iter().all(|p| match p.get("file") {
        Some(toml::Value::String(file)) => stays_inside(file),
        Some(_) | None => true,
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if !safe(text) {
        return;
    }
    let path = config_path();
    let config = match Config::parse(path, text) {
        Ok(config) => config,
        Err(e) => {
            let message = e.to_string();
            if let ConfigError::Syntax {
                message: syntax, ..
            } = &e
                && let Some(rest) = syntax.strip_prefix("line ")
            {
                let line: usize = rest
                    .split(',')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("a line number");
                assert!(
                    line >= 1 && line <= text.matches('\n').count() + 1,
                    "{message}"
                );
            }
            if !matches!(e, ConfigError::Pattern(_)) {
                assert!(message.starts_with(&*path.to_string_lossy()), "{message}");
            }
            return;
        }
    };
    assert_eq!(config.source.as_deref(), Some(path));
    assert!(
        (MIN_CAPTURE_SAMPLES..=MAX_CAPTURE_SAMPLES).contains(&config.capture_samples),
        "capture_samples {}",
        config.capture_samples
    );
    for formula in &config.formulas {
        assert!(!formula.trim().is_empty());
        // A session parses (and compiles) every formula; parsing must not panic.
        let _ = parse(formula);
    }
    for (i, pattern) in config.patterns.iter().enumerate() {
        assert!(!pattern.name.trim().is_empty());
        assert!(config.patterns[..i].iter().all(|p| p.name != pattern.name));
        assert!(check_pattern(&pattern.values).is_ok(), "{pattern:?}");
    }
    if let Some(dir) = &config.pattern_dir
        && let Ok(table) = text.parse::<toml::Table>()
        && let Some(toml::Value::String(given)) = table.get("pattern_dir")
        && stays_inside(given)
    {
        let base = path.parent().expect("the scratch directory");
        assert!(dir.starts_with(base), "{dir:?}");
    }
});
