//! The QUIC stream server: one live [`RecordSource`] fanned out to many clients.
//!
//! A producer task drives the source, either at its own clock ([`Pacing::RealTime`]: a record
//! goes out when the wall time since the start reaches its `t_ns`) or as fast as the clients
//! take it ([`Pacing::AsFastAsPossible`], for benchmarks). It groups each channel's records into
//! batches of up to [`MAX_BATCH_RECORDS`], encodes every batch once, and broadcasts the frame
//! to the per-client stream writers of that channel. A writer that falls more than
//! [`BROADCAST_CAPACITY`] frames behind skips the frames it missed (the client sees the gap in
//! `seq`) instead of holding the others back.
//!
//! Each client goes through the handshake of [`super::protocol`]; a client that breaks the
//! protocol or a limit is closed with a [`CloseCode`] and a reason. Nothing a client sends can
//! make the server panic; what happened to each client is reported as [`ServerEvent`]s.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, broadcast, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::describe_connection_error;
use super::framing::{FrameError, encode_frame, read_message, write_message};
use super::protocol::{
    ClientMessage, CloseCode, DataStreamHeader, HANDSHAKE_TIMEOUT, MAX_BATCH_RECORDS, MAX_CHANNELS,
    MAX_CONTROL_FRAME_BYTES, MAX_DATA_FRAME_BYTES, MAX_TOKEN_BYTES, PROTOCOL_VERSION,
    ServerMessage, channel_priority, clip_reason, transport_config,
};
use super::tls::{Fingerprint, ServerIdentity, TlsError, attach_command, server_crypto};
use crate::model::{Catalog, ChannelId, ChannelInfo, Record};
use crate::sources::RecordSource;

/// Frames a channel's broadcast holds for its slowest writer (real-time pacing: at one frame
/// per [`PUBLISH_INTERVAL`], about 5 s of stream).
pub const BROADCAST_CAPACITY: usize = 1024;
/// Shortest time between two publications in real-time pacing: records due within the same
/// 5 ms go out in one batch, so a 1 MHz source sends 5000-record batches (split at
/// [`MAX_BATCH_RECORDS`]) and a 200 Hz source one record per batch.
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(5);
/// As-fast-as-possible pacing waits while its slowest writer is this many frames behind: enough
/// to keep every connection's send buffer full, far from [`BROADCAST_CAPACITY`], so nothing is
/// skipped.
pub const FAST_HIGH_WATER: usize = 16;
/// Most ticks taken in one real-time round before the producer yields to other tasks.
pub const MAX_TICKS_PER_ROUND: usize = 64 * MAX_BATCH_RECORDS;
/// Clients served at once by default.
pub const DEFAULT_MAX_CLIENTS: usize = 64;
/// How long a rejected client gets to read the Reject message before the server closes.
pub const REJECT_LINGER: Duration = Duration::from_millis(500);
/// Capacity of the [`ServerEvent`] queue; events beyond it are dropped, never waited for.
pub const EVENT_QUEUE: usize = 256;

/// What a [`Feed`] carries from a publisher to the server.
#[derive(Debug)]
pub enum FeedItem {
    /// The catalog from now on: a superset of the one before (channels are only added, and an
    /// event channel's field list only grows). Clients that subscribed to every channel get
    /// it, and the new channels' streams.
    Catalog(Catalog),
    /// Records of channels in the catalog, in order per channel.
    Records(Vec<Record>),
}

/// Whether a slow client may lose records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Live data: the feed is never held back; a client more than [`BROADCAST_CAPACITY`] frames
    /// behind skips frames (it sees the gap in `seq`).
    Live,
    /// Every record to every client: the feed is taken only while the slowest client is less
    /// than [`FAST_HIGH_WATER`] frames behind, and not before the first client subscribed.
    Complete,
}

/// Records pushed by a program rather than ticked by the server (see [`super::publish`]).
pub struct Feed {
    /// The channels at the start (more may come as [`FeedItem::Catalog`]).
    pub catalog: Catalog,
    pub items: mpsc::Receiver<FeedItem>,
    pub delivery: Delivery,
}

/// What a server streams.
pub enum ServedSource {
    /// A source the server ticks itself, at the configured [`Pacing`].
    Ticks(Box<dyn RecordSource>),
    /// Records a publisher pushes.
    Feed(Feed),
}

impl ServedSource {
    fn catalog(&self) -> &Catalog {
        match self {
            ServedSource::Ticks(source) => source.catalog(),
            ServedSource::Feed(feed) => &feed.catalog,
        }
    }
}

/// How the producer paces the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// Each record is sent when the wall time since the start reaches its `t_ns`.
    RealTime,
    /// Records are sent as fast as the slowest client reads them (benchmarks); the producer
    /// waits for at least one subscriber before it starts.
    AsFastAsPossible,
}

