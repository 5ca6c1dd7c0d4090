//! The screen's own state: focus, focused channel, frozen snapshot, help overlay, zoom, frame
//! rate. Pure transitions on [`Action`]s; what the pipeline must do comes back as a
//! [`Control`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::DEFAULT_CAPTURE_SAMPLES;
use crate::model::{ChannelId, ChannelKind};
use crate::pipeline::library::{MIN_PATTERN_SAMPLES, PatternSpec};
use crate::pipeline::{ChannelSnapshot, LinkState, Snapshot};
use crate::scheduler::LatencyKind;

use super::control::Control;
use super::keymap::Action;

/// The phase portrait's zoom is `2^steps`, `steps` in `0..=MAX_ZOOM_STEPS` (×1 … ×64): beyond
/// ×64 a 4096-point window shows a handful of dots.
pub const MAX_ZOOM_STEPS: u8 = 6;

/// How long a message of the screen's own (see [`App::message`]) stays on the status line.
pub const MESSAGE_TTL: Duration = Duration::from_secs(5);

/// The frame rate is the number of frames drawn within this window.
const FPS_WINDOW: Duration = Duration::from_secs(1);

/// The panes that can hold the focus, in `Tab` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Streams,
    Phase,
    Chaos,
    Patterns,
    Motifs,
    /// The learning loop (takes turns with the Patterns and Motifs panes in the grid).
    Learning,
    Ltl,
    Scheduler,
    Benchmarks,
}

impl Pane {
    pub const ALL: [Pane; 9] = [
        Pane::Streams,
        Pane::Phase,
        Pane::Chaos,
        Pane::Patterns,
        Pane::Motifs,
        Pane::Learning,
        Pane::Ltl,
        Pane::Scheduler,
        Pane::Benchmarks,
    ];

    /// The pane's name as its title shows it.
    pub const fn title(self) -> &'static str {
        match self {
            Pane::Streams => "Streams",
            Pane::Phase => "Phase",
            Pane::Chaos => "Chaos",
            Pane::Patterns => "Patterns",
            Pane::Motifs => "Motifs",
            Pane::Learning => "Learning",
            Pane::Ltl => "LTL",
            Pane::Scheduler => "Scheduler",
            Pane::Benchmarks => "Benchmarks",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|&p| p == self).unwrap_or(0)
    }

    pub fn next(self) -> Pane {
        Self::ALL[(self.index() + 1) % Self::ALL.len()]
    }

    pub fn previous(self) -> Pane {
        Self::ALL[(self.index() + Self::ALL.len() - 1) % Self::ALL.len()]
    }
}

/// Frames drawn within the last [`FPS_WINDOW`].
#[derive(Debug, Clone, Default)]
pub struct FpsCounter {
    frames: VecDeque<Instant>,
}

impl FpsCounter {
    /// Count a frame drawn at `at`.
    pub fn record(&mut self, at: Instant) {
        self.frames.push_back(at);
        while let Some(&first) = self.frames.front() {
            if at.duration_since(first) >= FPS_WINDOW {
                self.frames.pop_front();
            } else {
                break;
            }
        }
    }

    /// Frames per second, over the window that ended at the last frame.
    pub fn fps(&self) -> usize {
        self.frames.len()
    }
}

/// Where the data on screen comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SourceMode {
    Live,
    /// The source ended (the end of a trace, or a server that closed for good).
    Ended,
    /// Replaying a trace at `speed` (0: as fast as possible).
    Replay {
        speed: f64,
        paused: bool,
    },
}

/// What the status line's tags say: LIVE or REPLAY ×speed, plus FROZEN and REC when they apply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mode {
    pub source: SourceMode,
    /// The panes show a frozen snapshot.
    pub frozen: bool,
    /// The pipeline is recording to a trace file.
    pub recording: bool,
}

