//! Where each pane goes.
//!
//! Below [`MIN_WIDTH`]×[`MIN_HEIGHT`] the screen shows "terminal too small" instead. From
//! [`GRID_MIN_WIDTH`]×[`GRID_MIN_HEIGHT`] the panes are shown at once: on the left the Streams
//! table, the Patterns and the LTL panes; on the right the phase portrait (about square) beside
//! the Chaos pane, and below them the performance slot, which holds the Scheduler pane, or the
//! Benchmarks pane while that has the focus. Likewise the Patterns slot holds the Motifs pane
//! while that has the focus (both find recurring shapes). On smaller screens the layout is compact:
//! the Streams table and one other pane, the focused one (the phase portrait while the table
//! has the focus), so `Tab` walks through every pane; the portrait-sized pane goes beside the
//! table from [`WIDE_MIN_WIDTH`] columns and under it below. An expanded pane takes the body.

use ratatui::layout::{Constraint, Layout, Rect};

use super::app::Pane;

/// The smallest screen the panes are drawn on: a readable Streams table (name, kind, rate,
/// total, gaps, last value) needs about 60 columns, and the table plus a portrait of a few rows
/// needs 16 rows.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// From this width the second pane of the compact layout goes beside the table rather than
/// under it, and the grid's two columns are each wide enough for a table (60 columns).
pub const WIDE_MIN_WIDTH: u16 = 120;

/// Width and height from which all panes are shown at once. The right column stacks the
/// portrait band (15 rows or more: a portrait worth reading and the Chaos pane's figures and
/// sparklines) on the Scheduler pane (at least 22 rows: the percentile table and four latency
/// histograms of 5 rows, in a 2×2 grid); with the status line that is 39 rows.
pub const GRID_MIN_WIDTH: u16 = WIDE_MIN_WIDTH;
pub const GRID_MIN_HEIGHT: u16 = 40;

/// Rows of the Streams table besides its channel rows: two borders and the header.
const STREAMS_CHROME_ROWS: u16 = 3;

/// In the grid, the portrait band takes this share of the body's height (the Scheduler pane the
/// rest), and the Streams table at most a third of the left column.
const GRID_BAND_SHARE: (u16, u16) = (2, 5);
const GRID_STREAMS_MAX_SHARE: u16 = 3;

/// The rectangles of one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScreenLayout {
    /// The screen is smaller than the minimum.
    TooSmall {
        width: u16,
        height: u16,
    },
    Panes(PaneAreas),
}

/// Where each pane goes; `None` for a pane not shown (compact layout, or another's expansion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaneAreas {
    pub streams: Option<Rect>,
    pub phase: Option<Rect>,
    pub chaos: Option<Rect>,
    pub patterns: Option<Rect>,
    pub motifs: Option<Rect>,
    pub learning: Option<Rect>,
    pub ltl: Option<Rect>,
    pub scheduler: Option<Rect>,
    pub benchmarks: Option<Rect>,
    pub status: Rect,
    /// The grid layout, where the Scheduler and Benchmarks panes take turns in one slot, and
    /// the Patterns and Motifs panes in another.
    pub grid: bool,
}

impl PaneAreas {
    fn empty(status: Rect) -> Self {
        PaneAreas {
            streams: None,
            phase: None,
            chaos: None,
            patterns: None,
            motifs: None,
            learning: None,
            ltl: None,
            scheduler: None,
            benchmarks: None,
            status,
            grid: false,
        }
    }

    fn slot(&mut self, pane: Pane) -> &mut Option<Rect> {
        match pane {
            Pane::Streams => &mut self.streams,
            Pane::Phase => &mut self.phase,
            Pane::Chaos => &mut self.chaos,
            Pane::Patterns => &mut self.patterns,
            Pane::Motifs => &mut self.motifs,
            Pane::Learning => &mut self.learning,
            Pane::Ltl => &mut self.ltl,
            Pane::Scheduler => &mut self.scheduler,
            Pane::Benchmarks => &mut self.benchmarks,
        }
    }

    /// Where `pane` goes, if it is shown.
    pub fn get(&self, pane: Pane) -> Option<Rect> {
        match pane {
            Pane::Streams => self.streams,
            Pane::Phase => self.phase,
            Pane::Chaos => self.chaos,
            Pane::Patterns => self.patterns,
            Pane::Motifs => self.motifs,
            Pane::Learning => self.learning,
            Pane::Ltl => self.ltl,
            Pane::Scheduler => self.scheduler,
            Pane::Benchmarks => self.benchmarks,
        }
    }

