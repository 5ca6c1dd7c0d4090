//! Streaming subsequence search under DTW, in the manner of the UCR suite (Rakthanmanon et
//! al. 2012, "Searching and mining trillions of time series subsequences under dynamic time
//! warping", KDD): z-normalised windows, cascaded lower bounds and early abandoning.
//!
//! [`StreamingSearch`] takes the samples of an endless series one at a time (or in slices)
//! and reports where a z-normalised query matches, each window being examined exactly once:
//! nothing of the past is rescanned. The cascade for the window starting at `s` is:
//!
//! 1. LB_KimFL with the UCR hierarchy: the first and last three "L-shells" of the matrix;
//! 2. LB_Keogh on piecewise aggregates ([`PAA_SEGMENT`]-sample means, after Keogh 2002's
//!    LB_PAA), of the window against the query's envelope and of the query against the
//!    window's envelope: O(m / 8) from running segment sums, so the many windows that are far
//!    from the query never touch their `m` samples;
//! 3. LB_Keogh of the window against the query's envelope, abandoned as soon as it exceeds
//!    the bound;
//! 4. LB_Keogh of the query against the window's envelope (computed incrementally with
//!    Lemire's streaming minimum and maximum);
//! 5. LB_Improved (Lemire 2009): the window's LB_Keogh plus that of the query against the
//!    envelope of the window projected onto the query's envelope;
//! 6. banded DTW with early abandoning and pruning (EAPrunedDTW, Herrmann & Webb 2021), a cell
//!    being dropped once its cost plus what LB_Improved says the rest of any path through it
//!    must still cost exceeds the bound.
//!
//! The LB_Keogh sums run over chunks of the query in a branch-free, vectorised loop, the
//! chunks ordered by decreasing Σ|qᵢ| (the suite's reordering, per chunk).
//!
//! Matches. A window matches when its distance is at most the threshold. Neighbouring
//! windows of a good match are good matches too (a shifted window warps onto the same
//! pattern within the band), so overlapping matches are resolved to the best of their group:
//! the first matching window becomes *pending*; a later window that starts less than
//! `exclusion` samples after the pending one (the query's length by default: reported matches
//! never overlap) replaces it only when strictly closer, and the zone then runs from the
//! replacement; the pending match is reported once the first window outside its exclusion
//! zone has been examined. So what is reported is the lowest distance of its group (ties to
//! the earliest window), never merely the first window under the threshold, which can lie up
//! to the band width off the best alignment. While a match is pending, its distance is the
//! bound of the cascade, which prunes further. [`StreamingSearch::finish`] reports a group
//! still open at the end of the series.
//!
//! Latency: the window starting at `s` is examined when sample `s + m − 1 + r` arrives (the
//! window's envelope needs `r` samples of look-ahead); a match is reported once the window
//! `exclusion` samples after it has been examined. [`StreamingSearch::finish`] examines what
//! is left at the end of a finite series.
//!
//! Z-normalisation uses the population standard deviation (as the UCR suite and
//! `numpy.std`). A window (or query) whose standard deviation is at most
//! [`FLAT_RELATIVE_STD`] times its mean's magnitude is flat: it normalises to all zeros.
//! A sample that is NaN or infinite is a hole: no window containing it is examined, and the
//! sample indices of the stream still count it.

use super::bounds::{Envelope, sliding_extremum_into};
use super::dtw::{Abs, DtwCost, LocalCost, Sq, min2};
use super::error::TemporalError;
use crate::model::order;

/// A window or query is flat when its standard deviation is at most this fraction of its
/// mean's magnitude. The running sums that give a window's variance lose about
/// `ε · mean²` to cancellation (ε = 2.2e-16), so a standard deviation below
/// `√ε · |mean| ≈ 1.5e-8 · |mean|` is rounding noise; this is a few times that.
pub const FLAT_RELATIVE_STD: f64 = 1e-7;

/// Relative slack given to the lower bounds before a candidate is discarded: a bound summed
/// in a different order than the DTW it bounds can exceed it by a few ulps when the two are
/// equal, and a match exactly at the threshold must not be lost to rounding.
const PRUNE_SLACK: f64 = 1e-12;

/// The running window sums are recomputed exactly from the buffer once every this many query
/// lengths of windows, so that the rounding of add-one-drop-one updates cannot drift on an
/// endless stream; the O(m) recomputation every m windows is O(1) per sample.
const RESUM_EVERY_QUERY_LENGTHS: u64 = 1;

/// Positions per chunk of the LB_Keogh sums: each chunk is a branch-free loop the compiler
/// vectorises, and the early-abandoning test runs once per chunk. Eight keeps the test
/// frequent enough that little work is wasted past the point of abandoning.
const BOUND_CHUNK: usize = 8;

/// Samples per segment of the piecewise-aggregate bounds. Their cost is O(m / PAA_SEGMENT) per
/// window; shorter segments are tighter (one sample per segment is LB_Keogh itself). On the
/// benchmark's 128-sample random-walk query with a 12-sample band and the `|a − b|` cost, at
/// the final best distance, eight-sample segments pruned 80% of the windows against 85% for
/// the window's full LB_Keogh (four-sample segments: 83%), and the two directions together
/// 88%.
pub const PAA_SEGMENT: usize = 8;

/// The segment means of the piecewise-aggregate bounds are computed from sums over raw
/// samples, not from the rounded z-normalised values the DTW sees; their intervals are widened
/// by this many ulps of the magnitudes involved (the sums of eight terms, the subtraction of
/// the mean and the scaling round at most about a dozen times), so rounding can never make
/// them exceed the DTW they bound.
const PAA_ROUNDING_ULPS: f64 = 32.0;

/// Query length from which the three-shell LB_Kim hierarchy applies (the six shells are then
/// disjoint); shorter queries use the first and last cells only.
const KIM_HIERARCHY_MIN_LEN: usize = 6;

/// Configuration of a subsequence search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchConfig {
    /// Sakoe–Chiba half-width `r`, in samples (clamped to the query length minus one).
    pub band: usize,
    /// Largest distance, in the units of `cost`'s DTW, at which a window is a match.
    /// `f64::INFINITY` accepts every window (useful with a huge exclusion: best match).
    pub threshold: f64,
    /// The DTW convention of the distances.
    pub cost: DtwCost,
    /// Minimum distance between the starts of two reported matches, in samples;
    /// `None` is the query's length (no overlap).
    pub exclusion: Option<usize>,
}

impl SearchConfig {
    /// A configuration with the band given as a fraction of the query length (the UCR
    /// suite's `R`: `r = ⌊fraction · len⌋`), the `|a − b|` cost and no overlap.
    pub fn with_band_fraction(query_len: usize, fraction: f64, threshold: f64) -> SearchConfig {
        let band = if fraction.is_finite() && fraction > 0.0 {
            (fraction * query_len as f64).floor() as usize
        } else {
            0
        };
        SearchConfig {
            band,
            threshold,
            cost: DtwCost::Absolute,
            exclusion: None,
        }
    }
}

/// A place where the query matched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PatternMatch {
    /// Index in the stream (counting every pushed sample from 0) of the window's first sample.
    pub start: u64,
    /// Length of the window (the query's length).
    pub len: usize,
    /// DTW distance between the z-normalised query and the z-normalised window.
    pub distance: f64,
}

