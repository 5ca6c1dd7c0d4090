//! `analyzer nats://HOST:PORT --subject 'in.>' --results PREFIX [--group NAME]`: the engines
//! without a screen, on the channels of a NATS server, sharing them with the other analyzers
//! of the group, and publishing what they find.
//!
//! How the work is shared (NATS's own means, no coordinator besides the server):
//!
//! - The subjects are kept in a JetStream stream, `MIDSTREAM_<GROUP>` (made by the first
//!   analyzer when missing: file storage, at most [`STREAM_MAX_AGE`] and [`STREAM_MAX_BYTES`]).
//!   Every analyzer reads the whole stream in order through an ordered consumer, so it sees
//!   every subject appear; it analyses the messages of the subjects it holds and skips the
//!   others (a hash look-up each).
//! - Which analyzer holds a subject is a lease in the group's key-value bucket
//!   ([`crate::sources::leases`]): compare-and-set claims, renewed every second, expired by
//!   the others [`LEASE_TTL`] after the last renewal, shared out by fair share.
//! - Hand-over: a lease carries the stream sequence number and the sample count its holder
//!   had reached at its last renewal. The new holder first reads the subject's messages after
//!   that number up to where its own reading is, from the stream (a consumer of the subject,
//!   fetched in batches, a slice at a time between the loop's other work), then goes on with
//!   the live ones, which it skips until then: the channel's samples stay complete and in
//!   order across the hand-over. A batch that fails (a cluster electing a new leader after a
//!   node's loss) is tried again from the last message analysed; the channel waits, it does
//!   not skip. Messages the old holder analysed after its last renewal (at most
//!   [`RENEW_EVERY`] of them) are analysed again by the new one. The engines' state
//!   (attractor windows, monitors, pattern searches) does not travel: it starts again at the
//!   new holder with the backfilled samples, so the first results after a hand-over come from
//!   the samples since it. A subject never leased is read from its first message this
//!   analyzer saw.
//!
//! The log goes to the output given (stdout). When a line cannot be written there (a pipe
//! whose reader has gone, as with `| head` or `| tee` stopped by Ctrl-C), the analyzer stops
//! as on SIGINT, its leases released, and then reports the write's error.
//!
//! Each analyzer publishes, at most once a second per channel, a [`FleetResult`] as JSON on
//! `PREFIX.<channel>` for every channel of the subjects it holds that has new samples.

use std::collections::HashMap;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull, stream};
use futures_util::{FutureExt, StreamExt};
use rustc_hash::FxHashMap;

use super::HeadlessError;
use crate::model::fleet::{FleetMatch, FleetResult, MAX_RESULT_MATCHES};
use crate::model::{ChannelId, Record, SourceEvent};
use crate::pipeline::{AnalysisConfig, Backlog, Engines, FormulaStatus, Pipeline};
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::sources::input::MAX_INPUT_CHANNELS;
use crate::sources::leases::{
    BucketEntry, LEASE_TTL, LeaseAction, LeaseBook, LeaseBucket, LeaseValue, RENEW_EVERY, name_part,
};
use crate::sources::nats::{NatsOptions, subject_matches, with_credentials};
use crate::sources::text::MessageParser;

/// How long the stream keeps a message, and how many bytes at most (the oldest go first):
/// a hand-over can backfill from anywhere in this.
pub const STREAM_MAX_AGE: Duration = Duration::from_secs(3600);
pub const STREAM_MAX_BYTES: i64 = 1 << 30;

/// Results of one channel are published at most this often.
pub const RESULT_INTERVAL: Duration = Duration::from_secs(1);

/// How often the lease plan is made (claims of new and expired subjects, releases).
const PLAN_EVERY: Duration = Duration::from_millis(250);

/// How often the reading is looked at for a stall, and how long without a message from the
/// stream's consumer, while the stream has messages after the last one read, counts as one:
/// the consumer is then made again from the next sequence number.
const STALL_CHECK: Duration = Duration::from_secs(2);
const STALL_AFTER: Duration = Duration::from_secs(5);

/// How often a status line is printed.
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// Most messages taken from the stream before the records go to the pipeline.
const READ_BATCH: usize = 1024;

/// Messages asked for at once by a backfill.
const BACKFILL_BATCH: usize = 1000;

/// The longest any one JetStream request (a lease write, a consumer made, a batch fetched)
/// may take before it counts as failed. Every request is awaited in the analyzer's one loop,
/// so this bounds how long a server in trouble holds the loop. With async-nats's own bounds
/// (the JetStream context's 5 s; the client's 10 s, which making a consumer waited), a cluster
/// that had just lost a node held it for 40 to 50 s (hand-overs' backfills of 10 s each, one
/// after another), the live reading stalled and the leases went unrenewed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one turn of the loop spends catching up held subjects from the stream before it
/// goes back to the live reading and the leases (at least one batch is read each time).
const CATCH_UP_SLICE: Duration = Duration::from_millis(100);

/// How long one plan may spend on claims and releases; the rest waits for the next plan.
const PLAN_SLICE: Duration = Duration::from_millis(500);

/// Most messages one hand-over backfills unless told otherwise (`--backfill-limit`): beyond,
/// the channel goes on from the live position and the claim's line names the stream sequence
/// numbers skipped.
pub const DEFAULT_BACKFILL_LIMIT: u64 = 200_000;

/// How long the stream, the bucket and the consumer may take to be made (a cluster electing
/// its JetStream leader after a start, a server still starting).
const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// What `analyzer` takes.
#[derive(Debug, Clone)]
pub struct AnalyzerOptions {
    /// The server, the subjects (`--subject`) and the credentials.
    pub nats: NatsOptions,
    /// Results go to `PREFIX.<channel>`.
    pub results: String,
    /// Analyzers of one group share the channels.
    pub group: String,
    /// This analyzer's stable id; `None`: `HOSTNAME-PID`.
    pub name: Option<String>,
    /// Copies of the stream and the lease bucket in a JetStream cluster.
    pub replicas: usize,
    /// Most messages one hand-over reads back from the stream.
    pub backfill_limit: u64,
    pub analysis: AnalysisConfig,
}

