//! Who analyses which channel: leases held in a JetStream key-value bucket, so that analyzers of
//! one group (`analyzer --group NAME`) share the channels, each channel on exactly one of them
//! at a time, with no coordinator besides the NATS server.
//!
//! The bucket (`midstream_<group>_leases`, made by the first analyzer) holds two kinds of keys:
//!
//! - `m.<analyzer>`: a member's heartbeat, written every [`RENEW_EVERY`];
//! - `c.<subject>`: the lease of one subject's channels, a [`LeaseValue`]: its holder, and the
//!   stream sequence number and sample count it had analysed when it last renewed.
//!
//! Every change is a compare-and-set on the key's revision (the key-value store's `create`
//! and `update`), so of two analyzers that claim one channel, one wins. Every analyzer watches
//! the whole bucket; a lease or heartbeat that it has not seen renewed for [`LEASE_TTL`] (by
//! its own clock, so the machines' clocks need not agree) is expired, and its channel may be
//! claimed with the revision last seen: if the holder renewed meanwhile, the claim fails.
//! A holder whose renewal fails has lost the channel and stops analysing it.
//!
//! Balance: an analyzer claims free channels up to its fair share (the channels seen, divided
//! by the members alive, rounded up), and releases what it holds beyond it (the lease's holder
//! becomes empty, so another takes it at once). A channel free for longer than [`LEASE_TTL`]
//! is claimed by anyone, so that no channel stays unanalysed while the members' views differ.
//!
//! [`LeaseBook`] is the policy alone (no I/O, tested below); [`LeaseBucket`] does the
//! key-value operations.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use async_nats::jetstream::kv;
use serde::{Deserialize, Serialize};

/// How long a lease or a heartbeat lasts without renewal: a dead analyzer's channels move to
/// the others about this long after its last renewal (the issue asks for "a few seconds",
/// the test for well inside 10 s).
pub const LEASE_TTL: Duration = Duration::from_secs(3);

/// How often a holder renews its leases and its heartbeat: three renewals per TTL, so one late
/// or lost renewal does not lose the channel.
pub const RENEW_EVERY: Duration = Duration::from_secs(1);

/// After releasing a channel (rebalancing), an analyzer leaves it to the others this long.
const RELEASE_HOLD: Duration = Duration::from_secs(10);

/// How long a key is kept after its last write: channels that stopped (and members that
/// left) vanish from the bucket after this, which bounds it.
const KEY_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// A channel lease as stored: who holds it and how far it got. An empty `analyzer` is a lease
/// released for another to take.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseValue {
    pub analyzer: String,
    /// Stream sequence number of the last message of the subject analysed (0: none).
    pub seq: u64,
    /// Samples of the subject's main channel analysed so far, by every holder.
    pub samples: u64,
}

/// The latest state of one key seen in the bucket.
#[derive(Debug, Clone)]
struct SeenLease {
    value: LeaseValue,
    revision: u64,
    /// When this revision was seen (our clock).
    seen: Instant,
    /// The key was deleted or purged.
    deleted: bool,
}

/// What the policy asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAction {
    /// Take the subject's lease: `create` when `revision` is `None`, else `update` at it.
    /// `previous` is the lease as last seen (where the new holder goes on from).
    Claim {
        subject: String,
        revision: Option<u64>,
        previous: Option<LeaseValue>,
    },
    /// Give the subject's lease up (rebalancing).
    Release { subject: String, revision: u64 },
}

/// The lease policy of one analyzer: what it has seen of the bucket and of the stream, and
/// what it holds. Bounded by the channels seen (the source's channel limit) and the members.
#[derive(Debug)]
pub struct LeaseBook {
    me: String,
    started: Instant,
    ttl: Duration,
    /// Latest entry per subject lease.
    leases: BTreeMap<String, SeenLease>,
    /// Latest heartbeat seen per member.
    members: BTreeMap<String, Instant>,
    /// Subjects seen in the stream, with when first seen.
    known: BTreeMap<String, Instant>,
    /// Subjects this analyzer holds, at the revision of its last write.
    owned: BTreeMap<String, u64>,
    /// Subjects this analyzer released, and when.
    released: BTreeMap<String, Instant>,
}

