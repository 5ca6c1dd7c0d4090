//! The Midstream wire protocol, version 1 (ALPN `midstream/1`).
//!
//! One QUIC connection per client:
//!
//! 1. The client opens the one bidirectional *control stream* and sends
//!    [`ClientMessage::Hello`]. The server answers [`ServerMessage::Catalog`], or
//!    [`ServerMessage::Reject`] with a reason (wrong token, unsupported version) and closes the
//!    connection with [`CloseCode::Rejected`] or [`CloseCode::VersionMismatch`].
//! 2. The client sends [`ClientMessage::Subscribe`] with the channel ids it wants (possibly
//!    none). Nothing else may follow on the control stream.
//! 3. The server opens one unidirectional *data stream* per subscribed channel. A client that
//!    subscribed to every channel also gets every channel added later: the server sends
//!    [`ServerMessage::CatalogUpdate`] on the control stream and opens the new streams. Its first frame
//!    is a [`DataStreamHeader`]; every later frame is a batch (`Vec<Record>`) of 1 to
//!    [`MAX_BATCH_RECORDS`] records of that channel with increasing `seq`. A client that joins
//!    a live stream starts at the current `seq`; a client too slow to keep up loses whole
//!    batches, which shows as a jump in `seq`.
//!
//! Every message, control or data, is one frame: `[u32 length, little-endian][postcard body]`
//! (see [`super::framing`]). A peer that sends an oversized, empty or malformed frame, an
//! unexpected message, or more than the limits below is closed with an application error code
//! ([`CloseCode`]) and a reason the other side can show.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{Catalog, ChannelId, ChannelKind, Record};

/// The ALPN protocol id both sides require.
pub const ALPN: &[u8] = b"midstream/1";
/// The version sent in [`ClientMessage::Hello`]; a server refuses any other.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest data frame body (a record batch): 1 MiB. A batch of [`MAX_BATCH_RECORDS`] scalar
/// records takes about 25 KiB; the rest is room for long tokens and wide events.
pub const MAX_DATA_FRAME_BYTES: usize = 1 << 20;
/// Largest control frame body: 1 MiB, enough for a catalog of [`MAX_CHANNELS`] channels
/// with 100-byte names, and an event channel listing as many fields.
pub const MAX_CONTROL_FRAME_BYTES: usize = 1 << 20;
/// Most records in one batch. Batching amortises the per-frame cost (one length prefix, one
/// stream write, one event to the pipeline) over many records; 1024 keeps a batch of scalars
/// around 25 KiB, about 18 QUIC packets.
pub const MAX_BATCH_RECORDS: usize = 1024;
/// Most channels in a catalog and in one subscription: a CSV of 4,000 columns, or a JSON
/// object of as many numeric fields. Each channel is one QUIC stream per client and, on the
/// receiving side, one ring of recent samples (64 KiB), so this also bounds what a source can
/// make a client hold (256 MiB of rings).
pub const MAX_CHANNELS: usize = 4096;
/// Concurrent streams a client may open to the server: the control stream only.
pub const MAX_CLIENT_STREAMS: u32 = 1;
/// Concurrent streams the server may open to a client: one per subscribed channel.
pub const MAX_SERVER_STREAMS: u32 = MAX_CHANNELS as u32;
/// Largest control frame a client may send by default (`serve --max-frame-bytes`): a client
/// sends only Hello (a token of at most [`MAX_TOKEN_BYTES`]) and Subscribe (at most
/// [`MAX_CHANNELS`] ids of at most 5 bytes each, about 20 KiB), so 64 KiB leaves room and
/// keeps what one peer can make the server buffer small.
pub const DEFAULT_CLIENT_FRAME_BYTES: usize = 64 << 10;
/// Smallest `--max-frame-bytes`: a Hello with the longest token must still fit.
pub const MIN_CLIENT_FRAME_BYTES: usize = 2 << 10;
/// Longest token a client may present.
pub const MAX_TOKEN_BYTES: usize = 1024;
/// Longest reason in a [`ServerMessage::Reject`] or a close frame.
pub const MAX_REASON_BYTES: usize = 512;

