//! The learning loop (`engines::meta::learning`) driven by the meta track's rounds as the
//! pipeline runs them: a channel that switches from a sine to the Lorenz flow halfway has its
//! parameters and class follow within a few rounds; a shape that recurs every few hundred
//! samples in noise becomes a pattern whose threshold finds its later copies and nothing else,
//! and is retired when it stops coming; pure noise learns no pattern.

use midstream::engines::meta::learning::patterns::{
    MAX_THRESHOLD_PER_SAMPLE, MIN_THRESHOLD_PER_SAMPLE, RETIRE_AFTER_SAMPLES,
};
use midstream::engines::meta::learning::{ChannelLearner, LearntPattern};
use midstream::engines::temporal::search::{SearchConfig, StreamingSearch};
use midstream::model::Decision;
use midstream::pipeline::library::builtin_patterns;
use midstream::pipeline::tracks::PATTERN_BAND_FRACTION;
use midstream::pipeline::tracks::meta::{self, LearningContext, RoundOutcome, WindowTuner};

/// The meta track's stride and window (live defaults).
const STRIDE: usize = 256;
const WINDOW: usize = midstream::engines::meta::learning::params::DEFAULT_LENGTH;

fn lorenz_x() -> Vec<f64> {
    include_str!("../fixtures/attractor/lorenz_x.txt")
        .lines()
        .map(|l| l.trim().parse().expect("a number per line"))
        .collect()
}

/// Runs a round every [`STRIDE`] samples over the last [`WINDOW`] (or the learnt window), as
/// `MetaTracks::run_inline_if_due` does; every decision, in order.
fn rounds(stream: &[f64]) -> (Vec<Decision>, ChannelLearner) {
    rounds_with(stream, "switch", meta::analyse, SWITCH_LENGTH)
}

/// The window the switching channel starts with: half the default, so the sine's rounds cost
/// a quarter (the profile is O(N²)); the drift at the switch resets it to the default, which
/// the Lorenz rounds use.
const SWITCH_LENGTH: usize = WINDOW / 2;

/// [`rounds`] on a channel named `name` starting with a window of `length` samples, each round
/// analysed by `analyse` (the whole round, or only its motif part, which is all level 1
/// reads).
fn rounds_with(
    stream: &[f64],
    name: &str,
    analyse: fn(&[f64], u64, &mut WindowTuner) -> RoundOutcome,
    length: usize,
) -> (Vec<Decision>, ChannelLearner) {
    let mut learner = ChannelLearner::default();
    learner.params.length = length;
    let mut tuner = WindowTuner::default();
    let context = LearningContext {
        given: builtin_patterns(),
        chaos: None,
    };
    let mut decisions = Vec::new();
    let mut at = STRIDE;
    while at <= stream.len() {
        let n = learner.params.length.min(at);
        let series = &stream[at - n..at];
        let first = (at - n) as u64;
        let outcome = analyse(series, first, &mut tuner);
        let learning = meta::learn(
            &mut learner,
            7,
            name,
            series,
            first,
            &outcome,
            &context,
            None,
        );
        decisions.extend(learning.decisions);
        at += learner.params.interval as usize;
    }
    (decisions, learner)
}

fn switching_stream() -> (Vec<f64>, usize) {
    // Kept small so the debug build runs it in seconds: 1,280 samples of sine (five rounds on
    // the short window below), then 1,280 of Lorenz (five rounds: after the third the window
    // is mostly Lorenz, and the class has followed by the fourth).
    let half = 1280;
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut stream: Vec<f64> = (0..half)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let noise = ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.02;
            10.0 * (std::f64::consts::TAU * i as f64 / 50.0).sin() + noise
        })
        .collect();
    stream.extend(lorenz_x().into_iter().take(1280));
    (stream, half)
}

