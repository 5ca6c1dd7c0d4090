//! Subjects of a NATS server as a source (`attach nats://HOST:PORT --subject sensors.>`),
//! through core NATS or, with a stream name, a durable JetStream consumer.
//!
//! Each concrete subject becomes its channels by the text input's record rules
//! ([`MessageParser`]); channels appear as their first message arrives (a catalog update).
//! Bad payloads are counted and listed in an [`InputReport`], as a text input's bad lines.
//!
//! The client is the NATS project's own `async-nats`: it reconnects by itself and subscribes
//! again. Its connection events drive the [`LinkState`] (Connected, Reconnecting with the
//! attempt and delay), so the status line shows a lost connection as it does for QUIC.
//!
//! JetStream: the consumer reads the whole stream, with no acknowledgements (`AckPolicy::None`),
//! and `--subject` selects on the client. So every stream sequence number is seen, and a jump
//! is messages removed from the stream (its limits) before they reached this dashboard: they
//! are counted as a gap ([`MessageParser::note_missed`]). A filtered consumer would skip the
//! other subjects' numbers too, and a jump would say nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::AckPolicy, consumer::DeliverPolicy, consumer::pull};
use futures_util::stream::{BoxStream, SelectAll};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;

use super::input::{MAX_INPUT_CHANNELS, REPORT_INTERVAL, ReportThrottle};
use super::text::{MessageParser, MessageProblem, parse_time_s};
use crate::model::{InputReport, LinkState, MAX_LISTED_PROBLEMS, Record, SourceEvent};

/// Most records handed on at once; fewer whenever no message is waiting.
pub const NATS_BATCH: usize = 1024;

/// First reconnect delay, doubled up to [`RECONNECT_MAX`]: the QUIC client's backoff.
const RECONNECT_FIRST: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(8);

/// Tries of the stream's information request before its error is final: with the backoff,
/// about 24 s (a JetStream that does not answer, such as a server without `-js`).
const STREAM_REQUEST_ATTEMPTS: usize = 8;

/// How long a consumer named by midstream itself (no `--durable`) outlives its last
/// connection on the server before the server removes it: long enough for any reconnect.
const OWN_CONSUMER_INACTIVE: Duration = Duration::from_secs(600);

/// Where a JetStream consumer starts.
#[derive(Debug, Clone, PartialEq)]
pub enum StartPosition {
    /// Messages published from now on.
    New,
    /// Everything the stream holds.
    All,
    /// Messages published since this many seconds since the Unix epoch.
    At(f64),
    /// Messages published since this long before the consumer is made.
    Ago(Duration),
}

impl std::str::FromStr for StartPosition {
    type Err = String;

    /// `new`, `all`, an RFC 3339 time, or a duration ago: `90s`, `15m`, `1h`, `2d`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        match text {
            "new" => return Ok(StartPosition::New),
            "all" => return Ok(StartPosition::All),
            _ => {}
        }
        if let Some(t) = parse_time_s(text) {
            return Ok(StartPosition::At(t));
        }
        let unit_s = match text.chars().last() {
            Some('s') => 1.0,
            Some('m') => 60.0,
            Some('h') => 3600.0,
            Some('d') => 86_400.0,
            _ => 0.0,
        };
        let amount = text[..text.len().saturating_sub(1)].parse::<f64>().ok();
        match amount {
            Some(x) if unit_s > 0.0 && x.is_finite() && x >= 0.0 => {
                Ok(StartPosition::Ago(Duration::from_secs_f64(x * unit_s)))
            }
            _ => Err(format!(
                "--from {text:?}: expected new, all, an RFC 3339 time \
                 (2026-12-06T10:00:00Z) or a duration ago (90s, 15m, 1h, 2d)"
            )),
        }
    }
}

/// A JetStream stream to read instead of core NATS.
#[derive(Debug, Clone)]
pub struct JetStreamOptions {
    pub stream: String,
    pub from: StartPosition,
    /// The durable consumer's name: a later run with the same name resumes where this one
    /// stopped (`from` applies when it is made). `None`: a name of this run's own, removed by
    /// the server 10 minutes after its last connection.
    pub durable: Option<String>,
}

