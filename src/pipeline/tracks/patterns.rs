//! Reference-pattern search on numeric channels: one streaming DTW search per pattern and
//! channel, fed by High tasks.

use std::collections::{BTreeMap, BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{Backlog, Track, TrackError, TrackRunner};
use crate::engines::temporal::search::{PatternMatch, SearchConfig, StreamingSearch};
use crate::model::{ChannelId, Record};
use crate::pipeline::library::{self, PatternSpec};
use crate::pipeline::snapshot::PatternMatchView;
use crate::scheduler::{TaskClass, TaskLabel};

/// Deadline budget of pattern and repetition search: a match should be visible within a few
/// frames.
pub(super) const PATTERN_BUDGET: Duration = Duration::from_millis(100);

/// Matches and repetitions kept for the Patterns pane.
pub const MATCH_HISTORY: usize = 64;

/// Most samples (or tokens) a search's inbox holds. When the searches fall this far behind
/// (more channels and patterns than the cores can search), the oldest waiting samples are
/// shed, counted, and the search starts again after the gap, so no match spans it.
///
/// 2,048 samples of 16 bytes: 32 KiB per pattern and channel, 128 MiB at most for 1,000
/// channels and the 4 built-in patterns.
pub(super) const INBOX_CAPACITY: usize = 2048;

/// A z-normalised window matches a pattern when its DTW (|a − b|) distance is at most this
/// much per query sample: z-normalised values have unit variance, so 0.25 per sample is a
/// close match in shape (about a quarter of a standard deviation off on average).
pub const MATCH_DISTANCE_PER_SAMPLE: f64 = 0.25;

/// Sakoe–Chiba band for pattern search, as a fraction of the pattern length (the 10% the
/// UCR suite uses).
pub const PATTERN_BAND_FRACTION: f64 = 0.1;

/// One pattern on one numeric channel.
struct PatternTrack {
    /// The pattern's values, to start the search again after a gap.
    query: Arc<[f64]>,
    search: StreamingSearch,
    /// Samples the channel had before the search started (a pattern added while running):
    /// the search counts from 0, the channel from its first sample.
    offset: u64,
    /// Shared with the pipeline, which appends to it without waiting for a running search.
    inbox: Arc<Mutex<Inbox>>,
    /// t_ns of the samples the search may still report as a match's end.
    times: VecDeque<u64>,
    /// The match threshold in force (learnt, or the fixed default), kept for restarts.
    threshold: f64,
    /// Samples taken from the inbox so far, shed ones included: where the queued changes
    /// ([`Inbox::changes`]) apply.
    consumed: u64,
    /// The search was retired: it takes no more samples.
    stopped: bool,
}

/// A change to a running search, applied at an exact sample so that the matches do not
/// depend on when the search task runs.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SearchChange {
    Threshold(f64),
    Stop,
}

/// What the pipeline and a search share, behind a lock of its own that neither holds for
/// long: samples waiting for the search (the pipeline appends, a task takes them all) and the
/// matches found (a task adds, the snapshot reads).
#[derive(Default)]
struct Inbox {
    samples: VecDeque<(f64, u64)>,
    /// Samples shed since the search last ran: it restarts after them.
    skipped: u64,
    /// Samples shed in all.
    shed: u64,
    /// The latest matches, their start counted in the channel's samples, with the time stamp
    /// of their last sample and when they were found.
    found: VecDeque<(PatternMatch, u64, Instant)>,
    /// Samples ever queued (shed ones included).
    queued: u64,
    /// Changes to apply before the sample of that queued count.
    changes: VecDeque<(u64, SearchChange)>,
    /// Keep every match instead of the newest [`MATCH_HISTORY`] (`replay --headless
    /// --all-matches`: a finite trace, so the matches are bounded by its length).
    keep_all: bool,
}

impl Inbox {
    /// Queues samples for the search; with [`Backlog::Shed`], sheds the oldest beyond
    /// [`INBOX_CAPACITY`].
    fn queue(&mut self, samples: &[(f64, u64)], backlog: Backlog) {
        self.samples.extend(samples.iter().copied());
        self.queued += samples.len() as u64;
        let over = self.samples.len().saturating_sub(INBOX_CAPACITY);
        if over > 0 && backlog == Backlog::Shed {
            self.samples.drain(..over);
            self.skipped += over as u64;
            self.shed += over as u64;
        }
    }
}

/// A pattern's search on one channel, and its inbox.
struct NamedPatternTrack {
    pattern: String,
    /// Learnt by the learning loop (searched on its own channel only).
    learnt: bool,
    /// Retired or dropped: no more samples are queued.
    retired: bool,
    track: Arc<Track<PatternTrack>>,
    inbox: Arc<Mutex<Inbox>>,
}