/// Interval of QUIC keep-alive packets: well under [`IDLE_TIMEOUT`], so a quiet but healthy
/// connection (a 1 Hz source) never times out.
pub const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(2);
/// A connection with no packet from the peer for this long is dead (the source disappeared).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a server waits for a client's Hello, and later its Subscribe, while it has room (see
/// [`MIN_HANDSHAKE_TIMEOUT`]); also how long a client waits for the catalog.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The Hello-and-Subscribe deadline of a server that is full: from half full on, the deadline
/// shrinks linearly from [`HANDSHAKE_TIMEOUT`] to this, so silent peers make room sooner. A real
/// client sends Hello one round trip after the TLS handshake, well within a second.
pub const MIN_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);
/// A connection from which no packet has arrived for this long is *stalled*: two keep-alive
/// intervals without even a keep-alive or its acknowledgement, well before [`IDLE_TIMEOUT`]
/// closes it. A healthy connection whose channels are quiet still exchanges keep-alives, so it
/// never stalls.
pub const STALL_AFTER: Duration = Duration::from_secs(2 * KEEP_ALIVE_INTERVAL.as_secs());

/// Packets acknowledged after a packet before it is declared lost by count. QUIC's default is
/// 3, which a path with jitter (Wi-Fi, a busy link) exceeds all the time: a packet held 10 ms
/// longer than the next few is then "lost", resent, and the congestion window halved, though
/// nothing was lost. With this many, loss is found by time ([`REORDER_TIME_THRESHOLD`]).
pub const REORDER_PACKET_THRESHOLD: u32 = 64;
/// A packet is declared lost once this many round trips (the larger of the smoothed and the
/// latest) passed since it was sent and a later one was acknowledged. QUIC's default of 9/8
/// leaves room for 1/8 of a round trip of reordering; 2 takes a jitter of ±50 % of the round
/// trip, and still finds a real loss within two round trips.
pub const REORDER_TIME_THRESHOLD: f32 = 2.0;

/// What a client sends on the control stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientMessage {
    /// First message: the protocol version and the shared token, if the client has one.
    Hello { version: u32, token: Option<String> },
    /// Second and last message: the channels to stream (ids from the catalog).
    Subscribe { channels: Vec<ChannelId> },
}

/// What a server sends on the control stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServerMessage {
    /// The source's channels: the answer to an accepted Hello.
    Catalog(Catalog),
    /// The Hello was refused; the connection closes after this.
    Reject { reason: String },
    /// The catalog grew (a text input's field that appeared later): sent after Subscribe to a
    /// client that subscribed to every channel, before the new channels' data streams open.
    /// A superset of the catalog before: channels are only added, field lists only grow.
    CatalogUpdate(Catalog),
}

/// The first frame of every data stream: which channel the stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataStreamHeader {
    pub channel: ChannelId,
}

/// A batch of records of one channel: the body of every data frame after the header.
pub type RecordBatch = Vec<Record>;

/// Application error codes in QUIC CONNECTION_CLOSE frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCode {
    /// Orderly close (client leaving, server shutting down a finished source).
    Normal,
    /// The peer sent a malformed, oversized or unexpected frame.
    ProtocolViolation,
    /// The server refused the client's Hello (token).
    Rejected,
    /// The client speaks another protocol version.
    VersionMismatch,
    /// The peer exceeded a limit (channels per subscription, frame size, connections from its
    /// address); the reason names it.
    LimitExceeded,
    /// The server has as many clients as it accepts, or made room for a new one by closing a
    /// connection that had not sent its Hello.
    ServerBusy,
    /// The server is shutting down.
    ServerShutdown,
    /// The peer took too long to send an expected message.
    Timeout,
}

impl CloseCode {
    const ALL: [CloseCode; 8] = [
        CloseCode::Normal,
        CloseCode::ProtocolViolation,
        CloseCode::Rejected,
        CloseCode::VersionMismatch,
        CloseCode::LimitExceeded,
        CloseCode::ServerBusy,
        CloseCode::ServerShutdown,
        CloseCode::Timeout,
    ];

    /// The code on the wire.
    pub fn code(self) -> u32 {
        match self {
            CloseCode::Normal => 0,
            CloseCode::ProtocolViolation => 1,
            CloseCode::Rejected => 2,
            CloseCode::VersionMismatch => 3,
            CloseCode::LimitExceeded => 4,
            CloseCode::ServerBusy => 5,
            CloseCode::ServerShutdown => 6,
            CloseCode::Timeout => 7,
        }
    }

    /// The code as quinn takes it.
    pub fn varint(self) -> quinn::VarInt {
        quinn::VarInt::from_u32(self.code())
    }

