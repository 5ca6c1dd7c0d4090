//! Attractor analysis of numeric channels: every 256 new samples, a Normal task analyses the
//! channel's last 4096 (`engines::attractor`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Track, TrackRunner};
use crate::engines::attractor::{
    AnalysisOptions, AttractorAnalysis, AttractorError, SlidingWindow, analyze,
};
use crate::model::{ChannelId, ChannelInfo};
use crate::pipeline::channel::ChannelState;
use crate::pipeline::snapshot::ChaosView;
use crate::scheduler::{TaskClass, TaskLabel};

/// An attractor analysis should be done before the next window is due (256 samples later:
/// about a second at the demo's 200 Hz).
const ATTRACTOR_BUDGET: Duration = Duration::from_secs(1);

/// Attractor results kept per channel for the sparklines.
const CHAOS_HISTORY: usize = 120;

/// The attractor analysis of one numeric channel.
struct ChaosTrack {
    /// The channel's sample count at the last analysis (`None` before the first).
    analysed_at: Option<u64>,
    view: Option<ChaosView>,
    history: VecDeque<(Option<f64>, Option<f64>)>,
}

/// The attractor analyses of every numeric channel.
#[derive(Default)]
pub(super) struct ChaosTracks {
    tracks: BTreeMap<ChannelId, Arc<Track<ChaosTrack>>>,
    /// Sample period per channel, so exponents come per time unit.
    periods: BTreeMap<ChannelId, f64>,
    sliding: SlidingWindow,
}

impl ChaosTracks {
    pub(super) fn add_channel(&mut self, info: &ChannelInfo) {
        self.tracks.insert(
            info.id,
            Track::new(ChaosTrack {
                analysed_at: None,
                view: None,
                history: VecDeque::new(),
            }),
        );
        self.period_known(info);
    }

    /// Takes the channel's sample period, also when it becomes known later (a text input's
    /// is estimated from its time field after a few records): later analyses are per second.
    pub(super) fn period_known(&mut self, info: &ChannelInfo) {
        if let Some(period_s) = info.period_s.filter(|p| p.is_finite() && *p > 0.0) {
            self.periods.insert(info.id, period_s);
        }
    }

    pub(super) fn remove(&mut self, channel: ChannelId) {
        self.tracks.remove(&channel);
        self.periods.remove(&channel);
    }

    pub(super) fn clear(&mut self) {
        self.tracks.clear();
        self.periods.clear();
    }

    /// Analyses the channel's latest window when enough new samples have come (a Normal
    /// task with its own copy of the window, so the ring buffer keeps moving meanwhile).
    pub(super) fn analyse_if_due(
        &self,
        runner: &TrackRunner,
        channel: ChannelId,
        state: &ChannelState,
    ) {
        let Some(track) = self.tracks.get(&channel) else {
            return;
        };
        let total = state.samples_pushed;
        let due = self.sliding.is_due(
            total as usize,
            track.lock().analysed_at.map(|at| at as usize),
        );
        if !due || track.queued.load(Ordering::Acquire) {
            return;
        }
        track.lock().analysed_at = Some(total);
        let window = state.recent(0, self.sliding.window);
        let options = AnalysisOptions {
            dt: self.periods.get(&channel).copied(),
            ..AnalysisOptions::default()
        };
        runner.schedule(
            track,
            TaskClass::Normal,
            TaskLabel::new("attractor", channel),
            ATTRACTOR_BUDGET,
            move |t: &Track<ChaosTrack>| {
                // The analysis runs without the lock, so a snapshot taken meanwhile shows the
                // previous result instead of waiting.
                let started = Instant::now();
                let result = analyze(&window, &options);
                let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
                record_chaos(
                    &mut t.lock(),
                    window.len(),
                    total,
                    result,
                    elapsed_ms,
                    options.dt.is_some(),
                )
            },
        );
    }

    /// Analyses the channel's latest window on the calling thread when one is due, at this
    /// exact sample count (`AnalysisConfig::every_round`: none skipped whatever the machine).
    pub(super) fn analyse_inline_if_due(&self, channel: ChannelId, state: &ChannelState) {
        let Some(track) = self.tracks.get(&channel) else {
            return;
        };
        let total = state.samples_pushed;
        let due = self.sliding.is_due(
            total as usize,
            track.lock().analysed_at.map(|at| at as usize),
        );
        if !due {
            return;
        }
        track.lock().analysed_at = Some(total);
        let window = state.recent(0, self.sliding.window);
        let options = AnalysisOptions {
            dt: self.periods.get(&channel).copied(),
            ..AnalysisOptions::default()
        };
        let started = Instant::now();
        let result = analyze(&window, &options);
        let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
        record_chaos(
            &mut track.lock(),
            window.len(),
            total,
            result,
            elapsed_ms,
            options.dt.is_some(),
        );
    }