/// Where the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum CertificateSource {
    /// Generate a self-signed certificate at start; clients must pin its fingerprint.
    SelfSigned,
    /// A PEM certificate chain and private key.
    PemFiles { cert: PathBuf, key: PathBuf },
}

/// Everything [`Server::bind`] needs.
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub certificate: CertificateSource,
    /// A token clients must present in Hello; `None` accepts every client.
    pub token: Option<String>,
    pub pacing: Pacing,
    pub max_clients: usize,
    pub source: ServedSource,
}

impl ServerConfig {
    /// Real-time pacing, a self-signed certificate, no token, [`DEFAULT_MAX_CLIENTS`].
    pub fn new(listen: SocketAddr, source: impl RecordSource) -> Self {
        Self::serving(listen, ServedSource::Ticks(Box::new(source)))
    }

    /// A server of records that a publisher pushes (see [`super::publish`]).
    pub fn feed(listen: SocketAddr, feed: Feed) -> Self {
        Self::serving(listen, ServedSource::Feed(feed))
    }

    /// `source` with the defaults of [`ServerConfig::new`].
    pub fn serving(listen: SocketAddr, source: ServedSource) -> Self {
        Self {
            listen,
            certificate: CertificateSource::SelfSigned,
            token: None,
            pacing: Pacing::RealTime,
            max_clients: DEFAULT_MAX_CLIENTS,
            source,
        }
    }
}

/// What a bound server tells its caller (to print).
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The address actually bound (the port is real when the config asked for port 0).
    pub addr: SocketAddr,
    /// SHA-256 fingerprint of the server's certificate.
    pub fingerprint: Fingerprint,
    /// Whether the certificate was generated at start.
    pub self_signed: bool,
    /// For a self-signed certificate: the exact `midstream-tui attach ADDR --pin ...` command.
    pub attach_command: Option<String>,
}

/// Something that happened to a client, for the caller to log.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// A client completed the handshake and subscribed to `channels` channels.
    ClientSubscribed { remote: SocketAddr, channels: usize },
    /// The server closed a client for breaking the protocol or a limit, or refused it.
    ClientClosed {
        remote: SocketAddr,
        code: CloseCode,
        reason: String,
    },
    /// A client's connection ended (it left, timed out, or failed its TLS handshake).
    ClientLeft { remote: SocketAddr, reason: String },
    /// A client fell behind on a channel and missed `batches` batches.
    ClientLagged {
        remote: SocketAddr,
        channel: ChannelId,
        batches: u64,
    },
    /// A record too large for one frame was dropped (a source bug).
    RecordDropped { channel: ChannelId, seq: u64 },
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid source: {0}")]
    Source(String),
}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    endpoint: quinn::Endpoint,
    source: ServedSource,
    pacing: Pacing,
    token: Option<String>,
    max_clients: usize,
    events_tx: mpsc::Sender<ServerEvent>,
    events_rx: Option<mpsc::Receiver<ServerEvent>>,
    /// Becomes true when the first client subscribes.
    subscribed: watch::Sender<bool>,
}

/// Closes a running server's endpoint from elsewhere (Ctrl-C); [`Server::run`] then returns.
#[derive(Clone)]
pub struct ShutdownHandle(quinn::Endpoint);

impl ShutdownHandle {
    /// Closes every connection with [`CloseCode::ServerShutdown`] and stops accepting.
    pub fn shutdown(&self) {
        self.0
            .close(CloseCode::ServerShutdown.varint(), b"server shutting down");
    }
}

impl Server {
    /// Loads or generates the certificate and binds the UDP socket. Must be called inside a
    /// tokio runtime.
    pub fn bind(config: ServerConfig) -> Result<(Server, ServerInfo), ServerError> {
        let catalog = config.source.catalog();
        if catalog.channels.len() > MAX_CHANNELS {
            return Err(ServerError::Source(format!(
                "{} channels, more than the protocol's limit of {MAX_CHANNELS}",
                catalog.channels.len()
            )));
        }
        let mut ids = HashSet::new();
        if let Some(dup) = catalog.channels.iter().find(|c| !ids.insert(c.id)) {
            return Err(ServerError::Source(format!(
                "channel id {} is used twice",
                dup.id
            )));
        }
        if let Some(token) = &config.token
            && token.len() > MAX_TOKEN_BYTES
        {
            return Err(ServerError::Source(format!(
                "the token is {} bytes, more than the limit of {MAX_TOKEN_BYTES}",
                token.len()
            )));
        }
        let identity = match &config.certificate {
            CertificateSource::SelfSigned => {
                ServerIdentity::self_signed(&self_signed_names(config.listen.ip()))?
            }
            CertificateSource::PemFiles { cert, key } => ServerIdentity::from_pem_files(cert, key)?,
        };
        let mut quic = quinn::ServerConfig::with_crypto(Arc::new(server_crypto(&identity)?));
        quic.transport_config(Arc::new(transport_config(true)));
        let endpoint =
            quinn::Endpoint::server(quic, config.listen).map_err(|source| ServerError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = endpoint.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        let fingerprint = identity.fingerprint();
        let info = ServerInfo {
            addr,
            fingerprint,
            self_signed: identity.self_signed,
            attach_command: identity
                .self_signed
                .then(|| attach_command(addr, fingerprint)),
        };
        let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
        let server = Server {
            endpoint,
            source: config.source,
            pacing: config.pacing,
            token: config.token,
            max_clients: config.max_clients,
            events_tx,
            events_rx: Some(events_rx),
            subscribed: watch::channel(false).0,
        };
        Ok((server, info))
    }

    /// The queue of [`ServerEvent`]s (once; later calls return `None`). Events are dropped
    /// when it is full, so not reading it costs nothing.
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<ServerEvent>> {
        self.events_rx.take()
    }

    /// Becomes true when the first client has subscribed.
    pub fn subscribed(&self) -> watch::Receiver<bool> {
        self.subscribed.subscribe()
    }

    /// A handle that shuts the server down.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.endpoint.clone())
    }