    /// True when some pane is not shown, so `Tab` is how the user reaches it. In the grid,
    /// panes taking turns in a slot ([`takes_turns`]) do not count.
    pub fn hides_some(&self) -> bool {
        Pane::ALL
            .iter()
            .any(|&p| self.get(p).is_none() && !(self.grid && takes_turns(p)))
    }
}

/// Whether `pane` shares its grid slot with another, shown while it has the focus: the
/// Scheduler and Benchmarks panes, the Patterns and Motifs panes.
pub fn takes_turns(pane: Pane) -> bool {
    matches!(
        pane,
        Pane::Scheduler | Pane::Benchmarks | Pane::Patterns | Pane::Motifs | Pane::Learning
    )
}

/// The layout of a screen of `area` showing `channels` channels, with the focus on `focus`,
/// and `expanded` filling the body when set.
pub fn screen_layout(
    area: Rect,
    channels: usize,
    focus: Pane,
    expanded: Option<Pane>,
) -> ScreenLayout {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return ScreenLayout::TooSmall {
            width: area.width,
            height: area.height,
        };
    }
    let [body, status] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    let mut areas = PaneAreas::empty(status);
    let streams_rows = u16::try_from(channels)
        .unwrap_or(u16::MAX)
        .max(1)
        .saturating_add(STREAMS_CHROME_ROWS);
    if let Some(pane) = expanded {
        *areas.slot(pane) = Some(body);
    } else if area.width >= GRID_MIN_WIDTH && area.height >= GRID_MIN_HEIGHT {
        let [left, right] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Fill(1)]).areas(body);
        let streams_height = streams_rows.min(left.height / GRID_STREAMS_MAX_SHARE);
        let [streams, patterns, ltl] = Layout::vertical([
            Constraint::Length(streams_height),
            Constraint::Fill(1),
            Constraint::Fill(1),
        ])
        .areas(left);
        let band_height = right.height * GRID_BAND_SHARE.0 / GRID_BAND_SHARE.1;
        let [band, scheduler] =
            Layout::vertical([Constraint::Length(band_height), Constraint::Fill(1)]).areas(right);
        let [phase, chaos] =
            Layout::horizontal([Constraint::Length(square_width(band)), Constraint::Fill(1)])
                .areas(band);
        areas.streams = Some(streams);
        areas.phase = Some(phase);
        areas.chaos = Some(chaos);
        if focus == Pane::Motifs {
            areas.motifs = Some(patterns);
        } else if focus == Pane::Learning {
            areas.learning = Some(patterns);
        } else {
            areas.patterns = Some(patterns);
        }
        areas.ltl = Some(ltl);
        if focus == Pane::Benchmarks {
            areas.benchmarks = Some(scheduler);
        } else {
            areas.scheduler = Some(scheduler);
        }
        areas.grid = true;
    } else {
        // Compact: the table and the focused pane (the portrait while the table has the focus).
        let second = if focus == Pane::Streams {
            Pane::Phase
        } else {
            focus
        };
        let (streams, other) = if body.width >= WIDE_MIN_WIDTH {
            let width = if second == Pane::Phase {
                square_width(body)
            } else {
                body.width / 2
            };
            let [streams, other] =
                Layout::horizontal([Constraint::Fill(1), Constraint::Length(width)]).areas(body);
            (streams, other)
        } else {
            let streams_height = streams_rows.min(body.height / 2);
            let [streams, other] =
                Layout::vertical([Constraint::Length(streams_height), Constraint::Fill(1)])
                    .areas(body);
            (streams, other)
        };
        areas.streams = Some(streams);
        *areas.slot(second) = Some(other);
    }
    ScreenLayout::Panes(areas)
}

/// The width of a square portrait of `area`'s height (cells are about twice as high as wide),
/// at most half of `area`.
fn square_width(area: Rect) -> u16 {
    area.height.saturating_mul(2).min(area.width / 2)
}

