//! Prints a trace's footer index without reading its records: how many records it holds,
//! their time span, its channels and index points. For traces too large to replay just to
//! count them (the load run's 25 GB trace).
//!
//!     cargo run --release --example trace_footer -- FILE

use std::path::PathBuf;
use std::process::ExitCode;

use midstream::trace::TraceReader;

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: trace_footer FILE");
        return ExitCode::from(2);
    };
    let mut reader = match TraceReader::open(&path) {
        Ok(reader) => reader,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::FAILURE;
        }
    };
    let Some(index) = reader.read_footer() else {
        eprintln!(
            "{}: no footer index (the recording did not end cleanly, or the trace is older \
             than version 3); `midstream-tui replay --headless` counts its records",
            path.display()
        );
        return ExitCode::FAILURE;
    };
    println!(
        "{}: {} records over {:.3} s, {} channels, {} index points every {} bytes",
        path.display(),
        index.records,
        index.last_t_ns.saturating_sub(index.first_t_ns) as f64 / 1e9,
        index.catalog.channels.len(),
        index.points.len(),
        index.spacing
    );
    ExitCode::SUCCESS
}
