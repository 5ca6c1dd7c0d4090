//! Empirical dynamic modelling: simplex projection and S-map forecasts from a delay embedding,
//! following pyEDM's conventions (pyEDM 2.5, Park, Smith & Sugihara; the cppEDM/rEDM lineage).
//!
//! - Simplex projection (Sugihara & May, "Nonlinear forecasting as a way of distinguishing
//!   chaos from measurement error in time series", Nature 344, 1990): the forecast of a state is
//!   the weighted mean of where its `E + 1` nearest library neighbours went `Tp` steps later,
//!   with weights `exp(−d / d_min)` (`d_min` the nearest neighbour's distance, floored at
//!   [`SIMPLEX_MIN_DISTANCE`] as pyEDM does).
//! - S-map (Sugihara, "Nonlinear forecasting for the classification of natural time series",
//!   Phil. Trans. R. Soc. A 348, 1994): a weighted linear regression with a constant term,
//!   `y ≈ C₀ + Σ Cⱼ xⱼ`, fitted per forecast on the library with weights
//!   `exp(−θ d / d_mean)` (`d_mean` the mean distance to the neighbours used), solved by SVD
//!   with numpy `lstsq`'s cutoff (singular values below `ε·max(rows, cols)·σ_max` dropped).
//!   `θ = 0` is a global linear autoregression; larger `θ` makes the map more local.
//!
//! # Conventions (pyEDM's, with the differences named)
//!
//! - **Embedding.** Row `t` of the embedding is `(x[t], x[t−τ], …, x[t−(E−1)τ])`: `tau` here is
//!   the lag in samples (`≥ 1`) and corresponds to pyEDM's `tau = −tau` (past lags). Rows with
//!   `t < (E−1)τ` have no full vector and are never used.
//! - **Ranges.** `lib` and `pred` are 0-based half-open ranges of sample indices. pyEDM's
//!   1-based inclusive strings are `lib = "{lib.start + 1} {lib.end}"` and
//!   `pred = "{pred.start + 1} {pred.end}"`.
//! - **Library rows** are the `t` with `lib.start + (E−1)τ ≤ t ≤ lib.end − 1 − Tp` (pyEDM's
//!   `CreateIndices` for one library segment): every library vector and its target `x[t+Tp]`
//!   lie inside `lib`.
//! - **Prediction rows** are the `t` in `pred` with `t ≥ (E−1)τ`; a prediction vector may reach
//!   back before `pred.start` (into the library's samples, as in pyEDM). Row `t` forecasts
//!   `x[t+Tp]`. Forecasts whose target falls past the end of the series are not scored (pyEDM
//!   prints a NaN observation row for them); skill is computed over the finite
//!   (observation, forecast) pairs only.
//! - **Neighbours** are ordered by Euclidean distance, ties broken by `|t_pred − t_lib|` and
//!   then by the earlier library row (pyEDM's `tieBreak` rule for `Simplex`). A library row
//!   with `|t_pred − t_lib| ≤ exclusion_radius` is never a neighbour. Simplex uses the `E + 1`
//!   nearest; S-map uses pyEDM's default `knn = (library rows) − 1`, i.e. every library row
//!   but the farthest. pyEDM searches the exclusion-filtered neighbours among the `5·knn`
//!   nearest only; this search is exact. A forecast with no admissible neighbour is NaN and
//!   not scored, as in pyEDM.
//! - **Overlap.** pyEDM accepts overlapping `lib` and `pred` and then leaves each prediction's
//!   own row out; here overlapping ranges are an error ([`EdmError::Overlap`]), so that every
//!   skill reported is out of sample.
//! - **Skill** ([`Skill`]) is Pearson's ρ, the mean absolute error and the root mean square
//!   error between observations and forecasts. (pyEDM 2.5's `ComputeError` labels `max(err)`
//!   as "MAE" and rounds to 6 digits; here MAE is the mean absolute error, unrounded.)
//!
//! # Cost
//!
//! Neighbours are found by brute force: for each prediction row the distances to all `L`
//! library rows are accumulated one delay coordinate at a time over contiguous slices of the
//! series (`O(L·E)`), then the `E + 1` nearest are kept in one pass that compares each row's
//! distance with the current `(E+1)`-th smallest (`O(L)`, about one comparison per row); a
//! whole simplex run is `O(P·L·E)` for `P` prediction rows. [`embed_dimension`] builds each
//! row's distances up one coordinate per `E`, so its survey over `E = 1..=E_max` costs
//! `O(P·L·E_max)`, not `E_max/2` times that. For the `L, P ≤ 4096` this module is meant for
//! (1–2k sample windows) that beats building a k-d tree per call. An S-map
//! forecast adds a Householder QR of the `L × (E+1)` weighted design (`O(L·E²)`) and a Jacobi
//! SVD of the `(E+1) × (E+1)` triangle; [`predict_nonlinear`] shares each row's distances
//! across all `θ`.

use std::cmp::Ordering;
use std::ops::Range;

use super::MAX_MAGNITUDE;

/// Floor on the nearest neighbour's distance in the simplex weights `exp(−d / d_min)`, so that
/// an exact match does not divide by zero (pyEDM `Simplex.Project`: `fmax(minDistances, 1E-6)`).
pub const SIMPLEX_MIN_DISTANCE: f64 = 1e-6;

/// The standard S-map localisation grid: θ = 0 (global linear map) followed by pyEDM's
/// `PredictNonlinear` default list.
pub const THETA_GRID: [f64; 16] = [
    0.0, 0.01, 0.1, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0,
];

/// [`profile_dynamics`] takes the smallest `E` whose simplex ρ is within this of the best ρ.
/// Parsimony rule of thumb (Chang, Ushio & Hsieh, "Empirical dynamic modeling for beginners",
/// Ecol. Res. 2017: prefer the lowest E among near-equal skills): 0.02 is about the standard
/// error of ρ for a few hundred forecasts at moderate skill, `(1 − ρ²)/√P`, so smaller
/// differences are not evidence for a larger E.
pub const EMBEDDING_RHO_TOLERANCE: f64 = 0.02;

/// [`profile_dynamics`] calls the dynamics nonlinear when the best S-map ρ over θ > 0 beats ρ at
/// θ = 0 by more than this many standard errors, compared on Fisher's z = atanh(ρ) scale
/// (Fisher 1921), where the standard error of a difference of two correlations from `P`
/// forecasts each is `√(2/(P − 3))`. The test itself is Sugihara (1994) §4 and the rEDM
/// tutorial's (Chang et al. 2017, "Identifying nonlinearity"): forecast skill that improves as
/// the map is made local means state-dependent (nonlinear) dynamics, while a linear stochastic
/// process is forecast best at θ = 0. A fixed margin in ρ cannot serve both ends: for white
/// noise ρ scatters by `1/√P` (0.045 at P = 500) and the best of 15 θ beats θ = 0 by 0.07 by
/// chance, while a chaotic flow forecast at ρ = 0.94 (θ = 0) and 0.9998 (θ = 8) gains only 0.06
/// in ρ yet 2.9 in z. Three standard errors with 15 θ compared keeps false alarms near 2%
/// (and fewer: the two ρ come from the same observations, which shrinks the real error).
pub const NONLINEAR_Z_SIGMAS: f64 = 3.0;

/// Largest |ρ| fed to atanh in the nonlinearity test, so that a perfect forecast (ρ = 1 within
/// rounding) gives a finite z: two forecasts both that good are not told apart.
const MAX_FISHER_RHO: f64 = 1.0 - 1e-12;

/// Lag and horizon of [`profile_dynamics`]: one-step-ahead forecasts from consecutive samples,
/// the standard choice of EmbedDimension/PredictNonlinear surveys. For a finely sampled flow
/// one step ahead is nearly linear whatever the dynamics; [`profile_dynamics_with`] takes a lag
/// and horizon matched to the series instead.
pub const PROFILE_TAU: usize = 1;
pub const PROFILE_TP: usize = 1;