impl LeaseBook {
    pub fn new(me: impl Into<String>, now: Instant) -> Self {
        Self::with_ttl(me, now, LEASE_TTL)
    }

    pub fn with_ttl(me: impl Into<String>, now: Instant, ttl: Duration) -> Self {
        Self {
            me: me.into(),
            started: now,
            ttl,
            leases: BTreeMap::new(),
            members: BTreeMap::new(),
            known: BTreeMap::new(),
            owned: BTreeMap::new(),
            released: BTreeMap::new(),
        }
    }

    pub fn me(&self) -> &str {
        &self.me
    }

    /// A subject seen in the stream; true when it is new.
    pub fn note_subject(&mut self, subject: &str, now: Instant) -> bool {
        if self.known.contains_key(subject) {
            return false;
        }
        self.known.insert(subject.to_owned(), now);
        true
    }

    pub fn owns(&self, subject: &str) -> bool {
        self.owned.contains_key(subject)
    }

    pub fn owned(&self) -> impl Iterator<Item = (&str, u64)> {
        self.owned.iter().map(|(s, r)| (s.as_str(), *r))
    }

    pub fn owned_count(&self) -> usize {
        self.owned.len()
    }

    /// Members alive now (this one included).
    pub fn members_alive(&self, now: Instant) -> usize {
        1 + self
            .members
            .iter()
            .filter(|(id, seen)| **id != self.me && now.duration_since(**seen) < self.ttl)
            .count()
    }

    /// A heartbeat seen in the bucket.
    pub fn observe_member(&mut self, id: &str, now: Instant) {
        self.members.insert(id.to_owned(), now);
    }

    /// A channel lease seen in the bucket (a put, or a delete when `value` is `None`). A lease
    /// of ours taken over by another (a later revision naming someone else) is lost.
    pub fn observe_lease(
        &mut self,
        subject: &str,
        value: Option<LeaseValue>,
        revision: u64,
        now: Instant,
    ) {
        if let Some(seen) = self.leases.get(subject)
            && seen.revision >= revision
        {
            return;
        }
        let deleted = value.is_none();
        let value = value.unwrap_or_default();
        if value.analyzer != self.me {
            self.owned.remove(subject);
        }
        self.leases.insert(
            subject.to_owned(),
            SeenLease {
                value,
                revision,
                seen: now,
                deleted,
            },
        );
    }

    /// Our claim or renewal of `subject` was written at `revision`.
    pub fn wrote(&mut self, subject: &str, value: LeaseValue, revision: u64, now: Instant) {
        self.owned.insert(subject.to_owned(), revision);
        self.released.remove(subject);
        let newer = self
            .leases
            .get(subject)
            .is_none_or(|seen| seen.revision < revision);
        if newer {
            self.leases.insert(
                subject.to_owned(),
                SeenLease {
                    value,
                    revision,
                    seen: now,
                    deleted: false,
                },
            );
        }
    }

    /// Our renewal or claim of `subject` failed: another holds it now.
    pub fn lost(&mut self, subject: &str) {
        self.owned.remove(subject);
    }

    /// We released `subject`.
    pub fn released(&mut self, subject: &str, now: Instant) {
        self.owned.remove(subject);
        self.released.insert(subject.to_owned(), now);
    }

    /// The analyzers' fair share: the channels seen divided by the members alive, rounded up.
    pub fn fair_share(&self, now: Instant) -> usize {
        self.known.len().div_ceil(self.members_alive(now))
    }

