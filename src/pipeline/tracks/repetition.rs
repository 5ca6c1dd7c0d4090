//! Token-loop detection on text channels: one repetition detector per channel, fed by High
//! tasks.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::patterns::{MATCH_HISTORY, PATTERN_BUDGET};
use super::{Track, TrackRunner};
use crate::engines::temporal::repetition::{RepetitionConfig, RepetitionDetector};
use crate::model::{ChannelId, Record, Value};
use crate::pipeline::snapshot::RepetitionView;
use crate::scheduler::{TaskClass, TaskLabel};

/// The repetition detector of one text channel.
struct RepetitionTrack {
    detector: RepetitionDetector,
    inbox: VecDeque<String>,
    tokens: VecDeque<String>,
    found: Vec<(RepetitionView, Instant)>,
}

/// The repetition detectors of every text channel.
#[derive(Default)]
pub(super) struct RepetitionTracks {
    tracks: BTreeMap<ChannelId, Arc<Track<RepetitionTrack>>>,
}

impl RepetitionTracks {
    pub(super) fn add_channel(&mut self, channel: ChannelId) {
        if let Ok(detector) = RepetitionDetector::new(RepetitionConfig::default()) {
            self.tracks.insert(
                channel,
                Track::new(RepetitionTrack {
                    detector,
                    inbox: VecDeque::new(),
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
        track
            .lock()
            .inbox
            .extend(records.iter().filter_map(|r| match &r.value {
                Value::Token(t) => Some(t.clone()),
                _ => None,
            }));
        let name = name.to_owned();
        runner.schedule(
            track,
            TaskClass::High,
            TaskLabel::new("repetition", channel),
            PATTERN_BUDGET,
            move |t: &Track<RepetitionTrack>| detect_repetition(&mut t.lock(), channel, &name),
        );
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
fn detect_repetition(track: &mut RepetitionTrack, channel: ChannelId, name: &str) -> bool {
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