/// What the cascade did with the windows examined so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchStats {
    /// Windows examined.
    pub windows: u64,
    /// Windows skipped because they hold a non-finite sample.
    pub holes: u64,
    /// Windows discarded by LB_Kim.
    pub pruned_kim: u64,
    /// Windows discarded by the piecewise-aggregate LB_Keogh bounds (either direction).
    pub pruned_paa: u64,
    /// Windows discarded by LB_Keogh of the window against the query's envelope.
    pub pruned_keogh_query: u64,
    /// Windows discarded by LB_Keogh of the query against the window's envelope.
    pub pruned_keogh_data: u64,
    /// Windows discarded by LB_Improved.
    pub pruned_improved: u64,
    /// DTW computations abandoned early.
    pub dtw_abandoned: u64,
    /// DTW computations completed.
    pub dtw_completed: u64,
}

/// A sliding maximum or minimum over the stream (Lemire 2009), holding (index, value) in a
/// fixed ring: a window of `2r + 1` samples never holds more than `2r + 1` entries.
#[derive(Debug, Clone)]
struct MonotoneQueue {
    indices: Vec<u64>,
    values: Vec<f64>,
    /// `capacity − 1`, the capacity being a power of two.
    mask: usize,
    head: usize,
    len: usize,
}

impl MonotoneQueue {
    fn new(max_len: usize) -> Self {
        let capacity = max_len.next_power_of_two();
        MonotoneQueue {
            indices: vec![0; capacity],
            values: vec![0.0; capacity],
            mask: capacity - 1,
            head: 0,
            len: 0,
        }
    }

    /// Adds a value, dropping from the back those it dominates: `keeps(old, new)` says
    /// whether `old` can still be the extremum once `new` is in.
    #[inline]
    fn push(&mut self, index: u64, value: f64, keeps: impl Fn(f64, f64) -> bool) {
        while self.len > 0 && !keeps(self.values[(self.head + self.len - 1) & self.mask], value) {
            self.len -= 1;
        }
        let slot = (self.head + self.len) & self.mask;
        self.indices[slot] = index;
        self.values[slot] = value;
        self.len += 1;
    }

    #[inline]
    fn expire_before(&mut self, index: u64) {
        while self.len > 0 && self.indices[self.head] < index {
            self.head = (self.head + 1) & self.mask;
            self.len -= 1;
        }
    }

    #[inline]
    fn front(&self) -> Option<f64> {
        (self.len > 0).then(|| self.values[self.head])
    }
}

/// A ring buffer written twice (at `k` and `k + capacity`), so the last `capacity` values are
/// always one contiguous slice.
#[derive(Debug, Clone)]
struct MirroredRing {
    values: Vec<f64>,
    capacity: usize,
    /// Where the next value goes: the slot of the oldest value.
    next: usize,
}

impl MirroredRing {
    fn new(capacity: usize) -> Self {
        MirroredRing {
            values: vec![0.0; 2 * capacity],
            capacity,
            next: 0,
        }
    }

    #[inline]
    fn push(&mut self, value: f64) {
        self.values[self.next] = value;
        self.values[self.next + self.capacity] = value;
        self.next += 1;
        if self.next == self.capacity {
            self.next = 0;
        }
    }

    /// The last `capacity` values pushed, oldest first.
    #[inline]
    fn last(&self) -> &[f64] {
        &self.values[self.next..self.next + self.capacity]
    }
}

/// Means over the [`PAA_SEGMENT`] positions ending at each recent centre `c` of: the samples,
/// the envelope's upper and lower values, and `max(|upper|, |lower|)` (which bounds the
/// samples' magnitudes too, for the rounding allowance).
///
/// Each sum of eight is built as a tree of pairwise sums from the last values, pairs and
/// quadruples (three additions per centre, always in the same order, so nothing drifts on an
/// endless stream). The means are kept in one ring per phase `c mod PAA_SEGMENT`, each
/// holding the last `segments` centres of its phase: the segments of the window starting at
/// `s` end at centres `s + 7, s + 15, …`, all of phase `(s + 7) mod 8`, and once the window's
/// last sample has been processed they are exactly the newest entries of that ring. So a
/// window's segment means are contiguous slices, and the bound is a plain vectorised loop.
#[derive(Debug, Clone)]
struct SegmentRings {
    segments: usize,
    /// The last eight values, pair sums and quadruple sums, by `c mod 8`, of the four
    /// quantities.
    singles: [[f64; 4]; PAA_SEGMENT],
    pairs: [[f64; 4]; PAA_SEGMENT],
    quads: [[f64; 4]; PAA_SEGMENT],
    /// For phase `p` and quantity `q`, `2 · segments` values from `(4p + q) · 2 · segments`,
    /// each written twice (`t` and `t + segments`) so the newest `segments` are one slice.
    values: Vec<f64>,
    /// Per phase, the slot of the next write (that of the oldest value).
    next: [usize; PAA_SEGMENT],
}

// The pairwise tree of `SegmentRings::push` is written for segments of eight.
const _: () = assert!(PAA_SEGMENT == 8);

/// `c mod PAA_SEGMENT`.
const PHASE_MASK: u64 = PAA_SEGMENT as u64 - 1;

impl SegmentRings {
    fn new(segments: usize) -> Self {
        SegmentRings {
            segments,
            singles: [[0.0; 4]; PAA_SEGMENT],
            pairs: [[0.0; 4]; PAA_SEGMENT],
            quads: [[0.0; 4]; PAA_SEGMENT],
            values: vec![0.0; PAA_SEGMENT * 4 * 2 * segments],
            next: [0; PAA_SEGMENT],
        }
    }

    /// Adds the values at centre `centre` (`[sample, upper, lower, magnitude]`) and records the
    /// means over the eight centres ending there.
    #[inline]
    fn push(&mut self, centre: u64, values: [f64; 4]) {
        let phase = (centre & PHASE_MASK) as usize;
        let back = |k: u64| (centre.wrapping_sub(k) & PHASE_MASK) as usize;
        let pair: [f64; 4] = std::array::from_fn(|q| values[q] + self.singles[back(1)][q]);
        let quad: [f64; 4] = std::array::from_fn(|q| pair[q] + self.pairs[back(2)][q]);
        let eight: [f64; 4] = std::array::from_fn(|q| quad[q] + self.quads[back(4)][q]);
        self.singles[phase] = values;
        self.pairs[phase] = pair;
        self.quads[phase] = quad;
        let slot = self.next[phase];
        let span = 2 * self.segments;
        let rings = &mut self.values[phase * 4 * span..(phase + 1) * 4 * span];
        for (ring, v) in rings.chunks_exact_mut(span).zip(eight) {
            let mean = v * (1.0 / PAA_SEGMENT as f64);
            ring[slot] = mean;
            ring[slot + self.segments] = mean;
        }
        self.next[phase] = if slot + 1 == self.segments {
            0
        } else {
            slot + 1
        };
    }

