//! Token-loop detection on text channels: one repetition detector per channel, fed by High
//! tasks.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::patterns::{INBOX_CAPACITY, MATCH_HISTORY, PATTERN_BUDGET};
use super::{Backlog, Track, TrackRunner};
use crate::engines::temporal::repetition::{RepetitionConfig, RepetitionDetector};
use crate::model::{ChannelId, Record, Value};
use crate::pipeline::snapshot::RepetitionView;
use crate::scheduler::{TaskClass, TaskLabel};

/// The repetition detector of one text channel.
struct RepetitionTrack {
    detector: RepetitionDetector,
    inbox: VecDeque<String>,
    /// Tokens shed from the inbox since the detector last ran: it restarts after them.
    skipped: bool,
    /// Tokens shed in all.
    shed: u64,
    tokens: VecDeque<String>,
    found: Vec<(RepetitionView, Instant)>,
}

/// The repetition detectors of every text channel.
pub(super) struct RepetitionTracks {
    tracks: BTreeMap<ChannelId, Arc<Track<RepetitionTrack>>>,
    backlog: Backlog,
}

impl RepetitionTracks {
    pub(super) fn new(backlog: Backlog) -> Self {
        Self {
            tracks: BTreeMap::new(),
            backlog,
        }
    }

    pub(super) fn add_channel(&mut self, channel: ChannelId) {
        if let Ok(detector) = RepetitionDetector::new(RepetitionConfig::default()) {
            self.tracks.insert(
                channel,
                Track::new(RepetitionTrack {
                    detector,
                    inbox: VecDeque::new(),
                    skipped: false,
                    shed: 0,
                    tokens: VecDeque::new(),
                    found: Vec::new(),
                }),
            );
        }
    }

    pub(super) fn remove(&mut self, channel: ChannelId) {
        self.tracks.remove(&channel);
    }

    pub(super) fn clear(&mut self) {
        self.tracks.clear();
    }

    /// Queues the batch's tokens for the channel's detector and schedules it; `name` is the
    /// channel's, for the views.
    pub(super) fn ingest(
        &self,
        runner: &TrackRunner,
        channel: ChannelId,
        name: &str,
        records: &[Record],
    ) {
        let Some(track) = self.tracks.get(&channel) else {
            return;
        };
        {
            let mut track = track.lock();
            track
                .inbox
                .extend(records.iter().filter_map(|r| match &r.value {
                    Value::Token(t) => Some(t.clone()),
                    _ => None,
                }));
            let over = track.inbox.len().saturating_sub(INBOX_CAPACITY);
            if over > 0 && self.backlog == Backlog::Shed {
                track.inbox.drain(..over);
                track.skipped = true;
                track.shed += over as u64;
            }
        }
        schedule_detector(runner, channel, name, track);
    }

    /// With [`Backlog::Wait`], whether an inbox is past its capacity; those detectors are
    /// scheduled again. `names` gives the channels' names.
    pub(super) fn backlogged(
        &self,
        runner: &TrackRunner,
        names: &BTreeMap<ChannelId, String>,
    ) -> bool {
        if self.backlog != Backlog::Wait {
            return false;
        }
        let mut backlogged = false;
        for (&channel, track) in &self.tracks {
            if track.lock().inbox.len() > INBOX_CAPACITY {
                backlogged = true;
                let name = names.get(&channel).map_or("", String::as_str);
                schedule_detector(runner, channel, name, track);
            }
        }
        backlogged
    }

    /// Tokens shed from the detectors' inboxes under load, over every channel.
    pub(super) fn shed(&self) -> u64 {
        self.tracks.values().map(|track| track.lock().shed).sum()
    }

    /// Recent repetition loops on text channels, newest first.
    pub(super) fn views(&self, now: Instant) -> Vec<RepetitionView> {
        let mut views: Vec<(Instant, RepetitionView)> = self
            .tracks
            .values()
            .flat_map(|track| {
                track
                    .lock()
                    .found
                    .iter()
                    .map(|(view, at)| {
                        let mut view = view.clone();
                        view.age = now.saturating_duration_since(*at);
                        (*at, view)
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        views.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        views.truncate(MATCH_HISTORY);
        views.into_iter().map(|(_, v)| v).collect()
    }
}

/// Feeds the inbox to the detector; true when a new loop was found.
/// Schedules the channel's detector over its inbox, unless a run is queued.
fn schedule_detector(
    runner: &TrackRunner,
    channel: ChannelId,
    name: &str,
    track: &Arc<Track<RepetitionTrack>>,
) {
    let name = name.to_owned();
    runner.schedule(
        track,
        TaskClass::High,
        TaskLabel::new("repetition", channel),
        PATTERN_BUDGET,
        move |t: &Track<RepetitionTrack>| detect_repetition(&mut t.lock(), channel, &name),
    );
}

fn detect_repetition(track: &mut RepetitionTrack, channel: ChannelId, name: &str) -> bool {
    if std::mem::take(&mut track.skipped) {
        // After a gap: a fresh detector, so no loop spans it.
        if let Ok(detector) = RepetitionDetector::new(track.detector.config()) {
            track.detector = detector;
            track.tokens.clear();
        }
    }
    let mut found = false;
    let window = track.detector.config().window;
    while let Some(token) = track.inbox.pop_front() {
        if track.tokens.len() == window {
            track.tokens.pop_front();
        }
        track.tokens.push_back(token.clone());
        if let Some(rep) = track.detector.push(&token) {
            // One alert per loop: a loop that goes on reports again only after a full period.
            let fresh = track
                .found
                .last()
                .is_none_or(|(last, _)| rep.window_start >= last.at_token + rep.period);
            if fresh {
                if track.found.len() == MATCH_HISTORY {
                    track.found.remove(0);
                }
                track.found.push((
                    RepetitionView {
                        channel,
                        channel_name: name.to_owned(),
                        tokens: track.tokens.iter().cloned().collect(),
                        lag: rep.period as usize,
                        distance: rep.edits,
                        at_token: rep.window_start,
                        age: Duration::ZERO,
                    },
                    Instant::now(),
                ));
                found = true;
            }
        }
    }
    found
}