    /// Streams the source to every client until [`ShutdownHandle::shutdown`] is called, then
    /// waits for the connections to close (so every client gets the shutdown reason) and
    /// returns. Dropping this future instead ends the sessions abruptly.
    pub async fn run(self) -> Result<(), ServerError> {
        let hub = Arc::new(Hub::new(self.source.catalog()));
        let shared = Arc::new(Shared {
            subscribed: self.subscribed,
            hub: hub.clone(),
            token: self.token,
            max_clients: self.max_clients,
            active: AtomicUsize::new(0),
            events: self.events_tx.clone(),
        });
        let producer = match self.source {
            ServedSource::Ticks(source) => {
                tokio::spawn(produce(source, hub, self.pacing, self.events_tx))
            }
            ServedSource::Feed(feed) => tokio::spawn(produce_feed(feed, hub, self.events_tx)),
        };
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                incoming = self.endpoint.accept() => match incoming {
                    Some(incoming) => {
                        connections.spawn(handle_connection(incoming, shared.clone()));
                    }
                    None => break,
                },
                // Reap finished connection tasks so the set does not grow.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        // The endpoint is closed, so every session ends on its own; aborting them instead
        // would drop their connections before the close (and its reason) is sent.
        while connections.join_next().await.is_some() {}
        producer.abort();
        self.endpoint.wait_idle().await;
        Ok(())
    }
}

/// Names in a self-signed certificate: localhost, the loopback addresses, and the listen
/// address when it is a specific one. Clients pin the fingerprint, so the names only matter to
/// tools that look at them.
fn self_signed_names(listen: IpAddr) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !listen.is_unspecified() && !listen.is_loopback() {
        names.push(listen.to_string());
    }
    names
}

/// An encoded frame shared by every writer of a channel.
type Frame = Arc<[u8]>;

/// What a following session gets when the catalog grows: the catalog now, and each new
/// channel with a receiver of its frames.
type Growth = (Arc<Catalog>, Vec<(ChannelInfo, broadcast::Receiver<Frame>)>);

/// The per-channel broadcast of encoded batches, and the producer's wake-up when a writer
/// makes progress.
struct Hub {
    feeds: RwLock<HashMap<ChannelId, broadcast::Sender<Frame>>>,
    /// The catalog now (a feed's grows).
    catalog: RwLock<Arc<Catalog>>,
    /// Sessions subscribed to every channel, which also get each channel added later: its
    /// info and a receiver made before any of its records was published.
    followers: Mutex<Vec<mpsc::UnboundedSender<Growth>>>,
    progress: Notify,
    /// Set when the source has ended; writers then finish their streams.
    ended: AtomicBool,
}

impl Hub {
    fn new(catalog: &Catalog) -> Self {
        let feeds = catalog
            .channels
            .iter()
            .map(|c| (c.id, broadcast::channel(BROADCAST_CAPACITY).0))
            .collect();
        Self {
            feeds: RwLock::new(feeds),
            catalog: RwLock::new(Arc::new(catalog.clone())),
            followers: Mutex::new(Vec::new()),
            progress: Notify::new(),
            ended: AtomicBool::new(false),
        }
    }