    /// The segment means of the window starting at `start`, in order, once its last sample
    /// has been processed: `[samples, upper, lower, magnitude]`.
    #[inline]
    fn window(&self, start: u64) -> [&[f64]; 4] {
        let phase = (start.wrapping_add(PHASE_MASK) & PHASE_MASK) as usize;
        let slot = self.next[phase];
        let span = 2 * self.segments;
        std::array::from_fn(|q| {
            let ring = (phase * 4 + q) * span;
            &self.values[ring + slot..ring + slot + self.segments]
        })
    }
}

/// The z-normalised query and everything derived from it.
#[derive(Debug, Clone)]
struct PreparedQuery {
    values: Vec<f64>,
    /// The query's envelope under the band.
    upper: Vec<f64>,
    lower: Vec<f64>,
    /// Index ranges of [`BOUND_CHUNK`] positions, by decreasing Σ|qᵢ|: the UCR suite's
    /// reordering (large values give large bound contributions, so abandoning comes early),
    /// applied to chunks so that each chunk is still a contiguous, vectorised loop.
    chunks: Vec<(usize, usize)>,
    /// Per full [`PAA_SEGMENT`]-sample segment, for the piecewise-aggregate bounds: the means
    /// of the query, of its envelope's lower and upper values, and of
    /// `max(|lower|, |upper|)` (the magnitude for the rounding allowance).
    segments: QuerySegments,
}

/// The query's segment means; see [`PreparedQuery::segments`].
#[derive(Debug, Clone, Default)]
struct QuerySegments {
    mean: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    /// The largest segment mean of `max(|lower|, |upper|)`.
    largest_scale: f64,
}

/// Buffers of the LB_Improved stage.
#[derive(Debug, Clone)]
struct EnvelopeScratch {
    upper: Vec<f64>,
    lower: Vec<f64>,
    terms: Vec<f64>,
    prefix: Vec<f64>,
    suffix: Vec<f64>,
}

/// Incremental UCR-style search of one query in an endless series; see the module
/// documentation. Memory is O(query length + band), independent of the stream's length.
///
/// ```
/// use midstream::engines::temporal::{DtwCost, SearchConfig, StreamingSearch};
///
/// let query: Vec<f64> = (0..32).map(|i| (i as f64 / 4.0).sin()).collect();
/// let config = SearchConfig { band: 3, threshold: 0.5, cost: DtwCost::Squared, exclusion: None };
/// let mut search = StreamingSearch::new(&query, config)?;
/// let mut matches = Vec::new();
/// for t in 0..1000usize {
///     // A noisy signal with a scaled, shifted copy of the query at t = 400.
///     let x = if (400..432).contains(&t) { 10.0 + 3.0 * query[t - 400] } else { (t * 7919 % 13) as f64 };
///     if let Some(found) = search.push(x) {
///         matches.push(found);
///     }
/// }
/// matches.extend(search.finish());
/// assert_eq!(matches.len(), 1);
/// assert_eq!((matches[0].start, matches[0].len), (400, 32));
/// assert!(matches[0].distance < 1e-6);
/// # Ok::<(), midstream::engines::temporal::TemporalError>(())
/// ```
#[derive(Debug, Clone)]
pub struct StreamingSearch {
    query: PreparedQuery,
    m: usize,
    r: usize,
    cost: DtwCost,
    raw_threshold: f64,
    exclusion: usize,
    /// Samples pushed so far.
    seen: u64,
    /// The next envelope centre to process (the last sample of the next window).
    next_centre: u64,
    /// The last `m + r + 1` raw samples (non-finite ones kept as they are).
    samples: MirroredRing,
    /// The window envelope at the last `m` centres.
    env_upper: MirroredRing,
    env_lower: MirroredRing,
    /// Segment means at the recent centres, for the piecewise-aggregate bounds.
    segment_means: SegmentRings,
    max_queue: MonotoneQueue,
    min_queue: MonotoneQueue,
    /// Sums over the current window `[centre − m + 1, centre]` of the finite samples' offsets
    /// from `origin` and of their squares. The origin is the window's mean as of the last
    /// exact recomputation, so the variance is not lost to cancellation when the level is
    /// large against the spread (a level of 10⁶ with unit wiggles would otherwise cost some
    /// 10⁻⁴ of relative accuracy in the variance).
    origin: f64,
    sum: f64,
    sum_sq: f64,
    /// Non-finite samples in the current window.
    holes_in_window: usize,
    /// Windows left before the sums are recomputed exactly.
    windows_to_resum: u64,
    pending: Option<(u64, f64)>,
    stats: SearchStats,
    // Scratch, reused for every window.
    bound_query: Vec<f64>,
    bound_data: Vec<f64>,
    /// `rest_rows[i]` = Σ_{t ≥ i} of LB_Improved's row parts, `rest_columns[j]` likewise.
    rest_rows: Vec<f64>,
    rest_columns: Vec<f64>,
    normalised: Vec<f64>,
    projection: Vec<f64>,
    envelope_scratch: EnvelopeScratch,
    row_prev: Vec<f64>,
    row_cur: Vec<f64>,
}

