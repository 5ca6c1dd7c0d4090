//! The Motifs pane: what meta-learning found on the numeric channels (`pipeline::tracks::meta`).
//!
//! On top, the focused channel's last analysed window as a line chart, the top motif pair's two
//! windows drawn over it (A and B) and the top discord marked; under the chart a ruler row
//! names them with distinct glyphs (`├─A─┤`, `╞═B═╡`, `▲`), so they read apart without colour
//! too. Below, one row per numeric channel: the tuned motif window m and the period it came
//! from, the top motif and discord distances, the dynamics profile (embedding dimension E,
//! S-map θ, nonlinear or not, forecast skill ρ), the analysis length N, the round's run time
//! and its age.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Cell, Chart, Dataset, GraphType, Row, Table, TableState};

use crate::model::ChannelKind;
use crate::pipeline::tracks::meta::META_EVERY;
use crate::pipeline::{ChannelSnapshot, MetaView, Snapshot};
use crate::tui::app::{App, Pane};
use crate::tui::format;
use crate::tui::theme::Theme;

use super::{channel_block, note};

/// Rows the chart needs to show a shape (with the caption and the ruler: five).
const CHART_MIN_ROWS: u16 = 3;

/// The glyphs of the ruler row: start, fill, end of motif window A, the same for B, and the
/// discord's mark.
const RULER_A: [char; 3] = ['├', '─', '┤'];
const RULER_B: [char; 3] = ['╞', '═', '╡'];
const DISCORD_MARK: char = '▲';

/// Points per chart column the window is thinned to (its minimum and maximum per bucket, in
/// order): braille has two dots per cell, so more would draw nothing new.
const POINTS_PER_COLUMN: usize = 4;

/// Draw the Motifs pane of `snapshot` (the displayed one).
pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, theme: &Theme) {
    let focused = app.focus() == Pane::Motifs;
    let channel = app.focused_channel(snapshot);
    let view = channel.and_then(|c| snapshot.analysis.meta.get(&c.info.id));
    let about = channel.map(|channel| {
        let tuned = view.map_or_else(String::new, |v| {
            let period = v
                .period
                .map_or_else(|| "no period".to_string(), |p| format!("period {p}"));
            format!(
                " · m = {} ({period}), N = {}",
                v.window,
                format::count(v.length as u64)
            )
        });
        format!("· {}{tuned} ", channel.info.name)
    });
    let block = channel_block(" Motifs ", about, focused, theme);
    let Some(channel) = channel else {
        return note(frame, area, block, "no channels yet", theme);
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let rows = numeric_channels(snapshot);
    // The table: a header and a row per numeric channel, at most half the pane while the chart
    // fits, and at least the header and one row.
    let wanted = rows.len() as u16 + 1;
    let chart_rows = 1 + CHART_MIN_ROWS + 1;
    let table_rows = if inner.height >= chart_rows + 2 {
        wanted.min((inner.height / 2).max(2)).max(2)
    } else {
        inner.height.saturating_sub(1)
    };
    let [top, table] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(table_rows)]).areas(inner);
    render_window(frame, top, channel, view, theme);
    render_table(frame, table, &rows, snapshot, channel, focused, theme);
}

/// The numeric channels, in catalog order.
fn numeric_channels(snapshot: &Snapshot) -> Vec<&ChannelSnapshot> {
    snapshot
        .channels
        .iter()
        .filter(|c| {
            matches!(
                c.info.kind,
                ChannelKind::Scalar | ChannelKind::Vector { .. }
            )
        })
        .collect()
}

