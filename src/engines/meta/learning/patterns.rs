//! Level 1 of the learning loop: recurring motifs become reference patterns, and every pattern
//! gets a match threshold learnt from its own distances to the stream.
//!
//! **Learning a pattern.** Each round hands in its top motif pairs (matrix profile, `motifs`).
//! A pair is a *sighting* of a shape when its two members are at least one motif window apart
//! (no overlap: [`MIN_MEMBER_SEPARATION_WINDOWS`]) and correlate at least
//! [`MOTIF_MIN_CORRELATION`]. Sightings are kept as *candidates* between rounds (at most
//! [`MAX_CANDIDATES`] per channel, the stalest forgotten first), so a shape that returns every
//! few hundred samples is learnt even when one analysis window holds only one or two copies. A
//! sighting joins a candidate when their z-normalised DTW distance is at most
//! [`SAME_SHAPE_PER_SAMPLE`] per sample. A candidate becomes a pattern when it *recurs*: seen in
//! [`MIN_ROUNDS`] rounds at places more than a window apart, or as [`MIN_MEMBERS`] members in
//! one window. It is deduplicated against every pattern the channel is searched for (given or
//! learnt) by the same DTW distance, named after the channel and the sample where it was first
//! seen (`sine@1800`), and retired when it has not matched for [`RETIRE_AFTER_SAMPLES`] (unless
//! the user pinned it).
//!
//! **Learning a threshold** ([`learn_threshold`]). The search reports a window as a match when
//! its DTW distance (z-normalised, |a − b| cost, Sakoe–Chiba band of 10% — the search's own
//! metric) to the pattern is at most the pattern's threshold. The rule: compute that distance
//! from the pattern to the windows of the round's samples (every [`THRESHOLD_STRIDE_FRACTION`]
//! of the pattern's length), keep the pattern's *occurrences* in them ([`occurrences`]: the
//! best alignment of each copy, copies not overlapping, within the same-shape bound
//! [`SAME_SHAPE_PER_SAMPLE`]), and take the [`THRESHOLD_QUANTILE`] quantile of their distances,
//! widened by [`THRESHOLD_MARGIN`] — so the threshold sits just above the distances at which
//! the stream's own copies of the shape come, and a later copy with the same noise matches. It
//! is clamped to `[MIN_THRESHOLD_PER_SAMPLE, MAX_THRESHOLD_PER_SAMPLE] × length`: the upper
//! bound is the fixed bound used before thresholds were learnt, so a learnt threshold only ever
//! tightens it to the stream's own level. With fewer than [`MIN_OCCURRENCES`] occurrences
//! there is no threshold to learn (the pattern keeps the one it has, and a candidate that does
//! not recur closely — a chaotic map's near-return — is no pattern). A threshold is revised
//! when the new one differs from it by more than [`THRESHOLD_REVISION`].
//!
//! Counting occurrences, not windows, is what lets a rare shape be learnt: a shape that returns
//! every few hundred samples is close to the pattern at a few percent of the window offsets
//! only, so a low quantile over *all* offsets (the rule before) lay in the noise, above the
//! fixed bound, and the candidate was never promoted however often it recurred.

use crate::engines::temporal::search::z_normalise;
use crate::engines::temporal::{DtwCost, DtwOptions, dtw};

/// Smallest correlation of a motif pair's members for the pair to count as a sighting of one
/// shape: √(2m(1 − 0.9)) ≈ 0.45·√m in the matrix profile's distance. Two noisy copies of a
/// shape at a signal-to-noise ratio of 10 correlate about 0.9.
pub const MOTIF_MIN_CORRELATION: f64 = 0.9;

/// Members of a sighting must start at least this many motif windows apart: overlapping
/// windows are the same occurrence seen twice, not a recurrence.
pub const MIN_MEMBER_SEPARATION_WINDOWS: usize = 1;