#[test]
fn parameters_and_class_follow_a_switch_from_a_sine_to_the_lorenz_flow() {
    let (stream, half) = switching_stream();
    let (decisions, learner) = rounds(&stream);
    let level2: Vec<&Decision> = decisions.iter().filter(|d| d.level == 2).collect();
    for d in &level2 {
        eprintln!("{d}");
    }
    // Before the switch the sine is linear.
    let class_before = level2
        .iter()
        .rfind(|d| d.what == "class" && (d.sample as usize) <= half)
        .expect("a class decision on the sine");
    assert_eq!(class_before.to, "linear", "{class_before}");
    // After it: nonlinear within a few rounds (the window is all Lorenz 4 rounds after it).
    let limit = half + WINDOW + 4 * STRIDE;
    let class_after = level2
        .iter()
        .find(|d| d.what == "class" && (d.sample as usize) > half)
        .expect("a class decision after the switch");
    assert_eq!(class_after.to, "nonlinear", "{class_after}");
    assert!(class_after.sample as usize <= limit, "{class_after}");
    // E or τ change too, within the same few rounds.
    let embedding_after = level2
        .iter()
        .find(|d| (d.what == "E" || d.what == "tau") && (d.sample as usize) > half)
        .expect("an embedding decision after the switch");
    assert!(
        embedding_after.sample as usize <= limit,
        "{embedding_after}"
    );
    assert_eq!(learner.params.nonlinear, Some(true));
    // Every decision names the channel, its sample and why, with numbers.
    for d in &decisions {
        assert_eq!(d.channel_name, "switch");
        assert!(d.why.chars().any(|c| c.is_ascii_digit()), "{d}");
    }
}

/// Samples of the recurring shape: one and a half periods of a chirp, distinct from the
/// built-in patterns (a cycle, a ramp-drop, a spike, a step).
const SHAPE_LEN: usize = 60;
/// Where the first copy starts, and the samples from one copy to the next.
const FIRST_COPY: usize = 137;
const SHAPE_EVERY: usize = 300;

/// Noise of standard deviation 0.29 (half of four uniforms summed, Irwin–Hall), deterministic:
/// the chirp's amplitude of 3 is about ten times it (the signal-to-noise ratio that
/// `MOTIF_MIN_CORRELATION` is set for).
fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| 0.5 * ((0..4).map(|_| uniform()).sum::<f64>() - 2.0))
        .collect()
}

/// `n` samples of noise with the chirp (amplitude 3) added every [`SHAPE_EVERY`] samples from
/// [`FIRST_COPY`] until sample `until`; the copies' starts.
fn shape_in_noise(n: usize, until: usize) -> (Vec<f64>, Vec<usize>) {
    let mut stream = noise(n, 0x2545_f491_4f6c_dd1d);
    let copies: Vec<usize> = (FIRST_COPY..until.saturating_sub(SHAPE_LEN))
        .step_by(SHAPE_EVERY)
        .collect();
    for &at in &copies {
        for k in 0..SHAPE_LEN {
            let t = k as f64 / SHAPE_LEN as f64;
            stream[at + k] += 3.0 * (std::f64::consts::TAU * (t + 3.0 * t * t)).sin();
        }
    }
    (stream, copies)
}

/// Where the real pattern search finds `p` in `stream` with its learnt threshold.
fn search(p: &LearntPattern, stream: &[f64]) -> Vec<u64> {
    let config =
        SearchConfig::with_band_fraction(p.values.len(), PATTERN_BAND_FRACTION, p.threshold);
    let mut search = StreamingSearch::new(&p.values, config).expect("a valid pattern");
    let mut found = Vec::new();
    search.extend(stream, &mut found);
    found.extend(search.finish());
    found.iter().map(|m| m.start).collect()
}