impl StreamingSearch {
    /// Prepares a search for `query` (z-normalised here) with the given configuration.
    ///
    /// Errors on an empty or non-finite query, or a negative or NaN threshold.
    pub fn new(query: &[f64], config: SearchConfig) -> Result<StreamingSearch, TemporalError> {
        if query.is_empty() {
            return Err(TemporalError::EmptyQuery);
        }
        if let Some((index, &value)) = query.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(TemporalError::NonFiniteQuery { index, value });
        }
        if config.threshold.is_nan() || config.threshold < 0.0 {
            return Err(TemporalError::InvalidThreshold(config.threshold));
        }
        let m = query.len();
        let r = config.band.min(m - 1);
        let values = z_normalise(query);
        let mut chunks: Vec<(usize, usize)> = (0..m)
            .step_by(BOUND_CHUNK)
            .map(|s| (s, (s + BOUND_CHUNK).min(m)))
            .collect();
        let weight = |&(s, e): &(usize, usize)| values[s..e].iter().map(|v| v.abs()).sum::<f64>();
        // Heaviest first; equal weights in order of position.
        order::sort_unstable_by(&mut chunks, |x, y| {
            weight(y).total_cmp(&weight(x)).then(x.0.cmp(&y.0))
        });
        let envelope = Envelope::new(&values, r);
        let k = PAA_SEGMENT as f64;
        let segment_means = |v: &[f64]| -> Vec<f64> {
            v.chunks_exact(PAA_SEGMENT)
                .map(|c| c.iter().sum::<f64>() / k)
                .collect()
        };
        let magnitude: Vec<f64> = envelope
            .lower
            .iter()
            .zip(&envelope.upper)
            .map(|(l, u)| l.abs().max(u.abs()))
            .collect();
        let segments = QuerySegments {
            mean: segment_means(&values),
            lower: segment_means(&envelope.lower),
            upper: segment_means(&envelope.upper),
            largest_scale: segment_means(&magnitude).into_iter().fold(0.0, f64::max),
        };
        let segment_means = SegmentRings::new(segments.mean.len());
        let exclusion = config.exclusion.unwrap_or(m).max(1);
        Ok(StreamingSearch {
            segment_means,
            query: PreparedQuery {
                values,
                upper: envelope.upper,
                lower: envelope.lower,
                chunks,
                segments,
            },
            m,
            r,
            cost: config.cost,
            raw_threshold: config.cost.raw_from_distance(config.threshold),
            exclusion,
            seen: 0,
            next_centre: 0,
            samples: MirroredRing::new(m + r + 1),
            env_upper: MirroredRing::new(m),
            env_lower: MirroredRing::new(m),
            max_queue: MonotoneQueue::new(2 * r + 2),
            min_queue: MonotoneQueue::new(2 * r + 2),
            sum: 0.0,
            sum_sq: 0.0,
            origin: 0.0,
            holes_in_window: 0,
            windows_to_resum: 1,
            pending: None,
            stats: SearchStats::default(),
            bound_query: vec![0.0; m],
            bound_data: vec![0.0; m],
            rest_rows: vec![0.0; m + 1],
            rest_columns: vec![0.0; m + 1],
            normalised: vec![0.0; m],
            projection: vec![0.0; m],
            envelope_scratch: EnvelopeScratch {
                upper: vec![0.0; m],
                lower: vec![0.0; m],
                terms: vec![0.0; m],
                prefix: Vec::with_capacity(m + 2 * r),
                suffix: Vec::with_capacity(m + 2 * r),
            },
            row_prev: vec![f64::INFINITY; m],
            row_cur: vec![f64::INFINITY; m],
        })
    }

    /// Changes the match threshold from the next window on (a learnt threshold revised while
    /// the search runs); a negative or NaN threshold is refused and changes nothing.
    pub fn set_threshold(&mut self, threshold: f64) -> Result<(), TemporalError> {
        if threshold.is_nan() || threshold < 0.0 {
            return Err(TemporalError::InvalidThreshold(threshold));
        }
        self.raw_threshold = self.cost.raw_from_distance(threshold);
        Ok(())
    }

    /// The query's length.
    pub fn query_len(&self) -> usize {
        self.m
    }

    /// The band half-width in use.
    pub fn band(&self) -> usize {
        self.r
    }

    /// Samples pushed so far.
    pub fn samples_seen(&self) -> u64 {
        self.seen
    }

    /// What the cascade has done so far.
    pub fn stats(&self) -> SearchStats {
        self.stats
    }

    /// Adds one sample; returns a match when one is settled by it.
    pub fn push(&mut self, sample: f64) -> Option<PatternMatch> {
        let index = self.seen;
        self.seen += 1;
        self.samples.push(sample);
        if sample.is_finite() {
            self.max_queue.push(index, sample, |old, new| old > new);
            self.min_queue.push(index, sample, |old, new| old < new);
        }
        if index >= self.r as u64 {
            self.process_centre()
        } else {
            None
        }
    }

    /// Adds samples in order, appending the matches they settle to `matches`.
    pub fn extend(&mut self, samples: &[f64], matches: &mut Vec<PatternMatch>) {
        for &sample in samples {
            if let Some(found) = self.push(sample) {
                matches.push(found);
            }
        }
    }

    /// Ends the series: examines the windows still waiting for look-ahead and reports the
    /// remaining matches, the pending one included.
    pub fn finish(mut self) -> Vec<PatternMatch> {
        let mut matches = Vec::new();
        while self.seen > 0 && self.next_centre < self.seen {
            if let Some(found) = self.process_centre() {
                matches.push(found);
            }
        }
        if let Some((start, raw)) = self.pending.take() {
            matches.push(self.to_match(start, raw));
        }
        matches
    }

    fn to_match(&self, start: u64, raw: f64) -> PatternMatch {
        PatternMatch {
            start,
            len: self.m,
            distance: self.cost.distance_from_raw(raw),
        }
    }

    /// Computes the envelope at the next centre `c` (over `[c − r, c + r]`, clipped to the
    /// samples seen), slides the window sums to end at `c`, and examines the window ending
    /// at `c` once there is one.
    fn process_centre(&mut self) -> Option<PatternMatch> {
        let c = self.next_centre;
        self.next_centre += 1;
        let newest = self.seen - 1;
        let lo = c.saturating_sub(self.r as u64);
        self.max_queue.expire_before(lo);
        self.min_queue.expire_before(lo);
        // An empty queue means every sample around `c`, `c` included, is a hole: the value is
        // never used since no window containing `c` is examined.
        let env_u = self.max_queue.front().unwrap_or(0.0);
        let env_l = self.min_queue.front().unwrap_or(0.0);
        self.env_upper.push(env_u);
        self.env_lower.push(env_l);

        let window = self.samples.last();
        // Offset in `window` of sample `c`: the ring's oldest sample is `newest + 1 − cap`.
        let cap = (self.m + self.r + 1) as u64;
        let offset = (c + cap - 1 - newest) as usize;
        let entering = window[offset];
        if self.segment_means.segments > 0 {
            // max(|u|, |l|) = max(u, −l) since l ≤ u. Before PAA_SEGMENT centres the sums
            // take zeros for the missing ones, but no window uses them.
            self.segment_means
                .push(c, [entering, env_u, env_l, env_u.max(-env_l)]);
        }
        if entering.is_finite() {
            let d = entering - self.origin;
            self.sum += d;
            self.sum_sq += d * d;
        } else {
            self.holes_in_window += 1;
        }
        if c >= self.m as u64 {
            let leaving = window[(c - self.m as u64 + cap - 1 - newest) as usize];
            if leaving.is_finite() {
                let d = leaving - self.origin;
                self.sum -= d;
                self.sum_sq -= d * d;
            } else {
                self.holes_in_window -= 1;
            }
        }
        if c + 1 < self.m as u64 {
            return None;
        }
        let start = c + 1 - self.m as u64;
        let first = (start + cap - 1 - newest) as usize;
        self.windows_to_resum -= 1;
        if self.windows_to_resum == 0 {
            self.windows_to_resum = self.m as u64 * RESUM_EVERY_QUERY_LENGTHS;
            // The new origin is the window's mean as the running sums have it (any value near
            // the mean serves); the sums are then recomputed exactly about it.
            let finite_in_window = (self.m - self.holes_in_window).max(1);
            let origin = self.origin + self.sum / finite_in_window as f64;
            let origin = if origin.is_finite() { origin } else { 0.0 };
            self.origin = origin;
            let (s, s2) = window[first..first + self.m]
                .iter()
                .filter(|v| v.is_finite())
                .fold((0.0, 0.0), |(s, s2), &v| {
                    let d = v - origin;
                    (s + d, s2 + d * d)
                });
            self.sum = s;
            self.sum_sq = s2;
        }

        let mut settled = None;
        if let Some((p_start, p_raw)) = self.pending
            && start >= p_start.saturating_add(self.exclusion as u64)
        {
            settled = Some(self.to_match(p_start, p_raw));
            self.pending = None;
        }
        self.stats.windows += 1;
        if self.holes_in_window > 0 {
            self.stats.holes += 1;
            return settled;
        }
        let bound = self.pending.map_or(self.raw_threshold, |(_, raw)| raw);
        let found = match self.cost {
            DtwCost::Absolute => self.examine::<Abs>(start, first, bound),
            DtwCost::Squared => self.examine::<Sq>(start, first, bound),
        };
        if let Some(raw) = found {
            let better = match self.pending {
                Some((_, p_raw)) => raw < p_raw,
                None => raw <= self.raw_threshold,
            };
            if better {
                self.pending = Some((start, raw));
            }
        }
        settled
    }

    /// The larger of the two piecewise-aggregate LB_Keogh bounds of the current window; stops
    /// after the first when it already exceeds `prune_at`.
    ///
    /// For a segment of `k` positions whose LB_Keogh terms are `c(dᵢ)`, with `dᵢ` the gap from
    /// `zᵢ` to `[lᵢ, uᵢ]`: each `dᵢ ≥ zᵢ − uᵢ`, `≥ lᵢ − zᵢ` and `≥ 0`, so `Σ dᵢ / k` is at least
    /// the gap from the mean `z̄` to `[l̄, ū]`; the local cost `c` (|·| or (·)²) is convex and
    /// increasing on [0, ∞), so by Jensen's inequality `Σ c(dᵢ) ≥ k · c(gap(z̄, [l̄, ū]))`.
    /// Summed over segments this is at most LB_Keogh (Keogh 2002, "Exact indexing of dynamic
    /// time warping", VLDB, LB_PAA; here with the envelope's segment means, which is tighter
    /// than its segment extrema), hence at most the DTW.
    ///
    /// The window's segment `b` covers its samples `8b … 8b + 7`, whose sums sit in the
    /// segment rings at the centre `8b + 7` positions after the window's start.
    fn paa_bound<C: LocalCost>(&self, start: u64, mean: f64, inv_std: f64, prune_at: f64) -> f64 {
        let k = PAA_SEGMENT as f64;
        let query = &self.query.segments;
        let [samples, upper, lower, magnitude] = self.segment_means.window(start);
        // One allowance for the whole window, from the largest magnitudes involved.
        let largest = magnitude
            .iter()
            .fold(0.0, |a: f64, &b| if b > a { b } else { a });
        let slack = PAA_ROUNDING_ULPS
            * f64::EPSILON
            * ((largest + mean.abs()) * inv_std + query.largest_scale);
        let query_side = lane_sum([samples, &query.lower, &query.upper], |x, l, u| {
            C::to_interval((x - mean) * inv_std, l - slack, u + slack)
        }) * k;
        if query_side > prune_at {
            return query_side;
        }
        let data_side = lane_sum([&query.mean, lower, upper], |q, l, u| {
            C::to_interval(
                q,
                (l - mean) * inv_std - slack,
                (u - mean) * inv_std + slack,
            )
        }) * k;
        query_side.max(data_side)
    }

    /// Runs the cascade on the window at `first` in the sample ring, whose sums are current;
    /// returns its raw DTW cost when it is at most `bound`.
    fn examine<C: LocalCost>(&mut self, start: u64, first: usize, bound: f64) -> Option<f64> {
        let m = self.m;
        let r = self.r;
        let window = &self.samples.last()[first..first + m];
        let offset = self.sum / m as f64;
        let variance = (self.sum_sq / m as f64 - offset * offset).max(0.0);
        let mean = self.origin + offset;
        let std = variance.sqrt();
        let inv_std = if std <= FLAT_RELATIVE_STD * mean.abs() || std == 0.0 {
            0.0
        } else {
            1.0 / std
        };
        let z = |v: f64| (v - mean) * inv_std;
        let q = &self.query.values;
        let prune_at = bound * (1.0 + PRUNE_SLACK);

        // 1. LB_Kim hierarchy.
        let kim = if m >= KIM_HIERARCHY_MIN_LEN {
            lb_kim_hierarchy::<C>(q, window, &z, prune_at)
        } else if m >= 2 {
            C::cost(z(window[0]), q[0]) + C::cost(z(window[m - 1]), q[m - 1])
        } else {
            C::cost(z(window[0]), q[0])
        };
        if kim > prune_at {
            self.stats.pruned_kim += 1;
            return None;
        }

        // 2. LB_Keogh on segment means, both directions.
        if self.segment_means.segments > 0
            && self.paa_bound::<C>(start, mean, inv_std, prune_at) > prune_at
        {
            self.stats.pruned_paa += 1;
            return None;
        }

        // 3. LB_Keogh, window against the query's envelope, chunk by chunk, early abandoned.
        let query = &self.query;
        let mut lb_query = 0.0;
        for &(s, e) in &query.chunks {
            lb_query += chunk_terms(
                &mut self.bound_query[s..e],
                [&window[s..e], &query.lower[s..e], &query.upper[s..e]],
                |x, lower, upper| C::to_interval((x - mean) * inv_std, lower, upper),
            );
            if lb_query > prune_at {
                self.stats.pruned_keogh_query += 1;
                return None;
            }
        }

        // 4. LB_Keogh, query against the window's envelope (the envelope ring ends at the
        // centre just processed, the window's last sample).
        let env_u = self.env_upper.last();
        let env_l = self.env_lower.last();
        let mut lb_data = 0.0;
        for &(s, e) in &query.chunks {
            lb_data += chunk_terms(
                &mut self.bound_data[s..e],
                [&q[s..e], &env_l[s..e], &env_u[s..e]],
                |qv, lower, upper| {
                    C::to_interval(qv, (lower - mean) * inv_std, (upper - mean) * inv_std)
                },
            );
            if lb_data > prune_at {
                self.stats.pruned_keogh_data += 1;
                return None;
            }
        }

        // 5. LB_Improved (Lemire 2009, eq. 4): the window's LB_Keogh plus the LB_Keogh of the
        // query against the envelope of the window projected onto the query's envelope.
        for (((h, &x), &lower), &upper) in self
            .projection
            .iter_mut()
            .zip(window)
            .zip(&query.lower)
            .zip(&query.upper)
        {
            let v = (x - mean) * inv_std;
            *h = if v > upper {
                upper
            } else if v < lower {
                lower
            } else {
                v
            };
        }
        let projection = &self.projection;
        let scratch = &mut self.envelope_scratch;
        sliding_extremum_into(
            projection,
            r,
            f64::NEG_INFINITY,
            |a, b| a > b,
            &mut scratch.upper,
            &mut scratch.prefix,
            &mut scratch.suffix,
        );
        sliding_extremum_into(
            projection,
            r,
            f64::INFINITY,
            |a, b| a < b,
            &mut scratch.lower,
            &mut scratch.prefix,
            &mut scratch.suffix,
        );
        let mut lb_improved = lb_query;
        for &(s, e) in &query.chunks {
            lb_improved += chunk_terms(
                &mut scratch.terms[s..e],
                [&q[s..e], &scratch.lower[s..e], &scratch.upper[s..e]],
                C::to_interval,
            );
            if lb_improved > prune_at {
                self.stats.pruned_improved += 1;
                return None;
            }
        }

        // 6. DTW, pruned with what LB_Improved leaves for the rest of each path: every cell
        // (i, j) of a path costs at least `column_part[j] + row_part[i]` (see `ea_pruned_dtw`).
        suffix_sums(&self.bound_query, &mut self.rest_columns);
        suffix_sums(&self.envelope_scratch.terms, &mut self.rest_rows);
        for (out, &v) in self.normalised.iter_mut().zip(window) {
            *out = (v - mean) * inv_std;
        }
        let result = ea_pruned_dtw::<C>(
            q,
            &self.normalised,
            r,
            RemainingBound {
                rows: &self.rest_rows,
                columns: &self.rest_columns,
            },
            prune_at,
            &mut self.row_prev,
            &mut self.row_cur,
        );
        match result {
            Some(raw) if raw <= bound => {
                self.stats.dtw_completed += 1;
                Some(raw)
            }
            Some(_) => {
                self.stats.dtw_completed += 1;
                None
            }
            None => {
                self.stats.dtw_abandoned += 1;
                None
            }
        }
    }
}