/// The reference patterns and their searches on every numeric channel.
pub(super) struct PatternTracks {
    patterns: Vec<PatternSpec>,
    backlog: Backlog,
    keep_all: bool,
    tracks: BTreeMap<ChannelId, Vec<NamedPatternTrack>>,
}

impl PatternTracks {
    /// Checks that the search takes every pattern; an error names the pattern.
    pub(super) fn new(
        patterns: Vec<PatternSpec>,
        backlog: Backlog,
        keep_all: bool,
    ) -> Result<Self, TrackError> {
        for pattern in &patterns {
            StreamingSearch::new(
                &pattern.values,
                search_config(
                    pattern.values.len(),
                    MATCH_DISTANCE_PER_SAMPLE * pattern.values.len() as f64,
                ),
            )
            .map_err(|source| TrackError::Pattern {
                name: pattern.name.clone(),
                source,
            })?;
        }
        Ok(Self {
            patterns,
            backlog,
            keep_all,
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
        StreamingSearch::new(
            &pattern.values,
            search_config(
                pattern.values.len(),
                MATCH_DISTANCE_PER_SAMPLE * pattern.values.len() as f64,
            ),
        )
        .map_err(TrackError::PatternSearch)?;
        for (channel, tracks) in &mut self.tracks {
            tracks.extend(pattern_track(
                &pattern,
                samples_so_far(*channel),
                self.keep_all,
                None,
            ));
        }
        self.patterns.push(pattern);
        Ok(())
    }

    /// Searches a new numeric channel for every pattern.
    pub(super) fn add_channel(&mut self, channel: ChannelId) {
        let tracks = self
            .patterns
            .iter()
            .filter_map(|p| pattern_track(p, 0, self.keep_all, None))
            .collect();
        self.tracks.insert(channel, tracks);
    }

    /// The patterns given to every channel (built-in, from files, captured).
    pub(super) fn given(&self) -> &[PatternSpec] {
        &self.patterns
    }

    /// Searches `channel` for a learnt pattern from its next sample on (`offset` samples so
    /// far), at `threshold`. A name already searched on the channel is refused.
    pub(super) fn add_learnt(
        &mut self,
        channel: ChannelId,
        pattern: &PatternSpec,
        offset: u64,
        threshold: f64,
    ) -> bool {
        let Some(tracks) = self.tracks.get_mut(&channel) else {
            return false;
        };
        if tracks.iter().any(|t| t.pattern == pattern.name) {
            return false;
        }
        match pattern_track(pattern, offset, self.keep_all, Some(threshold)) {
            Some(mut named) => {
                named.learnt = true;
                tracks.push(named);
                // Retired searches beyond the bound go, oldest first (their matches with them).
                let retired: Vec<usize> =
                    (0..tracks.len()).filter(|&i| tracks[i].retired).collect();
                if retired.len() > MAX_RETIRED_SEARCHES {
                    tracks.remove(retired[0]);
                }
                true
            }
            None => false,
        }
    }

    /// Changes the threshold of `pattern` on `channel` from the next sample queued on.
    pub(super) fn set_threshold(&self, channel: ChannelId, pattern: &str, threshold: f64) {
        self.change(channel, pattern, SearchChange::Threshold(threshold));
    }

    /// Stops searching `channel` for `pattern` from the next sample on; its matches so far are
    /// kept.
    pub(super) fn retire(&mut self, channel: ChannelId, pattern: &str) {
        self.change(channel, pattern, SearchChange::Stop);
        if let Some(tracks) = self.tracks.get_mut(&channel) {
            for t in tracks.iter_mut().filter(|t| t.pattern == pattern) {
                t.retired = true;
            }
        }
    }

    fn change(&self, channel: ChannelId, pattern: &str, change: SearchChange) {
        for named in self
            .tracks
            .get(&channel)
            .into_iter()
            .flatten()
            .filter(|t| t.pattern == pattern && !t.retired)
        {
            let mut inbox = named.inbox.lock();
            let at = inbox.queued;
            inbox.changes.push_back((at, change));
        }
    }

    /// Every match kept, in channel, start and pattern order (with `keep_all`, every match of
    /// the run).
    pub(super) fn all_matches(&self, names: &BTreeMap<ChannelId, String>) -> Vec<PatternMatchView> {
        let mut all = Vec::new();
        for (channel, tracks) in &self.tracks {
            for named in tracks {
                for (m, t_ns, _) in &named.inbox.lock().found {
                    all.push(PatternMatchView {
                        pattern: named.pattern.clone(),
                        channel: *channel,
                        channel_name: names.get(channel).cloned().unwrap_or_default(),
                        distance: m.distance,
                        start_sample: m.start,
                        len: m.len,
                        t_ns: *t_ns,
                        age: Duration::ZERO,
                    });
                }
            }
        }
        all.sort_by(|a, b| {
            (&a.channel_name, a.start_sample, &a.pattern).cmp(&(
                &b.channel_name,
                b.start_sample,
                &b.pattern,
            ))
        });
        all
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
        for named in tracks.iter().filter(|t| !t.retired) {
            named.inbox.lock().queue(&samples, self.backlog);
            schedule_search(runner, channel, named);
        }
    }

    /// With [`Backlog::Wait`], whether an inbox is past its capacity; their searches are
    /// scheduled again.
    pub(super) fn backlogged(&self, runner: &TrackRunner) -> bool {
        if self.backlog != Backlog::Wait {
            return false;
        }
        let mut backlogged = false;
        for (&channel, tracks) in &self.tracks {
            for named in tracks {
                if named.inbox.lock().samples.len() > INBOX_CAPACITY {
                    backlogged = true;
                    schedule_search(runner, channel, named);
                }
            }
        }
        backlogged
    }

    /// Samples shed from the searches' inboxes under load, over every channel and pattern.
    pub(super) fn shed(&self) -> u64 {
        self.tracks
            .values()
            .flatten()
            .map(|named| named.inbox.lock().shed)
            .sum()
    }

    /// Recent pattern matches on every channel, newest first; `names` gives the channels'
    /// names.
    pub(super) fn views(
        &self,
        now: Instant,
        names: &BTreeMap<ChannelId, String>,
    ) -> Vec<PatternMatchView> {
        // The newest MATCH_HISTORY matches of all tracks, found without copying the others:
        // a min-heap by time holds the newest so far, and each track's matches (oldest first)
        // are read from the newest back until they are older than all of them.
        struct Newest<'a> {
            at: Instant,
            channel: ChannelId,
            pattern: &'a str,
            found: (PatternMatch, u64),
        }
        impl PartialEq for Newest<'_> {
            fn eq(&self, other: &Self) -> bool {
                self.at == other.at
            }
        }
        impl Eq for Newest<'_> {}
        impl PartialOrd for Newest<'_> {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Newest<'_> {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                other.at.cmp(&self.at)
            }
        }
        let mut newest: BinaryHeap<Newest> = BinaryHeap::with_capacity(MATCH_HISTORY + 1);
        for (channel, tracks) in &self.tracks {
            for NamedPatternTrack { pattern, inbox, .. } in tracks {
                let inbox = inbox.lock();
                for (m, t_ns, at) in inbox.found.iter().rev() {
                    if newest.len() == MATCH_HISTORY
                        && newest.peek().is_some_and(|oldest| *at <= oldest.at)
                    {
                        break;
                    }
                    newest.push(Newest {
                        at: *at,
                        channel: *channel,
                        pattern,
                        found: (*m, *t_ns),
                    });
                    if newest.len() > MATCH_HISTORY {
                        newest.pop();
                    }
                }
            }
        }
        // `into_sorted_vec` is ascending by `Ord`, which is reversed time: newest first.
        newest
            .into_sorted_vec()
            .into_iter()
            .map(|n| {
                let (m, t_ns) = n.found;
                PatternMatchView {
                    pattern: n.pattern.to_owned(),
                    channel: n.channel,
                    channel_name: names.get(&n.channel).cloned().unwrap_or_default(),
                    distance: m.distance,
                    start_sample: m.start,
                    len: m.len,
                    t_ns,
                    age: now.saturating_duration_since(n.at),
                }
            })
            .collect()
    }
}

