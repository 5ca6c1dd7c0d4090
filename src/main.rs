//! `midstream-tui`: parse the command line, turn it into the commands' options, and dispatch.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use midstream::cli::{
    AnalysisArgs, AnalyzerArgs, AttachArgs, BenchArgs, Cli, Command, CompareArgs, DemoArgs,
    InputArgs, Metric, NatsArgs, OnVerdictArg, OpenArgs, RecordArgs, ReplayArgs, ServeArgs,
    SseArgs, TrustArgs,
};
use midstream::engines::ltl::OnVerdict;
use midstream::headless;
use midstream::headless::record::{RecordFrom, RecordOptions};
use midstream::headless::serve::{ServeOptions, ServeSource};
use midstream::publish::{Publisher, PublisherOptions, publish_ticks};
use midstream::session::{self, Session, SessionOptions, SessionSource, Settings};
use midstream::sources::DemoSource;
use midstream::sources::fleet::FleetWatch;
use midstream::sources::input::{InputOptions, InputPath, TextInput};
use midstream::sources::nats::{
    JetStreamOptions, NatsAuth, NatsOptions, NatsSource, StartPosition,
};
use midstream::sources::replay::{Replay, ReplayIndex};
use midstream::sources::sse::{HeaderTemplate, SseOptions, SseSource, is_sse_url};
use midstream::sources::text::Format;
use midstream::transport::server::{CertificateSource, ServerLimits};
use midstream::transport::tls::Trust;
use midstream::tui::screen::{self, ScreenOptions};

/// See `Cargo.toml`: allocation from many threads without glibc's arena lock contention.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ignore_file_size_signal();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Not `eprintln!`: with stderr gone it panicked, and the exit status was 101.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "midstream-tui: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// At a file-size limit (`ulimit -f`) the kernel would end the process with SIGXFSZ. Ignored,
/// the write fails with EFBIG instead, like a write to a full disk: the recorder cuts the trace
/// back to its last complete record and says so, and everything else goes on.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: sets a signal's disposition to SIG_IGN, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    match cli.command {
        None => runtime()?.block_on(demo(&cli.demo)),
        Some(Command::Open(args)) => runtime()?.block_on(open(&args)),
        Some(Command::Serve(args)) => {
            let opts = serve_options(&args)?;
            runtime()?.block_on(headless::serve::run(&opts, &mut stdout))
        }
        Some(Command::Attach(args)) => runtime()?.block_on(attach(&args)),
        Some(Command::Analyzer(args)) => {
            let opts = analyzer_options(&args)?;
            // One thread for the NATS client and the loop that feeds the engines (which have
            // threads of their own): a message reaches the pipeline without a wake-up of
            // another thread (see headless::analyzer).
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?
                .block_on(headless::analyzer::run(&opts, &mut stdout))?;
            Ok(())
        }
        Some(Command::Record(args)) => {
            let opts = record_options(&args)?;
            runtime()?.block_on(headless::record::run(&opts, &mut stdout))
        }
        Some(Command::Replay(args)) if args.headless => replay_headless(&args, &mut stdout),
        Some(Command::Replay(args)) => runtime()?.block_on(replay(&args)),
        Some(Command::Compare(args)) => compare(&args, &mut stdout),
        Some(Command::Check(args)) => {
            let opts = headless::check::CheckOptions {
                formulas: args.formulas,
                json: args.json,
                explain: args.explain,
                trace: args.trace,
            };
            let continuous = headless::check::ContinuousOptions {
                on_verdict: args.on_verdict.map(on_verdict),
                predict_steps: args.predict,
            };
            Ok(headless::check::run_continuous(
                &opts,
                &continuous,
                &mut stdout,
            )?)
        }
        Some(Command::Analyze(args)) => {
            let opts = headless::analyze::AnalyzeOptions {
                dt: args.dt,
                dim: args.dim,
                delay: args.delay,
                json: args.json,
                file: args.file,
                column: args.column,
            };
            Ok(headless::analyze::run(&opts, &mut stdout)?)
        }
        Some(Command::Motifs(args)) => {
            let opts = headless::motifs::MotifsOptions {
                window: args.window,
                top: args.top,
                json: args.json,
                file: args.file,
                column: args.column,
            };
            Ok(headless::motifs::run(&opts, &mut stdout)?)
        }
        Some(Command::Bench(args)) => bench(&args),
    }
}