/// The caption, chart and ruler of the focused channel (or a line saying why there is none).
fn render_window(
    frame: &mut Frame,
    area: Rect,
    channel: &ChannelSnapshot,
    view: Option<&MetaView>,
    theme: &Theme,
) {
    if area.is_empty() {
        return;
    }
    let caption_area = Rect { height: 1, ..area };
    let Some(view) = view else {
        let text = if matches!(
            channel.info.kind,
            ChannelKind::Event { .. } | ChannelKind::Text
        ) {
            format!(
                "{} is not numeric: no motifs. Press c for the next channel.",
                channel.info.name
            )
        } else {
            format!(
                "collecting: {}/{} samples for the first round",
                format::count(channel.received.min(META_EVERY)),
                format::count(META_EVERY)
            )
        };
        frame.render_widget(Line::styled(text, theme.muted()), caption_area);
        return;
    };
    frame.render_widget(caption(view, theme), caption_area);
    if area.height < 1 + CHART_MIN_ROWS + 1 || view.series.len() < 2 {
        return;
    }
    let [_, chart, ruler] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    render_chart(frame, chart, view, theme);
    frame.render_widget(ruler_line(view, ruler.width, theme), ruler);
}

/// What the round found, in one line: the top pair and its distance, the top discord; or why
/// the round failed.
fn caption(view: &MetaView, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    if let Some(error) = &view.error {
        spans.push(Span::styled(format!("✗ {error}"), theme.error()));
        return Line::from(spans);
    }
    match view.motifs.first() {
        Some(pair) => {
            spans.push(Span::styled(
                format!("A #{}", format::count(pair.a)),
                theme.motif_a(),
            ));
            spans.push(Span::raw(" ↔ "));
            spans.push(Span::styled(
                format!("B #{}", format::count(pair.b)),
                theme.motif_b(),
            ));
            spans.push(Span::raw(format!(" d {:.3}", pair.distance)));
        }
        None => spans.push(Span::styled("no motif pair", theme.muted())),
    }
    if let Some(discord) = view.discords.first() {
        spans.push(Span::styled(" · ", theme.muted()));
        spans.push(Span::styled(
            format!("{DISCORD_MARK} discord #{}", format::count(discord.index)),
            theme.discord(),
        ));
        spans.push(Span::raw(format!(" d {:.3}", discord.distance)));
    }
    Line::from(spans)
}

/// `values` from sample `first` on, thinned to about `columns · POINTS_PER_COLUMN` points:
/// each bucket's minimum and maximum, in sample order, so no peak is lost.
fn thinned(values: &[f64], first: u64, columns: usize) -> Vec<(f64, f64)> {
    let buckets = (columns * POINTS_PER_COLUMN / 2).max(1);
    if values.len() <= 2 * buckets {
        return values
            .iter()
            .enumerate()
            .map(|(i, &v)| ((first + i as u64) as f64, v))
            .collect();
    }
    let mut points = Vec::with_capacity(2 * buckets);
    for b in 0..buckets {
        let range = b * values.len() / buckets..(b + 1) * values.len() / buckets;
        let slice = &values[range.clone()];
        let (lo, hi) = slice.iter().enumerate().fold((0, 0), |(lo, hi), (i, &v)| {
            (
                if v < slice[lo] { i } else { lo },
                if v > slice[hi] { i } else { hi },
            )
        });
        for i in if lo <= hi { [lo, hi] } else { [hi, lo] } {
            points.push(((first + (range.start + i) as u64) as f64, slice[i]));
        }
    }
    points
}

/// The window's samples `[start, start + len)` as chart points, if they lie in the series.
fn segment(view: &MetaView, start: u64, len: usize) -> Vec<(f64, f64)> {
    let Some(offset) = start.checked_sub(view.first_sample) else {
        return Vec::new();
    };
    let from = (offset as usize).min(view.series.len());
    let to = (from + len).min(view.series.len());
    view.series[from..to]
        .iter()
        .enumerate()
        .map(|(i, &v)| ((start + i as u64) as f64, v))
        .collect()
}

/// The x range of the chart: the window's first and last sample.
fn x_bounds(view: &MetaView) -> [f64; 2] {
    let first = view.first_sample as f64;
    [first, first + (view.series.len().max(2) - 1) as f64]
}