fn search_config(len: usize, threshold: f64) -> SearchConfig {
    SearchConfig::with_band_fraction(len, PATTERN_BAND_FRACTION, threshold)
}

/// A search for `pattern` on one channel, named after the pattern (`None` if the search
/// refuses it, which [`PatternTracks::new`] and [`PatternTracks::add`] rule out).
fn pattern_track(
    pattern: &PatternSpec,
    offset: u64,
    keep_all: bool,
    threshold: Option<f64>,
) -> Option<NamedPatternTrack> {
    let threshold = threshold.unwrap_or(MATCH_DISTANCE_PER_SAMPLE * pattern.values.len() as f64);
    let search = StreamingSearch::new(
        &pattern.values,
        search_config(pattern.values.len(), threshold),
    )
    .ok()?;
    let inbox = Arc::new(Mutex::new(Inbox {
        keep_all,
        ..Inbox::default()
    }));
    Some(NamedPatternTrack {
        pattern: pattern.name.clone(),
        learnt: false,
        retired: false,
        track: Track::new(PatternTrack {
            query: pattern.values.clone().into(),
            search,
            offset,
            inbox: inbox.clone(),
            times: VecDeque::new(),
            threshold,
            consumed: 0,
            stopped: false,
        }),
        inbox,
    })
}