/// The screen's state.
#[derive(Debug, Clone, Default)]
pub struct App {
    focus: Pane,
    /// The channel chosen with `c`/`C`; `None` until then (see [`App::focused_channel`]).
    channel: Option<ChannelId>,
    frozen: Option<Arc<Snapshot>>,
    help: bool,
    expanded: bool,
    zoom_steps: u8,
    /// The Scheduler pane shows run times instead of wait times.
    run_times: bool,
    fps: FpsCounter,
    quit: bool,
    /// Samples the `a` key takes from the focused channel (0: the default).
    capture_samples: usize,
    /// Why the last key did nothing, and when.
    message: Option<(String, Instant)>,
    /// The learnt pattern `k` keeps and `x` drops (an index into the learnt patterns, taken
    /// modulo their number).
    learnt_selection: usize,
}

impl App {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the `a` key capture `samples` samples (at least [`MIN_PATTERN_SAMPLES`]).
    pub fn with_capture_samples(mut self, samples: usize) -> Self {
        self.capture_samples = samples.max(MIN_PATTERN_SAMPLES);
        self
    }

    /// The learnt pattern `k` and `x` act on (modulo the number of learnt patterns).
    pub fn learnt_selection(&self) -> usize {
        self.learnt_selection
    }

    /// Samples the `a` key captures.
    pub fn capture_samples(&self) -> usize {
        if self.capture_samples == 0 {
            DEFAULT_CAPTURE_SAMPLES
        } else {
            self.capture_samples
        }
    }

    /// The screen's own message for the status line, while it is younger than
    /// [`MESSAGE_TTL`] at `now`, with the time it was raised.
    pub fn message(&self, now: Instant) -> Option<(&str, Instant)> {
        self.message
            .as_ref()
            .filter(|(_, at)| now.saturating_duration_since(*at) < MESSAGE_TTL)
            .map(|(text, at)| (text.as_str(), *at))
    }

    fn say(&mut self, text: String) {
        self.message = Some((text, Instant::now()));
    }

    /// The pattern `a` captures: the focused channel's last [`App::capture_samples`] samples
    /// of the displayed snapshot (the first component of a vector, which the pattern search
    /// reads), named `<channel>-<index of the first sample>`. Says why when there is none.
    fn capture_pattern(&mut self, latest: &Snapshot) -> Option<PatternSpec> {
        let n = self.capture_samples();
        let outcome = match self.focused_channel(latest) {
            None => Err("add pattern: no channel to capture from yet".to_string()),
            Some(c)
                if !matches!(
                    c.info.kind,
                    ChannelKind::Scalar | ChannelKind::Vector { .. }
                ) =>
            {
                Err(format!(
                    "add pattern: {} is not numeric; choose a numeric channel with c",
                    c.info.name
                ))
            }
            Some(c) => {
                let series = c.recent.first().map_or(&[][..], Vec::as_slice);
                if series.len() < n {
                    Err(format!(
                        "add pattern: {} has {} samples so far; a pattern takes {n}",
                        c.info.name,
                        series.len()
                    ))
                } else {
                    let values = series[series.len() - n..].to_vec();
                    let first = c.received.saturating_sub(n as u64);
                    Ok(PatternSpec {
                        name: format!("{}-{first}", c.info.name),
                        values,
                    })
                }
            }
        };
        outcome.map_err(|why| self.say(why)).ok()
    }

