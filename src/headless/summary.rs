//! Plain-text summaries of the live pipeline, for when stdout is not a terminal
//! (`midstream-tui | head`): one block per interval, one line per channel.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::model::LinkState;
use crate::pipeline::Snapshot;

/// Writes one summary block of `snapshot`.
pub fn write_summary(
    snapshot: &Snapshot,
    elapsed: Duration,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let link = match &snapshot.source.link {
        LinkState::Connecting => "connecting".to_string(),
        LinkState::Connected { remote } => format!("connected to {remote}"),
        LinkState::Stalled { remote, silent_for } => format!(
            "STALLED for {:.1} s: no packet from {remote}",
            silent_for.as_secs_f64()
        ),
        LinkState::Reading { input } => format!("reading {input}"),
        LinkState::Reconnecting {
            reason, attempt, ..
        } => format!("reconnecting (attempt {attempt}): {reason}"),
        LinkState::Replay { speed, paused, .. } => {
            format!("replay x{speed}{}", if *paused { " (paused)" } else { "" })
        }
        LinkState::Ended { reason } => format!("ended: {reason}"),
        LinkState::Failed { reason } => format!("failed: {reason}"),
    };
    let rtt = snapshot.source.rtt.map_or_else(String::new, |rtt| {
        format!(", rtt {:.2} ms", rtt.as_secs_f64() * 1e3)
    });
    writeln!(
        out,
        "[{:>7.1}s] {}: {link}{rtt}",
        elapsed.as_secs_f64(),
        snapshot.source.label
    )?;
    for channel in &snapshot.channels {
        let last = channel
            .last_value
            .as_ref()
            .map_or_else(|| "-".to_string(), |v| v.to_string());
        writeln!(
            out,
            "  {:<14} {:<6} {:>8.1}/s {:>9} records {:>6} gaps  last {}",
            channel.info.name,
            channel.info.kind.label(),
            channel.rate_hz,
            channel.received,
            channel.missing,
            last
        )?;
    }
    out.flush()
}

/// Prints a summary every `interval` until the snapshots end or writing fails (a closed pipe,
/// as with `| head`, ends it quietly).
pub async fn print_summaries(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    interval: Duration,
    out: &mut (dyn Write + Send),
) {
    let start = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval_at(start + interval, interval);
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let snapshot = Arc::clone(&snapshots.borrow_and_update());
                if write_summary(&snapshot, start.elapsed(), out).is_err() {
                    return;
                }
            }
            changed = snapshots.changed() => {
                if changed.is_err() {
                    let snapshot = Arc::clone(&snapshots.borrow());
                    let _ = write_summary(&snapshot, start.elapsed(), out);
                    return;
                }
            }
        }
    }
}

/// How often the plain-text mode prints a summary.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(1);

/// The plain-text mode of a session (stdout is not a terminal): a summary every
/// [`SUMMARY_INTERVAL`] until the source ends, the output is closed or Ctrl-C; then the
/// session is finished (the recording closed).
pub async fn run(
    session: crate::session::Session,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    elog!(
        "midstream-tui: stdout is not a terminal; printing a plain-text summary every {} s instead of drawing",
        SUMMARY_INTERVAL.as_secs()
    );
    tokio::select! {
        () = print_summaries(session.snapshots.clone(), SUMMARY_INTERVAL, out) => {}
        signal = super::serve::stop_signal() => elog!("midstream-tui: {signal}"),
    }
    if let Some(stats) = session.scheduler_stats() {
        super::replay::write_scheduler_stats(&stats, out)?;
        let shed = session.snapshots.borrow().analysis.samples_shed;
        writeln!(
            out,
            "pattern and repetition searches: {shed} samples shed under load"
        )?;
    }
    let mut pipeline = session.finish().await?;
    let received: u64 = pipeline
        .snapshot(std::time::Instant::now())
        .channels
        .iter()
        .map(|c| c.received)
        .sum();
    let status = pipeline.status();
    if status.recorded > 0 || status.recording_error.is_some() {
        writeln!(
            out,
            "received {received} records, recorded {}",
            status.recorded
        )?;
    } else {
        writeln!(out, "received {received} records")?;
    }
    report_problems(status);
    Ok(())
}

/// On stderr, after the session: a recording that stopped early, and what a text input could
/// not use (counts and the first problems by line).
pub fn report_problems(status: &crate::pipeline::SourceStatus) {
    if let Some(error) = &status.recording_error {
        elog!("midstream-tui: recording stopped: {error}");
    }
    if let Some(report) = status.input.as_ref().filter(|r| r.problems() > 0) {
        elog!("midstream-tui: the input had {}", report.summary());
        for problem in &report.first {
            elog!("  {problem}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_is_said_with_its_length() {
        let mut snapshot = Snapshot::default();
        snapshot.source.label = "127.0.0.1:4433".to_owned();
        snapshot.source.link = LinkState::Stalled {
            remote: "127.0.0.1:4433".to_owned(),
            silent_for: Duration::from_millis(5_180),
        };
        let mut out = Vec::new();
        write_summary(&snapshot, Duration::from_secs(12), &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[   12.0s] 127.0.0.1:4433: STALLED for 5.2 s: no packet from 127.0.0.1:4433\n"
        );
    }
}