impl AnalyzerOptions {
    /// The id results and leases carry.
    pub fn analyzer_id(&self) -> String {
        self.name.clone().unwrap_or_else(default_id)
    }

    pub fn stream_name(&self) -> String {
        format!("MIDSTREAM_{}", name_part(&self.group))
    }

    /// Checks what can be checked before connecting.
    pub fn check(&self) -> Result<(), String> {
        self.nats.check()?;
        if self.nats.subjects.is_empty() {
            return Err("analyzer needs --subject SUBJECT (wildcards allowed)".to_owned());
        }
        if self.nats.jetstream.is_some() {
            return Err(
                "analyzer makes its own stream (MIDSTREAM_<GROUP>); --stream is for attach"
                    .to_owned(),
            );
        }
        let prefix = &self.results;
        if prefix.is_empty()
            || prefix
                .split('.')
                .any(|t| t.is_empty() || t.contains(['*', '>']) || t.contains(char::is_whitespace))
        {
            return Err(format!(
                "--results {prefix:?}: a subject prefix without wildcards (results.fleet)"
            ));
        }
        let probe = format!("{prefix}.x");
        if let Some(s) = self
            .nats
            .subjects
            .iter()
            .find(|s| subject_matches(s, &probe))
        {
            return Err(format!(
                "--results {prefix:?} is inside --subject {s:?}: the analyzers would analyse \
                 their own results"
            ));
        }
        if self.group.is_empty() {
            return Err("--group: a name is needed".to_owned());
        }
        if self.replicas == 0 || self.replicas > 5 {
            return Err(format!("--replicas {}: 1 to 5", self.replicas));
        }
        Ok(())
    }
}

/// `HOSTNAME-PID`: stable for the process's life, distinct between machines and processes.
pub fn default_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Where each held subject has got to.
#[derive(Debug, Clone, Default)]
struct Progress {
    /// Stream sequence number of the last message analysed.
    seq: u64,
    /// Messages of the subject analysed, by every holder (handed over with the lease).
    messages: u64,
    /// Publication time (Unix ns) of the first message not yet in a published result.
    unreported_since_ns: Option<i128>,
    /// `messages` at the last published result.
    reported: u64,
}

/// Per-interval counters for the status line.
#[derive(Debug, Default)]
struct Counters {
    read: u64,
    analysed: u64,
    records: u64,
    backfilled: u64,
    results: u64,
    /// Errors the stream's consumer gave instead of a message (missed heartbeats and the
    /// like; the ordered consumer makes itself again after them).
    consumer_errors: u64,
    /// Times the consumer was made again after a stall.
    consumer_remade: u64,
    /// Catch-up batches that failed (timed out, or the stream would not answer); each is
    /// tried again from the last message analysed.
    catch_up_failures: u64,
    /// Results latency samples (ms): a message's publication to the first result counting it.
    latencies_ms: Vec<f64>,
}

/// A held subject whose messages up to the live reading's position are still to be read from
/// the stream: a claim's backfill, done a slice at a time between the loop's other work, and
/// tried again from the last message analysed when a request fails. Until it is done the live
/// reading skips the subject's messages (the catch-up reads them instead), so the subject's
/// samples stay complete and in order however long the stream takes to answer.
struct CatchUp {
    /// The first stream sequence number to read (the previous holder's last, plus one).
    from: u64,
    /// The consumer of the subject reading from where the last batch ended; `None` before the
    /// first batch and after a failed one (made again from the last message analysed).
    consumer: Option<jetstream::consumer::PullConsumer>,
    /// Messages the stream still holds for the consumer, as it last said: a batch that comes
    /// back empty while this is above zero failed, it did not finish.
    pending: u64,
    /// Messages backfilled for this claim so far.
    backfilled: u64,
    /// Failed batches so far (the first is reported, the count when it is done).
    failures: u64,
    /// Not tried again before this after a failure (so a stream that refuses at once is not
    /// asked in a busy loop).
    retry_at: Instant,
    /// The claim's line: from whom, at which sequence number.
    holder: String,
    claimed_seq: u64,
    /// Why the stream would not give this catch-up a consumer, when a batch's messages were
    /// got one by one instead (the claim's line says so).
    direct_get: Option<String>,
}

/// What one catch-up batch came to.
enum Batch {
    /// Read; more to come.
    More,
    /// Caught up with the live reading (or the limit reached).
    Done,
    /// The stream did not answer as it should; tried again later.
    Failed(String),
}

/// The running analyzer's state.
struct Analyzer {
    id: String,
    backfill_limit: u64,
    results: String,
    book: LeaseBook,
    bucket: LeaseBucket,
    stream: stream::Stream,
    client: async_nats::Client,
    parser: MessageParser,
    pipeline: Pipeline,
    out: Vec<Record>,
    problems: Vec<crate::sources::text::MessageProblem>,
    progress: FxHashMap<String, Progress>,
    /// The first stream sequence number seen per subject (a never-leased subject is read from
    /// there).
    first_seq: FxHashMap<String, u64>,
    /// The stream sequence number of the last message read from the consumer.
    position: u64,
    /// Held subjects still catching up with the live reading.
    catching_up: FxHashMap<String, CatchUp>,
    /// The first message's publication time (records are stamped from it).
    first_published_ns: Option<i128>,
    /// Each catalog channel's subject.
    channel_subject: HashMap<ChannelId, String>,
    counters: Counters,
    /// The pattern searches' shed samples at the last status line.
    shed_before: u64,
}