/// `bench`: the options resolved (budgets file, results directory), the run, and with
/// `--check` an error naming every failure.
fn bench(args: &BenchArgs) -> anyhow::Result<()> {
    use midstream::bench::{budgets, run};
    if args.idle {
        midstream::bench::stdio::lowest_priority();
    }
    let text = match &args.budgets {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the budgets file {}", path.display()))?,
        None => budgets::BUDGETS_TEXT.to_owned(),
    };
    let file = budgets::parse_budget_file(&text).with_context(|| match &args.budgets {
        Some(path) => path.display().to_string(),
        None => "the built-in budgets".to_owned(),
    })?;
    let check_margin = if args.ci {
        file.ci_margin
            .context("--ci: the budgets file sets no ci_margin")?
    } else {
        args.margin
    };
    let results_dir = match &args.results_dir {
        Some(dir) => dir.clone(),
        None => midstream::bench::results::default_bench_dir()
            .context("no data directory for the results: give --results-dir")?,
    };
    let opts = run::BenchOptions {
        suites: args.suites.clone(),
        quick: args.quick,
        measurement: args.measure_ms.map(std::time::Duration::from_millis),
        json: args.json,
        save_baseline: args.save_baseline.clone(),
        baseline: args.baseline.clone(),
        check: args.check,
        check_margin,
        budgets: file.budgets,
        report: args.report.clone(),
        results_dir,
        wasm_file: std::path::PathBuf::from(run::WASM_FILE),
    };
    let outcome = run::run(&opts)?;
    if !outcome.failures.is_empty() && (args.check || outcome.results.is_empty()) {
        for failure in &outcome.failures {
            eprintln!("FAILED {failure}");
        }
        anyhow::bail!("{} benchmark check(s) failed", outcome.failures.len());
    }
    Ok(())
}

