//! The composition root: a running session built from options — a source, the pipeline with
//! its engines, and a recorder — handed to whoever consumes it: the screen ([`crate::tui`]) or
//! a headless command. It imports neither.
//!
//! Every source is wired the same way: it sends [`SourceEvent`]s into one bounded queue that
//! the pipeline drains, so a source that outruns the pipeline (a file read as fast as
//! possible, a replay at speed 0, or at a speed the pipeline cannot follow) is held back
//! rather than buffered. The bound is in records: [`SOURCE_QUEUE`] network batches of at most
//! 1,024 records, or [`BATCH_QUEUE`] batches of at most 4,096 records from a replay or a text
//! input (65,536 records).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::engines::ltl::OnVerdict;
use crate::model::{LinkState, SourceEvent};
use crate::pipeline::{
    self, AnalysisConfig, Backlog, Engines, LtlMonitoring, Pipeline, PipelineCommand,
    PublishOptions, Snapshot, library,
};
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::sources::fleet::FleetWatch;
use crate::sources::input::TextInput;
use crate::sources::nats::NatsSource;
use crate::sources::replay::{Replay, ReplayCommand};
use crate::sources::sse::SseSource;
use crate::transport::client::{self, ClientConfig, ClientHandle, SourceEvents};
use crate::transport::tls::Trust;

/// Events buffered between a network source and the pipeline (each a batch of at most
/// [`crate::transport::protocol::MAX_BATCH_RECORDS`] records).
pub const SOURCE_QUEUE: usize = 1024;

/// Events buffered between a replay or a text input and the pipeline: their batches hold up to
/// 4,096 records, so at most 65,536 records wait.
pub const BATCH_QUEUE: usize = 16;

/// The engines' workers run this much nicer than the threads that ingest, record and draw:
/// on a machine with fewer cores than the stream needs, records go first and analyses wait
/// (Normal and Low work is then shed by the scheduler, and the pattern searches' inboxes
/// shed their oldest samples). Measured on the 1,000-channel load run (see the CHANGELOG).
pub const ENGINE_NICENESS: i32 = 5;

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

/// What the user asks the engines to look for: the flags, and the configuration file.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    /// LTLf formulas from `--formula`.
    pub formulas: Vec<String>,
    /// Pattern files from `--pattern`.
    pub patterns: Vec<PathBuf>,
    /// `--config`; `None`: the user's config directory's file, when it exists.
    pub config: Option<PathBuf>,
    /// `--on-verdict`, `--predict` and `--warn-at`; `None`: the file's, else the defaults.
    pub on_verdict: Option<OnVerdict>,
    pub predict: Option<usize>,
    pub warn_at: Option<f64>,
    /// After a verdict when neither the flag nor the file says: `None` restarts, as the
    /// dashboard's monitors do; `replay --headless` stops, as `check` does.
    pub default_on_verdict: Option<OnVerdict>,
}

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
pub fn settings(args: &AnalysisOptions, default_formulas: &[&str]) -> anyhow::Result<Settings> {
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
    if let Some(k) = args.predict {
        crate::config::check_predict(k).map_err(|e| anyhow::anyhow!("--predict: {e}"))?;
    }
    if let Some(p) = args.warn_at {
        crate::config::check_warn_at(p).map_err(|e| anyhow::anyhow!("--warn-at: {e}"))?;
    }
    let defaults = LtlMonitoring::default();
    let ltl = LtlMonitoring {
        on_verdict: args
            .on_verdict
            .or(config.on_verdict)
            .or(args.default_on_verdict)
            .unwrap_or(defaults.on_verdict),
        predict_steps: args
            .predict
            .or(config.predict)
            .unwrap_or(defaults.predict_steps),
        warn_at: args.warn_at.or(config.warn_at).unwrap_or(defaults.warn_at),
    };
    Ok(Settings {
        analysis: AnalysisConfig {
            formulas,
            patterns,
            ltl,
            ..AnalysisConfig::default()
        },
        capture_samples: config.capture_samples,
        pattern_dir: config.pattern_dir,
    })
}