    /// Apply one action. `latest` is the newest snapshot (freezing keeps it; replay keys act
    /// only when it is a replay). Returns what the pipeline must be told, if anything.
    pub fn apply(&mut self, action: Action, latest: &Arc<Snapshot>) -> Option<Control> {
        match action {
            Action::Quit => {
                self.quit = true;
                return Some(Control::Quit);
            }
            Action::ToggleHelp => self.help = !self.help,
            Action::Dismiss => {
                if self.help {
                    self.help = false;
                } else {
                    self.expanded = false;
                }
            }
            Action::ToggleFreeze => {
                self.frozen = match self.frozen {
                    Some(_) => None,
                    None => Some(Arc::clone(latest)),
                }
            }
            Action::FocusNext => self.focus = self.focus.next(),
            Action::FocusPrevious => self.focus = self.focus.previous(),
            Action::NextChannel => self.step_channel(latest, 1),
            Action::PreviousChannel => self.step_channel(latest, -1),
            Action::ToggleExpand => self.expanded = !self.expanded,
            Action::ZoomIn => self.zoom_steps = (self.zoom_steps + 1).min(MAX_ZOOM_STEPS),
            Action::ZoomOut => self.zoom_steps = self.zoom_steps.saturating_sub(1),
            Action::ToggleLatencyKind => self.run_times = !self.run_times,
            Action::ToggleRecording => return Some(Control::ToggleRecording),
            Action::RunBenchmarks if self.focus == Pane::Benchmarks => {
                return Some(Control::RunBenchmarks);
            }
            Action::RunBenchmarks => {}
            Action::NextLearnt if matches!(self.focus, Pane::Patterns | Pane::Learning) => {
                self.learnt_selection = self.learnt_selection.wrapping_add(1);
            }
            Action::PinLearnt | Action::DropLearnt
                if matches!(self.focus, Pane::Patterns | Pane::Learning) =>
            {
                let learnt = crate::tui::panes::patterns::learnt_patterns(latest);
                if learnt.is_empty() {
                    return None;
                }
                let (_, p) = &learnt[self.learnt_selection % learnt.len()];
                return Some(if action == Action::PinLearnt {
                    Control::PinPattern(p.name.clone())
                } else {
                    Control::DropPattern(p.name.clone())
                });
            }
            Action::NextLearnt | Action::PinLearnt | Action::DropLearnt => {}
            Action::CapturePattern => {
                return self.capture_pattern(latest).map(Control::AddPattern);
            }
            Action::Replay(command) => {
                // An ended replay still takes seeks and restarts; a live source that ended has
                // no replay to receive them, and the request is dropped there.
                if matches!(
                    latest.source.link,
                    LinkState::Replay { .. } | LinkState::Ended { .. }
                ) {
                    return Some(Control::Replay(command));
                }
            }
        }
        None
    }

    fn step_channel(&mut self, latest: &Snapshot, step: isize) {
        let channels = &self.displayed(latest).channels;
        if channels.is_empty() {
            return;
        }
        let current = self
            .focused_channel(latest)
            .and_then(|c| channels.iter().position(|x| x.info.id == c.info.id))
            .unwrap_or(0);
        let n = channels.len() as isize;
        let next = (current as isize + step).rem_euclid(n) as usize;
        self.channel = Some(channels[next].info.id);
    }

    /// Count a frame drawn at `at` for the frame-rate display.
    pub fn frame_drawn(&mut self, at: Instant) {
        self.fps.record(at);
    }

