//! Live sessions: wires a source (the embedded demo, a remote source, a trace replay) to the
//! pipeline and the pipeline to the screen, or to plain-text summaries when stdout is not a
//! terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::{mpsc, watch};

use super::control::{Control, REPLAY_SPEED_FACTOR, ReplayCommand};
use super::event_loop::{self, LoopOptions};
use super::terminal::{CrosstermEvents, TerminalGuard};
use super::theme::Theme;
use crate::bench;
use crate::cli::AnalysisArgs;
use crate::config::Config;
use crate::model::bench::BenchReport;
use crate::model::{LinkState, SourceEvent};
use crate::pipeline::{self, Pipeline, PipelineCommand, PublishOptions, Snapshot, library};
use crate::pipeline::{AnalysisConfig, Engines};
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::sources::replay::{self as replay_source, Replay};
use crate::transport::client::{self, ClientConfig, ClientHandle, SourceEvents};
use crate::transport::tls::Trust;

/// How often the plain-text mode prints a summary.
const SUMMARY_INTERVAL: Duration = Duration::from_secs(1);

/// How often the Benchmarks pane's results are read again (a `cargo bench` in another
/// terminal shows up within this).
const BENCHMARK_POLL: Duration = Duration::from_secs(5);

/// Events buffered between a source and the pipeline.
const SOURCE_QUEUE: usize = 1024;

/// What the screen (or the plain-text mode) needs besides the source.
pub struct ScreenOptions {
    pub fps_cap: u32,
    /// Start recording to this file at once; also where `r` records to.
    pub record: Option<PathBuf>,
    /// Certificate verification is off: warn on screen the whole time.
    pub insecure: bool,
    /// Shown as the source's description.
    pub label: String,
    /// What the engines run on, and what `a` captures.
    pub settings: Settings,
}

/// Formulas the demo monitors on its `events` channel when none are given.
pub const DEMO_FORMULAS: [&str; 4] = [
    // Every error is followed by a recovery (a request that is neither an error nor a retry).
    "G(error -> F(!error & !retry))",
    // Latency stays under a second.
    "G(latency_ms < 1000)",
    // A long queue always drains again.
    "G(queue_depth > 20 -> F(queue_depth < 5))",
    // Latency stays under 50 ms until the queue builds up.
    "(latency_ms < 50) U (queue_depth > 10)",
];

/// What the command line and the configuration file ask for.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What the engines run on.
    pub analysis: AnalysisConfig,
    /// Samples the `a` key captures as a pattern.
    pub capture_samples: usize,
    /// Where captured patterns are saved (`None`: for the run only).
    pub pattern_dir: Option<PathBuf>,
}

/// The settings of a run: the configuration file (see [`crate::config`]) and the flags. The
/// formulas are those of the flags and the file, or `default_formulas` when neither has any;
/// the patterns are the built-in ones, the file's (its saved ones included) and the flags'.
/// Two patterns of one name are an error naming it.
pub fn settings(args: &AnalysisArgs, default_formulas: &[&str]) -> anyhow::Result<Settings> {
    let config = Config::locate(args.config.as_deref())?;
    let mut patterns = library::builtin_patterns();
    patterns.extend(config.patterns);
    for path in &args.patterns {
        patterns.push(library::load_pattern(path)?);
    }
    for (i, p) in patterns.iter().enumerate() {
        if patterns[..i].iter().any(|q| q.name == p.name) {
            let builtin: Vec<String> = library::builtin_patterns()
                .into_iter()
                .map(|p| p.name)
                .collect();
            bail!(
                "two reference patterns are named {:?}; rename one (the built-in ones are {})",
                p.name,
                builtin.join(", ")
            );
        }
    }
    let mut formulas = args.formulas.clone();
    formulas.extend(config.formulas);
    if formulas.is_empty() {
        formulas = default_formulas.iter().map(|f| (*f).to_owned()).collect();
    }
    Ok(Settings {
        analysis: AnalysisConfig { formulas, patterns },
        capture_samples: config.capture_samples,
        pattern_dir: config.pattern_dir,
    })
}

/// Where records come from.
pub enum SessionSource {
    Remote(ClientHandle),
    Replay(Replay),
}

