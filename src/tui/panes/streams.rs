//! The Streams pane: one row per channel (name, kind, records/s, total, gaps, last value), the
//! source, the connection's round-trip time and, while it lasts, a stall in the title.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, HighlightSpacing, Row, Table, TableState};

use crate::model::ChannelKind;
use crate::pipeline::{ChannelSnapshot, LinkState, Snapshot};
use crate::tui::app::{App, Pane};
use crate::tui::format;
use crate::tui::theme::Theme;

/// Bounds of the name column's width: long names are cut rather than squeeze the numbers.
const NAME_WIDTH: (u16, u16) = (7, 24);

/// Draw the Streams pane of `snapshot` (the displayed one) into `area`.
pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, theme: &Theme) {
    let focused = app.focus() == Pane::Streams;
    let block = Block::bordered()
        .border_style(theme.border(focused))
        .title(Line::from(vec![
            Span::styled(" Streams ", theme.title()),
            Span::styled(source_title(snapshot), theme.muted()),
        ]));
    if snapshot.channels.is_empty() {
        let note = Line::styled("no channels yet", theme.muted()).alignment(Alignment::Center);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let row = Rect {
            y: inner.y + inner.height / 2,
            height: inner.height.min(1),
            ..inner
        };
        frame.render_widget(note, row);
        return;
    }

    let name_width = snapshot
        .channels
        .iter()
        .map(|c| c.info.name.chars().count())
        .max()
        .map_or(NAME_WIDTH.0, |w| {
            u16::try_from(w)
                .unwrap_or(u16::MAX)
                .clamp(NAME_WIDTH.0, NAME_WIDTH.1)
        });
    let header = Row::new([
        Cell::from("channel"),
        Cell::from("kind"),
        right("rec/s"),
        right("total"),
        right("gaps"),
        Cell::from("last"),
    ])
    .style(theme.table_header());
    let rows = snapshot.channels.iter().map(|c| channel_row(c, theme));
    let widths = [
        Constraint::Length(name_width),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Length(6),
        Constraint::Fill(1),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme.selected_row(focused))
        .highlight_symbol("▸")
        .highlight_spacing(HighlightSpacing::Always);
    let selected = app.focused_channel(snapshot).and_then(|f| {
        snapshot
            .channels
            .iter()
            .position(|c| c.info.id == f.info.id)
    });
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

/// A right-aligned cell, for numbers.
fn right<'a>(text: impl Into<Line<'a>>) -> Cell<'a> {
    Cell::from(text.into().alignment(Alignment::Right))
}

fn channel_row<'a>(c: &'a ChannelSnapshot, theme: &Theme) -> Row<'a> {
    let kind = match &c.info.kind {
        ChannelKind::Vector { dims } => format!("vec{dims}"),
        other => other.label().to_string(),
    };
    let gaps = format::count(c.missing);
    let gaps = if c.missing > 0 {
        Cell::from(Line::styled(gaps, theme.warning()).alignment(Alignment::Right))
    } else {
        right(gaps)
    };
    let last = match &c.last_value {
        Some(v) => Cell::from(v.to_string()),
        None => Cell::from(Span::styled("—", theme.muted())),
    };
    Row::new([
        Cell::from(c.info.name.as_str()),
        Cell::from(kind),
        right(format::rate(c.rate_hz)),
        right(format::count(c.received)),
        gaps,
        last,
    ])
}

/// The source and, on a live link, the round-trip time: `· demo on 127.0.0.1:4433 · RTT 0.4 ms `,
/// followed by `· STALLED for 4.2 s ` while nothing arrives.
fn source_title(snapshot: &Snapshot) -> String {
    let source = &snapshot.source;
    let mut title = String::new();
    if !source.label.is_empty() {
        title.push_str(&format!("· {} ", source.label));
    }
    if !matches!(source.link, LinkState::Replay { .. }) {
        let rtt = source.rtt.map_or_else(|| "—".to_string(), format::duration);
        title.push_str(&format!("· RTT {rtt} "));
    }
    if let LinkState::Stalled { silent_for, .. } = &source.link {
        title.push_str(&format!("· STALLED for {:.1} s ", silent_for.as_secs_f64()));
    }
    title
}