    /// What to claim and release now. Nothing in the first [`RENEW_EVERY`] after starting,
    /// so that the other members' heartbeats are seen before taking a share.
    pub fn plan(&self, now: Instant) -> Vec<LeaseAction> {
        let mut actions = Vec::new();
        if now.duration_since(self.started) < RENEW_EVERY {
            return actions;
        }
        let fair = self.fair_share(now);
        let mut held = self.owned.len();
        for (subject, first_seen) in &self.known {
            if self.owned.contains_key(subject) {
                continue;
            }
            let seen = self.leases.get(subject);
            // Free since when: never leased (since first seen), released or deleted (since
            // then), or expired (its last renewal plus the TTL).
            let free_since = match seen {
                None => Some(*first_seen),
                Some(s) if s.deleted || s.value.analyzer.is_empty() => Some(s.seen),
                Some(s) if now.duration_since(s.seen) >= self.ttl => Some(s.seen + self.ttl),
                Some(_) => None,
            };
            let Some(free_since) = free_since else {
                continue;
            };
            let recently_released = self
                .released
                .get(subject)
                .is_some_and(|at| now.duration_since(*at) < RELEASE_HOLD);
            let long_free = now.saturating_duration_since(free_since) >= self.ttl;
            if (held < fair && !recently_released) || long_free {
                actions.push(LeaseAction::Claim {
                    subject: subject.clone(),
                    revision: seen.map(|s| s.revision),
                    previous: seen.map(|s| s.value.clone()),
                });
                held += 1;
            }
        }
        if held > fair && self.owned.len() > fair {
            // The ones held longest stay; the last in name order go.
            let excess = self.owned.len() - fair;
            for (subject, revision) in self.owned.iter().rev().take(excess) {
                actions.push(LeaseAction::Release {
                    subject: subject.clone(),
                    revision: *revision,
                });
            }
        }
        actions
    }
}

/// A key of the bucket for a subject or a member id: characters a key may not hold
/// (anything but letters, digits, `-`, `_`, `/`, `.`) and `=` itself are written `=XX`
/// (hexadecimal), so that every subject has its key and back.
pub fn encode_key(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'/' | b'.' => {
                key.push(byte as char);
            }
            _ => key.push_str(&format!("={byte:02X}")),
        }
    }
    key
}

/// The text of [`encode_key`]'s key; `None` when it is not one.
pub fn decode_key(key: &str) -> Option<String> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = key.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A name made of what bucket and stream names may hold (letters, digits, `-`, `_`).
pub fn name_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A change seen in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketEntry {
    Member(String),
    Lease {
        subject: String,
        value: Option<LeaseValue>,
        revision: u64,
    },
}

/// The group's bucket.
#[derive(Clone)]
pub struct LeaseBucket {
    store: kv::Store,
}

impl LeaseBucket {
    /// The bucket's name for a group.
    pub fn name(group: &str) -> String {
        format!("midstream_{}_leases", name_part(group))
    }

    /// Opens the group's bucket, making it when it is missing (in memory: leases are worth
    /// nothing after a restart of the server, and a cluster keeps `replicas` copies).
    pub async fn open(
        context: &jetstream::Context,
        group: &str,
        replicas: usize,
    ) -> Result<Self, String> {
        let bucket = Self::name(group);
        if let Ok(store) = context.get_key_value(&bucket).await {
            return Ok(Self { store });
        }
        // The bucket's stream as the key-value store's conventions have it (what the
        // client's `create_key_value` makes; that one first asks for the account's
        // information, whose answer from a 2.9 server this client cannot read).
        let config = jetstream::stream::Config {
            name: format!("KV_{bucket}"),
            description: Some("midstream analyzers' channel leases".to_owned()),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            max_age: KEY_MAX_AGE,
            storage: jetstream::stream::StorageType::Memory,
            num_replicas: replicas,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: jetstream::stream::DiscardPolicy::New,
            ..jetstream::stream::Config::default()
        };
        let created = context.get_or_create_stream(config).await;
        // Made here, or by another analyzer at the same moment.
        context
            .get_key_value(&bucket)
            .await
            .map(|store| Self { store })
            .map_err(|e| match created {
                Err(create) => format!("cannot make the key-value bucket {bucket}: {create}"),
                Ok(_) => format!("cannot open the key-value bucket {bucket}: {e}"),
            })
    }

