//! The learning loop ("strange loop") of one channel: what the meta-learning rounds find
//! changes what the analysis does, level by level, and every change is a [`Decision`].
//!
//! - Level 1 ([`patterns`]): recurring motifs become reference patterns; every pattern gets a
//!   match threshold learnt from its distances to the stream.
//! - Level 2 ([`params`]): E, τ, the analysis window and the re-analysis interval follow
//!   measured skill and stability, and are revised on drift.
//! - Level 3 ([`judge`]): the tuned embedding is scored against the defaults on held-out data,
//!   and backed off when it does not pay.
//!
//! Pure and deterministic: a round's decisions depend only on the samples and the learner's
//! state (no clock, no I/O), so a replay of the same samples makes the same decisions.

pub mod judge;
pub mod log;
pub mod params;
pub mod patterns;

use crate::engines::meta::edm::{EdmParams, simplex};
use crate::engines::meta::motifs::MotifPair;
use crate::model::{ChannelId, Decision};

pub use judge::{HeldOutScore, TuningJudge};
pub use log::{DECISION_LOG_CAPACITY, DecisionLog};
pub use params::{PageHinkley, ParameterTuner};
pub use patterns::{Candidate, GivenPattern, LearntPattern};

use patterns::{
    MAX_CANDIDATES, MAX_LEARNT, MAX_SIGHTINGS, MIN_MEMBER_SEPARATION_WINDOWS, MIN_MEMBERS,
    MIN_ROUNDS, MOTIF_MIN_CORRELATION, RETIRE_AFTER_SAMPLES, SAME_SHAPE_PER_SAMPLE,
    THRESHOLD_REVISION, distances_to_stream, learn_threshold, members_in_window,
    shape_distance_per_sample,
};

/// Records a decision of a round: level, what, from, to, why.
type Decide<'a> = dyn Fn(&mut RoundLearning, u8, String, String, String, String) + 'a;

/// Forecast horizons (samples) of the skill-by-horizon curve.
pub const HORIZONS: [usize; 7] = [1, 2, 4, 8, 16, 32, 64];

/// What a round hands the learner.
#[derive(Debug, Clone, Copy)]
pub struct RoundInput<'a> {
    pub channel: ChannelId,
    pub channel_name: &'a str,
    /// The analysed samples; `series[0]` is the channel's sample `first_sample`.
    pub series: &'a [f64],
    pub first_sample: u64,
    /// Motif window and the top motif pairs (positions in `series`).
    pub window: usize,
    pub motifs: &'a [MotifPair],
    /// The dynamics profile of the round, when it succeeded.
    pub dynamics: Option<&'a crate::engines::meta::edm::DynamicsProfile>,
    /// Patterns the channel is searched for that were not learnt here.
    pub given: &'a [GivenPattern<'a>],
    /// The channel's latest attractor estimates (λ, D2), when new since the last round.
    pub lambda: Option<f64>,
    pub d2: Option<f64>,
}

/// What a round changed, for the pipeline to apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoundLearning {
    pub decisions: Vec<Decision>,
    /// Patterns learnt in this round, to add to the channel's search.
    pub learnt: Vec<LearntPattern>,
    /// Patterns retired in this round, to stop searching for.
    pub retired: Vec<String>,
    /// New thresholds, by pattern name (given or learnt).
    pub thresholds: Vec<(String, f64)>,
}

/// Everything the learning loop knows about one channel.
#[derive(Debug, Clone, Default)]
pub struct ChannelLearner {
    pub rounds: u64,
    pub candidates: Vec<Candidate>,
    pub learnt: Vec<LearntPattern>,
    /// Thresholds of the given patterns, by name.
    pub given_thresholds: Vec<(String, f64)>,
    pub params: ParameterTuner,
    pub judge: TuningJudge,
    /// Skill-by-horizon at the effective (E, τ), the latest round's.
    pub rho_by_horizon: Vec<(usize, f64)>,
    /// Simplex ρ by E, the latest round's.
    pub rho_by_e: Vec<f64>,
    pub last_score: Option<HeldOutScore>,
    /// Channel sample at the end of the previous round (for the held-out part).
    previous_end: Option<u64>,
}

