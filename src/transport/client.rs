//! The QUIC client: connects to a source, subscribes, and delivers what arrives as
//! [`TransportEvent`]s on a tokio channel, reconnecting with capped exponential backoff.
//!
//! The client keeps going until its [`ClientHandle`] is dropped or a *fatal* error occurs: the
//! server's certificate is not trusted (wrong pin, wrong CA, changed TOFU certificate), the TLS
//! handshake fails, the server rejects the client (token, protocol version) or the requested
//! channels do not exist. Those are reported once as [`TransportEvent::Failed`] and never
//! retried, since retrying cannot fix them. Everything else (the source disappearing, a
//! timeout, a protocol violation by the server) is reported as
//! [`TransportEvent::Disconnected`] followed by [`TransportEvent::Reconnecting`]. Records the
//! client missed while away show as a jump in `seq` after it reconnects: the server streams
//! live, it does not replay. A source that restarted meanwhile begins its `seq` and clock
//! again; the client numbers its records on from the last one it delivered, so the jump counts
//! the records of the new run it missed and nothing downstream goes backwards
//! (`Continuity`).
//!
//! A connection from which nothing arrives for [`STALL_AFTER`] (not even keep-alives) is
//! reported as [`TransportEvent::Stalled`], again as the silence lasts, and as
//! [`TransportEvent::Resumed`] when packets flow again; one that stays silent until the idle
//! timeout is lost and reconnected like any other.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

use super::batch::decode_batch;
use super::describe_connection_error;
use super::framing::{FrameError, decode_body, read_frame, read_message, write_message};
use super::protocol::{
    ClientMessage, CloseCode, DataStreamHeader, HANDSHAKE_TIMEOUT, MAX_BATCH_RECORDS, MAX_CHANNELS,
    MAX_CONTROL_FRAME_BYTES, MAX_DATA_FRAME_BYTES, PROTOCOL_VERSION, RecordBatch, STALL_AFTER,
    ServerMessage, clip_reason, transport_config, urgent,
};
use super::tls::{
    Fingerprint, ObservationSlot, TlsError, TofuStore, Trust, TrustFailure, client_crypto,
    server_name_of,
};
use crate::model::{Catalog, ChannelId, ChannelKind, LinkState, Record, SourceEvent, Value};

/// First reconnection delay.
pub const RECONNECT_INITIAL_DELAY: Duration = Duration::from_millis(250);
/// Longest reconnection delay: the doubling stops here (after five failures).
pub const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(8);
/// How long a connection attempt may take before it counts as failed. QUIC has no "connection
/// refused": a server that is not there simply never answers.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the connection's round-trip time is reported.
pub const RTT_INTERVAL: Duration = Duration::from_secs(1);
/// How often the stall watchdog reads the connection's count of received datagrams: a stall
/// is seen at most this long after [`STALL_AFTER`], and its duration is updated this often.
pub const WATCHDOG_INTERVAL: Duration = Duration::from_millis(200);
/// Events buffered for a slow consumer before the readers wait (and QUIC flow control slows
/// the server, which then drops batches for this client: the gaps show in `seq`).
pub const EVENT_QUEUE: usize = 1024;
/// Batches of [`urgent`] channels (events) buffered beside [`EVENT_QUEUE`], in a lane of their
/// own that [`ClientHandle::recv`] reads first.
pub const URGENT_QUEUE: usize = 64;

/// Backoff between reconnection attempts: `initial · 2^(attempt − 1)`, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            initial: RECONNECT_INITIAL_DELAY,
            max: RECONNECT_MAX_DELAY,
        }
    }
}

impl ReconnectPolicy {
    /// The delay before attempt `attempt` (1 for the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.initial.saturating_mul(1 << doublings).min(self.max)
    }
}

/// Everything [`connect`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `HOST:PORT` of the source (`[V6]:PORT` for IPv6 literals).
    pub addr: String,
    /// The name to verify the certificate against (CA trust); default: the host of `addr`.
    pub server_name: Option<String>,
    pub trust: Trust,
    pub token: Option<String>,
    /// Channel names to subscribe to; `None` subscribes to every channel.
    pub channels: Option<Vec<String>>,
    pub reconnect: ReconnectPolicy,
    pub connect_timeout: Duration,
    pub rtt_interval: Duration,
    /// Capacity of the event channel.
    pub event_queue: usize,
}

impl ClientConfig {
    /// Every channel, the default timings.
    pub fn new(addr: impl Into<String>, trust: Trust) -> Self {
        Self {
            addr: addr.into(),
            server_name: None,
            trust,
            token: None,
            channels: None,
            reconnect: ReconnectPolicy::default(),
            connect_timeout: CONNECT_TIMEOUT,
            rtt_interval: RTT_INTERVAL,
            event_queue: EVENT_QUEUE,
        }
    }
}

/// What the client tells its consumer.
#[derive(Debug)]
pub enum TransportEvent {
    /// Handshake done and subscribed; records follow. Sent again after every reconnection.
    Connected {
        catalog: Catalog,
        remote: SocketAddr,
        /// SHA-256 fingerprint of the certificate the server presented.
        fingerprint: Fingerprint,
    },
    /// The catalog grew: channels were added (their records follow), or an event channel's
    /// fields. The whole catalog from now on.
    CatalogUpdate(Catalog),
    /// One batch of records of one channel, in `seq` order.
    Records(Vec<Record>),
    /// The connection's current round-trip time estimate.
    Rtt(Duration),
    /// No packet from the server (not even a keep-alive) for `silent_for`, at least
    /// [`STALL_AFTER`]; sent every [`WATCHDOG_INTERVAL`] while the silence lasts.
    Stalled { silent_for: Duration },
    /// Packets arrive again after a stall of `silent_for`.
    Resumed { silent_for: Duration },
    /// The connection (or an attempt to make one) ended; the client will retry.
    Disconnected { reason: String },
    /// The next attempt starts after `delay`; `attempt` counts failures since the last success.
    Reconnecting { attempt: u32, delay: Duration },
    /// A fatal error: the client has stopped. Always the last event.
    Failed(ClientError),
}

/// Turns a client's events into what the pipeline takes, remembering why the last connection
/// ended so that the reconnection attempts can say it.
#[derive(Debug)]
pub struct SourceEvents {
    last_reason: String,
    /// The server of the current connection.
    remote: String,
}

impl Default for SourceEvents {
    fn default() -> Self {
        Self {
            last_reason: "connection lost".to_owned(),
            remote: String::new(),
        }
    }
}