/// Two shapes are the same when their z-normalised DTW distance (|a − b| cost, 10% band) is at
/// most this per sample: the search's former fixed match bound (a quarter of a standard
/// deviation off on average), so a shape the search would match is a duplicate.
pub const SAME_SHAPE_PER_SAMPLE: f64 = 0.25;

/// Rounds in which a candidate must be seen before it is learnt.
pub const MIN_ROUNDS: u32 = 2;

/// Or members of it in one window (non-overlapping windows within [`MOTIF_MIN_CORRELATION`]).
pub const MIN_MEMBERS: usize = 3;

/// Candidates kept per channel between rounds; the one seen longest ago goes first. 16 shapes
/// of up to 1,024 samples: at most 128 KiB per channel.
pub const MAX_CANDIDATES: usize = 16;

/// Sightings remembered per candidate (the first and the latest ones).
pub const MAX_SIGHTINGS: usize = 8;

/// Learnt patterns kept per channel (pinned ones included); when full, no new pattern is
/// learnt until one is retired or dropped. Each is one search on its channel, so this bounds
/// the pattern search's work as well as memory.
pub const MAX_LEARNT: usize = 8;

/// A learnt pattern that has not matched for this many samples is retired: 16 rounds at the
/// pipeline's 256-sample stride, about 20 s at the demo's 200 samples/s.
pub const RETIRE_AFTER_SAMPLES: u64 = 4096;

/// The quantile of the distances of the pattern's occurrences in the stream that, widened by
/// [`THRESHOLD_MARGIN`], becomes its threshold: nearly the farthest copy (with a handful of
/// occurrences, the farthest one).
pub const THRESHOLD_QUANTILE: f64 = 0.95;

/// The threshold lies this fraction above the quantile. The DTW distance between two noisy
/// copies of a shape is a sum over the pattern's samples, so it scatters by about
/// CV(|noise difference|)/√m ≈ 0.75/√32 ≈ 13% at the default 32-sample motif window; 50% is
/// three to four such deviations above the farthest copy seen, since a window holds only a
/// handful of copies and their farthest says little about the tail.
pub const THRESHOLD_MARGIN: f64 = 0.5;

/// Occurrences needed to learn a threshold: the pattern's own place and one copy.
pub const MIN_OCCURRENCES: usize = 2;

/// Threshold bounds per pattern sample. The upper one is the fixed bound the search used
/// before thresholds were learnt (`MATCH_DISTANCE_PER_SAMPLE`); the lower one keeps a
/// threshold learnt on a noiseless stream from refusing the same shape with a little noise.
pub const MAX_THRESHOLD_PER_SAMPLE: f64 = 0.25;
pub const MIN_THRESHOLD_PER_SAMPLE: f64 = 0.02;

/// Distances for the threshold are taken every this fraction of the pattern's length (at least
/// every sample): half the DTW band, so that the band absorbs the offset and the best
/// alignment of each copy is seen. Keeps the cost of a round at O(n · m · band / stride).
pub const THRESHOLD_STRIDE_FRACTION: f64 = 0.05;

/// A threshold is revised when the new quantile differs from it by more than this fraction.
pub const THRESHOLD_REVISION: f64 = 0.25;

/// The search's Sakoe–Chiba band as a fraction of the pattern length (`PATTERN_BAND_FRACTION`).
pub const BAND_FRACTION: f64 = 0.1;

/// Z-normalised DTW distance between two shapes (the search's metric; the band widens to the
/// length difference), or `None` when either has a non-finite value.
pub fn shape_distance(a: &[f64], b: &[f64]) -> Option<f64> {
    let band = (BAND_FRACTION * a.len().max(b.len()) as f64).floor() as usize;
    dtw(
        &z_normalise(a),
        &z_normalise(b),
        &DtwOptions::new(DtwCost::Absolute).with_window(band),
    )
    .ok()
}

/// Per sample of the longer shape.
pub fn shape_distance_per_sample(a: &[f64], b: &[f64]) -> Option<f64> {
    shape_distance(a, b).map(|d| d / a.len().max(b.len()).max(1) as f64)
}

