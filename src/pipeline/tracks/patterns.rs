//! Reference-pattern search on numeric channels: one streaming DTW search per pattern and
//! channel, fed by High tasks.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Track, TrackError, TrackRunner};
use crate::engines::temporal::search::{PatternMatch, SearchConfig, StreamingSearch};
use crate::model::{ChannelId, Record};
use crate::pipeline::library::{self, PatternSpec};
use crate::pipeline::snapshot::PatternMatchView;
use crate::scheduler::{TaskClass, TaskLabel};

/// Deadline budget of pattern and repetition search: a match should be visible within a few
/// frames.
pub(super) const PATTERN_BUDGET: Duration = Duration::from_millis(100);

/// Matches and repetitions kept for the Patterns pane.
pub(super) const MATCH_HISTORY: usize = 64;

/// A z-normalised window matches a pattern when its DTW (|a − b|) distance is at most this
/// much per query sample: z-normalised values have unit variance, so 0.25 per sample is a
/// close match in shape (about a quarter of a standard deviation off on average).
pub const MATCH_DISTANCE_PER_SAMPLE: f64 = 0.25;

/// Sakoe–Chiba band for pattern search, as a fraction of the pattern length (the 10% the
/// UCR suite uses).
pub const PATTERN_BAND_FRACTION: f64 = 0.1;

/// One pattern on one numeric channel.
struct PatternTrack {
    search: StreamingSearch,
    /// Samples the channel had before the search started (a pattern added while running):
    /// the search counts from 0, the channel from its first sample.
    offset: u64,
    inbox: VecDeque<(f64, u64)>,
    /// t_ns of the samples the search may still report as a match's end.
    times: VecDeque<u64>,
    found: Vec<(PatternMatch, u64, Instant)>,
}

/// A pattern's name and its track on one channel.
type NamedPatternTrack = (String, Arc<Track<PatternTrack>>);

/// The reference patterns and their searches on every numeric channel.
pub(super) struct PatternTracks {
    patterns: Vec<PatternSpec>,
    tracks: BTreeMap<ChannelId, Vec<NamedPatternTrack>>,
}

impl PatternTracks {
    /// Checks that the search takes every pattern; an error names the pattern.
    pub(super) fn new(patterns: Vec<PatternSpec>) -> Result<Self, TrackError> {
        for pattern in &patterns {
            StreamingSearch::new(&pattern.values, search_config(pattern.values.len())).map_err(
                |source| TrackError::Pattern {
                    name: pattern.name.clone(),
                    source,
                },
            )?;
        }
        Ok(Self {
            patterns,
            tracks: BTreeMap::new(),
        })
    }

    pub(super) fn names(&self) -> Vec<String> {
        self.patterns.iter().map(|p| p.name.clone()).collect()
    }

    /// Adds a pattern while running (see `Engines::add_pattern`).
    pub(super) fn add(
        &mut self,
        pattern: PatternSpec,
        samples_so_far: impl Fn(ChannelId) -> u64,
    ) -> Result<(), TrackError> {
        if self.patterns.iter().any(|p| p.name == pattern.name) {
            return Err(TrackError::PatternNameTaken(pattern.name));
        }
        library::check_pattern(&pattern.values)?;
        StreamingSearch::new(&pattern.values, search_config(pattern.values.len()))
            .map_err(TrackError::PatternSearch)?;
        for (channel, tracks) in &mut self.tracks {
            tracks.extend(pattern_track(&pattern, samples_so_far(*channel)));
        }
        self.patterns.push(pattern);
        Ok(())
    }

    /// Searches a new numeric channel for every pattern.
    pub(super) fn add_channel(&mut self, channel: ChannelId) {
        let tracks = self
            .patterns
            .iter()
            .filter_map(|p| pattern_track(p, 0))
            .collect();
        self.tracks.insert(channel, tracks);
    }

    pub(super) fn remove(&mut self, channel: ChannelId) {
        self.tracks.remove(&channel);
    }

    pub(super) fn clear(&mut self) {
        self.tracks.clear();
    }

    /// Queues the batch's numeric samples for each of the channel's searches and schedules
    /// them.
    pub(super) fn ingest(&self, runner: &TrackRunner, channel: ChannelId, records: &[Record]) {
        let Some(tracks) = self.tracks.get(&channel) else {
            return;
        };
        let samples: Vec<(f64, u64)> = records
            .iter()
            .filter_map(|r| r.value.as_f64().map(|x| (x, r.t_ns)))
            .collect();
        for (_, track) in tracks {
            track.lock().inbox.extend(samples.iter().copied());
            runner.schedule(
                track,
                TaskClass::High,
                TaskLabel::new("temporal", channel),
                PATTERN_BUDGET,
                |t| search_patterns(&mut t.lock()),
            );
        }
    }

    /// Recent pattern matches on every channel, newest first; `names` gives the channels'
    /// names.
    pub(super) fn views(
        &self,
        now: Instant,
        names: &BTreeMap<ChannelId, String>,
    ) -> Vec<PatternMatchView> {
        let mut views: Vec<(Instant, PatternMatchView)> = self
            .tracks
            .iter()
            .flat_map(|(channel, tracks)| {
                let channel_name = names.get(channel).cloned().unwrap_or_default();
                tracks.iter().flat_map(move |(pattern, track)| {
                    let channel_name = channel_name.clone();
                    let track = track.lock();
                    let offset = track.offset;
                    track
                        .found
                        .iter()
                        .map(|(m, t_ns, at)| {
                            (
                                *at,
                                PatternMatchView {
                                    pattern: pattern.clone(),
                                    channel: *channel,
                                    channel_name: channel_name.clone(),
                                    distance: m.distance,
                                    start_sample: m.start + offset,
                                    len: m.len,
                                    t_ns: *t_ns,
                                    age: now.saturating_duration_since(*at),
                                },
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        views.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        views.truncate(MATCH_HISTORY);
        views.into_iter().map(|(_, v)| v).collect()
    }
}

fn search_config(len: usize) -> SearchConfig {
    SearchConfig::with_band_fraction(
        len,
        PATTERN_BAND_FRACTION,
        MATCH_DISTANCE_PER_SAMPLE * len as f64,
    )
}

/// A search for `pattern` on one channel, named after the pattern (`None` if the search
/// refuses it, which [`PatternTracks::new`] and [`PatternTracks::add`] rule out).
fn pattern_track(pattern: &PatternSpec, offset: u64) -> Option<NamedPatternTrack> {
    let search = StreamingSearch::new(&pattern.values, search_config(pattern.values.len())).ok()?;
    Some((
        pattern.name.clone(),
        Track::new(PatternTrack {
            search,
            offset,
            inbox: VecDeque::new(),
            times: VecDeque::new(),
            found: Vec::new(),
        }),
    ))
}

/// Feeds the inbox to the search; true when a new match was found.
fn search_patterns(track: &mut PatternTrack) -> bool {
    let mut found = false;
    let keep = track.search.query_len() * 2;
    while let Some((x, t_ns)) = track.inbox.pop_front() {
        if track.times.len() == keep {
            track.times.pop_front();
        }
        track.times.push_back(t_ns);
        if let Some(m) = track.search.push(x) {
            if track.found.len() == MATCH_HISTORY {
                track.found.remove(0);
            }
            track.found.push((m, t_ns, Instant::now()));
            found = true;
        }
    }
    found
}