impl SourceEvents {
    /// The pipeline events for one transport event; a fatal error is returned as `Err`.
    pub fn convert(&mut self, event: TransportEvent) -> Result<Vec<SourceEvent>, ClientError> {
        Ok(match event {
            TransportEvent::Connected {
                catalog, remote, ..
            } => {
                self.remote = remote.to_string();
                vec![
                    SourceEvent::Catalog(catalog),
                    SourceEvent::Link(LinkState::Connected {
                        remote: self.remote.clone(),
                    }),
                ]
            }
            TransportEvent::Stalled { silent_for } => {
                vec![SourceEvent::Link(LinkState::Stalled {
                    remote: self.remote.clone(),
                    silent_for,
                })]
            }
            TransportEvent::Resumed { .. } => vec![SourceEvent::Link(LinkState::Connected {
                remote: self.remote.clone(),
            })],
            TransportEvent::CatalogUpdate(catalog) => vec![SourceEvent::Catalog(catalog)],
            TransportEvent::Records(records) => vec![SourceEvent::Records(records)],
            TransportEvent::Rtt(rtt) => vec![SourceEvent::Rtt(rtt)],
            TransportEvent::Disconnected { reason } => {
                self.last_reason.clone_from(&reason);
                vec![SourceEvent::Link(LinkState::Reconnecting {
                    reason,
                    attempt: 0,
                    delay: Duration::ZERO,
                })]
            }
            TransportEvent::Reconnecting { attempt, delay } => {
                vec![SourceEvent::Link(LinkState::Reconnecting {
                    reason: self.last_reason.clone(),
                    attempt,
                    delay,
                })]
            }
            TransportEvent::Failed(error) => return Err(error),
        })
    }
}

/// Errors that stop the client.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid source address {addr:?}: {reason}")]
    Address { addr: String, reason: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("refusing to connect to {addr}: {failure}")]
    Untrusted {
        addr: String,
        failure: Box<TrustFailure>,
    },
    #[error("TLS handshake with {addr} failed: {reason}")]
    Handshake { addr: String, reason: String },
    #[error("the server at {addr} rejected this client: {reason}")]
    Rejected { addr: String, reason: String },
    #[error("the source has no channel named {}; it has: {available}", unknown.join(", "))]
    UnknownChannels {
        unknown: Vec<String>,
        available: String,
    },
}

/// A running client. Dropping it closes the connection and stops the task.
///
/// Events come in two lanes. Everything but the records of [`urgent`] channels keeps its
/// order in the first; those records (events) take a second, read first, so that an event
/// does not wait behind [`EVENT_QUEUE`] batches of samples for a slow consumer: the server's
/// stream priority then holds up to the consumer (issue 14). Records of different channels
/// never had an order between them (they come on separate streams), so the lanes only have to
/// keep an urgent batch behind the event that announced its channel: it is held until the
/// consumer has taken its connection's `Connected` and a catalog that lists its channel.
pub struct ClientHandle {
    events: mpsc::Receiver<TransportEvent>,
    urgent: mpsc::Receiver<UrgentBatch>,
    /// Urgent batches taken out of their lane before their channel was announced, in order.
    /// At most [`URGENT_QUEUE`]: past that the lane is left to fill and its readers wait.
    held: VecDeque<UrgentBatch>,
    /// The connection whose `Connected` the consumer took last (1 for the first), and the
    /// channels announced to it since.
    connection: u64,
    announced: HashSet<ChannelId>,
    task: JoinHandle<()>,
}

/// An urgent channel's batch and the connection it came on (1 for the first).
type UrgentBatch = (u64, RecordBatch);