    /// Marks the source as ended and tells every writer (an empty frame is the end marker).
    fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        for feed in self.feeds.read().values() {
            let _ = feed.send(Frame::from(Vec::new()));
        }
    }

    fn has_subscribers(&self) -> bool {
        self.feeds.read().values().any(|f| f.receiver_count() > 0)
            || self.followers.lock().iter().any(|f| !f.is_closed())
    }

    /// Frames still waiting for the slowest writer, over all channels.
    fn backlog(&self) -> usize {
        self.feeds
            .read()
            .values()
            .map(|f| f.len())
            .max()
            .unwrap_or(0)
    }

    /// Takes a grown catalog: a feed for each new channel, and for every following session a
    /// receiver of it, made before any of its records can be published.
    fn grow(&self, catalog: Catalog) {
        let catalog = Arc::new(catalog);
        let mut feeds = self.feeds.write();
        let added: Vec<ChannelInfo> = catalog
            .channels
            .iter()
            .filter(|c| !feeds.contains_key(&c.id))
            .cloned()
            .collect();
        for info in &added {
            feeds.insert(info.id, broadcast::channel(BROADCAST_CAPACITY).0);
        }
        *self.catalog.write() = catalog.clone();
        self.followers.lock().retain(|follower| {
            let streams = added
                .iter()
                .filter_map(|info| feeds.get(&info.id).map(|f| (info.clone(), f.subscribe())))
                .collect();
            follower.send((catalog.clone(), streams)).is_ok()
        });
    }
}

/// Groups records by channel and broadcasts them as encoded batches.
struct Publisher {
    hub: Arc<Hub>,
    pending: HashMap<ChannelId, Vec<Record>>,
    events: mpsc::Sender<ServerEvent>,
}

impl Publisher {
    fn push_all(&mut self, records: &mut Vec<Record>) {
        let mut full = Vec::new();
        {
            // One read of the feeds for the whole call; full batches go out after it.
            let feeds = self.hub.feeds.read();
            for record in records.drain(..) {
                let channel = record.channel;
                let subscribed = match feeds.get(&channel) {
                    Some(feed) => feed.receiver_count() > 0,
                    None => false, // not in the catalog: a source bug, nothing to send it on
                };
                if !subscribed {
                    continue;
                }
                let batch = self.pending.entry(channel).or_default();
                batch.push(record);
                if batch.len() >= MAX_BATCH_RECORDS {
                    full.push((channel, std::mem::take(batch)));
                }
            }
        }
        for (channel, batch) in full {
            self.send(channel, &batch);
        }
    }

    fn flush(&mut self) {
        let channels: Vec<ChannelId> = self.pending.keys().copied().collect();
        for channel in channels {
            if let Some(batch) = self.pending.get_mut(&channel)
                && !batch.is_empty()
            {
                let batch = std::mem::take(batch);
                self.send(channel, &batch);
            }
        }
    }

    /// Encodes and broadcasts `batch`, halving it while its frame is over the limit.
    fn send(&self, channel: ChannelId, batch: &[Record]) {
        match encode_frame(&batch, MAX_DATA_FRAME_BYTES, "record batch") {
            Ok(frame) => {
                // No receivers (every client left meanwhile) is not an error.
                if let Some(feed) = self.hub.feeds.read().get(&channel) {
                    let _ = feed.send(Frame::from(frame));
                }
            }
            Err(FrameError::TooLarge { .. }) if batch.len() > 1 => {
                let (a, b) = batch.split_at(batch.len() / 2);
                self.send(channel, a);
                self.send(channel, b);
            }
            Err(_) => {
                if let Some(record) = batch.first() {
                    let _ = self.events.try_send(ServerEvent::RecordDropped {
                        channel,
                        seq: record.seq,
                    });
                }
            }
        }
    }
}

/// Real-time pacing of a ticking source: a record goes out when the wall time since the start
/// reaches its `t_ns`, in rounds at least [`PUBLISH_INTERVAL`] apart of at most
/// [`MAX_TICKS_PER_ROUND`] ticks. Used by the server's [`Pacing::RealTime`] and by
/// [`super::publish::publish_ticks`].
pub(crate) struct TickPacer {
    start: Instant,
    last_wake: Instant,
    /// `t_ns` reached by this round, and its ticks taken so far.
    elapsed_ns: u64,
    ticks: usize,
}

impl TickPacer {
    pub(crate) fn new() -> Self {
        let start = Instant::now();
        Self {
            start,
            last_wake: start,
            elapsed_ns: 0,
            ticks: 0,
        }
    }

    /// Sleeps until the source's next tick is due, and at least [`PUBLISH_INTERVAL`] after the
    /// last round began; false when the source has ended.
    pub(crate) async fn wait<S: RecordSource + ?Sized>(&mut self, source: &mut S) -> bool {
        let Some(next_t_ns) = source.next_t_ns() else {
            return false;
        };
        let due = self.start + Duration::from_nanos(next_t_ns);
        tokio::time::sleep_until(due.max(self.last_wake + PUBLISH_INTERVAL)).await;
        self.last_wake = Instant::now();
        self.elapsed_ns =
            u64::try_from((self.last_wake - self.start).as_nanos()).unwrap_or(u64::MAX);
        self.ticks = 0;
        true
    }