fn render_chart(frame: &mut Frame, area: Rect, view: &MetaView, theme: &Theme) {
    let (lo, hi) = view
        .series
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 1.0, hi + 1.0)
    };
    let base = thinned(&view.series, view.first_sample, usize::from(area.width));
    let discord = view
        .discords
        .first()
        .map(|d| segment(view, d.index, view.window))
        .unwrap_or_default();
    let (a, b) = view.motifs.first().map_or_else(Default::default, |p| {
        (
            segment(view, p.a, view.window),
            segment(view, p.b, view.window),
        )
    });
    let line = |data, style: Style| {
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(style)
            .data(data)
    };
    let datasets = vec![
        line(&base, theme.muted()),
        line(&discord, theme.discord()),
        line(&a, theme.motif_a()),
        line(
            &b,
            theme
                .motif_b()
                .remove_modifier(ratatui::style::Modifier::UNDERLINED),
        ),
    ];
    let chart = Chart::new(datasets)
        .x_axis(Axis::default().bounds(x_bounds(view)))
        .y_axis(Axis::default().bounds([lo, hi]));
    frame.render_widget(chart, area);
}

/// The chart column (of `width`) that sample `sample` is drawn in: the braille grid's own
/// mapping (two dots per cell, the x bounds onto dots `0..2·width − 1`).
fn column_of(sample: f64, [left, right]: [f64; 2], width: u16) -> usize {
    let dots = f64::from(width) * 2.0 - 1.0;
    let dot = ((sample - left) * dots / (right - left)).clamp(0.0, dots);
    dot as usize / 2
}

/// The ruler under the chart: the top pair's windows as `├─A─┤` and `╞═B═╡`, the discord's as
/// `▲`, in the columns the chart draws them.
fn ruler_line(view: &MetaView, width: u16, theme: &Theme) -> Line<'static> {
    let bounds = x_bounds(view);
    let mut cells: Vec<(char, Style)> = vec![(' ', Style::new()); usize::from(width)];
    let span_of = |start: u64| {
        let from = column_of(start as f64, bounds, width);
        let to = column_of((start + view.window as u64 - 1) as f64, bounds, width);
        from..=to.max(from)
    };
    if let Some(d) = view.discords.first() {
        for x in span_of(d.index) {
            cells[x] = (DISCORD_MARK, theme.discord());
        }
    }
    if let Some(pair) = view.motifs.first() {
        for (start, glyphs, letter, style) in [
            (pair.a, RULER_A, 'A', theme.motif_a()),
            (pair.b, RULER_B, 'B', theme.motif_b()),
        ] {
            let span = span_of(start);
            let (from, to) = (*span.start(), *span.end());
            for x in span {
                let glyph = match x {
                    _ if to - from < 2 => letter,
                    x if x == from => glyphs[0],
                    x if x == to => glyphs[2],
                    x if x == from + (to - from) / 2 => letter,
                    _ => glyphs[1],
                };
                cells[x] = (glyph, style);
            }
        }
    }
    // Merge runs of one style into spans.
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut run = String::new();
    let mut run_style = Style::new();
    for (glyph, style) in cells {
        if style != run_style && !run.is_empty() {
            spans.push(Span::styled(std::mem::take(&mut run), run_style));
        }
        run_style = style;
        run.push(glyph);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, run_style));
    }
    Line::from(spans)
}

/// How long ago a round finished, in at most six characters: `0.4 s`, `12 s`, `3 m`, `2 h`.
fn short_age(age: std::time::Duration) -> String {
    let s = age.as_secs_f64();
    if s < 10.0 {
        format!("{s:.1} s")
    } else if s < 60.0 {
        format!("{s:.0} s")
    } else if s < 3600.0 {
        format!("{} m", age.as_secs() / 60)
    } else {
        format!("{} h", age.as_secs() / 3600)
    }
}

/// A right-aligned cell, for numbers.
fn right<'a>(text: impl Into<Line<'a>>) -> Cell<'a> {
    Cell::from(text.into().alignment(Alignment::Right))
}

/// A column of the table.
#[derive(Debug, Clone, Copy)]
struct Column {
    header: &'static str,
    /// Cells wide; 0 for the channel column, which takes the rest.
    width: u16,
    /// Right-aligned (a number).
    numeric: bool,
    /// Narrow panes drop columns by increasing rank (0: never dropped).
    drop_rank: u8,
}