impl ClientHandle {
    /// The next event; `None` once the client has stopped.
    pub async fn recv(&mut self) -> Option<TransportEvent> {
        loop {
            if let Some(batch) = self.release() {
                return Some(batch);
            }
            let room = self.held.len() < URGENT_QUEUE;
            tokio::select! {
                biased;
                Some(batch) = self.urgent.recv(), if room => self.held.push_back(batch),
                event = self.events.recv() => match event {
                    Some(event) => return Some(self.taken(event)),
                    None => return self.leftover(),
                },
            }
        }
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Result<TransportEvent, mpsc::error::TryRecvError> {
        loop {
            if let Some(batch) = self.release() {
                return Ok(batch);
            }
            if self.held.len() >= URGENT_QUEUE {
                break;
            }
            match self.urgent.try_recv() {
                Ok(batch) => self.held.push_back(batch),
                Err(_) => break,
            }
        }
        match self.events.try_recv() {
            Ok(event) => Ok(self.taken(event)),
            Err(mpsc::error::TryRecvError::Disconnected) => self
                .leftover()
                .ok_or(mpsc::error::TryRecvError::Disconnected),
            Err(empty) => Err(empty),
        }
    }

    /// Once the client has stopped: the urgent batches it had received, in order, whatever
    /// was announced (nothing received is dropped).
    fn leftover(&mut self) -> Option<TransportEvent> {
        while let Ok(batch) = self.urgent.try_recv() {
            self.held.push_back(batch);
        }
        self.held
            .pop_front()
            .map(|(_, batch)| TransportEvent::Records(batch))
    }

    /// The first held batch the consumer may have now: one of an earlier connection, or of a
    /// channel announced to this one. Batches of one channel leave in their order.
    fn release(&mut self) -> Option<TransportEvent> {
        let ready = |(connection, batch): &UrgentBatch| {
            *connection < self.connection
                || (*connection == self.connection
                    && batch
                        .first()
                        .is_some_and(|r| self.announced.contains(&r.channel)))
        };
        let at = self.held.iter().position(ready)?;
        self.held
            .remove(at)
            .map(|(_, batch)| TransportEvent::Records(batch))
    }

    /// Notes what an event from the ordered lane announces.
    fn taken(&mut self, event: TransportEvent) -> TransportEvent {
        match &event {
            TransportEvent::Connected { catalog, .. } => {
                self.connection += 1;
                self.announced = catalog.channels.iter().map(|c| c.id).collect();
            }
            TransportEvent::CatalogUpdate(catalog) => {
                self.announced.extend(catalog.channels.iter().map(|c| c.id));
            }
            _ => {}
        }
        event
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a client (inside a tokio runtime). Errors in the configuration itself (address
/// syntax, CA file, pin, TOFU store) are returned here; everything later arrives as events.
pub fn connect(config: ClientConfig) -> Result<ClientHandle, ClientError> {
    check_address(&config.addr)?;
    let server_name = config
        .server_name
        .clone()
        .unwrap_or_else(|| server_name_of(&config.addr).to_owned());
    let tofu = match &config.trust {
        Trust::Tofu { store } => Some(TofuStore::load(store)?),
        _ => None,
    };
    let tofu_key = config.addr.trim().to_ascii_lowercase();
    let (quic, observation) = build_quic_config(&config.trust, tofu.as_ref(), &tofu_key)?;
    let (tx, rx) = mpsc::channel(config.event_queue.max(1));
    let (urgent_tx, urgent) = mpsc::channel(URGENT_QUEUE);
    let state = ClientState {
        config,
        server_name,
        quic,
        observation,
        tofu,
        tofu_key,
        continuity: Arc::default(),
        urgent: urgent_tx,
        connections: 0,
    };
    let task = tokio::spawn(run(state, tx));
    Ok(ClientHandle {
        events: rx,
        urgent,
        held: VecDeque::new(),
        connection: 0,
        announced: HashSet::new(),
        task,
    })
}

fn check_address(addr: &str) -> Result<(), ClientError> {
    let bad = |reason: &str| ClientError::Address {
        addr: addr.to_owned(),
        reason: reason.to_owned(),
    };
    let Some((host, port)) = addr.trim().rsplit_once(':') else {
        return Err(bad("expected HOST:PORT"));
    };
    if host.is_empty() {
        return Err(bad("the host is empty"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(bad("write an IPv6 address in brackets, e.g. [::1]:4433"));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad("the port must be a number from 1 to 65535")),
        Ok(_) => Ok(()),
    }
}

fn build_quic_config(
    trust: &Trust,
    tofu: Option<&TofuStore>,
    tofu_key: &str,
) -> Result<(quinn::ClientConfig, ObservationSlot), TlsError> {
    let (crypto, observation) = client_crypto(trust, tofu.map(|store| (tofu_key, store)))?;
    let mut quic = quinn::ClientConfig::new(Arc::new(crypto));
    quic.transport_config(Arc::new(transport_config(false)));
    Ok((quic, observation))
}

struct ClientState {
    config: ClientConfig,
    server_name: String,
    quic: quinn::ClientConfig,
    observation: ObservationSlot,
    tofu: Option<TofuStore>,
    tofu_key: String,
    /// Each channel's numbering across this client's connections.
    continuity: Arc<Mutex<Continuity>>,
    /// The lane of urgent channels' batches ([`ClientHandle`]).
    urgent: mpsc::Sender<UrgentBatch>,
    /// Connections that reached `Connected` so far.
    connections: u64,
}

/// How one connection attempt or session ended.
enum SessionEnd {
    /// The consumer went away.
    Stopped,
    Fatal(ClientError),
    Lost {
        reason: String,
        was_connected: bool,
    },
}

async fn run(mut state: ClientState, tx: mpsc::Sender<TransportEvent>) {
    let mut failures: u32 = 0;
    loop {
        let end = tokio::select! {
            end = session(&mut state, &tx) => end,
            _ = tx.closed() => return,
        };
        match end {
            SessionEnd::Stopped => return,
            SessionEnd::Fatal(error) => {
                let _ = tx.send(TransportEvent::Failed(error)).await;
                return;
            }
            SessionEnd::Lost {
                reason,
                was_connected,
            } => {
                if was_connected {
                    failures = 0;
                }
                failures = failures.saturating_add(1);
                let delay = state.config.reconnect.delay(failures);
                if tx
                    .send(TransportEvent::Disconnected { reason })
                    .await
                    .is_err()
                    || tx
                        .send(TransportEvent::Reconnecting {
                            attempt: failures,
                            delay,
                        })
                        .await
                        .is_err()
                {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = tx.closed() => return,
                }
            }
        }
    }
}

fn lost(reason: impl Into<String>, was_connected: bool) -> SessionEnd {
    SessionEnd::Lost {
        reason: reason.into(),
        was_connected,
    }
}

/// Whether a QUIC transport error code is a TLS alert (RFC 9001 §4.8: 0x0100–0x01ff).
fn is_crypto_code(code: quinn::TransportErrorCode) -> bool {
    u64::from(code) & !0xff == 0x100
}

/// How a connection that ended after the handshake is reported: a refusal that retrying
/// cannot fix (token, protocol version) is fatal; every other close by the server is said in
/// its own words and retried.
fn connection_end(addr: &str, error: &quinn::ConnectionError, was_connected: bool) -> SessionEnd {
    let quinn::ConnectionError::ApplicationClosed(close) = error else {
        return lost(describe_connection_error(error), was_connected);
    };
    let reason = String::from_utf8_lossy(&close.reason);
    let code = CloseCode::from_code(close.error_code.into_inner());
    match code {
        Some(code @ (CloseCode::Rejected | CloseCode::VersionMismatch)) => {
            SessionEnd::Fatal(ClientError::Rejected {
                addr: addr.to_owned(),
                reason: if reason.is_empty() {
                    code.name().to_owned()
                } else {
                    reason.into_owned()
                },
            })
        }
        Some(code) => lost(server_close_message(code, &reason), was_connected),
        None => lost(describe_connection_error(error), was_connected),
    }
}

/// What the server meant by closing this client with `code` and `reason`.
fn server_close_message(code: CloseCode, reason: &str) -> String {
    let reason = if reason.is_empty() {
        code.name()
    } else {
        reason
    };
    match code {
        CloseCode::ServerShutdown => format!("the server closed the connection: {reason}"),
        CloseCode::ServerBusy => format!("the server refused this client: {reason}"),
        CloseCode::LimitExceeded => {
            format!("the server closed this client for exceeding a limit: {reason}")
        }
        CloseCode::Timeout => {
            format!("the server closed this client for being too slow: {reason}")
        }
        CloseCode::ProtocolViolation => {
            format!("the server closed this client for a protocol violation: {reason}")
        }
        CloseCode::Normal | CloseCode::Rejected | CloseCode::VersionMismatch => {
            format!(
                "the server closed the connection ({}): {reason}",
                code.name()
            )
        }
    }
}

async fn session(state: &mut ClientState, tx: &mpsc::Sender<TransportEvent>) -> SessionEnd {
    let addr = state.config.addr.clone();
    // An IPv4 address first when the name has both (`localhost` often resolves to ::1
    // first, while sources listen on 127.0.0.1 by default).
    let remote = match tokio::net::lookup_host(addr.trim()).await {
        Ok(found) => {
            let found: Vec<SocketAddr> = found.collect();
            match found.iter().find(|a| a.is_ipv4()).or(found.first()) {
                Some(remote) => *remote,
                None => return lost(format!("{addr} resolves to no address"), false),
            }
        }
        Err(e) => return lost(format!("cannot resolve {addr}: {e}"), false),
    };
    let bind: SocketAddr = if remote.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    let endpoint = match quinn::Endpoint::client(bind) {
        Ok(endpoint) => endpoint,
        Err(e) => return lost(format!("cannot open a UDP socket: {e}"), false),
    };
    *state
        .observation
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Default::default();
    let connecting = match endpoint.connect_with(state.quic.clone(), remote, &state.server_name) {
        Ok(connecting) => connecting,
        Err(quinn::ConnectError::InvalidServerName(name)) => {
            return SessionEnd::Fatal(ClientError::Address {
                addr,
                reason: format!("{name:?} is not a valid server name"),
            });
        }
        Err(e) => return lost(format!("cannot connect to {addr}: {e}"), false),
    };
    let conn = match tokio::time::timeout(state.config.connect_timeout, connecting).await {
        Err(_) => {
            return lost(
                format!(
                    "no answer from {addr} within {} s",
                    state.config.connect_timeout.as_secs_f64()
                ),
                false,
            );
        }
        Ok(Err(e)) => return handshake_failure(state, &addr, &e),
        Ok(Ok(conn)) => conn,
    };
    let presented = state
        .observation
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .presented;
    let Some(fingerprint) = presented else {
        // The verifier records every certificate it accepts; no record means no verification.
        conn.close(CloseCode::Normal.varint(), b"certificate not verified");
        return SessionEnd::Fatal(ClientError::Handshake {
            addr,
            reason: "the server's certificate was not verified".to_owned(),
        });
    };
    if let Err(e) = remember_first_use(state, fingerprint) {
        conn.close(
            CloseCode::Normal.varint(),
            b"client cannot store the certificate",
        );
        return SessionEnd::Fatal(e.into());
    }

    let (catalog, mut control_send, mut control_recv) = match handshake(state, &conn).await {
        Ok(done) => done,
        Err(end) => return end,
    };
    let subscribed = match choose_channels(&catalog, state.config.channels.as_deref()) {
        Ok(ids) => ids,
        Err(e) => {
            conn.close(CloseCode::Normal.varint(), b"unknown channels requested");
            return SessionEnd::Fatal(e);
        }
    };
    let subscribe = ClientMessage::Subscribe {
        channels: subscribed.clone(),
    };
    if write_message(
        &mut control_send,
        &subscribe,
        MAX_CONTROL_FRAME_BYTES,
        "Subscribe",
    )
    .await
    .is_err()
    {
        return closed_during_handshake(&addr, &conn).await;
    }
    let follows = subscribed.len() == catalog.channels.len();
    let kinds = Kinds::new(
        catalog
            .channels
            .iter()
            .filter(|c| subscribed.contains(&c.id))
            .map(|c| (c.id, (c.name.clone(), c.kind.clone()))),
    );
    state.connections += 1;
    let connection = state.connections;
    if tx
        .send(TransportEvent::Connected {
            catalog,
            remote,
            fingerprint,
        })
        .await
        .is_err()
    {
        return SessionEnd::Stopped;
    }

    let opened: Arc<Mutex<HashSet<ChannelId>>> = Arc::default();
    let mut tasks: JoinSet<Result<(), ReadEnd>> = JoinSet::new();
    let control_kinds = kinds.clone();
    let control_tx = tx.clone();
    tasks.spawn(async move {
        let ended: Result<(), ReadEnd> = async {
            // After the catalog the server only sends catalog updates, to a client that took
            // every channel.
            loop {
                match read_message::<ServerMessage, _>(
                    &mut control_recv,
                    MAX_CONTROL_FRAME_BYTES,
                    "control message",
                )
                .await
                {
                    Ok(None) => return Ok(()),
                    Ok(Some(ServerMessage::CatalogUpdate(catalog))) if follows => {
                        check_catalog(&catalog).map_err(ReadEnd::Violation)?;
                        control_kinds.extend(&catalog);
                        if control_tx
                            .send(TransportEvent::CatalogUpdate(catalog))
                            .await
                            .is_err()
                        {
                            return Err(ReadEnd::Stopped);
                        }
                    }
                    Ok(Some(_)) => {
                        return Err(ReadEnd::Violation(
                            "unexpected control message after the catalog".to_owned(),
                        ));
                    }
                    Err(FrameError::Io(e)) => return Err(ReadEnd::StreamFailed(e.to_string())),
                    Err(e) => return Err(ReadEnd::Violation(format!("control stream: {e}"))),
                }
            }
        }
        .await;
        // Every update the stream carried is in `kinds` now: a data stream still waiting for
        // its channel's announcement gives up at once rather than after NEW_CHANNEL_WAIT.
        control_kinds.close();
        ended
    });
    let mut rtt = tokio::time::interval(state.config.rtt_interval);
    rtt.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut watchdog = tokio::time::interval(WATCHDOG_INTERVAL);
    watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut silence = SilenceWatch::new(conn.stats().udp_rx.datagrams, Instant::now());
    loop {
        tokio::select! {
            stream = conn.accept_uni() => match stream {
                Ok(recv) => {
                    tasks.spawn(read_channel(
                        recv,
                        kinds.clone(),
                        opened.clone(),
                        state.continuity.clone(),
                        Lane {
                            events: tx.clone(),
                            urgent: state.urgent.clone(),
                            connection,
                        },
                    ));
                }
                Err(e) => {
                    drain_readers(tasks).await;
                    return connection_end(&addr, &e, true);
                }
            },
            Some(joined) = tasks.join_next() => match joined {
                Ok(Ok(())) => {}
                Ok(Err(ReadEnd::Stopped)) => {
                    conn.close(CloseCode::Normal.varint(), b"client closed");
                    return SessionEnd::Stopped;
                }
                Ok(Err(ReadEnd::Violation(reason))) => {
                    conn.close(CloseCode::ProtocolViolation.varint(), clip_reason(&reason).as_bytes());
                    return lost(format!("protocol violation by the server: {reason}"), true);
                }
                Ok(Err(ReadEnd::StreamFailed(reason))) => {
                    if let Some(e) = conn.close_reason() {
                        drain_readers(tasks).await;
                        return connection_end(&addr, &e, true);
                    }
                    conn.close(CloseCode::ProtocolViolation.varint(), b"data stream failed");
                    return lost(format!("a stream from the server failed: {reason}"), true);
                }
                Err(e) => {
                    conn.close(CloseCode::Normal.varint(), b"client error");
                    return lost(format!("stream reader stopped: {e}"), true);
                }
            },
            _ = rtt.tick() => {
                // Never wait on a full queue for this: it is only a gauge.
                let _ = tx.try_send(TransportEvent::Rtt(conn.stats().path.rtt));
            }
            _ = watchdog.tick() => {
                let event = match silence.observe(conn.stats().udp_rx.datagrams, Instant::now()) {
                    Some(Silence::Stalled(silent_for)) => TransportEvent::Stalled { silent_for },
                    Some(Silence::Resumed(silent_for)) => TransportEvent::Resumed { silent_for },
                    None => continue,
                };
                if tx.send(event).await.is_err() {
                    conn.close(CloseCode::Normal.varint(), b"client closed");
                    return SessionEnd::Stopped;
                }
            }
            e = conn.closed() => {
                drain_readers(tasks).await;
                return connection_end(&addr, &e, true);
            }
        }
    }
}

/// Once the connection has closed: lets every stream's reader hand over what had already
/// arrived for it (quinn keeps it readable), until its stream's end or the connection's loss,
/// so that a close right after the last records, such as a server shutting down as its stream
/// ends, loses none of them. A reader can only wait here for room in the consumer's queue.
async fn drain_readers(mut tasks: JoinSet<Result<(), ReadEnd>>) {
    while tasks.join_next().await.is_some() {}
}

/// A change in a connection's silence, as [`SilenceWatch`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Silence {
    /// Nothing received for this long (at least [`STALL_AFTER`]).
    Stalled(Duration),
    /// Packets again, after a stall of about this long.
    Resumed(Duration),
}

/// Judges a connection's silence from its count of received UDP datagrams, read every
/// [`WATCHDOG_INTERVAL`]. Both sides send a keep-alive every [`super::protocol::KEEP_ALIVE_INTERVAL`]
/// and acknowledge the other's, so a healthy connection receives something at least that
/// often, however quiet its channels; [`STALL_AFTER`] is two of those intervals.
#[derive(Debug)]
struct SilenceWatch {
    datagrams: u64,
    /// When the count was last seen to change.
    heard_at: Instant,
    stalled: bool,
}

impl SilenceWatch {
    fn new(datagrams: u64, now: Instant) -> Self {
        Self {
            datagrams,
            heard_at: now,
            stalled: false,
        }
    }

    /// Takes the count of datagrams received by `now`: a stall (again, with its length, while
    /// it lasts), the end of one, or nothing new.
    fn observe(&mut self, datagrams: u64, now: Instant) -> Option<Silence> {
        let silent_for = now.saturating_duration_since(self.heard_at);
        if datagrams != self.datagrams {
            self.datagrams = datagrams;
            self.heard_at = now;
            return std::mem::take(&mut self.stalled).then_some(Silence::Resumed(silent_for));
        }
        if silent_for >= STALL_AFTER {
            self.stalled = true;
            return Some(Silence::Stalled(silent_for));
        }
        None
    }
}

/// Classifies a failed QUIC/TLS handshake: trust failures and TLS errors are fatal.
fn handshake_failure(
    state: &ClientState,
    addr: &str,
    error: &quinn::ConnectionError,
) -> SessionEnd {
    let failure = state
        .observation
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .failure
        .clone();
    if let Some(failure) = failure {
        return SessionEnd::Fatal(ClientError::Untrusted {
            addr: addr.to_owned(),
            failure: Box::new(failure),
        });
    }
    let tls = match error {
        quinn::ConnectionError::TransportError(e) if is_crypto_code(e.code) => Some(e.to_string()),
        quinn::ConnectionError::ConnectionClosed(close) if is_crypto_code(close.error_code) => {
            Some(format!(
                "the server refused the TLS handshake: {} {}",
                close.error_code,
                String::from_utf8_lossy(&close.reason)
            ))
        }
        _ => None,
    };
    match tls {
        Some(reason) => SessionEnd::Fatal(ClientError::Handshake {
            addr: addr.to_owned(),
            reason,
        }),
        None => connection_end(addr, error, false),
    }
}

/// On the first connection to a trust-on-first-use address, remembers its certificate, and
/// from then on requires it (also for this client's reconnections).
fn remember_first_use(state: &mut ClientState, fingerprint: Fingerprint) -> Result<(), TlsError> {
    let Some(store) = &mut state.tofu else {
        return Ok(());
    };
    if store.get(&state.tofu_key).is_some() {
        return Ok(());
    }
    store.remember(&state.tofu_key, fingerprint)?;
    let (quic, observation) =
        build_quic_config(&state.config.trust, state.tofu.as_ref(), &state.tofu_key)?;
    state.quic = quic;
    state.observation = observation;
    Ok(())
}

/// Sends Hello and reads the Catalog (or a Reject); returns the catalog and the control stream.
async fn handshake(
    state: &ClientState,
    conn: &quinn::Connection,
) -> Result<(Catalog, quinn::SendStream, quinn::RecvStream), SessionEnd> {
    let addr = &state.config.addr;
    let (mut send, mut recv) = match conn.open_bi().await {
        Ok(streams) => streams,
        Err(e) => return Err(connection_end(addr, &e, false)),
    };
    let hello = ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        token: state.config.token.clone(),
    };
    if write_message(&mut send, &hello, MAX_CONTROL_FRAME_BYTES, "Hello")
        .await
        .is_err()
    {
        return Err(closed_during_handshake(addr, conn).await);
    }
    let read = read_message::<ServerMessage, _>(&mut recv, MAX_CONTROL_FRAME_BYTES, "Catalog");
    let catalog = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read).await {
        Err(_) => {
            conn.close(CloseCode::Timeout.varint(), b"no catalog");
            return Err(lost(
                format!(
                    "no catalog from {addr} within {} s",
                    HANDSHAKE_TIMEOUT.as_secs()
                ),
                false,
            ));
        }
        Ok(Ok(Some(ServerMessage::Catalog(catalog)))) => catalog,
        Ok(Ok(Some(ServerMessage::CatalogUpdate(_)))) => {
            let reason = "a catalog update before the catalog";
            conn.close(CloseCode::ProtocolViolation.varint(), reason.as_bytes());
            return Err(lost(
                format!("protocol violation by the server: {reason}"),
                false,
            ));
        }
        Ok(Ok(Some(ServerMessage::Reject { reason }))) => {
            conn.close(CloseCode::Normal.varint(), b"rejected");
            return Err(SessionEnd::Fatal(ClientError::Rejected {
                addr: addr.clone(),
                reason,
            }));
        }
        Ok(Ok(None)) | Ok(Err(FrameError::Io(_))) => {
            return Err(closed_during_handshake(addr, conn).await);
        }
        Ok(Err(e)) => return Err(catalog_violation(conn, format!("bad catalog: {e}"))),
    };
    if let Err(reason) = check_catalog(&catalog) {
        return Err(catalog_violation(conn, reason));
    }
    Ok((catalog, send, recv))
}

/// The connection's end reason once the control stream failed during the handshake.
async fn closed_during_handshake(addr: &str, conn: &quinn::Connection) -> SessionEnd {
    // The stream fails because the connection closed; give quinn a moment to surface why.
    match tokio::time::timeout(Duration::from_secs(1), conn.closed()).await {
        Ok(e) => connection_end(addr, &e, false),
        Err(_) => {
            conn.close(
                CloseCode::ProtocolViolation.varint(),
                b"control stream failed",
            );
            lost("the control stream failed during the handshake", false)
        }
    }
}

/// Closes a connection whose server sent a bad catalog, saying why.
fn catalog_violation(conn: &quinn::Connection, reason: String) -> SessionEnd {
    conn.close(
        CloseCode::ProtocolViolation.varint(),
        clip_reason(&reason).as_bytes(),
    );
    lost(format!("protocol violation by the server: {reason}"), false)
}

pub(super) fn check_catalog(catalog: &Catalog) -> Result<(), String> {
    if catalog.channels.len() > MAX_CHANNELS {
        return Err(format!(
            "catalog of {} channels exceeds the limit of {MAX_CHANNELS}",
            catalog.channels.len()
        ));
    }
    let mut ids = HashSet::new();
    for c in &catalog.channels {
        if !ids.insert(c.id) {
            return Err(format!("catalog lists channel id {} twice", c.id));
        }
    }
    Ok(())
}

/// The ids of the channels to subscribe to: all, or those named.
pub(super) fn choose_channels(
    catalog: &Catalog,
    names: Option<&[String]>,
) -> Result<Vec<ChannelId>, ClientError> {
    let Some(names) = names else {
        return Ok(catalog.channels.iter().map(|c| c.id).collect());
    };
    let mut ids = Vec::new();
    let mut unknown = Vec::new();
    for name in names {
        match catalog.channels.iter().find(|c| &c.name == name) {
            Some(c) if !ids.contains(&c.id) => ids.push(c.id),
            Some(_) => {}
            None => unknown.push(name.clone()),
        }
    }
    if unknown.is_empty() {
        Ok(ids)
    } else {
        let available: Vec<&str> = catalog.names().collect();
        Err(ClientError::UnknownChannels {
            unknown,
            available: available.join(", "),
        })
    }
}

/// Each channel's numbering as delivered, across this client's connections. A source that
/// restarted begins its `seq` and its clock again; its records are then renumbered to follow
/// the last record delivered, so that what the consumer sees (and records) never goes
/// backwards, and the records of the new run sent before this client got back count as a gap:
/// the first one delivered is `last + 1 + its own seq`. Its time stamps are shifted so that
/// the first lands the wall time the client was away after the last one.
#[derive(Debug, Default)]
struct Continuity {
    /// By channel name: a restarted source may number its channels differently.
    channels: HashMap<String, ChannelRun>,
}

#[derive(Debug, Clone, Copy)]
struct ChannelRun {
    /// The last `seq` as the source sent it.
    source_seq: u64,
    /// What is added to the source's `seq` and `t_ns`.
    seq_shift: u64,
    t_shift_ns: i128,
    /// The last record delivered, and when it arrived.
    seq: u64,
    t_ns: u64,
    at: Instant,
}

impl Continuity {
    /// Renumbers `batch` (one channel's, in `seq` order, not empty); `first` says that it is
    /// the first batch of the channel's stream on a new connection, the only place a source
    /// can have restarted.
    fn renumber(&mut self, name: &str, batch: &mut [Record], first: bool, now: Instant) {
        let (Some(head), Some(tail)) = (batch.first(), batch.last()) else {
            return;
        };
        let (head_seq, head_t_ns, tail_seq) = (head.seq, head.t_ns, tail.seq);
        let run = match self.channels.entry(name.to_owned()) {
            Entry::Vacant(vacant) => vacant.insert(ChannelRun {
                source_seq: head_seq,
                seq_shift: 0,
                t_shift_ns: 0,
                seq: head_seq,
                t_ns: head_t_ns,
                at: now,
            }),
            Entry::Occupied(occupied) => {
                let run = occupied.into_mut();
                if first && head_seq <= run.source_seq {
                    run.seq_shift = run.seq.saturating_add(1);
                    let away_ns = now.saturating_duration_since(run.at).as_nanos();
                    let head_at =
                        i128::from(run.t_ns) + i128::try_from(away_ns).unwrap_or(i128::MAX);
                    run.t_shift_ns = head_at.saturating_sub(i128::from(head_t_ns));
                }
                run
            }
        };
        for record in batch.iter_mut() {
            record.seq = record.seq.saturating_add(run.seq_shift);
            let t_ns = i128::from(record.t_ns).saturating_add(run.t_shift_ns);
            record.t_ns = u64::try_from(t_ns.max(0)).unwrap_or(u64::MAX);
        }
        run.source_seq = tail_seq;
        if let Some(last) = batch.last() {
            run.seq = last.seq;
            run.t_ns = last.t_ns;
        }
        run.at = now;
    }
}

/// Why a stream reader stopped.
enum ReadEnd {
    /// The consumer went away.
    Stopped,
    /// The server broke the protocol on this stream.
    Violation(String),
    /// The stream failed (reset, or the connection is closing).
    StreamFailed(String),
}

pub(super) fn value_fits(kind: &ChannelKind, value: &Value) -> bool {
    match (kind, value) {
        (ChannelKind::Scalar, Value::Scalar(_)) => true,
        (ChannelKind::Vector { dims }, Value::Vector(v)) => v.len() == *dims as usize,
        (ChannelKind::Event { .. }, Value::Fields(_)) => true,
        (ChannelKind::Text, Value::Token(_)) => true,
        _ => false,
    }
}

/// The subscribed channels' names and kinds, by id, grown by catalog updates; a data stream
/// that comes before the update announcing its channel waits for it ([`Kinds::wait_for`]).
struct Kinds {
    known: Mutex<HashMap<ChannelId, (String, ChannelKind)>>,
    grown: tokio::sync::Notify,
    /// The control stream has ended (every update it carried is in `known`): no channel is
    /// announced any more.
    closed: std::sync::atomic::AtomicBool,
}

impl Kinds {
    fn new(channels: impl IntoIterator<Item = (ChannelId, (String, ChannelKind))>) -> Arc<Self> {
        Arc::new(Self {
            known: Mutex::new(channels.into_iter().collect()),
            grown: tokio::sync::Notify::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn get(&self, channel: ChannelId) -> Option<(String, ChannelKind)> {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&channel)
            .cloned()
    }

    fn extend(&self, catalog: &Catalog) {
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(
                catalog
                    .channels
                    .iter()
                    .map(|c| (c.id, (c.name.clone(), c.kind.clone()))),
            );
        self.grown.notify_waiters();
    }

    /// No update will come any more (the control stream has ended, after the updates it held
    /// were taken): the streams waiting for one give up at once.
    fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.grown.notify_waiters();
    }

    /// The channel's name and kind, waiting up to [`NEW_CHANNEL_WAIT`] for the catalog update
    /// that adds it. Woken by the update itself: a stream that overtook its catalog update
    /// (both are in flight at once) loses no more time than the update takes. `None` at once
    /// once the control stream has ended: when the connection closes, a stream waiting here
    /// held the client's `Disconnected` back by up to [`NEW_CHANNEL_WAIT`].
    async fn wait_for(&self, channel: ChannelId) -> Option<(String, ChannelKind)> {
        let deadline = tokio::time::Instant::now() + NEW_CHANNEL_WAIT;
        loop {
            let grown = self.grown.notified();
            tokio::pin!(grown);
            // Registered before the look-ups, so an update or the close between them is not
            // missed.
            grown.as_mut().enable();
            if let Some(known) = self.get(channel) {
                return Some(known);
            }
            if self.closed.load(std::sync::atomic::Ordering::Acquire) {
                return None;
            }
            if tokio::time::timeout_at(deadline, grown).await.is_err() {
                return None;
            }
        }
    }
}

/// How long a data stream of a channel not yet in the catalog waits for the catalog update
/// that adds it (the two travel on different streams, so either may arrive first).
const NEW_CHANNEL_WAIT: Duration = Duration::from_secs(5);

/// Where a data stream's batches go: the ordered lane, or for an [`urgent`] channel the urgent
/// one, tagged with the connection ([`ClientHandle`]).
struct Lane {
    events: mpsc::Sender<TransportEvent>,
    urgent: mpsc::Sender<UrgentBatch>,
    connection: u64,
}

/// Reads one data stream: its header, then record batches, each checked and forwarded.
async fn read_channel(
    mut recv: quinn::RecvStream,
    kinds: Arc<Kinds>,
    opened: Arc<Mutex<HashSet<ChannelId>>>,
    continuity: Arc<Mutex<Continuity>>,
    lane: Lane,
) -> Result<(), ReadEnd> {
    let frame_end = |context: &str, e: FrameError| match e {
        FrameError::Io(e) => ReadEnd::StreamFailed(format!("{context}: {e}")),
        e => ReadEnd::Violation(format!("{context}: {e}")),
    };
    let mut body = Vec::new();
    match read_frame(&mut recv, MAX_CONTROL_FRAME_BYTES, &mut body).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(ReadEnd::Violation(
                "data stream ended before its header".into(),
            ));
        }
        Err(e) => return Err(frame_end("data stream header", e)),
    }
    let header: DataStreamHeader =
        decode_body(&body, "stream header").map_err(|e| ReadEnd::Violation(e.to_string()))?;
    let channel = header.channel;
    let Some((name, kind)) = kinds.wait_for(channel).await else {
        return Err(ReadEnd::Violation(format!(
            "data stream for channel id {channel}, which was not subscribed"
        )));
    };
    let (name, kind) = (&name, &kind);
    let is_urgent = urgent(kind);
    if !opened
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(channel)
    {
        return Err(ReadEnd::Violation(format!(
            "a second data stream for channel {name:?}"
        )));
    }
    let mut last_seq: Option<u64> = None;
    loop {
        match read_frame(&mut recv, MAX_DATA_FRAME_BYTES, &mut body).await {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => return Err(frame_end(&format!("channel {name:?}"), e)),
        }
        let mut batch: RecordBatch = decode_batch(&body, "record batch")
            .map_err(|e| ReadEnd::Violation(format!("channel {name:?}: {e}")))?;
        if batch.is_empty() || batch.len() > MAX_BATCH_RECORDS {
            return Err(ReadEnd::Violation(format!(
                "channel {name:?}: batch of {} records (allowed: 1 to {MAX_BATCH_RECORDS})",
                batch.len()
            )));
        }
        let first_batch = last_seq.is_none();
        for record in &batch {
            if record.channel != channel {
                return Err(ReadEnd::Violation(format!(
                    "channel {name:?}: record for channel id {} on its stream",
                    record.channel
                )));
            }
            if !value_fits(kind, &record.value) {
                return Err(ReadEnd::Violation(format!(
                    "channel {name:?}: record seq {} does not fit the channel's kind {}",
                    record.seq,
                    kind.label()
                )));
            }
            if last_seq.is_some_and(|last| record.seq <= last) {
                return Err(ReadEnd::Violation(format!(
                    "channel {name:?}: seq went from {} to {}",
                    last_seq.unwrap_or_default(),
                    record.seq
                )));
            }
            last_seq = Some(record.seq);
        }
        continuity
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .renumber(name, &mut batch, first_batch, Instant::now());
        let sent = if is_urgent {
            lane.urgent.send((lane.connection, batch)).await.is_ok()
        } else {
            lane.events
                .send(TransportEvent::Records(batch))
                .await
                .is_ok()
        };
        if !sent {
            return Err(ReadEnd::Stopped);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChannelInfo;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = ReconnectPolicy::default();
        let delays: Vec<u64> = (1..=8)
            .map(|a| policy.delay(a).as_millis() as u64)
            .collect();
        assert_eq!(delays, [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(policy.delay(u32::MAX), RECONNECT_MAX_DELAY);
    }

    #[test]
    fn addresses_are_checked() {
        assert!(check_address("127.0.0.1:4433").is_ok());
        assert!(check_address("[::1]:4433").is_ok());
        assert!(check_address("localhost:1").is_ok());
        for bad in [
            "127.0.0.1",
            "::1:4433",
            ":4433",
            "host:0",
            "host:99999",
            "host:x",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    /// The lanes in the handle: an urgent batch waits for its connection's `Connected` and
    /// the catalog that lists its channel, a batch of an earlier connection does not wait,
    /// and what is held when the client stops still comes out, by `recv` and by `try_recv`.
    #[tokio::test]
    async fn urgent_batches_wait_for_their_announcement_and_outlive_the_client() {
        let (events_tx, events) = mpsc::channel(8);
        let (urgent_tx, urgent) = mpsc::channel(8);
        let mut handle = ClientHandle {
            events,
            urgent,
            held: VecDeque::new(),
            connection: 0,
            announced: HashSet::new(),
            task: tokio::spawn(async {}),
        };
        let batch = |channel, seq| {
            vec![Record {
                channel,
                seq,
                t_ns: seq,
                value: Value::Scalar(0.0),
            }]
        };
        let catalog = |ids: &[ChannelId]| Catalog {
            source: "t".into(),
            channels: ids
                .iter()
                .map(|&id| ChannelInfo {
                    id,
                    name: format!("c{id}"),
                    kind: ChannelKind::Event { fields: vec![] },
                    unit: None,
                    period_s: None,
                })
                .collect(),
        };
        let seq_of = |event: Option<TransportEvent>| match event {
            Some(TransportEvent::Records(b)) => (b[0].channel, b[0].seq),
            other => panic!("expected records, got {other:?}"),
        };
        urgent_tx.send((1, batch(5, 0))).await.unwrap();
        urgent_tx.send((1, batch(7, 0))).await.unwrap();
        events_tx
            .send(TransportEvent::Connected {
                catalog: catalog(&[5]),
                remote: "127.0.0.1:9".parse().unwrap(),
                fingerprint: Fingerprint([0; 32]),
            })
            .await
            .unwrap();
        events_tx
            .send(TransportEvent::CatalogUpdate(catalog(&[5, 7])))
            .await
            .unwrap();
        assert!(matches!(
            handle.recv().await,
            Some(TransportEvent::Connected { .. })
        ));
        assert_eq!(seq_of(handle.recv().await), (5, 0), "announced: out first");
        assert!(matches!(
            handle.recv().await,
            Some(TransportEvent::CatalogUpdate(_))
        ));
        assert_eq!(seq_of(handle.recv().await), (7, 0), "after its update");
        // A later connection's batch waits for that connection's Connected; the client then
        // stops, and it still comes out.
        urgent_tx.send((2, batch(5, 1))).await.unwrap();
        urgent_tx.send((2, batch(5, 2))).await.unwrap();
        assert!(matches!(
            handle.try_recv(),
            Err(mpsc::error::TryRecvError::Empty)
        ));
        drop((events_tx, urgent_tx));
        assert_eq!(seq_of(handle.recv().await), (5, 1));
        assert_eq!(seq_of(handle.try_recv().ok()), (5, 2));
        assert!(handle.recv().await.is_none());
    }

    /// A data stream that overtook the catalog update announcing its channel is woken by the
    /// update (in virtual time: exactly when it lands, where a 20 ms poll once waited), and
    /// gives up on a channel nobody announces after NEW_CHANNEL_WAIT.
    #[tokio::test(start_paused = true)]
    async fn a_stream_waits_for_the_update_that_announces_its_channel() {
        let kinds = Kinds::new([(0, ("a".to_owned(), ChannelKind::Scalar))]);
        assert_eq!(kinds.wait_for(0).await.unwrap().0, "a");
        let start = tokio::time::Instant::now();
        let update = kinds.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(3)).await;
            update.extend(&Catalog {
                source: "t".into(),
                channels: vec![ChannelInfo {
                    id: 7,
                    name: "b".into(),
                    kind: ChannelKind::Text,
                    unit: None,
                    period_s: None,
                }],
            });
        });
        assert_eq!(
            kinds.wait_for(7).await,
            Some(("b".into(), ChannelKind::Text))
        );
        assert_eq!(start.elapsed(), Duration::from_millis(3));
        assert_eq!(kinds.wait_for(9).await, None);
        assert_eq!(start.elapsed(), Duration::from_millis(3) + NEW_CHANNEL_WAIT);
    }

    /// Once the control stream has ended no update can announce a channel: a stream already
    /// waiting gives up when it ends, and one that asks later at once (a closed connection's
    /// `Disconnected` waited up to NEW_CHANNEL_WAIT for such a stream); the channels known
    /// before stay known.
    #[tokio::test(start_paused = true)]
    async fn a_stream_waiting_for_an_announcement_gives_up_when_the_control_stream_ends() {
        let kinds = Kinds::new([(0, ("a".to_owned(), ChannelKind::Scalar))]);
        let start = tokio::time::Instant::now();
        let closing = kinds.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(7)).await;
            closing.close();
        });
        assert_eq!(kinds.wait_for(9).await, None);
        assert_eq!(start.elapsed(), Duration::from_millis(7));
        assert_eq!(kinds.wait_for(8).await, None);
        assert_eq!(start.elapsed(), Duration::from_millis(7));
        assert_eq!(kinds.wait_for(0).await.unwrap().0, "a");
    }

