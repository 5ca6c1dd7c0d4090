//! Attractor analysis: delay embedding, Lyapunov exponent, correlation dimension, classes.
//!
//! Everything here is a pure function over a slice of samples. The complete automatic analysis
//! ([`analyze`]) chooses the embedding delay from the average mutual information (Fraser &
//! Swinney 1986), the embedding dimension with Cao's method (1997), estimates the largest
//! Lyapunov exponent after Rosenstein, Collins & De Luca (1993) and the correlation dimension
//! after Grassberger & Procaccia (1983), and names the kind of dynamics from those numbers.
//!
//! Every estimate is invariant under an affine change of the series' scale: the series is
//! standardised (zero mean, unit variance) before anything is measured, and every threshold is
//! relative.
//!
//! Files by concern: `embedding` (delay, dimension, Theiler window), `lyapunov`, `dimension`
//! (correlation sum and D2), `classify`, `analysis` (the whole run, and [`SlidingWindow`] for
//! live channels: the pipeline keeps a ring buffer per channel, asks
//! [`SlidingWindow::is_due`] after each batch and runs [`analyze_latest`] over the buffer as a
//! Normal-class task), `neighbours` (k-d tree and box-assisted searches with a Theiler window),
//! `series` (validation, standardisation), `regression` (straight-line fits).

pub mod analysis;
pub mod classify;
pub mod dimension;
pub mod embedding;
pub mod lyapunov;
mod neighbours;
mod regression;
pub mod series;

pub use analysis::{
    AnalysisOptions, AttractorAnalysis, DEFAULT_WINDOW_SAMPLES, DEFAULT_WINDOW_STRIDE,
    DimensionMethod, SlidingWindow, analyze, analyze_latest,
};
pub use classify::{AttractorClass, ClassEvidence, classify};
pub use dimension::{CorrelationDimension, CorrelationSum, correlation_dimension, correlation_sum};
pub use embedding::{
    CaoStatistics, DelayChoice, DelayEmbedding, DelayMethod, DimensionChoice, cao, choose_delay,
    choose_dimension, theiler_window,
};
pub use lyapunov::{DivergenceCurve, LyapunovEstimate, divergence_curve, mean_period, rosenstein};

/// What stops an attractor analysis, with the value that was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AttractorError {
    #[error("series too short for {what}: {n} samples, at least {min} needed")]
    TooShort {
        what: &'static str,
        n: usize,
        min: usize,
    },
    #[error("sample {index} is not a finite number ({value})")]
    NonFinite { index: usize, value: f64 },
    #[error("series is constant (every sample is {value}): there are no dynamics to analyse")]
    Constant { value: f64 },
    #[error("invalid {name}: {message}")]
    InvalidParameter { name: &'static str, message: String },
}