/// Credentials, per NATS conventions.
#[derive(Debug, Clone, Default)]
pub struct NatsAuth {
    /// A `.creds` file (a user JWT and its nkey seed).
    pub creds: Option<PathBuf>,
    /// A file holding an nkey seed (`SU...`).
    pub nkey_seed: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// What `attach nats://...` and `record nats://...` ask for.
#[derive(Debug, Clone)]
pub struct NatsOptions {
    /// `nats://HOST:PORT` or `tls://HOST:PORT`.
    pub url: String,
    /// Subjects, wildcards allowed (`sensors.*`, `sensors.>`). With a stream: empty is all.
    pub subjects: Vec<String>,
    pub jetstream: Option<JetStreamOptions>,
    pub auth: NatsAuth,
    /// A PEM file of CA certificates to trust for `tls://`, besides the system's.
    pub ca: Option<PathBuf>,
    /// Print each of the first problems on stderr as it happens (headless commands).
    pub echo_problems: bool,
}

impl NatsOptions {
    /// Whether `url` names a NATS server (`nats://` or `tls://`).
    pub fn is_nats_url(url: &str) -> bool {
        url.starts_with("nats://") || url.starts_with("tls://")
    }

    /// How the source is shown: `nats://127.0.0.1:4222 sensors.>` or `... stream SENSORS`.
    pub fn label(&self) -> String {
        let mut label = self.url.clone();
        if let Some(js) = &self.jetstream {
            label.push_str(&format!(" stream {}", js.stream));
        }
        if !self.subjects.is_empty() {
            label.push(' ');
            label.push_str(&self.subjects.join(" "));
        }
        label
    }

    /// Checks what can be checked before connecting.
    pub fn check(&self) -> Result<(), String> {
        if !Self::is_nats_url(&self.url) {
            return Err(format!(
                "{}: a NATS server is nats://HOST:PORT or tls://HOST:PORT",
                self.url
            ));
        }
        if self.subjects.is_empty() && self.jetstream.is_none() {
            return Err("a NATS source needs --subject SUBJECT (or --stream NAME)".to_owned());
        }
        if let Some(bad) = self.subjects.iter().find(|s| !valid_subject(s)) {
            return Err(format!(
                "--subject {bad:?}: not a NATS subject (tokens separated by dots, `*` for one \
                 token, `>` for the rest at the end)"
            ));
        }
        if self.auth.password.is_some() != self.auth.user.is_some() {
            return Err("--user and --password (NATS_USER, NATS_PASSWORD) go together".to_owned());
        }
        if let Some(ca) = &self.ca
            && let Err(e) = std::fs::File::open(ca)
        {
            return Err(format!(
                "--ca {}: cannot read the CA file: {e}",
                ca.display()
            ));
        }
        Ok(())
    }
}

/// Whether `subject` is a valid subscription: non-empty tokens, `>` only last.
fn valid_subject(subject: &str) -> bool {
    let tokens: Vec<&str> = subject.split('.').collect();
    tokens.iter().enumerate().all(|(i, t)| {
        !t.is_empty()
            && !t.contains(char::is_whitespace)
            && (*t != ">" || i == tokens.len() - 1)
            && (t.len() == 1 || !t.contains(['*', '>']))
    })
}

/// Whether the concrete `subject` matches the subscription `pattern` (`*` one token, `>` one
/// or more at the end), as the server matches them.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for p in pattern.split('.') {
        match (p, subject_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (p, Some(s)) if p == s => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

/// Why the source cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("{0}")]
    Options(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("JetStream stream {stream:?}: {reason}")]
    Stream { stream: String, reason: String },
}

/// One message as the source takes it: subject, payload, and for JetStream the stream
/// sequence number and publication time (Unix nanoseconds).
struct Incoming {
    subject: String,
    payload: Vec<u8>,
    stream: Option<(u64, i128)>,
}

type Feed = BoxStream<'static, Result<Incoming, String>>;

/// What the client's callbacks tell the source's loop.
enum ConnectionNote {
    Event(async_nats::Event),
    Retry { attempt: u32, delay: Duration },
}

/// A NATS source, ready to [`run`](NatsSource::run).
pub struct NatsSource {
    opts: NatsOptions,
}

impl NatsSource {
    pub fn new(opts: NatsOptions) -> Result<Self, NatsError> {
        opts.check().map_err(NatsError::Options)?;
        Ok(Self { opts })
    }

    pub fn options(&self) -> &NatsOptions {
        &self.opts
    }

    /// Connects, subscribes, and sends the messages' records to `events` until the consumer
    /// goes away or the source fails for good (then the link is `Failed` with the reason).
    pub async fn run(self, events: mpsc::Sender<SourceEvent>) {
        if let Err(error) = self.run_inner(&events).await {
            let _ = events
                .send(SourceEvent::Link(LinkState::Failed {
                    reason: error.to_string(),
                }))
                .await;
        }
    }

