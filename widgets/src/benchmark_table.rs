//! Benchmark results against their budgets, one row each: a status mark, the name, the
//! measured figure, the budget, a bar of how much of the budget is used, and the change from
//! the previous run.
//!
//! ```text
//! ✓ edit/levenshtein/small/1000              22.5 µs ≤ 30 µs    █████████      −8%
//! ✗ schedule_one_task/submit_detached         140 ns ≤ 100 ns   ███████████▶  +12%
//! · dtw/full/abs/100                         not run ≤ 15 µs
//! ```
//!
//! The bar spans the budget: full width is exactly the budget, and a result over it ends in
//! `▶`. The marks (`✓` within, `✗` over, `·` not measured, `?` not comparable) read without
//! colour. Rows are given as text already formatted, so the widget knows nothing of where the
//! figures come from.

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::style::Style;
use ratatui_core::text::Span;
use ratatui_core::widgets::Widget;
use ratatui_widgets::block::Block;

/// How a row stands against its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetStatus {
    Within,
    Over,
    /// Not measured yet.
    Missing,
    /// Measured, but not in the budget's terms.
    NotComparable,
}

impl BudgetStatus {
    fn mark(self) -> char {
        match self {
            BudgetStatus::Within => '✓',
            BudgetStatus::Over => '✗',
            BudgetStatus::Missing => '·',
            BudgetStatus::NotComparable => '?',
        }
    }
}

/// One benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkRow<'a> {
    pub name: &'a str,
    /// The measured figure, formatted ("22.1 µs", "12.3 M/s", "not run").
    pub measured: String,
    /// The budget, formatted ("≤ 30 µs", "≥ 10 M/s").
    pub budget: String,
    pub status: BudgetStatus,
    /// Share of the budget used (above 1 is over), when measured.
    pub load: Option<f64>,
    /// Relative change from the previous run (0.05: 5% slower), when known.
    pub change: Option<f64>,
}

/// Styles of the parts of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BenchmarkLook {
    pub within: Style,
    pub over: Style,
    pub missing: Style,
    /// A change slower than [`BenchmarkTable::regression`].
    pub regressed: Style,
}

/// The table; rows that do not fit are cut at the bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchmarkTable<'a> {
    rows: Vec<BenchmarkRow<'a>>,
    look: BenchmarkLook,
    block: Option<Block<'a>>,
    regression: f64,
}

/// Widths of the fixed columns: mark, measured, budget, change.
const MARK_WIDTH: u16 = 2;
const FIGURE_WIDTH: u16 = 10;
const CHANGE_WIDTH: u16 = 6;
/// The bar and the name share the rest; the bar takes this share of it, within bounds.
const BAR_MIN_WIDTH: u16 = 6;
const BAR_MAX_WIDTH: u16 = 16;
const BAR_SHARE: u16 = 4;
/// Eighth blocks, for a bar's partial last cell.
const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

impl<'a> BenchmarkTable<'a> {
    pub fn new(rows: Vec<BenchmarkRow<'a>>) -> Self {
        Self {
            rows,
            look: BenchmarkLook::default(),
            block: None,
            regression: 0.05,
        }
    }

    pub fn look(mut self, look: BenchmarkLook) -> Self {
        self.look = look;
        self
    }

    pub fn block(mut self, block: Block<'a>) -> Self {
        self.block = Some(block);
        self
    }

    /// Changes slower than this (0.05: 5%) are drawn in the `regressed` style.
    pub fn regression(mut self, threshold: f64) -> Self {
        self.regression = threshold;
        self
    }
}

/// `load` as a bar `width` cells wide for the whole budget: eighth-cell resolution, and `▶`
/// in the last cell when over.
fn bar(load: f64, width: u16) -> String {
    let width = usize::from(width);
    if width == 0 || !load.is_finite() {
        return String::new();
    }
    if load > 1.0 {
        let mut s = "█".repeat(width - 1);
        s.push('▶');
        return s;
    }
    let eighths = (load.max(0.0) * (width * 8) as f64).round() as usize;
    let mut s = "█".repeat(eighths / 8);
    if !eighths.is_multiple_of(8) {
        s.push(EIGHTHS[eighths % 8]);
    }
    s
}

fn change_text(change: f64) -> String {
    let percent = (change * 100.0).round();
    if percent == 0.0 {
        "±0%".to_string()
    } else if percent > 0.0 {
        format!("+{percent:.0}%")
    } else {
        format!("−{:.0}%", -percent)
    }
}

