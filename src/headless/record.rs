//! `record`: writes a source to a trace file without a screen. The source is a QUIC source or
//! a NATS server's subjects (until `--duration` passes or the process is stopped), or a file
//! or pipe of text (`--input`: until its end), or an LLM's token stream (`--input
//! sse+https://...`: until `[DONE]`).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::model::LinkState;
use crate::session::{self, Session, SessionOptions, SessionSource};
use crate::sources::input::{InputOptions, TextInput};
use crate::sources::nats::{NatsOptions, NatsSource};
use crate::sources::sse::{SseOptions, SseSource};
use crate::transport::protocol::IDLE_TIMEOUT;
use crate::transport::tls::Trust;

/// How often progress is printed on stderr.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(5);

/// Where `record` takes its records from.
#[derive(Debug, Clone)]
pub enum RecordFrom {
    Remote {
        addr: String,
        trust: Trust,
        token: Option<String>,
    },
    Input(InputOptions),
    /// Subjects of a NATS server, or a JetStream stream.
    Nats(NatsOptions),
    /// An LLM's streaming chat completion: until `[DONE]` or the response is cut.
    Sse(SseOptions),
}

/// Options of `record`.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    pub from: RecordFrom,
    pub output: PathBuf,
    /// Stop after this long (default: until the source ends or the process is stopped).
    pub duration: Option<Duration>,
}

/// Records until the duration passes, the source ends, or a signal; prints what was written.
pub async fn run(opts: &RecordOptions, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let (source, label) = match &opts.from {
        RecordFrom::Remote { addr, trust, token } => {
            if trust.is_insecure() {
                elog!(
                    "WARNING: --insecure: the server's certificate is not verified; anyone on the path can impersonate it"
                );
            }
            let client = session::connect(addr, trust.clone(), token.clone())?;
            (SessionSource::Remote(client), addr.clone())
        }
        RecordFrom::Input(input) => {
            let mut input = input.clone();
            input.echo_problems = true;
            let label = input.path.label();
            (SessionSource::Input(TextInput::open(input)?), label)
        }
        RecordFrom::Nats(nats) => {
            let mut nats = nats.clone();
            nats.echo_problems = true;
            let label = nats.label();
            (SessionSource::Nats(NatsSource::new(nats)?), label)
        }
        RecordFrom::Sse(sse) => {
            let mut sse = sse.clone();
            sse.echo_problems = true;
            let label = sse.label();
            (SessionSource::Sse(SseSource::new(sse)?), label)
        }
    };
    let mut options = SessionOptions::new(label);
    options.record = Some(opts.output.clone());
    let mut session = Session::start(source, options)?;

    let start = Instant::now();
    let mut progress = tokio::time::interval(PROGRESS_INTERVAL);
    progress.tick().await;
    let mut snapshots = session.snapshots.clone();
    let mut last_link = LinkState::Connecting;
    let deadline = opts.duration;
    loop {
        let remaining = deadline.map(|d| d.saturating_sub(start.elapsed()));
        tokio::select! {
            changed = snapshots.changed() => {
                if changed.is_err() {
                    break;
                }
                let (link, failed) = {
                    let snapshot = snapshots.borrow_and_update();
                    (snapshot.source.link.clone(), snapshot.source.recording_error.is_some())
                };
                if link != last_link {
                    log_change(&last_link, &link);
                    last_link = link;
                }
                if failed {
                    // The trace cannot grow: stop here, with the error below.
                    break;
                }
            }
            _ = progress.tick() => {
                let received: u64 = snapshots.borrow().channels.iter().map(|c| c.received).sum();
                elog!("{received} records received");
            }
            () = sleep_or_forever(remaining) => break,
            () = session.source_ended() => break,
            signal = super::serve::stop_signal() => {
                elog!("{signal}");
                break;
            }
        }
    }
    let pipeline = session.finish().await?;
    let status = pipeline.status();
    if status.link != last_link {
        log_change(&last_link, &status.link);
    }
    writeln!(
        out,
        "recorded {} records to {} in {:.1} s",
        status.recorded,
        opts.output.display(),
        start.elapsed().as_secs_f64()
    )?;
    if let Some(report) = status.input.as_ref().filter(|r| r.problems() > 0) {
        elog!("the input had {}", report.summary());
    }
    if let Some(notice) = status.notice.as_ref().filter(|n| n.warning) {
        anyhow::bail!("{}", notice.text);
    }
    if let LinkState::Failed { reason } = &status.link {
        anyhow::bail!("{reason}");
    }
    if status.recorded == 0
        && let (RecordFrom::Input(_), LinkState::Ended { reason }) = (&opts.from, &status.link)
    {
        anyhow::bail!("nothing to record: {reason}");
    }
    Ok(())
}

/// On stderr, what changed from `before` to `link`: a stall once when it starts, and when
/// packets come again, not each time its length grows.
fn log_change(before: &LinkState, link: &LinkState) {
    match (before, link) {
        (LinkState::Stalled { .. }, LinkState::Stalled { .. }) => {}
        (LinkState::Stalled { silent_for, .. }, LinkState::Connected { remote }) => elog!(
            "resumed: packets from {remote} again after {:.1} s of silence",
            silent_for.as_secs_f64()
        ),
        (_, link) => log_link(link),
    }
}

fn log_link(link: &LinkState) {
    match link {
        LinkState::Connected { remote } => elog!("connected to {remote}"),
        LinkState::Stalled { remote, silent_for } => elog!(
            "STALLED: no packet from {remote} for {:.1} s (reconnecting after about {} s of silence)",
            silent_for.as_secs_f64(),
            IDLE_TIMEOUT.as_secs()
        ),
        LinkState::Reading { input } => elog!("reading {input}"),
        LinkState::Reconnecting {
            reason,
            attempt,
            delay,
        } if *attempt > 0 => elog!(
            "reconnecting in {:.1} s (attempt {attempt}): {reason}",
            delay.as_secs_f64()
        ),
        LinkState::Reconnecting { reason, .. } => elog!("disconnected: {reason}"),
        LinkState::Ended { reason } => elog!("{reason}"),
        LinkState::Connecting | LinkState::Replay { .. } | LinkState::Failed { .. } => {}
    }
}

async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}