    async fn run_inner(&self, events: &mpsc::Sender<SourceEvent>) -> Result<(), NatsError> {
        if events
            .send(SourceEvent::Link(LinkState::Connecting))
            .await
            .is_err()
        {
            return Ok(());
        }
        let (notes_tx, mut notes) = mpsc::unbounded_channel();
        let Some(client) = self.connect(notes_tx, events).await? else {
            return Ok(());
        };
        let mut feed = self.subscribe(&client).await?;
        let mut reading = Reading::new(&self.opts);
        let mut report_tick = tokio::time::interval(REPORT_INTERVAL);
        let mut link = LinkState::Connecting;
        let mut last_reason = format!("cannot reach {}", self.opts.url);
        // The client's retries are noted before each connection attempt, the first one
        // included, and may overtake the disconnection event: they are shown only while
        // disconnected.
        let mut connected = false;
        if let async_nats::connection::State::Connected = client.connection_state() {
            connected = true;
            link = LinkState::Connected {
                remote: self.opts.url.clone(),
            };
            if events.send(SourceEvent::Link(link.clone())).await.is_err() {
                return Ok(());
            }
        }
        loop {
            tokio::select! {
                Some(note) = notes.recv() => {
                    let next = match note {
                        ConnectionNote::Event(async_nats::Event::Connected) => {
                            connected = true;
                            LinkState::Connected { remote: self.opts.url.clone() }
                        }
                        ConnectionNote::Event(async_nats::Event::Disconnected) => {
                            connected = false;
                            last_reason = format!("lost the connection to {}", self.opts.url);
                            LinkState::Reconnecting { reason: last_reason.clone(), attempt: 0, delay: Duration::ZERO }
                        }
                        ConnectionNote::Retry { .. } if connected => continue,
                        ConnectionNote::Event(async_nats::Event::ServerError(e)) => {
                            last_reason = format!("server error: {e}");
                            continue;
                        }
                        ConnectionNote::Event(async_nats::Event::Closed) => {
                            return Err(NatsError::Connect {
                                url: self.opts.url.clone(),
                                reason: format!("the client closed the connection: {last_reason}"),
                            });
                        }
                        ConnectionNote::Event(_) => continue,
                        ConnectionNote::Retry { attempt, delay } => LinkState::Reconnecting {
                            reason: last_reason.clone(),
                            attempt,
                            delay,
                        },
                    };
                    if next != link {
                        link = next;
                        if events.send(SourceEvent::Link(link.clone())).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                item = feed.next() => {
                    let Some(item) = item else {
                        return Err(NatsError::Connect {
                            url: self.opts.url.clone(),
                            reason: "the subscription ended".to_owned(),
                        });
                    };
                    reading.take(item);
                    // Whatever else is waiting, up to a batch, without waiting for more.
                    while reading.out.len() < NATS_BATCH {
                        match feed.next().now_or_never() {
                            Some(Some(item)) => reading.take(item),
                            _ => break,
                        }
                    }
                    if !reading.flush(events, false).await {
                        return Ok(());
                    }
                }
                _ = report_tick.tick() => {
                    if !reading.flush(events, true).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Connects, trying again with the backoff while the server cannot be reached (shown as
    /// `Reconnecting`); refused credentials and TLS failures are final. `Ok(None)`: the
    /// consumer went away meanwhile.
    async fn connect(
        &self,
        notes: mpsc::UnboundedSender<ConnectionNote>,
        events: &mpsc::Sender<SourceEvent>,
    ) -> Result<Option<async_nats::Client>, NatsError> {
        use async_nats::ConnectErrorKind;
        let url = &self.opts.url;
        let mut attempt = 0u32;
        loop {
            let options = self.connect_options(notes.clone()).await?;
            let error = match options.connect(url.as_str()).await {
                Ok(client) => return Ok(Some(client)),
                Err(error) => error,
            };
            if matches!(
                error.kind(),
                ConnectErrorKind::AuthorizationViolation
                    | ConnectErrorKind::Authentication
                    | ConnectErrorKind::Tls
            ) || is_tls_refusal(&error)
            {
                return Err(NatsError::Connect {
                    url: url.clone(),
                    reason: error.to_string(),
                });
            }
            attempt += 1;
            let delay = reconnect_delay(attempt as usize + 1);
            let link = LinkState::Reconnecting {
                reason: format!("cannot reach {url}: {error}"),
                attempt,
                delay,
            };
            if events.send(SourceEvent::Link(link)).await.is_err() {
                return Ok(None);
            }
            tokio::time::sleep(delay).await;
        }
    }

    /// The client's options: reconnection with the backoff, its events to `notes`, the
    /// credentials and the TLS trust.
    async fn connect_options(
        &self,
        notes: mpsc::UnboundedSender<ConnectionNote>,
    ) -> Result<async_nats::ConnectOptions, NatsError> {
        let opts = &self.opts;
        let mut connect = async_nats::ConnectOptions::new()
            .name("midstream-tui")
            .max_reconnects(None);
        let retry_notes = notes.clone();
        connect = connect.reconnect_delay_callback(move |attempts| {
            let delay = reconnect_delay(attempts);
            // Attempt 1 is the first try itself; from the second on it is a retry.
            if attempts >= 2 {
                let _ = retry_notes.send(ConnectionNote::Retry {
                    attempt: u32::try_from(attempts - 1).unwrap_or(u32::MAX),
                    delay,
                });
            }
            delay
        });
        let notes = Arc::new(notes);
        connect = connect.event_callback(move |event| {
            let notes = notes.clone();
            async move {
                let _ = notes.send(ConnectionNote::Event(event));
            }
        });
        connect = with_credentials(connect, opts).await?;
        Ok(connect)
    }

    /// The messages of the subjects: core subscriptions, or the stream's consumer.
    async fn subscribe(&self, client: &async_nats::Client) -> Result<Feed, NatsError> {
        let Some(js) = &self.opts.jetstream else {
            let mut all = SelectAll::new();
            for subject in &self.opts.subjects {
                let subscriber =
                    client
                        .subscribe(subject.clone())
                        .await
                        .map_err(|e| NatsError::Connect {
                            url: self.opts.url.clone(),
                            reason: format!("cannot subscribe to {subject}: {e}"),
                        })?;
                all.push(subscriber.map(|m| {
                    Ok(Incoming {
                        subject: m.subject.to_string(),
                        payload: m.payload.to_vec(),
                        stream: None,
                    })
                }));
            }
            return Ok(all.boxed());
        };
        let context = jetstream::new(client.clone());
        let stream_error = |reason: String| NatsError::Stream {
            stream: js.stream.clone(),
            reason,
        };
        // A request that got no answer (the connection dropped meanwhile, the server is busy)
        // is asked again, for about half a minute; a JetStream error (no such stream) is final.
        let mut attempt = 0usize;
        let stream = loop {
            match context.get_stream(&js.stream).await {
                Ok(stream) => break stream,
                Err(e)
                    if matches!(e.kind(), jetstream::context::GetStreamErrorKind::Request)
                        && attempt < STREAM_REQUEST_ATTEMPTS =>
                {
                    attempt += 1;
                    tokio::time::sleep(reconnect_delay(attempt)).await;
                }
                Err(e) => return Err(stream_error(e.to_string())),
            }
        };
        let (durable, inactive_threshold) = match &js.durable {
            Some(name) => (name.clone(), Duration::ZERO),
            None => (
                format!("midstream-{}-{:x}", std::process::id(), unix_now_ns()),
                OWN_CONSUMER_INACTIVE,
            ),
        };
        let deliver_policy = match &js.from {
            StartPosition::New => DeliverPolicy::New,
            StartPosition::All => DeliverPolicy::All,
            StartPosition::At(t_s) => DeliverPolicy::ByStartTime {
                start_time: unix_time(*t_s).map_err(stream_error)?,
            },
            StartPosition::Ago(ago) => {
                let now_s = unix_now_ns() as f64 / 1e9;
                DeliverPolicy::ByStartTime {
                    start_time: unix_time(now_s - ago.as_secs_f64()).map_err(stream_error)?,
                }
            }
        };
        let config = pull::Config {
            durable_name: Some(durable.clone()),
            deliver_policy,
            ack_policy: AckPolicy::None,
            inactive_threshold,
            ..pull::Config::default()
        };
        let consumer = stream
            .get_or_create_consumer(&durable, config)
            .await
            .map_err(|e| stream_error(format!("cannot make consumer {durable}: {e}")))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| stream_error(format!("cannot read consumer {durable}: {e}")))?;
        let subjects = self.opts.subjects.clone();
        let feed = messages.map(move |item| {
            let message = item.map_err(|e| e.to_string())?;
            let info = message
                .info()
                .map_err(|e| format!("a message without its stream position: {e}"))?;
            let stream = Some((info.stream_sequence, info.published.unix_timestamp_nanos()));
            let subject = message.subject.as_str();
            if !subjects.is_empty() && !subjects.iter().any(|p| subject_matches(p, subject)) {
                // Another subject of the stream: its number is seen, it makes no record.
                return Ok(Incoming {
                    subject: String::new(),
                    payload: Vec::new(),
                    stream,
                });
            }
            Ok(Incoming {
                subject: subject.to_owned(),
                payload: message.payload.to_vec(),
                stream,
            })
        });
        Ok(feed.boxed())
    }
}

/// `connect` with the credentials and the TLS trust of `opts` (`--creds`, `--nkey`,
/// `--user`/`--password`, `--ca`, `tls://`): shared by the source, the analyzers and the
/// Fleet pane's results subscription.
pub async fn with_credentials(
    mut connect: async_nats::ConnectOptions,
    opts: &NatsOptions,
) -> Result<async_nats::ConnectOptions, NatsError> {
    if let Some(path) = &opts.auth.creds {
        connect = connect
            .credentials_file(path)
            .await
            .map_err(|source| NatsError::Read {
                path: path.clone(),
                source,
            })?;
    }
    if let Some(path) = &opts.auth.nkey_seed {
        let seed = std::fs::read_to_string(path).map_err(|source| NatsError::Read {
            path: path.clone(),
            source,
        })?;
        connect = connect.nkey(seed.trim().to_owned());
    }
    if let (Some(user), Some(password)) = (&opts.auth.user, &opts.auth.password) {
        connect = connect.user_and_password(user.clone(), password.clone());
    }
    if let Some(ca) = &opts.ca {
        connect = connect.add_root_certificates(ca.clone());
    }
    if opts.url.starts_with("tls://") {
        connect = connect.require_tls(true);
    }
    Ok(connect)
}

/// Whether a connection error is TLS refusing the server (an untrusted or wrong certificate).
/// async-nats reports a failed handshake as an I/O error, whose source is rustls's error: that
/// is final, as a refused credential is, and trying again every 8 s would hide it.
fn is_tls_refusal(error: &async_nats::ConnectError) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
        {
            return true;
        }
        source = cause.source();
    }
    false
}

fn unix_now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn unix_time(t_s: f64) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::from_unix_timestamp_nanos((t_s * 1e9) as i128)
        .map_err(|e| format!("start time {t_s} s: {e}"))
}

/// Before connection attempt `attempts` (counting from 1, reset by each connection): the first
/// at once, then the QUIC client's backoff, 0.25 s doubling to 8 s.
fn reconnect_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let doublings = (attempts - 2).min(16) as u32;
    (RECONNECT_FIRST * 2u32.pow(doublings)).min(RECONNECT_MAX)
}

/// The state of reading: the parser, what waits to be handed on, the report.
struct Reading {
    parser: MessageParser,
    out: Vec<Record>,
    /// `out` up to here was parsed before the catalog last changed: hand it on first.
    problems: Vec<MessageProblem>,
    report: InputReport,
    throttle: ReportThrottle,
    start: Instant,
    echo_problems: bool,
    label: String,
    /// JetStream: the next stream sequence number expected, and the first message's
    /// publication time (records are stamped from it).
    next_stream_seq: Option<u64>,
    first_published_ns: Option<i128>,
    /// Events to hand on before `out` (catalog changes, with the records before them).
    pending: Vec<SourceEvent>,
    /// JetStream messages delivered again, skipped.
    repeats: u64,
}

impl Reading {
    fn new(opts: &NatsOptions) -> Self {
        Self {
            parser: MessageParser::new(opts.label(), MAX_INPUT_CHANNELS),
            out: Vec::new(),
            problems: Vec::new(),
            report: InputReport::default(),
            throttle: ReportThrottle::new(Instant::now()),
            start: Instant::now(),
            echo_problems: opts.echo_problems,
            label: opts.url.clone(),
            next_stream_seq: None,
            first_published_ns: None,
            pending: Vec::new(),
            repeats: 0,
        }
    }

    /// Parses one message (or notes an error of the feed).
    fn take(&mut self, item: Result<Incoming, String>) {
        let incoming = match item {
            Ok(incoming) => incoming,
            Err(reason) => {
                // The consumer's stream reports heartbeats missed while disconnected and
                // failed pulls; it goes on by itself. Shown as the latest problem.
                self.report.latest = Some(reason);
                self.throttle.changed();
                return;
            }
        };
        let t_ns = match incoming.stream {
            None => u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX),
            Some((seq, published_ns)) => {
                match self.next_stream_seq {
                    Some(expected) if seq > expected => self.parser.note_missed(seq - expected),
                    Some(expected) if seq < expected => {
                        // Delivered again (a server that restarted from a consumer state it
                        // had not yet saved): this run has it already.
                        self.repeats += 1;
                        return;
                    }
                    _ => {}
                }
                self.next_stream_seq = Some(seq + 1);
                let first = *self.first_published_ns.get_or_insert(published_ns);
                u64::try_from((published_ns - first).max(0)).unwrap_or(u64::MAX)
            }
        };
        if incoming.subject.is_empty() {
            return; // another subject of the stream
        }
        let before = self.out.len();
        let mut problems = std::mem::take(&mut self.problems);
        self.parser.parse(
            &incoming.subject,
            &incoming.payload,
            t_ns,
            &mut self.out,
            &mut problems,
        );
        if let Some(catalog) = self.parser.take_catalog() {
            // Earlier records, the catalog, then this message's: a new channel's records
            // never come before the catalog that has it.
            let this = self.out.split_off(before);
            let earlier = std::mem::replace(&mut self.out, this);
            if !earlier.is_empty() {
                self.pending.push(SourceEvent::Records(earlier));
            }
            self.pending.push(SourceEvent::Catalog(catalog));
        }
        if !problems.is_empty() {
            for problem in problems.drain(..) {
                let text = problem.to_string();
                if self.report.first.len() < MAX_LISTED_PROBLEMS {
                    if self.echo_problems {
                        elog!("midstream-tui: {}: {text}", self.label);
                    }
                    self.report.first.push(text.clone());
                }
                self.report.latest = Some(text);
            }
            self.report.bad_messages = self.parser.stats.bad_messages;
            self.report.type_changes = self.parser.stats.type_changes;
            self.throttle.changed();
        }
        self.problems = problems;
    }

    /// Hands on what was parsed, and the report when it changed (at most every
    /// [`REPORT_INTERVAL`] unless `report_now`).
    async fn flush(&mut self, events: &mpsc::Sender<SourceEvent>, report_now: bool) -> bool {
        for event in self.pending.drain(..) {
            if events.send(event).await.is_err() {
                return false;
            }
        }
        if !self.out.is_empty()
            && events
                .send(SourceEvent::Records(std::mem::take(&mut self.out)))
                .await
                .is_err()
        {
            return false;
        }
        self.report.lines = self.parser.stats.messages;
        if self.throttle.due(report_now, Instant::now()) {
            return events
                .send(SourceEvent::Input(self.report.clone()))
                .await
                .is_ok();
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_as_the_server_matches_them() {
        assert!(subject_matches("sensors.>", "sensors.a"));
        assert!(subject_matches("sensors.>", "sensors.a.b"));
        assert!(!subject_matches("sensors.>", "sensors"));
        assert!(subject_matches("sensors.*", "sensors.a"));
        assert!(!subject_matches("sensors.*", "sensors.a.b"));
        assert!(subject_matches("a.*.c", "a.b.c"));
        assert!(!subject_matches("a.b", "a.b.c"));
        assert!(valid_subject("sensors.>"));
        assert!(!valid_subject("sensors.>.a"));
        assert!(!valid_subject("a..b"));
        assert!(!valid_subject("a.b*"));
    }

    #[test]
    fn start_positions_are_names_times_or_durations_ago() {
        assert_eq!("new".parse(), Ok(StartPosition::New));
        assert_eq!("all".parse(), Ok(StartPosition::All));
        assert_eq!(
            "1h".parse(),
            Ok(StartPosition::Ago(Duration::from_secs(3600)))
        );
        assert_eq!(
            "90s".parse(),
            Ok(StartPosition::Ago(Duration::from_secs(90)))
        );
        assert_eq!(
            "2026-12-06T10:00:00Z".parse(),
            Ok(StartPosition::At(1_796_551_200.0))
        );
        assert!("yesterday".parse::<StartPosition>().is_err());
        assert!("-1h".parse::<StartPosition>().is_err());
    }

    #[test]
    fn the_backoff_is_the_quic_clients() {
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert_eq!(reconnect_delay(2), Duration::from_millis(250));
        assert_eq!(reconnect_delay(3), Duration::from_millis(500));
        assert_eq!(reconnect_delay(20), Duration::from_secs(8));
    }
}
