//! Publishing a stream of your own over QUIC in a few lines, without knowing the wire protocol:
//! bind, declare channels, send values. `midstream-tui attach` (or any client of
//! [`super::protocol`]) then sees them live.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use midstream::publish::{Publisher, PublisherOptions};
//!
//! let mut publisher = Publisher::bind(PublisherOptions::new("127.0.0.1:4433".parse()?, "my sensor"))?;
//! println!("{}", publisher.info().attach_command.clone().unwrap_or_default());
//! let temperature = publisher.scalar("temperature")?;
//! for i in 0..100 {
//!     publisher.send(temperature, 20.0 + (i as f64 / 10.0).sin()).await?;
//! }
//! publisher.finish().await;
//! # Ok(()) }
//! ```
//!
//! Channels may be declared at any time: clients that subscribed to every channel get the new
//! ones as they come. `serve --input` (a file or pipe) and the built-in generators (`serve`, the
//! demo) are published through this same API.
//!
//! A publisher that is dropped instead of finished ends its stream the same way, and its server
//! then shuts down once every client has the end of each of its streams (see [`Publisher`]):
//! nothing sent is lost, and nothing is left running.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::protocol::{MAX_BATCH_RECORDS, MAX_CHANNELS, urgent};
use super::server::{
    CertificateSource, DRAIN_PATIENCE, Delivery, Drain, Feed, FeedItem, Server, ServerConfig,
    ServerError, ServerEvent, ServerInfo, ServerLimits, ShutdownHandle, TickPacer,
};
use crate::model::{Catalog, ChannelId, ChannelInfo, ChannelKind, Record, Value};
use crate::sources::RecordSource;

/// Batches queued between a publisher and its server; a full queue holds the publisher back
/// (with [`Delivery::Complete`], that is how the slowest client paces it).
pub const FEED_QUEUE: usize = 64;

/// How to publish.
#[derive(Debug, Clone)]
pub struct PublisherOptions {
    pub listen: SocketAddr,
    /// What the stream is, as clients show it ("my sensor", "file data.csv").
    pub description: String,
    pub delivery: Delivery,
    pub certificate: CertificateSource,
    /// A token clients must present.
    pub token: Option<String>,
    /// What one client may make the server do.
    pub limits: ServerLimits,
    /// See [`ServerConfig::stream_priorities`].
    pub stream_priorities: bool,
}

impl PublisherOptions {
    /// Live delivery (slow clients skip), a self-signed certificate, no token, the default
    /// limits.
    pub fn new(listen: SocketAddr, description: impl Into<String>) -> Self {
        Self {
            listen,
            description: description.into(),
            delivery: Delivery::Live,
            certificate: CertificateSource::SelfSigned,
            token: None,
            limits: ServerLimits::default(),
            stream_priorities: true,
        }
    }
}

/// Why a value could not be published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("a channel named {0:?} is already declared")]
    DuplicateChannel(String),
    #[error("no channel has id {0}")]
    UnknownChannel(ChannelId),
    #[error("the stream already has the protocol's limit of {MAX_CHANNELS} channels")]
    TooManyChannels,
    #[error("the server has stopped")]
    Stopped,
}

/// A bound server and the channels published on it.
///
/// [`Publisher::finish`] ends the stream and leaves the server accepting (and ending) clients
/// until it is shut down. Dropping a publisher also ends the stream, and then shuts its server
/// down once every subscribed client has been sent, and has acknowledged, the end of each of
/// its streams (and so every record before it): at once when no client is subscribed or when
/// it is dropped outside a tokio runtime, and at the latest when the delivery has stood still
/// for [`DRAIN_PATIENCE`] (a client that has stopped reading).
pub struct Publisher {
    catalog: Catalog,
    catalog_sent: bool,
    seqs: Vec<u64>,
    /// Catalogs and the records of channels that are not [`urgent`].
    items: mpsc::Sender<FeedItem>,
    /// The records of [`urgent`] channels when streams are prioritised (see [`Feed::urgent`]).
    urgent: mpsc::Sender<FeedItem>,
    /// Whether records are split between the lanes ([`PublisherOptions::stream_priorities`]).
    lanes: bool,
    start: Instant,
    info: ServerInfo,
    shutdown: ShutdownHandle,
    subscribed: watch::Receiver<bool>,
    events: Option<mpsc::Receiver<ServerEvent>>,
    server: JoinHandle<Result<(), ServerError>>,
    /// Shuts the server down when the publisher is dropped rather than finished.
    linger: Linger,
}