    /// Appends this round's due ticks to `out` until it holds `limit` records; true when it
    /// stopped at the limit (more of the round may be due: hand `out` on and call again).
    pub(crate) fn take_due<S: RecordSource + ?Sized>(
        &mut self,
        source: &mut S,
        out: &mut Vec<Record>,
        limit: usize,
    ) -> bool {
        while self.ticks < MAX_TICKS_PER_ROUND
            && source.next_t_ns().is_some_and(|t| t <= self.elapsed_ns)
        {
            source.next_tick(out);
            self.ticks += 1;
            if out.len() >= limit {
                return true;
            }
        }
        false
    }
}

/// The producer task: runs the source and publishes its records until it ends.
async fn produce(
    mut source: Box<dyn RecordSource>,
    hub: Arc<Hub>,
    pacing: Pacing,
    events: mpsc::Sender<ServerEvent>,
) {
    let mut publisher = Publisher {
        hub: hub.clone(),
        pending: HashMap::new(),
        events,
    };
    let mut records = Vec::new();
    match pacing {
        Pacing::RealTime => {
            let mut pacer = TickPacer::new();
            while pacer.wait(&mut *source).await {
                while pacer.take_due(&mut *source, &mut records, MAX_BATCH_RECORDS) {
                    publisher.push_all(&mut records);
                }
                publisher.push_all(&mut records);
                publisher.flush();
            }
        }
        Pacing::AsFastAsPossible => loop {
            while !hub.has_subscribers() || hub.backlog() >= FAST_HIGH_WATER {
                hub.progress.notified().await;
            }
            let mut ended = false;
            for _ in 0..MAX_BATCH_RECORDS {
                if !source.next_tick(&mut records) {
                    ended = true;
                    break;
                }
            }
            publisher.push_all(&mut records);
            publisher.flush();
            if ended {
                break;
            }
            tokio::task::yield_now().await;
        },
    }
    publisher.flush();
    hub.end();
}

/// The producer of a [`Feed`]: publishes what the publisher pushes, holding it back for the
/// slowest client when the delivery is [`Delivery::Complete`].
async fn produce_feed(mut feed: Feed, hub: Arc<Hub>, events: mpsc::Sender<ServerEvent>) {
    let mut publisher = Publisher {
        hub: hub.clone(),
        pending: HashMap::new(),
        events,
    };
    loop {
        if feed.delivery == Delivery::Complete {
            while !hub.has_subscribers() || hub.backlog() >= FAST_HIGH_WATER {
                // A writer's progress or a new subscriber wakes this; the timeout covers a
                // wake-up that came between the check and the wait.
                let _ =
                    tokio::time::timeout(Duration::from_millis(50), hub.progress.notified()).await;
            }
        }
        match feed.items.recv().await {
            Some(FeedItem::Records(mut records)) => {
                publisher.push_all(&mut records);
                publisher.flush();
            }
            Some(FeedItem::Catalog(catalog)) => {
                publisher.flush();
                hub.grow(catalog);
            }
            None => break,
        }
    }
    publisher.flush();
    hub.end();
}

/// What every connection task shares.
struct Shared {
    subscribed: watch::Sender<bool>,
    hub: Arc<Hub>,
    token: Option<String>,
    max_clients: usize,
    active: AtomicUsize,
    events: mpsc::Sender<ServerEvent>,
}

/// Counts a connection as active for as long as it lives.
struct ActiveGuard<'a>(&'a AtomicUsize);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How a client session ended.
pub(super) enum SessionEnd {
    /// The connection ended on its own (client left, timed out, vanished).
    Ended(quinn::ConnectionError),
    /// The server closes the client with this code and reason.
    Close { code: CloseCode, reason: String },
}

impl SessionEnd {
    fn close(code: CloseCode, reason: impl Into<String>) -> Self {
        SessionEnd::Close {
            code,
            reason: reason.into(),
        }
    }
}

async fn handle_connection(incoming: quinn::Incoming, shared: Arc<Shared>) {
    let remote = incoming.remote_address();
    let conn = match incoming.await {
        Ok(conn) => conn,
        Err(e) => {
            let _ = shared.events.try_send(ServerEvent::ClientLeft {
                remote,
                reason: format!("handshake failed: {}", describe_connection_error(&e)),
            });
            return;
        }
    };
    let active = shared.active.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = ActiveGuard(&shared.active);
    let end = if active > shared.max_clients {
        SessionEnd::close(
            CloseCode::ServerBusy,
            format!("the server already has {} clients", shared.max_clients),
        )
    } else {
        session(&conn, &shared, remote).await
    };
    let event = match end {
        SessionEnd::Ended(e) => ServerEvent::ClientLeft {
            remote,
            reason: describe_connection_error(&e),
        },
        SessionEnd::Close { code, reason } => {
            let reason = clip_reason(&reason).to_owned();
            conn.close(code.varint(), reason.as_bytes());
            ServerEvent::ClientClosed {
                remote,
                code,
                reason,
            }
        }
    };
    let _ = shared.events.try_send(event);
}

