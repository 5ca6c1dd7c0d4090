//! The dashboard on a running [`Session`]: the terminal set up and always restored, the event
//! loop drawing the session's snapshots, the user's controls carried to the pipeline and the
//! replay, and the Benchmarks pane's results read in the background.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;

use super::control::{Control, REPLAY_SPEED_FACTOR, ReplayCommand};
use super::event_loop::{self, LoopOptions};
use super::terminal::{CrosstermEvents, TerminalGuard};
use super::theme::Theme;
use crate::bench;
use crate::model::bench::BenchReport;
use crate::pipeline::PipelineCommand;
use crate::session::{self, Session};
use crate::sources::replay as replay_source;

/// How often the Benchmarks pane's results are read again (a `cargo bench` in another
/// terminal shows up within this).
const BENCHMARK_POLL: Duration = Duration::from_secs(5);
/// How often while a `bench` run is going, so its rows fill in as its results arrive.
const BENCHMARK_POLL_RUNNING: Duration = Duration::from_secs(1);

/// The background benchmark run the `b` key starts, if any.
type BenchRun = Arc<Mutex<Option<Child>>>;

/// What the screen needs besides the session.
pub struct ScreenOptions {
    pub fps_cap: u32,
    /// Where `r` records to (default: `midstream-<unix seconds>.mtr`).
    pub record: Option<PathBuf>,
    /// Samples the `a` key captures as a pattern.
    pub capture_samples: usize,
}

/// Draws the session until the user quits; the terminal is restored on every path, then the
/// session is finished (the recording closed). Problems a text input met are listed on
/// stderr once the screen is gone.
pub async fn run(session: Session, opts: ScreenOptions) -> anyhow::Result<()> {
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let bench_run: BenchRun = Arc::default();
    let controls = tokio::spawn(forward_controls(
        control_rx,
        session.commands.clone(),
        session.replay.clone(),
        opts.record.clone(),
        bench_run.clone(),
    ));
    let benchmarks = tokio::spawn(watch_benchmarks(
        bench::default_results_dir(),
        bench::results::bench_dir(),
        session.commands.clone(),
    ));
    let outcome = {
        let mut guard = TerminalGuard::enter().context("cannot set up the terminal")?;
        let mut input = CrosstermEvents::new();
        let loop_opts = LoopOptions {
            fps_cap: opts.fps_cap,
            capture_samples: opts.capture_samples,
            ..LoopOptions::new(Theme::from_env())
        };
        event_loop::run(
            guard.terminal(),
            &mut input,
            session.snapshots.clone(),
            control_tx,
            loop_opts,
        )
        .await
        // `guard` drops here: the terminal is restored before anything is printed.
    };
    controls.abort();
    benchmarks.abort();
    // A background benchmark run ends with the dashboard that started it.
    if let Some(mut child) = bench_run
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        let _ = child.kill();
        let _ = child.wait();
    }
    let pipeline = session.finish().await?;
    crate::headless::summary::report_problems(pipeline.status());
    outcome.map(|_| ()).map_err(anyhow::Error::from)
}

/// Reads criterion's results in `dir` and the latest `bench` run's in `bench_dir` against the
/// budgets now and every [`BENCHMARK_POLL`] ([`BENCHMARK_POLL_RUNNING`] while a run goes on),
/// off the async threads, and hands the pipeline each report that differs from the last (the
/// Benchmarks pane). Ends when the pipeline is gone.
async fn watch_benchmarks(
    dir: PathBuf,
    bench_dir: Option<PathBuf>,
    pipeline: mpsc::Sender<PipelineCommand>,
) {
    // The budgets are built in: parsed once. A broken budgets file shows as the report's
    // error, with the results still listed.
    let (budgets, budget_error) = match bench::budgets() {
        Ok(budgets) => (Arc::new(budgets), None),
        Err(e) => (Arc::new(Vec::new()), Some(e.to_string())),
    };
    let mut last: Option<Arc<BenchReport>> = None;
    let mut wait = Duration::ZERO;
    loop {
        tokio::time::sleep(wait).await;
        let read = dir.clone();
        let bench_dir = bench_dir.clone();
        let budgets = budgets.clone();
        let Ok(mut report) = tokio::task::spawn_blocking(move || {
            bench::results::load_pane_report(&read, bench_dir.as_deref(), &budgets)
        })
        .await
        else {
            return;
        };
        wait = if report.running.is_some() {
            BENCHMARK_POLL_RUNNING
        } else {
            BENCHMARK_POLL
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
    replay: Option<mpsc::Sender<replay_source::ReplayCommand>>,
    record_path: Option<PathBuf>,
    bench_run: BenchRun,
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
                if let Some(replay) = &replay {
                    let _ = replay.send(command).await;
                }
            }
            Control::ToggleRecording => {
                let path = record_path
                    .clone()
                    .unwrap_or_else(session::default_trace_path);
                let _ = pipeline.send(PipelineCommand::ToggleRecording(path)).await;
            }
            Control::AddPattern(pattern) => {
                let _ = pipeline.send(PipelineCommand::AddPattern(pattern)).await;
            }
            Control::PinPattern(name) => {
                let _ = pipeline.send(PipelineCommand::PinPattern(name)).await;
            }
            Control::DropPattern(name) => {
                let _ = pipeline.send(PipelineCommand::DropPattern(name)).await;
            }
            Control::RunBenchmarks => {
                let mut run = bench_run.lock().unwrap_or_else(PoisonError::into_inner);
                let going = run
                    .as_mut()
                    .is_some_and(|child| matches!(child.try_wait(), Ok(None)));
                if !going {
                    // A failure to start shows as no run in the pane; nothing else to do.
                    *run = start_quick_bench(bench::results::bench_dir().as_deref()).ok();
                }
            }
            Control::Quit => return,
        }
    }
}

/// `midstream-tui bench --quick --idle` as a child process with no terminal: it measures one
/// benchmark at a time at the lowest CPU priority (nice 19 and `SCHED_IDLE`: it runs only
/// when the cores have nothing else to do, so the live analysis is not slowed), and rewrites
/// its results file after each benchmark, which the pane reads every second meanwhile.
fn start_quick_bench(bench_dir: Option<&Path>) -> std::io::Result<Child> {
    let mut command = Command::new(std::env::current_exe()?);
    command.args(["bench", "--quick", "--idle"]);
    if let Some(dir) = bench_dir {
        command.arg("--results-dir").arg(dir);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}