/// Finds the window of `series` closest to `query` under DTW with z-normalisation (the UCR
/// suite's task): `Ok(None)` when the series is shorter than the query. Non-finite samples
/// are holes, as in [`StreamingSearch`]; ties go to the earliest window.
pub fn best_match(
    series: &[f64],
    query: &[f64],
    band: usize,
    cost: DtwCost,
) -> Result<Option<PatternMatch>, TemporalError> {
    let mut search = StreamingSearch::new(
        query,
        SearchConfig {
            band,
            threshold: f64::INFINITY,
            cost,
            exclusion: Some(usize::MAX),
        },
    )?;
    let mut matches = Vec::new();
    search.extend(series, &mut matches);
    matches.extend(search.finish());
    Ok(matches.into_iter().next())
}

/// Z-normalises a series (population standard deviation); a flat series becomes zeros.
pub fn z_normalise(series: &[f64]) -> Vec<f64> {
    if series.is_empty() {
        return Vec::new();
    }
    let n = series.len() as f64;
    let mean = series.iter().sum::<f64>() / n;
    let variance = series.iter().map(|&v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let std = variance.sqrt();
    if std == 0.0 || std <= FLAT_RELATIVE_STD * mean.abs() {
        return vec![0.0; series.len()];
    }
    series.iter().map(|&v| (v - mean) / std).collect()
}

/// Writes `term(a[k], b[k], c[k])` for the positions of one chunk into `out` and returns their
/// sum. A full chunk has its length fixed at compile time, so the loop is unrolled and
/// vectorised without bounds checks.
#[inline(always)]
fn chunk_terms(
    out: &mut [f64],
    [a, b, c]: [&[f64]; 3],
    term: impl Fn(f64, f64, f64) -> f64,
) -> f64 {
    if out.len() == BOUND_CHUNK
        && let (Some(a), Some(b), Some(c)) = (
            a.first_chunk::<BOUND_CHUNK>(),
            b.first_chunk::<BOUND_CHUNK>(),
            c.first_chunk::<BOUND_CHUNK>(),
        )
        && let Some(full) = out.first_chunk_mut::<BOUND_CHUNK>()
    {
        for (((o, &x), &y), &z) in full.iter_mut().zip(a).zip(b).zip(c) {
            *o = term(x, y, z);
        }
        return small_sum(full);
    }
    for (((o, &x), &y), &z) in out.iter_mut().zip(a).zip(b).zip(c) {
        *o = term(x, y, z);
    }
    small_sum(out)
}

/// `Σ term(a[b], b[b], c[b])` over the positions of three slices of equal length, in four
/// interleaved partial sums over fixed-size chunks: the loop then runs as packed SIMD without
/// bounds checks (a single running sum, whose order the compiler must keep, would not).
#[inline(always)]
fn lane_sum([a, b, c]: [&[f64]; 3], term: impl Fn(f64, f64, f64) -> f64) -> f64 {
    const LANES: usize = 4;
    let n = a.len();
    let (b, c) = (&b[..n], &c[..n]);
    let whole = n - n % LANES;
    let mut acc = [0.0; LANES];
    for ((a, b), c) in a[..whole]
        .as_chunks::<LANES>()
        .0
        .iter()
        .zip(b[..whole].as_chunks::<LANES>().0)
        .zip(c[..whole].as_chunks::<LANES>().0)
    {
        for lane in 0..LANES {
            acc[lane] += term(a[lane], b[lane], c[lane]);
        }
    }
    let mut total = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for k in whole..n {
        total += term(a[k], b[k], c[k]);
    }
    total
}

/// Sum of a short slice with four independent accumulators (vectorisable, unlike a single
/// running sum, whose order the compiler must keep).
#[inline(always)]
fn small_sum(values: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let mut quads = values.chunks_exact(4);
    for quad in &mut quads {
        for (a, &v) in acc.iter_mut().zip(quad) {
            *a += v;
        }
    }
    let mut total = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for &v in quads.remainder() {
        total += v;
    }
    total
}

/// LB_KimFL with the UCR suite's hierarchy (Rakthanmanon et al. 2012, §4.2.1, and the suite's
/// `lb_kim_hierarchy`): every warping path visits each "L-shell" `max(i, j) = t` and
/// `max(m−1−i, m−1−j) = t` for t = 0, 1, 2; these six shells are disjoint when m ≥ 6, so the
/// cheapest cell of each adds to the bound. Stops as soon as the bound passes `prune_at`.
#[inline]
fn lb_kim_hierarchy<C: LocalCost>(
    q: &[f64],
    window: &[f64],
    z: &impl Fn(f64) -> f64,
    prune_at: f64,
) -> f64 {
    let m = q.len();
    let x0 = z(window[0]);
    let y0 = z(window[m - 1]);
    let mut lb = C::cost(x0, q[0]) + C::cost(y0, q[m - 1]);
    if lb > prune_at {
        return lb;
    }
    let x1 = z(window[1]);
    lb += min2(
        min2(C::cost(x1, q[0]), C::cost(x0, q[1])),
        C::cost(x1, q[1]),
    );
    if lb > prune_at {
        return lb;
    }
    let y1 = z(window[m - 2]);
    lb += min2(
        min2(C::cost(y1, q[m - 1]), C::cost(y0, q[m - 2])),
        C::cost(y1, q[m - 2]),
    );
    if lb > prune_at {
        return lb;
    }
    let x2 = z(window[2]);
    lb += min2(
        min2(
            min2(C::cost(x0, q[2]), C::cost(x1, q[2])),
            min2(C::cost(x2, q[2]), C::cost(x2, q[1])),
        ),
        C::cost(x2, q[0]),
    );
    if lb > prune_at {
        return lb;
    }
    let y2 = z(window[m - 3]);
    lb += min2(
        min2(
            min2(C::cost(y0, q[m - 3]), C::cost(y1, q[m - 3])),
            min2(C::cost(y2, q[m - 3]), C::cost(y2, q[m - 2])),
        ),
        C::cost(y2, q[m - 1]),
    );
    lb
}

/// Suffix sums: `out[k] = Σ_{t ≥ k} terms[t]`, `out[len] = 0`.
fn suffix_sums(terms: &[f64], out: &mut [f64]) {
    let len = terms.len();
    out[len] = 0.0;
    for k in (0..len).rev() {
        out[k] = out[k + 1] + terms[k];
    }
}

/// Lower bounds on what a path still has to pay after a cell: suffix sums of LB_Improved's
/// parts (Lemire 2009, Theorem 1's proof).
///
/// With `H` the window projected onto the query's envelope, a cell `(i, j)` in the band costs
/// `c(qᵢ, wⱼ) ≥ c(wⱼ, Hⱼ) + c(Hⱼ, qᵢ)` (`Hⱼ` lies between `wⱼ` and the interval around
/// `qᵢ`; for the squared cost, `(a + b)² ≥ a² + b²`), and `c(Hⱼ, qᵢ)` is at least the cost
/// from `qᵢ` to the envelope of `H` at `i`. The first term depends only on the column, the
/// second only on the row. After a cell `(i, j)`, a path still visits every row after `i` and
/// every column after `j`, so it still pays at least `rows[i + 1] + columns[j + 1]`.
#[derive(Clone, Copy)]
struct RemainingBound<'a> {
    rows: &'a [f64],
    columns: &'a [f64],
}

