//! The Phase pane: the phase portrait of the focused channel.
//!
//! A vector channel is drawn as its first two components. A scalar channel (or a
//! one-component vector) is drawn as the delay embedding (x(t), x(t − τ)) with the delay the
//! attractor analysis chose for it, or the fixed [`DELAY_SAMPLES`] until there is one; the title
//! says which. Event and text channels have no numeric samples; the pane says so.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use midstream_widgets::phase_portrait::{AxisNames, PhasePortrait};

use crate::model::ChannelKind;
use crate::pipeline::{ChannelSnapshot, Snapshot};
use crate::tui::app::{App, Pane};
use crate::tui::format;
use crate::tui::theme::Theme;

use super::note;

/// The delay τ, in samples, of the scalar channels' delay embedding, until the attractor
/// engine supplies one for the channel (first minimum of the average mutual information, Fraser &
/// Swinney 1986). 10 samples is 0.1 time units of the Lorenz demo at its 0.01 sampling step,
/// close to where the mutual information of Lorenz x first levels off (about 0.1 to 0.16), so
/// the demo's attractor unfolds; for maps (Hénon, logistic) τ = 1 would be the natural choice.
pub const DELAY_SAMPLES: usize = 10;

/// Axis labels are drawn when the plot has at least this many columns and rows; below, the
/// labels would take most of the room.
const LABELS_MIN_SIZE: (u16, u16) = (30, 8);

/// Draw the Phase pane for the focused channel of `snapshot` (the displayed one).
pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, theme: &Theme) {
    let focused = app.focus() == Pane::Phase;
    let channel = app.focused_channel(snapshot);
    let plot = channel.map(|c| {
        let chosen = snapshot.analysis.chaos.get(&c.info.id).map(|v| v.delay);
        plot_of(c, chosen)
    });
    let mut title = vec![Span::styled(" Phase ", theme.title())];
    if let (Some(channel), Some(plot)) = (channel, plot) {
        // Inside the borders, after " Phase · NAME ", and a space before the corner.
        let room = usize::from(area.width)
            .saturating_sub(2 + " Phase · ".len() + channel.info.name.chars().count() + 2);
        let axes = plot.axes(room);
        let text = if axes.is_empty() {
            format!("· {} ", channel.info.name)
        } else {
            format!("· {} {axes} ", channel.info.name)
        };
        title.push(Span::styled(text, theme.muted()));
    }
    let mut block = Block::bordered()
        .border_style(theme.border(focused))
        .title(Line::from(title));
    if app.zoom() > 1.0 {
        block = block
            .title(Line::styled(format!(" zoom ×{} ", app.zoom()), theme.muted()).right_aligned());
    }
    let (Some(channel), Some(plot)) = (channel, plot) else {
        return note(frame, area, block, "no channels yet", theme);
    };
    let (xs, ys): (&[f64], &[f64]) = match plot {
        Plot::Components => (&channel.recent[0], &channel.recent[1]),
        Plot::Delay { tau, .. } => {
            let series = channel.recent.first().map_or(&[][..], Vec::as_slice);
            if series.len() <= tau {
                let text = format!("waiting for data ({} of {} samples)", series.len(), tau + 1);
                return note(frame, area, block, &text, theme);
            }
            let n = series.len();
            (&series[tau..], &series[..n - tau])
        }
        Plot::NotNumeric => {
            let carries = match channel.info.kind {
                ChannelKind::Text => "text tokens",
                _ => "events",
            };
            let text = format!(
                "{} carries {carries}, nothing numeric to plot. Press c for the next channel.",
                channel.info.name,
            );
            return note(frame, area, block, &text, theme);
        }
        Plot::Waiting => return note(frame, area, block, "waiting for data", theme),
    };
    let inner = block.inner(area);
    let mut portrait = PhasePortrait::new(xs, ys)
        .block(block)
        .zoom(app.zoom())
        .age_styles(theme.portrait_ages())
        .label_style(theme.muted());
    if inner.width >= LABELS_MIN_SIZE.0 && inner.height >= LABELS_MIN_SIZE.1 {
        let (x, y) = plot.axis_names();
        portrait = portrait.axis_labels(AxisNames { x, y });
    }
    frame.render_widget(portrait, area);
}