    /// Every key's latest value, then every change.
    pub async fn watch(
        &self,
    ) -> Result<impl futures_util::Stream<Item = Result<BucketEntry, String>> + use<>, String> {
        use futures_util::StreamExt;
        let watch = self
            .store
            .watch_with_history(">")
            .await
            .map_err(|e| format!("cannot watch the lease bucket: {e}"))?;
        Ok(watch.filter_map(|entry| async move {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => return Some(Err(e.to_string())),
            };
            parse_entry(&entry).map(Ok)
        }))
    }

    /// Writes this member's heartbeat.
    pub async fn heartbeat(&self, me: &str) -> Result<(), String> {
        self.store
            .put(format!("m.{}", encode_key(me)), me.to_owned().into())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Writes `value` to `subject`'s lease: created when `revision` is `None`, else updated at
    /// that revision. The new revision, or why not (another holds it).
    pub async fn write(
        &self,
        subject: &str,
        value: &LeaseValue,
        revision: Option<u64>,
    ) -> Result<u64, String> {
        let key = format!("c.{}", encode_key(subject));
        let payload: Vec<u8> = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        match revision {
            None => self
                .store
                .create(key, payload.into())
                .await
                .map_err(|e| e.to_string()),
            Some(revision) => self
                .store
                .update(key, payload.into(), revision)
                .await
                .map_err(|e| e.to_string()),
        }
    }
}

fn parse_entry(entry: &kv::Entry) -> Option<BucketEntry> {
    if let Some(member) = entry.key.strip_prefix("m.") {
        return match entry.operation {
            kv::Operation::Put => Some(BucketEntry::Member(decode_key(member)?)),
            _ => None,
        };
    }
    let subject = decode_key(entry.key.strip_prefix("c.")?)?;
    let value = match entry.operation {
        kv::Operation::Put => Some(serde_json::from_slice(&entry.value).ok()?),
        kv::Operation::Delete | kv::Operation::Purge => None,
    };
    Some(BucketEntry::Lease {
        subject,
        value,
        revision: entry.revision,
    })
}

/// Claims, releases and renewals apply to this many subjects at once at most.
pub const MAX_LEASE_BATCH: usize = 256;

