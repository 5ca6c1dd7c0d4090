//! Messages of named subjects (NATS) turned into channels and records, with the text input's
//! record rules applied to each payload:
//!
//! - a JSON object is one record of the event channel named after the subject, and each of
//!   its numeric fields (flattened as in JSON lines) a record of the scalar channel
//!   `<subject>.<field>`: each subject has a [`RecordParser`] of its own;
//! - a bare number is a record of the scalar channel named after the subject;
//! - any other text is the tokens ([`tokenize`]) of the text channel named after the subject;
//! - a payload that starts like JSON (`{` or `[`) but is not a JSON object, or that is not
//!   UTF-8, is bad: skipped and counted ([`MessageStats::bad_messages`]). An empty one is
//!   skipped.
//!
//! A channel appears with its subject's first message of its kind. Names are unique across
//! subjects: a name already taken gets `_2`, `_3` (subject `a` with a field `b`, and subject
//! `a.b`).

use rustc_hash::FxHashMap;

use super::delimited::number;
use super::parser::{ParserOptions, RecordParser, tokenize};
use super::{Format, LineError};
use crate::model::{Catalog, ChannelId, ChannelInfo, ChannelKind, Record, Value};

/// What the parser has seen so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageStats {
    /// Messages taken, on every subject.
    pub messages: u64,
    /// Records produced, on every channel.
    pub records: u64,
    /// Messages skipped whole (not a JSON object though they start like one, not UTF-8).
    pub bad_messages: u64,
    /// Values of a JSON field whose type differs from the field's first one.
    pub type_changes: u64,
    /// Channels not made because the source had its limit.
    pub over_limit: u64,
    /// Records counted as missing ([`MessageParser::note_missed`]) and given to a channel.
    pub missed: u64,
}

/// One problem with one message: `sensors.a message 7: not a JSON object: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageProblem {
    pub subject: String,
    /// The message's number on its subject, counting from 1.
    pub message: u64,
    pub reason: String,
}

impl std::fmt::Display for MessageProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} message {}: {}",
            self.subject, self.message, self.reason
        )
    }
}

/// A subject's channels in the source's catalog.
#[derive(Default)]
struct SubjectChannels {
    /// Messages received on it.
    messages: u64,
    /// JSON objects: the subject's own parser and its channels' ids in the source's catalog,
    /// by the parser's ids.
    json: Option<(RecordParser, Vec<Option<ChannelId>>)>,
    /// Bare numbers: the scalar channel and its next `seq`.
    scalar: Option<(ChannelId, u64)>,
    /// Text: the text channel and its next `seq`.
    text: Option<(ChannelId, u64)>,
}

/// Turns messages into records, growing one catalog for all subjects. See the module doc.
pub struct MessageParser {
    catalog: Catalog,
    catalog_changed: bool,
    subjects: FxHashMap<String, SubjectChannels>,
    max_channels: usize,
    /// Records missed whose channel is not known yet (see [`MessageParser::note_missed`]).
    missed: u64,
    scratch: Vec<Record>,
    line_problems: Vec<LineError>,
    pub stats: MessageStats,
}