const fn column(header: &'static str, width: u16, numeric: bool, drop_rank: u8) -> Column {
    Column {
        header,
        width,
        numeric,
        drop_rank,
    }
}

/// The table's columns, in order.
const COLUMNS: [Column; 13] = [
    column("channel", 0, false, 0),
    column("m", 3, true, 0),
    column("period", 6, true, 3),
    column("motif", 6, true, 0),
    column("discord", 7, true, 6),
    column("E", 2, true, 0),
    column("τ", 3, true, 4),
    column("θ", 4, true, 4),
    column("nonlin", 6, false, 0),
    column("ρ", 5, true, 0),
    column("N", 5, true, 5),
    column("ms", 5, true, 2),
    column("age", 6, true, 1),
];

/// Room the channel column keeps before other columns are dropped: "✗ lorenz.x".
const CHANNEL_MIN_WIDTH: u16 = 10;

/// Headers of the columns that fit `width`: columns are dropped by rank until the fixed ones
/// and the gaps leave the channel column [`CHANNEL_MIN_WIDTH`].
fn kept_columns(width: u16) -> Vec<&'static str> {
    let mut kept: Vec<Column> = COLUMNS.to_vec();
    let needed = |kept: &[Column]| {
        kept.iter().map(|c| c.width).sum::<u16>() + kept.len() as u16 - 1 + CHANNEL_MIN_WIDTH
    };
    for rank in 1..=COLUMNS.iter().map(|c| c.drop_rank).max().unwrap_or(0) {
        if needed(&kept) <= width {
            break;
        }
        kept.retain(|c| c.drop_rank != rank);
    }
    kept.iter().map(|c| c.header).collect()
}

