//! A gauge for a signed exponent such as the largest Lyapunov exponent λ: a bar that grows left
//! of a zero mark for negative values and right of it for positive ones, with the value as text.
//!
//! ```text
//! λ +0.906 /s  ────────────┃██████████▌──
//! ```
//!
//! The sign is what matters for an exponent (λ > 0: nearby orbits diverge), so zero always has
//! its own cell and each side of it is scaled separately to `min` and `max`.

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::style::{Modifier, Style};
use ratatui_core::widgets::Widget;
use ratatui_widgets::block::Block;

/// The narrowest bar worth drawing next to the text: the zero mark and two cells each side.
const MIN_BAR_WIDTH: u16 = 5;

/// A gauge for a signed value with a zero mark.
#[derive(Debug, Clone)]
pub struct ExponentGauge<'a> {
    value: Option<f64>,
    min: f64,
    max: f64,
    symbol: &'a str,
    unit: &'a str,
    precision: usize,
    block: Option<Block<'a>>,
    text_style: Style,
    positive_style: Style,
    negative_style: Style,
    zero_style: Style,
    track_style: Style,
    show_scale: bool,
}

impl Default for ExponentGauge<'_> {
    fn default() -> Self {
        Self {
            value: None,
            min: -1.0,
            max: 1.0,
            symbol: "",
            unit: "",
            precision: 3,
            block: None,
            text_style: Style::new(),
            positive_style: Style::new().add_modifier(Modifier::BOLD),
            negative_style: Style::new(),
            zero_style: Style::new().add_modifier(Modifier::BOLD),
            track_style: Style::new().add_modifier(Modifier::DIM),
            show_scale: true,
        }
    }
}

impl<'a> ExponentGauge<'a> {
    /// A gauge showing `value`; `None` (or NaN) shows an empty track and "—".
    pub fn new(value: Option<f64>) -> Self {
        Self {
            value: value.filter(|v| !v.is_nan()),
            ..Self::default()
        }
    }

    /// The range of the bar. It always includes zero: a `min` above zero or a `max` below it is
    /// moved to zero, and an empty or non-finite range becomes [-1, 1]. Values outside are clamped and the end
    /// of the bar shows an arrow.
    #[must_use]
    pub fn range(mut self, min: f64, max: f64) -> Self {
        if min.is_finite() && max.is_finite() && min.min(0.0) < max.max(0.0) {
            let (min, max) = (min.min(0.0), max.max(0.0));
            self.min = min;
            self.max = max;
        } else {
            self.min = -1.0;
            self.max = 1.0;
        }
        self
    }

    /// The quantity's symbol, drawn before the value ("λ").
    #[must_use]
    pub fn symbol(mut self, symbol: &'a str) -> Self {
        self.symbol = symbol;
        self
    }

    /// The unit, drawn after the value ("/s", "/sample").
    #[must_use]
    pub fn unit(mut self, unit: &'a str) -> Self {
        self.unit = unit;
        self
    }

    /// Digits after the decimal point in the text.
    #[must_use]
    pub fn precision(mut self, digits: usize) -> Self {
        self.precision = digits;
        self
    }

    #[must_use]
    pub fn block(mut self, block: Block<'a>) -> Self {
        self.block = Some(block);
        self
    }

    #[must_use]
    pub fn text_style(mut self, style: Style) -> Self {
        self.text_style = style;
        self
    }

    /// Style of the bar right of zero.
    #[must_use]
    pub fn positive_style(mut self, style: Style) -> Self {
        self.positive_style = style;
        self
    }

    /// Style of the bar left of zero.
    #[must_use]
    pub fn negative_style(mut self, style: Style) -> Self {
        self.negative_style = style;
        self
    }

    #[must_use]
    pub fn zero_style(mut self, style: Style) -> Self {
        self.zero_style = style;
        self
    }

    /// Style of the unfilled part of the bar.
    #[must_use]
    pub fn track_style(mut self, style: Style) -> Self {
        self.track_style = style;
        self
    }

    /// With three rows or more, draw `min`, `0` and `max` under the bar (on by default).
    #[must_use]
    pub fn show_scale(mut self, show: bool) -> Self {
        self.show_scale = show;
        self
    }