/// Runs the analyzer until interrupted (SIGINT or SIGTERM: its leases are released, so the
/// others take its channels at once) or until the connection fails for good.
pub async fn run(
    opts: &AnalyzerOptions,
    out: &mut (dyn Write + Send),
) -> Result<(), HeadlessError> {
    let mut log = Log::new(out);
    let out = &mut log;
    opts.check().map_err(HeadlessError::Invalid)?;
    let id = opts.analyzer_id();
    let invalid = |e: String| HeadlessError::Invalid(e);
    let client = connect(&opts.nats).await.map_err(invalid)?;
    let mut context = jetstream::new(client.clone());
    context.set_timeout(REQUEST_TIMEOUT);
    let stream = retry("the stream", || make_stream(&context, opts))
        .await
        .map_err(invalid)?;
    let bucket = retry("the lease bucket", || {
        LeaseBucket::open(&context, &opts.group, opts.replicas)
    })
    .await
    .map_err(invalid)?;
    let mut watch = Box::pin(
        retry("the lease watch", || bucket.watch())
            .await
            .map_err(invalid)?,
    );
    let mut messages = retry("the stream's consumer", || {
        ordered_consumer(&stream, DeliverPolicy::New)
    })
    .await
    .map_err(invalid)?;
    writeln!(
        out,
        "analyzer {id}: group {}, stream {}, bucket {}, subjects {}, results {}.>",
        opts.group,
        opts.stream_name(),
        LeaseBucket::name(&opts.group),
        opts.nats.subjects.join(" "),
        opts.results
    )?;
    out.flush()?;

    let scheduler = std::sync::Arc::new(
        Scheduler::new(SchedulerConfig {
            worker_niceness: crate::session::ENGINE_NICENESS,
            ..SchedulerConfig::default()
        })
        .map_err(|e| invalid(e.to_string()))?,
    );
    let mut analysis = opts.analysis.clone();
    analysis.backlog = Backlog::Shed;
    let engines = Engines::new(scheduler.clone(), analysis).map_err(|e| invalid(e.to_string()))?;
    let label = format!("{} {}", opts.nats.url, opts.nats.subjects.join(" "));
    let mut analyzer = Analyzer {
        id: id.clone(),
        backfill_limit: opts.backfill_limit,
        results: opts.results.clone(),
        book: LeaseBook::new(id.clone(), Instant::now()),
        bucket,
        stream,
        client,
        parser: MessageParser::new(label.clone(), MAX_INPUT_CHANNELS),
        pipeline: Pipeline::new(label).with_engines(engines),
        out: Vec::new(),
        problems: Vec::new(),
        progress: FxHashMap::default(),
        first_seq: FxHashMap::default(),
        position: 0,
        catching_up: FxHashMap::default(),
        first_published_ns: None,
        channel_subject: HashMap::new(),
        counters: Counters::default(),
        shed_before: 0,
    };
    // Retried like the set-up before it: in a cluster that has just made the bucket, its
    // stream may not take writes yet ("no stream found for given subject"), and an analyzer
    // that gave up here left its group one short for the rest of the run.
    let bucket = analyzer.bucket.clone();
    retry("the first heartbeat", || bucket.heartbeat(&id))
        .await
        .map_err(invalid)?;

    let mut plan_tick = tokio::time::interval(PLAN_EVERY);
    let mut renew_tick = tokio::time::interval(RENEW_EVERY);
    let mut results_tick = tokio::time::interval(RESULT_INTERVAL);
    let mut status_tick = tokio::time::interval(STATUS_EVERY);
    let mut stall_tick = tokio::time::interval(STALL_CHECK);
    for tick in [
        &mut stall_tick,
        &mut plan_tick,
        &mut renew_tick,
        &mut results_tick,
        &mut status_tick,
    ] {
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    }
    status_tick.reset();
    // Both listeners are made once, before the loop: a listener sees only the signals that come
    // after it was made, and one made afresh in each turn of the loop missed a SIGINT that came
    // while messages were being analysed (which, under load, is nearly always), so the analyzer
    // went on running after Ctrl-C.
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(HeadlessError::Output)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(HeadlessError::Output)?;
    let started = Instant::now();
    let mut last_status = Instant::now();
    // Where the reading was at the last stall check, and since when.
    let mut progress = (analyzer.position, Instant::now());
    loop {
        tokio::select! {
            biased;
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            entry = watch.next() => match entry {
                Some(Ok(entry)) => analyzer.observe(entry),
                Some(Err(e)) => writeln!(out, "lease watch: {e}")?,
                None => return Err(invalid("the lease bucket's watch ended".to_owned())),
            },
            _ = renew_tick.tick() => analyzer.renew(out).await?,
            _ = plan_tick.tick() => analyzer.plan(out).await?,
            _ = results_tick.tick() => analyzer.publish_results().await,
            _ = status_tick.tick() => {
                analyzer.status(out, last_status.elapsed(), started.elapsed())?;
                last_status = Instant::now();
            }
            _ = stall_tick.tick() => {
                if analyzer.position != progress.0 {
                    progress = (analyzer.position, Instant::now());
                } else if progress.1.elapsed() >= STALL_AFTER
                    && let Some(remade) = analyzer.remake_stalled_consumer(out).await?
                {
                    messages = remade;
                    progress.1 = Instant::now();
                }
            }
            message = messages.next() => {
                let Some(message) = message else {
                    return Err(invalid("the stream's consumer ended".to_owned()));
                };
                analyzer.take(message);
                let mut taken = 1;
                while taken < READ_BATCH {
                    match messages.next().now_or_never() {
                        Some(Some(message)) => analyzer.take(message),
                        _ => break,
                    }
                    taken += 1;
                }
                analyzer.flush();
                // One batch of a hand-over's backfill between two of the live reading's, so
                // that a busy stream does not hold the catch-up back.
                if !analyzer.catching_up.is_empty() {
                    analyzer.catch_up(Instant::now(), out).await?;
                }
            }
            // The live reading is idle: the catch-up has the loop for a slice.
            _ = std::future::ready(()), if analyzer.catch_up_due(Instant::now()) => {
                analyzer.catch_up(Instant::now() + CATCH_UP_SLICE, out).await?;
            }
        }
        if out.is_broken() {
            break;
        }
    }
    analyzer.release_all(out).await?;
    analyzer.publish_results().await;
    let _ = analyzer.client.flush().await;
    scheduler.shutdown();
    match log.broken {
        Some(e) => Err(HeadlessError::Output(e)),
        None => Ok(()),
    }
}

