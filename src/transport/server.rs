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
//!
//! What one peer can make the server do is bounded by [`ServerLimits`]: connections in all and
//! from one address, channels per subscription, and the size of its frames; a client can open
//! one stream (the control stream, by QUIC stream credit) and sends two messages, so there is
//! no rate of records to limit. Silent peers cannot starve the others: the connections that
//! have not yet subscribed are closed first when the server (or an address) is full and a new
//! connection arrives, and their deadline for Hello and Subscribe shortens as the server fills.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, broadcast, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::describe_connection_error;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::batch::encode_batch_frame;
use super::framing::{FrameError, LENGTH_PREFIX_BYTES, read_message, write_message};
use super::protocol::{
    ClientMessage, CloseCode, DEFAULT_CLIENT_FRAME_BYTES, DataStreamHeader, HANDSHAKE_TIMEOUT,
    MAX_BATCH_RECORDS, MAX_CHANNELS, MAX_CONTROL_FRAME_BYTES, MAX_DATA_FRAME_BYTES,
    MAX_TOKEN_BYTES, MIN_CLIENT_FRAME_BYTES, MIN_HANDSHAKE_TIMEOUT, PROTOCOL_VERSION,
    ServerMessage, channel_priority, clip_reason, transport_config, urgent,
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
/// Connections from one IP address at once by default: a quarter of [`DEFAULT_MAX_CLIENTS`],
/// room for several dashboards and recorders behind one NAT, while one host alone cannot fill
/// the server.
pub const DEFAULT_MAX_CLIENTS_PER_ADDRESS: usize = 16;
/// How often a connection that has not yet subscribed looks at its deadline, which shortens as
/// the server fills.
const DEADLINE_CHECK: Duration = Duration::from_millis(100);
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
    /// A second lane, read before `items`: catalogs and the records of channels whose streams
    /// are above the samples' (events). With [`Delivery::Complete`] it is held back only by
    /// its own channels' backlog, so a saturating sample channel does not delay an event by a
    /// full feed queue. A channel's records always take the same lane.
    pub urgent: mpsc::Receiver<FeedItem>,
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

/// What one peer may make the server do, and how many peers it serves at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections at once, counting those still before their Hello (`serve --max-clients`).
    /// When full, a new connection takes the place of the oldest that has not yet subscribed,
    /// or is closed with [`CloseCode::ServerBusy`].
    pub max_clients: usize,
    /// Connections at once from one IP address (`--max-clients-per-address`); beyond it, as for
    /// `max_clients` but among that address's connections, and [`CloseCode::LimitExceeded`].
    pub max_clients_per_address: usize,
    /// Channels one client may subscribe to (`--max-channels`), at most [`MAX_CHANNELS`]: each
    /// is one stream the server opens and writes for that client.
    pub max_channels: usize,
    /// Largest control frame (Hello, Subscribe) a client may send, in bytes
    /// (`--max-frame-bytes`), from [`MIN_CLIENT_FRAME_BYTES`] to [`MAX_CONTROL_FRAME_BYTES`].
    /// The control stream's QUIC flow-control window is twice this, so that is all a client
    /// can make the server buffer.
    pub max_frame_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_clients: DEFAULT_MAX_CLIENTS,
            max_clients_per_address: DEFAULT_MAX_CLIENTS_PER_ADDRESS,
            max_channels: MAX_CHANNELS,
            max_frame_bytes: DEFAULT_CLIENT_FRAME_BYTES,
        }
    }
}

impl ServerLimits {
    /// Why these limits cannot be served, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.max_clients == 0 || self.max_clients_per_address == 0 {
            return Err("the connection limits must be at least 1".to_owned());
        }
        if !(1..=MAX_CHANNELS).contains(&self.max_channels) {
            return Err(format!(
                "the channel limit must be from 1 to {MAX_CHANNELS}, got {}",
                self.max_channels
            ));
        }
        if !(MIN_CLIENT_FRAME_BYTES..=MAX_CONTROL_FRAME_BYTES).contains(&self.max_frame_bytes) {
            return Err(format!(
                "the frame limit must be from {MIN_CLIENT_FRAME_BYTES} to \
                 {MAX_CONTROL_FRAME_BYTES} bytes, got {}",
                self.max_frame_bytes
            ));
        }
        Ok(())
    }

    /// The deadline for Hello and Subscribe, from the connection's start, when `held`
    /// connections are open and `from_address` of them from its address:
    /// [`HANDSHAKE_TIMEOUT`] up to half full, then shorter down to [`MIN_HANDSHAKE_TIMEOUT`]
    /// when full.
    pub fn handshake_deadline(&self, held: usize, from_address: usize) -> Duration {
        let load = (held as f64 / self.max_clients as f64)
            .max(from_address as f64 / self.max_clients_per_address as f64);
        let squeeze = ((load - 0.5) / 0.5).clamp(0.0, 1.0);
        HANDSHAKE_TIMEOUT
            .saturating_sub((HANDSHAKE_TIMEOUT - MIN_HANDSHAKE_TIMEOUT).mul_f64(squeeze))
    }
}

