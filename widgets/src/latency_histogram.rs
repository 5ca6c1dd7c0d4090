//! A latency histogram on log-scaled buckets, with percentile markers.
//!
//! The widget draws what it is given: contiguous buckets (`[lower_ns, upper_ns)` and a count,
//! usually equal widths on a log scale), and named markers such as p50 / p99 / max. It knows
//! nothing of where the numbers come from.
//!
//! ```text
//! p50 1.20µs  p90 3.40µs  p99 12.0µs  max 1.10ms        n 10.0k
//!         ▂▅█▇▄▂ ┊               ┊
//!       ▁▇██████▆▃▁      ▁   ▁   ┊
//! ──────┴──p50────┴p99────┴──max─┴────
//! 10ns    100ns   1µs     10µs    100µs
//! ```
//!
//! From the top: a legend with every marker's value and the sample count; the bars (eighth-block
//! resolution, any non-empty bucket shows at least one eighth); the axis, with a tick at each
//! power of ten and each marker's label where it falls; the decade labels. Markers also draw a
//! dotted line through the empty cells above their bucket. When the area is too small, the
//! legend goes first, then the decade labels, then the axis; the bars stay. When there are more
//! buckets than columns, neighbouring buckets are merged into one column.

use std::fmt::Write as _;

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::style::{Modifier, Style};
use ratatui_core::symbols;
use ratatui_core::widgets::Widget;
use ratatui_widgets::block::Block;

use crate::format::{format_ns, is_power_of_ten};

/// One bucket: `count` samples in `[lower_ns, upper_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencyBucket {
    pub lower_ns: u64,
    pub upper_ns: u64,
    pub count: u64,
}

/// A named value to mark on the axis, such as `("p99", 12_000)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PercentileMarker<'a> {
    pub label: &'a str,
    pub value_ns: u64,
}

impl<'a> PercentileMarker<'a> {
    pub const fn new(label: &'a str, value_ns: u64) -> Self {
        PercentileMarker { label, value_ns }
    }
}

/// How counts map to bar heights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CountScale {
    /// Height proportional to the count.
    #[default]
    Linear,
    /// Height proportional to `ln(1 + count)`: tails of a few samples stay visible next to a
    /// peak of millions.
    Log,
}

/// The histogram widget. Build it with [`LatencyHistogram::new`] and the setters.
#[derive(Debug, Clone)]
pub struct LatencyHistogram<'a> {
    buckets: &'a [LatencyBucket],
    markers: &'a [PercentileMarker<'a>],
    block: Option<Block<'a>>,
    count_scale: CountScale,
    legend: bool,
    bar_style: Style,
    marker_style: Style,
    axis_style: Style,
    label_style: Style,
}

/// Text shown in the bars' place when every bucket is empty.
const NO_SAMPLES: &str = "no samples";
/// Columns between two decade labels on the bottom row, at least.
const LABEL_GAP: u16 = 1;
/// Dotted vertical line a marker draws through empty cells.
const MARKER_LINE: &str = "┊";
/// Axis symbols.
const AXIS: &str = "─";
const DECADE_TICK: &str = "┴";

impl<'a> LatencyHistogram<'a> {
    /// A histogram of `buckets`, in increasing order.
    pub fn new(buckets: &'a [LatencyBucket]) -> Self {
        LatencyHistogram {
            buckets,
            markers: &[],
            block: None,
            count_scale: CountScale::Linear,
            legend: true,
            bar_style: Style::new(),
            marker_style: Style::new().add_modifier(Modifier::BOLD),
            axis_style: Style::new(),
            label_style: Style::new(),
        }
    }

    /// Markers to draw, in the order the legend lists them.
    pub fn markers(mut self, markers: &'a [PercentileMarker<'a>]) -> Self {
        self.markers = markers;
        self
    }

    /// Wraps the histogram in `block`.
    pub fn block(mut self, block: Block<'a>) -> Self {
        self.block = Some(block);
        self
    }

    pub fn count_scale(mut self, scale: CountScale) -> Self {
        self.count_scale = scale;
        self
    }

    /// Whether to draw the legend row (default true).
    pub fn legend(mut self, legend: bool) -> Self {
        self.legend = legend;
        self
    }

    pub fn bar_style(mut self, style: Style) -> Self {
        self.bar_style = style;
        self
    }

    /// Style of marker labels, marker lines and the legend (default bold).
    pub fn marker_style(mut self, style: Style) -> Self {
        self.marker_style = style;
        self
    }

    pub fn axis_style(mut self, style: Style) -> Self {
        self.axis_style = style;
        self
    }

    /// Style of the decade labels and the sample count.
    pub fn label_style(mut self, style: Style) -> Self {
        self.label_style = style;
        self
    }
}