/// The analyzer's log. Once a write fails (other than by an interruption), the error is kept,
/// what follows is dropped, and the loop stops at the end of its turn: the leases are released
/// on the way out instead of being left to expire.
struct Log<'a> {
    out: &'a mut (dyn Write + Send),
    broken: Option<io::Error>,
}

impl<'a> Log<'a> {
    fn new(out: &'a mut (dyn Write + Send)) -> Self {
        Self { out, broken: None }
    }

    fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// Keeps the first error that is not an interruption (which `write_all` tries again).
    fn kept<T>(&mut self, result: io::Result<T>, otherwise: T) -> io::Result<T> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                self.broken = Some(e);
                Ok(otherwise)
            }
            ok => ok,
        }
    }
}

impl Write for Log<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.is_broken() {
            return Ok(buf.len());
        }
        let result = self.out.write(buf);
        self.kept(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.is_broken() {
            return Ok(());
        }
        let result = self.out.flush();
        self.kept(result, ())
    }
}

impl Analyzer {
    fn observe(&mut self, entry: BucketEntry) {
        let now = Instant::now();
        match entry {
            BucketEntry::Member(id) => self.book.observe_member(&id, now),
            BucketEntry::Lease {
                subject,
                value,
                revision,
            } => self.book.observe_lease(&subject, value, revision, now),
        }
    }

    /// The stream's consumer made again from the message after the last one read, when the
    /// stream holds messages after it (the ordered consumer makes itself again after missed
    /// heartbeats, but after a cluster node's loss it was seen waiting for good: 90 s without
    /// a message while the publisher went on). `None` when there is nothing to catch up or the
    /// stream cannot be asked (the next check tries again).
    async fn remake_stalled_consumer(
        &mut self,
        out: &mut (dyn Write + Send),
    ) -> Result<Option<pull::Ordered>, HeadlessError> {
        if self.position == 0 {
            return Ok(None); // nothing read yet: a quiet stream, not a stalled consumer
        }
        let Ok(Ok(info)) = tokio::time::timeout(STALL_CHECK, self.stream.get_info()).await else {
            return Ok(None);
        };
        let last = info.state.last_sequence;
        if last <= self.position {
            return Ok(None);
        }
        let from = self.position + 1;
        let policy = DeliverPolicy::ByStartSequence {
            start_sequence: from,
        };
        match ordered_consumer(&self.stream, policy).await {
            Ok(messages) => {
                self.counters.consumer_remade += 1;
                writeln!(
                    out,
                    "the stream's consumer stalled at seq {} (the stream is at {last}): reading again from {from}",
                    self.position
                )?;
                Ok(Some(messages))
            }
            Err(e) => {
                writeln!(
                    out,
                    "the stream's consumer stalled; making it again failed: {e}"
                )?;
                Ok(None)
            }
        }
    }

    /// One message of the consumer: noted, and analysed when its subject is held.
    fn take(&mut self, message: Result<jetstream::Message, impl std::fmt::Display>) {
        let message = match message {
            Ok(message) => message,
            Err(_) => {
                // Heartbeats missed and the like: the ordered consumer recovers by itself; the
                // status line counts them, so that a consumer that keeps failing is seen.
                self.counters.consumer_errors += 1;
                return;
            }
        };
        let Ok(info) = message.info() else { return };
        let seq = info.stream_sequence;
        let published_ns = info.published.unix_timestamp_nanos();
        self.position = self.position.max(seq);
        self.counters.read += 1;
        let subject = message.subject.as_str();
        // `first_seq` holds exactly the subjects the lease book knows: the book (an ordered
        // map) and the clock are asked only for a subject's first message.
        if !self.first_seq.contains_key(subject) && self.book.note_subject(subject, Instant::now())
        {
            self.first_seq.insert(subject.to_owned(), seq);
        }
        if self.book.owns(subject)
            && (self.catching_up.is_empty() || !self.catching_up.contains_key(subject))
        {
            self.analyse(subject, seq, published_ns, &message.payload);
        }
    }

    /// Parses one message of a held subject into records for the pipeline.
    fn analyse(&mut self, subject: &str, seq: u64, published_ns: i128, payload: &[u8]) {
        // The subject's key is made once, at its first message, not a String per message.
        if !self.progress.contains_key(subject) {
            self.progress
                .insert(subject.to_owned(), Progress::default());
        }
        let progress = self.progress.get_mut(subject).expect("inserted above");
        if seq <= progress.seq {
            return; // already analysed (a backfill overlapping the live reading)
        }
        progress.seq = seq;
        progress.messages += 1;
        progress.unreported_since_ns.get_or_insert(published_ns);
        self.counters.analysed += 1;
        let first = *self.first_published_ns.get_or_insert(published_ns);
        let t_ns = u64::try_from((published_ns - first).max(0)).unwrap_or(0);
        let before = self.out.len();
        self.parser
            .parse(subject, payload, t_ns, &mut self.out, &mut self.problems);
        self.problems.clear();
        self.counters.records += (self.out.len() - before) as u64;
        if let Some(catalog) = self.parser.take_catalog() {
            // Earlier records, the catalog, then this message's.
            let this = self.out.split_off(before);
            let earlier = std::mem::replace(&mut self.out, this);
            if !earlier.is_empty() {
                self.pipeline
                    .handle(SourceEvent::Records(earlier), Instant::now());
            }
            for info in &catalog.channels {
                self.channel_subject
                    .entry(info.id)
                    .or_insert_with(|| owning_subject(&info.name, subject));
            }
            self.pipeline
                .handle(SourceEvent::Catalog(catalog), Instant::now());
        }
    }