/// What the pane draws for a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plot {
    /// The first two components of a vector.
    Components,
    /// The delay embedding of a scalar series with delay `tau` samples, `chosen` by the
    /// attractor analysis or else the fixed default.
    Delay { tau: usize, chosen: bool },
    /// An event or text channel.
    NotNumeric,
    /// A numeric channel without samples yet.
    Waiting,
}

impl Plot {
    /// The axes for the title, in at most `room` characters: details go first, so a narrow
    /// pane shows `τ = 12 samples` whole rather than cut to `τ = 12 s`, which reads as seconds.
    fn axes(self, room: usize) -> String {
        match self {
            Plot::Components => "(x₀, x₁)".to_string(),
            Plot::Delay { tau, chosen } => {
                let how = if chosen { "chosen" } else { "fixed" };
                let delay = format!("τ = {}", format::samples(tau));
                [
                    format!("(x(t), x(t−τ)), {delay} ({how})"),
                    format!("{delay} ({how})"),
                    delay,
                    format!("τ = {tau}"),
                ]
                .into_iter()
                .find(|text| text.chars().count() <= room)
                .unwrap_or_default()
            }
            Plot::NotNumeric | Plot::Waiting => String::new(),
        }
    }

    fn axis_names(self) -> (&'static str, &'static str) {
        match self {
            Plot::Components => ("x₀", "x₁"),
            _ => ("x(t)", "x(t−τ)"),
        }
    }
}

/// What to draw for `channel`, given the delay the attractor analysis chose for it, if any (a
/// chosen delay of 0 is not an embedding and is ignored).
fn plot_of(channel: &ChannelSnapshot, chosen_delay: Option<usize>) -> Plot {
    match channel.info.kind {
        ChannelKind::Event { .. } | ChannelKind::Text => Plot::NotNumeric,
        _ if channel.recent.first().is_none_or(Vec::is_empty) => Plot::Waiting,
        _ if channel.recent.len() >= 2 => Plot::Components,
        _ => match chosen_delay.filter(|&tau| tau > 0) {
            Some(tau) => Plot::Delay { tau, chosen: true },
            None => Plot::Delay {
                tau: DELAY_SAMPLES,
                chosen: false,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::ChannelInfo;

    fn scalar() -> ChannelSnapshot {
        let mut c = ChannelSnapshot::new(ChannelInfo {
            id: 1,
            name: "x".into(),
            kind: ChannelKind::Scalar,
            unit: None,
            period_s: None,
        });
        c.recent = vec![vec![0.0; 100]];
        c
    }

    #[test]
    fn the_title_names_the_chosen_delay_else_the_fixed_one() {
        let fixed = plot_of(&scalar(), None);
        assert_eq!(
            fixed,
            Plot::Delay {
                tau: DELAY_SAMPLES,
                chosen: false
            }
        );
        assert!(
            fixed
                .axes(80)
                .contains(&format!("τ = {DELAY_SAMPLES} samples (fixed)"))
        );
        let chosen = plot_of(&scalar(), Some(17));
        assert_eq!(chosen.axes(80), "(x(t), x(t−τ)), τ = 17 samples (chosen)");
        assert!(
            plot_of(&scalar(), Some(1))
                .axes(80)
                .contains("τ = 1 sample (chosen)")
        );
        // Narrow panes drop the details first and never cut a unit.
        assert_eq!(chosen.axes(30), "τ = 17 samples (chosen)");
        assert_eq!(chosen.axes(20), "τ = 17 samples");
        assert_eq!(chosen.axes(10), "τ = 17");
        assert_eq!(chosen.axes(3), "");
        assert_eq!(plot_of(&scalar(), Some(0)), fixed);
    }
}