/// The distances from `pattern` to the windows of `series` (every stride), with the start of
/// each window.
pub fn distances_to_stream(pattern: &[f64], series: &[f64]) -> Vec<(usize, f64)> {
    let m = pattern.len();
    if m == 0 || series.len() < m {
        return Vec::new();
    }
    let stride = ((THRESHOLD_STRIDE_FRACTION * m as f64).floor() as usize).max(1);
    let band = (BAND_FRACTION * m as f64).floor() as usize;
    let options = DtwOptions::new(DtwCost::Absolute).with_window(band);
    let query = z_normalise(pattern);
    (0..=series.len() - m)
        .step_by(stride)
        .filter_map(|i| {
            dtw(&query, &z_normalise(&series[i..i + m]), &options)
                .ok()
                .map(|d| (i, d))
        })
        .collect()
}

/// A learnt threshold and what it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearntThreshold {
    /// In the search's units (DTW distance over the whole pattern).
    pub threshold: f64,
    /// The quantile of the occurrences' distances (before the margin and the clamp), how many
    /// occurrences it came from, and out of how many distances.
    pub quantile: f64,
    pub occurrences: usize,
    pub distances: usize,
}

/// The pattern's occurrences among `distances` (from [`distances_to_stream`]): the windows
/// within [`SAME_SHAPE_PER_SAMPLE`] per sample, best first, each at least a pattern length
/// from those kept before it (the offsets around one copy are the same occurrence); in order
/// of position.
pub fn occurrences(pattern_len: usize, distances: &[(usize, f64)]) -> Vec<(usize, f64)> {
    let bound = SAME_SHAPE_PER_SAMPLE * pattern_len as f64;
    let mut close: Vec<(usize, f64)> = distances
        .iter()
        .copied()
        .filter(|&(_, d)| d <= bound)
        .collect();
    close.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    let mut kept: Vec<(usize, f64)> = Vec::new();
    for (at, d) in close {
        if kept.iter().all(|&(k, _)| k.abs_diff(at) >= pattern_len) {
            kept.push((at, d));
        }
    }
    kept.sort_by_key(|&(at, _)| at);
    kept
}

/// The threshold rule of the module documentation, from the distances of the pattern to the
/// stream; `None` with fewer than [`MIN_OCCURRENCES`] occurrences.
pub fn learn_threshold(pattern_len: usize, distances: &[(usize, f64)]) -> Option<LearntThreshold> {
    let found = occurrences(pattern_len, distances);
    if found.len() < MIN_OCCURRENCES {
        return None;
    }
    let mut d: Vec<f64> = found.iter().map(|&(_, d)| d).collect();
    d.sort_by(f64::total_cmp);
    // The nearest-rank quantile (the smallest value with at least q of the values at or below).
    let rank = ((THRESHOLD_QUANTILE * d.len() as f64).ceil() as usize).clamp(1, d.len());
    let quantile = d[rank - 1];
    let m = pattern_len as f64;
    Some(LearntThreshold {
        threshold: (quantile * (1.0 + THRESHOLD_MARGIN))
            .clamp(MIN_THRESHOLD_PER_SAMPLE * m, MAX_THRESHOLD_PER_SAMPLE * m),
        quantile,
        occurrences: found.len(),
        distances: distances.len(),
    })
}

/// How many non-overlapping windows of `series` correlate at least [`MOTIF_MIN_CORRELATION`]
/// with `series[at..at + m]` (itself included): greedily, best first.
pub fn members_in_window(series: &[f64], at: usize, m: usize) -> usize {
    if m < 2 || at + m > series.len() {
        return 0;
    }
    let shape = z_normalise(&series[at..at + m]);
    let mut close: Vec<(f64, usize)> = (0..=series.len() - m)
        .filter_map(|i| {
            let w = z_normalise(&series[i..i + m]);
            let corr = shape.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / m as f64;
            (corr >= MOTIF_MIN_CORRELATION).then_some((corr, i))
        })
        .collect();
    close.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut kept: Vec<usize> = Vec::new();
    for (_, i) in close {
        if kept.iter().all(|&k| k.abs_diff(i) >= m) {
            kept.push(i);
        }
    }
    kept.len()
}