/// What kind of payload a message has.
enum Payload<'a> {
    Empty,
    Json(&'a str),
    Number(f64),
    Text(&'a str),
}

impl MessageParser {
    /// A parser for a source described as `source`, with at most `max_channels` channels.
    pub fn new(source: impl Into<String>, max_channels: usize) -> Self {
        Self {
            catalog: Catalog {
                source: source.into(),
                channels: Vec::new(),
            },
            catalog_changed: true,
            subjects: FxHashMap::default(),
            max_channels,
            missed: 0,
            scratch: Vec::new(),
            line_problems: Vec::new(),
            stats: MessageStats::default(),
        }
    }

    /// The channels so far.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The catalog when it changed since the last call (the first call always has it).
    pub fn take_catalog(&mut self) -> Option<Catalog> {
        std::mem::take(&mut self.catalog_changed).then(|| self.catalog.clone())
    }

    /// Counts `missed` messages that will never arrive (a JetStream stream's sequence jumped
    /// past messages removed before they were delivered). The server does not say on which
    /// subjects they were, so they count as a gap in the next message's main channel (its
    /// event, scalar or text channel) that already has records.
    pub fn note_missed(&mut self, missed: u64) {
        self.missed += missed;
    }

    /// Parses one message of `subject`, stamped `t_ns`, appending its records to `out` and
    /// what was wrong with it to `problems`.
    pub fn parse(
        &mut self,
        subject: &str,
        payload: &[u8],
        t_ns: u64,
        out: &mut Vec<Record>,
        problems: &mut Vec<MessageProblem>,
    ) {
        self.stats.messages += 1;
        let before = out.len();
        if !self.subjects.contains_key(subject) {
            self.subjects
                .insert(subject.to_owned(), SubjectChannels::default());
        }
        let message_no = {
            let Some(channels) = self.subjects.get_mut(subject) else {
                return;
            };
            channels.messages += 1;
            channels.messages
        };
        let payload = match std::str::from_utf8(payload) {
            Ok(text) => classify(text),
            Err(e) => {
                self.bad(
                    problems,
                    subject,
                    message_no,
                    format!("not valid UTF-8 (byte {})", e.valid_up_to() + 1),
                );
                return;
            }
        };
        match payload {
            Payload::Empty => {}
            Payload::Json(text) => self.json(subject, message_no, text, t_ns, out, problems),
            Payload::Number(x) => {
                if let Some(id) = self.own_channel(subject, ChannelKind::Scalar, problems) {
                    let seq = self.next_seq(subject, ChannelKind::Scalar);
                    out.push(Record {
                        channel: id,
                        seq,
                        t_ns,
                        value: Value::Scalar(x),
                    });
                }
            }
            Payload::Text(text) => {
                if let Some(id) = self.own_channel(subject, ChannelKind::Text, problems) {
                    for token in tokenize(text) {
                        let seq = self.next_seq(subject, ChannelKind::Text);
                        out.push(Record {
                            channel: id,
                            seq,
                            t_ns,
                            value: Value::Token(token.to_owned()),
                        });
                    }
                }
            }
        }
        self.stats.records += (out.len() - before) as u64;
    }

    fn bad(
        &mut self,
        problems: &mut Vec<MessageProblem>,
        subject: &str,
        message: u64,
        reason: String,
    ) {
        self.stats.bad_messages += 1;
        problems.push(MessageProblem {
            subject: subject.to_owned(),
            message,
            reason,
        });
    }

    /// A JSON object, through the subject's own record parser; its channels are mapped into
    /// the source's catalog and its records to their ids there.
    fn json(
        &mut self,
        subject: &str,
        message_no: u64,
        text: &str,
        t_ns: u64,
        out: &mut Vec<Record>,
        problems: &mut Vec<MessageProblem>,
    ) {
        let max_channels = self.max_channels;
        let Some(channels) = self.subjects.get_mut(subject) else {
            return;
        };
        let (parser, ids) = channels.json.get_or_insert_with(|| {
            let parser = RecordParser::new(ParserOptions {
                format: Format::Jsonl,
                name: subject.to_owned(),
                time_field: None,
                text_field: None,
                max_channels,
            })
            .with_field_prefix();
            (parser, Vec::new())
        });
        // The missed records go to the event channel once it has had a record.
        let has_events =
            ids.first().is_some_and(Option::is_some) && parser.stats.records > 0 && self.missed > 0;
        let missed = if has_events {
            std::mem::take(&mut self.missed)
        } else {
            0
        };
        parser.skip_events(missed);
        let bad_before = parser.stats.bad_lines;
        let types_before = parser.stats.type_changed();
        let mut scratch = std::mem::take(&mut self.scratch);
        let mut line_problems = std::mem::take(&mut self.line_problems);
        // Multi-line JSON is one message: the parser takes it as one line.
        let _ = parser.parse_line(message_no, text, t_ns, &mut scratch, &mut line_problems);
        let bad = parser.stats.bad_lines - bad_before;
        let type_changes = parser.stats.type_changed() - types_before;
        let local = parser.take_catalog();
        let mut ids = std::mem::take(ids);
        if let Some(local) = local {
            for info in &local.channels {
                let index = info.id as usize;
                if ids.len() <= index {
                    ids.resize(index + 1, None);
                }
                match ids[index] {
                    Some(id) => {
                        let global = &mut self.catalog.channels[id as usize];
                        if global.kind != info.kind || global.period_s != info.period_s {
                            global.kind = info.kind.clone();
                            global.period_s = info.period_s;
                            self.catalog_changed = true;
                        }
                    }
                    None => ids[index] = self.add_channel(&info.name, info.kind.clone(), problems),
                }
            }
        }
        for mut record in scratch.drain(..) {
            if let Some(Some(id)) = ids.get(record.channel as usize) {
                record.channel = *id;
                out.push(record);
            }
        }
        // Given to the event channel even when this message was bad: its next record shows them.
        self.stats.missed += missed;
        if let Some(channels) = self.subjects.get_mut(subject)
            && let Some((_, slot)) = &mut channels.json
        {
            *slot = ids;
        }
        self.stats.bad_messages += bad;
        self.stats.type_changes += type_changes;
        for problem in line_problems.drain(..) {
            problems.push(MessageProblem {
                subject: subject.to_owned(),
                message: message_no,
                reason: problem.message,
            });
        }
        self.scratch = scratch;
        self.line_problems = line_problems;
    }

    /// The subject's scalar or text channel, made when it is new (`None` at the limit).
    fn own_channel(
        &mut self,
        subject: &str,
        kind: ChannelKind,
        problems: &mut Vec<MessageProblem>,
    ) -> Option<ChannelId> {
        let channels = self.subjects.get(subject)?;
        let existing = match kind {
            ChannelKind::Scalar => channels.scalar,
            _ => channels.text,
        };
        if let Some((id, _)) = existing {
            return Some(id);
        }
        let id = self.add_channel(subject, kind.clone(), problems)?;
        let channels = self.subjects.get_mut(subject)?;
        match kind {
            ChannelKind::Scalar => channels.scalar = Some((id, 0)),
            _ => channels.text = Some((id, 0)),
        }
        Some(id)
    }

    /// The next `seq` of the subject's scalar or text channel; the missed records noted so
    /// far go to it when it has had records.
    fn next_seq(&mut self, subject: &str, kind: ChannelKind) -> u64 {
        let Some(channels) = self.subjects.get_mut(subject) else {
            return 0;
        };
        let slot = match kind {
            ChannelKind::Scalar => &mut channels.scalar,
            _ => &mut channels.text,
        };
        let Some((_, seq)) = slot else {
            return 0;
        };
        if *seq > 0 && self.missed > 0 {
            *seq += self.missed;
            self.stats.missed += std::mem::take(&mut self.missed);
        }
        let this = *seq;
        *seq += 1;
        this
    }

    fn add_channel(
        &mut self,
        name: &str,
        kind: ChannelKind,
        problems: &mut Vec<MessageProblem>,
    ) -> Option<ChannelId> {
        if self.catalog.channels.len() >= self.max_channels {
            if self.stats.over_limit == 0 {
                problems.push(MessageProblem {
                    subject: name.to_owned(),
                    message: 0,
                    reason: format!(
                        "no channel for {name:?}: the source has its limit of {} channels",
                        self.max_channels
                    ),
                });
            }
            self.stats.over_limit += 1;
            return None;
        }
        let taken = |candidate: &str, catalog: &Catalog| {
            catalog.channels.iter().any(|c| c.name == candidate)
        };
        let mut unique = name.to_owned();
        let mut suffix = 1;
        while taken(&unique, &self.catalog) {
            suffix += 1;
            unique = format!("{name}_{suffix}");
        }
        let id = self.catalog.channels.len() as ChannelId;
        self.catalog.channels.push(ChannelInfo {
            id,
            name: unique,
            kind,
            unit: None,
            period_s: None,
        });
        self.catalog_changed = true;
        Some(id)
    }
}

/// JSON when it starts like JSON (an object or an array: the latter is bad), a number when
/// it is one, else text.
fn classify(text: &str) -> Payload<'_> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Payload::Empty
    } else if trimmed.starts_with('{') || trimmed.starts_with('[') {
        Payload::Json(trimmed)
    } else if let Some(x) = number(trimmed) {
        Payload::Number(x)
    } else {
        Payload::Text(trimmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &MessageParser) -> Vec<&str> {
        p.catalog().names().collect()
    }

    #[test]
    fn json_numbers_and_text_become_channels_of_their_subject() {
        let mut p = MessageParser::new("nats", 4096);
        let mut out = Vec::new();
        let mut problems = Vec::new();
        p.parse(
            "sensors.a",
            br#"{"temp":21.5,"ok":true}"#,
            1,
            &mut out,
            &mut problems,
        );
        p.parse("sensors.b", b"42", 2, &mut out, &mut problems);
        p.parse("log", b"disk full, retrying", 3, &mut out, &mut problems);
        p.parse("sensors.a", br#"{"temp":22}"#, 4, &mut out, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            names(&p),
            ["sensors.a", "sensors.a.temp", "sensors.b", "log"]
        );
        let temp: Vec<(u64, f64)> = out
            .iter()
            .filter(|r| r.channel == 1)
            .map(|r| (r.seq, r.value.as_f64().unwrap()))
            .collect();
        assert_eq!(temp, [(0, 21.5), (1, 22.0)]);
        let tokens: Vec<&str> = out
            .iter()
            .filter_map(|r| match &r.value {
                Value::Token(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(tokens, ["disk", "full", ",", "retrying"]);
        assert_eq!(p.stats.records, out.len() as u64);
    }

    #[test]
    fn a_payload_that_starts_like_json_but_does_not_parse_is_counted() {
        let mut p = MessageParser::new("nats", 4096);
        let mut out = Vec::new();
        let mut problems = Vec::new();
        p.parse("s", br#"{"x":1"#, 0, &mut out, &mut problems);
        p.parse("s", b"[1,2]", 0, &mut out, &mut problems);
        p.parse("s", b"\xff\xfe", 0, &mut out, &mut problems);
        p.parse("s", br#"{"x":2}"#, 0, &mut out, &mut problems);
        assert_eq!(p.stats.bad_messages, 3);
        let messages: Vec<u64> = problems.iter().map(|e| e.message).collect();
        assert_eq!(messages, [1, 2, 3]);
        assert!(
            problems[0]
                .to_string()
                .starts_with("s message 1: not a JSON object")
        );
        assert_eq!(names(&p), ["s", "s.x"]);
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn missed_records_are_a_gap_in_the_next_channel_that_has_records() {
        let mut p = MessageParser::new("nats", 4096);
        let mut out = Vec::new();
        let mut problems = Vec::new();
        p.parse("n", b"1", 0, &mut out, &mut problems);
        p.note_missed(3);
        // A new subject's first record cannot carry a gap: it waits for the next one.
        p.parse("m", b"1", 0, &mut out, &mut problems);
        p.parse("n", b"2", 0, &mut out, &mut problems);
        let n: Vec<u64> = out
            .iter()
            .filter(|r| r.channel == 0)
            .map(|r| r.seq)
            .collect();
        assert_eq!(n, [0, 4]);
        assert_eq!(p.stats.missed, 3);
    }

    #[test]
    fn names_stay_unique_across_subjects() {
        let mut p = MessageParser::new("nats", 4096);
        let mut out = Vec::new();
        let mut problems = Vec::new();
        p.parse("a", br#"{"b":1}"#, 0, &mut out, &mut problems);
        p.parse("a.b", b"2", 0, &mut out, &mut problems);
        assert_eq!(names(&p), ["a", "a.b", "a.b_2"]);
    }
}
