//! The Patterns pane: reference patterns found in the numeric channels (DTW matches, newest
//! first) and repetition loops on text channels, with the pattern library in the title.
//!
//! On top, a sparkline of the focused channel's recent samples (the window the phase portrait
//! draws) marks where the newest match on that channel lies, while it is still in the window,
//! and otherwise reminds that `a` makes the latest samples a pattern. Under the matches, the
//! patterns the learning loop learnt (`learnt` rows; `*` pinned, `▸` the one `k` keeps and `x`
//! drops, `l` selects the next).

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Sparkline, SparklineBar, Table};

use crate::model::ChannelKind;
use crate::pipeline::{ChannelSnapshot, PatternMatchView, RepetitionView, Snapshot};
use crate::tui::app::{App, Pane};
use crate::tui::format;
use crate::tui::series::{SPARK_LEVELS, downsample, mean, scale_to_levels};
use crate::tui::theme::Theme;

/// Rows of the focused channel's strip: a caption and a two-row sparkline.
const STRIP_ROWS: u16 = 3;
/// The strip is drawn only when the pane has at least this many inner rows, so the lists keep
/// room for a few rows each.
const STRIP_MIN_PANE_ROWS: u16 = 10;
/// The mark in front of the newest match on the focused channel, in the strip's caption and
/// in the list.
const MATCH_MARK: &str = "▲";

/// Draw the Patterns pane of `snapshot` (the displayed one).
pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, theme: &Theme) {
    let focused = app.focus() == Pane::Patterns;
    let analysis = &snapshot.analysis;
    let library = if analysis.patterns.is_empty() {
        "· no reference patterns ".to_string()
    } else {
        format!("· library: {} ", analysis.patterns.join(", "))
    };
    let mut title = vec![
        Span::styled(" Patterns ", theme.title()),
        Span::styled(library, theme.muted()),
    ];
    if analysis.samples_shed > 0 {
        // The searches fell behind (more channels than the cores can search): say so.
        title.push(Span::styled(
            format!("· {} samples shed under load ", analysis.samples_shed),
            theme.warning(),
        ));
    }
    let block = Block::bordered()
        .border_style(theme.border(focused))
        .title(Line::from(title));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }

    let channel = app
        .focused_channel(snapshot)
        .filter(|c| {
            matches!(
                c.info.kind,
                ChannelKind::Scalar | ChannelKind::Vector { .. }
            )
        })
        .filter(|c| c.recent.first().is_some_and(|s| !s.is_empty()));
    let highlighted = channel.and_then(|c| match_in_window(c, &analysis.matches));
    let strip_rows = if channel.is_some() && inner.height >= STRIP_MIN_PANE_ROWS {
        STRIP_ROWS
    } else {
        0
    };
    let repetition_rows = if analysis.repetitions.is_empty() {
        2
    } else {
        // Title, header and the loops, at most a third of the pane.
        (analysis.repetitions.len() as u16 + 2)
            .min(inner.height / 3)
            .max(3)
    };
    let learnt = learnt_patterns(snapshot);
    let learnt_rows = if learnt.is_empty() {
        0
    } else {
        (learnt.len() as u16 + 1).min(inner.height / 4).max(2)
    };
    let [strip, matches, learnt_area, repetitions] = Layout::vertical([
        Constraint::Length(strip_rows),
        Constraint::Fill(1),
        Constraint::Length(learnt_rows),
        Constraint::Length(repetition_rows),
    ])
    .areas(inner);
    render_learnt(frame, learnt_area, &learnt, app.learnt_selection(), theme);
    if let Some(channel) = channel {
        render_strip(
            frame,
            strip,
            channel,
            highlighted,
            app.capture_samples(),
            theme,
        );
    }
    render_matches(frame, matches, snapshot, highlighted, theme);
    render_repetitions(frame, repetitions, &analysis.repetitions, theme);
}

/// Every learnt pattern, with its channel's name, in channel order.
pub(crate) fn learnt_patterns(
    snapshot: &Snapshot,
) -> Vec<(String, crate::pipeline::LearntPatternView)> {
    let mut all = Vec::new();
    for channel in &snapshot.channels {
        if let Some(view) = snapshot.analysis.learning.get(&channel.info.id) {
            for p in &view.learnt {
                all.push((channel.info.name.clone(), p.clone()));
            }
        }
    }
    all
}