/// What a dropped [`Publisher`] leaves behind: a task that shuts its server down once the
/// delivery is [done](Drain::is_done), or has stood still for [`DRAIN_PATIENCE`].
struct Linger {
    shutdown: ShutdownHandle,
    drain: watch::Receiver<Drain>,
    armed: bool,
}

impl Drop for Linger {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let shutdown = self.shutdown.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            shutdown.shutdown();
            return;
        };
        let mut drain = self.drain.clone();
        runtime.spawn(async move {
            while !drain.borrow_and_update().is_done() {
                match tokio::time::timeout(DRAIN_PATIENCE, drain.changed()).await {
                    Ok(Ok(())) => {}
                    // Stood still, or the server has stopped already.
                    Ok(Err(_)) | Err(_) => break,
                }
            }
            shutdown.shutdown_because("server shutting down: its stream has ended");
        });
    }
}

impl Publisher {
    /// Binds the server (generating its certificate when asked) and starts serving. Must be
    /// called inside a tokio runtime.
    pub fn bind(opts: PublisherOptions) -> Result<Publisher, ServerError> {
        Self::bind_with(opts, Catalog::default())
    }

    /// [`Publisher::bind`] with channels declared from the start.
    pub fn bind_with(
        opts: PublisherOptions,
        mut catalog: Catalog,
    ) -> Result<Publisher, ServerError> {
        catalog.source = opts.description.clone();
        let (items_tx, items_rx) = mpsc::channel(FEED_QUEUE);
        let (urgent_tx, urgent_rx) = mpsc::channel(FEED_QUEUE);
        let mut config = ServerConfig::feed(
            opts.listen,
            Feed {
                catalog: catalog.clone(),
                items: items_rx,
                urgent: urgent_rx,
                delivery: opts.delivery,
            },
        );
        config.certificate = opts.certificate;
        config.token = opts.token;
        config.limits = opts.limits;
        config.stream_priorities = opts.stream_priorities;
        let (mut server, info) = Server::bind(config)?;
        let events = server.take_events();
        let subscribed = server.subscribed();
        let shutdown = server.shutdown_handle();
        let linger = Linger {
            shutdown: shutdown.clone(),
            drain: server.drain(),
            armed: true,
        };
        let server = tokio::spawn(server.run());
        let seqs = vec![0; catalog.channels.len()];
        Ok(Publisher {
            catalog,
            catalog_sent: true,
            seqs,
            items: items_tx,
            urgent: urgent_tx,
            lanes: opts.stream_priorities,
            start: Instant::now(),
            info,
            shutdown,
            subscribed,
            events,
            server,
            linger,
        })
    }

    /// Where it listens, its certificate's fingerprint and the `attach` command.
    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    /// What happens to clients (once; later calls return `None`).
    pub fn take_events(&mut self) -> Option<mpsc::Receiver<ServerEvent>> {
        self.events.take()
    }

    /// Closes every connection with a reason; the server then stops.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Waits until a client has subscribed (at once if one has).
    pub async fn subscribed(&mut self) {
        let _ = self.subscribed.wait_for(|s| *s).await;
    }

    /// Declares a channel of one number per record.
    pub fn scalar(&mut self, name: &str) -> Result<ChannelId, PublishError> {
        self.channel(name, ChannelKind::Scalar, None)
    }

    /// Declares a channel; `period_s` is its nominal sample period when it has one.
    pub fn channel(
        &mut self,
        name: &str,
        kind: ChannelKind,
        period_s: Option<f64>,
    ) -> Result<ChannelId, PublishError> {
        if self.catalog.channels.iter().any(|c| c.name == name) {
            return Err(PublishError::DuplicateChannel(name.to_owned()));
        }
        if self.catalog.channels.len() >= MAX_CHANNELS {
            return Err(PublishError::TooManyChannels);
        }
        let id = self.catalog.channels.len() as ChannelId;
        self.catalog.channels.push(ChannelInfo {
            id,
            name: name.to_owned(),
            kind,
            unit: None,
            period_s,
        });
        self.seqs.push(0);
        self.catalog_sent = false;
        Ok(id)
    }

    /// Publishes one value now, stamped with the next `seq` of its channel and the time since
    /// the publisher was bound.
    pub async fn send(
        &mut self,
        channel: ChannelId,
        value: impl Into<Value>,
    ) -> Result<(), PublishError> {
        let t_ns = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let seq = self
            .seqs
            .get_mut(channel as usize)
            .ok_or(PublishError::UnknownChannel(channel))?;
        let record = Record {
            channel,
            seq: *seq,
            t_ns,
            value: value.into(),
        };
        *seq += 1;
        self.send_records(vec![record]).await
    }

