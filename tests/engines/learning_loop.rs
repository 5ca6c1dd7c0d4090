//! The learning loop (`engines::meta::learning`) driven by the meta track's rounds as the
//! pipeline runs them: a channel that switches from a sine to the Lorenz flow halfway has its
//! parameters and class follow within a few rounds.

use midstream::engines::meta::learning::ChannelLearner;
use midstream::model::Decision;
use midstream::pipeline::library::builtin_patterns;
use midstream::pipeline::tracks::meta::{self, LearningContext, WindowTuner};

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
    let mut learner = ChannelLearner::default();
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
        let outcome = meta::analyse(series, first, &mut tuner);
        let learning = meta::learn(
            &mut learner,
            7,
            "switch",
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
    // Kept small so the debug build runs it in well under a minute: 2,000 samples of sine, then
    // 2,500 of Lorenz (enough rounds for the window to be all Lorenz and a few more).
    let half = 2000;
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
    stream.extend(lorenz_x().into_iter().take(2500));
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