impl Widget for LatencyHistogram<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        Widget::render(&self, area, buf);
    }
}

impl Widget for &LatencyHistogram<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let inner = match &self.block {
            Some(block) => {
                block.render(area, buf);
                block.inner(area)
            }
            None => area,
        };
        self.render_histogram(inner, buf);
    }
}

/// One drawn column group: the buckets merged into it and where it sits.
#[derive(Debug, Clone, Copy)]
struct Column {
    x: u16,
    width: u16,
    lower_ns: u64,
    upper_ns: u64,
    count: u64,
}

/// Which rows the area has room for.
struct Rows {
    legend: Option<u16>,
    bars: Rect,
    axis: Option<u16>,
    labels: Option<u16>,
}

impl Rows {
    fn split(area: Rect, want_legend: bool) -> Rows {
        let h = area.height;
        let legend = want_legend && h >= 5;
        let labels = h >= 3;
        let axis = h >= 2;
        let top = area.y + u16::from(legend);
        let bottom_rows = u16::from(labels) + u16::from(axis);
        let bar_height = h - u16::from(legend) - bottom_rows;
        Rows {
            legend: legend.then_some(area.y),
            bars: Rect::new(area.x, top, area.width, bar_height),
            axis: axis.then_some(top + bar_height),
            labels: labels.then_some(top + bar_height + 1),
        }
    }
}