    /// The code a wire value stands for, if it is one of ours.
    pub fn from_code(code: u64) -> Option<CloseCode> {
        Self::ALL.into_iter().find(|c| u64::from(c.code()) == code)
    }

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            CloseCode::Normal => "normal close",
            CloseCode::ProtocolViolation => "protocol violation",
            CloseCode::Rejected => "rejected",
            CloseCode::VersionMismatch => "version mismatch",
            CloseCode::LimitExceeded => "limit exceeded",
            CloseCode::ServerBusy => "server busy",
            CloseCode::ServerShutdown => "server shutdown",
            CloseCode::Timeout => "timeout",
        }
    }
}

/// Stream priority of a channel's data stream (quinn `SendStream::set_priority`: higher is
/// sent first): events above samples above text, so a congested link still delivers the
/// events the LTL monitors need.
pub fn channel_priority(kind: &ChannelKind) -> i32 {
    match kind {
        ChannelKind::Event { .. } => 2,
        ChannelKind::Scalar | ChannelKind::Vector { .. } => 1,
        ChannelKind::Text => 0,
    }
}

/// Whether a channel's records travel in an urgent lane, ahead of the samples that queue on
/// either side of the connection: those whose data streams are above the samples'
/// ([`channel_priority`]: events). The publisher's feed, the server's backlog check and the
/// client's event queue all split by it, so a saturating sample channel holds back only its own
/// lane and the stream priority can count end to end (issue 14).
pub fn urgent(kind: &ChannelKind) -> bool {
    channel_priority(kind) > channel_priority(&ChannelKind::Scalar)
}

/// `reason` cut to at most [`MAX_REASON_BYTES`] bytes on a character boundary.
pub fn clip_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// QUIC transport parameters for one side: keep-alive, idle timeout and the stream limits
/// above (a client may open only the control stream; the server one stream per channel). No
/// QUIC datagrams: the protocol has none, and quinn would otherwise buffer a peer's unread
/// datagrams (about 1.25 MB per connection).
pub fn transport_config(server: bool) -> quinn::TransportConfig {
    let mut config = quinn::TransportConfig::default();
    config.keep_alive_interval(Some(KEEP_ALIVE_INTERVAL));
    config.datagram_receive_buffer_size(None);
    // IDLE_TIMEOUT is 10 s, far below the 2^62 ms a QUIC idle timeout can hold.
    config.max_idle_timeout(quinn::IdleTimeout::try_from(IDLE_TIMEOUT).ok());
    config.packet_threshold(REORDER_PACKET_THRESHOLD);
    config.time_threshold(REORDER_TIME_THRESHOLD);
    if server {
        config.max_concurrent_bidi_streams(quinn::VarInt::from_u32(MAX_CLIENT_STREAMS));
        config.max_concurrent_uni_streams(quinn::VarInt::from_u32(0));
    } else {
        config.max_concurrent_bidi_streams(quinn::VarInt::from_u32(0));
        config.max_concurrent_uni_streams(quinn::VarInt::from_u32(MAX_SERVER_STREAMS));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    #[test]
    fn close_codes_round_trip() {
        for code in CloseCode::ALL {
            assert_eq!(CloseCode::from_code(u64::from(code.code())), Some(code));
        }
        assert_eq!(CloseCode::from_code(999), None);
    }

    #[test]
    fn priorities_put_events_first_and_text_last() {
        let event = channel_priority(&ChannelKind::Event { fields: vec![] });
        let scalar = channel_priority(&ChannelKind::Scalar);
        let vector = channel_priority(&ChannelKind::Vector { dims: 3 });
        let text = channel_priority(&ChannelKind::Text);
        assert!(event > scalar && scalar == vector && vector > text);
    }

    #[test]
    fn a_full_scalar_batch_fits_the_frame_limit_many_times() {
        let batch: RecordBatch = (0..MAX_BATCH_RECORDS as u64)
            .map(|seq| Record {
                channel: 7,
                seq: u64::MAX - seq,
                t_ns: u64::MAX - seq,
                value: Value::Scalar(1.0),
            })
            .collect();
        let bytes = postcard::to_allocvec(&batch).unwrap();
        assert!(
            bytes.len() * 20 < MAX_DATA_FRAME_BYTES,
            "{} bytes",
            bytes.len()
        );
    }

    #[test]
    fn reasons_are_clipped_on_char_boundaries() {
        let long = "é".repeat(MAX_REASON_BYTES);
        let clipped = clip_reason(&long);
        assert!(clipped.len() <= MAX_REASON_BYTES && clipped.chars().all(|c| c == 'é'));
        assert_eq!(clip_reason("short"), "short");
    }
}
