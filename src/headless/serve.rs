//! `serve`: publishes the built-in generators, a file or pipe of text (`--input`), or an LLM's
//! token stream (`--input sse+https://...`), over QUIC
//! until interrupted (Ctrl-C, SIGTERM or SIGHUP close every connection with a reason), and logs
//! what happens to its clients on stderr.

use std::io::Write;
use std::net::SocketAddr;

use crate::model::{LinkState, SourceEvent};
use crate::publish::{Publisher, PublisherOptions, publish_ticks};
use crate::sources::DemoSource;
use crate::sources::input::{InputEnd, InputOptions, TextInput};
use crate::sources::sse::{SseOptions, SseSource};
use crate::transport::server::{CertificateSource, Delivery, ServerEvent, ServerLimits};

/// What `serve` publishes.
#[derive(Debug, Clone)]
pub enum ServeSource {
    /// Built-in generators, ticking at `rate_hz` records per second each.
    Generators {
        names: Vec<String>,
        rate_hz: f64,
        seed: u64,
    },
    /// A file or pipe, read when the first client subscribes.
    Input(InputOptions),
    /// An LLM's streaming chat completion, requested when the first client subscribes.
    Sse(SseOptions),
}

/// What is published, opened.
enum Feed {
    Generators(DemoSource),
    Text(TextInput),
    Sse(SseSource),
}

/// Options of `serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub source: ServeSource,
    pub certificate: CertificateSource,
    pub token: Option<String>,
    /// What one client may make the server do.
    pub limits: ServerLimits,
}