/// Where records come from.
pub enum SessionSource {
    /// A QUIC source (`attach`, the demo, `record ADDR`).
    Remote(ClientHandle),
    /// A trace file (`replay`).
    Replay(Box<Replay>),
    /// A file or pipe of text (`open`, `record --input`).
    Input(TextInput),
    /// Subjects of a NATS server, or a JetStream stream (`attach nats://...`).
    Nats(NatsSource),
    /// Only the analyzers' results (`attach nats://... --results PREFIX` without
    /// `--subject`): the link is the results subscription's.
    Fleet(FleetWatch),
    /// An LLM's streaming chat completion (`open sse+https://...`).
    Sse(SseSource),
}

/// How to run the pipeline of a session.
pub struct SessionOptions {
    /// Shown as the source's description.
    pub label: String,
    /// Run the engines on these settings; `None`: count and record only.
    pub analysis: Option<AnalysisConfig>,
    /// Where patterns added while running are saved.
    pub pattern_dir: Option<PathBuf>,
    /// Start recording to this file at once.
    pub record: Option<PathBuf>,
    /// Certificate verification is off: the status says so the whole time.
    pub insecure: bool,
}

impl SessionOptions {
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            analysis: None,
            pattern_dir: None,
            record: None,
            insecure: false,
        }
    }
}

/// A running session: the pipeline's snapshots and command queue, and the replay's controls
/// when the source is a replay.
pub struct Session {
    /// The latest state, published at most every 16 ms when something changed.
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Commands to the pipeline (recording, patterns, benchmark results).
    pub commands: mpsc::Sender<PipelineCommand>,
    /// Pause, speed and seek, when the source is a replay.
    pub replay: Option<mpsc::Sender<ReplayCommand>>,
    pipeline: JoinHandle<Pipeline>,
    source: JoinHandle<()>,
    /// The source task has been awaited to its end.
    source_done: bool,
    scheduler: Option<Arc<Scheduler>>,
}