    /// The channel's latest attractor analysis: its sample count, λ and D2 (for the learning
    /// loop's stability rule).
    pub(super) fn latest(&self, channel: ChannelId) -> Option<(u64, Option<f64>, Option<f64>)> {
        let track = self.tracks.get(&channel)?;
        let t = track.lock();
        let view = t.view.as_ref().filter(|v| v.error.is_none())?;
        Some((view.at_sample, view.lyapunov, view.correlation_dimension))
    }

    /// The latest attractor analysis per numeric channel.
    pub(super) fn views(&self) -> BTreeMap<ChannelId, ChaosView> {
        self.tracks
            .iter()
            .filter_map(|(id, track)| track.lock().view.clone().map(|v| (*id, v)))
            .collect()
    }
}

/// Records an analysis of the window ending at sample `at_sample`; false, and nothing
/// recorded, when an analysis of a later window has been recorded already. Two analyses of one
/// channel can run at once (a track is free for the next task as soon as its task starts), and
/// the older one may finish last.
fn record_chaos(
    track: &mut ChaosTrack,
    window: usize,
    at_sample: u64,
    result: Result<AttractorAnalysis, AttractorError>,
    elapsed_ms: f64,
    per_time: bool,
) -> bool {
    if track.view.as_ref().is_some_and(|v| v.at_sample > at_sample) {
        return false;
    }
    let unit = if per_time { "1/s" } else { "1/sample" }.to_owned();
    let view = match result {
        Ok(analysis) => {
            let lyapunov = analysis.lyapunov_value();
            let d2 = analysis.correlation_dimension.as_ref().map(|d| d.value);
            if track.history.len() == CHAOS_HISTORY {
                track.history.pop_front();
            }
            track.history.push_back((lyapunov, d2));
            ChaosView {
                window,
                at_sample,
                dim: analysis.embedding.dim,
                delay: analysis.embedding.delay,
                lyapunov,
                lyapunov_unit: unit,
                fit: analysis.lyapunov.as_ref().map(|l| l.fit_steps),
                fit_r2: analysis.lyapunov.as_ref().map(|l| l.r2),
                correlation_dimension: d2,
                class: analysis.class.label().to_owned(),
                elapsed_ms,
                history: track.history.iter().copied().collect(),
                error: None,
            }
        }
        Err(error) => {
            let mut view = track.view.clone().unwrap_or(ChaosView {
                window,
                at_sample,
                dim: 0,
                delay: 0,
                lyapunov: None,
                lyapunov_unit: unit,
                fit: None,
                fit_r2: None,
                correlation_dimension: None,
                class: String::new(),
                elapsed_ms,
                history: Vec::new(),
                error: None,
            });
            view.error = Some(error.to_string());
            view.at_sample = at_sample;
            view
        }
    };
    track.view = Some(view);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize) -> Vec<f64> {
        (0..n).map(|i| (i as f64 * 0.3).sin()).collect()
    }

    #[test]
    fn an_analysis_that_finishes_after_a_later_one_is_not_recorded() {
        let mut track = ChaosTrack {
            analysed_at: None,
            view: None,
            history: VecDeque::new(),
        };
        let options = AnalysisOptions::default();
        let later = analyze(&sine(1_000), &options);
        assert!(later.is_ok(), "a sine of 1,000 samples is analysable");
        assert!(record_chaos(&mut track, 1_000, 2_000, later, 1.0, false));
        let dim = track.view.as_ref().map(|v| v.dim);
        // The window ending at sample 1,500 finishes last, as a failure: it changes nothing.
        let earlier = analyze(&[1.0; 3], &options);
        assert!(earlier.is_err());
        assert!(!record_chaos(&mut track, 3, 1_500, earlier, 1.0, false));
        let view = track.view.as_ref().expect("the later analysis stays");
        assert_eq!((view.at_sample, Some(view.dim)), (2_000, dim));
        assert!(view.error.is_none());
        assert_eq!(track.history.len(), 1);
        // A still later failure is recorded, keeping the last good figures beside its error.
        assert!(record_chaos(
            &mut track,
            3,
            2_500,
            analyze(&[1.0; 3], &options),
            1.0,
            false
        ));
        let view = track.view.as_ref().expect("a view");
        assert_eq!(view.at_sample, 2_500);
        assert!(view.error.is_some());
    }
}