/// Binds, prints how to attach, and serves until interrupted.
pub async fn run(opts: &ServeOptions, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let mut publisher_opts = PublisherOptions::new(opts.listen, "");
    publisher_opts.certificate = opts.certificate.clone();
    publisher_opts.token = opts.token.clone();
    publisher_opts.limits = opts.limits;
    let mut publisher;
    let input;
    match &opts.source {
        ServeSource::Generators {
            names,
            rate_hz,
            seed,
        } => {
            let source = DemoSource::new(names, *seed)?.with_rate(*rate_hz)?;
            publisher_opts.description = source.catalog().source.clone();
            publisher = Publisher::bind_with(publisher_opts, source.catalog().clone())?;
            writeln!(
                out,
                "serving {} ({} channels, {rate_hz} records/s each) on {} with ALPN midstream/1",
                names.join(","),
                source.catalog().channels.len(),
                publisher.info().addr
            )?;
            input = Feed::Generators(source);
        }
        ServeSource::Input(input_opts) => {
            let mut input_opts = input_opts.clone();
            input_opts.echo_problems = true;
            let opened = TextInput::open(input_opts.clone())?;
            publisher_opts.description =
                format!("{} ({})", input_opts.source_name(), input_opts.path.label());
            // Every record to every client: a file is read as fast as the slowest client takes it.
            publisher_opts.delivery = Delivery::Complete;
            publisher = Publisher::bind(publisher_opts)?;
            writeln!(
                out,
                "serving {} on {} with ALPN midstream/1; reading starts when the first client subscribes",
                input_opts.path.label(),
                publisher.info().addr
            )?;
            input = Feed::Text(opened);
        }
        ServeSource::Sse(sse_opts) => {
            let mut sse_opts = sse_opts.clone();
            sse_opts.echo_problems = true;
            let opened = SseSource::new(sse_opts)?;
            let catalog = opened.catalog();
            publisher_opts.description = catalog.source.clone();
            // Every token to every client, as for a file.
            publisher_opts.delivery = Delivery::Complete;
            publisher = Publisher::bind_with(publisher_opts, catalog)?;
            writeln!(
                out,
                "serving {} on {} with ALPN midstream/1; the request is sent when the first client subscribes",
                opened.options().label(),
                publisher.info().addr
            )?;
            input = Feed::Sse(opened);
        }
    }
    let info = publisher.info().clone();
    writeln!(out, "certificate SHA-256 fingerprint: {}", info.fingerprint)?;
    if let Some(command) = &info.attach_command {
        writeln!(out, "attach with:\n  {command}")?;
    }
    out.flush()?;
    let limits = &opts.limits;
    elog!(
        "limits: {} clients, {} per address; per client {} channels, messages of {} bytes",
        limits.max_clients,
        limits.max_clients_per_address,
        limits.max_channels,
        limits.max_frame_bytes
    );
    let mut events = publisher.take_events();
    let shutdown = publisher.shutdown_handle();
    let serving = match input {
        Feed::Generators(generators) => tokio::spawn(publish_ticks(generators, publisher)),
        Feed::Text(text) => tokio::spawn(publish_input(text, publisher)),
        Feed::Sse(sse) => tokio::spawn(publish_sse(sse, publisher)),
    };
    let log = async {
        if let Some(events) = events.as_mut() {
            while let Some(event) = events.recv().await {
                elog!("{}", describe(&event));
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        signal = stop_signal() => {
            // The clients first: whatever becomes of the log, they are told why.
            shutdown.shutdown_because(&format!("server shutting down ({})", signal.name()));
            elog!("{signal}: closing connections");
        }
        () = log => {}
    }
    let _ = serving.await;
    Ok(())
}

/// Waits for the first client, then reads the input on a thread and publishes what it parses;
/// at the end of the input the streams end, and the server goes on until it is stopped.
async fn publish_input(input: TextInput, mut publisher: Publisher) {
    publisher.subscribed().await;
    let label = input.options().path.label();
    let read = tokio::task::spawn_blocking(move || {
        let mut sink = |event: SourceEvent| match event {
            SourceEvent::Catalog(catalog) => publisher.blocking_set_catalog(catalog).is_ok(),
            SourceEvent::Records(records) => publisher.blocking_send_records(records).is_ok(),
            _ => true,
        };
        let end = input.run(&mut sink);
        (end, publisher)
    });
    let Ok((end, publisher)) = read.await else {
        return;
    };
    match end {
        InputEnd::Ended => elog!("end of input {label}: every record was published"),
        InputEnd::Failed(reason) => elog!("midstream-tui: {reason}"),
        InputEnd::Stopped => {}
    }
    publisher.finish().await;
}

/// Waits for the first client, then sends the request and publishes the token stream; at its
/// end (or cut) the streams end, and the server goes on until it is stopped.
async fn publish_sse(sse: SseSource, mut publisher: Publisher) {
    publisher.subscribed().await;
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let reading = tokio::spawn(sse.run(tx));
    while let Some(event) = rx.recv().await {
        let sent = match event {
            SourceEvent::Catalog(catalog) => publisher.set_catalog(catalog).await.is_ok(),
            SourceEvent::Records(records) => publisher.send_records(records).await.is_ok(),
            SourceEvent::Link(LinkState::Connected { remote }) => {
                elog!("streaming from {remote}");
                true
            }
            SourceEvent::Link(LinkState::Ended { reason }) => {
                elog!("{reason}: every token was published");
                true
            }
            SourceEvent::Link(LinkState::Failed { reason }) => {
                elog!("midstream-tui: {reason}");
                true
            }
            _ => true,
        };
        if !sent {
            break;
        }
    }
    drop(rx);
    let _ = reading.await;
    publisher.finish().await;
}

/// A signal that asks the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`kill`, service managers).
    Terminate,
    /// SIGHUP (the terminal went away).
    HangUp,
}

impl StopSignal {
    /// The signal's name: `SIGINT`, `SIGTERM`, `SIGHUP`.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::HangUp => "SIGHUP",
        }
    }
}

/// What happened, as the log says it: `interrupted`, `terminated (SIGTERM)`, `hung up (SIGHUP)`.
impl std::fmt::Display for StopSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopSignal::Interrupt => "interrupted",
            StopSignal::Terminate => "terminated (SIGTERM)",
            StopSignal::HangUp => "hung up (SIGHUP)",
        })
    }
}

/// The first of Ctrl-C (SIGINT), SIGTERM and SIGHUP.
pub async fn stop_signal() -> StopSignal {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return StopSignal::Interrupt;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => StopSignal::Interrupt,
        _ = term.recv() => StopSignal::Terminate,
        _ = hup.recv() => StopSignal::HangUp,
    }
}

fn describe(event: &ServerEvent) -> String {
    match event {
        ServerEvent::ClientSubscribed { remote, channels } => {
            format!("{remote}: subscribed to {channels} channels")
        }
        ServerEvent::ClientClosed {
            remote,
            code,
            reason,
        } => {
            format!("{remote}: closed ({}): {reason}", code.name())
        }
        ServerEvent::ClientLeft { remote, reason } => format!("{remote}: left: {reason}"),
        ServerEvent::ClientLagged {
            remote,
            channel,
            batches,
        } => format!("{remote}: fell behind on channel {channel}, {batches} batches dropped"),
        ServerEvent::RecordDropped { channel, seq } => {
            format!("dropped record {seq} of channel {channel}: too large for one frame")
        }
    }
}