impl ChannelLearner {
    /// The embedding in use: the tuned one, or the defaults when level 3 backed it off.
    pub fn effective_embedding(&self) -> (usize, usize) {
        match (self.judge.backed_off, self.params.e, self.params.tau) {
            (false, Some(e), Some(tau)) => (e, tau),
            _ => (judge::DEFAULT_E, judge::DEFAULT_TAU),
        }
    }

    /// Runs the three levels on a round (module documentation).
    pub fn round(&mut self, input: &RoundInput) -> RoundLearning {
        self.rounds += 1;
        let end = input.first_sample + input.series.len() as u64;
        let mut out = RoundLearning::default();
        let decide = |out: &mut RoundLearning, level: u8, what: String, from, to, why| {
            out.decisions.push(Decision {
                channel: input.channel,
                channel_name: input.channel_name.to_owned(),
                sample: end,
                level,
                what,
                from,
                to,
                why,
            })
        };
        // Level 3 first: the held-out samples are scored before this round's data revise the
        // parameters.
        if let (Some(prev), Some(e), Some(tau)) =
            (self.previous_end, self.params.e, self.params.tau)
        {
            let held_out = end.saturating_sub(prev).min(input.series.len() as u64 / 2) as usize;
            if let Some(score) = judge::score(input.series, held_out, e, tau) {
                self.last_score = Some(score);
                if let Some(v) = self.judge.push(score) {
                    decide(
                        &mut out,
                        3,
                        "embedding rule".into(),
                        v.from.into(),
                        v.to.into(),
                        v.why,
                    );
                }
            }
        }
        self.previous_end = Some(end);
        // Level 2.
        if let Some(profile) = input.dynamics {
            let measured = params::Measured {
                proposed_e: profile.e,
                proposed_tau: profile.tau,
                rho_by_e: &profile.rho_by_e,
                forecast_skill: profile.forecast_skill,
                nonlinear: profile.nonlinear,
                theta: profile.theta,
                lambda: input.lambda,
                d2: input.d2,
                full_window: input.series.len() >= self.params.length,
            };
            for c in self.params.update(&measured) {
                decide(&mut out, 2, c.what.into(), c.from, c.to, c.why);
            }
            self.rho_by_e = profile.rho_by_e.clone();
            let (e, tau) = self.effective_embedding();
            let half = input.series.len() / 2;
            self.rho_by_horizon = HORIZONS
                .iter()
                .filter_map(|&tp| {
                    let p = EdmParams {
                        e,
                        tau,
                        tp,
                        exclusion_radius: 0,
                    };
                    simplex(input.series, 0..half, half..input.series.len(), &p)
                        .ok()
                        .map(|s| (tp, s.rho))
                })
                .collect();
        }
        // Level 1.
        self.learn_patterns(input, end, &mut out, &decide);
        out
    }