/// Everything [`Server::bind`] needs.
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub certificate: CertificateSource,
    /// A token clients must present in Hello; `None` accepts every client.
    pub token: Option<String>,
    pub pacing: Pacing,
    pub limits: ServerLimits,
    pub source: ServedSource,
    /// Data streams prioritised by channel kind (`channel_priority`); false puts every stream
    /// at one priority, for the QUIC benchmark that measures what priorities change.
    pub stream_priorities: bool,
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
            limits: ServerLimits::default(),
            source,
            stream_priorities: true,
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
    #[error("invalid limits: {0}")]
    Limits(String),
}

/// How far a server's delivery to its clients has come: how many data streams are open, and
/// how many writes to them have been made. A stream is open from its client's subscription
/// until its client has acknowledged all of it (or its connection is gone), or
/// [`DRAIN_PATIENCE`] after it was finished at the source's end.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    pub open_streams: usize,
    pub writes: u64,
}

impl Drain {
    /// No stream is open: every subscribed client has been sent, and has acknowledged, the end
    /// of each of its streams, or there is none.
    pub fn is_done(&self) -> bool {
        self.open_streams == 0
    }
}

/// Longest a draining delivery may stand still: after a data stream is finished, the wait for
/// its client to acknowledge the rest of it; after a publisher is dropped, the wait for any
/// change in its [`Drain`] (a client that has stopped reading).
pub const DRAIN_PATIENCE: Duration = Duration::from_secs(30);

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    endpoint: quinn::Endpoint,
    source: ServedSource,
    stream_priorities: bool,
    pacing: Pacing,
    token: Option<String>,
    limits: ServerLimits,
    events_tx: mpsc::Sender<ServerEvent>,
    events_rx: Option<mpsc::Receiver<ServerEvent>>,
    /// Becomes true when the first client subscribes.
    subscribed: watch::Sender<bool>,
    drain: watch::Sender<Drain>,
}

/// Closes a running server's endpoint from elsewhere (Ctrl-C); [`Server::run`] then returns.
#[derive(Clone)]
pub struct ShutdownHandle(quinn::Endpoint);

impl ShutdownHandle {
    /// Closes every connection with [`CloseCode::ServerShutdown`] and the reason "server
    /// shutting down", and stops accepting.
    pub fn shutdown(&self) {
        self.shutdown_because("server shutting down");
    }

    /// [`ShutdownHandle::shutdown`] with the reason clients are given, such as "server shutting
    /// down (SIGTERM)".
    pub fn shutdown_because(&self, reason: &str) {
        self.0.close(
            CloseCode::ServerShutdown.varint(),
            clip_reason(reason).as_bytes(),
        );
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
        config.limits.check().map_err(ServerError::Limits)?;
        let mut quic = quinn::ServerConfig::with_crypto(Arc::new(server_crypto(&identity)?));
        let mut transport = transport_config(true);
        // A client's one stream carries two frames; this is all it can make the server buffer.
        let window = (2 * (config.limits.max_frame_bytes + LENGTH_PREFIX_BYTES)) as u32;
        transport
            .stream_receive_window(quinn::VarInt::from_u32(window))
            .receive_window(quinn::VarInt::from_u32(window));
        quic.transport_config(Arc::new(transport));
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
            stream_priorities: config.stream_priorities,
            token: config.token,
            limits: config.limits,
            events_tx,
            events_rx: Some(events_rx),
            subscribed: watch::channel(false).0,
            drain: watch::channel(Drain::default()).0,
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

    /// How far the delivery has come, as it changes.
    pub fn drain(&self) -> watch::Receiver<Drain> {
        self.drain.subscribe()
    }

    /// A handle that shuts the server down.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.endpoint.clone())
    }