/// Reads one control message within [`HANDSHAKE_TIMEOUT`], turning every failure into the
/// session's end.
async fn read_control(
    conn: &quinn::Connection,
    recv: &mut quinn::RecvStream,
    expecting: &'static str,
) -> Result<ClientMessage, SessionEnd> {
    let read = read_message::<ClientMessage, _>(recv, MAX_CONTROL_FRAME_BYTES, expecting);
    tokio::select! {
        result = tokio::time::timeout(HANDSHAKE_TIMEOUT, read) => match result {
            Err(_) => Err(SessionEnd::close(
                CloseCode::Timeout,
                format!("no {expecting} within {} s", HANDSHAKE_TIMEOUT.as_secs()),
            )),
            Ok(Ok(Some(message))) => Ok(message),
            Ok(Ok(None)) => Err(SessionEnd::close(
                CloseCode::ProtocolViolation,
                format!("control stream ended before {expecting}"),
            )),
            Ok(Err(e)) => Err(frame_violation(conn, expecting, e)),
        },
        e = conn.closed() => Err(SessionEnd::Ended(e)),
    }
}

/// A frame error on the control stream: a violation, unless the connection itself is gone.
fn frame_violation(conn: &quinn::Connection, expecting: &str, e: FrameError) -> SessionEnd {
    match conn.close_reason() {
        Some(closed) => SessionEnd::Ended(closed),
        None => SessionEnd::close(
            CloseCode::ProtocolViolation,
            format!("bad {expecting}: {e}"),
        ),
    }
}