    fn learn_patterns(
        &mut self,
        input: &RoundInput,
        end: u64,
        out: &mut RoundLearning,
        decide: &Decide<'_>,
    ) {
        let m = input.window;
        let series = input.series;
        let round = self.rounds;
        // Sightings.
        for pair in input.motifs {
            let corr = 1.0 - pair.distance * pair.distance / (2.0 * m as f64);
            if corr < MOTIF_MIN_CORRELATION
                || pair.b - pair.a < MIN_MEMBER_SEPARATION_WINDOWS * m
                || pair.b + m > series.len()
            {
                continue;
            }
            let shape = &series[pair.a..pair.a + m];
            let members = members_in_window(series, pair.a, m);
            let (a, b) = (
                input.first_sample + pair.a as u64,
                input.first_sample + pair.b as u64,
            );
            let same = self
                .candidates
                .iter()
                .position(|c| matches_near(&c.values, series, pair.a, m));
            let candidate = match same {
                Some(i) => &mut self.candidates[i],
                None => {
                    if self.candidates.len() == MAX_CANDIDATES {
                        let stalest = (0..self.candidates.len())
                            .min_by_key(|&i| self.candidates[i].last_round)
                            .unwrap_or(0);
                        self.candidates.remove(stalest);
                    }
                    self.candidates.push(Candidate {
                        values: shape.to_vec(),
                        first_seen: a,
                        sightings: Vec::new(),
                        rounds: 0,
                        last_round: 0,
                        members: 0,
                        duplicate_of: None,
                    });
                    self.candidates.last_mut().expect("just pushed")
                }
            };
            candidate.members = candidate.members.max(members);
            let mut new_place = false;
            for at in [a, b] {
                if candidate
                    .sightings
                    .iter()
                    .all(|&s| s.abs_diff(at) >= m as u64)
                {
                    if candidate.sightings.len() == MAX_SIGHTINGS {
                        candidate.sightings.remove(1);
                    }
                    candidate.sightings.push(at);
                    new_place = true;
                }
            }
            // A round counts when it saw the shape somewhere new: the overlapping windows of
            // consecutive rounds see the same pair again, which is no recurrence.
            if new_place && candidate.last_round != round {
                candidate.rounds += 1;
                candidate.last_round = round;
            }
        }
        // Promotion.
        let mut i = 0;
        while i < self.candidates.len() {
            let c = &self.candidates[i];
            let recurs = c.duplicate_of.is_none()
                && (c.rounds >= MIN_ROUNDS || c.members >= MIN_MEMBERS)
                && c.sightings.len() >= 2;
            if !recurs || self.learnt.len() >= MAX_LEARNT {
                i += 1;
                continue;
            }
            let duplicate = input
                .given
                .iter()
                .map(|g| (g.name, g.values))
                .chain(
                    self.learnt
                        .iter()
                        .map(|l| (l.name.as_str(), l.values.as_slice())),
                )
                .find_map(|(name, values)| {
                    (shape_distance_per_sample(values, &c.values)
                        .is_some_and(|d| d <= SAME_SHAPE_PER_SAMPLE)
                        || comparable(values.len(), c.values.len())
                            && c.sightings.iter().any(|&at| {
                                at >= input.first_sample
                                    && matches_near(
                                        values,
                                        series,
                                        (at - input.first_sample) as usize,
                                        c.values.len(),
                                    )
                            }))
                    .then(|| name.to_owned())
                });
            if let Some(name) = duplicate {
                self.candidates[i].duplicate_of = Some(name);
                i += 1;
                continue;
            }
            let distances = distances_to_stream(&c.values, series);
            let Some(t) = learn_threshold(c.values.len(), &distances) else {
                // Fewer than two occurrences in this window within the same-shape bound: the
                // shape does not recur closely enough here to learn its threshold. Checked
                // again next round.
                i += 1;
                continue;
            };
            let c = self.candidates.remove(i);
            let name = format!("{}@{}", input.channel_name, c.first_seen);
            let pattern = LearntPattern {
                name: name.clone(),
                from: c.first_seen,
                to: c.first_seen + c.values.len() as u64,
                values: c.values,
                threshold: t.threshold,
                last_match: end,
                pinned: false,
            };
            decide(
                out,
                1,
                format!("pattern {name}"),
                "candidate".into(),
                "learnt".into(),
                format!(
                    "seen in {} rounds, {} members in one window, {} sightings; threshold {:.3} \
                     = {}",
                    c.rounds,
                    c.members,
                    c.sightings.len(),
                    t.threshold,
                    threshold_why(&t)
                ),
            );
            out.learnt.push(pattern.clone());
            self.learnt.push(pattern);
        }
        // Thresholds and retirement of learnt patterns.
        let mut retired = Vec::new();
        for p in &mut self.learnt {
            let distances = distances_to_stream(&p.values, series);
            // A match in the new part of the window (or anywhere, the first time) counts.
            let matched = distances
                .iter()
                .filter(|(_, d)| *d <= p.threshold)
                .map(|(at, _)| input.first_sample + *at as u64 + p.values.len() as u64)
                .max();
            if let Some(at) = matched {
                p.last_match = p.last_match.max(at);
            }
            if !p.pinned && end.saturating_sub(p.last_match) > RETIRE_AFTER_SAMPLES {
                let best = distances
                    .iter()
                    .map(|&(_, d)| d)
                    .fold(f64::INFINITY, f64::min);
                decide(
                    out,
                    1,
                    format!("pattern {}", p.name),
                    "learnt".into(),
                    "retired".into(),
                    format!(
                        "no match since sample {} (> {RETIRE_AFTER_SAMPLES} samples); best DTW \
                         {best:.3} vs threshold {:.3}",
                        p.last_match, p.threshold
                    ),
                );
                retired.push(p.name.clone());
                continue;
            }
            if let Some(t) = learn_threshold(p.values.len(), &distances)
                && revise(p.threshold, t.threshold)
            {
                decide(
                    out,
                    1,
                    format!("threshold {}", p.name),
                    format!("{:.3}", p.threshold),
                    format!("{:.3}", t.threshold),
                    threshold_why(&t),
                );
                p.threshold = t.threshold;
                out.thresholds.push((p.name.clone(), t.threshold));
            }
        }
        self.learnt.retain(|p| !retired.contains(&p.name));
        out.retired = retired;
        // Thresholds of the given patterns.
        for g in input.given {
            let default = patterns::MAX_THRESHOLD_PER_SAMPLE * g.values.len() as f64;
            let current = self
                .given_thresholds
                .iter()
                .find(|(n, _)| n == g.name)
                .map_or(default, |(_, t)| *t);
            let distances = distances_to_stream(g.values, series);
            let Some(t) = learn_threshold(g.values.len(), &distances) else {
                continue;
            };
            if revise(current, t.threshold) {
                decide(
                    out,
                    1,
                    format!("threshold {}", g.name),
                    format!("{current:.3}"),
                    format!("{:.3}", t.threshold),
                    threshold_why(&t),
                );
                self.given_thresholds.retain(|(n, _)| n != g.name);
                self.given_thresholds.push((g.name.to_owned(), t.threshold));
                out.thresholds.push((g.name.to_owned(), t.threshold));
            }
        }
    }

