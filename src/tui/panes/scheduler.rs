//! The Scheduler pane: per priority class, the percentiles of the wait (enqueue → start) or run
//! time (the `w` key switches), deadline misses, shed and rejected tasks, queue depth and
//! tasks/s in a table, and a latency histogram on log-scaled buckets for each class.
//!
//! The figures are taken out of [`SchedulerStats`] in one place, [`SchedulerView::from_stats`];
//! drawing ([`draw`]) works on that plain data, so tests draw fixed figures.

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table};

use midstream_widgets::latency_histogram::{
    CountScale, LatencyBucket, LatencyHistogram, PercentileMarker,
};

use crate::model::Catalog;
use crate::pipeline::Snapshot;
use crate::scheduler::{LatencyKind, LatencyPercentiles, LogBucketSpec, SchedulerStats, TaskClass};
use crate::tui::app::{App, Pane};
use crate::tui::format;
use crate::tui::theme::Theme;

use super::note;

/// Log-scaled buckets per decade of latency: three (1, 2.2, 4.6 × 10ᵏ) keep the 27 buckets of
/// the default 10 ns … 10 s range narrower than a 40-column histogram.
pub const BUCKETS_PER_DECADE: u32 = 3;

/// A histogram cell: a title row above at least two rows of bars, the axis and its labels.
const HISTOGRAM_MIN_ROWS: u16 = 5;
/// Narrowest histogram cell: a few decade labels ("10ns 100ns 1µs") fit.
const HISTOGRAM_MIN_WIDTH: u16 = 18;
/// Rows of the percentile table: header and one row per class.
const TABLE_ROWS: u16 = 1 + TaskClass::COUNT as u16;

/// One class's figures, as the pane draws them.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassView {
    pub class: TaskClass,
    pub percentiles: LatencyPercentiles,
    /// The histogram on the buckets every class shares.
    pub buckets: Vec<LatencyBucket>,
    pub deadline_misses: u64,
    pub shed: u64,
    pub rejected: u64,
    pub queue_depth: usize,
    pub capacity: usize,
    pub tasks_per_s: f64,
}

/// What the Scheduler pane draws.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerView {
    /// Wait or run time.
    pub kind: LatencyKind,
    pub workers: usize,
    pub uptime: Duration,
    /// One per class, most urgent first.
    pub classes: Vec<ClassView>,
    /// Shed tasks by class and label ("normal attractor on lorenz.x"), most first.
    pub shed_by_label: Vec<(String, u64)>,
}

impl SchedulerView {
    /// The figures of `stats` for latency `kind`; channel ids in shed labels are named from
    /// `catalog`. Every class is drawn on the same buckets, covering all of them, so the
    /// histograms compare at a glance.
    pub fn from_stats(stats: &SchedulerStats, kind: LatencyKind, catalog: &Catalog) -> Self {
        let spec = LogBucketSpec::covering(
            TaskClass::ALL.iter().map(|&c| stats.histogram(c, kind)),
            BUCKETS_PER_DECADE,
        );
        let classes = TaskClass::ALL
            .iter()
            .map(|&class| {
                let counters = stats.class(class);
                ClassView {
                    class,
                    percentiles: stats.percentiles(class, kind),
                    buckets: stats
                        .log_buckets(class, kind, &spec)
                        .into_iter()
                        .map(|b| LatencyBucket {
                            lower_ns: b.lower_ns,
                            upper_ns: b.upper_ns,
                            count: b.count,
                        })
                        .collect(),
                    deadline_misses: counters.deadline_misses,
                    shed: counters.shed,
                    rejected: counters.rejected,
                    queue_depth: counters.queue_depth,
                    capacity: counters.capacity,
                    tasks_per_s: counters.tasks_per_s,
                }
            })
            .collect();
        let mut shed_by_label: Vec<(String, u64)> = stats
            .shed_by_label
            .iter()
            .map(|s| {
                let channel = catalog
                    .channels
                    .iter()
                    .find(|c| c.id == s.label.channel)
                    .map_or_else(
                        || format!("channel {}", s.label.channel),
                        |c| c.name.clone(),
                    );
                (
                    format!("{} {} on {channel}", s.class, s.label.engine),
                    s.count,
                )
            })
            .collect();
        shed_by_label.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        SchedulerView {
            kind,
            workers: stats.workers,
            uptime: stats.uptime,
            classes,
            shed_by_label,
        }
    }

    /// Tasks finished per second over all classes.
    pub fn tasks_per_s(&self) -> f64 {
        self.classes.iter().map(|c| c.tasks_per_s).sum()
    }
}

/// Draw the Scheduler pane of `snapshot` (the displayed one), with the latency the app chose.
pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, theme: &Theme) {
    let focused = app.focus() == Pane::Scheduler;
    match &snapshot.analysis.scheduler {
        Some(stats) => {
            let view = SchedulerView::from_stats(stats, app.latency_kind(), &snapshot.catalog);
            draw(frame, area, focused, &view, theme);
        }
        None => {
            let block = Block::bordered()
                .border_style(theme.border(focused))
                .title(Line::styled(" Scheduler ", theme.title()));
            note(frame, area, block, "no scheduler", theme);
        }
    }
}