    fn flush(&mut self) {
        if !self.out.is_empty() {
            let records = std::mem::take(&mut self.out);
            self.pipeline
                .handle(SourceEvent::Records(records), Instant::now());
        }
    }

    /// Heartbeat, and every held lease renewed with how far it got; a renewal that fails is a
    /// lease lost.
    async fn renew(&mut self, out: &mut (dyn Write + Send)) -> Result<(), HeadlessError> {
        if let Err(e) = self.bucket.heartbeat(&self.id).await {
            writeln!(out, "heartbeat failed: {e}")?;
        }
        let owned: Vec<(String, u64)> = self.book.owned().map(|(s, r)| (s.to_owned(), r)).collect();
        let writes = owned.iter().map(|(subject, revision)| {
            let progress = self.progress.get(subject).cloned().unwrap_or_default();
            let value = LeaseValue {
                analyzer: self.id.clone(),
                seq: progress.seq,
                samples: progress.messages,
            };
            let bucket = self.bucket.clone();
            async move {
                let written = bucket.write(subject, &value, Some(*revision)).await;
                (subject, value, written)
            }
        });
        let outcomes = futures_util::future::join_all(writes).await;
        let now = Instant::now();
        for (subject, value, written) in outcomes {
            match written {
                Ok(revision) => self.book.wrote(subject, value, revision, now),
                Err(e) => {
                    self.book.lost(subject);
                    writeln!(out, "lost {subject}: {e}")?;
                }
            }
        }
        out.flush()?;
        Ok(())
    }

    /// Claims and releases as the lease policy says, for at most [`PLAN_SLICE`] (the rest
    /// waits for the next plan). A claimed subject catches up from the stream (see
    /// [`CatchUp`]) before its live messages are analysed again.
    async fn plan(&mut self, out: &mut (dyn Write + Send)) -> Result<(), HeadlessError> {
        let deadline = Instant::now() + PLAN_SLICE;
        let actions = self.book.plan(Instant::now());
        for action in actions {
            if Instant::now() >= deadline {
                break;
            }
            match action {
                LeaseAction::Claim {
                    subject,
                    revision,
                    previous,
                } => {
                    let previous = previous.filter(|p| p.seq > 0);
                    let value = LeaseValue {
                        analyzer: self.id.clone(),
                        seq: previous.as_ref().map_or(0, |p| p.seq),
                        samples: previous.as_ref().map_or(0, |p| p.samples),
                    };
                    let Ok(new_revision) = self.bucket.write(&subject, &value, revision).await
                    else {
                        continue; // another was quicker (the watch will say who), or no answer
                    };
                    self.book
                        .wrote(&subject, value.clone(), new_revision, Instant::now());
                    let from = match &previous {
                        Some(p) => p.seq + 1,
                        None => self.first_seq.get(&subject).copied().unwrap_or(u64::MAX),
                    };
                    let progress = self.progress.entry(subject.clone()).or_default();
                    if progress.seq < value.seq {
                        progress.seq = value.seq;
                    }
                    progress.messages = progress.messages.max(value.samples);
                    let holder = match &previous {
                        None => "nobody".to_owned(),
                        Some(p) if p.analyzer.is_empty() => "released".to_owned(),
                        Some(p) => p.analyzer.clone(),
                    };
                    let job = CatchUp {
                        from,
                        consumer: None,
                        pending: 0,
                        backfilled: 0,
                        failures: 0,
                        retry_at: Instant::now(),
                        holder,
                        claimed_seq: value.seq,
                        direct_get: None,
                    };
                    if let Some(old) = self.catching_up.insert(subject, job) {
                        self.drop_consumer(old.consumer);
                    }
                }
                LeaseAction::Release { subject, revision } => {
                    let progress = self.progress.get(&subject).cloned().unwrap_or_default();
                    let value = LeaseValue {
                        analyzer: String::new(),
                        seq: progress.seq,
                        samples: progress.messages,
                    };
                    match self.bucket.write(&subject, &value, Some(revision)).await {
                        Ok(_) => {
                            self.book.released(&subject, Instant::now());
                            writeln!(out, "released {subject} at seq {}", progress.seq)?;
                        }
                        Err(_) => self.book.lost(&subject),
                    }
                    self.progress.remove(&subject);
                    if let Some(old) = self.catching_up.remove(&subject) {
                        self.drop_consumer(old.consumer);
                    }
                }
            }
        }
        out.flush()?;
        Ok(())
    }

    /// Whether a subject catching up may be read now.
    fn catch_up_due(&self, now: Instant) -> bool {
        self.catching_up.values().any(|job| job.retry_at <= now)
    }

