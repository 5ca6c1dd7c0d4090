//! The analyzers' results as the Fleet pane shows them (`attach nats://... --results PREFIX`):
//! a subscription to `PREFIX.>` whose JSON results ([`FleetResult`]) fill a table of one row
//! per channel, handed on as an immutable [`FleetTable`] at most every [`TABLE_INTERVAL`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::nats::{NatsError, NatsOptions, with_credentials};
use crate::model::fleet::FleetResult;
use crate::model::{LinkState, SourceEvent};

/// Most rows the table keeps: a result for a new channel beyond it replaces the row whose
/// last result is the oldest. With a row about 1 KB, the table stays under about 4 MB.
pub const MAX_FLEET_ROWS: usize = 4096;

/// How often the table is handed on at most (when it changed).
pub const TABLE_INTERVAL: Duration = Duration::from_millis(250);

/// How often it is handed on even when no result came: the ages shown grow.
pub const AGE_REFRESH: Duration = Duration::from_secs(1);

/// One channel's latest result and when it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRow {
    pub result: FleetResult,
    /// When the result arrived (our clock: the age shown needs no agreement of clocks).
    pub received: Instant,
}

/// The analyzers' latest results, one row per channel (at most [`MAX_FLEET_ROWS`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FleetTable {
    /// The results' subject prefix.
    pub prefix: String,
    pub rows: BTreeMap<String, FleetRow>,
    /// Results received.
    pub results: u64,
    /// Messages on `PREFIX.>` that are not a result, and the latest one's problem.
    pub bad_results: u64,
    pub latest_problem: Option<String>,
    /// Rows replaced to keep the bound.
    pub evicted: u64,
    /// When this copy was handed on: each row's age is `taken_at - received` (the screen
    /// draws without a clock).
    pub taken_at: Instant,
}

impl FleetTable {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            rows: BTreeMap::new(),
            results: 0,
            bad_results: 0,
            latest_problem: None,
            evicted: 0,
            taken_at: Instant::now(),
        }
    }

    /// How old `row`'s result was when the table was handed on.
    pub fn age(&self, row: &FleetRow) -> Duration {
        self.taken_at.saturating_duration_since(row.received)
    }

    /// Takes one message of `subject`: a result replaces its channel's row; anything else is
    /// counted as bad, with its subject and reason.
    pub fn take(&mut self, subject: &str, payload: &[u8], now: Instant) {
        match serde_json::from_slice::<FleetResult>(payload) {
            Ok(result) => self.insert(result, now),
            Err(e) => {
                self.bad_results += 1;
                self.latest_problem = Some(format!("{subject}: not an analyzer result: {e}"));
            }
        }
    }

    pub fn insert(&mut self, result: FleetResult, now: Instant) {
        self.results += 1;
        if !self.rows.contains_key(&result.channel) && self.rows.len() >= MAX_FLEET_ROWS {
            let oldest = self
                .rows
                .iter()
                .min_by_key(|(_, row)| row.received)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                self.rows.remove(&oldest);
                self.evicted += 1;
            }
        }
        self.rows.insert(
            result.channel.clone(),
            FleetRow {
                result,
                received: now,
            },
        );
    }

    /// Channels per analyzer, in name order.
    pub fn analyzers(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for row in self.rows.values() {
            *counts.entry(row.result.analyzer.as_str()).or_insert(0) += 1;
        }
        counts
    }
}

/// A subscription to the analyzers' results.
pub struct FleetWatch {
    opts: NatsOptions,
    prefix: String,
}