/// Draw `view` as the Scheduler pane.
pub fn draw(frame: &mut Frame, area: Rect, focused: bool, view: &SchedulerView, theme: &Theme) {
    let (shown, other) = match view.kind {
        LatencyKind::Wait => ("wait", "run"),
        LatencyKind::Run => ("run", "wait"),
    };
    let block = Block::bordered()
        .border_style(theme.border(focused))
        .title(Line::from(vec![
            Span::styled(" Scheduler ", theme.title()),
            Span::styled(format!("· {shown} time "), theme.title()),
            Span::styled(
                format!(
                    "(w: {other}) · {} workers · {} tasks/s · up {} ",
                    view.workers,
                    format::rate(view.tasks_per_s()),
                    format::duration(view.uptime)
                ),
                theme.muted(),
            ),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let shed_rows = u16::from(!view.shed_by_label.is_empty());
    let [table, histograms, shed] = Layout::vertical([
        Constraint::Length(TABLE_ROWS),
        Constraint::Fill(1),
        Constraint::Length(shed_rows),
    ])
    .areas(inner);
    render_table(frame, table, view, theme);
    render_histograms(frame, histograms, view, shed, theme);
    if shed_rows > 0 {
        let text = view
            .shed_by_label
            .iter()
            .map(|(label, n)| format!("{label} {}", format::count(*n)))
            .collect::<Vec<_>>()
            .join(" · ");
        let line = Line::from(vec![
            Span::styled("shed: ", theme.warning()),
            Span::raw(text),
        ]);
        frame.render_widget(line, shed);
    }
}

/// A right-aligned cell, for numbers.
fn right<'a>(text: impl Into<Line<'a>>) -> Cell<'a> {
    Cell::from(text.into().alignment(Alignment::Right))
}

fn render_table(frame: &mut Frame, area: Rect, view: &SchedulerView, theme: &Theme) {
    let header = Row::new([
        Cell::from("class"),
        right("p50"),
        right("p90"),
        right("p99"),
        right("p99.9"),
        right("max"),
        right("miss"),
        right("shed"),
        right("rej"),
        right("queue"),
        right("tasks/s"),
    ])
    .style(theme.table_header());
    let rows = view.classes.iter().map(|c| {
        let p = &c.percentiles;
        let latency = |ns: u64| {
            if p.count == 0 {
                right(Span::styled("—", theme.muted()))
            } else {
                right(format::format_ns(ns))
            }
        };
        let flagged = |n: u64| {
            let text = format::count(n);
            if n > 0 {
                right(Span::styled(text, theme.warning()))
            } else {
                right(text)
            }
        };
        Row::new([
            Cell::from(c.class.name()),
            latency(p.p50_ns),
            latency(p.p90_ns),
            latency(p.p99_ns),
            latency(p.p999_ns),
            latency(p.max_ns),
            flagged(c.deadline_misses),
            flagged(c.shed),
            flagged(c.rejected),
            right(format::count(c.queue_depth as u64)),
            right(format::rate(c.tasks_per_s)),
        ])
    });
    let widths = [
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(7),
    ];
    let table = Table::new(rows, widths).header(header).column_spacing(1);
    frame.render_widget(table, area);
}

/// The four histograms in a 2×2 grid, else in one row of four, else four stacked, whichever
/// first gives every cell [`HISTOGRAM_MIN_ROWS`]×[`HISTOGRAM_MIN_WIDTH`]; a note when none does.
fn render_histograms(
    frame: &mut Frame,
    area: Rect,
    view: &SchedulerView,
    fallback_note: Rect,
    theme: &Theme,
) {
    let fits = |rows: u16, cols: u16| {
        area.height / rows >= HISTOGRAM_MIN_ROWS && area.width / cols >= HISTOGRAM_MIN_WIDTH
    };
    let Some((rows, cols)) = [(2, 2), (1, 4), (4, 1)]
        .into_iter()
        .find(|&(r, c)| fits(r, c))
    else {
        let target = if area.is_empty() { fallback_note } else { area };
        if !target.is_empty() {
            let text = "histograms need more room: Enter expands the pane";
            frame.render_widget(
                Line::styled(text, theme.muted()),
                Rect {
                    height: 1,
                    ..target
                },
            );
        }
        return;
    };
    let row_areas = Layout::vertical(vec![Constraint::Fill(1); usize::from(rows)]).split(area);
    let cells = row_areas.iter().flat_map(|row| {
        Layout::horizontal(vec![Constraint::Fill(1); usize::from(cols)])
            .spacing(1)
            .split(*row)
            .to_vec()
    });
    for (cell, class) in cells.zip(&view.classes) {
        render_class_histogram(frame, cell, class, view.kind, theme);
    }
}

fn render_class_histogram(
    frame: &mut Frame,
    area: Rect,
    class: &ClassView,
    kind: LatencyKind,
    theme: &Theme,
) {
    // The longest title that fits: never a cut-off count.
    let name = class.class.name();
    let with_kind = format!("{name} · {}", kind.name());
    let count = format!("  n {}", format::count(class.percentiles.count));
    let fits = |text: &str| text.chars().count() <= usize::from(area.width);
    let title = if fits(&format!("{with_kind}{count}")) {
        Line::from(vec![
            Span::styled(with_kind, theme.title()),
            Span::styled(count, theme.muted()),
        ])
    } else if fits(&with_kind) {
        Line::styled(with_kind, theme.title())
    } else {
        Line::styled(name, theme.title())
    };
    frame.render_widget(title, Rect { height: 1, ..area });
    let markers: Vec<PercentileMarker> = class
        .percentiles
        .named()
        .into_iter()
        .filter(|_| class.percentiles.count > 0)
        .map(|(label, ns)| PercentileMarker::new(label, ns))
        .collect();
    let histogram = LatencyHistogram::new(&class.buckets)
        .markers(&markers)
        .legend(false)
        .count_scale(CountScale::Log)
        .bar_style(theme.good())
        .marker_style(theme.warning())
        .label_style(theme.muted());
    let bars = Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(1),
        ..area
    };
    frame.render_widget(histogram, bars);
}