/// Runs a session until the user quits (or, in plain-text mode, until the source ends or the
/// output is closed). The terminal is restored on every path.
pub async fn run(source: SessionSource, opts: ScreenOptions) -> anyhow::Result<()> {
    let (events_tx, events_rx) = mpsc::channel(SOURCE_QUEUE);
    let (commands_tx, commands_rx) = mpsc::channel(16);
    let (snapshots_tx, snapshots_rx) = watch::channel(Arc::new(Snapshot::default()));
    let (replay_tx, replay_rx) = mpsc::channel(16);

    let scheduler =
        Arc::new(Scheduler::new(SchedulerConfig::default()).context("cannot start the scheduler")?);
    let engines = Engines::new(scheduler.clone(), opts.settings.analysis.clone())
        .map_err(anyhow::Error::msg)?;
    let mut pipeline = Pipeline::new(opts.label.clone())
        .with_engines(engines)
        .with_pattern_dir(opts.settings.pattern_dir.clone());
    pipeline.set_insecure(opts.insecure);
    if let Some(path) = &opts.record {
        pipeline
            .command(PipelineCommand::StartRecording(path.clone()))
            .with_context(|| format!("cannot record to {}", path.display()))?;
    }
    let pipeline_task = tokio::spawn(pipeline::run(
        pipeline,
        events_rx,
        commands_rx,
        snapshots_tx,
        PublishOptions::default(),
    ));
    let source_task = match source {
        SessionSource::Remote(client) => tokio::spawn(bridge_client(client, events_tx)),
        SessionSource::Replay(replay) => tokio::spawn(replay.run(events_tx, Some(replay_rx))),
    };

    let result = if std::io::stdout().is_terminal() {
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        let controls = tokio::spawn(forward_controls(
            control_rx,
            commands_tx.clone(),
            replay_tx,
            opts.record.clone(),
        ));
        let benchmarks = tokio::spawn(watch_benchmarks(
            bench::default_results_dir(),
            commands_tx.clone(),
        ));
        let outcome = {
            let mut guard = TerminalGuard::enter().context("cannot set up the terminal")?;
            let mut input = CrosstermEvents::new();
            let loop_opts = LoopOptions {
                fps_cap: opts.fps_cap,
                capture_samples: opts.settings.capture_samples,
                ..LoopOptions::new(Theme::from_env())
            };
            event_loop::run(
                guard.terminal(),
                &mut input,
                snapshots_rx,
                control_tx,
                loop_opts,
            )
            .await
            // `guard` drops here: the terminal is restored before anything is printed.
        };
        controls.abort();
        benchmarks.abort();
        outcome.map(|_| ()).map_err(anyhow::Error::from)
    } else {
        eprintln!(
            "midstream-tui: stdout is not a terminal; printing a plain-text summary every {} s instead of drawing",
            SUMMARY_INTERVAL.as_secs()
        );
        drop(replay_tx);
        let mut stdout = std::io::stdout();
        tokio::select! {
            () = crate::headless::summary::print_summaries(snapshots_rx, SUMMARY_INTERVAL, &mut stdout) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(())
    };
    // Stop the source first, then let the pipeline drain and close the recording.
    source_task.abort();
    let _ = source_task.await;
    drop(commands_tx);
    if let Ok(mut pipeline) = pipeline_task.await {
        pipeline.close();
    }
    scheduler.shutdown_now();
    result
}

/// Turns the client's transport events into pipeline events.
async fn bridge_client(mut client: ClientHandle, events: mpsc::Sender<SourceEvent>) {
    let mut convert = SourceEvents::default();
    while let Some(event) = client.recv().await {
        let forwarded = convert.convert(event).unwrap_or_else(|error| {
            vec![SourceEvent::Link(LinkState::Failed {
                reason: error.to_string(),
            })]
        });
        if !pipeline::send_all(&events, forwarded).await {
            return;
        }
    }
}

/// Reads criterion's results in `dir` against the budgets now and every
/// [`BENCHMARK_POLL`], off the async threads, and hands the pipeline each report that differs
/// from the last (the Benchmarks pane). Ends when the pipeline is gone.
async fn watch_benchmarks(dir: PathBuf, pipeline: mpsc::Sender<PipelineCommand>) {
    // The budgets are built in: parsed once. A broken budgets file shows as the report's
    // error, with the results still listed.
    let (budgets, budget_error) = match bench::budgets() {
        Ok(budgets) => (Arc::new(budgets), None),
        Err(e) => (Arc::new(Vec::new()), Some(e.to_string())),
    };
    let mut last: Option<Arc<BenchReport>> = None;
    let mut poll = tokio::time::interval(BENCHMARK_POLL);
    loop {
        poll.tick().await;
        let read = dir.clone();
        let budgets = budgets.clone();
        let Ok(mut report) =
            tokio::task::spawn_blocking(move || bench::load_report(&read, &budgets)).await
        else {
            return;
        };
        report.errors.extend(budget_error.clone());
        if last.as_deref() == Some(&report) {
            continue;
        }
        let report = Arc::new(report);
        last = Some(report.clone());
        if pipeline
            .send(PipelineCommand::SetBenchmarks(report))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Carries the screen's requests to the pipeline and the replay.
async fn forward_controls(
    mut controls: mpsc::UnboundedReceiver<Control>,
    pipeline: mpsc::Sender<PipelineCommand>,
    replay: mpsc::Sender<replay_source::ReplayCommand>,
    record_path: Option<PathBuf>,
) {
    while let Some(control) = controls.recv().await {
        match control {
            Control::Replay(command) => {
                let command = match command {
                    ReplayCommand::TogglePause => replay_source::ReplayCommand::TogglePause,
                    ReplayCommand::SpeedUp => {
                        replay_source::ReplayCommand::ScaleSpeed(REPLAY_SPEED_FACTOR)
                    }
                    ReplayCommand::SlowDown => {
                        replay_source::ReplayCommand::ScaleSpeed(1.0 / REPLAY_SPEED_FACTOR)
                    }
                    ReplayCommand::Seek { delta_ns } => {
                        replay_source::ReplayCommand::Seek(delta_ns)
                    }
                    ReplayCommand::Restart => replay_source::ReplayCommand::Restart,
                };
                let _ = replay.send(command).await;
            }
            Control::ToggleRecording => {
                let path = record_path.clone().unwrap_or_else(default_trace_path);
                let _ = pipeline.send(PipelineCommand::ToggleRecording(path)).await;
            }
            Control::AddPattern(pattern) => {
                let _ = pipeline.send(PipelineCommand::AddPattern(pattern)).await;
            }
            Control::Quit => return,
        }
    }
}

/// `midstream-<unix seconds>.mtr` in the current directory.
pub fn default_trace_path() -> PathBuf {
    let secs = pipeline::unix_now_ns() / 1_000_000_000;
    PathBuf::from(format!("midstream-{secs}.mtr"))
}

/// Starts a client for `addr` with `trust`.
pub fn connect(addr: &str, trust: Trust, token: Option<String>) -> anyhow::Result<ClientHandle> {
    let mut config = ClientConfig::new(addr, trust);
    config.token = token;
    client::connect(config).with_context(|| format!("cannot attach to {addr}"))
}
