//! What can go wrong in the temporal engine, as values with enough context to fix it.

use std::fmt;

/// Which of the two inputs of a comparison an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operand {
    /// The first argument (`a`, the file `A` of `compare`).
    First,
    /// The second argument (`b`, the file `B` of `compare`).
    Second,
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operand::First => "first",
            Operand::Second => "second",
        })
    }
}

/// Errors of the temporal engine.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemporalError {
    /// DTW needs at least one value on each side: with an empty series no warping path exists.
    #[error("the {0} series is empty: DTW needs at least one value in each series")]
    EmptySeries(Operand),
    /// A NaN or infinite value, which would make every distance meaningless.
    #[error("the {operand} series has a non-finite value ({value}) at index {index}")]
    NonFinite {
        operand: Operand,
        index: usize,
        value: f64,
    },
    /// A search query must have at least one value.
    #[error("the search query is empty")]
    EmptyQuery,
    /// A search query value that is NaN or infinite.
    #[error("the search query has a non-finite value ({value}) at index {index}")]
    NonFiniteQuery { index: usize, value: f64 },
    /// A distance threshold that is negative or NaN.
    #[error("the distance threshold must be a non-negative number, got {0}")]
    InvalidThreshold(f64),
    /// A configuration value outside its valid range.
    #[error("invalid {name}: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
}

/// Checks that a DTW operand is non-empty and finite everywhere.
pub(crate) fn check_series(series: &[f64], operand: Operand) -> Result<(), TemporalError> {
    if series.is_empty() {
        return Err(TemporalError::EmptySeries(operand));
    }
    if let Some((index, &value)) = series.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(TemporalError::NonFinite {
            operand,
            index,
            value,
        });
    }
    Ok(())
}