impl FleetWatch {
    /// Results on `prefix.>` of the server `opts` names (its credentials and TLS trust).
    pub fn new(opts: NatsOptions, prefix: &str) -> Result<Self, NatsError> {
        let prefix = prefix.trim_end_matches(".>").to_owned();
        if prefix.is_empty()
            || prefix
                .split('.')
                .any(|t| t.is_empty() || t.contains(['*', '>']) || t.contains(char::is_whitespace))
        {
            return Err(NatsError::Options(format!(
                "--results {prefix:?}: a subject prefix without wildcards (results.fleet)"
            )));
        }
        Ok(Self { opts, prefix })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Connects, subscribes to `PREFIX.>`, and hands on the table when it changed, at most
    /// every [`TABLE_INTERVAL`], until `tables` closes. With `link`, the connection's state
    /// goes there too (when the results are the session's only source).
    pub async fn run(
        self,
        link: Option<mpsc::Sender<SourceEvent>>,
        tables: mpsc::Sender<Arc<FleetTable>>,
    ) {
        let send_link = |state: LinkState| {
            let link = link.clone();
            async move {
                if let Some(link) = link {
                    let _ = link.send(SourceEvent::Link(state)).await;
                }
            }
        };
        send_link(LinkState::Connecting).await;
        let (notes_tx, mut notes) = mpsc::unbounded_channel();
        let connect = async_nats::ConnectOptions::new()
            .name("midstream-tui fleet")
            .max_reconnects(None)
            .retry_on_initial_connect()
            .event_callback(move |event| {
                let notes = notes_tx.clone();
                async move {
                    let _ = notes.send(event);
                }
            });
        let client = match with_credentials(connect, &self.opts).await {
            Ok(connect) => connect.connect(self.opts.url.as_str()).await,
            Err(e) => {
                send_link(LinkState::Failed {
                    reason: e.to_string(),
                })
                .await;
                return;
            }
        };
        let client = match client {
            Ok(client) => client,
            Err(e) => {
                send_link(LinkState::Failed {
                    reason: format!("cannot connect to {}: {e}", self.opts.url),
                })
                .await;
                return;
            }
        };
        let subject = format!("{}.>", self.prefix);
        let mut results = match client.subscribe(subject.clone()).await {
            Ok(results) => results,
            Err(e) => {
                send_link(LinkState::Failed {
                    reason: format!("cannot subscribe to {subject}: {e}"),
                })
                .await;
                return;
            }
        };
        if let async_nats::connection::State::Connected = client.connection_state() {
            send_link(LinkState::Connected {
                remote: self.opts.url.clone(),
            })
            .await;
        }
        let mut table = FleetTable::new(self.prefix.clone());
        let mut changed = true;
        let mut last_sent = Instant::now();
        let mut tick = tokio::time::interval(TABLE_INTERVAL);
        loop {
            tokio::select! {
                message = results.next() => {
                    let Some(message) = message else { return };
                    table.take(message.subject.as_str(), &message.payload, Instant::now());
                    changed = true;
                }
                Some(event) = notes.recv() => match event {
                    async_nats::Event::Connected => {
                        send_link(LinkState::Connected { remote: self.opts.url.clone() }).await;
                    }
                    async_nats::Event::Disconnected => {
                        send_link(LinkState::Reconnecting {
                            reason: format!("lost the connection to {}", self.opts.url),
                            attempt: 0,
                            delay: Duration::ZERO,
                        })
                        .await;
                    }
                    _ => {}
                },
                _ = tick.tick() => {
                    if changed || last_sent.elapsed() >= AGE_REFRESH {
                        changed = false;
                        last_sent = Instant::now();
                        table.taken_at = last_sent;
                        if tables.send(Arc::new(table.clone())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(channel: &str, analyzer: &str) -> FleetResult {
        FleetResult {
            channel: channel.to_owned(),
            analyzer: analyzer.to_owned(),
            samples: 1,
            lyapunov: None,
            class: None,
            correlation_dimension: None,
            verdicts: BTreeMap::new(),
            matches: Vec::new(),
            time: 0.0,
            subject: channel.to_owned(),
            stream_seq: 1,
        }
    }

    #[test]
    fn the_table_is_bounded_and_replaces_the_oldest_row() {
        let t0 = Instant::now();
        let mut table = FleetTable::new("r");
        for i in 0..MAX_FLEET_ROWS {
            table.insert(
                result(&format!("c{i}"), "a"),
                t0 + Duration::from_millis(i as u64),
            );
        }
        // c0 is refreshed: c1 is then the oldest.
        table.insert(result("c0", "b"), t0 + Duration::from_secs(60));
        table.insert(result("new", "b"), t0 + Duration::from_secs(61));
        assert_eq!(table.rows.len(), MAX_FLEET_ROWS);
        assert!(table.rows.contains_key("c0") && table.rows.contains_key("new"));
        assert!(!table.rows.contains_key("c1"));
        assert_eq!(table.evicted, 1);
        assert_eq!(table.analyzers()["b"], 2);
    }

    #[test]
    fn a_message_that_is_not_a_result_is_counted_with_its_subject() {
        let mut table = FleetTable::new("r");
        table.take("r.x", b"{\"channel\": 3}", Instant::now());
        table.take("r.y", b"not json", Instant::now());
        assert_eq!(table.bad_results, 2);
        assert!(
            table
                .latest_problem
                .as_deref()
                .unwrap()
                .starts_with("r.y: ")
        );
        assert!(table.rows.is_empty());
    }
}
