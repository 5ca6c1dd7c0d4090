//! The configuration file: formulas to monitor, reference patterns to search for, and where
//! patterns captured from the screen (key `a`) are kept.
//!
//! It is TOML. `--config FILE` (or `MIDSTREAM_CONFIG`) names it; otherwise `config.toml` in the
//! user's config directory (`~/.config/midstream/` on Linux) is read when it exists, and the
//! built-in defaults apply when it does not. `assets/config.toml` is the documented default,
//! every key explained; it parses to [`Config::default`].
//!
//! ```toml
//! formulas = ["G(latency_ms < 1000)"]
//! on_verdict = "restart"            # or "stop": what a live monitor does after a verdict
//! predict = 10                        # steps ahead of the violation forecast
//! warn_at = 0.5                       # early warning at this forecast probability
//! capture_samples = 64
//! pattern_dir = "patterns"            # relative to this file
//!
//! [[pattern]]
//! name = "dip"
//! file = "dip.txt"                    # one number per line, relative to this file
//!
//! [[pattern]]
//! name = "saw"
//! values = [0, 1, 2, 3, 0, 1, 2, 3]
//! ```
//!
//! Unknown keys are errors (a misspelt key would otherwise be silently ignored), and every
//! error names the file, and the line and column when the TOML itself is wrong.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::engines::ltl::{MAX_HORIZON_STEPS, OnVerdict};

use crate::pipeline::PatternSpec;
use crate::pipeline::library;
use crate::sources::text::TextError;

/// File name of the configuration in the user's config directory.
pub const CONFIG_FILE: &str = "config.toml";

/// Directory, next to the configuration, where captured patterns are saved and loaded from.
pub const PATTERN_DIR: &str = "patterns";

/// Samples a capture takes when the configuration does not say: 64 samples cover about one
/// turn of the demo's Lorenz and Rössler channels at their default rate, and a 64-point DTW
/// search with a 10% band costs well under a microsecond per sample.
pub const DEFAULT_CAPTURE_SAMPLES: usize = 64;

/// The shortest pattern the search accepts (z-normalising needs a few points to mean
/// anything); the same bound as [`library::load_pattern`].
pub const MIN_CAPTURE_SAMPLES: usize = library::MIN_PATTERN_SAMPLES;

/// The longest capture: the search costs O(length × band) per sample, and 1024 points with a
/// 10% band is already ~100k cell updates per sample on every numeric channel.
pub const MAX_CAPTURE_SAMPLES: usize = 1024;

/// The built-in default configuration, documented.
pub const DEFAULT_TEXT: &str = include_str!("../assets/config.toml");

/// Why a configuration could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Pattern(#[from] TextError),
}

/// The configuration, with relative paths resolved against the file's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where it came from (`None`: the built-in defaults).
    pub source: Option<PathBuf>,
    /// LTLf formulas monitored besides those given with `--formula`.
    pub formulas: Vec<String>,
    /// Reference patterns besides the built-in ones and those given with `--pattern`.
    pub patterns: Vec<PatternSpec>,
    /// What live LTL monitors do after a verdict (`None`: not set here).
    pub on_verdict: Option<OnVerdict>,
    /// Steps ahead of the LTL violation forecast (`None`: not set here).
    pub predict: Option<usize>,
    /// Forecast probability of the LTL pane's early warning (`None`: not set here).
    pub warn_at: Option<f64>,
    /// Samples the `a` key captures from the focused channel.
    pub capture_samples: usize,
    /// Where captured patterns are saved, and loaded from at start (`None`: not saved).
    pub pattern_dir: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            source: None,
            formulas: Vec::new(),
            patterns: Vec::new(),
            on_verdict: None,
            predict: None,
            warn_at: None,
            capture_samples: DEFAULT_CAPTURE_SAMPLES,
            pattern_dir: user_config_dir().map(|dir| dir.join(PATTERN_DIR)),
        }
    }
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    formulas: Vec<String>,
    on_verdict: Option<String>,
    predict: Option<usize>,
    warn_at: Option<f64>,
    capture_samples: Option<usize>,
    pattern_dir: Option<PathBuf>,
    #[serde(default, rename = "pattern")]
    patterns: Vec<RawPattern>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    name: String,
    file: Option<PathBuf>,
    values: Option<Vec<f64>>,
}

/// `~/.config/midstream` on Linux (the platform's equivalent elsewhere), if there is one.
pub fn user_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "midstream").map(|d| d.config_dir().to_owned())
}