/// Banded DTW of two equal-length series (rows: the query, columns: the window) with early
/// abandoning and pruning: EAPrunedDTW (Herrmann & Webb 2021, "Early abandoning and pruning
/// for elastic distances including dynamic time warping", DMKD 35), with the pruning test of
/// each cell tightened by what the rest of any path through it must still cost
/// ([`RemainingBound`]).
///
/// A cell whose partial cost plus that remaining bound exceeds `prune_at` cannot be on a path
/// under the bound, so it is treated as infinite; each row then only spans the columns between
/// its first and last live cells (and the cells those reach), and the computation stops as
/// soon as a row has none.
///
/// Row buffers hold `m` cells indexed by column; only cells in `[start, end]` of the previous
/// row, which were all written by it, are ever read.
fn ea_pruned_dtw<C: LocalCost>(
    q: &[f64],
    c: &[f64],
    r: usize,
    rest: RemainingBound<'_>,
    prune_at: f64,
    prev: &mut [f64],
    cur: &mut [f64],
) -> Option<f64> {
    let m = q.len();
    let inf = f64::INFINITY;
    // Live cells of row i satisfy v ≤ row_limit(i) − columns[j + 1].
    let row_limit = |i: usize| prune_at - rest.rows[i + 1];
    let columns = &rest.columns[1..];
    let (mut prev, mut cur) = (prev, cur);

    // Row 0: partial costs only grow along the row and the column term shrinks, but the
    // sum does not: walk until the first pruned cell, which ends the row (left-only cells).
    let limit = row_limit(0);
    let mut left = 0.0;
    let mut end = None;
    for j in 0..=r.min(m - 1) {
        let v = C::cost(q[0], c[j]) + left;
        if v > limit - columns[j] {
            break;
        }
        prev[j] = v;
        left = v;
        end = Some(j);
    }
    let mut end = end?;
    let mut start = 0usize;

    for (i, &qi) in q.iter().enumerate().skip(1) {
        let limit = row_limit(i);
        let lo = i.saturating_sub(r).max(start);
        let hi = (m - 1).min(i + r);
        let mut left = inf;
        let mut j = lo;
        let mut new_end = usize::MAX;
        // Columns that the previous row's live cells reach from above and diagonally. The
        // first has a diagonal neighbour only if it lies after the previous row's start.
        let shared_end = end.min(hi);
        if j <= shared_end {
            let diag = if j > start { prev[j - 1] } else { inf };
            let v = C::cost(qi, c[j]) + min2(min2(prev[j], diag), left);
            let live = v <= limit - columns[j];
            left = if live { v } else { inf };
            new_end = if live { j } else { new_end };
            cur[j] = left;
            j += 1;
        }
        while j <= shared_end {
            let v = C::cost(qi, c[j]) + min2(min2(prev[j], prev[j - 1]), left);
            let live = v <= limit - columns[j];
            left = if live { v } else { inf };
            new_end = if live { j } else { new_end };
            cur[j] = left;
            j += 1;
        }
        // One column past the previous row's last live cell: diagonal or left only; after
        // it, left only, so the row ends at its first pruned cell.
        if j == end + 1 && j <= hi {
            let mut v = C::cost(qi, c[j]) + min2(prev[end], left);
            while v <= limit - columns[j] {
                new_end = j;
                cur[j] = v;
                j += 1;
                if j > hi {
                    break;
                }
                v += C::cost(qi, c[j]);
            }
        }
        if new_end == usize::MAX {
            return None;
        }
        // The row's first live cell (there is one: `new_end`).
        let mut new_start = lo;
        while new_start < new_end && cur[new_start] == inf {
            new_start += 1;
        }
        start = new_start;
        end = new_end;
        std::mem::swap(&mut prev, &mut cur);
    }
    (end == m - 1).then(|| prev[m - 1])
}

