//! `midstream-tui`: parse the command line and dispatch.

use std::process::ExitCode;

use clap::Parser;
use midstream::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => Err(anyhow::anyhow!("the dashboard is not wired yet")),
        Some(Command::Serve(_))
        | Some(Command::Attach(_))
        | Some(Command::Record(_))
        | Some(Command::Replay(_)) => Err(anyhow::anyhow!("not wired yet")),
        Some(Command::Compare(_))
        | Some(Command::Analyze(_))
        | Some(Command::Check(_))
        | Some(Command::Motifs(_)) => Err(anyhow::anyhow!("not wired yet")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("midstream-tui: {err:#}");
            ExitCode::FAILURE
        }
    }
}