    /// Streams the source to every client until [`ShutdownHandle::shutdown`] is called, then
    /// waits for the connections to close (so every client gets the shutdown reason) and
    /// returns. Dropping this future instead ends the sessions abruptly.
    pub async fn run(self) -> Result<(), ServerError> {
        let mut hub = Hub::new(self.source.catalog());
        hub.stream_priorities = self.stream_priorities;
        hub.drain = self.drain;
        let hub = Arc::new(hub);
        let shared = Arc::new(Shared {
            subscribed: self.subscribed,
            hub: hub.clone(),
            token: self.token.as_deref().map(TokenDigest::of),
            limits: self.limits,
            admission: Mutex::new(Admission::default()),
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

/// An encoded frame shared by every writer of a channel. The encoder's buffer becomes the
/// frame as it is (no copy), and each writer hands quinn a reference to it
/// (`SendStream::write_all_chunks`), so a frame's bytes are written once, by the encoder,
/// whatever the number of clients. The buffer keeps the encoder's capacity, 34 bytes a
/// scalar record (the longest one) where a record takes 12 to 34: under 3 times the frame.
type Frame = bytes::Bytes;

/// Most frames one writer hands quinn in one call (each a batch of up to
/// [`MAX_BATCH_RECORDS`] records): those already waiting in the broadcast when it wakes.
const WRITE_CHUNKS: usize = 32;

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
    /// See [`ServerConfig::stream_priorities`].
    stream_priorities: bool,
    /// The open data streams and their writes, for [`Server::drain`].
    drain: watch::Sender<Drain>,
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
            stream_priorities: true,
            drain: watch::channel(Drain::default()).0,
        }
    }

    /// Marks the source as ended and tells every writer (an empty frame is the end marker).
    fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        for feed in self.feeds.read().values() {
            let _ = feed.send(Frame::new());
        }
    }