    /// The text drawn before the bar: symbol, signed value and unit.
    pub fn text(&self) -> String {
        let value = match self.value {
            Some(v) => format!("{v:+.prec$}", prec = self.precision),
            None => "—".to_string(),
        };
        [self.symbol, value.as_str(), self.unit]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The cells of the bar for `width` cells: the column of the zero mark, then one
    /// `(symbol, style)` per cell.
    fn bar(&self, width: u16) -> (u16, Vec<(char, Style)>) {
        let span = self.max - self.min;
        let usable = f64::from(width - 1);
        let neg_cells = ((-self.min / span) * usable).round() as u16;
        let pos_cells = width - 1 - neg_cells;
        let mut cells = vec![('─', self.track_style); usize::from(width)];
        cells[usize::from(neg_cells)] = ('┃', self.zero_style);
        let Some(v) = self.value else {
            return (neg_cells, cells);
        };
        if v > 0.0 && pos_cells > 0 {
            let halves = half_cells(v / self.max, pos_cells);
            let start = usize::from(neg_cells) + 1;
            fill(&mut cells[start..], halves, '▌', self.positive_style);
            if v > self.max {
                cells[usize::from(width) - 1] = ('▶', self.positive_style);
            }
        } else if v < 0.0 && neg_cells > 0 {
            let halves = half_cells(v / self.min, neg_cells);
            let side = &mut cells[..usize::from(neg_cells)];
            side.reverse();
            fill(side, halves, '▐', self.negative_style);
            side.reverse();
            if v < self.min {
                cells[0] = ('◀', self.negative_style);
            }
        }
        (neg_cells, cells)
    }
}

/// Half cells to fill for a fraction of `cells` cells (clamped to the side).
fn half_cells(fraction: f64, cells: u16) -> usize {
    let halves = (fraction.clamp(0.0, 1.0) * f64::from(cells) * 2.0).round();
    halves as usize
}

/// Fill `halves` half cells from the start of `side`; an odd count ends with `half`.
fn fill(side: &mut [(char, Style)], halves: usize, half: char, style: Style) {
    for (i, cell) in side.iter_mut().enumerate().take(halves.div_ceil(2)) {
        let symbol = if 2 * i + 1 == halves { half } else { '█' };
        *cell = (symbol, style);
    }
}

impl Widget for ExponentGauge<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        Widget::render(&self, area, buf);
    }
}