/// A shape seen in a motif pair, remembered between rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The samples of its first sighting.
    pub values: Vec<f64>,
    /// Channel sample where it was first seen.
    pub first_seen: u64,
    /// Starts of its sightings (channel samples), at most [`MAX_SIGHTINGS`].
    pub sightings: Vec<u64>,
    /// Rounds it was seen in, and the last one.
    pub rounds: u32,
    pub last_round: u64,
    /// Most members in one window so far.
    pub members: usize,
    /// The pattern it duplicates, once found to be one (it is then never learnt).
    pub duplicate_of: Option<String>,
}

/// A pattern learnt from the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct LearntPattern {
    pub name: String,
    pub values: Vec<f64>,
    /// Channel samples `from..to` it was taken from.
    pub from: u64,
    pub to: u64,
    pub threshold: f64,
    /// Channel sample of its latest match seen by the learner (the end of the window).
    pub last_match: u64,
    pub pinned: bool,
}

/// A pattern the channel is searched for that was not learnt here (built-in, from a file,
/// captured), for deduplication and threshold learning.
#[derive(Debug, Clone, Copy)]
pub struct GivenPattern<'a> {
    pub name: &'a str,
    pub values: &'a [f64],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_the_farthest_occurrence_widened_and_clamped() {
        // A 40-sample pattern (same-shape bound 10): copies at 0 (itself), 100, 200 and 300 at
        // distances 0, 4, 6, 5, their neighbouring offsets a little farther, the rest at 20+.
        let mut d: Vec<(usize, f64)> = (0..400).map(|i| (i, 20.0 + (i % 7) as f64)).collect();
        for (at, best) in [(0, 0.0), (100, 4.0), (200, 6.0), (300, 5.0)] {
            for k in 0..5usize {
                d[at + k] = (at + k, best + k as f64);
            }
        }
        let found = occurrences(40, &d);
        assert_eq!(found, vec![(0, 0.0), (100, 4.0), (200, 6.0), (300, 5.0)]);
        let t = learn_threshold(40, &d).unwrap();
        // q95 of 4 by nearest rank is the farthest, 6; × 1.5 = 9, inside [0.8, 10].
        assert_eq!(
            (t.quantile, t.threshold, t.occurrences, t.distances),
            (6.0, 9.0, 4, 400)
        );
        // Occurrences at the bound: clamped to the former fixed bound 0.25 per sample.
        let near: Vec<(usize, f64)> = vec![(0, 0.0), (50, 7.0)];
        assert_eq!(learn_threshold(40, &near).unwrap().threshold, 10.0);
        // Noiseless copies: the lower clamp.
        let exact: Vec<(usize, f64)> = vec![(0, 0.0), (50, 0.0)];
        assert_eq!(learn_threshold(40, &exact).unwrap().threshold, 0.8);
        // One occurrence (the pattern's own place) or none: nothing to learn.
        let far: Vec<(usize, f64)> = (0..40)
            .map(|i| (i * 10, if i == 0 { 0.0 } else { 30.0 }))
            .collect();
        assert!(learn_threshold(40, &far).is_none());
        assert!(learn_threshold(40, &[]).is_none());
    }

    #[test]
    fn a_sine_has_one_member_per_period_and_a_shape_is_its_own_duplicate() {
        let sine: Vec<f64> = (0..500)
            .map(|i| (std::f64::consts::TAU * i as f64 / 50.0).sin())
            .collect();
        assert_eq!(members_in_window(&sine, 0, 50), 10);
        assert!(shape_distance_per_sample(&sine[0..50], &sine[100..150]).unwrap() < 1e-9);
        let ramp: Vec<f64> = (0..50).map(f64::from).collect();
        assert!(shape_distance_per_sample(&sine[0..50], &ramp).unwrap() > SAME_SHAPE_PER_SAMPLE);
    }
}