fn compare(args: &CompareArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    use headless::compare::{CompareOptions, Metric as CompareMetric};
    let opts = CompareOptions {
        metric: match args.metric {
            Metric::Dtw => CompareMetric::Dtw,
            Metric::DtwSq => CompareMetric::DtwSq,
            Metric::Lcs => CompareMetric::Lcs,
            Metric::Edit => CompareMetric::Edit,
        },
        window: args.window,
        json: args.json,
        a: args.a.clone(),
        b: args.b.clone(),
        column: args.column.clone(),
    };
    Ok(headless::compare::run(&opts, out)?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn analysis_options(args: &AnalysisArgs) -> session::AnalysisOptions {
    session::AnalysisOptions {
        formulas: args.formulas.clone(),
        patterns: args.patterns.clone(),
        config: args.config.clone(),
        on_verdict: args.on_verdict.map(on_verdict),
        predict: args.predict,
        warn_at: args.warn_at,
        default_on_verdict: None,
    }
}

fn on_verdict(arg: OnVerdictArg) -> OnVerdict {
    match arg {
        OnVerdictArg::Stop => OnVerdict::Stop,
        OnVerdictArg::Restart => OnVerdict::Restart,
    }
}

fn trust(flags: &TrustArgs) -> anyhow::Result<Trust> {
    Ok(Trust::from_flags(
        flags.pin.as_deref(),
        flags.ca.as_deref(),
        flags.tofu,
        flags.insecure,
    )?)
}

fn input_options(
    path: &Path,
    args: &InputArgs,
    rate_hz: Option<f64>,
) -> anyhow::Result<InputOptions> {
    let mut opts = InputOptions::new(InputPath::new(path));
    opts.format = args
        .format
        .as_deref()
        .map(str::parse::<Format>)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    opts.follow = args.follow;
    opts.time_field = args.time.clone();
    opts.text_field = args.text.clone();
    opts.name = args.name.clone();
    opts.rate_hz = rate_hz;
    Ok(opts)
}

/// The SSE source an `sse+https://` input names, or `None` for a file or pipe (which must not
/// have --request or --header).
fn sse_options(
    path: &Path,
    input: &InputArgs,
    sse: &SseArgs,
) -> anyhow::Result<Option<SseOptions>> {
    let text = path.to_string_lossy();
    if !is_sse_url(&text) {
        if sse.request.is_some() || !sse.header.is_empty() {
            bail!(
                "--request and --header are for an LLM's token stream: give the input as \
                 sse+https://HOST/v1/chat/completions (got {})",
                path.display()
            );
        }
        return Ok(None);
    }
    let Some(request) = &sse.request else {
        bail!("{text}: an sse+https:// input needs --request FILE (the JSON request body)");
    };
    if input.format.is_some() || input.follow || input.time.is_some() || input.text.is_some() {
        bail!("--format, --follow, --time and --text are for files and pipes, not {text}");
    }
    let mut opts = SseOptions::new(text.into_owned(), request.clone());
    opts.headers = sse
        .header
        .iter()
        .map(|h| h.parse::<HeaderTemplate>())
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    opts.name = input.name.clone();
    Ok(Some(opts))
}

fn serve_options(args: &ServeArgs) -> anyhow::Result<ServeOptions> {
    let source = match &args.input {
        Some(path) => match sse_options(path, &args.input_args, &args.sse)? {
            Some(sse) => ServeSource::Sse(sse),
            None => ServeSource::Input(input_options(path, &args.input_args, args.rate)?),
        },
        None => ServeSource::Generators {
            names: args.generator.clone(),
            rate_hz: args.rate.unwrap_or(midstream::sources::DEFAULT_RATE_HZ),
            seed: args.seed,
        },
    };
    let certificate = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => CertificateSource::PemFiles {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => CertificateSource::SelfSigned,
    };
    let limits = ServerLimits {
        max_clients: args.limits.max_clients,
        max_clients_per_address: args.limits.max_clients_per_address,
        max_channels: args.limits.max_channels,
        max_frame_bytes: args.limits.max_frame_bytes,
    };
    limits.check().map_err(anyhow::Error::msg)?;
    Ok(ServeOptions {
        listen: args.listen,
        source,
        certificate,
        token: args.token.clone(),
        limits,
    })
}

/// The NATS source an address and its flags name; the QUIC-only flags are refused.
fn nats_options(
    url: &str,
    args: &NatsArgs,
    trust: &TrustArgs,
    token: Option<&str>,
) -> anyhow::Result<NatsOptions> {
    if trust.pin.is_some() || trust.tofu || trust.insecure || token.is_some() {
        bail!(
            "--pin, --tofu, --insecure and --token are for QUIC sources; a NATS server takes \
             --creds, --nkey, --user/--password and, for tls://, --ca"
        );
    }
    let jetstream = match &args.stream {
        Some(stream) => Some(JetStreamOptions {
            stream: stream.clone(),
            from: args
                .from
                .parse::<StartPosition>()
                .map_err(anyhow::Error::msg)?,
            durable: args.durable.clone(),
        }),
        None => None,
    };
    let opts = NatsOptions {
        url: url.to_owned(),
        subjects: args.subjects.clone(),
        jetstream,
        auth: NatsAuth {
            creds: args.creds.clone(),
            nkey_seed: args.nkey.clone(),
            user: args.user.clone(),
            password: args.password.clone(),
        },
        ca: trust.ca.clone(),
        echo_problems: false,
    };
    opts.check().map_err(anyhow::Error::msg)?;
    Ok(opts)
}

/// Flags of a NATS source given with a QUIC address are refused rather than ignored.
fn refuse_nats_flags(addr: &str, args: &NatsArgs) -> anyhow::Result<()> {
    if !args.subjects.is_empty()
        || args.stream.is_some()
        || args.creds.is_some()
        || args.nkey.is_some()
    {
        bail!(
            "--subject, --stream, --creds and --nkey are for a NATS server: give its address as \
             nats://HOST:PORT or tls://HOST:PORT (got {addr})"
        );
    }
    Ok(())
}

fn analyzer_options(args: &AnalyzerArgs) -> anyhow::Result<headless::analyzer::AnalyzerOptions> {
    if !NatsOptions::is_nats_url(&args.addr) {
        bail!(
            "analyzer reads a NATS server: nats://HOST:PORT or tls://HOST:PORT (got {})",
            args.addr
        );
    }
    if args.nats.stream.is_some() {
        bail!("analyzer makes its own stream (MIDSTREAM_<GROUP>); --stream is for attach");
    }
    let trust = TrustArgs {
        ca: args.ca.clone(),
        ..TrustArgs::default()
    };
    let nats = nats_options(&args.addr, &args.nats, &trust, None)?;
    let opts = headless::analyzer::AnalyzerOptions {
        nats,
        results: args.results.clone(),
        group: args.group.clone(),
        name: args.name.clone(),
        replicas: args.replicas,
        backfill_limit: args.backfill_limit,
        analysis: session::settings(&analysis_options(&args.analysis), &[])?.analysis,
    };
    opts.check().map_err(anyhow::Error::msg)?;
    Ok(opts)
}

fn record_options(args: &RecordArgs) -> anyhow::Result<RecordOptions> {
    let from = match (&args.input, &args.addr) {
        (Some(path), _) => match sse_options(path, &args.input_args, &args.sse)? {
            Some(sse) => RecordFrom::Sse(sse),
            None => RecordFrom::Input(input_options(path, &args.input_args, args.rate)?),
        },
        (None, Some(addr)) if NatsOptions::is_nats_url(addr) => RecordFrom::Nats(nats_options(
            addr,
            &args.nats,
            &args.trust,
            args.token.as_deref(),
        )?),
        (None, Some(addr)) => RecordFrom::Remote {
            addr: {
                refuse_nats_flags(addr, &args.nats)?;
                addr.clone()
            },
            trust: trust(&args.trust)?,
            token: args.token.clone(),
        },
        (None, None) => bail!("record needs a source address or --input"),
    };
    let duration = match args.duration {
        Some(s) if !(s.is_finite() && s > 0.0) => {
            bail!("--duration must be a number of seconds above 0, got {s}")
        }
        Some(s) => Some(Duration::from_secs_f64(s)),
        None => None,
    };
    Ok(RecordOptions {
        from,
        output: args.output.clone(),
        duration,
    })
}

/// Runs a session on the screen, or as plain-text summaries when stdout is not a terminal.
async fn show(
    source: SessionSource,
    label: String,
    settings: Settings,
    fps: u32,
    record: Option<std::path::PathBuf>,
    insecure: bool,
) -> anyhow::Result<()> {
    show_with(source, label, settings, fps, record, insecure, None).await
}

/// [`show`], with the analyzers' results in the Fleet pane besides the source.
async fn show_with(
    source: SessionSource,
    label: String,
    settings: Settings,
    fps: u32,
    record: Option<std::path::PathBuf>,
    insecure: bool,
    fleet: Option<FleetWatch>,
) -> anyhow::Result<()> {
    let options = SessionOptions {
        label,
        analysis: Some(settings.analysis),
        pattern_dir: settings.pattern_dir,
        record: record.clone(),
        insecure,
    };
    let session = Session::start(source, options)?;
    if let Some(watch) = fleet {
        session.watch_fleet(watch);
    }
    if std::io::stdout().is_terminal() {
        screen::run(
            session,
            ScreenOptions {
                fps_cap: fps,
                record,
                capture_samples: settings.capture_samples,
            },
        )
        .await
    } else {
        headless::summary::run(session, &mut std::io::stdout()).await
    }
}

/// The no-argument run: the built-in generators published on a random loopback port, attached
/// over real QUIC with their certificate pinned.
async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let settings = session::settings(
        &analysis_options(&args.screen.analysis),
        &session::DEMO_FORMULAS,
    )?;
    let source = DemoSource::new(&args.generator, args.seed)?.with_rate(args.rate)?;
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let publisher = Publisher::bind_with(
        PublisherOptions::new(listen, source.catalog().source.clone()),
        source.catalog().clone(),
    )?;
    let info = publisher.info().clone();
    let shutdown = publisher.shutdown_handle();
    let serving = tokio::spawn(publish_ticks(source, publisher));
    let client = session::connect(&info.addr.to_string(), Trust::Pin(info.fingerprint), None)?;
    let result = show(
        SessionSource::Remote(client),
        format!("demo on {}", info.addr),
        settings,
        args.screen.fps,
        args.screen.record.clone(),
        false,
    )
    .await;
    shutdown.shutdown();
    let _ = serving.await;
    result
}

async fn open(args: &OpenArgs) -> anyhow::Result<()> {
    let settings = session::settings(&analysis_options(&args.screen.analysis), &[])?;
    let Some(path) = args.path.as_ref().or(args.input_url.as_ref()) else {
        bail!("open needs a file, `-` or an sse+https:// input");
    };
    let (source, label) = match sse_options(path, &args.input, &args.sse)? {
        Some(sse) => {
            let source = SseSource::new(sse)?;
            let label = source.options().label();
            (SessionSource::Sse(source), label)
        }
        None => {
            let input = TextInput::open(input_options(path, &args.input, args.rate)?)?;
            let label = input.options().path.label();
            (SessionSource::Input(input), label)
        }
    };
    show(
        source,
        label,
        settings,
        args.screen.fps,
        args.screen.record.clone(),
        false,
    )
    .await
}

async fn attach(args: &AttachArgs) -> anyhow::Result<()> {
    if NatsOptions::is_nats_url(&args.addr) {
        let settings = session::settings(&analysis_options(&args.screen.analysis), &[])?;
        let fleet_only =
            args.results.is_some() && args.nats.subjects.is_empty() && args.nats.stream.is_none();
        let mut nats_args = args.nats.clone();
        if fleet_only {
            // The address and credentials are checked as a source's; nothing subscribes to
            // this subject, the results' subscription is the only one.
            nats_args.subjects = vec![">".to_owned()];
        }
        let opts = nats_options(&args.addr, &nats_args, &args.trust, args.token.as_deref())?;
        let fleet = match &args.results {
            Some(prefix) => Some(FleetWatch::new(opts.clone(), prefix)?),
            None => None,
        };
        let (source, label) = match fleet {
            Some(watch) if fleet_only => {
                let label = format!("{} results {}.>", opts.url, watch.prefix());
                (SessionSource::Fleet(watch), (label, None))
            }
            fleet => {
                let label = opts.label();
                (SessionSource::Nats(NatsSource::new(opts)?), (label, fleet))
            }
        };
        let (label, fleet) = label;
        return show_with(
            source,
            label,
            settings,
            args.screen.fps,
            args.screen.record.clone(),
            false,
            fleet,
        )
        .await;
    }
    if args.results.is_some() {
        bail!(
            "--results is for a NATS server: give its address as nats://HOST:PORT (got {})",
            args.addr
        );
    }
    refuse_nats_flags(&args.addr, &args.nats)?;
    let trust = trust(&args.trust)?;
    let insecure = trust.is_insecure();
    if insecure {
        eprintln!(
            "WARNING: --insecure: the server's certificate is not verified; anyone on the path can impersonate it"
        );
    }
    let client = session::connect(&args.addr, trust, args.token.clone())?;
    let settings = session::settings(&analysis_options(&args.screen.analysis), &[])?;
    show(
        SessionSource::Remote(client),
        args.addr.clone(),
        settings,
        args.screen.fps,
        args.screen.record.clone(),
        insecure,
    )
    .await
}

fn replay_speed(args: &ReplayArgs, default: f64) -> anyhow::Result<f64> {
    let speed = args.speed.unwrap_or(default);
    if !(speed.is_finite() && speed >= 0.0) {
        bail!("--speed must be a finite number >= 0 (0 = as fast as possible), got {speed}");
    }
    Ok(speed)
}

async fn replay(args: &ReplayArgs) -> anyhow::Result<()> {
    let speed = replay_speed(args, 1.0)?;
    let replay = Replay::open(&args.file, speed, ReplayIndex::Scan)?;
    let settings = session::settings(&analysis_options(&args.analysis), &[])?;
    show(
        SessionSource::Replay(Box::new(replay)),
        format!("trace {}", args.file.display()),
        settings,
        args.fps,
        None,
        false,
    )
    .await
}

fn replay_headless(args: &ReplayArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let mut analysis_args = analysis_options(&args.analysis);
    // A headless replay reports on a finished trace, as `check` does: its monitors stop at the
    // first verdict unless told otherwise, and its `formula …: false (violated, decided at step
    // N …)` lines keep their meaning. The dashboard's monitors restart (issue 16).
    analysis_args.default_on_verdict = Some(OnVerdict::Stop);
    let opts = headless::replay::ReplayOptions {
        file: args.file.clone(),
        speed: replay_speed(args, 0.0)?,
        stats: args.stats,
        all_matches: args.all_matches,
        analysis: session::settings(&analysis_args, &[])?.analysis,
    };
    headless::replay::run(&opts, out)?;
    Ok(())
}