impl LatencyHistogram<'_> {
    fn render_histogram(&self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let rows = Rows::split(area, self.legend);
        let columns = self.columns(area);
        if let Some(y) = rows.legend {
            self.render_legend(area.x, y, area.width, buf);
        }
        self.render_bars(rows.bars, &columns, buf);
        if let Some(y) = rows.labels {
            self.render_decade_labels(y, &columns, area, buf);
        }
        if let Some(y) = rows.axis {
            self.render_axis(y, &columns, area, buf);
        }
        self.render_marker_lines(rows.bars, &columns, buf);
    }

    /// Groups buckets into columns: each bucket gets `width / n` columns when they fit, else
    /// `ceil(n / width)` neighbouring buckets share one column.
    fn columns(&self, area: Rect) -> Vec<Column> {
        let n = self.buckets.len();
        if n == 0 || area.width == 0 {
            return Vec::new();
        }
        let width = usize::from(area.width);
        let (per_column, column_width) = if n <= width {
            (1, width / n)
        } else {
            (n.div_ceil(width), 1)
        };
        self.buckets
            .chunks(per_column)
            .enumerate()
            .map(|(i, group)| Column {
                x: area.x + (i * column_width) as u16,
                width: column_width as u16,
                lower_ns: group[0].lower_ns,
                upper_ns: group[group.len() - 1].upper_ns,
                count: group.iter().map(|b| b.count).sum(),
            })
            .collect()
    }

    fn render_legend(&self, x: u16, y: u16, width: u16, buf: &mut Buffer) {
        let mut text = String::new();
        for marker in self.markers {
            if !text.is_empty() {
                text.push_str("  ");
            }
            let _ = write!(text, "{} {}", marker.label, format_ns(marker.value_ns));
        }
        let total: u64 = self.buckets.iter().map(|b| b.count).sum();
        let count = format!("n {}", format_count(total));
        let text_width = text.chars().count();
        let count_width = count.chars().count();
        buf.set_stringn(x, y, &text, usize::from(width), self.marker_style);
        // The count goes right-aligned if it fits after the markers with a gap of two.
        if text_width + 2 + count_width <= usize::from(width) || text.is_empty() {
            let cx = x + width.saturating_sub(count_width as u16);
            buf.set_stringn(cx, y, &count, usize::from(width), self.label_style);
        }
    }

    fn render_bars(&self, bars: Rect, columns: &[Column], buf: &mut Buffer) {
        if bars.is_empty() {
            return;
        }
        let max = columns.iter().map(|c| c.count).max().unwrap_or(0);
        if max == 0 {
            let text_width = NO_SAMPLES.chars().count() as u16;
            let x = bars.x + bars.width.saturating_sub(text_width) / 2;
            let y = bars.y + bars.height.saturating_sub(1) / 2;
            buf.set_stringn(x, y, NO_SAMPLES, usize::from(bars.width), self.label_style);
            return;
        }
        let levels = u64::from(bars.height) * 8;
        for column in columns {
            let eighths = bar_eighths(column.count, max, levels, self.count_scale);
            for row in 0..bars.height {
                // Rows counted from the bottom.
                let below = u64::from(row) * 8;
                let symbol = match eighths.saturating_sub(below) {
                    0 => continue,
                    filled if filled >= 8 => symbols::bar::FULL,
                    filled => EIGHTHS[filled as usize],
                };
                let y = bars.bottom() - 1 - row;
                for dx in 0..column.width {
                    if let Some(cell) = buf.cell_mut((column.x + dx, y)) {
                        cell.set_symbol(symbol).set_style(self.bar_style);
                    }
                }
            }
        }
    }

    fn render_axis(&self, y: u16, columns: &[Column], area: Rect, buf: &mut Buffer) {
        let Some(end) = columns.last().map(|c| c.x + c.width) else {
            return;
        };
        for x in area.x..end.min(area.right()) {
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.set_symbol(AXIS).set_style(self.axis_style);
            }
        }
        for column in columns.iter().filter(|c| is_power_of_ten(c.lower_ns)) {
            if let Some(cell) = buf.cell_mut((column.x, y)) {
                cell.set_symbol(DECADE_TICK).set_style(self.axis_style);
            }
        }
        // Marker labels left to right, each where its value falls unless it would overlap the
        // previous one; the legend lists them all anyway.
        let mut placed: Vec<(u16, &str)> = self
            .markers
            .iter()
            .filter_map(|m| marker_x(columns, m.value_ns).map(|x| (x, m.label)))
            .collect();
        placed.sort_by_key(|&(x, _)| x);
        let right = end.min(area.right());
        let mut free_from = area.x;
        for (x, label) in placed {
            let label_width = label.chars().count() as u16;
            // Shifted right past the previous label, or left to end at the axis' end.
            let x = x.max(free_from).min(right.saturating_sub(label_width));
            if x < free_from || x + label_width > right {
                continue;
            }
            buf.set_stringn(x, y, label, usize::from(label_width), self.marker_style);
            free_from = x + label_width + 1;
        }
    }

    fn render_decade_labels(&self, y: u16, columns: &[Column], area: Rect, buf: &mut Buffer) {
        let mut free_from = area.x;
        for column in columns.iter().filter(|c| is_power_of_ten(c.lower_ns)) {
            let label = format_ns(column.lower_ns);
            let label_width = label.chars().count() as u16;
            if column.x < free_from || column.x + label_width > area.right() {
                continue;
            }
            buf.set_stringn(
                column.x,
                y,
                &label,
                usize::from(label_width),
                self.label_style,
            );
            free_from = column.x + label_width + LABEL_GAP;
        }
    }

    /// Dotted lines above each marker's position, through cells the bars left empty.
    fn render_marker_lines(&self, bars: Rect, columns: &[Column], buf: &mut Buffer) {
        let line_style = self.marker_style.remove_modifier(Modifier::BOLD);
        for marker in self.markers {
            let Some(x) = marker_x(columns, marker.value_ns) else {
                continue;
            };
            for y in bars.top()..bars.bottom() {
                if let Some(cell) = buf.cell_mut((x, y))
                    && cell.symbol() == " "
                {
                    cell.set_symbol(MARKER_LINE).set_style(line_style);
                }
            }
        }
    }
}

/// Partial blocks for 1..=7 eighths of a cell.
const EIGHTHS: [&str; 8] = [
    " ",
    symbols::bar::ONE_EIGHTH,
    symbols::bar::ONE_QUARTER,
    symbols::bar::THREE_EIGHTHS,
    symbols::bar::HALF,
    symbols::bar::FIVE_EIGHTHS,
    symbols::bar::THREE_QUARTERS,
    symbols::bar::SEVEN_EIGHTHS,
];