impl Config {
    /// The configuration to use: `explicit` when given (it must exist), else the user's
    /// `config.toml` when it exists, else the defaults. Patterns saved in the pattern
    /// directory are loaded too.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config = match explicit {
            Some(path) => Self::load(path)?,
            None => match user_config_dir().map(|d| d.join(CONFIG_FILE)) {
                Some(path) if path.exists() => Self::load(&path)?,
                _ => Self::default(),
            },
        };
        config.load_saved_patterns()?;
        Ok(config)
    }

    /// Reads and checks the file at `path` (its patterns' files included, not the saved ones).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            message: format!("cannot read the configuration: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// Parses `text`, read from `path` (relative paths in it are relative to `path`'s
    /// directory).
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: syntax_message(text, &e),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let base = path.parent().unwrap_or(Path::new(""));
        let capture_samples = raw.capture_samples.unwrap_or(DEFAULT_CAPTURE_SAMPLES);
        if !(MIN_CAPTURE_SAMPLES..=MAX_CAPTURE_SAMPLES).contains(&capture_samples) {
            return Err(invalid(format!(
                "capture_samples must be between {MIN_CAPTURE_SAMPLES} and \
                 {MAX_CAPTURE_SAMPLES}, got {capture_samples}"
            )));
        }
        for (i, formula) in raw.formulas.iter().enumerate() {
            if formula.trim().is_empty() {
                return Err(invalid(format!("formulas[{i}] is empty")));
            }
        }
        let on_verdict = match &raw.on_verdict {
            Some(text) => Some(
                text.parse::<OnVerdict>()
                    .map_err(|e| invalid(format!("on_verdict: {e}")))?,
            ),
            None => None,
        };
        if let Some(k) = raw.predict {
            check_predict(k).map_err(|e| invalid(format!("predict: {e}")))?;
        }
        if let Some(p) = raw.warn_at {
            check_warn_at(p).map_err(|e| invalid(format!("warn_at: {e}")))?;
        }
        let mut patterns: Vec<PatternSpec> = Vec::new();
        for (i, p) in raw.patterns.into_iter().enumerate() {
            let what = format!("pattern {:?} ([[pattern]] number {})", p.name, i + 1);
            if p.name.trim().is_empty() {
                return Err(invalid(format!(
                    "[[pattern]] number {} has an empty name",
                    i + 1
                )));
            }
            if patterns.iter().any(|q| q.name == p.name) {
                return Err(invalid(format!("{what}: the name is used twice")));
            }
            let values = match (p.file, p.values) {
                (Some(file), None) => library::load_pattern(&base.join(file))?.values,
                (None, Some(values)) => values,
                (Some(_), Some(_)) => {
                    return Err(invalid(format!(
                        "{what}: give either `file` or `values`, not both"
                    )));
                }
                (None, None) => {
                    return Err(invalid(format!("{what}: needs `file` or `values`")));
                }
            };
            library::check_pattern(&values).map_err(|e| invalid(format!("{what}: {e}")))?;
            patterns.push(PatternSpec {
                name: p.name,
                values,
            });
        }
        let pattern_dir = match raw.pattern_dir {
            Some(dir) => Some(base.join(dir)),
            None => user_config_dir().map(|dir| dir.join(PATTERN_DIR)),
        };
        Ok(Self {
            source: Some(path.to_owned()),
            formulas: raw.formulas,
            patterns,
            on_verdict,
            predict: raw.predict,
            warn_at: raw.warn_at,
            capture_samples,
            pattern_dir,
        })
    }

    /// Adds the patterns saved in the pattern directory (`*.txt`, in name order), unless a
    /// pattern of the same name is already configured. A missing directory has none.
    pub fn load_saved_patterns(&mut self) -> Result<(), ConfigError> {
        let Some(dir) = &self.pattern_dir else {
            return Ok(());
        };
        for spec in library::load_pattern_dir(dir)? {
            if !self.patterns.iter().any(|p| p.name == spec.name) {
                self.patterns.push(spec);
            }
        }
        Ok(())
    }
}

/// Checks a violation forecast's horizon (`predict`, `--predict`).
pub fn check_predict(steps: usize) -> Result<(), String> {
    if (1..=MAX_HORIZON_STEPS).contains(&steps) {
        Ok(())
    } else {
        Err(format!(
            "the horizon must be between 1 and {MAX_HORIZON_STEPS} steps, got {steps}"
        ))
    }
}

/// Checks an early-warning threshold (`warn_at`, `--warn-at`): a probability.
pub fn check_warn_at(probability: f64) -> Result<(), String> {
    if probability > 0.0 && probability <= 1.0 {
        Ok(())
    } else {
        Err(format!(
            "the warning threshold is a probability above 0 and at most 1, got {probability}"
        ))
    }
}

