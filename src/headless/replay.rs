//! `replay --headless`: replays a trace through the pipeline and prints, per channel, the
//! records replayed and the gaps, then how reading the trace ended.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use tokio::sync::mpsc;

use super::HeadlessError;
use crate::pipeline::Pipeline;
use crate::sources::replay::Replay;
use crate::trace::read_trace;

pub struct ReplayOptions {
    pub file: PathBuf,
    /// 0 = as fast as possible.
    pub speed: f64,
}

/// Replays the trace and writes the per-channel report.
pub fn run(opts: &ReplayOptions, out: &mut dyn Write) -> Result<(), HeadlessError> {
    let trace = read_trace(&opts.file).map_err(|e| HeadlessError::Invalid(e.to_string()))?;
    let stop = trace.stop.clone();
    let recovered = trace.records.len();
    let file_len = trace.file_len;
    let source = trace.header.source.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(HeadlessError::Output)?;
    let pipeline = runtime.block_on(async {
        let (tx, mut rx) = mpsc::channel(64);
        let replay = tokio::spawn(Replay::new(trace, opts.speed).run(tx, None));
        let mut pipeline = Pipeline::new(opts.file.display().to_string());
        while let Some(event) = rx.recv().await {
            pipeline.handle(event, Instant::now());
        }
        let _ = replay.await;
        pipeline
    });
    let snapshot = {
        let mut pipeline = pipeline;
        pipeline.snapshot(Instant::now())
    };
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
    Ok(())
}