    pub fn fps(&self) -> usize {
        self.fps.fps()
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    pub fn focus(&self) -> Pane {
        self.focus
    }

    pub fn help_visible(&self) -> bool {
        self.help
    }

    /// The pane that fills the screen, if one is expanded.
    pub fn expanded(&self) -> Option<Pane> {
        self.expanded.then_some(self.focus)
    }

    /// The mode shown in the status line, given the latest snapshot.
    pub fn mode(&self, latest: &Snapshot) -> Mode {
        let source = match latest.source.link {
            LinkState::Replay { speed, paused, .. } => SourceMode::Replay { speed, paused },
            LinkState::Ended { .. } => SourceMode::Ended,
            _ => SourceMode::Live,
        };
        Mode {
            source,
            frozen: self.is_frozen(),
            recording: latest.source.recording.is_some(),
        }
    }

    /// Which latency the Scheduler pane draws: wait (enqueue → start, the default) or run time.
    pub fn latency_kind(&self) -> LatencyKind {
        if self.run_times {
            LatencyKind::Run
        } else {
            LatencyKind::Wait
        }
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// The phase portrait's magnification: 1, 2, 4, … 64.
    pub fn zoom(&self) -> f64 {
        f64::from(1u32 << self.zoom_steps)
    }

    /// The snapshot the panes draw: the frozen one, else `latest`.
    pub fn displayed<'s>(&'s self, latest: &'s Snapshot) -> &'s Snapshot {
        self.frozen.as_deref().unwrap_or(latest)
    }

    /// The focused channel of the displayed snapshot: the one chosen with `c`/`C` when it is
    /// still in the catalog, else the first vector channel, else the first scalar one, else the
    /// first channel.
    pub fn focused_channel<'s>(&'s self, latest: &'s Snapshot) -> Option<&'s ChannelSnapshot> {
        let channels = &self.displayed(latest).channels;
        let chosen = self
            .channel
            .and_then(|id| channels.iter().find(|c| c.info.id == id));
        chosen
            .or_else(|| {
                channels
                    .iter()
                    .find(|c| matches!(c.info.kind, ChannelKind::Vector { dims } if dims >= 2))
            })
            .or_else(|| {
                channels
                    .iter()
                    .find(|c| matches!(c.info.kind, ChannelKind::Scalar))
            })
            .or_else(|| channels.first())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Catalog, ChannelInfo};
    use crate::tui::control::ReplayCommand;

    fn channel(id: u32, name: &str, kind: ChannelKind) -> ChannelSnapshot {
        ChannelSnapshot::new(ChannelInfo {
            id,
            name: name.to_string(),
            kind,
            unit: None,
            period_s: None,
        })
    }

    fn snapshot(generation: u64) -> Arc<Snapshot> {
        let channels = vec![
            channel(0, "events", ChannelKind::Event { fields: vec![] }),
            channel(1, "x", ChannelKind::Scalar),
            channel(2, "xyz", ChannelKind::Vector { dims: 3 }),
            channel(3, "tokens", ChannelKind::Text),
        ];
        Arc::new(Snapshot {
            generation,
            catalog: Catalog {
                source: "test".into(),
                channels: channels.iter().map(|c| c.info.clone()).collect(),
            },
            channels,
            ..Snapshot::default()
        })
    }

    fn replay_snapshot() -> Arc<Snapshot> {
        let mut s = (*snapshot(1)).clone();
        s.source.link = LinkState::Replay {
            speed: 1.0,
            paused: false,
            position_ns: 0,
            length_ns: 10,
        };
        Arc::new(s)
    }

    /// `snapshot(generation)` with the vector channel holding samples `0..n` of component 0
    /// (and their negatives in component 1), `received` of them so far.
    fn with_samples(generation: u64, n: usize, received: u64) -> Arc<Snapshot> {
        let mut s = (*snapshot(generation)).clone();
        let xyz = &mut s.channels[2];
        xyz.recent = vec![
            (0..n).map(|i| i as f64).collect(),
            (0..n).map(|i| -(i as f64)).collect(),
        ];
        xyz.received = received;
        Arc::new(s)
    }

    #[test]
    fn a_captures_the_focused_channels_latest_samples() {
        let mut app = App::new().with_capture_samples(8);
        let snap = with_samples(1, 100, 1000);
        let Some(Control::AddPattern(pattern)) = app.apply(Action::CapturePattern, &snap) else {
            panic!("no pattern captured");
        };
        assert_eq!(pattern.name, "xyz-992");
        assert_eq!(pattern.values, (92..100).map(f64::from).collect::<Vec<_>>());
        assert!(app.message(Instant::now()).is_none());
    }

    #[test]
    fn a_captures_what_the_frozen_screen_shows() {
        let mut app = App::new().with_capture_samples(4);
        app.apply(Action::ToggleFreeze, &with_samples(1, 10, 10));
        let Some(Control::AddPattern(pattern)) =
            app.apply(Action::CapturePattern, &with_samples(2, 50, 50))
        else {
            panic!("no pattern captured");
        };
        assert_eq!(pattern.name, "xyz-6");
        assert_eq!(pattern.values, [6.0, 7.0, 8.0, 9.0]);
    }

    #[test]
    fn a_says_why_it_captured_nothing() {
        let mut app = App::new();
        assert_eq!(app.capture_samples(), DEFAULT_CAPTURE_SAMPLES);
        let short = with_samples(1, DEFAULT_CAPTURE_SAMPLES - 1, 63);
        assert_eq!(app.apply(Action::CapturePattern, &short), None);
        let (text, _) = app.message(Instant::now()).unwrap();
        assert!(
            text.contains("xyz has 63 samples") && text.contains("takes 64"),
            "{text}"
        );
        // The message goes away after a while.
        assert!(app.message(Instant::now() + MESSAGE_TTL).is_none());

        app.apply(Action::NextChannel, &short);
        assert_eq!(app.focused_channel(&short).unwrap().info.name, "tokens");
        assert_eq!(app.apply(Action::CapturePattern, &short), None);
        let (text, _) = app.message(Instant::now()).unwrap();
        assert!(text.contains("tokens is not numeric"), "{text}");

        let mut app = App::new();
        assert_eq!(
            app.apply(Action::CapturePattern, &Arc::new(Snapshot::default())),
            None
        );
        assert!(app.message(Instant::now()).is_some());
    }

    #[test]
    fn default_focus_prefers_a_vector_channel() {
        let app = App::new();
        let snap = snapshot(1);
        assert_eq!(app.focused_channel(&snap).map(|c| c.info.id), Some(2));
        let mut only_scalar = (*snap).clone();
        only_scalar.channels.retain(|c| c.info.id != 2);
        assert_eq!(
            app.focused_channel(&only_scalar).map(|c| c.info.id),
            Some(1)
        );
        assert!(app.focused_channel(&Snapshot::default()).is_none());
    }

    #[test]
    fn channel_keys_cycle_through_the_catalog_both_ways() {
        let mut app = App::new();
        let snap = snapshot(1);
        let id = |app: &App| app.focused_channel(&snap).map(|c| c.info.id);
        app.apply(Action::NextChannel, &snap);
        assert_eq!(id(&app), Some(3));
        app.apply(Action::NextChannel, &snap);
        assert_eq!(id(&app), Some(0), "wraps around");
        app.apply(Action::PreviousChannel, &snap);
        assert_eq!(id(&app), Some(3));
        app.apply(Action::PreviousChannel, &snap);
        app.apply(Action::PreviousChannel, &snap);
        assert_eq!(id(&app), Some(1));
    }

    #[test]
    fn a_chosen_channel_that_disappears_falls_back_to_the_default() {
        let mut app = App::new();
        let snap = snapshot(1);
        app.apply(Action::NextChannel, &snap);
        let mut other = (*snap).clone();
        other.channels.retain(|c| c.info.id != 3);
        assert_eq!(app.focused_channel(&other).map(|c| c.info.id), Some(2));
    }

    #[test]
    fn freeze_keeps_the_snapshot_and_unfreeze_jumps_to_the_latest() {
        let mut app = App::new();
        let first = snapshot(1);
        assert_eq!(app.apply(Action::ToggleFreeze, &first), None);
        assert!(app.is_frozen());
        let second = snapshot(2);
        assert_eq!(app.displayed(&second).generation, 1);
        app.apply(Action::ToggleFreeze, &second);
        assert!(!app.is_frozen());
        assert_eq!(app.displayed(&second).generation, 2);
    }

    #[test]
    fn focus_cycles_and_expand_follows_the_focus() {
        let mut app = App::new();
        let snap = snapshot(1);
        let order = [
            Pane::Streams,
            Pane::Phase,
            Pane::Chaos,
            Pane::Patterns,
            Pane::Motifs,
            Pane::Learning,
            Pane::Ltl,
            Pane::Scheduler,
            Pane::Benchmarks,
        ];
        for &pane in &order {
            assert_eq!(app.focus(), pane);
            app.apply(Action::FocusNext, &snap);
        }
        assert_eq!(app.focus(), Pane::Streams, "Tab wraps around");
        app.apply(Action::FocusPrevious, &snap);
        assert_eq!(
            app.focus(),
            Pane::Benchmarks,
            "Shift-Tab wraps the other way"
        );
        app.apply(Action::FocusPrevious, &snap);
        app.apply(Action::FocusPrevious, &snap);
        assert_eq!(app.focus(), Pane::Ltl);
        assert_eq!(app.expanded(), None);
        app.apply(Action::ToggleExpand, &snap);
        assert_eq!(app.expanded(), Some(Pane::Ltl));
        app.apply(Action::FocusPrevious, &snap);
        assert_eq!(
            app.expanded(),
            Some(Pane::Learning),
            "expansion follows the focus"
        );
        app.apply(Action::Dismiss, &snap);
        assert_eq!(app.expanded(), None);
    }

    #[test]
    fn escape_closes_the_help_before_collapsing_a_pane() {
        let mut app = App::new();
        let snap = snapshot(1);
        app.apply(Action::ToggleExpand, &snap);
        app.apply(Action::ToggleHelp, &snap);
        assert!(app.help_visible());
        app.apply(Action::Dismiss, &snap);
        assert!(!app.help_visible());
        assert_eq!(app.expanded(), Some(Pane::Streams));
        app.apply(Action::ToggleHelp, &snap);
        app.apply(Action::ToggleHelp, &snap);
        assert!(!app.help_visible());
    }

    #[test]
    fn w_switches_the_scheduler_between_wait_and_run_times() {
        let mut app = App::new();
        let snap = snapshot(1);
        assert_eq!(app.latency_kind(), LatencyKind::Wait);
        assert_eq!(app.apply(Action::ToggleLatencyKind, &snap), None);
        assert_eq!(app.latency_kind(), LatencyKind::Run);
        app.apply(Action::ToggleLatencyKind, &snap);
        assert_eq!(app.latency_kind(), LatencyKind::Wait);
    }

    #[test]
    fn zoom_doubles_within_its_bounds() {
        let mut app = App::new();
        let snap = snapshot(1);
        app.apply(Action::ZoomOut, &snap);
        assert_eq!(app.zoom(), 1.0);
        app.apply(Action::ZoomIn, &snap);
        app.apply(Action::ZoomIn, &snap);
        assert_eq!(app.zoom(), 4.0);
        for _ in 0..10 {
            app.apply(Action::ZoomIn, &snap);
        }
        assert_eq!(app.zoom(), 64.0);
    }

    #[test]
    fn mode_combines_source_freeze_and_recording() {
        let mut app = App::new();
        let live = snapshot(1);
        assert_eq!(
            app.mode(&live),
            Mode {
                source: SourceMode::Live,
                frozen: false,
                recording: false
            }
        );
        let mut replay = (*replay_snapshot()).clone();
        replay.source.recording = Some("out.mtr".into());
        app.apply(Action::ToggleFreeze, &live);
        assert_eq!(
            app.mode(&replay),
            Mode {
                source: SourceMode::Replay {
                    speed: 1.0,
                    paused: false
                },
                frozen: true,
                recording: true
            }
        );
    }

    #[test]
    fn replay_keys_reach_the_pipeline_only_during_a_replay() {
        let mut app = App::new();
        let pause = Action::Replay(ReplayCommand::TogglePause);
        assert_eq!(app.apply(pause, &snapshot(1)), None);
        assert_eq!(
            app.apply(pause, &replay_snapshot()),
            Some(Control::Replay(ReplayCommand::TogglePause))
        );
    }

    #[test]
    fn an_ended_replay_still_seeks_and_restarts() {
        let mut app = App::new();
        let mut ended = (*snapshot(1)).clone();
        ended.source.link = LinkState::Ended {
            reason: "end of trace".into(),
        };
        let ended = Arc::new(ended);
        assert_eq!(app.mode(&ended).source, SourceMode::Ended);
        let restart = Action::Replay(ReplayCommand::Restart);
        assert_eq!(
            app.apply(restart, &ended),
            Some(Control::Replay(ReplayCommand::Restart))
        );
        assert_eq!(app.mode(&snapshot(1)).source, SourceMode::Live);
    }

    #[test]
    fn recording_and_quit_are_sent_to_the_pipeline() {
        let mut app = App::new();
        let snap = snapshot(1);
        assert_eq!(
            app.apply(Action::ToggleRecording, &snap),
            Some(Control::ToggleRecording)
        );
        assert!(!app.should_quit());
        assert_eq!(app.apply(Action::Quit, &snap), Some(Control::Quit));
        assert!(app.should_quit());
    }

    #[test]
    fn fps_counts_frames_of_the_last_second() {
        let mut app = App::new();
        let t0 = Instant::now();
        for i in 0..30 {
            app.frame_drawn(t0 + Duration::from_millis(i * 33));
        }
        assert_eq!(app.fps(), 30);
        // 2 s later only the new frame counts.
        app.frame_drawn(t0 + Duration::from_secs(3));
        assert_eq!(app.fps(), 1);
    }
}