    /// Reads held subjects' messages from the stream, batch by batch, until each has caught up
    /// with the live reading's position or `deadline` has passed (at least one batch is read).
    /// A subject that caught up prints its claim line, as it used to when the backfill was
    /// done at the claim; one whose lease went meanwhile is dropped.
    async fn catch_up(
        &mut self,
        deadline: Instant,
        out: &mut (dyn Write + Send),
    ) -> Result<(), HeadlessError> {
        let now = Instant::now();
        let due: Vec<(String, CatchUp)> = self
            .catching_up
            .extract_if(|_, job| job.retry_at <= now)
            .collect();
        let mut due = due.into_iter();
        let mut first = true;
        for (subject, mut job) in due.by_ref() {
            if !self.book.owns(&subject) {
                self.drop_consumer(job.consumer);
                continue; // lost or taken over meanwhile: the renewal said so
            }
            let mut done = false;
            while first || Instant::now() < deadline {
                first = false;
                match self.backfill_batch(&subject, &mut job).await {
                    Batch::More => {}
                    Batch::Done => {
                        done = true;
                        break;
                    }
                    Batch::Failed(why) => {
                        job.failures += 1;
                        self.counters.catch_up_failures += 1;
                        self.drop_consumer(job.consumer.take());
                        // 0.25 s, 0.5 s, 1 s, then every 2 s (the shift stops at 3).
                        let wait = Duration::from_millis(250 << (job.failures.min(4) - 1));
                        job.retry_at = Instant::now() + wait;
                        if job.failures == 1 {
                            writeln!(
                                out,
                                "catching up {subject} from seq {}: {why}; trying again",
                                self.next_to_read(&subject, &job)
                            )?;
                        }
                        break;
                    }
                }
            }
            self.flush();
            if done {
                self.drop_consumer(job.consumer.take());
                let retried = match job.failures {
                    0 => String::new(),
                    n => format!(" ({n} failed batches tried again)"),
                };
                let direct = match &job.direct_get {
                    None => String::new(),
                    Some(why) => format!(" by direct get (no consumer: {why})"),
                };
                let next = self.next_to_read(&subject, &job);
                let skipped = if job.backfilled >= self.backfill_limit && next <= self.position {
                    format!(
                        "; the backfill limit ({}) reached: its messages from seq {next} to {} \
                         skipped",
                        self.backfill_limit, self.position
                    )
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "claimed {subject} from {} at seq {}, {} messages backfilled{direct}{retried}\
                     {skipped}",
                    job.holder, job.claimed_seq, job.backfilled
                )?;
            } else {
                self.catching_up.insert(subject, job);
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        // Those the deadline left for the next call.
        self.catching_up.extend(due);
        out.flush()?;
        Ok(())
    }

    /// The stream sequence number a catch-up reads next: after the last message analysed.
    fn next_to_read(&self, subject: &str, job: &CatchUp) -> u64 {
        let analysed = self.progress.get(subject).map_or(0, |p| p.seq);
        job.from.max(analysed + 1)
    }

    /// One batch of `subject`'s messages, from where its catch-up is, up to the live
    /// reading's position, analysed. They are fetched through a consumer of the subject made
    /// for the purpose (one request per [`BACKFILL_BATCH`] messages; asking for each message
    /// by itself held the analyzer's loop for seconds when 100 subjects were claimed at once
    /// under load); where no consumer can be made, by direct gets.
    async fn backfill_batch(&mut self, subject: &str, job: &mut CatchUp) -> Batch {
        let from = self.next_to_read(subject, job);
        if from > self.position || job.backfilled >= self.backfill_limit {
            return Batch::Done;
        }
        if job.consumer.is_none() {
            let config = pull::Config {
                filter_subject: subject.to_owned(),
                deliver_policy: DeliverPolicy::ByStartSequence {
                    start_sequence: from,
                },
                ack_policy: jetstream::consumer::AckPolicy::None,
                inactive_threshold: Duration::from_secs(30),
                // One copy in memory, like the ordered consumer: a replicated one is a raft
                // group of its own to make and remove for each hand-over, which a cluster
                // short of CPU took longer than the request's timeout to do.
                num_replicas: 1,
                memory_storage: true,
                ..pull::Config::default()
            };
            let made = tokio::time::timeout(REQUEST_TIMEOUT, self.stream.create_consumer(config));
            match made.await {
                Ok(Ok(consumer)) => {
                    job.pending = consumer.cached_info().num_pending;
                    job.consumer = Some(consumer);
                }
                Ok(Err(e)) if e.kind() == jetstream::stream::ConsumerErrorKind::TimedOut => {
                    return Batch::Failed(format!("making a consumer of it: {e}"));
                }
                Err(_) => return Batch::Failed("making a consumer of it: timed out".to_owned()),
                Ok(Err(e)) => {
                    job.direct_get = Some(e.to_string());
                    return self.backfill_batch_by_direct_get(subject, job, from).await;
                }
            }
        }
        let consumer = job.consumer.as_ref().expect("made above");
        let fetch = consumer.fetch().max_messages(BACKFILL_BATCH).messages();
        let mut batch = match tokio::time::timeout(REQUEST_TIMEOUT, fetch).await {
            Ok(Ok(batch)) => batch,
            Ok(Err(e)) => return Batch::Failed(format!("fetching a batch: {e}")),
            Err(_) => return Batch::Failed("fetching a batch: timed out".to_owned()),
        };
        let mut got = 0;
        loop {
            let message = match tokio::time::timeout(REQUEST_TIMEOUT, batch.next()).await {
                Ok(None) => break,
                Ok(Some(Ok(message))) => message,
                Ok(Some(Err(e))) => return Batch::Failed(format!("in a batch: {e}")),
                Err(_) => return Batch::Failed("in a batch: timed out".to_owned()),
            };
            got += 1;
            let Ok(info) = message.info() else { continue };
            let seq = info.stream_sequence;
            if seq > self.position {
                return Batch::Done; // the live reading has it
            }
            job.pending = info.pending;
            let published_ns = info.published.unix_timestamp_nanos();
            self.backfill_one(subject, job, seq, published_ns, &message.payload);
            if info.pending == 0 || job.backfilled >= self.backfill_limit {
                return Batch::Done;
            }
        }
        match (got, job.pending) {
            (0, 0) => Batch::Done,
            (0, pending) => Batch::Failed(format!(
                "an empty batch while the stream holds {pending} more"
            )),
            _ => Batch::More,
        }
    }

    /// [`Analyzer::backfill_batch`] by direct gets, one message each: for a stream on which
    /// this analyzer may not make consumers.
    async fn backfill_batch_by_direct_get(
        &mut self,
        subject: &str,
        job: &mut CatchUp,
        from: u64,
    ) -> Batch {
        let mut next = from;
        for _ in 0..BACKFILL_BATCH {
            if next > self.position || job.backfilled >= self.backfill_limit {
                return Batch::Done;
            }
            let get = self.stream.direct_get_next_for_subject(subject, Some(next));
            let message = match tokio::time::timeout(REQUEST_TIMEOUT, get).await {
                Err(_) => return Batch::Failed(format!("getting seq {next} directly: timed out")),
                Ok(Ok(message)) => message,
                Ok(Err(e)) if e.kind() == jetstream::stream::DirectGetErrorKind::NotFound => {
                    return Batch::Done; // none left: live from here
                }
                Ok(Err(e)) => return Batch::Failed(format!("getting seq {next} directly: {e}")),
            };
            let seq = message.sequence;
            if seq > self.position {
                return Batch::Done;
            }
            next = seq + 1;
            let published_ns = message.time.unix_timestamp_nanos();
            self.backfill_one(subject, job, seq, published_ns, &message.payload);
        }
        Batch::More
    }

    /// One message of a catch-up analysed and counted, the records flushed to the engines
    /// every [`READ_BATCH`].
    fn backfill_one(
        &mut self,
        subject: &str,
        job: &mut CatchUp,
        seq: u64,
        published_ns: i128,
        payload: &[u8],
    ) {
        self.analyse(subject, seq, published_ns, payload);
        job.backfilled += 1;
        self.counters.backfilled += 1;
        if self.out.len() >= READ_BATCH {
            self.flush();
        }
    }

    /// Deletes a catch-up's consumer without waiting for the answer (the server removes it
    /// by itself 30 s after its last use if the request is lost).
    fn drop_consumer(&self, consumer: Option<jetstream::consumer::PullConsumer>) {
        let Some(consumer) = consumer else { return };
        let name = consumer.cached_info().name.clone();
        let stream = self.stream.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(REQUEST_TIMEOUT, stream.delete_consumer(&name)).await;
        });
    }