    /// Replaces the catalog with `catalog`, a superset of the current one (a source that
    /// keeps its own catalog, such as a text input whose fields appear as it is read).
    pub async fn set_catalog(&mut self, catalog: Catalog) -> Result<(), PublishError> {
        self.adopt(catalog)?;
        self.send_catalog().await
    }

    /// Publishes records already stamped (`seq` per channel, `t_ns`), as a source that
    /// keeps its own clocks does.
    pub async fn send_records(&mut self, records: Vec<Record>) -> Result<(), PublishError> {
        self.send_catalog().await?;
        let (urgent, other) = self.split_lanes(records);
        if !urgent.is_empty() {
            self.urgent
                .send(FeedItem::Records(urgent))
                .await
                .map_err(|_| PublishError::Stopped)?;
        }
        if other.is_empty() {
            return Ok(());
        }
        self.items
            .send(FeedItem::Records(other))
            .await
            .map_err(|_| PublishError::Stopped)
    }

    /// `records` as (urgent, other), each in the order given; every record is other when the
    /// streams are not prioritised. A channel always takes the same lane, so its order holds.
    fn split_lanes(&self, records: Vec<Record>) -> (Vec<Record>, Vec<Record>) {
        let is_urgent = |record: &Record| {
            self.lanes
                && self
                    .catalog
                    .channels
                    .get(record.channel as usize)
                    .is_some_and(|info| info.id == record.channel && urgent(&info.kind))
        };
        if !records.iter().any(is_urgent) {
            return (Vec::new(), records);
        }
        records.into_iter().partition(is_urgent)
    }

    /// [`Publisher::set_catalog`] from a thread that is not async (waits on a full queue).
    pub fn blocking_set_catalog(&mut self, catalog: Catalog) -> Result<(), PublishError> {
        self.adopt(catalog)?;
        self.catalog_sent = true;
        self.catalog_lane()
            .blocking_send(FeedItem::Catalog(self.catalog.clone()))
            .map_err(|_| PublishError::Stopped)
    }

    /// [`Publisher::send_records`] from a thread that is not async (waits on a full queue).
    pub fn blocking_send_records(&mut self, records: Vec<Record>) -> Result<(), PublishError> {
        let (urgent, other) = self.split_lanes(records);
        for (lane, records) in [(&self.urgent, urgent), (&self.items, other)] {
            if !records.is_empty() {
                lane.blocking_send(FeedItem::Records(records))
                    .map_err(|_| PublishError::Stopped)?;
            }
        }
        Ok(())
    }

    /// Ends the stream: clients see every stream finish after its last record. The server
    /// keeps accepting (and ending) clients until it is shut down; returns when it is.
    pub async fn finish(mut self) {
        self.linger.armed = false;
        drop(self.items);
        drop(self.urgent);
        let _ = self.server.await;
    }

    fn adopt(&mut self, mut catalog: Catalog) -> Result<(), PublishError> {
        if catalog.channels.len() > MAX_CHANNELS {
            return Err(PublishError::TooManyChannels);
        }
        catalog.source = self.catalog.source.clone();
        self.seqs
            .resize(catalog.channels.len().max(self.seqs.len()), 0);
        self.catalog = catalog;
        self.catalog_sent = false;
        Ok(())
    }

    async fn send_catalog(&mut self) -> Result<(), PublishError> {
        if self.catalog_sent {
            return Ok(());
        }
        self.catalog_sent = true;
        self.catalog_lane()
            .send(FeedItem::Catalog(self.catalog.clone()))
            .await
            .map_err(|_| PublishError::Stopped)
    }

    /// Catalogs take the urgent lane when there are two: the server reads it first, so a new
    /// channel is known before any of its records, whichever lane they take.
    fn catalog_lane(&self) -> &mpsc::Sender<FeedItem> {
        if self.lanes {
            &self.urgent
        } else {
            &self.items
        }
    }
}

/// Publishes a ticking source (the built-in generators) in real time: each tick's records go
/// out when the wall time since the start reaches their `t_ns`, grouped every
/// [`super::server::PUBLISH_INTERVAL`]. Runs until the source ends or the server stops.
pub async fn publish_ticks(mut source: impl RecordSource, mut publisher: Publisher) {
    let mut pacer = TickPacer::new();
    let mut records = Vec::new();
    while pacer.wait(&mut source).await {
        loop {
            let more = pacer.take_due(&mut source, &mut records, MAX_BATCH_RECORDS);
            if !records.is_empty()
                && publisher
                    .send_records(std::mem::take(&mut records))
                    .await
                    .is_err()
            {
                return;
            }
            if !more {
                break;
            }
        }
    }
    publisher.finish().await;
}
