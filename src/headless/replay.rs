//! `replay --headless`: replays a trace through the pipeline and prints, per channel, the
//! records replayed and the gaps, then how reading the trace ended, each formula's verdict,
//! the patterns the learning loop learnt (`learnt pattern NAME from CHANNEL samples A..B
//! threshold T`), the pattern matches (the latest [`MATCH_HISTORY`], or all of them with
//! `--all-matches`, by channel and sample), per numeric channel the latest meta-learning round
//! (tuned motif window, top motif pair, embedding dimension, nonlinearity) and attractor
//! analysis, and every decision of the learning loop (`decision CHANNEL @SAMPLE level N: WHAT
//! FROM -> TO (WHY)`).
//!
//! The replay runs every analysis round that falls due, at the sample where it falls due
//! (`AnalysisConfig::every_round`), so its output depends on the trace only, not on the
//! machine's speed or load: the decisions printed are the ones this run made. Decisions the
//! live run recorded in the trace are read too (the dashboard's Learning view shows them).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::HeadlessError;
use crate::engines::attractor::SlidingWindow;
use crate::engines::attractor::embedding::MIN_SERIES_LEN;
use crate::model::ChannelKind;
use crate::pipeline::tracks::MATCH_HISTORY;
use crate::pipeline::{
    AnalysisConfig, ChannelSnapshot, ChaosView, Engines, FormulaStatus, MetaView, PatternMatchView,
    Pipeline,
};
use crate::scheduler::{LatencyKind, Scheduler, SchedulerConfig, SchedulerStats, TaskClass};
use crate::sources::replay::{Replay, ReplayIndex};

pub struct ReplayOptions {
    pub file: PathBuf,
    /// 0 = as fast as possible.
    pub speed: f64,
    /// Also print the scheduler's per-class latency percentiles.
    pub stats: bool,
    /// Print every pattern match instead of the latest [`MATCH_HISTORY`].
    pub all_matches: bool,
    /// What the engines run on during the replay.
    pub analysis: AnalysisConfig,
}