#[test]
fn a_shape_recurring_in_noise_is_learnt_and_its_threshold_finds_its_copies_only() {
    let (stream, copies) = shape_in_noise(2400, 2400);
    let (decisions, learner) = rounds_with(&stream, "shape", meta::analyse_motifs, WINDOW);
    for d in decisions.iter().filter(|d| d.level == 1) {
        eprintln!("{d}");
    }
    assert!(
        !learner.learnt.is_empty(),
        "nothing learnt: {:?}",
        learner.candidates
    );
    for p in &learner.learnt {
        // Named after the channel and where it was first seen, which is in a copy (at most a
        // quarter of it past the copy's end): the first one the window held twice (the first
        // round holds one copy only).
        assert_eq!(p.name, format!("shape@{}", p.from));
        let copy = copies
            .iter()
            .position(|&c| {
                c <= p.from as usize && p.to as usize <= c + SHAPE_LEN + p.values.len() / 4
            })
            .unwrap_or_else(|| panic!("{} is not inside a copy {copies:?}", p.name));
        assert!(copy <= 1, "{} learnt late, from copy {copy}", p.name);
        let learnt = decisions
            .iter()
            .find(|d| d.what == format!("pattern {}", p.name) && d.to == "learnt")
            .expect("its decision");
        assert_eq!((learnt.level, learnt.from.as_str()), (1, "candidate"));
        assert!(learnt.why.contains("q95"), "{learnt}");
        // The threshold is learnt from the copies, tighter than the former fixed bound.
        let len = p.values.len() as f64;
        assert!(
            p.threshold < MAX_THRESHOLD_PER_SAMPLE * len
                && p.threshold >= MIN_THRESHOLD_PER_SAMPLE * len,
            "{} threshold {}",
            p.name,
            p.threshold
        );
        // The search with that threshold finds every later copy, at the pattern's place in
        // it (within the DTW band), and nothing in the noise between them.
        let offset = p.from as usize - copies[copy];
        let band = (PATTERN_BAND_FRACTION * len) as u64 + 1;
        let found = search(p, &stream);
        for &c in copies.iter().filter(|&&c| c as u64 > p.to) {
            let want = (c + offset) as u64;
            assert!(
                found.iter().any(|&f| f.abs_diff(want) <= band),
                "{}: the copy at {c} not found (matches {found:?})",
                p.name
            );
        }
        for &f in &found {
            assert!(
                copies
                    .iter()
                    .any(|&c| f.abs_diff((c + offset) as u64) <= band),
                "{}: a match at {f} in the noise (copies {copies:?})",
                p.name
            );
        }
    }
}

#[test]
fn pure_noise_learns_no_pattern() {
    let stream = noise(2400, 0x9e37_79b9_7f4a_7c15);
    let (decisions, learner) = rounds_with(&stream, "noise", meta::analyse_motifs, WINDOW);
    assert!(learner.learnt.is_empty(), "{:?}", learner.learnt);
    assert!(!decisions.iter().any(|d| d.to == "learnt"), "{decisions:?}");
}

#[test]
fn a_learnt_pattern_that_stops_matching_is_retired() {
    // The shape recurs until sample 1,500, then only noise.
    let until = 1500;
    let n = until + RETIRE_AFTER_SAMPLES as usize + 1200;
    let (stream, copies) = shape_in_noise(n, until);
    let (decisions, learner) = rounds_with(&stream, "shape", meta::analyse_motifs, WINDOW);
    let learnt: Vec<&Decision> = decisions.iter().filter(|d| d.to == "learnt").collect();
    assert!(!learnt.is_empty(), "nothing learnt");
    // The last match ends inside the last copy.
    let last_copy = *copies.last().unwrap() as u64;
    let last_copy_end = last_copy + SHAPE_LEN as u64;
    for d in learnt {
        let retired = decisions
            .iter()
            .find(|r| r.what == d.what && r.to == "retired")
            .unwrap_or_else(|| panic!("{} never retired", d.what));
        // Not before RETIRE_AFTER_SAMPLES without a match, and at the first round after.
        assert!(
            retired.sample > last_copy + RETIRE_AFTER_SAMPLES,
            "{retired}"
        );
        assert!(
            retired.sample <= last_copy_end + RETIRE_AFTER_SAMPLES + STRIDE as u64,
            "{retired}"
        );
        assert!(retired.why.contains("no match since sample"), "{retired}");
    }
    assert!(learner.learnt.is_empty(), "{:?}", learner.learnt);
}