/// Parameters of a simplex or S-map run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EdmParams {
    /// Embedding dimension `E ≥ 1`.
    pub e: usize,
    /// Lag between delay coordinates in samples, `≥ 1` (pyEDM's `tau = −tau`).
    pub tau: usize,
    /// Forecast horizon `Tp` in samples (0 is a nowcast of the present).
    pub tp: usize,
    /// Library rows within this many samples of the prediction row are not neighbours.
    pub exclusion_radius: usize,
}

impl Default for EdmParams {
    /// pyEDM's defaults but `E`, which pyEDM requires: `E = 2, tau = 1, Tp = 1`, no exclusion.
    fn default() -> Self {
        EdmParams {
            e: 2,
            tau: 1,
            tp: 1,
            exclusion_radius: 0,
        }
    }
}

/// Forecast skill over the scored (observation, forecast) pairs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skill {
    /// Pearson correlation of observations and forecasts. Never NaN: when it is undefined
    /// (fewer than two pairs, or observations or forecasts constant) it is 0, read as "no
    /// measurable skill"; `n`, `mae` and `rmse` still tell what happened.
    pub rho: f64,
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean square error.
    pub rmse: f64,
    /// Number of scored pairs.
    pub n: usize,
}

/// Which of the two ranges an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRole {
    Library,
    Prediction,
}

impl std::fmt::Display for RangeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RangeRole::Library => "library (lib)",
            RangeRole::Prediction => "prediction (pred)",
        })
    }
}

/// What stops an EDM run, with the values that were wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EdmError {
    #[error("embedding dimension E must be at least 1")]
    ZeroDimension,
    #[error("lag tau must be at least 1 sample")]
    ZeroLag,
    #[error("{role} range {start}..{end} is empty")]
    EmptyRange {
        role: RangeRole,
        start: usize,
        end: usize,
    },
    #[error("{role} range {start}..{end} runs past the end of the series ({n} samples)")]
    OutOfRange {
        role: RangeRole,
        start: usize,
        end: usize,
        n: usize,
    },
    #[error(
        "library {lib_start}..{lib_end} and prediction {pred_start}..{pred_end} ranges overlap: \
         forecasts must be out of sample"
    )]
    Overlap {
        lib_start: usize,
        lib_end: usize,
        pred_start: usize,
        pred_end: usize,
    },
    #[error(
        "library of {lib_len} samples is too short for E = {e}, tau = {tau}, Tp = {tp}: it gives \
         {rows} library vectors with a target, at least {needed} are needed"
    )]
    LibraryTooShort {
        lib_len: usize,
        e: usize,
        tau: usize,
        tp: usize,
        rows: usize,
        needed: usize,
    },
    #[error(
        "prediction range {start}..{end} has no row to forecast with E = {e}, tau = {tau}, \
         Tp = {tp} in {n} samples: a row t needs t >= (E-1)*tau and t + Tp < n"
    )]
    NoPredictions {
        start: usize,
        end: usize,
        e: usize,
        tau: usize,
        tp: usize,
        n: usize,
    },
    #[error("sample {index} is not a finite number ({value})")]
    NonFinite { index: usize, value: f64 },
    #[error(
        "sample {index} is too large ({value}): magnitudes above {MAX_MAGNITUDE:e} are not accepted"
    )]
    TooLarge { index: usize, value: f64 },
    #[error("S-map theta {theta} is invalid: it must be a finite number >= 0")]
    InvalidTheta { theta: f64 },
    #[error("no theta values given")]
    NoThetas,
    #[error("series of {n} samples is too short to profile up to E = {max_e}: {needed} needed")]
    SeriesTooShort {
        n: usize,
        max_e: usize,
        needed: usize,
    },
}

/// The rows a run uses, after validation.
#[derive(Debug, Clone)]
struct Layout {
    /// Library rows (embedding rows with a target inside `lib`).
    lib_rows: Range<usize>,
    /// Prediction rows whose target lies inside the series.
    pred_rows: Range<usize>,
}

/// Fewest library vectors for a simplex: `E + 1` neighbours span a simplex around the point.
fn simplex_min_rows(e: usize) -> usize {
    e + 1
}

/// Fewest library vectors for an S-map: with pyEDM's `knn = rows − 1` the regression then has
/// at least as many rows as its `E + 1` coefficients.
fn smap_min_rows(e: usize) -> usize {
    e + 2
}

fn check_range(role: RangeRole, range: &Range<usize>, n: usize) -> Result<(), EdmError> {
    if range.start >= range.end {
        return Err(EdmError::EmptyRange {
            role,
            start: range.start,
            end: range.end,
        });
    }
    if range.end > n {
        return Err(EdmError::OutOfRange {
            role,
            start: range.start,
            end: range.end,
            n,
        });
    }
    Ok(())
}

fn check_samples(series: &[f64], span: Range<usize>) -> Result<(), EdmError> {
    for index in span {
        let value = series[index];
        if !value.is_finite() {
            return Err(EdmError::NonFinite { index, value });
        }
        if value.abs() > MAX_MAGNITUDE {
            return Err(EdmError::TooLarge { index, value });
        }
    }
    Ok(())
}

/// Validates parameters and ranges and checks every sample the run reads.
fn layout(
    series: &[f64],
    lib: &Range<usize>,
    pred: &Range<usize>,
    params: &EdmParams,
    min_rows: usize,
) -> Result<Layout, EdmError> {
    let EdmParams { e, tau, tp, .. } = *params;
    if e == 0 {
        return Err(EdmError::ZeroDimension);
    }
    if tau == 0 {
        return Err(EdmError::ZeroLag);
    }
    let n = series.len();
    check_range(RangeRole::Library, lib, n)?;
    check_range(RangeRole::Prediction, pred, n)?;
    if lib.start < pred.end && pred.start < lib.end {
        return Err(EdmError::Overlap {
            lib_start: lib.start,
            lib_end: lib.end,
            pred_start: pred.start,
            pred_end: pred.end,
        });
    }
    let span = (e - 1).saturating_mul(tau);
    let first = lib.start.saturating_add(span);
    // Last library row: lib.end − 1 − Tp; rows = last − first + 1.
    let rows = (lib.end).saturating_sub(tp).saturating_sub(first);
    if rows < min_rows {
        return Err(EdmError::LibraryTooShort {
            lib_len: lib.len(),
            e,
            tau,
            tp,
            rows,
            needed: min_rows,
        });
    }
    let lib_rows = first..first + rows;
    let pred_start = pred.start.max(span);
    let pred_end = pred.end.min(n.saturating_sub(tp));
    if pred_start >= pred_end {
        return Err(EdmError::NoPredictions {
            start: pred.start,
            end: pred.end,
            e,
            tau,
            tp,
            n,
        });
    }
    check_samples(series, lib.clone())?;
    check_samples(series, pred_start - span..pred_end + tp)?;
    Ok(Layout {
        lib_rows,
        pred_rows: pred_start..pred_end,
    })
}

/// Squared distances from prediction row `p` to every library row, one delay coordinate at a
/// time over contiguous slices (coordinate `j` of library row `l` is `x[l − jτ]`).
fn squared_distances(
    series: &[f64],
    lib_rows: &Range<usize>,
    p: usize,
    e: usize,
    tau: usize,
    out: &mut Vec<f64>,
) {
    out.clear();
    out.resize(lib_rows.len(), 0.0);
    for j in 0..e {
        let shift = j * tau;
        let column = &series[lib_rows.start - shift..lib_rows.end - shift];
        let q = series[p - shift];
        for (d, &x) in out.iter_mut().zip(column) {
            let diff = x - q;
            *d += diff * diff;
        }
    }
}

/// A candidate neighbour: library row and squared distance.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    row: usize,
    d2: f64,
}

/// pyEDM's neighbour order: distance, then closeness in time to the prediction row, then the
/// earlier library row.
fn neighbour_order(p: usize) -> impl Fn(&Candidate, &Candidate) -> Ordering {
    move |a, b| {
        a.d2.total_cmp(&b.d2)
            .then_with(|| a.row.abs_diff(p).cmp(&b.row.abs_diff(p)))
            .then_with(|| a.row.cmp(&b.row))
    }
}