/// How long the engines may take to finish the queued work after the last record.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Replays the trace and writes the per-channel report.
pub fn run(opts: &ReplayOptions, out: &mut dyn Write) -> Result<(), HeadlessError> {
    let replay = Replay::open(&opts.file, opts.speed, ReplayIndex::AsRead)
        .map_err(|e| HeadlessError::Invalid(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(HeadlessError::Output)?;
    let scheduler = Arc::new(
        Scheduler::new(SchedulerConfig::default())
            .map_err(|e| HeadlessError::Invalid(e.to_string()))?,
    );
    let analysis = AnalysisConfig {
        every_round: true,
        keep_all_matches: true,
        ..opts.analysis.clone()
    };
    let engines = Engines::new(scheduler.clone(), analysis)
        .map_err(|e| HeadlessError::Invalid(e.to_string()))?;
    let source = replay.source().to_owned();
    let (pipeline, outcome) = runtime.block_on(async {
        let (tx, mut rx) = mpsc::channel(64);
        let replay = tokio::spawn(replay.run(tx, None));
        let mut pipeline = Pipeline::new(opts.file.display().to_string()).with_engines(engines);
        while let Some(event) = rx.recv().await {
            pipeline.handle(event, Instant::now());
            pipeline.wait_for_backlog().await;
        }
        let outcome = replay
            .await
            .map_err(|e| HeadlessError::Invalid(e.to_string()));
        (pipeline, outcome)
    });
    let outcome = outcome?;
    let (stop, recovered, file_len) = (outcome.stop, outcome.records, outcome.file_len);
    let mut pipeline = pipeline;
    let drained = pipeline.finish_engines(DRAIN_TIMEOUT);
    let snapshot = pipeline.snapshot(Instant::now());
    let stats = scheduler.shutdown();
    writeln!(
        out,
        "trace {}: source {:?}, {} channels",
        opts.file.display(),
        source,
        snapshot.channels.len()
    )?;
    writeln!(
        out,
        "{:<24} {:<8} {:>10} {:>8}",
        "channel", "kind", "records", "gaps"
    )?;
    for channel in &snapshot.channels {
        writeln!(
            out,
            "{:<24} {:<8} {:>10} {:>8}",
            channel.info.name,
            channel.info.kind.label(),
            channel.received,
            channel.missing
        )?;
    }
    if stop.is_clean() {
        writeln!(
            out,
            "recovery: clean end, {recovered} records, {file_len} bytes"
        )?;
    } else {
        writeln!(
            out,
            "recovery: {stop}; recovered {recovered} records before it ({file_len} bytes in the file)"
        )?;
    }
    for formula in &snapshot.analysis.formulas {
        let status = match formula.status {
            FormulaStatus::Satisfied => "satisfied",
            FormulaStatus::Violated => "violated",
            FormulaStatus::Undecided => "undecided",
        };
        let decided = formula
            .decided_at
            .map_or_else(String::new, |step| format!(", decided at step {step}"));
        writeln!(
            out,
            "formula {} on {}: {} ({status}{decided}, {} steps)",
            formula.formula, formula.channel_name, formula.verdict_if_ended, formula.steps
        )?;
    }
    let engines = pipeline.engines();
    for learnt in engines.into_iter().flat_map(|e| e.learnt_patterns()) {
        writeln!(
            out,
            "learnt pattern {} from {} samples {}..{} threshold {:.3}",
            learnt.name, learnt.channel_name, learnt.from, learnt.to, learnt.threshold
        )?;
    }
    let all = engines.map(Engines::all_matches).unwrap_or_default();
    for found in latest_matches(all, opts.all_matches) {
        writeln!(
            out,
            "pattern {} on {}: samples {}..{}, distance {:.3}",
            found.pattern,
            found.channel_name,
            found.start_sample,
            found.start_sample + found.len as u64,
            found.distance
        )?;
    }
    for channel in &snapshot.channels {
        if let Some(view) = snapshot.analysis.meta.get(&channel.info.id) {
            writeln!(out, "{}", meta_line(&channel.info.name, view))?;
        }
    }
    for channel in &snapshot.channels {
        if matches!(
            channel.info.kind,
            ChannelKind::Scalar | ChannelKind::Vector { .. }
        ) {
            let view = snapshot.analysis.chaos.get(&channel.info.id);
            writeln!(out, "{}", chaos_line(channel, view))?;
        }
    }
    for decision in engines.into_iter().flat_map(|e| e.decisions().iter()) {
        writeln!(out, "{decision}")?;
    }
    if !drained {
        writeln!(
            out,
            "note: the engines had not finished after {} s; results are partial",
            DRAIN_TIMEOUT.as_secs()
        )?;
    }
    if opts.stats {
        write_scheduler_stats(&stats, out)?;
    }
    Ok(())
}

/// The matches to print, by channel, start and pattern: all of them, or the latest
/// [`MATCH_HISTORY`] by the sample where they end (ties by channel, pattern and start), which
/// depends on the trace only (not on when each search task happened to run).
fn latest_matches(mut all: Vec<PatternMatchView>, every: bool) -> Vec<PatternMatchView> {
    if !every && all.len() > MATCH_HISTORY {
        all.sort_by(|a, b| {
            let end = |m: &PatternMatchView| m.start_sample + m.len as u64;
            end(b)
                .cmp(&end(a))
                .then_with(|| a.channel_name.cmp(&b.channel_name))
                .then_with(|| a.pattern.cmp(&b.pattern))
                .then_with(|| a.start_sample.cmp(&b.start_sample))
        });
        all.truncate(MATCH_HISTORY);
        all.sort_by(|a, b| {
            (&a.channel_name, a.start_sample, &a.pattern).cmp(&(
                &b.channel_name,
                b.start_sample,
                &b.pattern,
            ))
        });
    }
    all
}

/// One numeric channel's latest attractor analysis in one line, as the Chaos pane shows it:
/// `chaos on lorenz.x: samples 3840..7936, lambda 0.9012 per second, D2 2.0412, class chaotic,
/// m 3, tau 12`. The exponent is per second when the channel has a sample period, else per
/// sample. A channel with no result says why: too short, constant, or what the engine said.
pub fn chaos_line(channel: &ChannelSnapshot, view: Option<&ChaosView>) -> String {
    let name = &channel.info.name;
    let Some(view) = view else {
        let first = SlidingWindow::default();
        let needed = MIN_SERIES_LEN.max(first.stride.min(first.window));
        return format!(
            "chaos on {name}: no analysis: {} samples, an analysis needs at least {needed}",
            channel.received
        );
    };
    if let Some(error) = &view.error {
        return format!("chaos on {name}: no analysis: {error}");
    }
    let unit = if channel.info.period_s.is_some() {
        "second"
    } else {
        "sample"
    };
    let number = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |x| format!("{x:.4}"));
    format!(
        "chaos on {name}: samples {}..{}, lambda {} per {unit}, D2 {}, class {}, m {}, tau {}",
        view.at_sample.saturating_sub(view.window as u64),
        view.at_sample,
        number(view.lyapunov),
        number(view.correlation_dimension),
        view.class,
        view.dim,
        view.delay
    )
}

/// One channel's latest meta-learning round in one line: `meta on sine: samples 1792..2816,
/// window 50 (period 50), motif 1800..1850 and 2400..2450 distance 0.123, E 2, nonlinear no`;
/// what failed, if something did.
pub fn meta_line(channel: &str, view: &MetaView) -> String {
    let m = view.window as u64;
    let period = view
        .period
        .map_or_else(|| "no period".to_string(), |p| format!("period {p}"));
    let mut parts = vec![
        format!("samples {}..{}", view.first_sample, view.end_sample()),
        format!("window {} ({period})", view.window),
    ];
    if let Some(pair) = view.motifs.first() {
        parts.push(format!(
            "motif {}..{} and {}..{} distance {:.3}",
            pair.a,
            pair.a + m,
            pair.b,
            pair.b + m,
            pair.distance
        ));
    }
    if let Some(d) = &view.dynamics {
        parts.push(format!(
            "E {} (tau {}), nonlinear {}",
            d.e,
            d.tau,
            if d.nonlinear { "yes" } else { "no" }
        ));
    }
    if let Some(error) = &view.error {
        parts.push(format!("failed: {error}"));
    }
    format!("meta on {channel}: {}", parts.join(", "))
}

/// Per class: tasks, wait and run percentiles, deadline misses and shed or rejected work.
pub fn write_scheduler_stats(
    stats: &SchedulerStats,
    out: &mut dyn Write,
) -> Result<(), HeadlessError> {
    writeln!(
        out,
        "scheduler: {} workers, {:.1} s; latencies in µs (p50 p90 p99 p99.9 max)",
        stats.workers,
        stats.uptime.as_secs_f64()
    )?;
    for class in TaskClass::ALL {
        let counts = stats.class(class);
        let line = |kind| {
            let p = stats.percentiles(class, kind);
            format!(
                "{:.1} {:.1} {:.1} {:.1} {:.1}",
                p.p50_ns as f64 / 1e3,
                p.p90_ns as f64 / 1e3,
                p.p99_ns as f64 / 1e3,
                p.p999_ns as f64 / 1e3,
                p.max_ns as f64 / 1e3
            )
        };
        writeln!(
            out,
            "  {:<8} tasks {:>8}  wait {}  run {}  deadline misses {}  shed {}  rejected {}",
            class.name(),
            counts.completed,
            line(LatencyKind::Wait),
            line(LatencyKind::Run),
            counts.deadline_misses,
            counts.shed,
            counts.rejected
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pipeline::{DynamicsView, MotifView};

    #[test]
    fn the_meta_line_names_window_pair_and_dynamics_or_the_failure() {
        let mut view = MetaView {
            rounds: 3,
            series: vec![0.0; 1024].into(),
            first_sample: 1792,
            length: 1024,
            window: 50,
            period: Some(50),
            motifs: vec![MotifView {
                a: 1800,
                b: 2400,
                distance: 0.1234,
            }],
            discords: Vec::new(),
            dynamics: Some(DynamicsView {
                e: 2,
                tau: 12,
                theta: 0.0,
                nonlinear: false,
                forecast_skill: 0.99,
                rho_by_e: Vec::new(),
                rho_by_theta: Vec::new(),
            }),
            elapsed_ms: 3.0,
            age: Duration::ZERO,
            error: None,
        };
        assert_eq!(
            meta_line("sine", &view),
            "meta on sine: samples 1792..2816, window 50 (period 50), motif 1800..1850 and \
             2400..2450 distance 0.123, E 2 (tau 12), nonlinear no"
        );
        view.motifs.clear();
        view.dynamics = None;
        view.period = None;
        view.error = Some("the last 1024 samples are all 3: a constant window".into());
        assert_eq!(
            meta_line("flat", &view),
            "meta on flat: samples 1792..2816, window 50 (no period), failed: the last 1024 \
             samples are all 3: a constant window"
        );
    }
}