/// One row per numeric channel, the focused one selected.
fn render_table(
    frame: &mut Frame,
    area: Rect,
    rows: &[&ChannelSnapshot],
    snapshot: &Snapshot,
    focused_channel: &ChannelSnapshot,
    pane_focused: bool,
    theme: &Theme,
) {
    if area.is_empty() {
        return;
    }
    if rows.is_empty() {
        let text = Line::styled("no numeric channels", theme.muted());
        frame.render_widget(text, area);
        return;
    }
    let columns = kept_columns(area.width);
    let keep = |cells: Vec<Cell<'static>>| -> Vec<Cell<'static>> {
        cells
            .into_iter()
            .zip(COLUMNS)
            .filter(|(_, c)| columns.contains(&c.header))
            .map(|(cell, _)| cell)
            .collect()
    };
    let header = Row::new(keep(
        COLUMNS
            .iter()
            .map(|c| {
                if c.numeric {
                    right(c.header)
                } else {
                    Cell::from(c.header)
                }
            })
            .collect(),
    ))
    .style(theme.table_header());
    let dash = || right("—");
    let body = rows.iter().map(|c| {
        let Some(v) = snapshot.analysis.meta.get(&c.info.id) else {
            let mut cells = vec![Cell::from(c.info.name.clone())];
            cells.extend((1..COLUMNS.len()).map(|_| dash()));
            return Row::new(keep(cells)).style(theme.muted());
        };
        let name = if v.error.is_some() {
            Cell::from(Span::styled(format!("✗ {}", c.info.name), theme.error()))
        } else {
            Cell::from(c.info.name.clone())
        };
        let number = |x: Option<f64>, digits: usize| {
            x.filter(|x| x.is_finite())
                .map_or_else(dash, |x| right(format!("{x:.digits$}")))
        };
        let dynamics = v.dynamics.as_ref();
        Row::new(keep(vec![
            name,
            right(v.window.to_string()),
            v.period.map_or_else(dash, |p| right(p.to_string())),
            number(v.motifs.first().map(|p| p.distance), 3),
            number(v.discords.first().map(|d| d.distance), 3),
            dynamics.map_or_else(dash, |d| right(d.e.to_string())),
            dynamics.map_or_else(dash, |d| right(d.tau.to_string())),
            dynamics.map_or_else(dash, |d| right(format!("{}", d.theta))),
            Cell::from(dynamics.map_or("—", |d| if d.nonlinear { "yes" } else { "no" })),
            number(dynamics.map(|d| d.forecast_skill), 3),
            right(format::count(v.length as u64)),
            right(format!("{:.1}", v.elapsed_ms)),
            right(short_age(v.age)),
        ]))
    });
    let widths: Vec<Constraint> = COLUMNS
        .iter()
        .filter(|c| columns.contains(&c.header))
        .map(|c| {
            if c.width == 0 {
                Constraint::Fill(1)
            } else {
                Constraint::Length(c.width)
            }
        })
        .collect();
    let selected = rows
        .iter()
        .position(|c| c.info.id == focused_channel.info.id);
    let table = Table::new(body, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(theme.selected_row(pane_focused));
    let mut state = TableState::default().with_selected(selected);
    frame.render_stateful_widget(table, area, &mut state);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::pipeline::{DiscordView, MotifView};

    fn view(first_sample: u64, len: usize) -> MetaView {
        MetaView {
            rounds: 1,
            series: (0..len)
                .map(|i| (i as f64 * 0.3).sin())
                .collect::<Vec<_>>()
                .into(),
            first_sample,
            length: len,
            window: 10,
            period: Some(21),
            motifs: vec![MotifView {
                a: first_sample + 20,
                b: first_sample + 60,
                distance: 0.1,
            }],
            discords: vec![DiscordView {
                index: first_sample + 90,
                distance: 3.0,
            }],
            dynamics: None,
            elapsed_ms: 1.0,
            age: Duration::ZERO,
            error: None,
        }
    }

    #[test]
    fn the_ruler_marks_the_windows_where_the_chart_draws_them() {
        // 100 samples over 50 columns: two samples per column; window 10 is five columns.
        let v = view(1000, 100);
        let line = ruler_line(&v, 50, &Theme::NO_COLOR).to_string();
        assert_eq!(line.chars().count(), 50);
        let at = |c: char| line.chars().position(|x| x == c);
        assert_eq!(at('├'), Some(column_of(1020.0, x_bounds(&v), 50)));
        assert_eq!(at('├'), Some(10));
        assert_eq!(at('┤'), Some(14));
        assert_eq!(at('A'), Some(12));
        assert_eq!(at('╞'), Some(30));
        assert_eq!(at('B'), Some(32));
        assert_eq!(at('▲'), Some(45));
        assert_eq!(line.matches('▲').count(), 5);
    }

    #[test]
    fn narrow_tables_drop_the_least_needed_columns_first() {
        assert_eq!(kept_columns(80).len(), COLUMNS.len());
        assert_eq!(kept_columns(79).len(), COLUMNS.len() - 1, "age goes first");
        // 58 cells: age, run time, period, then τ and θ go (the rest needs 51 with the
        // channel's 10).
        let narrow = kept_columns(58);
        assert_eq!(
            narrow,
            ["channel", "m", "motif", "discord", "E", "nonlin", "ρ", "N"]
        );
        assert!(kept_columns(61).contains(&"θ"));
        let narrowest = kept_columns(20);
        assert_eq!(narrowest, ["channel", "m", "motif", "E", "nonlin", "ρ"]);
    }

    #[test]
    fn ages_fit_their_column() {
        for (secs, text) in [
            (0.35, "0.3 s"),
            (9.96, "10.0 s"),
            (12.4, "12 s"),
            (185.0, "3 m"),
        ] {
            assert_eq!(short_age(Duration::from_secs_f64(secs)), text);
        }
        assert_eq!(short_age(Duration::from_secs(7300)), "2 h");
    }

    #[test]
    fn thinning_keeps_every_extreme_in_order() {
        let values: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64).collect();
        let points = thinned(&values, 5, 10);
        assert_eq!(points.len(), 40);
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0));
        let max = points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        assert_eq!(max, 100.0);
        assert_eq!(thinned(&values[..30], 0, 10).len(), 30);
    }
}