/// A rectangle of at most `width`×`height` centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panes(width: u16, height: u16, channels: usize, expanded: Option<Pane>) -> PaneAreas {
        panes_focused(width, height, channels, Pane::Streams, expanded)
    }

    fn panes_focused(
        width: u16,
        height: u16,
        channels: usize,
        focus: Pane,
        expanded: Option<Pane>,
    ) -> PaneAreas {
        match screen_layout(Rect::new(0, 0, width, height), channels, focus, expanded) {
            ScreenLayout::Panes(p) => p,
            other => panic!("{width}×{height}: {other:?}"),
        }
    }

    #[test]
    fn below_the_minimum_is_too_small() {
        let layout = |w, h| screen_layout(Rect::new(0, 0, w, h), 3, Pane::Streams, None);
        assert_eq!(
            layout(59, 40),
            ScreenLayout::TooSmall {
                width: 59,
                height: 40
            }
        );
        assert!(matches!(layout(200, 15), ScreenLayout::TooSmall { .. }));
        assert!(matches!(layout(60, 16), ScreenLayout::Panes(_)));
    }

    #[test]
    fn narrow_screens_stack_the_table_over_the_focused_pane() {
        let p = panes(80, 24, 4, None);
        assert_eq!(p.status, Rect::new(0, 23, 80, 1));
        assert_eq!(p.streams, Some(Rect::new(0, 0, 80, 7)));
        assert_eq!(p.phase, Some(Rect::new(0, 7, 80, 16)));
        assert!(p.hides_some());
        // Many channels: the table takes at most half the body.
        let p = panes(80, 24, 40, None);
        assert_eq!(p.streams.map(|r| r.height), Some(11));
        // Every other pane, once focused, takes the portrait's place.
        for pane in [
            Pane::Phase,
            Pane::Chaos,
            Pane::Patterns,
            Pane::Motifs,
            Pane::Ltl,
            Pane::Scheduler,
        ] {
            let p = panes_focused(80, 24, 4, pane, None);
            assert_eq!(p.get(pane), Some(Rect::new(0, 7, 80, 16)), "{pane:?}");
            let shown = Pane::ALL.iter().filter(|&&q| p.get(q).is_some()).count();
            assert_eq!(shown, 2, "{pane:?}");
        }
    }

    #[test]
    fn wide_but_low_screens_put_the_focused_pane_beside_the_table() {
        let p = panes(160, 30, 8, None);
        assert_eq!(p.streams, Some(Rect::new(0, 0, 102, 29)));
        assert_eq!(p.phase, Some(Rect::new(102, 0, 58, 29)));
        let p = panes_focused(160, 30, 8, Pane::Scheduler, None);
        assert_eq!(p.scheduler, Some(Rect::new(80, 0, 80, 29)));
        assert_eq!(p.phase, None);
    }

    #[test]
    fn large_screens_show_every_pane_without_overlap() {
        for (w, h) in [(160, 48), (120, 40), (250, 70)] {
            let p = panes(w, h, 8, None);
            assert!(!p.hides_some(), "{w}×{h}");
            let rects: Vec<Rect> = Pane::ALL.iter().filter_map(|&q| p.get(q)).collect();
            for (i, a) in rects.iter().enumerate() {
                assert!(a.width >= 30 && a.height >= 8, "{w}×{h}: {a:?}");
                for b in &rects[i + 1..] {
                    assert!(!a.intersects(*b), "{w}×{h}: {a:?} and {b:?}");
                }
            }
            let covered: u32 = rects.iter().map(|r| r.area()).sum();
            assert_eq!(
                covered,
                u32::from(w) * u32::from(h - 1),
                "{w}×{h}: body covered"
            );
        }
        let p = panes(160, 48, 8, None);
        assert_eq!(p.streams, Some(Rect::new(0, 0, 80, 11)));
        assert_eq!(p.phase, Some(Rect::new(80, 0, 36, 18)));
        assert_eq!(p.chaos, Some(Rect::new(116, 0, 44, 18)));
        assert_eq!(p.scheduler.map(|r| (r.x, r.width)), Some((80, 80)));
        assert!(p.scheduler.is_some_and(|r| r.height >= 22));
    }

    #[test]
    fn an_expanded_pane_takes_the_whole_body() {
        let p = panes(80, 24, 4, Some(Pane::Phase));
        assert_eq!(p.phase, Some(Rect::new(0, 0, 80, 23)));
        assert_eq!(p.streams, None);
        let p = panes(160, 48, 4, Some(Pane::Ltl));
        assert_eq!(p.ltl, Some(Rect::new(0, 0, 160, 47)));
        assert_eq!(p.scheduler, None);
    }

    #[test]
    fn centered_fits_inside() {
        let r = centered(Rect::new(10, 10, 20, 10), 30, 4);
        assert_eq!(r, Rect::new(10, 13, 20, 4));
    }
}
