//! `record`: attaches to a source and writes what arrives to a trace file, without a screen.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};

use crate::cli::RecordArgs;
use crate::pipeline::{self, Pipeline, PipelineCommand, PublishOptions, Snapshot};
use crate::transport::client::{self, ClientConfig, SourceEvents, TransportEvent};
use crate::transport::tls::Trust;

/// How often progress is printed on stderr.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// Records until `--duration` passes, Ctrl-C, or a fatal error; prints what was written.
pub async fn run(args: &RecordArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let trust = Trust::from_flags(
        args.trust.pin.as_deref(),
        args.trust.ca.as_deref(),
        args.trust.tofu,
        args.trust.insecure,
    )?;
    if trust.is_insecure() {
        eprintln!(
            "WARNING: --insecure: the server's certificate is not verified; anyone on the path can impersonate it"
        );
    }
    let mut config = ClientConfig::new(args.addr.clone(), trust);
    config.token = args.token.clone();
    let mut client = client::connect(config)?;

    let mut pipeline = Pipeline::new(args.addr.clone());
    pipeline.command(PipelineCommand::StartRecording(args.output.clone()))?;
    let (events_tx, events_rx) = mpsc::channel(1024);
    let (commands_tx, commands_rx) = mpsc::channel(1);
    let (snapshots_tx, _snapshots_rx) = watch::channel(Arc::new(Snapshot::default()));
    let pipeline_task = tokio::spawn(pipeline::run(
        pipeline,
        events_rx,
        commands_rx,
        snapshots_tx,
        PublishOptions::default(),
    ));

    let start = Instant::now();
    let deadline = args.duration.map(Duration::from_secs_f64);
    let mut fatal = None;
    let mut convert = SourceEvents::default();
    let mut received = 0u64;
    let mut progress = tokio::time::interval(PROGRESS_INTERVAL);
    progress.tick().await;
    loop {
        let remaining = deadline.map(|d| d.saturating_sub(start.elapsed()));
        tokio::select! {
            event = client.recv() => {
                let Some(event) = event else { break };
                match &event {
                    TransportEvent::Connected { catalog, remote, .. } => {
                        eprintln!("connected to {remote}: {} channels", catalog.channels.len());
                    }
                    TransportEvent::Records(records) => received += records.len() as u64,
                    TransportEvent::Disconnected { reason } => eprintln!("disconnected: {reason}"),
                    TransportEvent::Reconnecting { attempt, delay } => {
                        eprintln!("reconnecting in {:.1} s (attempt {attempt})", delay.as_secs_f64());
                    }
                    TransportEvent::Rtt(_) | TransportEvent::Failed(_) => {}
                }
                let forwarded = match convert.convert(event) {
                    Ok(forwarded) => forwarded,
                    Err(error) => {
                        fatal = Some(error);
                        break;
                    }
                };
                if !pipeline::send_all(&events_tx, forwarded).await {
                    break;
                }
            }
            _ = progress.tick() => eprintln!("{received} records received"),
            _ = sleep_or_forever(remaining) => break,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("interrupted");
                break;
            }
        }
    }
    drop(client);
    drop(events_tx);
    drop(commands_tx);
    let mut pipeline = pipeline_task.await?;
    pipeline.close();
    let status = pipeline.status();
    writeln!(
        out,
        "recorded {} records to {} in {:.1} s",
        status.recorded,
        args.output.display(),
        start.elapsed().as_secs_f64()
    )?;
    if let Some(notice) = status.notice.as_ref().filter(|n| n.warning) {
        anyhow::bail!("{}", notice.text);
    }
    if let Some(error) = fatal {
        anyhow::bail!(error);
    }
    Ok(())
}

async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}