    /// Leases given up on the way out, so the others take the channels at once.
    async fn release_all(&mut self, out: &mut (dyn Write + Send)) -> Result<(), HeadlessError> {
        let owned: Vec<(String, u64)> = self.book.owned().map(|(s, r)| (s.to_owned(), r)).collect();
        for (subject, revision) in owned {
            let progress = self.progress.get(&subject).cloned().unwrap_or_default();
            let value = LeaseValue {
                analyzer: String::new(),
                seq: progress.seq,
                samples: progress.messages,
            };
            let _ = self.bucket.write(&subject, &value, Some(revision)).await;
        }
        writeln!(out, "analyzer {}: stopped, leases released", self.id)?;
        out.flush()?;
        Ok(())
    }

    /// One result per channel of a held subject with new samples since its last result.
    async fn publish_results(&mut self) {
        let Some(engines) = self.pipeline.engines() else {
            return;
        };
        let now = Instant::now();
        let now_ns = crate::pipeline::unix_now_ns() as i128;
        let time = now_ns as f64 / 1e9;
        let chaos = engines.chaos_views();
        let formulas = engines.formula_views();
        let matches = engines.match_views(now);
        let mut due = Vec::new();
        for info in &self.parser.catalog().channels {
            let Some(subject) = self.channel_subject.get(&info.id) else {
                continue;
            };
            if !self.book.owns(subject) {
                continue;
            }
            let Some(progress) = self.progress.get(subject) else {
                continue;
            };
            if progress.messages == progress.reported {
                continue;
            }
            let view = chaos.get(&info.id);
            let verdicts = formulas
                .iter()
                .filter(|f| f.channel_name == info.name)
                .map(|f| {
                    let status = match f.status {
                        FormulaStatus::Satisfied => "satisfied",
                        FormulaStatus::Violated => "violated",
                        FormulaStatus::Undecided => "undecided",
                    };
                    (f.formula.clone(), status.to_owned())
                })
                .collect();
            let found = matches
                .iter()
                .filter(|m| m.channel == info.id)
                .take(MAX_RESULT_MATCHES)
                .map(|m| FleetMatch {
                    pattern: m.pattern.clone(),
                    start_sample: m.start_sample,
                    len: m.len,
                    distance: m.distance,
                })
                .collect();
            let result = FleetResult {
                channel: info.name.clone(),
                analyzer: self.id.clone(),
                samples: progress.messages,
                lyapunov: view.and_then(|v| v.lyapunov),
                class: view.filter(|v| v.error.is_none()).map(|v| v.class.clone()),
                correlation_dimension: view.and_then(|v| v.correlation_dimension),
                verdicts,
                matches: found,
                time,
                subject: subject.clone(),
                stream_seq: progress.seq,
            };
            due.push((subject.clone(), result));
        }
        for (subject, result) in due {
            let Ok(payload) = serde_json::to_vec(&result) else {
                continue;
            };
            let target = format!("{}.{}", self.results, result.channel);
            if self.client.publish(target, payload.into()).await.is_err() {
                continue;
            }
            self.counters.results += 1;
            if let Some(progress) = self.progress.get_mut(&subject) {
                if let Some(since) = progress.unreported_since_ns.take() {
                    self.counters
                        .latencies_ms
                        .push((now_ns - since).max(0) as f64 / 1e6);
                }
                progress.reported = progress.messages;
            }
        }
        // The subjects' own counts are marked after all their channels went out.
    }

