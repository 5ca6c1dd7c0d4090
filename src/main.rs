//! `midstream-tui`: parse the command line and dispatch.

use std::process::ExitCode;

use anyhow::bail;
use clap::Parser;
use midstream::cli::{Cli, Command, ReplayArgs};
use midstream::headless;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("midstream-tui: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match cli.command {
        None => bail!("the dashboard is not wired yet"),
        Some(Command::Replay(args)) if args.headless => replay_headless(&args, &mut stdout),
        Some(_) => bail!("this subcommand is not wired yet"),
    }
}

fn replay_headless(args: &ReplayArgs, out: &mut dyn std::io::Write) -> anyhow::Result<ExitCode> {
    let speed = args.speed.unwrap_or(0.0);
    if !(speed.is_finite() && speed >= 0.0) {
        bail!("--speed must be a finite number >= 0 (0 = as fast as possible), got {speed}");
    }
    let opts = headless::replay::ReplayOptions {
        file: args.file.clone(),
        speed,
    };
    headless::replay::run(&opts, out)?;
    Ok(ExitCode::SUCCESS)
}
