//! Where each pane goes.
//!
//! Below [`MIN_WIDTH`]×[`MIN_HEIGHT`] the screen shows "terminal too small" instead. From
//! [`WIDE_MIN_WIDTH`] columns the Streams table and the phase portrait sit side by side (the
//! portrait about square); narrower, the table sits above the portrait.

use ratatui::layout::{Constraint, Layout, Rect};

use super::app::Pane;

/// The smallest screen the panes are drawn on: a readable Streams table (name, kind, rate,
/// total, gaps, last value) needs about 60 columns, and the table plus a portrait of a few rows
/// needs 16 rows.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

/// From this width the portrait goes beside the table rather than under it.
pub const WIDE_MIN_WIDTH: u16 = 120;

/// Rows of the Streams table besides its channel rows: two borders and the header.
const STREAMS_CHROME_ROWS: u16 = 3;

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

/// Where each pane goes; `None` for a pane hidden by another's expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaneAreas {
    pub streams: Option<Rect>,
    pub phase: Option<Rect>,
    pub status: Rect,
}

/// The layout of a screen of `area` showing `channels` channels, with `expanded` filling the
/// body when set.
pub fn screen_layout(area: Rect, channels: usize, expanded: Option<Pane>) -> ScreenLayout {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return ScreenLayout::TooSmall {
            width: area.width,
            height: area.height,
        };
    }
    let [body, status] = Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
    let (streams, phase) = match expanded {
        Some(Pane::Streams) => (Some(body), None),
        Some(Pane::Phase) => (None, Some(body)),
        None if body.width >= WIDE_MIN_WIDTH => {
            // Cells are about twice as high as wide: a square portrait is twice as wide as high.
            let phase_width = (body.height.saturating_mul(2)).min(body.width / 2);
            let [streams, phase] =
                Layout::horizontal([Constraint::Fill(1), Constraint::Length(phase_width)])
                    .areas(body);
            (Some(streams), Some(phase))
        }
        None => {
            let wanted = u16::try_from(channels)
                .unwrap_or(u16::MAX)
                .max(1)
                .saturating_add(STREAMS_CHROME_ROWS);
            let streams_height = wanted.min(body.height / 2);
            let [streams, phase] =
                Layout::vertical([Constraint::Length(streams_height), Constraint::Fill(1)])
                    .areas(body);
            (Some(streams), Some(phase))
        }
    };
    ScreenLayout::Panes(PaneAreas {
        streams,
        phase,
        status,
    })
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
        match screen_layout(Rect::new(0, 0, width, height), channels, expanded) {
            ScreenLayout::Panes(p) => p,
            other => panic!("{width}×{height}: {other:?}"),
        }
    }

    #[test]
    fn below_the_minimum_is_too_small() {
        assert_eq!(
            screen_layout(Rect::new(0, 0, 59, 40), 3, None),
            ScreenLayout::TooSmall {
                width: 59,
                height: 40
            }
        );
        assert!(matches!(
            screen_layout(Rect::new(0, 0, 200, 15), 3, None),
            ScreenLayout::TooSmall { .. }
        ));
        assert!(matches!(
            screen_layout(Rect::new(0, 0, 60, 16), 3, None),
            ScreenLayout::Panes(_)
        ));
    }

    #[test]
    fn narrow_screens_stack_the_table_over_the_portrait() {
        let p = panes(80, 24, 4, None);
        assert_eq!(p.status, Rect::new(0, 23, 80, 1));
        assert_eq!(p.streams, Some(Rect::new(0, 0, 80, 7)));
        assert_eq!(p.phase, Some(Rect::new(0, 7, 80, 16)));
        // Many channels: the table takes at most half the body.
        let p = panes(80, 24, 40, None);
        assert_eq!(p.streams.map(|r| r.height), Some(11));
    }

    #[test]
    fn wide_screens_put_a_square_portrait_beside_the_table() {
        let p = panes(160, 48, 8, None);
        assert_eq!(p.streams, Some(Rect::new(0, 0, 80, 47)));
        assert_eq!(p.phase, Some(Rect::new(80, 0, 80, 47)));
        let p = panes(200, 30, 8, None);
        assert_eq!(p.phase.map(|r| r.width), Some(58));
    }

    #[test]
    fn an_expanded_pane_takes_the_whole_body() {
        let p = panes(80, 24, 4, Some(Pane::Phase));
        assert_eq!(p.phase, Some(Rect::new(0, 0, 80, 23)));
        assert_eq!(p.streams, None);
    }

    #[test]
    fn centered_fits_inside() {
        let r = centered(Rect::new(10, 10, 20, 10), 30, 4);
        assert_eq!(r, Rect::new(10, 13, 20, 4));
    }
}
