//! `midstream-tui`: parse the command line and dispatch.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Parser;
use midstream::cli::{AttachArgs, Cli, Command, CompareArgs, DemoArgs, ReplayArgs, TrustArgs};
use midstream::headless;
use midstream::sources::DemoSource;
use midstream::sources::replay::Replay;
use midstream::trace::read_trace;
use midstream::transport::server::{Server, ServerConfig};
use midstream::transport::tls::Trust;
use midstream::tui::session::{self, ScreenOptions, SessionSource};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("midstream-tui: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    match cli.command {
        None => runtime()?.block_on(demo(&cli.demo)),
        Some(Command::Serve(args)) => runtime()?.block_on(headless::serve::run(&args, &mut stdout)),
        Some(Command::Attach(args)) => runtime()?.block_on(attach(&args)),
        Some(Command::Record(args)) => {
            runtime()?.block_on(headless::record::run(&args, &mut stdout))
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
            Ok(headless::check::run(&opts, &mut stdout)?)
        }
        Some(Command::Analyze(args)) => {
            let opts = headless::analyze::AnalyzeOptions {
                dt: args.dt,
                dim: args.dim,
                delay: args.delay,
                json: args.json,
                file: args.file,
            };
            Ok(headless::analyze::run(&opts, &mut stdout)?)
        }
        Some(Command::Motifs(args)) => {
            let opts = headless::motifs::MotifsOptions {
                window: args.window,
                top: args.top,
                json: args.json,
                file: args.file,
            };
            Ok(headless::motifs::run(&opts, &mut stdout)?)
        }
    }
}

fn compare(args: &CompareArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    Ok(headless::compare::run(&args.into(), out)?)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The no-argument run: a demo source on a random loopback port, attached over real QUIC with
/// its certificate pinned.
async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let settings = session::settings(&args.analysis, &session::DEMO_FORMULAS)?;
    let source = DemoSource::new(&args.generator, args.seed)?.with_rate(args.rate)?;
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let (server, info) = Server::bind(ServerConfig::new(listen, source))?;
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.run());
    let client = session::connect(&info.addr.to_string(), Trust::Pin(info.fingerprint), None)?;
    let result = session::run(
        SessionSource::Remote(client),
        ScreenOptions {
            fps_cap: args.fps,
            record: args.record.clone(),
            insecure: false,
            label: format!("demo on {}", info.addr),
            settings,
        },
    )
    .await;
    shutdown.shutdown();
    let _ = serving.await;
    result
}

fn trust(flags: &TrustArgs) -> anyhow::Result<Trust> {
    Ok(Trust::from_flags(
        flags.pin.as_deref(),
        flags.ca.as_deref(),
        flags.tofu,
        flags.insecure,
    )?)
}

async fn attach(args: &AttachArgs) -> anyhow::Result<()> {
    let trust = trust(&args.trust)?;
    let insecure = trust.is_insecure();
    if insecure {
        eprintln!(
            "WARNING: --insecure: the server's certificate is not verified; anyone on the path can impersonate it"
        );
    }
    let client = session::connect(&args.addr, trust, args.token.clone())?;
    session::run(
        SessionSource::Remote(client),
        ScreenOptions {
            fps_cap: args.fps,
            record: args.record.clone(),
            insecure,
            label: args.addr.clone(),
            settings: session::settings(&args.analysis, &[])?,
        },
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
    let trace = read_trace(&args.file)?;
    session::run(
        SessionSource::Replay(Replay::new(trace, speed)),
        ScreenOptions {
            fps_cap: args.fps,
            record: None,
            insecure: false,
            label: format!("trace {}", args.file.display()),
            settings: session::settings(&args.analysis, &[])?,
        },
    )
    .await
}

fn replay_headless(args: &ReplayArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let opts = headless::replay::ReplayOptions {
        file: args.file.clone(),
        speed: replay_speed(args, 0.0)?,
        stats: args.stats,
        analysis: session::settings(&args.analysis, &[])?.analysis,
    };
    headless::replay::run(&opts, out)?;
    Ok(())
}