    fn status(
        &mut self,
        out: &mut (dyn Write + Send),
        interval: Duration,
        uptime: Duration,
    ) -> Result<(), HeadlessError> {
        let c = std::mem::take(&mut self.counters);
        let s = interval.as_secs_f64().max(1e-9);
        let mut latencies = c.latencies_ms.clone();
        latencies.sort_by(f64::total_cmp);
        let pct = |q: f64| -> String {
            if latencies.is_empty() {
                return "-".to_owned();
            }
            let i = ((latencies.len() - 1) as f64 * q).round() as usize;
            format!("{:.0}", latencies[i])
        };
        // Samples the pattern searches shed because they fell behind (`Backlog::Shed`): those
        // records were ingested, monitored and kept in the attractor windows, but the searches
        // started again after the gap, so a match spanning it was not looked for.
        let shed_total = self.pipeline.engines().map_or(0, |e| e.samples_shed());
        let shed = shed_total.saturating_sub(self.shed_before);
        self.shed_before = shed_total;
        writeln!(
            out,
            "status {:.0}s: {} subjects held of {} seen, {} members; read {:.0} msg/s, analysed {:.0} msg/s ({:.0} records/s), backfilled {}, results {}, latency ms p50 {} p99 {} max {}, search shed {}, consumer errors {}, remade {}, catching up {}, catch-up failures {}",
            uptime.as_secs_f64(),
            self.book.owned_count(),
            self.first_seq.len(),
            self.book.members_alive(Instant::now()),
            c.read as f64 / s,
            c.analysed as f64 / s,
            c.records as f64 / s,
            c.backfilled,
            c.results,
            pct(0.5),
            pct(0.99),
            pct(1.0),
            shed,
            c.consumer_errors,
            c.consumer_remade,
            self.catching_up.len(),
            c.catch_up_failures,
        )?;
        out.flush()?;
        Ok(())
    }
}

/// The subject a channel belongs to: its name is the subject, or the subject and a field.
fn owning_subject(channel: &str, subject_of_message: &str) -> String {
    if channel == subject_of_message
        || channel
            .strip_prefix(subject_of_message)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('_'))
    {
        return subject_of_message.to_owned();
    }
    // A channel made by an earlier message of another subject (catalogs grow one subject at
    // a time, so this is its name's subject part).
    channel.to_owned()
}

/// An ordered consumer of the whole stream from `policy`, and its messages.
async fn ordered_consumer(
    stream: &stream::Stream,
    policy: DeliverPolicy,
) -> Result<pull::Ordered, String> {
    let made = async {
        stream
            .create_consumer(pull::OrderedConfig {
                deliver_policy: policy,
                ..pull::OrderedConfig::default()
            })
            .await
            .map_err(|e| e.to_string())?
            .messages()
            .await
            .map_err(|e| format!("cannot read the stream: {e}"))
    };
    tokio::time::timeout(REQUEST_TIMEOUT, made)
        .await
        .unwrap_or_else(|_| Err("making the stream's consumer: timed out".to_owned()))
}

/// Connects with the options' credentials; the client reconnects by itself afterwards (to
/// any server of a cluster it learnt of). A comma-separated list names several servers.
async fn connect(opts: &NatsOptions) -> Result<async_nats::Client, String> {
    let connect = async_nats::ConnectOptions::new()
        .name("midstream-tui analyzer")
        .max_reconnects(None);
    let connect = with_credentials(connect, opts)
        .await
        .map_err(|e| e.to_string())?;
    let addrs: Vec<async_nats::ServerAddr> = opts
        .url
        .split(',')
        .map(|u| {
            u.trim()
                .parse::<async_nats::ServerAddr>()
                .map_err(|e| format!("{u}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    connect
        .connect(addrs)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", opts.url))
}

/// The group's stream, made when missing.
async fn make_stream(
    context: &jetstream::Context,
    opts: &AnalyzerOptions,
) -> Result<stream::Stream, String> {
    let name = opts.stream_name();
    if let Ok(stream) = context.get_stream(&name).await {
        return Ok(stream);
    }
    context
        .get_or_create_stream(stream::Config {
            name: name.clone(),
            description: Some("midstream analyzers' input".to_owned()),
            subjects: opts.nats.subjects.clone(),
            max_age: STREAM_MAX_AGE,
            max_bytes: STREAM_MAX_BYTES,
            storage: stream::StorageType::File,
            num_replicas: opts.replicas,
            allow_direct: true,
            ..stream::Config::default()
        })
        .await
        .map_err(|e| format!("cannot make the stream {name}: {e}"))
}

/// Tries `make` until it succeeds or [`SETUP_TIMEOUT`] has passed (a JetStream that is still
/// electing its leader answers with errors for a while).
async fn retry<T, F, Fut>(what: &str, mut make: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + SETUP_TIMEOUT;
    let mut delay = Duration::from_millis(100);
    loop {
        match make().await {
            Ok(value) => return Ok(value),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!("{what}: {e} (for {} s)", SETUP_TIMEOUT.as_secs()));
            }
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// Lease and status line texts use this TTL (re-exported for the README's figures).
pub const ANALYZER_LEASE_TTL: Duration = LEASE_TTL;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_belong_to_their_subject() {
        assert_eq!(owning_subject("in.c07", "in.c07"), "in.c07");
        assert_eq!(owning_subject("in.c07.temp", "in.c07"), "in.c07");
        assert_eq!(owning_subject("in.c07_2", "in.c07"), "in.c07");
    }

    /// Takes `room` bytes, then fails with `error` (an interruption first, once, if asked).
    struct Pipe {
        taken: Vec<u8>,
        room: usize,
        error: io::ErrorKind,
        interrupt_once: bool,
    }

    impl Write for Pipe {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if std::mem::take(&mut self.interrupt_once) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.room - self.taken.len());
            if n == 0 {
                return Err(self.error.into());
            }
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_log_keeps_its_first_failure_and_drops_what_follows() {
        let mut pipe = Pipe {
            taken: Vec::new(),
            room: 12,
            error: io::ErrorKind::BrokenPipe,
            interrupt_once: true,
        };
        let mut log = Log::new(&mut pipe);
        // Interrupted once, then written.
        writeln!(log, "claimed").unwrap();
        assert!(!log.is_broken());
        // Four bytes fit; the rest fails, and the failure is kept, not returned.
        writeln!(log, "released in.c01").unwrap();
        assert!(log.is_broken());
        writeln!(log, "status").unwrap();
        log.flush().unwrap();
        let kept = log.broken.take().unwrap();
        assert_eq!(kept.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(pipe.taken, b"claimed\nrele");
    }
}