/// The TOML error with its line and column (1-based), which `toml`'s own message gives as a
/// byte span.
fn syntax_message(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim_end();
    match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/midstream/config.toml"), text)
    }

    #[test]
    fn the_shipped_default_is_the_default() {
        let config = parse(DEFAULT_TEXT).unwrap();
        let defaults = Config::default();
        assert_eq!(config.formulas, defaults.formulas);
        assert_eq!(config.patterns, defaults.patterns);
        assert_eq!(config.capture_samples, defaults.capture_samples);
        assert_eq!(config.pattern_dir, defaults.pattern_dir);
    }

    #[test]
    fn monitoring_keys_are_read_and_checked() {
        let config = parse("on_verdict = \"stop\"\npredict = 25\nwarn_at = 0.8\n").unwrap();
        assert_eq!(
            (config.on_verdict, config.predict, config.warn_at),
            (Some(OnVerdict::Stop), Some(25), Some(0.8))
        );
        let err = parse("on_verdict = \"again\"\n").unwrap_err().to_string();
        assert!(
            err.contains("on_verdict") && err.contains("\"again\""),
            "{err}"
        );
        let err = parse("predict = 0\n").unwrap_err().to_string();
        assert!(err.contains("predict") && err.contains("got 0"), "{err}");
        let err = parse("warn_at = 1.5\n").unwrap_err().to_string();
        assert!(err.contains("warn_at") && err.contains("1.5"), "{err}");
    }

    #[test]
    fn formulas_patterns_and_paths_are_read() {
        let config = parse(
            r#"
            formulas = ["G(p -> F q)", "latency < 5"]
            capture_samples = 128
            pattern_dir = "saved"

            [[pattern]]
            name = "saw"
            values = [0, 1, 2, 3, 0, 1, 2, 3]
            "#,
        )
        .unwrap();
        assert_eq!(config.formulas, ["G(p -> F q)", "latency < 5"]);
        assert_eq!(config.capture_samples, 128);
        assert_eq!(
            config.pattern_dir.as_deref(),
            Some(Path::new("/etc/midstream/saved"))
        );
        assert_eq!(config.patterns.len(), 1);
        assert_eq!(config.patterns[0].name, "saw");
        assert_eq!(config.patterns[0].values[3], 3.0);
    }

    #[test]
    fn a_pattern_file_is_relative_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dip.txt"), "0\n-1\n-2\n-1\n0\n").unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[[pattern]]\nname = \"dip\"\nfile = \"dip.txt\"\n").unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.patterns[0].values, [0.0, -1.0, -2.0, -1.0, 0.0]);
    }

    #[test]
    fn errors_name_the_file_and_the_place() {
        let err = parse("formulas = [\"a\"]\ncapture_samples = \"many\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("/etc/midstream/config.toml: line 2, column 19"),
            "{err}"
        );

        let err = parse("formula = [\"a\"]\n").unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("formula"), "{err}");

        let err = parse("capture_samples = 2\n").unwrap_err().to_string();
        assert!(err.contains("capture_samples must be between"), "{err}");

        let err = parse("[[pattern]]\nname = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pattern \"x\"") && err.contains("`file` or `values`"),
            "{err}"
        );

        let err = parse("[[pattern]]\nname = \"x\"\nvalues = [1, 2, 3, 4]\nfile = \"f\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not both"), "{err}");

        let err = parse("[[pattern]]\nname = \"x\"\nvalues = [1, 1, 1, 1]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pattern \"x\"") && err.contains("constant"),
            "{err}"
        );

        let twice = "[[pattern]]\nname = \"x\"\nvalues = [1, 2, 3, 4]\n".repeat(2);
        let err = parse(&twice).unwrap_err().to_string();
        assert!(err.contains("used twice"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[[pattern]]\nname = \"y\"\nfile = \"missing.txt\"\n").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("missing.txt"), "{err}");

        let err = Config::load(&dir.path().join("nope.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nope.toml") && err.contains("cannot read"),
            "{err}"
        );
    }

    #[test]
    fn saved_patterns_are_loaded_unless_configured_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let saved = dir.path().join("patterns");
        std::fs::create_dir(&saved).unwrap();
        std::fs::write(saved.join("bump.txt"), "0\n1\n2\n1\n0\n").unwrap();
        std::fs::write(saved.join("saw.txt"), "9\n8\n7\n6\n").unwrap();
        std::fs::write(saved.join("notes.md"), "not a pattern").unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "pattern_dir = \"patterns\"\n[[pattern]]\nname = \"saw\"\nvalues = [0, 1, 2, 3]\n",
        )
        .unwrap();
        let config = Config::locate(Some(&path)).unwrap();
        let names: Vec<&str> = config.patterns.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["saw", "bump"]);
        assert_eq!(config.patterns[0].values, [0.0, 1.0, 2.0, 3.0]);
    }
}