/// The learnt patterns, the selected one marked.
fn render_learnt(
    frame: &mut Frame,
    area: Rect,
    learnt: &[(String, crate::pipeline::LearntPatternView)],
    selected: usize,
    theme: &Theme,
) {
    if area.is_empty() {
        return;
    }
    let selected = selected % learnt.len().max(1);
    let mut lines = vec![Line::styled(
        "learnt patterns (l select, k keep, d drop)",
        theme.table_header(),
    )];
    for (i, (channel, p)) in learnt.iter().enumerate() {
        let line = format!(
            "{}{} {} on {channel}, samples {}..{}, threshold {:.3}{}",
            if i == selected { "▸" } else { " " },
            if p.pinned { "*" } else { " " },
            p.name,
            p.from,
            p.to,
            p.threshold,
            if p.pinned { ", kept" } else { "" }
        );
        lines.push(if i == selected {
            Line::styled(line, theme.highlight())
        } else {
            Line::raw(line)
        });
    }
    frame.render_widget(ratatui::widgets::Paragraph::new(lines), area);
}

/// The newest match on `channel` when it lies inside the channel's recent samples.
fn match_in_window<'a>(
    channel: &ChannelSnapshot,
    matches: &'a [PatternMatchView],
) -> Option<&'a PatternMatchView> {
    let shown = channel.recent.first().map_or(0, Vec::len) as u64;
    let first_shown = channel.received.saturating_sub(shown);
    matches
        .iter()
        .find(|m| m.channel == channel.info.id)
        .filter(|m| m.start_sample >= first_shown && m.start_sample < channel.received)
}

/// The focused channel's recent samples as a sparkline, the columns of the match highlighted.
fn render_strip(
    frame: &mut Frame,
    area: Rect,
    channel: &ChannelSnapshot,
    highlighted: Option<&PatternMatchView>,
    capture_samples: usize,
    theme: &Theme,
) {
    if area.height < 2 {
        return;
    }
    let series = channel.recent.first().map_or(&[][..], Vec::as_slice);
    let first_shown = channel.received.saturating_sub(series.len() as u64);
    let caption = match highlighted {
        Some(m) => Line::from(vec![
            Span::styled(format!("{MATCH_MARK} {}", m.pattern), theme.highlight()),
            Span::raw(format!(
                " on {}: samples {}–{}, d = {:.3}, {} ago",
                channel.info.name,
                format::count(m.start_sample),
                format::count(m.start_sample + m.len as u64),
                m.distance,
                format::duration(m.age)
            )),
        ]),
        None => Line::styled(
            format!(
                "{}: no match in the last {} samples · a: add the last {} as a pattern",
                channel.info.name,
                format::count(series.len() as u64),
                capture_samples
            ),
            theme.muted(),
        ),
    };
    frame.render_widget(caption, Rect { height: 1, ..area });

    let columns = downsample(series, usize::from(area.width), mean);
    let (levels, _) = scale_to_levels(&columns.iter().map(|(v, _)| Some(*v)).collect::<Vec<_>>());
    let span = highlighted.map(|m| {
        let start = (m.start_sample - first_shown) as usize;
        start..start + m.len.max(1)
    });
    let bars: Vec<SparklineBar> = levels
        .into_iter()
        .zip(&columns)
        .map(|(level, (_, range))| {
            let bar = SparklineBar::from(level);
            match &span {
                Some(s) if range.start < s.end && s.start < range.end => {
                    bar.style(theme.highlight())
                }
                _ => bar,
            }
        })
        .collect();
    let sparkline = Sparkline::default()
        .data(bars)
        .max(SPARK_LEVELS)
        .style(theme.muted());
    let rows = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    frame.render_widget(sparkline, rows);
}

/// A right-aligned cell, for numbers.
fn right<'a>(text: impl Into<Line<'a>>) -> Cell<'a> {
    Cell::from(text.into().alignment(Alignment::Right))
}