    /// The user keeps a learnt pattern (it is never retired); false when there is none.
    pub fn pin(&mut self, name: &str) -> Option<&LearntPattern> {
        let p = self.learnt.iter_mut().find(|p| p.name == name)?;
        p.pinned = true;
        Some(p)
    }

    /// The user drops a learnt pattern; the pattern, when there was one.
    pub fn drop_pattern(&mut self, name: &str) -> Option<LearntPattern> {
        let i = self.learnt.iter().position(|p| p.name == name)?;
        Some(self.learnt.remove(i))
    }
}

/// Whether `pattern` matches `series` near `at` (within half a window either way), by the
/// same-shape rule: a periodic shape seen at another phase is the same shape.
fn matches_near(pattern: &[f64], series: &[f64], at: usize, m: usize) -> bool {
    let len = pattern.len();
    if len == 0 || series.len() < len {
        return false;
    }
    let lo = at.saturating_sub(m / 2);
    let hi = (at + m / 2).min(series.len() - len);
    // Offsets every half band: the band absorbs the rest.
    let step = ((patterns::THRESHOLD_STRIDE_FRACTION * len as f64) as usize).max(1);
    (lo..=hi).step_by(step).any(|i| {
        shape_distance_per_sample(pattern, &series[i..i + len])
            .is_some_and(|d| d <= SAME_SHAPE_PER_SAMPLE)
    })
}

/// Pattern lengths within 20% of each other: a pattern that matches where a candidate occurs
/// is its duplicate only then (a longer or shorter one covers another stretch).
fn comparable(a: usize, b: usize) -> bool {
    a.abs_diff(b) as f64 <= 0.2 * a.max(b) as f64
}

/// How a threshold was learnt, with its numbers (for a decision's why).
fn threshold_why(t: &patterns::LearntThreshold) -> String {
    format!(
        "q{:.0} {:.3} of the DTW distances of {} occurrences among {} windows, +{:.0}%",
        patterns::THRESHOLD_QUANTILE * 100.0,
        t.quantile,
        t.occurrences,
        t.distances,
        patterns::THRESHOLD_MARGIN * 100.0
    )
}

/// Whether a threshold moves from `current` to `proposed` (more than [`THRESHOLD_REVISION`]).
fn revise(current: f64, proposed: f64) -> bool {
    (proposed - current).abs() > THRESHOLD_REVISION * current.abs()
}