/// Tokens compared without an early exit on the first differing byte.
fn tokens_match(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Why a Hello with `version` and `token` is refused by a server that requires `expected` (if
/// any): the close code and the reason sent in the Reject. `None`: accepted.
pub(super) fn hello_refusal(
    expected: Option<&str>,
    version: u32,
    token: Option<&str>,
) -> Option<(CloseCode, String)> {
    if version != PROTOCOL_VERSION {
        return Some((
            CloseCode::VersionMismatch,
            format!(
                "protocol version {version} is not supported; this server speaks version \
                 {PROTOCOL_VERSION}"
            ),
        ));
    }
    match (expected, token) {
        (Some(expected), Some(given)) if tokens_match(expected, given) => None,
        (Some(_), Some(_)) => Some((CloseCode::Rejected, "token does not match".to_owned())),
        (Some(_), None) => Some((
            CloseCode::Rejected,
            "this server requires a token (--token)".to_owned(),
        )),
        (None, _) => None,
    }
}

async fn session(conn: &quinn::Connection, shared: &Shared, remote: SocketAddr) -> SessionEnd {
    let accepted = tokio::select! {
        r = tokio::time::timeout(HANDSHAKE_TIMEOUT, conn.accept_bi()) => r,
        e = conn.closed() => return SessionEnd::Ended(e),
    };
    let (mut send, mut recv) = match accepted {
        Err(_) => {
            return SessionEnd::close(
                CloseCode::Timeout,
                format!("no control stream within {} s", HANDSHAKE_TIMEOUT.as_secs()),
            );
        }
        Ok(Err(e)) => return SessionEnd::Ended(e),
        Ok(Ok(streams)) => streams,
    };

    let (version, token) = match read_control(conn, &mut recv, "Hello").await {
        Ok(ClientMessage::Hello { version, token }) => (version, token),
        Ok(other) => {
            return SessionEnd::close(
                CloseCode::ProtocolViolation,
                format!("expected Hello, got {}", message_name(&other)),
            );
        }
        Err(end) => return end,
    };
    if let Some((code, reason)) = hello_refusal(shared.token.as_deref(), version, token.as_deref())
    {
        let reject = ServerMessage::Reject {
            reason: clip_reason(&reason).to_owned(),
        };
        if write_message(&mut send, &reject, MAX_CONTROL_FRAME_BYTES, "Reject")
            .await
            .is_ok()
        {
            let _ = send.finish();
            // Give the client a moment to read the reason and leave on its own.
            let _ = tokio::time::timeout(REJECT_LINGER, conn.closed()).await;
        }
        return SessionEnd::Close { code, reason };
    }

    let sent_catalog = shared.hub.catalog.read().clone();
    let catalog = ServerMessage::Catalog((*sent_catalog).clone());
    if let Err(e) = write_message(&mut send, &catalog, MAX_CONTROL_FRAME_BYTES, "Catalog").await {
        return frame_violation(conn, "Catalog", e);
    }

    let channels = match read_control(conn, &mut recv, "Subscribe").await {
        Ok(ClientMessage::Subscribe { channels }) => channels,
        Ok(other) => {
            return SessionEnd::close(
                CloseCode::ProtocolViolation,
                format!("expected Subscribe, got {}", message_name(&other)),
            );
        }
        Err(end) => return end,
    };
    let subscribed = match validate_subscription(&sent_catalog, &channels) {
        Ok(infos) => infos,
        Err(end) => return end,
    };
    // A client that took every channel also gets the channels added later (a text input's
    // new fields), with the catalog that lists them.
    let follows = subscribed.len() == sent_catalog.channels.len();

    let mut writers = JoinSet::new();
    let (follow_tx, mut follow_rx) = mpsc::unbounded_channel();
    let mut streams: Vec<(ChannelInfo, broadcast::Receiver<Frame>)> = Vec::new();
    let mut update = None;
    {
        let feeds = shared.hub.feeds.read();
        for info in subscribed {
            if let Some(feed) = feeds.get(&info.id) {
                streams.push((info, feed.subscribe()));
            }
        }
        if follows {
            let now = shared.hub.catalog.read().clone();
            for info in &now.channels {
                if sent_catalog.channel(info.id).is_none()
                    && let Some(feed) = feeds.get(&info.id)
                {
                    streams.push((info.clone(), feed.subscribe()));
                }
            }
            if *now != *sent_catalog {
                update = Some(now);
            }
            shared.hub.followers.lock().push(follow_tx);
        }
    }
    if let Err(end) = open_streams(
        conn,
        &mut send,
        update.as_deref(),
        streams,
        &mut writers,
        shared,
        remote,
    )
    .await
    {
        return end;
    }
    // A fast producer may be waiting for its first subscriber.
    shared.subscribed.send_replace(true);
    shared.hub.progress.notify_one();
    let _ = shared.events.try_send(ServerEvent::ClientSubscribed {
        remote,
        channels: channels.len(),
    });

    // Nothing may follow Subscribe; the client may finish its side of the control stream.
    let mut control_open = true;
    loop {
        tokio::select! {
            message = read_message::<ClientMessage, _>(&mut recv, MAX_CONTROL_FRAME_BYTES, "control message"),
                if control_open =>
            {
                match message {
                    Ok(None) => control_open = false,
                    Ok(Some(other)) => {
                        return SessionEnd::close(
                            CloseCode::ProtocolViolation,
                            format!("unexpected {} after Subscribe", message_name(&other)),
                        );
                    }
                    Err(e) => return frame_violation(conn, "control message", e),
                }
            }
            added = follow_rx.recv() => {
                let Some((catalog, streams)) = added else { continue };
                if let Err(end) = open_streams(conn, &mut send, Some(&catalog), streams, &mut writers, shared, remote).await {
                    return end;
                }
            }
            e = conn.closed() => return SessionEnd::Ended(e),
        }
    }
}

/// Sends `catalog` as a [`ServerMessage::CatalogUpdate`] when there is one, then opens a data
/// stream for each of `streams`.
async fn open_streams(
    conn: &quinn::Connection,
    control: &mut quinn::SendStream,
    catalog: Option<&Catalog>,
    streams: Vec<(ChannelInfo, broadcast::Receiver<Frame>)>,
    writers: &mut JoinSet<()>,
    shared: &Shared,
    remote: SocketAddr,
) -> Result<(), SessionEnd> {
    if let Some(catalog) = catalog {
        let message = ServerMessage::CatalogUpdate(catalog.clone());
        write_message(control, &message, MAX_CONTROL_FRAME_BYTES, "CatalogUpdate")
            .await
            .map_err(|e| frame_violation(conn, "CatalogUpdate", e))?;
    }
    for (info, frames) in streams {
        writers.spawn(stream_channel(
            conn.clone(),
            frames,
            info,
            shared.hub.clone(),
            shared.events.clone(),
            remote,
        ));
    }
    Ok(())
}

fn message_name(message: &ClientMessage) -> &'static str {
    match message {
        ClientMessage::Hello { .. } => "Hello",
        ClientMessage::Subscribe { .. } => "Subscribe",
    }
}

/// The catalog entries of a subscription, or why it is refused.
pub(super) fn validate_subscription(
    catalog: &Catalog,
    channels: &[ChannelId],
) -> Result<Vec<ChannelInfo>, SessionEnd> {
    if channels.len() > MAX_CHANNELS {
        return Err(SessionEnd::close(
            CloseCode::LimitExceeded,
            format!(
                "subscription to {} channels exceeds the limit of {MAX_CHANNELS}",
                channels.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut infos = Vec::with_capacity(channels.len());
    for id in channels {
        if !seen.insert(*id) {
            return Err(SessionEnd::close(
                CloseCode::ProtocolViolation,
                format!("channel id {id} is subscribed twice"),
            ));
        }
        match catalog.channel(*id) {
            Some(info) => infos.push(info.clone()),
            None => {
                return Err(SessionEnd::close(
                    CloseCode::ProtocolViolation,
                    format!("channel id {id} is not in the catalog"),
                ));
            }
        }
    }
    Ok(infos)
}

/// One client's data stream for one channel: header, then every broadcast frame.
async fn stream_channel(
    conn: quinn::Connection,
    mut frames: broadcast::Receiver<Frame>,
    info: ChannelInfo,
    hub: Arc<Hub>,
    events: mpsc::Sender<ServerEvent>,
    remote: SocketAddr,
) {
    let Ok(mut send) = conn.open_uni().await else {
        return;
    };
    // Only fails on a stream that is already closed.
    let _ = send.set_priority(channel_priority(&info.kind));
    let header = DataStreamHeader { channel: info.id };
    if write_message(&mut send, &header, MAX_CONTROL_FRAME_BYTES, "stream header")
        .await
        .is_err()
    {
        return;
    }
    if hub.ended.load(Ordering::SeqCst) {
        let _ = send.finish();
        return;
    }
    loop {
        match frames.recv().await {
            Ok(frame) if frame.is_empty() => {
                let _ = send.finish();
                return;
            }
            Ok(frame) => {
                if send.write_all(&frame).await.is_err() {
                    return; // the connection is gone; the session reports why
                }
                hub.progress.notify_one();
            }
            Err(broadcast::error::RecvError::Lagged(batches)) => {
                let _ = events.try_send(ServerEvent::ClientLagged {
                    remote,
                    channel: info.id,
                    batches,
                });
            }
            Err(broadcast::error::RecvError::Closed) => {
                let _ = send.finish();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChannelKind;

    fn catalog() -> Catalog {
        Catalog {
            source: "test".into(),
            channels: (0..3)
                .map(|id| ChannelInfo {
                    id,
                    name: format!("c{id}"),
                    kind: ChannelKind::Scalar,
                    unit: None,
                    period_s: None,
                })
                .collect(),
        }
    }

    fn refusal(result: Result<Vec<ChannelInfo>, SessionEnd>) -> (CloseCode, String) {
        match result {
            Err(SessionEnd::Close { code, reason }) => (code, reason),
            Err(SessionEnd::Ended(_)) => panic!("expected a refusal, got an ended connection"),
            Ok(infos) => panic!("expected a refusal, got {} channels", infos.len()),
        }
    }

    #[test]
    fn subscriptions_are_checked_against_the_catalog_and_limits() {
        let cat = catalog();
        assert_eq!(
            validate_subscription(&cat, &[2, 0]).ok().map(|v| v.len()),
            Some(2)
        );
        assert_eq!(
            validate_subscription(&cat, &[]).ok().map(|v| v.len()),
            Some(0)
        );
        let (code, reason) = refusal(validate_subscription(&cat, &[7]));
        assert_eq!(code, CloseCode::ProtocolViolation);
        assert_eq!(reason, "channel id 7 is not in the catalog");
        let (_, reason) = refusal(validate_subscription(&cat, &[1, 1]));
        assert_eq!(reason, "channel id 1 is subscribed twice");
        let many: Vec<ChannelId> = (0..=MAX_CHANNELS as u32).collect();
        let (code, _) = refusal(validate_subscription(&cat, &many));
        assert_eq!(code, CloseCode::LimitExceeded);
    }

    #[test]
    fn tokens_must_match_exactly() {
        assert!(tokens_match("s3cret", "s3cret"));
        assert!(!tokens_match("s3cret", "s3creT"));
        assert!(!tokens_match("s3cret", "s3cre"));
        assert!(!tokens_match("", "x"));
    }

    #[test]
    fn oversized_batches_are_split_not_lost() {
        let hub = Arc::new(Hub::new(&catalog()));
        let mut rx = hub.feeds.read()[&1].subscribe();
        let (events, _events_rx) = mpsc::channel(4);
        let mut publisher = Publisher {
            hub,
            pending: HashMap::new(),
            events,
        };
        // 40 tokens of 100 KiB: 4 MiB in all, so the batch must be split into ≤ 1 MiB frames.
        let mut records: Vec<Record> = (0..40)
            .map(|seq| Record {
                channel: 1,
                seq,
                t_ns: seq,
                value: crate::model::Value::Token("x".repeat(100 << 10)),
            })
            .collect();
        publisher.push_all(&mut records);
        publisher.flush();
        let mut seqs = Vec::new();
        while let Ok(frame) = rx.try_recv() {
            assert!(frame.len() <= MAX_DATA_FRAME_BYTES + 4);
            let batch: Vec<Record> =
                crate::transport::framing::decode_body(&frame[4..], "batch").unwrap();
            seqs.extend(batch.iter().map(|r| r.seq));
        }
        assert_eq!(seqs, (0..40).collect::<Vec<u64>>());
    }
}