/// Height of a bar in eighths of a cell, out of `levels`; at least one eighth when `count > 0`.
fn bar_eighths(count: u64, max: u64, levels: u64, scale: CountScale) -> u64 {
    if count == 0 || max == 0 {
        return 0;
    }
    let fraction = match scale {
        CountScale::Linear => count as f64 / max as f64,
        CountScale::Log => (count as f64).ln_1p() / (max as f64).ln_1p(),
    };
    ((fraction * levels as f64).round() as u64).clamp(1, levels)
}

/// Column where `value_ns` falls: inside its bucket's column span, placed on a log scale
/// between the bucket's bounds; values outside the buckets go to the first or last column.
fn marker_x(columns: &[Column], value_ns: u64) -> Option<u16> {
    let first = columns.first()?;
    let last = columns.last()?;
    if value_ns < first.lower_ns {
        return Some(first.x);
    }
    let Some(column) = columns
        .iter()
        .find(|c| c.lower_ns <= value_ns && value_ns < c.upper_ns)
    else {
        return Some(last.x + last.width - 1);
    };
    let (lo, hi) = (
        (column.lower_ns.max(1)) as f64,
        (column.upper_ns.max(2)) as f64,
    );
    let position = ((value_ns.max(1) as f64).ln() - lo.ln()) / (hi.ln() - lo.ln());
    let offset = (position.clamp(0.0, 1.0) * f64::from(column.width)) as u16;
    Some(column.x + offset.min(column.width - 1))
}