impl Widget for BenchmarkTable<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let inner = match &self.block {
            Some(block) => {
                let inner = block.inner(area);
                block.clone().render(area, buf);
                inner
            }
            None => area,
        };
        if inner.is_empty() {
            return;
        }
        let fixed = MARK_WIDTH + 2 * (FIGURE_WIDTH + 1) + CHANGE_WIDTH;
        let rest = inner.width.saturating_sub(fixed);
        let bar_width = (rest / BAR_SHARE)
            .clamp(BAR_MIN_WIDTH, BAR_MAX_WIDTH)
            .min(rest);
        let name_width = rest.saturating_sub(bar_width + 1);
        for (row, y) in self.rows.iter().zip(inner.top()..inner.bottom()) {
            let status_style = match row.status {
                BudgetStatus::Within => self.look.within,
                BudgetStatus::Over => self.look.over,
                BudgetStatus::Missing | BudgetStatus::NotComparable => self.look.missing,
            };
            let mut x = inner.x;
            let mut put = |text: &str, width: u16, right: bool, style: Style| {
                let width = width.min(inner.right().saturating_sub(x));
                let shown: String = text.chars().take(usize::from(width)).collect();
                let len = shown.chars().count() as u16;
                let start = if right { x + width - len } else { x };
                buf.set_span(start, y, &Span::styled(shown, style), width);
                x += width + 1;
            };
            put(
                &row.status.mark().to_string(),
                MARK_WIDTH - 1,
                false,
                status_style,
            );
            put(row.name, name_width, false, Style::new());
            put(&row.measured, FIGURE_WIDTH, true, status_style);
            put(&row.budget, FIGURE_WIDTH, false, self.look.missing);
            let bar_text = row.load.map_or_else(String::new, |l| bar(l, bar_width));
            put(&bar_text, bar_width, false, status_style);
            let (change, style) = match row.change {
                Some(c) if c > self.regression => (change_text(c), self.look.regressed),
                Some(c) => (change_text(c), self.look.missing),
                None => (String::new(), Style::new()),
            };
            put(&change, CHANGE_WIDTH, true, style);
        }
    }
}

#[cfg(test)]
mod tests {
    use ratatui_core::style::{Color, Modifier};

    use super::*;

    fn rows() -> Vec<BenchmarkRow<'static>> {
        vec![
            BenchmarkRow {
                name: "edit/levenshtein/small/1000",
                measured: "22.5 µs".into(),
                budget: "≤ 30 µs".into(),
                status: BudgetStatus::Within,
                load: Some(0.75),
                change: Some(-0.08),
            },
            BenchmarkRow {
                name: "schedule_one_task/submit_detached",
                measured: "140 ns".into(),
                budget: "≤ 100 ns".into(),
                status: BudgetStatus::Over,
                load: Some(1.4),
                change: Some(0.12),
            },
            BenchmarkRow {
                name: "dtw/full/abs/100",
                measured: "not run".into(),
                budget: "≤ 15 µs".into(),
                status: BudgetStatus::Missing,
                load: None,
                change: None,
            },
        ]
    }

    fn draw(table: BenchmarkTable<'_>, width: u16, height: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, width, height));
        table.render(buf.area, &mut buf);
        buf
    }

    fn line(buf: &Buffer, y: u16) -> String {
        (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect()
    }

    #[test]
    fn rows_show_mark_figures_bar_and_change() {
        let buf = draw(BenchmarkTable::new(rows()), 80, 3);
        insta::assert_snapshot!(
            (0..3).map(|y| line(&buf, y)).collect::<Vec<_>>().join("\n"),
            @r"
        ✓ edit/levenshtein/small/1000              22.5 µs ≤ 30 µs    █████████      −8%
        ✗ schedule_one_task/submit_detached         140 ns ≤ 100 ns   ███████████▶  +12%
        · dtw/full/abs/100                         not run ≤ 15 µs
        "
        );
    }

    #[test]
    fn the_bar_spans_the_budget_in_eighths() {
        assert_eq!(bar(0.5, 4), "██");
        assert_eq!(bar(1.0, 4), "████");
        assert_eq!(bar(1.0 / 32.0, 4), "▏");
        assert_eq!(bar(0.0, 4), "");
        assert_eq!(bar(3.0, 4), "███▶");
        assert_eq!(bar(f64::NAN, 4), "");
    }

    #[test]
    fn regressions_and_overruns_take_their_styles() {
        let look = BenchmarkLook {
            within: Style::new().fg(Color::Green),
            over: Style::new().fg(Color::Red),
            missing: Style::new().add_modifier(Modifier::DIM),
            regressed: Style::new().fg(Color::Yellow),
        };
        let buf = draw(BenchmarkTable::new(rows()).look(look), 80, 3);
        assert_eq!(buf[(0, 0)].fg, Color::Green);
        assert_eq!(buf[(0, 1)].fg, Color::Red);
        // The +12% change of the second row is a regression; the −8% of the first is not.
        assert_eq!(buf[(79, 1)].fg, Color::Yellow);
        assert_ne!(buf[(79, 0)].fg, Color::Yellow);
    }

    #[test]
    fn narrow_and_short_areas_cut_without_panicking() {
        for (w, h) in [(0, 0), (1, 1), (10, 1), (30, 2), (44, 5)] {
            draw(BenchmarkTable::new(rows()), w, h);
        }
        let buf = draw(BenchmarkTable::new(rows()), 80, 1);
        assert!(line(&buf, 0).contains("levenshtein"));
    }
}