/// Library rows admissible for prediction row `p` with their squared distances.
fn candidates(
    d2: &[f64],
    lib_rows: &Range<usize>,
    p: usize,
    exclusion_radius: usize,
    out: &mut Vec<Candidate>,
) {
    out.clear();
    out.extend(
        d2.iter()
            .enumerate()
            .map(|(i, &d2)| Candidate {
                row: lib_rows.start + i,
                d2,
            })
            .filter(|c| exclusion_radius == 0 || c.row.abs_diff(p) > exclusion_radius),
    );
}

/// Skill of forecasts against observations over the pairs where both are finite.
pub fn skill(observations: &[f64], forecasts: &[f64]) -> Skill {
    let pairs = || {
        observations
            .iter()
            .zip(forecasts)
            .filter(|(o, f)| o.is_finite() && f.is_finite())
    };
    let n = pairs().count();
    if n == 0 {
        return Skill {
            rho: 0.0,
            mae: f64::NAN,
            rmse: f64::NAN,
            n: 0,
        };
    }
    let nf = n as f64;
    let (mut so, mut sf, mut sae, mut sse) = (0.0, 0.0, 0.0, 0.0);
    for (&o, &f) in pairs() {
        so += o;
        sf += f;
        sae += (o - f).abs();
        sse += (o - f) * (o - f);
    }
    let (mo, mf) = (so / nf, sf / nf);
    let (mut soo, mut sff, mut sof) = (0.0, 0.0, 0.0);
    for (&o, &f) in pairs() {
        let (a, b) = (o - mo, f - mf);
        soo += a * a;
        sff += b * b;
        sof += a * b;
    }
    let rho = if n >= 2 && soo > 0.0 && sff > 0.0 {
        (sof / (soo.sqrt() * sff.sqrt())).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    Skill {
        rho,
        mae: sae / nf,
        rmse: (sse / nf).sqrt(),
        n,
    }
}

/// Library rows admissible for prediction row `p` as index ranges into a distance slice whose
/// index 0 is library row `first_row`: all of it without an exclusion radius, else the parts
/// before and after the rows within `exclusion_radius` of `p`.
fn admissible(
    len: usize,
    first_row: usize,
    p: usize,
    exclusion_radius: usize,
) -> [Range<usize>; 2] {
    if exclusion_radius == 0 {
        return [0..len, len..len];
    }
    // Excluded rows: |row − p| ≤ r, i.e. p − r ≤ row ≤ p + r.
    let low = p
        .saturating_sub(exclusion_radius)
        .saturating_sub(first_row)
        .min(len);
    let high = (p.saturating_add(exclusion_radius) + 1)
        .saturating_sub(first_row)
        .clamp(low, len);
    [0..low, high..len]
}

/// The `k` nearest admissible library rows to prediction row `p`, sorted in pyEDM's order
/// ([`neighbour_order`]), into `out` (fewer when fewer are admissible). `d2[i]` is the squared
/// distance to library row `first_row + i`.
///
/// One pass keeping a sorted list of the best `k` so far: a row is looked at further only when
/// its distance is at most a threshold, the current `k`-th smallest, and the distances are
/// compared with it [`SCAN_CHUNK`] at a time, so the pass costs well under one comparison per
/// row. `bound` is a squared distance known to be at least the `k`-th smallest (the `k`-th
/// smallest over any `k` admissible rows is: [`distance_bound`]), or infinity: a tight bound
/// spares the sorted list the rows that would enter it only to be pushed out again, which
/// otherwise cost more than the pass. The result is exactly the neighbours, in exactly the
/// order, that sorting every candidate gives, ties included; it is several times faster than
/// copying the candidates and partially selecting among them (`select_nth_unstable`). A k-d
/// tree (kiddo) would not pay here: it would be rebuilt for every `E` over ~1,000 rows, and its
/// queries do not follow pyEDM's tie rule.
fn nearest_admissible(
    d2: &[f64],
    first_row: usize,
    p: usize,
    exclusion_radius: usize,
    k: usize,
    bound: f64,
    out: &mut Vec<Candidate>,
) {
    out.clear();
    if k == 0 {
        return;
    }
    let mut threshold = bound;
    for part in admissible(d2.len(), first_row, p, exclusion_radius) {
        let (base, tail) = (
            part.start,
            part.start + part.len() / SCAN_CHUNK * SCAN_CHUNK,
        );
        let mut chunks = d2[part].chunks_exact(SCAN_CHUNK);
        for (c, chunk) in chunks.by_ref().enumerate() {
            // The chunk's smallest distance, branch-free: most chunks hold no candidate.
            if chunk_min(chunk) > threshold {
                continue;
            }
            let start = first_row + base + c * SCAN_CHUNK;
            for (i, &d) in chunk.iter().enumerate() {
                // Squared distances are finite and ≥ 0 (the samples are checked), so `>`
                // agrees with `total_cmp`; equal distances go on to the tie rule.
                if d <= threshold {
                    threshold = admit(start + i, d, p, k, bound, out);
                }
            }
        }
        for (i, &d) in chunks.remainder().iter().enumerate() {
            if d <= threshold {
                threshold = admit(first_row + tail + i, d, p, k, bound, out);
            }
        }
    }
}

/// Puts library row `row` at squared distance `d` into the sorted list `out` of at most `k`
/// nearest if it belongs there (pyEDM's order), and returns the new threshold: the `k`-th
/// distance once `out` is full, else `bound`. Kept out of line: it runs for a few rows per
/// pass, and the pass's loop stays small.
#[inline(never)]
fn admit(row: usize, d: f64, p: usize, k: usize, bound: f64, out: &mut Vec<Candidate>) -> f64 {
    let order = neighbour_order(p);
    let candidate = Candidate { row, d2: d };
    if out.len() == k {
        if order(&candidate, &out[k - 1]) != Ordering::Less {
            return out[k - 1].d2;
        }
        out.pop();
    }
    let at = out.partition_point(|c| order(c, &candidate) == Ordering::Less);
    out.insert(at, candidate);
    if out.len() == k { out[k - 1].d2 } else { bound }
}

/// An upper bound on the `k`-th smallest squared distance to an admissible row: the `k`-th
/// smallest over the admissible ones among `rows` (library rows, `d2[i]` the distance to row
/// `first_row + i`), or infinity when fewer than `k` of them are admissible. `scratch` is a
/// reusable buffer.
fn distance_bound(
    rows: impl Iterator<Item = usize>,
    d2: &[f64],
    first_row: usize,
    p: usize,
    exclusion_radius: usize,
    k: usize,
    scratch: &mut Vec<f64>,
) -> f64 {
    scratch.clear();
    scratch.extend(
        rows.filter(|&row| {
            row >= first_row
                && row - first_row < d2.len()
                && (exclusion_radius == 0 || row.abs_diff(p) > exclusion_radius)
        })
        .map(|row| d2[row - first_row]),
    );
    if k == 0 || scratch.len() < k {
        return f64::INFINITY;
    }
    let (_, kth, _) = scratch.select_nth_unstable_by(k - 1, f64::total_cmp);
    *kth
}

/// Distances [`nearest_admissible`] compares with the current threshold at once.
const SCAN_CHUNK: usize = 8;

/// The smallest of a chunk of [`SCAN_CHUNK`] distances, as a tree of comparisons without
/// branches (the compiler turns it into a few `minpd`).
#[inline(always)]
fn chunk_min(chunk: &[f64]) -> f64 {
    let min = |a: f64, b: f64| if b < a { b } else { a };
    let a = [
        min(chunk[0], chunk[4]),
        min(chunk[1], chunk[5]),
        min(chunk[2], chunk[6]),
        min(chunk[3], chunk[7]),
    ];
    min(min(a[0], a[2]), min(a[1], a[3]))
}

/// The simplex forecast of `x[p + Tp]` from its neighbours, nearest first (pyEDM
/// `Simplex.Project`): NaN without neighbours.
fn simplex_forecast(series: &[f64], nearest: &[Candidate], tp: usize) -> f64 {
    let Some(first) = nearest.first() else {
        return f64::NAN;
    };
    let d_min = first.d2.sqrt().max(SIMPLEX_MIN_DISTANCE);
    let (mut sw, mut swy) = (0.0, 0.0);
    for c in nearest {
        let w = (-c.d2.sqrt() / d_min).exp();
        sw += w;
        swy += w * series[c.row + tp];
    }
    if sw > 0.0 { swy / sw } else { f64::NAN }
}

/// Simplex projection forecasts of `x[t + Tp]` for every row of `pred` (NaN where no
/// neighbour is admissible), in row order; also returns the observations.
fn simplex_forecasts(series: &[f64], layout: &Layout, params: &EdmParams) -> (Vec<f64>, Vec<f64>) {
    let EdmParams {
        e,
        tau,
        tp,
        exclusion_radius,
    } = *params;
    let mut d2 = Vec::new();
    let mut nearest: Vec<Candidate> = Vec::with_capacity(e + 1);
    let mut scratch = Vec::new();
    let mut forecasts = Vec::with_capacity(layout.pred_rows.len());
    for p in layout.pred_rows.clone() {
        squared_distances(series, &layout.lib_rows, p, e, tau, &mut d2);
        // The rows after the previous prediction row's neighbours: a trajectory stays close
        // to its neighbours for a while, so they bound this row's k-th distance tightly.
        let bound = distance_bound(
            nearest.iter().map(|c| c.row + 1),
            &d2,
            layout.lib_rows.start,
            p,
            exclusion_radius,
            e + 1,
            &mut scratch,
        );
        nearest_admissible(
            &d2,
            layout.lib_rows.start,
            p,
            exclusion_radius,
            e + 1,
            bound,
            &mut nearest,
        );
        forecasts.push(simplex_forecast(series, &nearest, tp));
    }
    let observations = layout.pred_rows.clone().map(|t| series[t + tp]).collect();
    (observations, forecasts)
}

/// Simplex forecasts for `E = 1..=layouts.len()` at once (`layouts[E − 1]` is E's layout, all
/// for the same `lib`, `pred`, `tau` and `Tp`), each `E`'s the same numbers as
/// [`simplex_forecasts`] gives alone. The library rows of `E + 1` are those of `E` less the
/// first `τ`, and their squared distances are those of `E` plus one more coordinate, added in
/// the same order as [`squared_distances`] adds them; so each prediction row's distances are
/// built up one coordinate per `E` instead of from scratch (`O(P·L·E_max)` instead of
/// `O(P·L·E_max²/2)`). Returns the observations and forecasts of each `E`.
fn simplex_survey(
    series: &[f64],
    layouts: &[Layout],
    tau: usize,
    tp: usize,
    exclusion_radius: usize,
) -> Vec<(Vec<f64>, Vec<f64>)> {
    let Some(first) = layouts.first() else {
        return Vec::new();
    };
    let lib_start = first.lib_rows.start;
    let mut d2 = vec![0.0; first.lib_rows.len()];
    let mut nearest: Vec<Candidate> = Vec::with_capacity(layouts.len() + 2);
    // The previous prediction row's neighbours at E = 1, for the first bound of the next row.
    let mut first_nearest: Vec<usize> = Vec::with_capacity(layouts.len() + 1);
    let mut scratch = Vec::new();
    let mut forecasts: Vec<Vec<f64>> = layouts
        .iter()
        .map(|l| Vec::with_capacity(l.pred_rows.len()))
        .collect();
    for p in first.pred_rows.clone() {
        d2.fill(0.0);
        for (j, layout) in layouts.iter().enumerate() {
            if !layout.pred_rows.contains(&p) {
                // Prediction rows only lose their first rows as E grows (t ≥ (E−1)τ).
                break;
            }
            let shift = j * tau;
            let skip = layout.lib_rows.start - lib_start;
            let distances = &mut d2[skip..];
            let column = &series[layout.lib_rows.start - shift..layout.lib_rows.end - shift];
            let q = series[p - shift];
            for (d, &x) in distances.iter_mut().zip(column) {
                let diff = x - q;
                *d += diff * diff;
            }
            // As many neighbours as the largest E's simplex uses (E_max + 1), of which E's
            // forecast takes the first E + 1: with their distances in E + 1 coordinates they
            // bound the next E's k-th distance, usually tightly, since neighbours in E
            // coordinates mostly stay neighbours in E + 1. At E = 1 the rows after the
            // previous prediction row's neighbours serve instead.
            let k = layouts.len() + 1;
            let bound = if j == 0 {
                distance_bound(
                    first_nearest.iter().map(|&row| row + 1),
                    distances,
                    layout.lib_rows.start,
                    p,
                    exclusion_radius,
                    k,
                    &mut scratch,
                )
            } else {
                distance_bound(
                    nearest.iter().map(|c| c.row),
                    distances,
                    layout.lib_rows.start,
                    p,
                    exclusion_radius,
                    k,
                    &mut scratch,
                )
            };
            nearest_admissible(
                distances,
                layout.lib_rows.start,
                p,
                exclusion_radius,
                k,
                bound,
                &mut nearest,
            );
            if j == 0 {
                first_nearest.clear();
                first_nearest.extend(nearest.iter().map(|c| c.row));
            }
            let used = nearest.len().min(j + 2);
            forecasts[j].push(simplex_forecast(series, &nearest[..used], tp));
        }
    }
    layouts
        .iter()
        .zip(forecasts)
        .map(|(layout, f)| {
            (
                layout.pred_rows.clone().map(|t| series[t + tp]).collect(),
                f,
            )
        })
        .collect()
}

/// Simplex projection (Sugihara & May 1990) of `x[t + Tp]` for the prediction rows of `pred`
/// from the library rows of `lib`; see the module documentation for the conventions, which are
/// pyEDM's `Simplex` with `lib = "{lib.start+1} {lib.end}"`, `pred = "{pred.start+1}
/// {pred.end}"`, `tau = −tau`, `knn = E + 1`.
pub fn simplex(
    series: &[f64],
    lib: Range<usize>,
    pred: Range<usize>,
    params: &EdmParams,
) -> Result<Skill, EdmError> {
    let layout = layout(series, &lib, &pred, params, simplex_min_rows(params.e))?;
    let (observations, forecasts) = simplex_forecasts(series, &layout, params);
    Ok(skill(&observations, &forecasts))
}

fn check_theta(theta: f64) -> Result<(), EdmError> {
    if theta.is_finite() && theta >= 0.0 {
        Ok(())
    } else {
        Err(EdmError::InvalidTheta { theta })
    }
}

/// S-map forecasts for each θ (outer index) over the prediction rows (inner), and the
/// observations. Each row's neighbours and distances are computed once and shared by all θ.
fn smap_forecasts(
    series: &[f64],
    layout: &Layout,
    params: &EdmParams,
    thetas: &[f64],
) -> (Vec<f64>, Vec<Vec<f64>>) {
    let EdmParams {
        e,
        tau,
        tp,
        exclusion_radius,
    } = *params;
    // pyEDM's S-map default: knn = library rows − 1.
    let knn = layout.lib_rows.len() - 1;
    let cols = e + 1;
    let mut d2 = Vec::new();
    let mut cands = Vec::new();
    let mut distances = Vec::new();
    let (mut features, mut targets, mut unit, mut weights) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut solver = LeastSquares::default();
    let mut forecasts = vec![Vec::with_capacity(layout.pred_rows.len()); thetas.len()];
    for p in layout.pred_rows.clone() {
        squared_distances(series, &layout.lib_rows, p, e, tau, &mut d2);
        candidates(&d2, &layout.lib_rows, p, exclusion_radius, &mut cands);
        if cands.is_empty() {
            forecasts.iter_mut().for_each(|f| f.push(f64::NAN));
            continue;
        }
        if cands.len() > knn {
            // Drop the farthest (last in pyEDM's order); the regression is order-free.
            let order = neighbour_order(p);
            let farthest = (0..cands.len())
                .max_by(|&a, &b| order(&cands[a], &cands[b]))
                .unwrap_or(0);
            cands.swap_remove(farthest);
        }
        distances.clear();
        distances.extend(cands.iter().map(|c| c.d2.sqrt()));
        let k = cands.len();
        let d_mean = distances.iter().sum::<f64>() / k as f64;
        // The neighbours' delay coordinates (column-major, one column per lag) and targets,
        // shared by every θ; and the unit weights e^(−d/d_mean) whose powers most θ use.
        features.clear();
        for j in 0..e {
            features.extend(cands.iter().map(|c| series[c.row - j * tau]));
        }
        targets.clear();
        targets.extend(cands.iter().map(|c| series[c.row + tp]));
        unit.clear();
        unit.extend(distances.iter().map(|&d| {
            if d_mean > 0.0 {
                (-d / d_mean).exp()
            } else {
                1.0
            }
        }));
        for (&theta, out) in thetas.iter().zip(forecasts.iter_mut()) {
            Localisation::new(theta, d_mean).weights(&unit, &distances, &mut weights);
            let (a, b) = solver.design(k, cols);
            a[..k].copy_from_slice(&weights);
            for (column, feature) in a[k..].chunks_exact_mut(k).zip(features.chunks_exact(k)) {
                for ((cell, &w), &x) in column.iter_mut().zip(&weights).zip(feature) {
                    *cell = w * x;
                }
            }
            for ((cell, &w), &y) in b.iter_mut().zip(&weights).zip(&targets) {
                *cell = w * y;
            }
            let coefficients = solver.solve();
            let mut forecast = coefficients[0];
            for j in 1..cols {
                forecast += coefficients[j] * series[p - (j - 1) * tau];
            }
            out.push(forecast);
        }
    }
    let observations = layout.pred_rows.clone().map(|t| series[t + tp]).collect();
    (observations, forecasts)
}

/// Largest whole or half-integer θ whose weights are taken as powers of the unit weight
/// `u = e^(−d/d_mean)` (`u^θ` by repeated squaring, times `√u` for a half) instead of a fresh
/// `exp(−θ d / d_mean)`: the power carries about `θ/2` ulps of the unit weight's rounding, at
/// most 7e-15 relative at 64, far below anything a regression can resolve; and it saves
/// most of the exponentials, which are half the cost of an S-map run over the θ grid.
const MAX_POWER_THETA: f64 = 64.0;

/// How the S-map weights `exp(−θ d / d_mean)` of one θ are computed from the unit weights
/// `u = exp(−d / d_mean)`, decided once per θ.
#[derive(Debug, Clone, Copy)]
enum Localisation {
    /// θ = 0 (pyEDM's `W = 1`), or every neighbour at distance 0 (where pyEDM divides by zero).
    Uniform,
    /// `u^whole`, times `√u` when `half`.
    Power { whole: u32, half: bool },
    /// `exp(−scale · d)`, `scale = θ / d_mean`.
    Exponential { scale: f64 },
}

impl Localisation {
    fn new(theta: f64, d_mean: f64) -> Self {
        if theta == 0.0 || d_mean == 0.0 {
            Localisation::Uniform
        } else if (2.0 * theta).fract() == 0.0 && theta <= MAX_POWER_THETA {
            Localisation::Power {
                whole: theta.floor() as u32,
                half: theta.fract() != 0.0,
            }
        } else {
            Localisation::Exponential {
                scale: theta / d_mean,
            }
        }
    }

    /// Fills `weights` for neighbours with unit weights `unit` and distances `distances`.
    fn weights(self, unit: &[f64], distances: &[f64], weights: &mut Vec<f64>) {
        weights.clear();
        match self {
            Localisation::Uniform => weights.resize(unit.len(), 1.0),
            Localisation::Power { whole, half } => weights.extend(unit.iter().map(|&u| {
                // Binary powering, inline (powi is an out-of-line call).
                let (mut base, mut k, mut w) = (u, whole, 1.0);
                while k > 0 {
                    if k & 1 == 1 {
                        w *= base;
                    }
                    base *= base;
                    k >>= 1;
                }
                if half { w * u.sqrt() } else { w }
            })),
            Localisation::Exponential { scale } => {
                weights.extend(distances.iter().map(|&d| (-scale * d).exp()))
            }
        }
    }
}

/// S-map (Sugihara 1994) forecasts of `x[t + Tp]` with localisation `theta ≥ 0`; pyEDM's
/// `SMap` with the default `knn` (all library rows but the farthest) and the numpy `lstsq`
/// solver. See the module documentation for the conventions.
pub fn smap(
    series: &[f64],
    lib: Range<usize>,
    pred: Range<usize>,
    params: &EdmParams,
    theta: f64,
) -> Result<Skill, EdmError> {
    check_theta(theta)?;
    let layout = layout(series, &lib, &pred, params, smap_min_rows(params.e))?;
    let (observations, forecasts) = smap_forecasts(series, &layout, params, &[theta]);
    Ok(skill(&observations, &forecasts[0]))
}

/// Simplex skill for `E = 1..=max_e` (pyEDM `EmbedDimension`), no exclusion radius. The first
/// error (e.g. the library too short for the largest `E`) stops the survey.
pub fn embed_dimension(
    series: &[f64],
    lib: Range<usize>,
    pred: Range<usize>,
    max_e: usize,
    tau: usize,
    tp: usize,
) -> Result<Vec<(usize, Skill)>, EdmError> {
    if max_e == 0 {
        return Err(EdmError::ZeroDimension);
    }
    let layouts = (1..=max_e)
        .map(|e| {
            let params = EdmParams {
                e,
                tau,
                tp,
                exclusion_radius: 0,
            };
            layout(series, &lib, &pred, &params, simplex_min_rows(e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(simplex_survey(series, &layouts, tau, tp, 0)
        .iter()
        .enumerate()
        .map(|(i, (observations, forecasts))| (i + 1, skill(observations, forecasts)))
        .collect())
}

/// S-map skill for each θ in `thetas` at embedding dimension `e` (pyEDM `PredictNonlinear`;
/// pass [`THETA_GRID`] for the standard grid), no exclusion radius.
pub fn predict_nonlinear(
    series: &[f64],
    lib: Range<usize>,
    pred: Range<usize>,
    e: usize,
    tau: usize,
    tp: usize,
    thetas: &[f64],
) -> Result<Vec<(f64, Skill)>, EdmError> {
    if thetas.is_empty() {
        return Err(EdmError::NoThetas);
    }
    thetas.iter().try_for_each(|&t| check_theta(t))?;
    let params = EdmParams {
        e,
        tau,
        tp,
        exclusion_radius: 0,
    };
    let layout = layout(series, &lib, &pred, &params, smap_min_rows(e))?;
    let (observations, forecasts) = smap_forecasts(series, &layout, &params, thetas);
    Ok(thetas
        .iter()
        .zip(&forecasts)
        .map(|(&theta, f)| (theta, skill(&observations, f)))
        .collect())
}

/// What simplex and S-map say about a series' dynamics.
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicsProfile {
    /// Lag between embedding coordinates and forecast horizon used, in samples.
    pub tau: usize,
    pub tp: usize,
    /// Chosen embedding dimension: the smallest `E` whose simplex ρ is within
    /// [`EMBEDDING_RHO_TOLERANCE`] of the best.
    pub e: usize,
    /// Simplex ρ for `E = 1..=max_e` (index `E − 1`).
    pub rho_by_e: Vec<f64>,
    /// The θ of [`THETA_GRID`] with the best S-map ρ at `e` (the smallest on ties).
    pub theta: f64,
    /// S-map ρ for each θ of [`THETA_GRID`].
    pub rho_by_theta: Vec<(f64, f64)>,
    /// Whether localising the map (θ > 0) improves ρ over θ = 0 by more than
    /// [`NONLINEAR_Z_SIGMAS`] standard errors (see there).
    pub nonlinear: bool,
    /// S-map ρ at the chosen `e` and `theta`: the skill of the model the profile recommends.
    pub forecast_skill: f64,
}

/// Fewest samples [`profile_dynamics`] accepts for `max_e`: each half must give the S-map
/// enough library vectors at `E = max_e`.
pub fn profile_min_samples(max_e: usize) -> usize {
    profile_min_samples_with(max_e, PROFILE_TAU, PROFILE_TP)
}

/// Fewest samples [`profile_dynamics_with`] accepts for `max_e`, lag `tau` and horizon `tp`.
pub fn profile_min_samples_with(max_e: usize, tau: usize, tp: usize) -> usize {
    let half = (max_e.max(1) - 1) * tau + tp + smap_min_rows(max_e.max(1));
    2 * half
}

/// Self-tuning profile of a series: the library is the first half (`0..n/2`), the forecasts
/// are made on the second half (`n/2..n`), one step ahead from consecutive samples
/// ([`PROFILE_TAU`], [`PROFILE_TP`]). The embedding dimension is the smallest `E ≤ max_e`
/// whose simplex ρ is within [`EMBEDDING_RHO_TOLERANCE`] of the best; at that `E` the S-map is
/// run over [`THETA_GRID`], and the series is called nonlinear when the best θ beats θ = 0 by
/// more than [`NONLINEAR_Z_SIGMAS`] standard errors of ρ (Sugihara 1994; Fisher's z).
pub fn profile_dynamics(series: &[f64], max_e: usize) -> Result<DynamicsProfile, EdmError> {
    profile_dynamics_with(series, max_e, PROFILE_TAU, PROFILE_TP)
}

/// [`profile_dynamics`] with embedding lag `tau` and forecast horizon `tp` (samples). For a
/// flow sampled much faster than it evolves, `tau = tp =` the embedding delay of the series
/// (e.g. the first minimum of its mutual information) is the usual choice: it lets the S-map
/// see the state dependence that one-step forecasts hide.
pub fn profile_dynamics_with(
    series: &[f64],
    max_e: usize,
    tau: usize,
    tp: usize,
) -> Result<DynamicsProfile, EdmError> {
    if max_e == 0 {
        return Err(EdmError::ZeroDimension);
    }
    if tau == 0 {
        return Err(EdmError::ZeroLag);
    }
    let n = series.len();
    let needed = profile_min_samples_with(max_e, tau, tp);
    if n < needed {
        return Err(EdmError::SeriesTooShort { n, max_e, needed });
    }
    let half = n / 2;
    let (lib, pred) = (0..half, half..n);
    let by_e = embed_dimension(series, lib.clone(), pred.clone(), max_e, tau, tp)?;
    let rho_by_e: Vec<f64> = by_e.iter().map(|(_, s)| s.rho).collect();
    let best_rho = rho_by_e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e = by_e
        .iter()
        .find(|(_, s)| s.rho >= best_rho - EMBEDDING_RHO_TOLERANCE)
        .map_or(1, |&(e, _)| e);
    let by_theta = predict_nonlinear(series, lib, pred, e, tau, tp, &THETA_GRID)?;
    let rho_by_theta: Vec<(f64, f64)> = by_theta.iter().map(|&(t, s)| (t, s.rho)).collect();
    let (theta, forecast_skill) =
        rho_by_theta
            .iter()
            .copied()
            .fold((THETA_GRID[0], f64::NEG_INFINITY), |best, (t, rho)| {
                if rho > best.1 { (t, rho) } else { best }
            });
    let linear_rho = rho_by_theta[0].1;
    let forecasts = by_theta[0].1.n;
    let nonlinear = theta > 0.0 && significant_gain(linear_rho, forecast_skill, forecasts);
    Ok(DynamicsProfile {
        tau,
        tp,
        e,
        rho_by_e,
        theta,
        rho_by_theta,
        nonlinear,
        forecast_skill,
    })
}

/// Whether `rho` beats `baseline` by more than [`NONLINEAR_Z_SIGMAS`] standard errors of the
/// difference of two Fisher-z transformed correlations from `n` pairs each.
fn significant_gain(baseline: f64, rho: f64, n: usize) -> bool {
    if n <= 3 {
        return false;
    }
    let z = |r: f64| r.clamp(-MAX_FISHER_RHO, MAX_FISHER_RHO).atanh();
    z(rho) - z(baseline) > NONLINEAR_Z_SIGMAS * (2.0 / (n - 3) as f64).sqrt()
}

/// Relative cutoff on singular values, as numpy `lstsq(rcond=None)`: `ε · max(rows, cols)`.
fn lstsq_rcond(rows: usize, cols: usize) -> f64 {
    f64::EPSILON * rows.max(cols) as f64
}

/// Most sweeps of the one-sided Jacobi SVD; it converges quadratically, in well under ten
/// sweeps for the `(E+1) × (E+1)` triangles met here (Demmel & Veselić 1992).
const MAX_JACOBI_SWEEPS: usize = 60;

/// Minimum-norm least squares `min ‖A c − b‖` by Householder QR of the tall `A` followed by a
/// one-sided Jacobi SVD of its `cols × cols` triangle, with numpy `lstsq`'s singular-value
/// cutoff. Written here rather than taken from a linear-algebra crate: the systems are tiny and
/// repeated thousands of times per run, so the work is in reusing buffers, and the whole
/// solver is ~100 lines against a large dependency.
#[derive(Debug, Default)]
struct LeastSquares {
    rows: usize,
    cols: usize,
    /// Column-major `rows × cols` design.
    a: Vec<f64>,
    b: Vec<f64>,
    /// Column-major `cols × cols` working matrix and right singular vectors.
    m: Vec<f64>,
    v: Vec<f64>,
    z: Vec<f64>,
    c: Vec<f64>,
}

impl LeastSquares {
    /// Sizes the system and returns the design (column-major `rows × cols`) and right-hand
    /// side to fill.
    fn design(&mut self, rows: usize, cols: usize) -> (&mut [f64], &mut [f64]) {
        self.rows = rows;
        self.cols = cols;
        self.a.resize(rows * cols, 0.0);
        self.b.resize(rows, 0.0);
        (&mut self.a[..rows * cols], &mut self.b[..rows])
    }

    fn solve(&mut self) -> &[f64] {
        let (rows, cols) = (self.rows, self.cols);
        self.m.clear();
        self.m.resize(cols * cols, 0.0);
        self.z.clear();
        self.z.resize(cols, 0.0);
        // Householder QR: R into m (upper triangle), Qᵀb into z.
        for j in 0..cols.min(rows) {
            let (head, tail) = self.a.split_at_mut((j + 1) * rows);
            let col = &mut head[j * rows + j..];
            let norm2: f64 = col.iter().map(|x| x * x).sum();
            let norm = norm2.sqrt();
            if norm == 0.0 {
                for (k, cell) in tail.chunks_exact(rows).enumerate() {
                    self.m[(j + 1 + k) * cols + j] = cell[j];
                }
                self.z[j] = self.b[j];
                continue;
            }
            let alpha = if col[0] > 0.0 { -norm } else { norm };
            let x0 = col[0];
            col[0] = x0 - alpha;
            let v_norm2 = norm2 - x0 * x0 + col[0] * col[0];
            self.m[j * cols + j] = alpha;
            let v = &*col;
            for (k, other) in tail.chunks_exact_mut(rows).enumerate() {
                let target = &mut other[j..];
                let s: f64 = v.iter().zip(target.iter()).map(|(a, b)| a * b).sum();
                let f = 2.0 * s / v_norm2;
                target.iter_mut().zip(v).for_each(|(t, &vi)| *t -= f * vi);
                self.m[(j + 1 + k) * cols + j] = target[0];
            }
            let target = &mut self.b[j..];
            let s: f64 = v.iter().zip(target.iter()).map(|(a, b)| a * b).sum();
            let f = 2.0 * s / v_norm2;
            target.iter_mut().zip(v).for_each(|(t, &vi)| *t -= f * vi);
            self.z[j] = target[0];
        }
        // One-sided Jacobi on the columns of R: R V = U Σ.
        self.v.clear();
        self.v.resize(cols * cols, 0.0);
        for i in 0..cols {
            self.v[i * cols + i] = 1.0;
        }
        for _ in 0..MAX_JACOBI_SWEEPS {
            let mut rotated = false;
            for i in 0..cols {
                for j in i + 1..cols {
                    let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                    for r in 0..cols {
                        let (x, y) = (self.m[i * cols + r], self.m[j * cols + r]);
                        alpha += x * x;
                        beta += y * y;
                        gamma += x * y;
                    }
                    if gamma == 0.0 || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt() {
                        continue;
                    }
                    rotated = true;
                    let zeta = (beta - alpha) / (2.0 * gamma);
                    let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                    let c = 1.0 / (1.0 + t * t).sqrt();
                    let s = c * t;
                    for mat in [&mut self.m, &mut self.v] {
                        for r in 0..cols {
                            let (x, y) = (mat[i * cols + r], mat[j * cols + r]);
                            mat[i * cols + r] = c * x - s * y;
                            mat[j * cols + r] = s * x + c * y;
                        }
                    }
                }
            }
            if !rotated {
                break;
            }
        }
        let sigma2: Vec<f64> = (0..cols)
            .map(|i| self.m[i * cols..(i + 1) * cols].iter().map(|x| x * x).sum())
            .collect();
        let sigma_max = sigma2.iter().copied().fold(0.0, f64::max).sqrt();
        let cutoff = lstsq_rcond(rows, cols) * sigma_max;
        self.c.clear();
        self.c.resize(cols, 0.0);
        for (i, &s2) in sigma2.iter().enumerate() {
            if s2.sqrt() <= cutoff || s2 == 0.0 {
                continue;
            }
            let mz: f64 = (0..cols).map(|r| self.m[i * cols + r] * self.z[r]).sum();
            let f = mz / s2;
            for r in 0..cols {
                self.c[r] += f * self.v[i * cols + r];
            }
        }
        &self.c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64 with a Box–Muller normal: reproducible noise without a dependency.
    struct Rng(u64);

    impl Rng {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        }

        fn normal(&mut self) -> f64 {
            let (u, v) = (self.unit(), self.unit());
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        }
    }

    fn white_noise(seed: u64, n: usize) -> Vec<f64> {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        (0..n).map(|_| rng.normal()).collect()
    }

    fn logistic(n: usize, r: f64, x0: f64) -> Vec<f64> {
        let mut x = x0;
        (0..n + 100)
            .map(|_| {
                x = r * x * (1.0 - x);
                x
            })
            .skip(100)
            .collect()
    }

    fn params(e: usize, tau: usize, tp: usize) -> EdmParams {
        EdmParams {
            e,
            tau,
            tp,
            exclusion_radius: 0,
        }
    }

    #[test]
    fn simplex_by_hand() {
        // E = 1: library rows 0..=3 (values 0, 1, 3, 6; targets 1, 3, 6, 10). Prediction row 5
        // (value 2.5) has nearest rows 2 (d = 0.5) and 1 (d = 1.5): weights e^-1 and e^-3 on
        // targets 6 and 3. Row 6's target x[7] is past the end: not scored.
        let series = [0.0, 1.0, 3.0, 6.0, 10.0, 2.5, 7.0];
        let s = simplex(&series, 0..5, 5..7, &params(1, 1, 1)).unwrap();
        let (w1, w3) = ((-1.0f64).exp(), (-3.0f64).exp());
        let forecast = (6.0 * w1 + 3.0 * w3) / (w1 + w3);
        assert_eq!(s.n, 1);
        assert!((s.mae - (7.0 - forecast)).abs() < 1e-14, "{s:?}");
        assert!((s.rmse - s.mae).abs() < 1e-14);
        assert_eq!(s.rho, 0.0, "one pair: correlation undefined, reported as 0");
    }

    #[test]
    fn exclusion_radius_removes_neighbours_near_the_prediction() {
        // Prediction row 5 (value 5.9): library row 3 (value 6) is nearest, but with an
        // exclusion radius of 2 it is at |5 − 3| = 2 and excluded; rows 2 and 1 remain.
        let series = [0.0, 1.0, 3.0, 6.0, 10.0, 5.9, 3.0];
        let with = EdmParams {
            exclusion_radius: 2,
            ..params(1, 1, 1)
        };
        let s = simplex(&series, 0..5, 5..6, &with).unwrap();
        let d: [f64; 2] = [2.9, 4.9]; // rows 2 and 1, targets 6 and 3
        let w: Vec<f64> = d.iter().map(|x| (-x / d[0]).exp()).collect();
        let forecast = (6.0 * w[0] + 3.0 * w[1]) / (w[0] + w[1]);
        assert!((s.mae - (forecast - 3.0).abs()).abs() < 1e-12, "{s:?}");
        let without = simplex(&series, 0..5, 5..6, &params(1, 1, 1)).unwrap();
        assert!((without.mae - s.mae).abs() > 0.1);
    }

    #[test]
    fn smap_at_theta_zero_is_exact_on_a_linear_recurrence() {
        // x_t = 2cos(ω) x_{t−1} − x_{t−2}: a sampled sine, exactly linear in (1, x_t, x_{t−1}).
        // With E = 3 the design is rank deficient (x_{t−2} is a combination of the others), which
        // exercises the singular-value cutoff; the forecast is exact all the same.
        let series: Vec<f64> = (0..300).map(|t| (0.37 * t as f64).sin() + 0.2).collect();
        for e in [2, 3] {
            for theta in [0.0, 2.0] {
                let s = smap(&series, 0..150, 150..300, &params(e, 1, 1), theta).unwrap();
                assert!(s.rmse < 1e-9, "E={e} θ={theta}: {s:?}");
                assert!((s.rho - 1.0).abs() < 1e-12);
                assert_eq!(s.n, 149);
            }
        }
    }

    #[test]
    fn logistic_map_is_low_dimensional_and_nonlinear() {
        // r = 3.9: chaotic, x_{t+1} a parabola in x_t. Simplex is nearly perfect at E = 1-2;
        // the global linear map (θ = 0) cannot follow the parabola, the local one can.
        let series = logistic(1000, 3.9, 0.4);
        let p = profile_dynamics(&series, 6).unwrap();
        assert!(p.e <= 2, "{p:?}");
        assert!(p.rho_by_e[0] > 0.95, "{p:?}");
        assert!(p.nonlinear, "{p:?}");
        assert!(p.theta >= 1.0, "{p:?}");
        assert!(p.forecast_skill > 0.99, "{p:?}");
        assert!(p.forecast_skill - p.rho_by_theta[0].1 > 0.3, "{p:?}");
        assert_eq!(p.rho_by_e.len(), 6);
        assert_eq!(p.rho_by_theta.len(), THETA_GRID.len());
    }

    #[test]
    fn white_noise_has_no_skill_and_is_not_nonlinear() {
        for seed in 1..=8 {
            let series = white_noise(seed, 1000);
            let p = profile_dynamics(&series, 6).unwrap();
            assert!(!p.nonlinear, "seed {seed}: {p:?}");
            assert!(
                p.rho_by_e.iter().all(|r| r.abs() < 0.15),
                "seed {seed}: {p:?}"
            );
            assert!(p.forecast_skill.abs() < 0.15, "seed {seed}: {p:?}");
        }
    }

    #[test]
    fn a_linear_stochastic_process_is_not_nonlinear() {
        // AR(1) with coefficient 0.8: the best one-step forecast is linear, ρ = 0.8.
        for seed in 1..=4 {
            let noise = white_noise(seed + 100, 1000);
            let mut x = 0.0;
            let series: Vec<f64> = noise
                .iter()
                .map(|e| {
                    x = 0.8 * x + e;
                    x
                })
                .collect();
            let p = profile_dynamics(&series, 4).unwrap();
            assert!(!p.nonlinear, "seed {seed}: {p:?}");
            assert!(
                (p.rho_by_theta[0].1 - 0.8).abs() < 0.08,
                "seed {seed}: {p:?}"
            );
        }
    }

    #[test]
    fn embed_dimension_and_predict_nonlinear_agree_with_single_runs() {
        let series = logistic(400, 3.8, 0.3);
        let by_e = embed_dimension(&series, 0..200, 200..400, 4, 1, 1).unwrap();
        for (e, skill) in &by_e {
            assert_eq!(
                *skill,
                simplex(&series, 0..200, 200..400, &params(*e, 1, 1)).unwrap()
            );
        }
        let thetas = [0.0, 0.5, 4.0];
        let by_theta = predict_nonlinear(&series, 0..200, 200..400, 2, 1, 1, &thetas).unwrap();
        for (theta, skill) in &by_theta {
            let single = smap(&series, 0..200, 200..400, &params(2, 1, 1), *theta).unwrap();
            assert_eq!(*skill, single);
        }
    }

    #[test]
    fn thresholded_selection_matches_a_full_sort_with_ties_and_exclusion() {
        // Distances quantised to a few values, so that most neighbours tie on distance and
        // the order comes down to pyEDM's tie rule (closeness in time, then the earlier row).
        let mut rng = Rng(42);
        let mut out = Vec::new();
        let mut scratch = Vec::new();
        for case in 0..400 {
            let len = 1 + case % 57;
            let first_row = case % 7;
            let d2: Vec<f64> = (0..len).map(|_| (rng.unit() * 5.0).floor()).collect();
            let p = first_row + (rng.unit() * (len + 10) as f64) as usize;
            let radius = case % 4;
            let k = 1 + case % 12;
            let order = neighbour_order(p);
            let mut all: Vec<Candidate> = d2
                .iter()
                .enumerate()
                .map(|(i, &d2)| Candidate {
                    row: first_row + i,
                    d2,
                })
                .filter(|c| radius == 0 || c.row.abs_diff(p) > radius)
                .collect();
            all.sort_by(&order);
            all.truncate(k);
            // Without a bound, with the tightest bound, and with one from arbitrary rows.
            let tight = all.last().map_or(f64::INFINITY, |c| c.d2);
            let some_rows = (first_row..first_row + len).step_by(2);
            let loose = distance_bound(some_rows, &d2, first_row, p, radius, k, &mut scratch);
            for bound in [f64::INFINITY, tight, loose] {
                nearest_admissible(&d2, first_row, p, radius, k, bound, &mut out);
                let got: Vec<usize> = out.iter().map(|c| c.row).collect();
                let want: Vec<usize> = all.iter().map(|c| c.row).collect();
                assert_eq!(
                    got, want,
                    "case {case}: p {p} radius {radius} k {k} bound {bound}"
                );
            }
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let series: Vec<f64> = (0..100).map(|t| (t as f64 * 0.3).sin()).collect();
        let p = params(2, 1, 1);
        assert_eq!(
            simplex(&series, 0..50, 50..100, &params(0, 1, 1)),
            Err(EdmError::ZeroDimension)
        );
        assert_eq!(
            smap(&series, 0..50, 50..100, &params(2, 0, 1), 1.0),
            Err(EdmError::ZeroLag)
        );
        assert_eq!(
            simplex(&series, 10..10, 50..100, &p),
            Err(EdmError::EmptyRange {
                role: RangeRole::Library,
                start: 10,
                end: 10
            })
        );
        let err = simplex(&series, 0..50, 60..101, &p).unwrap_err();
        assert_eq!(
            err,
            EdmError::OutOfRange {
                role: RangeRole::Prediction,
                start: 60,
                end: 101,
                n: 100
            }
        );
        assert_eq!(
            err.to_string(),
            "prediction (pred) range 60..101 runs past the end of the series (100 samples)"
        );
        assert!(matches!(
            simplex(&series, 0..50, 49..100, &p),
            Err(EdmError::Overlap {
                lib_end: 50,
                pred_start: 49,
                ..
            })
        ));
        // lib 0..6 with E = 3, tau = 2, Tp = 1: rows 4..=4, one vector; simplex needs 4.
        let err = simplex(&series, 0..6, 50..100, &params(3, 2, 1)).unwrap_err();
        assert_eq!(
            err,
            EdmError::LibraryTooShort {
                lib_len: 6,
                e: 3,
                tau: 2,
                tp: 1,
                rows: 1,
                needed: 4
            }
        );
        assert!(err.to_string().contains("E = 3, tau = 2, Tp = 1"), "{err}");
        // pred 0..3 with E = 5: no row has a full embedding.
        assert!(matches!(
            simplex(&series, 50..100, 0..3, &params(5, 1, 1)),
            Err(EdmError::NoPredictions { .. })
        ));
        // pred 99..100 with Tp = 1: the only target is past the end.
        assert!(matches!(
            simplex(&series, 0..50, 99..100, &p),
            Err(EdmError::NoPredictions { .. })
        ));
        let mut bad = series.clone();
        bad[57] = f64::NAN;
        assert_eq!(
            simplex(&bad, 0..50, 58..100, &p).unwrap_err().to_string(),
            "sample 57 is not a finite number (NaN)",
            "the prediction at row 58 reads x[57]"
        );
        // A NaN the run never reads is not an error.
        assert!(simplex(&bad, 0..50, 70..100, &p).is_ok());
        bad[57] = 1e200;
        assert!(matches!(
            simplex(&bad, 0..50, 58..100, &p),
            Err(EdmError::TooLarge { index: 57, .. })
        ));
        for theta in [-1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                smap(&series, 0..50, 50..100, &p, theta),
                Err(EdmError::InvalidTheta { .. })
            ));
        }
        assert_eq!(
            predict_nonlinear(&series, 0..50, 50..100, 2, 1, 1, &[]),
            Err(EdmError::NoThetas)
        );
        assert_eq!(
            embed_dimension(&series, 0..50, 50..100, 0, 1, 1),
            Err(EdmError::ZeroDimension)
        );
        assert_eq!(
            profile_dynamics(&series[..20], 6),
            Err(EdmError::SeriesTooShort {
                n: 20,
                max_e: 6,
                needed: profile_min_samples(6)
            })
        );
        assert!(profile_dynamics(&series[..profile_min_samples(6)], 6).is_ok());
    }

    #[test]
    fn library_after_the_predictions_and_tp_zero_work() {
        let series = logistic(300, 3.9, 0.2);
        let s = simplex(&series, 150..300, 0..150, &params(2, 1, 1)).unwrap();
        assert_eq!(s.n, 149, "row 0 has no full E = 2 vector");
        assert!(s.rho > 0.95);
        // Tp = 0 forecasts the present: the nearest neighbour's own value.
        let now = simplex(&series, 0..150, 150..300, &params(2, 1, 0)).unwrap();
        assert_eq!(now.n, 150);
        assert!(now.rho > 0.99);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            /// Distances scale with the data and the weights depend only on distance ratios,
            /// so an affine change of units leaves ρ unchanged and scales the errors.
            #[test]
            fn skill_is_invariant_under_a_change_of_units(
                seed in 1u64..1000,
                scale in 0.01f64..100.0,
                offset in -50.0f64..50.0,
                e in 1usize..4,
                theta in 0.0f64..5.0,
            ) {
                let x = white_noise(seed, 80);
                let y: Vec<f64> = x.iter().map(|v| scale * v + offset).collect();
                let p = params(e, 1, 1);
                let (a, b) = (simplex(&x, 0..40, 40..80, &p).unwrap(), simplex(&y, 0..40, 40..80, &p).unwrap());
                prop_assert!((a.rho - b.rho).abs() < 1e-9);
                prop_assert!((a.mae * scale - b.mae).abs() < 1e-9 * b.mae.max(1.0));
                let (a, b) = (smap(&x, 0..40, 40..80, &p, theta).unwrap(), smap(&y, 0..40, 40..80, &p, theta).unwrap());
                prop_assert!((a.rho - b.rho).abs() < 1e-7);
                prop_assert!((a.rmse * scale - b.rmse).abs() < 1e-7 * b.rmse.max(1.0));
                prop_assert!((-1.0..=1.0).contains(&a.rho) && a.n == 39);
            }
        }
    }
}