impl Widget for &ExponentGauge<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let inner = match &self.block {
            Some(block) => {
                block.render(area, buf);
                block.inner(area)
            }
            None => area,
        };
        if inner.is_empty() {
            return;
        }
        let text = self.text();
        let text_width = text.chars().count() as u16;
        // One row: text, a space, then the bar. More rows: text above the bar.
        let (bar_area, scale_row) = if inner.height == 1 {
            buf.set_stringn(
                inner.x,
                inner.y,
                &text,
                inner.width as usize,
                self.text_style,
            );
            let used = text_width + 1;
            if inner.width < used + MIN_BAR_WIDTH {
                return;
            }
            (
                Rect::new(inner.x + used, inner.y, inner.width - used, 1),
                None,
            )
        } else {
            buf.set_stringn(
                inner.x,
                inner.y,
                &text,
                inner.width as usize,
                self.text_style,
            );
            let scale = self.show_scale && inner.height >= 3;
            let rows = inner.height - 1 - u16::from(scale);
            let bar = Rect::new(inner.x, inner.y + 1, inner.width, rows);
            (bar, scale.then_some(bar.bottom()))
        };
        if bar_area.width < MIN_BAR_WIDTH {
            return;
        }
        let (zero_col, cells) = self.bar(bar_area.width);
        for y in bar_area.top()..bar_area.bottom() {
            for (i, &(symbol, style)) in cells.iter().enumerate() {
                if let Some(cell) = buf.cell_mut((bar_area.x + i as u16, y)) {
                    cell.set_char(symbol).set_style(style);
                }
            }
        }
        if let Some(y) = scale_row {
            let style = self.track_style;
            let min = crate::phase_portrait::format_tick(self.min);
            let max = crate::phase_portrait::format_tick(self.max);
            let zero_x = bar_area.x + zero_col;
            buf.set_string(bar_area.x, y, &min, style);
            if zero_x > bar_area.x + min.len() as u16 {
                buf.set_string(zero_x, y, "0", style);
            }
            let max_x = bar_area.right().saturating_sub(max.len() as u16);
            if max_x > zero_x + 1 {
                buf.set_string(max_x, y, &max, style);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui_core::style::Color;

    fn row(widget: &ExponentGauge<'_>, width: u16) -> String {
        let mut buf = Buffer::empty(Rect::new(0, 0, width, 1));
        widget.render(buf.area, &mut buf);
        buf.content().iter().map(|c| c.symbol()).collect()
    }

    #[test]
    fn positive_value_grows_right_of_zero() {
        let g = ExponentGauge::new(Some(0.5)).symbol("λ").range(-1.0, 1.0);
        // Text "λ +0.500" (8) + space, bar of 11: 5 cells, zero, 5 cells; 0.5 fills 2.5 cells.
        assert_eq!(row(&g, 20), "λ +0.500 ─────┃██▌──");
    }

    #[test]
    fn negative_value_grows_left_of_zero() {
        let g = ExponentGauge::new(Some(-0.25))
            .range(-1.0, 1.0)
            .precision(2);
        // "-0.25 " then 14 cells: round(13/2) = 7 negative cells; 0.25 of 14 halves = 3.5 → 4.
        assert_eq!(row(&g, 20), "-0.25 ─────██┃──────");
    }

    #[test]
    fn odd_half_count_on_the_negative_side_uses_the_right_half_block() {
        let g = ExponentGauge::new(Some(-0.3)).range(-1.0, 1.0).precision(1);
        // "-0.3 " then 15 cells: 7 negative; 0.3 × 14 halves = 4.2 → 4 halves = 2 cells.
        assert_eq!(row(&g, 20), "-0.3 ─────██┃───────");
        let g = ExponentGauge::new(Some(-0.35))
            .range(-1.0, 1.0)
            .precision(1);
        // 0.35 × 14 = 4.9 → 5 halves: two full cells and a right half next to them.
        assert_eq!(row(&g, 20), "-0.3 ────▐██┃───────");
    }

    #[test]
    fn out_of_range_values_are_clamped_with_an_arrow() {
        let g = ExponentGauge::new(Some(7.0)).range(-1.0, 1.0).precision(0);
        assert_eq!(row(&g, 14), "+7 ─────┃████▶");
        let g = ExponentGauge::new(Some(-7.0)).range(-1.0, 1.0).precision(0);
        assert_eq!(row(&g, 14), "-7 ◀████┃─────");
    }

    #[test]
    fn missing_value_shows_a_dash_and_the_empty_track() {
        assert_eq!(row(&ExponentGauge::new(None), 12), "— ─────┃────");
        assert_eq!(row(&ExponentGauge::new(Some(f64::NAN)), 12), "— ─────┃────");
    }

    #[test]
    fn range_always_includes_zero() {
        let g = ExponentGauge::new(Some(0.5)).range(0.2, 1.0).precision(1);
        // min moved to 0: zero mark at the left end.
        assert_eq!(row(&g, 15), "+0.5 ┃████▌────");
        let g = ExponentGauge::new(Some(0.5)).range(3.0, 3.0).precision(1);
        assert_eq!((g.min, g.max), (0.0, 3.0));
        let g = ExponentGauge::new(Some(0.5)).range(0.0, 0.0);
        assert_eq!((g.min, g.max), (-1.0, 1.0));
        let g = ExponentGauge::new(Some(0.5)).range(f64::NAN, 1.0);
        assert_eq!((g.min, g.max), (-1.0, 1.0));
    }

    #[test]
    fn too_narrow_for_a_bar_draws_the_text_only() {
        let g = ExponentGauge::new(Some(0.5)).symbol("λ");
        assert_eq!(row(&g, 12), "λ +0.500    ");
        assert_eq!(row(&g, 4), "λ +0");
    }

    #[test]
    fn three_rows_with_scale_and_styles() {
        let g = ExponentGauge::new(Some(0.906))
            .symbol("λ")
            .unit("/s")
            .range(-0.5, 1.5)
            .positive_style(Style::new().fg(Color::Red))
            .negative_style(Style::new().fg(Color::Green))
            .zero_style(Style::new().add_modifier(Modifier::BOLD))
            .block(Block::bordered().title("Lyapunov"));
        let mut buf = Buffer::empty(Rect::new(0, 0, 30, 5));
        g.render(buf.area, &mut buf);
        insta::assert_snapshot!(format!("{buf:?}"));
    }
}