impl Session {
    /// Builds the pipeline (with its engines and recorder) and starts the source feeding it.
    /// Must be called inside a tokio runtime.
    pub fn start(source: SessionSource, opts: SessionOptions) -> anyhow::Result<Session> {
        let queue = match source {
            SessionSource::Remote(_)
            | SessionSource::Nats(_)
            | SessionSource::Fleet(_)
            | SessionSource::Sse(_) => SOURCE_QUEUE,
            SessionSource::Replay(_) | SessionSource::Input(_) => BATCH_QUEUE,
        };
        let (events_tx, events_rx) = mpsc::channel(queue);
        let (commands_tx, commands_rx) = mpsc::channel(16);
        let (snapshots_tx, snapshots_rx) = watch::channel(Arc::new(Snapshot::default()));

        let mut pipeline = Pipeline::new(opts.label).with_pattern_dir(opts.pattern_dir);
        let mut scheduler = None;
        if let Some(mut analysis) = opts.analysis {
            // A live source sheds what the searches cannot keep up with; one that can wait
            // holds back instead, so every sample is searched.
            analysis.backlog = match &source {
                SessionSource::Remote(_)
                | SessionSource::Nats(_)
                | SessionSource::Fleet(_)
                | SessionSource::Sse(_) => Backlog::Shed,
                SessionSource::Input(input) if input.is_live() => Backlog::Shed,
                SessionSource::Input(_) | SessionSource::Replay(_) => Backlog::Wait,
            };
            let engines_scheduler = Arc::new(
                Scheduler::new(SchedulerConfig {
                    worker_niceness: ENGINE_NICENESS,
                    ..SchedulerConfig::default()
                })
                .context("cannot start the scheduler")?,
            );
            let engines =
                Engines::new(engines_scheduler.clone(), analysis).map_err(anyhow::Error::msg)?;
            pipeline = pipeline.with_engines(engines);
            scheduler = Some(engines_scheduler);
        }
        pipeline.set_insecure(opts.insecure);
        if let Some(path) = &opts.record {
            pipeline
                .command(PipelineCommand::StartRecording(path.clone()))
                .with_context(|| format!("cannot record to {}", path.display()))?;
        }
        let pipeline = tokio::spawn(pipeline::run(
            pipeline,
            events_rx,
            commands_rx,
            snapshots_tx,
            PublishOptions::default(),
        ));
        let mut replay_tx = None;
        let source = match source {
            SessionSource::Remote(client) => tokio::spawn(bridge_client(client, events_tx)),
            SessionSource::Nats(nats) => tokio::spawn(nats.run(events_tx)),
            SessionSource::Fleet(watch) => {
                tokio::spawn(forward_fleet(watch, Some(events_tx), commands_tx.clone()))
            }
            SessionSource::Sse(sse) => tokio::spawn(sse.run(events_tx)),
            SessionSource::Replay(replay) => {
                let (tx, rx) = mpsc::channel(16);
                replay_tx = Some(tx);
                tokio::spawn(async move {
                    replay.run(events_tx, Some(rx)).await;
                })
            }
            SessionSource::Input(input) => {
                // The reading thread may sit in a read of stdin for ever; it feeds the pipeline
                // through this task, so that stopping the session never waits for it (the
                // thread ends at its next line, when it finds its queue closed).
                let (tx, mut rx) = mpsc::channel(BATCH_QUEUE);
                let _reading = input
                    .spawn(tx)
                    .context("cannot start the input's reading thread")?;
                tokio::spawn(async move {
                    while let Some(event) = rx.recv().await {
                        if events_tx.send(event).await.is_err() {
                            return;
                        }
                    }
                })
            }
        };
        Ok(Session {
            snapshots: snapshots_rx,
            commands: commands_tx,
            replay: replay_tx,
            pipeline,
            source,
            source_done: false,
            scheduler,
        })
    }

    /// Shows the analyzers' results (the Fleet pane) besides the session's own source.
    pub fn watch_fleet(&self, watch: FleetWatch) -> JoinHandle<()> {
        tokio::spawn(forward_fleet(watch, None, self.commands.clone()))
    }

    /// Waits until the source has nothing more to send: the end of a file or trace, or a
    /// remote source that failed for good.
    pub async fn source_ended(&mut self) {
        if self.source_done {
            return std::future::pending().await;
        }
        let _ = (&mut self.source).await;
        self.source_done = true;
    }

    /// The engines' scheduler so far: tasks, latencies, and the work shed under load.
    pub fn scheduler_stats(&self) -> Option<crate::scheduler::SchedulerStats> {
        self.scheduler.as_ref().map(|s| s.stats())
    }

    /// Stops the source (a text input's reading thread ends at its next line), lets the
    /// pipeline take what was already queued, closes the recording and stops the engines.
    /// Returns the pipeline, whose status says what was received and recorded.
    pub async fn finish(self) -> anyhow::Result<Pipeline> {
        if !self.source_done {
            self.source.abort();
            let _ = self.source.await;
        }
        drop(self.commands);
        drop(self.replay);
        let mut pipeline = self.pipeline.await.context("the pipeline task failed")?;
        pipeline.close();
        if let Some(scheduler) = self.scheduler {
            scheduler.shutdown_now();
        }
        Ok(pipeline)
    }
}

/// Runs a results subscription and hands its tables to the pipeline, until either ends.
async fn forward_fleet(
    watch: FleetWatch,
    link: Option<mpsc::Sender<SourceEvent>>,
    commands: mpsc::Sender<PipelineCommand>,
) {
    let (tables_tx, mut tables) = mpsc::channel(4);
    let forward = async move {
        while let Some(table) = tables.recv().await {
            if commands
                .send(PipelineCommand::SetFleet(table))
                .await
                .is_err()
            {
                return;
            }
        }
    };
    tokio::join!(watch.run(link, tables_tx), forward);
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