fn render_matches(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    highlighted: Option<&PatternMatchView>,
    theme: &Theme,
) {
    if area.is_empty() {
        return;
    }
    let matches = &snapshot.analysis.matches;
    let title = Line::from(vec![
        Span::styled("Matches", theme.title()),
        Span::styled(format!(" ({}, newest first)", matches.len()), theme.muted()),
    ]);
    frame.render_widget(title, Rect { height: 1, ..area });
    let body = Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(1),
        ..area
    };
    if matches.is_empty() {
        let numeric = snapshot
            .channels
            .iter()
            .filter(|c| {
                matches!(
                    c.info.kind,
                    ChannelKind::Scalar | ChannelKind::Vector { .. }
                )
            })
            .count();
        let text = format!(
            "no matches yet ({} patterns searched on {numeric} numeric channels)",
            snapshot.analysis.patterns.len()
        );
        frame.render_widget(Line::styled(text, theme.muted()), body);
        return;
    }
    let header = Row::new([
        Cell::from(""),
        Cell::from("pattern"),
        Cell::from("channel"),
        right("dist"),
        right("at"),
        right("ago"),
    ])
    .style(theme.table_header());
    let rows = matches.iter().map(|m| {
        let marked = highlighted.is_some_and(|h| std::ptr::eq(h, m));
        let mark = if marked {
            Cell::from(Span::styled(MATCH_MARK, theme.highlight()))
        } else {
            Cell::from("")
        };
        Row::new([
            mark,
            Cell::from(m.pattern.as_str()),
            Cell::from(m.channel_name.as_str()),
            right(format!("{:.3}", m.distance)),
            right(format::clock_ns(m.t_ns)),
            right(format::duration(m.age)),
        ])
    });
    let widths = [
        Constraint::Length(1),
        Constraint::Fill(2),
        Constraint::Fill(2),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(9),
    ];
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    frame.render_widget(table, body);
}

fn render_repetitions(frame: &mut Frame, area: Rect, loops: &[RepetitionView], theme: &Theme) {
    if area.is_empty() {
        return;
    }
    let title = Line::from(vec![
        Span::styled("Repetition loops", theme.title()),
        Span::styled(" on text channels", theme.muted()),
    ]);
    frame.render_widget(title, Rect { height: 1, ..area });
    let body = Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(1),
        ..area
    };
    if loops.is_empty() {
        frame.render_widget(Line::styled("none", theme.muted()), body);
        return;
    }
    let header = Row::new([
        Cell::from("channel"),
        Cell::from("repeated tokens"),
        right("lag"),
        right("dist"),
        right("ago"),
    ])
    .style(theme.table_header());
    let rows = loops.iter().map(|r| {
        Row::new([
            Cell::from(Span::styled(r.channel_name.as_str(), theme.warning())),
            Cell::from(format!("“{}”", r.tokens.join(" "))),
            right(format::count(r.lag as u64)),
            right(format::count(r.distance as u64)),
            right(format::duration(r.age)),
        ])
    });
    let widths = [
        Constraint::Length(10),
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Length(9),
    ];
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    frame.render_widget(table, body);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::ChannelInfo;

    fn channel(received: u64, shown: usize) -> ChannelSnapshot {
        let mut c = ChannelSnapshot::new(ChannelInfo {
            id: 4,
            name: "x".into(),
            kind: ChannelKind::Scalar,
            unit: None,
            period_s: None,
        });
        c.received = received;
        c.recent = vec![vec![0.0; shown]];
        c
    }

    fn found(channel: u32, start_sample: u64) -> PatternMatchView {
        PatternMatchView {
            pattern: "spike".into(),
            channel,
            channel_name: "x".into(),
            distance: 0.5,
            start_sample,
            len: 64,
            t_ns: 0,
            age: Duration::ZERO,
        }
    }

    #[test]
    fn only_the_newest_match_on_the_channel_inside_the_window_is_marked() {
        let c = channel(10_000, 2048);
        // Newest first: another channel's, then this one's inside the window (from 7952).
        let matches = [found(9, 9_900), found(4, 8_000), found(4, 9_000)];
        assert_eq!(
            match_in_window(&c, &matches).map(|m| m.start_sample),
            Some(8_000)
        );
        // The channel's newest match has scrolled out of the window: nothing is marked, not
        // even an older one.
        let matches = [found(4, 7_000), found(4, 6_000)];
        assert_eq!(match_in_window(&c, &matches), None);
        assert_eq!(match_in_window(&c, &[]), None);
    }

    #[test]
    fn without_a_match_the_strip_says_how_to_add_a_pattern() {
        let c = channel(10_000, 2048);
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 3)).unwrap();
        terminal
            .draw(|frame| {
                render_strip(frame, frame.area(), &c, None, 48, &Theme::NO_COLOR);
            })
            .unwrap();
        let text = terminal.backend().to_string();
        assert!(
            text.contains(
                "x: no match in the last 2,048 samples · a: add the last 48 as a pattern"
            ),
            "{text}"
        );
    }
}