/// Retired learnt searches kept per channel with their matches; beyond it the oldest goes.
pub(super) const MAX_RETIRED_SEARCHES: usize = 8;

/// Schedules a search of the track's inbox, unless one is queued.
fn schedule_search(runner: &TrackRunner, channel: ChannelId, named: &NamedPatternTrack) {
    runner.schedule(
        &named.track,
        TaskClass::High,
        TaskLabel::new("temporal", channel),
        PATTERN_BUDGET,
        |t| search_patterns(&mut t.lock()),
    );
}

/// Feeds the inbox to the search; true when a new match was found.
fn search_patterns(track: &mut PatternTrack) -> bool {
    // Taken while the search's own lock is held, so two tasks of the track (one queued while
    // the other runs) cannot take batches out of order.
    let (samples, skipped, mut changes, keep_all) = {
        let mut inbox = track.inbox.lock();
        (
            std::mem::take(&mut inbox.samples),
            std::mem::take(&mut inbox.skipped),
            std::mem::take(&mut inbox.changes),
            inbox.keep_all,
        )
    };
    if skipped > 0 {
        // After a gap: a fresh search, counting from the first sample after it.
        if let Ok(search) = StreamingSearch::new(
            &track.query,
            search_config(track.query.len(), track.threshold),
        ) {
            track.offset += track.search.samples_seen() + skipped;
            track.search = search;
            track.times.clear();
        }
        track.consumed += skipped;
    }
    let mut found = Vec::new();
    let keep = track.search.query_len() * 2;
    for (x, t_ns) in samples {
        while let Some(&(at, change)) = changes.front()
            && at <= track.consumed
        {
            changes.pop_front();
            match change {
                SearchChange::Threshold(t) => {
                    if track.search.set_threshold(t).is_ok() {
                        track.threshold = t;
                    }
                }
                SearchChange::Stop => track.stopped = true,
            }
        }
        track.consumed += 1;
        if track.stopped {
            continue;
        }
        if track.times.len() == keep {
            track.times.pop_front();
        }
        track.times.push_back(t_ns);
        if let Some(mut m) = track.search.push(x) {
            m.start += track.offset;
            found.push((m, t_ns, Instant::now()));
        }
    }
    let mut inbox = track.inbox.lock();
    // Changes past the last sample wait for the next ones, in front of any queued meanwhile.
    while let Some(change) = changes.pop_back() {
        inbox.changes.push_front(change);
    }
    if found.is_empty() {
        return false;
    }
    for m in found {
        if !keep_all && inbox.found.len() == MATCH_HISTORY {
            inbox.found.pop_front();
        }
        inbox.found.push_back(m);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream whose searches fell behind: the oldest samples beyond the inbox's capacity
    /// are shed and counted, and a match after the gap is still placed at its sample in the
    /// channel's count.
    #[test]
    fn a_full_inbox_sheds_the_oldest_and_matches_keep_their_place() {
        let shape: Vec<f64> = (0..32)
            .map(|i| (i as f64 / 31.0 * std::f64::consts::PI).sin())
            .collect();
        let spec = PatternSpec {
            name: "bump".into(),
            values: shape.clone(),
        };
        let named = pattern_track(&spec, 0, false, None).unwrap();
        let mut track = Arc::try_unwrap(named.track)
            .ok()
            .unwrap()
            .state
            .into_inner();
        // 20,000 samples of a slow ramp with the bump at 19,000; nothing searched yet.
        let at = 19_000;
        let stream: Vec<(f64, u64)> = (0..20_000u64)
            .map(|i| {
                let bump = if (at..at + 32).contains(&i) {
                    10.0 * shape[(i - at) as usize]
                } else {
                    0.0
                };
                ((i % 97) as f64 * 0.01 + bump, i * 1000)
            })
            .collect();
        for chunk in stream.chunks(1000) {
            named.inbox.lock().queue(chunk, Backlog::Shed);
        }
        let shed = 20_000 - INBOX_CAPACITY as u64;
        assert_eq!(named.inbox.lock().shed, shed);
        assert_eq!(named.inbox.lock().samples.len(), INBOX_CAPACITY);
        assert!(search_patterns(&mut track));
        assert_eq!(
            track.offset, shed,
            "the search counts from the first sample kept"
        );
        let starts: Vec<u64> = named
            .inbox
            .lock()
            .found
            .iter()
            .map(|(m, _, _)| m.start)
            .collect();
        assert!(starts.contains(&at), "{starts:?}");
        assert_eq!(named.inbox.lock().skipped, 0);
        assert!(named.inbox.lock().samples.is_empty());
    }
}