    fn has_subscribers(&self) -> bool {
        self.feeds.read().values().any(|f| f.receiver_count() > 0)
            || self.followers.lock().iter().any(|f| !f.is_closed())
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

/// [`Publisher::held_back`]: whether some channel's slowest writer is [`FAST_HIGH_WATER`]
/// frames behind (`any`), and some [`urgent`] channel's (`urgent`).
#[derive(Debug, Default, Clone, Copy)]
struct HeldBack {
    any: bool,
    urgent: bool,
}

/// Groups records by channel and broadcasts them as encoded batches.
struct Publisher {
    hub: Arc<Hub>,
    pending: HashMap<ChannelId, Vec<Record>>,
    events: mpsc::Sender<ServerEvent>,
    /// The channels whose slowest writer was [`FAST_HIGH_WATER`] or more frames behind after a
    /// send, until they drain below it. A backlog grows only by a send, so these are the only
    /// channels that can hold the producer back, and [`Publisher::held_back`] looks at them
    /// alone: with 1,000 channels, asking every channel's broadcast before each batch took half
    /// of `quic/midstream/multiplexed/1000`.
    full: HashSet<ChannelId>,
}

impl Publisher {
    fn new(hub: Arc<Hub>, events: mpsc::Sender<ServerEvent>) -> Self {
        Self {
            hub,
            pending: HashMap::new(),
            events,
            full: HashSet::new(),
        }
    }

    /// Which lanes a writer holds back: whether the slowest writer of some channel, and of
    /// some [`urgent`] channel, is [`FAST_HIGH_WATER`] frames or more behind.
    fn held_back(&mut self) -> HeldBack {
        {
            let feeds = self.hub.feeds.read();
            self.full
                .retain(|c| feeds.get(c).is_some_and(|f| f.len() >= FAST_HIGH_WATER));
        }
        if self.full.is_empty() {
            return HeldBack::default();
        }
        let catalog = self.hub.catalog.read().clone();
        let urgent = self.full.iter().any(|&id| {
            // A channel's id is its index in a publisher's catalog; any other catalog is
            // searched.
            match catalog.channels.get(id as usize) {
                Some(c) if c.id == id => Some(c),
                _ => catalog.channels.iter().find(|c| c.id == id),
            }
            .is_some_and(|c| urgent(&c.kind))
        });
        HeldBack { any: true, urgent }
    }

    fn push_all(&mut self, records: &mut Vec<Record>) {
        // The common case, a batch of one channel's records (`send_records` of a source that
        // batches per channel): one look-up, and encoded from where they are. Profiled on the
        // single-stream benchmark, hashing and moving every record cost a tenth of the time.
        if let Some(first) = records.first()
            && self.pending.is_empty()
            && records.iter().all(|r| r.channel == first.channel)
        {
            let channel = first.channel;
            let subscribed = self
                .hub
                .feeds
                .read()
                .get(&channel)
                .is_some_and(|feed| feed.receiver_count() > 0);
            if subscribed {
                for batch in records.chunks(MAX_BATCH_RECORDS) {
                    self.send(channel, batch);
                }
            }
            records.clear();
            return;
        }
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

    /// Sends every pending batch and forgets the channels, so that an empty `pending` means no
    /// record is waiting (the single-channel fast path of [`Publisher::push_all`] needs that).
    fn flush(&mut self) {
        for (channel, batch) in std::mem::take(&mut self.pending) {
            if !batch.is_empty() {
                self.send(channel, &batch);
            }
        }
    }

    /// Encodes and broadcasts `batch`, halving it while its frame is over the limit.
    fn send(&mut self, channel: ChannelId, batch: &[Record]) {
        match encode_batch_frame(batch, MAX_DATA_FRAME_BYTES, "record batch") {
            Ok(frame) => {
                // No receivers (every client left meanwhile) is not an error.
                if let Some(feed) = self.hub.feeds.read().get(&channel) {
                    let _ = feed.send(Frame::from(frame));
                    if feed.len() >= FAST_HIGH_WATER {
                        self.full.insert(channel);
                    }
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
    let mut publisher = Publisher::new(hub.clone(), events);
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
            while !hub.has_subscribers() || publisher.held_back().any {
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
    let mut publisher = Publisher::new(hub.clone(), events);
    let mut urgent_open = true;
    loop {
        let complete = feed.delivery == Delivery::Complete;
        // With complete delivery each lane is taken only while its channels' slowest writer is
        // less than FAST_HIGH_WATER frames behind, and not before the first subscriber.
        let (take_urgent, take_items) = if complete && !hub.has_subscribers() {
            (false, false)
        } else if complete {
            let held = publisher.held_back();
            (urgent_open && !held.urgent, !held.any)
        } else {
            (urgent_open, true)
        };
        let item = tokio::select! {
            biased;
            item = feed.urgent.recv(), if take_urgent => match item {
                Some(item) => Some(item),
                None => {
                    urgent_open = false;
                    continue;
                }
            },
            item = feed.items.recv(), if take_items => item,
            // A writer's progress or a new subscriber wakes this; the timeout covers a wake-up
            // that came between the check and the wait.
            _ = tokio::time::timeout(Duration::from_millis(50), hub.progress.notified()),
                if !(take_urgent && take_items) => continue,
        };
        match item {
            Some(FeedItem::Records(mut records)) => {
                publisher.push_all(&mut records);
                publisher.flush();
            }
            Some(FeedItem::Catalog(catalog)) => {
                publisher.flush();
                hub.grow(catalog);
            }
            None => {
                // The publisher is gone: what is left in the urgent lane goes out before the end
                // (at most FEED_QUEUE batches, so within the broadcast capacity).
                while let Ok(item) = feed.urgent.try_recv() {
                    match item {
                        FeedItem::Records(mut records) => publisher.push_all(&mut records),
                        FeedItem::Catalog(catalog) => {
                            publisher.flush();
                            hub.grow(catalog);
                        }
                    }
                }
                break;
            }
        }
    }
    publisher.flush();
    hub.end();
}

/// What every connection task shares.
struct Shared {
    subscribed: watch::Sender<bool>,
    hub: Arc<Hub>,
    token: Option<TokenDigest>,
    limits: ServerLimits,
    admission: Mutex<Admission>,
    events: mpsc::Sender<ServerEvent>,
}

/// The SHA-256 digest of the server's token. Tokens are compared by digest, in constant time
/// ([`subtle::ConstantTimeEq`] over the 32 bytes): the comparison takes as long whatever the
/// token given, its length included, so timing tells an attacker nothing about the token.
pub(super) struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub(super) fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    fn matches(&self, given: &str) -> bool {
        bool::from(self.0.ct_eq(&TokenDigest::of(given).0))
    }
}

/// How far a held connection has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Handshake done, no Hello yet: the first to be closed for room.
    Silent,
    /// Hello accepted, no Subscribe yet: closed for room when no silent one is left.
    Greeted,
    /// Streaming; never closed for room.
    Subscribed,
}

/// A connection the server holds.
struct Held {
    id: u64,
    ip: IpAddr,
    since: Instant,
    stage: Stage,
    conn: quinn::Connection,
}

/// Every connection the server holds, for its limits.
#[derive(Default)]
struct Admission {
    next_id: u64,
    held: Vec<Held>,
}

impl Admission {
    fn held_from(&self, ip: IpAddr) -> usize {
        self.held.iter().filter(|h| h.ip == ip).count()
    }

    /// The connection to close for room among those `eligible`: silent before greeted, the
    /// oldest first; never one that has subscribed.
    fn take_for_room(&mut self, eligible: impl Fn(&Held) -> bool) -> Option<Held> {
        let index = self
            .held
            .iter()
            .enumerate()
            .filter(|(_, h)| h.stage < Stage::Subscribed && eligible(h))
            .min_by_key(|(_, h)| (h.stage, h.since))
            .map(|(i, _)| i)?;
        Some(self.held.swap_remove(index))
    }
}

/// A connection's place in the [`Admission`], given up when dropped.
struct Ticket<'a> {
    shared: &'a Shared,
    id: u64,
    ip: IpAddr,
    since: Instant,
    /// The shortest handshake deadline so far.
    allowed: Mutex<Duration>,
}

impl Ticket<'_> {
    fn advance(&self, stage: Stage) {
        let mut admission = self.shared.admission.lock();
        if let Some(held) = admission.held.iter_mut().find(|h| h.id == self.id) {
            held.stage = stage;
        }
    }

    /// When this connection must have subscribed: the shortest deadline the server's load has
    /// given it so far (it never grows back when others leave).
    fn deadline(&self) -> (Instant, Duration) {
        let now = {
            let admission = self.shared.admission.lock();
            self.shared
                .limits
                .handshake_deadline(admission.held.len(), admission.held_from(self.ip))
        };
        let mut allowed = self.allowed.lock();
        *allowed = (*allowed).min(now);
        (self.since + *allowed, *allowed)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.shared
            .admission
            .lock()
            .held
            .retain(|h| h.id != self.id);
    }
}

impl Shared {
    /// Takes `conn` in, closing the oldest connection that has not yet subscribed when its
    /// address or the server is full; or says why it cannot be taken.
    fn admit(
        &self,
        conn: &quinn::Connection,
        remote: SocketAddr,
    ) -> Result<Ticket<'_>, SessionEnd> {
        let ip = remote.ip();
        let limits = &self.limits;
        let mut room_made = Vec::new();
        let ticket = {
            let mut admission = self.admission.lock();
            if admission.held_from(ip) >= limits.max_clients_per_address {
                match admission.take_for_room(|h| h.ip == ip) {
                    Some(held) => room_made.push(held),
                    None => {
                        return Err(SessionEnd::close(
                            CloseCode::LimitExceeded,
                            format!(
                                "too many connections from {ip}: the limit is {} per address",
                                limits.max_clients_per_address
                            ),
                        ));
                    }
                }
            }
            if admission.held.len() >= limits.max_clients {
                match admission.take_for_room(|_| true) {
                    Some(held) => room_made.push(held),
                    None => {
                        return Err(SessionEnd::close(
                            CloseCode::ServerBusy,
                            format!("server busy: {} clients", limits.max_clients),
                        ));
                    }
                }
            }
            let id = admission.next_id;
            admission.next_id += 1;
            let since = Instant::now();
            admission.held.push(Held {
                id,
                ip,
                since,
                stage: Stage::Silent,
                conn: conn.clone(),
            });
            Ticket {
                shared: self,
                id,
                ip,
                since,
                allowed: Mutex::new(HANDSHAKE_TIMEOUT),
            }
        };
        for held in room_made {
            let waiting_for = if held.stage == Stage::Silent {
                "Hello"
            } else {
                "Subscribe"
            };
            let reason = format!(
                "server busy: closed to make room, no {waiting_for} after {:.1} s",
                held.since.elapsed().as_secs_f64()
            );
            held.conn
                .close(CloseCode::ServerBusy.varint(), reason.as_bytes());
            let _ = self.events.try_send(ServerEvent::ClientClosed {
                remote: held.conn.remote_address(),
                code: CloseCode::ServerBusy,
                reason,
            });
        }
        Ok(ticket)
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
    let end = match shared.admit(&conn, remote) {
        Ok(ticket) => session(&conn, &shared, &ticket, remote).await,
        Err(refused) => refused,
    };
    let event = match end {
        // The server closed it itself (to make room, or shutting down) and said why there.
        SessionEnd::Ended(quinn::ConnectionError::LocallyClosed) => return,
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

/// Runs `step` of the handshake (`expecting` names what it waits for) until the ticket's
/// deadline, which shortens while it waits if the server fills; turns a missed deadline into
/// the session's end.
async fn before_deadline<T>(
    ticket: &Ticket<'_>,
    expecting: &str,
    step: impl Future<Output = Result<T, SessionEnd>>,
) -> Result<T, SessionEnd> {
    let mut step = std::pin::pin!(step);
    let mut check = tokio::time::interval(DEADLINE_CHECK);
    loop {
        tokio::select! {
            result = &mut step => return result,
            _ = check.tick() => {
                let (deadline, allowed) = ticket.deadline();
                if Instant::now() >= deadline {
                    return Err(SessionEnd::close(
                        CloseCode::Timeout,
                        format!("no {expecting} within {}", seconds(allowed)),
                    ));
                }
            }
        }
    }
}

/// `10 s`, `2.5 s`.
fn seconds(duration: Duration) -> String {
    let s = duration.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

/// Reads one control message before the ticket's deadline, turning every failure into the
/// session's end.
async fn read_control(
    conn: &quinn::Connection,
    recv: &mut quinn::RecvStream,
    shared: &Shared,
    ticket: &Ticket<'_>,
    expecting: &'static str,
) -> Result<ClientMessage, SessionEnd> {
    let max_frame_bytes = shared.limits.max_frame_bytes;
    before_deadline(ticket, expecting, async {
        let read = read_message::<ClientMessage, _>(recv, max_frame_bytes, expecting);
        tokio::select! {
            result = read => match result {
                Ok(Some(message)) => Ok(message),
                Ok(None) => Err(SessionEnd::close(
                    CloseCode::ProtocolViolation,
                    format!("control stream ended before {expecting}"),
                )),
                Err(e) => Err(frame_violation(conn, expecting, e)),
            },
            e = conn.closed() => Err(SessionEnd::Ended(e)),
        }
    })
    .await
}

/// A frame error on the control stream: a violation, unless the connection itself is gone.
fn frame_violation(conn: &quinn::Connection, expecting: &str, e: FrameError) -> SessionEnd {
    let code = match &e {
        FrameError::TooLarge { .. } => CloseCode::LimitExceeded,
        _ => CloseCode::ProtocolViolation,
    };
    match conn.close_reason() {
        Some(closed) => SessionEnd::Ended(closed),
        None => SessionEnd::close(code, format!("bad {expecting}: {e}")),
    }
}

/// Why a Hello with `version` and `token` is refused by a server that requires the token
/// whose digest is `expected` (if any): the close code and the reason sent in the Reject.
/// `None`: accepted.
pub(super) fn hello_refusal(
    expected: Option<&TokenDigest>,
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
        (Some(expected), Some(given)) if expected.matches(given) => None,
        (Some(_), Some(_)) => Some((CloseCode::Rejected, "token does not match".to_owned())),
        (Some(_), None) => Some((
            CloseCode::Rejected,
            "this server requires a token (--token)".to_owned(),
        )),
        (None, _) => None,
    }
}

async fn session(
    conn: &quinn::Connection,
    shared: &Shared,
    ticket: &Ticket<'_>,
    remote: SocketAddr,
) -> SessionEnd {
    let accepted = before_deadline(ticket, "control stream", async {
        tokio::select! {
            r = conn.accept_bi() => r.map_err(SessionEnd::Ended),
            e = conn.closed() => Err(SessionEnd::Ended(e)),
        }
    })
    .await;
    let (mut send, mut recv) = match accepted {
        Ok(streams) => streams,
        Err(end) => return end,
    };

    let (version, token) = match read_control(conn, &mut recv, shared, ticket, "Hello").await {
        Ok(ClientMessage::Hello { version, token }) => (version, token),
        Ok(other) => {
            return SessionEnd::close(
                CloseCode::ProtocolViolation,
                format!("expected Hello, got {}", message_name(&other)),
            );
        }
        Err(end) => return end,
    };
    if let Some((code, reason)) = hello_refusal(shared.token.as_ref(), version, token.as_deref()) {
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

    ticket.advance(Stage::Greeted);
    let sent_catalog = shared.hub.catalog.read().clone();
    let catalog = ServerMessage::Catalog((*sent_catalog).clone());
    if let Err(e) = write_message(&mut send, &catalog, MAX_CONTROL_FRAME_BYTES, "Catalog").await {
        return frame_violation(conn, "Catalog", e);
    }

    let channels = match read_control(conn, &mut recv, shared, ticket, "Subscribe").await {
        Ok(ClientMessage::Subscribe { channels }) => channels,
        Ok(other) => {
            return SessionEnd::close(
                CloseCode::ProtocolViolation,
                format!("expected Subscribe, got {}", message_name(&other)),
            );
        }
        Err(end) => return end,
    };
    let subscribed =
        match validate_subscription(&sent_catalog, &channels, shared.limits.max_channels) {
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
    ticket.advance(Stage::Subscribed);
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
            message = read_message::<ClientMessage, _>(&mut recv, shared.limits.max_frame_bytes, "control message"),
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
            OpenStream::new(shared.hub.clone()),
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

/// The catalog entries of a subscription of at most `max_channels`, or why it is refused.
pub(super) fn validate_subscription(
    catalog: &Catalog,
    channels: &[ChannelId],
    max_channels: usize,
) -> Result<Vec<ChannelInfo>, SessionEnd> {
    if channels.len() > max_channels {
        return Err(SessionEnd::close(
            CloseCode::LimitExceeded,
            format!(
                "subscription to {} channels exceeds the limit of {max_channels} channels per client",
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

/// Counts a data stream in [`Drain::open_streams`] while it lives: made when its writer is
/// spawned (so a subscription counts before the writer first runs), dropped when it ends.
struct OpenStream(Arc<Hub>);

impl OpenStream {
    fn new(hub: Arc<Hub>) -> Self {
        hub.drain.send_modify(|d| d.open_streams += 1);
        Self(hub)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.drain.send_modify(|d| d.open_streams -= 1);
    }
}

/// Finishes `send` and waits until its client has acknowledged all of it, the connection is
/// gone, or [`DRAIN_PATIENCE`] has passed.
async fn finish_stream(mut send: quinn::SendStream) {
    if send.finish().is_ok() {
        let _ = tokio::time::timeout(DRAIN_PATIENCE, send.stopped()).await;
    }
}

/// One client's data stream for one channel: header, then every broadcast frame.
async fn stream_channel(
    conn: quinn::Connection,
    mut frames: broadcast::Receiver<Frame>,
    info: ChannelInfo,
    open: OpenStream,
    events: mpsc::Sender<ServerEvent>,
    remote: SocketAddr,
) {
    let hub = &open.0;
    let Ok(mut send) = conn.open_uni().await else {
        return;
    };
    // Only fails on a stream that is already closed.
    if hub.stream_priorities {
        let _ = send.set_priority(channel_priority(&info.kind));
    }
    let header = DataStreamHeader { channel: info.id };
    if write_message(&mut send, &header, MAX_CONTROL_FRAME_BYTES, "stream header")
        .await
        .is_err()
    {
        return;
    }
    if hub.ended.load(Ordering::SeqCst) {
        finish_stream(send).await;
        return;
    }
    let lagged = |batches: u64| {
        let _ = events.try_send(ServerEvent::ClientLagged {
            remote,
            channel: info.id,
            batches,
        });
    };
    // Frames waiting in the broadcast go to quinn together, one wake-up and one call for all
    // of them; the end marker (an empty frame) or the feed's end finishes the stream after
    // what came before it is written.
    let mut chunks: Vec<Frame> = Vec::with_capacity(WRITE_CHUNKS);
    loop {
        let mut finished = false;
        match frames.recv().await {
            Ok(frame) if frame.is_empty() => finished = true,
            Ok(frame) => chunks.push(frame),
            Err(broadcast::error::RecvError::Lagged(batches)) => lagged(batches),
            Err(broadcast::error::RecvError::Closed) => finished = true,
        }
        while !finished && chunks.len() < WRITE_CHUNKS {
            match frames.try_recv() {
                Ok(frame) if frame.is_empty() => finished = true,
                Ok(frame) => chunks.push(frame),
                Err(broadcast::error::TryRecvError::Lagged(batches)) => lagged(batches),
                Err(broadcast::error::TryRecvError::Closed) => finished = true,
                Err(broadcast::error::TryRecvError::Empty) => break,
            }
        }
        if !chunks.is_empty() {
            if send.write_all_chunks(&mut chunks).await.is_err() {
                return; // the connection is gone; the session reports why
            }
            chunks.clear();
            hub.progress.notify_one();
            hub.drain.send_modify(|d| d.writes += 1);
        }
        if finished {
            finish_stream(send).await;
            return;
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
            validate_subscription(&cat, &[2, 0], 3)
                .ok()
                .map(|v| v.len()),
            Some(2)
        );
        assert_eq!(
            validate_subscription(&cat, &[], 3).ok().map(|v| v.len()),
            Some(0)
        );
        let (code, reason) = refusal(validate_subscription(&cat, &[7], 3));
        assert_eq!(code, CloseCode::ProtocolViolation);
        assert_eq!(reason, "channel id 7 is not in the catalog");
        let (_, reason) = refusal(validate_subscription(&cat, &[1, 1], 3));
        assert_eq!(reason, "channel id 1 is subscribed twice");
        let (code, reason) = refusal(validate_subscription(&cat, &[0, 1, 2], 2));
        assert_eq!(code, CloseCode::LimitExceeded);
        assert_eq!(
            reason,
            "subscription to 3 channels exceeds the limit of 2 channels per client"
        );
    }

    #[test]
    fn tokens_must_match_exactly() {
        let digest = TokenDigest::of("s3cret");
        assert!(digest.matches("s3cret"));
        assert!(!digest.matches("s3creT"));
        assert!(!digest.matches("s3cre"));
        assert!(!digest.matches(""));
        assert!(!TokenDigest::of("").matches("x"));
    }

    #[test]
    fn the_handshake_deadline_shortens_from_half_full_on() {
        let limits = ServerLimits {
            max_clients: 64,
            max_clients_per_address: 16,
            ..ServerLimits::default()
        };
        assert_eq!(limits.handshake_deadline(0, 0), HANDSHAKE_TIMEOUT);
        assert_eq!(limits.handshake_deadline(32, 8), HANDSHAKE_TIMEOUT);
        assert_eq!(
            limits.handshake_deadline(48, 1),
            Duration::from_millis(5_500),
            "three quarters full: half way from 10 s to 1 s"
        );
        assert_eq!(limits.handshake_deadline(64, 1), MIN_HANDSHAKE_TIMEOUT);
        assert_eq!(
            limits.handshake_deadline(20, 16),
            MIN_HANDSHAKE_TIMEOUT,
            "an address at its limit"
        );
    }

    /// The producer is held back exactly while some channel's slowest writer is
    /// FAST_HIGH_WATER frames behind, and for the urgent lane only by an urgent channel.
    #[test]
    fn the_producer_is_held_back_by_the_slowest_writer_of_any_channel() {
        let mut kinds = catalog();
        kinds.channels[2].kind = ChannelKind::Event {
            fields: vec!["n".into()],
        };
        let hub = Arc::new(Hub::new(&kinds));
        let mut slow = hub.feeds.read()[&1].subscribe();
        let mut alarms = hub.feeds.read()[&2].subscribe();
        let (events, _events_rx) = mpsc::channel(4);
        let mut publisher = Publisher::new(hub, events);
        let record = |channel, seq| Record {
            channel,
            seq,
            t_ns: seq,
            value: crate::model::Value::Scalar(0.0),
        };
        for seq in 0..FAST_HIGH_WATER as u64 - 1 {
            publisher.send(1, &[record(1, seq)]);
        }
        assert!(!publisher.held_back().any, "one frame short of the mark");
        publisher.send(1, &[record(1, 99)]);
        let held = publisher.held_back();
        assert!(held.any);
        assert!(!held.urgent, "a sample channel holds back only its lane");
        slow.try_recv().unwrap();
        assert!(!publisher.held_back().any, "the writer took a frame");
        for seq in 0..FAST_HIGH_WATER as u64 {
            publisher.send(2, &[record(2, seq)]);
        }
        let held = publisher.held_back();
        assert!(held.urgent && held.any);
        while alarms.try_recv().is_ok() {}
        assert!(!publisher.held_back().urgent);
    }

    #[test]
    fn limits_are_checked() {
        assert!(ServerLimits::default().check().is_ok());
        for bad in [
            ServerLimits {
                max_clients: 0,
                ..ServerLimits::default()
            },
            ServerLimits {
                max_channels: MAX_CHANNELS + 1,
                ..ServerLimits::default()
            },
            ServerLimits {
                max_frame_bytes: 100,
                ..ServerLimits::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn oversized_batches_are_split_not_lost() {
        let hub = Arc::new(Hub::new(&catalog()));
        let mut rx = hub.feeds.read()[&1].subscribe();
        let (events, _events_rx) = mpsc::channel(4);
        let mut publisher = Publisher::new(hub, events);
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