/// The subjects in a plan's claims and releases, for logs.
pub fn subjects(actions: &[LeaseAction]) -> BTreeSet<&str> {
    actions
        .iter()
        .map(|a| match a {
            LeaseAction::Claim { subject, .. } | LeaseAction::Release { subject, .. } => {
                subject.as_str()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(analyzer: &str) -> Option<LeaseValue> {
        Some(LeaseValue {
            analyzer: analyzer.to_owned(),
            seq: 10,
            samples: 5,
        })
    }

    fn claims(actions: &[LeaseAction]) -> Vec<&str> {
        actions
            .iter()
            .filter_map(|a| match a {
                LeaseAction::Claim { subject, .. } => Some(subject.as_str()),
                LeaseAction::Release { .. } => None,
            })
            .collect()
    }

    #[test]
    fn keys_round_trip_every_subject() {
        for subject in ["in.c07", "a.b-c_d", "odd:subj=ect", "ünï"] {
            let key = encode_key(subject);
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_/.=".contains(&b)),
                "{key}"
            );
            assert_eq!(decode_key(&key).as_deref(), Some(subject));
        }
        assert_eq!(encode_key("a:b"), "a=3Ab");
        assert_eq!(decode_key("a=zz"), None);
        assert_eq!(name_part("my.group 1"), "my_group_1");
    }

    #[test]
    fn nothing_is_claimed_before_the_members_are_seen() {
        let t0 = Instant::now();
        let mut book = LeaseBook::new("a", t0);
        book.note_subject("in.1", t0);
        assert!(book.plan(t0).is_empty());
        assert_eq!(claims(&book.plan(t0 + RENEW_EVERY)), ["in.1"]);
    }

    #[test]
    fn two_members_take_half_each() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(2);
        let mut book = LeaseBook::new("a", t0);
        book.observe_member("b", now);
        for i in 0..20 {
            book.note_subject(&format!("in.{i:02}"), t0);
        }
        assert_eq!(book.fair_share(now), 10);
        // Never leased, free since t0: under its share, "a" claims ten.
        let actions = book.plan(t0 + RENEW_EVERY);
        assert_eq!(claims(&actions).len(), 10);
        // "b" takes the other ten meanwhile: they are held, not claimed.
        for i in 10..20 {
            book.observe_lease(&format!("in.{i:02}"), lease("b"), 100 + i, now);
        }
        for (i, subject) in ["in.00", "in.01"].iter().enumerate() {
            book.wrote(subject, lease("a").unwrap(), 200 + i as u64, now);
        }
        let actions = book.plan(now);
        assert_eq!(claims(&actions).len(), 8, "{actions:?}");
        assert!(claims(&actions).iter().all(|s| *s < "in.10"));
    }

    #[test]
    fn a_dead_members_leases_expire_and_move() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(2);
        let mut book = LeaseBook::new("a", t0);
        book.observe_member("b", now);
        book.note_subject("in.1", t0);
        book.note_subject("in.2", t0);
        book.wrote("in.1", lease("a").unwrap(), 1, now);
        book.observe_lease("in.2", lease("b"), 2, now);
        assert!(book.plan(now).is_empty());
        // Not renewed for the TTL: "b" is dead; its lease is claimed at its last revision,
        // carrying on from its sequence number.
        let later = now + LEASE_TTL;
        assert_eq!(book.members_alive(later), 1);
        assert_eq!(
            book.plan(later),
            [LeaseAction::Claim {
                subject: "in.2".to_owned(),
                revision: Some(2),
                previous: lease("b"),
            }]
        );
        // Renewed just before: held.
        book.observe_lease("in.2", lease("b"), 3, later - Duration::from_millis(10));
        assert!(book.plan(later).is_empty());
    }

    #[test]
    fn a_lease_taken_over_is_lost_and_an_old_revision_changes_nothing() {
        let t0 = Instant::now();
        let mut book = LeaseBook::new("a", t0);
        book.note_subject("in.1", t0);
        book.wrote("in.1", lease("a").unwrap(), 5, t0);
        book.observe_lease("in.1", lease("a"), 4, t0);
        assert!(book.owns("in.1"));
        book.observe_lease("in.1", lease("b"), 6, t0);
        assert!(!book.owns("in.1"));
    }

    #[test]
    fn a_member_over_its_share_releases_the_excess_and_leaves_it() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(2);
        let mut book = LeaseBook::new("a", t0);
        for i in 0..4 {
            let subject = format!("in.{i}");
            book.note_subject(&subject, t0);
            book.wrote(&subject, lease("a").unwrap(), i + 1, t0);
        }
        book.observe_member("b", now);
        let actions = book.plan(now);
        assert_eq!(
            actions,
            [
                LeaseAction::Release {
                    subject: "in.3".to_owned(),
                    revision: 4
                },
                LeaseAction::Release {
                    subject: "in.2".to_owned(),
                    revision: 3
                },
            ]
        );
        book.released("in.3", now);
        book.released("in.2", now);
        book.observe_lease("in.3", lease(""), 7, now);
        book.observe_lease("in.2", lease(""), 8, now);
        // Released ones are left to "b"; if nobody takes them for the TTL, "a" does.
        assert!(claims(&book.plan(now)).is_empty());
        assert_eq!(claims(&book.plan(now + LEASE_TTL)), ["in.2", "in.3"]);
    }
}