    #[test]
    fn channels_are_chosen_by_name() {
        let catalog = Catalog {
            source: "t".into(),
            channels: ["a", "b", "c"]
                .iter()
                .enumerate()
                .map(|(i, n)| ChannelInfo {
                    id: i as u32 * 10,
                    name: (*n).into(),
                    kind: ChannelKind::Scalar,
                    unit: None,
                    period_s: None,
                })
                .collect(),
        };
        assert_eq!(choose_channels(&catalog, None).unwrap(), [0, 10, 20]);
        let some = ["c".to_owned(), "a".to_owned()];
        assert_eq!(choose_channels(&catalog, Some(&some)).unwrap(), [20, 0]);
        let bad = ["a".to_owned(), "zz".to_owned()];
        let err = choose_channels(&catalog, Some(&bad))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "the source has no channel named zz; it has: a, b, c");
    }

    fn records(seqs: std::ops::Range<u64>, period_ns: u64) -> Vec<Record> {
        seqs.map(|seq| Record {
            channel: 0,
            seq,
            t_ns: seq * period_ns,
            value: Value::Scalar(0.0),
        })
        .collect()
    }

    #[test]
    fn a_restarted_source_is_numbered_on_from_the_last_record_with_its_gap() {
        let start = Instant::now();
        let mut continuity = Continuity::default();
        // The first run: seq 0..100, 10 ms apart.
        let mut batch = records(0..100, 10_000_000);
        continuity.renumber("x", &mut batch, true, start);
        assert_eq!((batch[0].seq, batch[99].seq), (0, 99));
        // A reconnection to the same run that missed 20 records: left as it is.
        let mut batch = records(120..130, 10_000_000);
        continuity.renumber("x", &mut batch, true, start + Duration::from_secs(1));
        assert_eq!((batch[0].seq, batch[0].t_ns), (120, 1_200_000_000));
        // The source restarted; 3 s later this client joins its run at seq 7.
        let back = start + Duration::from_secs(4);
        let mut batch = records(7..10, 10_000_000);
        continuity.renumber("x", &mut batch, true, back);
        let seqs: Vec<u64> = batch.iter().map(|r| r.seq).collect();
        assert_eq!(
            seqs,
            [137, 138, 139],
            "130 + the 7 records of the new run missed"
        );
        assert_eq!(batch[0].t_ns, 1_290_000_000 + 3_000_000_000);
        assert_eq!(batch[1].t_ns - batch[0].t_ns, 10_000_000);
        // Later batches of that stream, and a reconnection to the same new run, follow on.
        let mut batch = records(10..11, 10_000_000);
        continuity.renumber("x", &mut batch, false, back);
        assert_eq!(batch[0].seq, 140);
        let mut batch = records(50..51, 10_000_000);
        continuity.renumber("x", &mut batch, true, back + Duration::from_secs(1));
        assert_eq!(batch[0].seq, 180);
        // Another channel has its own numbering.
        let mut batch = records(0..1, 1);
        continuity.renumber("y", &mut batch, true, back);
        assert_eq!(batch[0].seq, 0);
    }

    #[test]
    fn silence_is_a_stall_from_two_keep_alive_intervals_until_a_packet_comes() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut watch = SilenceWatch::new(10, start);
        // Packets every 2 s (keep-alives of a quiet connection): never a stall.
        for (ms, count) in [(1000, 10), (2000, 11), (3000, 11), (4000, 12), (6000, 13)] {
            assert_eq!(watch.observe(count, at(ms)), None, "{ms} ms");
        }
        // Heard last at 6 s: quiet until 10 s, stalled from then on with the silence's length.
        assert_eq!(watch.observe(13, at(9800)), None);
        assert_eq!(
            watch.observe(13, at(10_000)),
            Some(Silence::Stalled(STALL_AFTER))
        );
        assert_eq!(
            watch.observe(13, at(10_200)),
            Some(Silence::Stalled(Duration::from_millis(4200)))
        );
        // A packet: resumed once, then quiet again.
        assert_eq!(
            watch.observe(14, at(11_000)),
            Some(Silence::Resumed(Duration::from_secs(5)))
        );
        assert_eq!(watch.observe(14, at(11_200)), None);
        assert_eq!(watch.observe(15, at(12_000)), None);
    }

    #[test]
    fn values_must_fit_their_channel() {
        assert!(value_fits(
            &ChannelKind::Vector { dims: 2 },
            &Value::Vector(vec![1.0, 2.0])
        ));
        assert!(!value_fits(
            &ChannelKind::Vector { dims: 3 },
            &Value::Vector(vec![1.0])
        ));
        assert!(!value_fits(&ChannelKind::Scalar, &Value::Token("x".into())));
    }
}