/// A count in at most four characters of digits: `950`, `9999`, `12.3k`, `4.5M`, `1.2G`.
pub fn format_count(count: u64) -> String {
    match count {
        0..=9_999 => count.to_string(),
        10_000..=999_999 => format!("{:.1}k", count as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}M", count as f64 / 1e6),
        _ => format!("{:.1}G", count as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use insta::assert_snapshot;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::style::Color;

    use super::*;

    /// Log-spaced buckets `10^(k/per_decade)` from `10^min_decade` to `10^max_decade` ns,
    /// rounded like the scheduler's.
    fn log_buckets(
        min_decade: u32,
        max_decade: u32,
        per_decade: u32,
        counts: &[u64],
    ) -> Vec<LatencyBucket> {
        let edge = |k: u32| {
            10f64
                .powf(min_decade as f64 + k as f64 / per_decade as f64)
                .round() as u64
        };
        let n = (max_decade - min_decade) * per_decade;
        (0..n)
            .map(|k| LatencyBucket {
                lower_ns: edge(k),
                upper_ns: edge(k + 1),
                count: counts.get(k as usize).copied().unwrap_or(0),
            })
            .collect()
    }

    /// A wait-time distribution: a peak around 1–5 µs and a thin tail to 10 ms.
    fn typical() -> Vec<LatencyBucket> {
        let counts = [
            0, 0, 0, 3, 40, 380, 2_100, 5_400, 4_800, 1_900, 600, 150, 40, 12, 5, 2, 1, 0, 1, 0, 0,
        ];
        log_buckets(1, 8, 3, &counts)
    }

    const MARKERS: [PercentileMarker<'static>; 5] = [
        PercentileMarker::new("p50", 1_350),
        PercentileMarker::new("p90", 4_200),
        PercentileMarker::new("p99", 21_000),
        PercentileMarker::new("p99.9", 160_000),
        PercentileMarker::new("max", 8_300_000),
    ];

    fn render(widget: &LatencyHistogram<'_>, width: u16, height: u16) -> Terminal<TestBackend> {
        let mut terminal = Terminal::new(TestBackend::new(width, height))
            .unwrap_or_else(|e| panic!("test terminal: {e}"));
        terminal
            .draw(|frame| frame.render_widget(widget, frame.area()))
            .unwrap_or_else(|e| panic!("draw: {e}"));
        terminal
    }

    #[test]
    fn typical_distribution_with_markers() {
        let buckets = typical();
        let widget = LatencyHistogram::new(&buckets).markers(&MARKERS);
        assert_snapshot!(render(&widget, 64, 10).backend());
    }

    #[test]
    fn in_a_block_with_log_counts() {
        let buckets = typical();
        let widget = LatencyHistogram::new(&buckets)
            .markers(&MARKERS)
            .count_scale(CountScale::Log)
            .block(Block::bordered().title(" critical · wait "));
        assert_snapshot!(render(&widget, 66, 12).backend());
    }

    #[test]
    fn narrow_area_merges_buckets() {
        let buckets = typical();
        let widget = LatencyHistogram::new(&buckets).markers(&MARKERS);
        assert_snapshot!(render(&widget, 12, 6).backend());
    }

    #[test]
    fn wide_area_widens_bars() {
        let buckets = log_buckets(2, 5, 2, &[1, 4, 9, 16, 9, 2]);
        let markers = [
            PercentileMarker::new("p50", 1_500),
            PercentileMarker::new("max", 90_000),
        ];
        let widget = LatencyHistogram::new(&buckets).markers(&markers);
        assert_snapshot!(render(&widget, 40, 7).backend());
    }

    #[test]
    fn empty_histogram_says_so() {
        let buckets = log_buckets(1, 10, 3, &[]);
        let widget = LatencyHistogram::new(&buckets);
        assert_snapshot!(render(&widget, 40, 6).backend());
    }

    #[test]
    fn small_heights_drop_legend_then_labels_then_axis() {
        let buckets = typical();
        let widget = LatencyHistogram::new(&buckets).markers(&MARKERS);
        let shots: Vec<String> = (1..=5)
            .map(|h| render(&widget, 30, h).backend().to_string())
            .collect();
        assert_snapshot!(shots.join("\n"));
    }

    #[test]
    fn zero_sized_and_offset_areas_do_not_panic() {
        let buckets = typical();
        let widget = LatencyHistogram::new(&buckets).markers(&MARKERS);
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 5));
        (&widget).render(Rect::new(0, 0, 0, 0), &mut buf);
        (&widget).render(Rect::new(5, 2, 30, 10), &mut buf);
        let no_buckets = LatencyHistogram::new(&[]).markers(&MARKERS);
        (&no_buckets).render(Rect::new(0, 0, 20, 5), &mut buf);
    }

    #[test]
    fn styles_apply_to_bars_markers_and_labels() {
        let buckets = log_buckets(2, 4, 1, &[5, 10]);
        let markers = [PercentileMarker::new("p99", 5_000)];
        let widget = LatencyHistogram::new(&buckets)
            .markers(&markers)
            .legend(false)
            .bar_style(Style::new().fg(Color::Cyan))
            .marker_style(Style::new().fg(Color::Yellow))
            .axis_style(Style::new().fg(Color::DarkGray))
            .label_style(Style::new().fg(Color::Gray));
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 4));
        widget.render(buf.area, &mut buf);
        // Two buckets of 5 columns; 2 bar rows; the tallest bar fills them.
        assert_eq!(buf[(7, 0)].symbol(), "█");
        assert_eq!(buf[(7, 0)].fg, Color::Cyan);
        // p99 = 5000 ns sits log-proportionally in [1000, 10000): 5 × log10(5) ≈ 3.5 → column
        // 8; its label is moved left to end with the axis.
        assert_eq!(buf[(7, 2)].symbol(), "p");
        assert_eq!(buf[(9, 2)].symbol(), "9");
        assert_eq!(buf[(7, 2)].fg, Color::Yellow);
        assert_eq!(buf[(1, 2)].symbol(), "─");
        assert_eq!(buf[(1, 2)].fg, Color::DarkGray);
        assert_eq!(buf[(0, 3)].symbol(), "1");
        assert_eq!(buf[(0, 3)].fg, Color::Gray);
    }

    #[test]
    fn bar_heights_are_proportional_and_never_hide_a_sample() {
        assert_eq!(bar_eighths(100, 100, 16, CountScale::Linear), 16);
        assert_eq!(bar_eighths(50, 100, 16, CountScale::Linear), 8);
        assert_eq!(bar_eighths(1, 1_000_000, 16, CountScale::Linear), 1);
        assert_eq!(bar_eighths(0, 100, 16, CountScale::Linear), 0);
        // ln(1 + 1000) / ln(1 + 1_000_000) ≈ 0.5000.
        assert_eq!(bar_eighths(1_000, 1_000_000, 16, CountScale::Log), 8);
    }

    #[test]
    fn counts_format_compactly() {
        assert_eq!(format_count(9_999), "9999");
        assert_eq!(format_count(12_345), "12.3k");
        assert_eq!(format_count(4_500_000), "4.5M");
    }
}