#[cfg(test)]
mod tests {
    use super::super::dtw::{DtwOptions, dtw};
    use super::*;

    fn random_walk(seed: u64, len: usize) -> Vec<f64> {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut level = 0.0;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                level += (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                level
            })
            .collect()
    }

    /// The distance of every window, by plain DTW of z-normalised copies.
    fn profile(series: &[f64], query: &[f64], band: usize, cost: DtwCost) -> Vec<f64> {
        let q = z_normalise(query);
        let opts = DtwOptions {
            cost,
            window: Some(band),
        };
        series
            .windows(query.len())
            .map(|w| dtw(&q, &z_normalise(w), &opts).unwrap())
            .collect()
    }

    #[test]
    fn best_match_agrees_with_brute_force() {
        let series = random_walk(3, 3000);
        let query = random_walk(4, 64);
        for cost in [DtwCost::Absolute, DtwCost::Squared] {
            for band in [0, 3, 6] {
                let p = profile(&series, &query, band, cost);
                let (best_i, best_d) =
                    p.iter()
                        .enumerate()
                        .fold(
                            (0, f64::INFINITY),
                            |acc, (i, &d)| {
                                if d < acc.1 { (i, d) } else { acc }
                            },
                        );
                let got = best_match(&series, &query, band, cost).unwrap().unwrap();
                assert_eq!(got.start, best_i as u64, "{cost:?} band {band}");
                assert!((got.distance - best_d).abs() <= 1e-9 * best_d.max(1.0));
            }
        }
    }

    #[test]
    fn planted_pattern_is_found_at_its_place() {
        let mut series = random_walk(7, 5000);
        let query: Vec<f64> = (0..100).map(|i| (i as f64 / 8.0).sin() * 3.0).collect();
        for (k, &v) in query.iter().enumerate() {
            series[2500 + k] = v * 2.0 + 40.0; // scaled and shifted: z-normalisation undoes it
        }
        let found = best_match(&series, &query, 10, DtwCost::Squared)
            .unwrap()
            .unwrap();
        assert_eq!(found.start, 2500);
        assert!(found.distance < 1e-9);
    }

    #[test]
    fn threshold_matches_are_local_bests_and_do_not_overlap() {
        let series = random_walk(21, 4000);
        let query = random_walk(22, 50);
        let band = 5;
        let p = profile(&series, &query, band, DtwCost::Absolute);
        let mut sorted = p.clone();
        sorted.sort_by(f64::total_cmp);
        let threshold = sorted[sorted.len() / 20];
        let config = SearchConfig {
            band,
            threshold,
            cost: DtwCost::Absolute,
            exclusion: None,
        };
        let mut search = StreamingSearch::new(&query, config).unwrap();
        let mut found = Vec::new();
        search.extend(&series, &mut found);
        found.extend(search.finish());
        assert!(!found.is_empty());
        // Reference: the same greedy rule applied to the brute-force profile.
        let mut want = Vec::new();
        let mut pending: Option<(usize, f64)> = None;
        for (s, &d) in p.iter().enumerate() {
            if let Some((ps, pd)) = pending
                && s >= ps + query.len()
            {
                want.push((ps, pd));
                pending = None;
            }
            match pending {
                Some((_, pd)) if d < pd => pending = Some((s, d)),
                None if d <= threshold => pending = Some((s, d)),
                _ => {}
            }
        }
        want.extend(pending);
        assert_eq!(found.len(), want.len());
        for (f, (ws, wd)) in found.iter().zip(&want) {
            assert_eq!(f.start, *ws as u64);
            assert!((f.distance - wd).abs() <= 1e-9 * wd.max(1.0));
        }
        for pair in found.windows(2) {
            assert!(pair[1].start >= pair[0].start + query.len() as u64);
        }
    }

    #[test]
    fn a_match_is_the_best_window_of_its_group_not_the_first_under_the_threshold() {
        // A smooth pattern planted at 2000: the windows a few samples before it warp onto it
        // within the band and come under the threshold first; the report must be the planted
        // window itself, the lowest distance of the group, as brute force says.
        let mut series = random_walk(41, 4000);
        let query: Vec<f64> = (0..96).map(|i| (i as f64 / 9.0).sin() * 4.0).collect();
        let planted = 2000;
        for (k, &v) in query.iter().enumerate() {
            series[planted + k] = 30.0 + 2.5 * v;
        }
        let band = 9;
        for cost in [DtwCost::Absolute, DtwCost::Squared] {
            let p = profile(&series, &query, band, cost);
            let best = p[planted - 96..planted + 96]
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
            // A threshold that lets in several windows before the best one.
            let threshold = p[planted - 4].max(best * 2.0 + 1e-3);
            let first_under = p.iter().position(|&d| d <= threshold).unwrap();
            assert!(
                first_under < planted,
                "{cost:?}: the test needs an earlier window"
            );
            let config = SearchConfig {
                band,
                threshold,
                cost,
                exclusion: None,
            };
            let mut search = StreamingSearch::new(&query, config).unwrap();
            let mut found = Vec::new();
            search.extend(&series, &mut found);
            // Nothing reported before the group is over: the pending match waits for the
            // window `exclusion` samples after it.
            assert!(found.iter().all(|f| f.start != first_under as u64));
            found.extend(search.finish());
            let reported = found
                .iter()
                .find(|f| f.start.abs_diff(planted as u64) < 96)
                .unwrap_or_else(|| panic!("{cost:?}: no match near the planted pattern"));
            assert_eq!(reported.start, planted as u64, "{cost:?}");
            assert!((reported.distance - best).abs() <= 1e-9 * best.max(1.0));
            assert!(reported.distance < p[first_under], "{cost:?}");
        }
    }

    #[test]
    fn finish_reports_a_group_still_open_at_the_end() {
        // The best window is the very last one: its group is still pending when the series
        // ends, and `finish` must report it (not the first window under the threshold).
        let mut series = random_walk(43, 600);
        let query: Vec<f64> = (0..50).map(|i| (i as f64 / 5.0).cos() * 3.0).collect();
        let last = series.len() - query.len();
        for (k, &v) in query.iter().enumerate() {
            series[last + k] = -7.0 + 0.5 * v;
        }
        let band = 5;
        let p = profile(&series, &query, band, DtwCost::Squared);
        let threshold = p[last - 3].max(1e-3);
        let config = SearchConfig {
            band,
            threshold,
            cost: DtwCost::Squared,
            exclusion: None,
        };
        let mut search = StreamingSearch::new(&query, config).unwrap();
        let mut found = Vec::new();
        search.extend(&series, &mut found);
        assert!(
            found
                .iter()
                .all(|f| f.start + (query.len() as u64) <= last as u64)
        );
        let tail = search.finish();
        assert_eq!(tail.len(), 1);
        assert_eq!(tail[0].start, last as u64);
        assert!(tail[0].distance < 1e-6);
    }

    #[test]
    fn segment_bounds_survive_a_large_offset() {
        // A level a million times the wiggle: the segment means are sums of raw samples,
        // whose rounding the piecewise-aggregate bounds must allow for, or an exact copy of
        // the query (distance ~0) would be pruned.
        let wiggle = random_walk(31, 3000);
        let series: Vec<f64> = wiggle.iter().map(|v| 1e6 + v).collect();
        let query: Vec<f64> = wiggle[1200..1277].to_vec();
        for (cost, threshold) in [(DtwCost::Absolute, 2.0), (DtwCost::Squared, 0.3)] {
            let found = best_match(&series, &query, 7, cost).unwrap().unwrap();
            assert_eq!(found.start, 1200, "{cost:?}");
            assert!(found.distance < 1e-6, "{cost:?}: {}", found.distance);
            // A threshold loose enough that the first stage lets windows through to the
            // segment bounds, tight enough that only the copy matches.
            let config = SearchConfig {
                band: 7,
                threshold,
                cost,
                exclusion: None,
            };
            let mut search = StreamingSearch::new(&query, config).unwrap();
            let mut matches = Vec::new();
            search.extend(&series, &mut matches);
            let stats = search.stats();
            matches.extend(search.finish());
            assert_eq!(matches.len(), 1, "{cost:?}");
            assert_eq!(matches[0].start, 1200, "{cost:?}");
            assert!(
                matches[0].distance < 1e-6,
                "{cost:?}: {}",
                matches[0].distance
            );
            assert!(stats.pruned_paa > 0, "{cost:?}: {stats:?}");
        }
    }

    #[test]
    fn holes_skip_their_windows_only() {
        let mut series = random_walk(5, 600);
        series[300] = f64::NAN;
        let query = series[100..140].to_vec();
        let config = SearchConfig {
            band: 4,
            threshold: 1e-9,
            cost: DtwCost::Absolute,
            exclusion: None,
        };
        let mut search = StreamingSearch::new(&query, config).unwrap();
        let mut found = Vec::new();
        search.extend(&series, &mut found);
        let stats = search.stats();
        found.extend(search.finish());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].start, 100);
        assert_eq!(stats.holes, 40);
    }

    #[test]
    fn flat_windows_and_queries_normalise_to_zero() {
        assert_eq!(z_normalise(&[5.0, 5.0, 5.0]), vec![0.0; 3]);
        let series = vec![2.0; 30];
        let found = best_match(&series, &[7.0; 10], 2, DtwCost::Absolute)
            .unwrap()
            .unwrap();
        assert_eq!(found.start, 0);
        assert_eq!(found.distance, 0.0);
    }

    #[test]
    fn rejects_bad_configuration() {
        let ok = SearchConfig::with_band_fraction(10, 0.1, 1.0);
        assert_eq!(ok.band, 1);
        assert_eq!(
            StreamingSearch::new(&[], ok).unwrap_err(),
            TemporalError::EmptyQuery
        );
        assert!(StreamingSearch::new(&[1.0, f64::INFINITY], ok).is_err());
        let bad = SearchConfig {
            threshold: -1.0,
            ..ok
        };
        assert!(StreamingSearch::new(&[1.0, 2.0], bad).is_err());
    }
}
