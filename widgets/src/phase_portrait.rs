//! A phase portrait: points `(x, y)` plotted densely with Braille dots (2×4 per cell) or
//! half blocks (1×2 per cell), auto-scaled to the data with a small margin, newest points drawn
//! in a brighter style than old ones.
//!
//! The points come as two parallel slices, oldest first, so callers can plot a delay embedding
//! `(x(t), x(t−τ))` as two sub-slices of one series without copying.

use ratatui_core::buffer::Buffer;
use ratatui_core::layout::Rect;
use ratatui_core::style::{Modifier, Style};
use ratatui_core::widgets::Widget;
use ratatui_widgets::block::Block;

/// How many age bands the points are split into; band `AGE_BANDS - 1` holds the newest points.
pub const AGE_BANDS: usize = 4;

/// Empty space left around the data on each side, as a fraction of the data's span, so that the
/// extreme points do not sit on the pane's border.
pub const DEFAULT_MARGIN_FRACTION: f64 = 0.05;

/// Half-width of the view around a constant series (all values equal), relative to the value;
/// a constant series has no span to scale by.
const DEGENERATE_RELATIVE_HALF_SPAN: f64 = 0.1;

/// Half-width of the view around a constant series whose value is (near) zero.
const DEGENERATE_ABSOLUTE_HALF_SPAN: f64 = 0.5;

/// Zoom factors outside this range are clamped: beyond it the view is either a few dots of one
/// point or a speck in the middle of the pane.
pub const ZOOM_RANGE: (f64, f64) = (0.125, 1024.0);

/// How points are turned into terminal cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortraitMarker {
    /// Braille patterns: 2 dots wide and 4 dots high per cell.
    #[default]
    Braille,
    /// Half blocks (`▀ ▄ █`): 1 dot wide and 2 dots high per cell; works in fonts without
    /// Braille glyphs.
    HalfBlock,
}

impl PortraitMarker {
    const fn dots_per_cell(self) -> (usize, usize) {
        match self {
            PortraitMarker::Braille => (2, 4),
            PortraitMarker::HalfBlock => (1, 2),
        }
    }
}

/// A closed interval of the plotted plane along one axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AxisBounds {
    pub min: f64,
    pub max: f64,
}

impl AxisBounds {
    /// The bounds of the finite values in `values`, or `None` when there are none.
    pub fn of_finite(values: &[f64]) -> Option<Self> {
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        for &v in values {
            if v.is_finite() {
                min = min.min(v);
                max = max.max(v);
            }
        }
        (min <= max).then_some(Self { min, max })
    }

    /// These bounds widened by `fraction` of the span on both sides; a zero span (constant data)
    /// is widened to a small interval around the value instead.
    pub fn with_margin(self, fraction: f64) -> Self {
        let span = self.max - self.min;
        let scale = self.min.abs().max(self.max.abs()).max(1.0);
        if span <= f64::EPSILON * scale {
            let centre = 0.5 * (self.min + self.max);
            let half =
                (centre.abs() * DEGENERATE_RELATIVE_HALF_SPAN).max(DEGENERATE_ABSOLUTE_HALF_SPAN);
            return Self {
                min: centre - half,
                max: centre + half,
            };
        }
        let pad = span * fraction.max(0.0);
        Self {
            min: self.min - pad,
            max: self.max + pad,
        }
    }

    /// These bounds shrunk around their centre by `zoom` (2 shows half the span).
    pub fn zoomed(self, zoom: f64) -> Self {
        let zoom = if zoom.is_finite() {
            zoom.clamp(ZOOM_RANGE.0, ZOOM_RANGE.1)
        } else {
            1.0
        };
        let centre = 0.5 * (self.min + self.max);
        let half = 0.5 * (self.max - self.min) / zoom;
        Self {
            min: centre - half,
            max: centre + half,
        }
    }

    /// The dot index in `0..dots` of `v`, or `None` when `v` lies outside the bounds.
    fn dot(self, v: f64, dots: usize) -> Option<usize> {
        if !(v >= self.min && v <= self.max) {
            return None;
        }
        let span = self.max - self.min;
        let t = if span > 0.0 {
            (v - self.min) / span
        } else {
            0.5
        };
        // `as` saturates; the top edge (t == 1) belongs to the last dot.
        Some(((t * dots as f64) as usize).min(dots - 1))
    }
}

/// Labels drawn around the plot when axis labels are on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AxisNames<'a> {
    pub x: &'a str,
    pub y: &'a str,
}

/// A phase portrait of points `(xs[i], ys[i])`, oldest first.
///
/// Non-finite points are skipped. With more `xs` than `ys` (or the reverse) the extra values
/// are ignored.
#[derive(Debug, Clone)]
pub struct PhasePortrait<'a> {
    xs: &'a [f64],
    ys: &'a [f64],
    block: Option<Block<'a>>,
    marker: PortraitMarker,
    margin: f64,
    zoom: f64,
    x_bounds: Option<AxisBounds>,
    y_bounds: Option<AxisBounds>,
    /// Styles of the age bands, oldest first.
    age_styles: [Style; AGE_BANDS],
    axis_labels: bool,
    axis_names: AxisNames<'a>,
    label_style: Style,
}

impl<'a> PhasePortrait<'a> {
    /// A portrait of the points `(xs[i], ys[i])`, oldest first.
    pub fn new(xs: &'a [f64], ys: &'a [f64]) -> Self {
        Self {
            xs,
            ys,
            block: None,
            marker: PortraitMarker::default(),
            margin: DEFAULT_MARGIN_FRACTION,
            zoom: 1.0,
            x_bounds: None,
            y_bounds: None,
            age_styles: [
                Style::new().add_modifier(Modifier::DIM),
                Style::new(),
                Style::new(),
                Style::new().add_modifier(Modifier::BOLD),
            ],
            axis_labels: false,
            axis_names: AxisNames::default(),
            label_style: Style::new(),
        }
    }

    /// A delay embedding `(x(t), x(t − delay))` of one series, oldest first: `None` when the
    /// series is not longer than the delay.
    pub fn delay_embedding(series: &'a [f64], delay: usize) -> Option<Self> {
        (delay < series.len()).then(|| Self::new(&series[delay..], &series[..series.len() - delay]))
    }

    #[must_use]
    pub fn block(mut self, block: Block<'a>) -> Self {
        self.block = Some(block);
        self
    }

    #[must_use]
    pub fn marker(mut self, marker: PortraitMarker) -> Self {
        self.marker = marker;
        self
    }

    /// Empty space around the data, as a fraction of its span on each side.
    #[must_use]
    pub fn margin(mut self, fraction: f64) -> Self {
        self.margin = fraction;
        self
    }

    /// Magnification around the centre of the view: 1 fits all the data, 2 shows half the span
    /// on each axis. Clamped to [`ZOOM_RANGE`].
    #[must_use]
    pub fn zoom(mut self, zoom: f64) -> Self {
        self.zoom = zoom;
        self
    }

    /// Fixed x bounds instead of the data's own (margin and zoom still apply).
    #[must_use]
    pub fn x_bounds(mut self, min: f64, max: f64) -> Self {
        self.x_bounds = Some(AxisBounds { min, max });
        self
    }

    /// Fixed y bounds instead of the data's own (margin and zoom still apply).
    #[must_use]
    pub fn y_bounds(mut self, min: f64, max: f64) -> Self {
        self.y_bounds = Some(AxisBounds { min, max });
        self
    }

    /// Styles of the age bands, oldest first; the newest quarter of the points uses the last.
    #[must_use]
    pub fn age_styles(mut self, styles: [Style; AGE_BANDS]) -> Self {
        self.age_styles = styles;
        self
    }

    /// Draw the bounds of the view at the ends of the axes, and the axis names.
    #[must_use]
    pub fn axis_labels(mut self, names: AxisNames<'a>) -> Self {
        self.axis_labels = true;
        self.axis_names = names;
        self
    }

    #[must_use]
    pub fn label_style(mut self, style: Style) -> Self {
        self.label_style = style;
        self
    }

    /// The view the points are mapped into: fixed or data bounds, with margin and zoom.
    pub fn view(&self) -> Option<(AxisBounds, AxisBounds)> {
        let n = self.xs.len().min(self.ys.len());
        let (xs, ys) = (&self.xs[..n], &self.ys[..n]);
        let x = self.x_bounds.or_else(|| finite_pair_bounds(xs, ys))?;
        let y = self.y_bounds.or_else(|| finite_pair_bounds(ys, xs))?;
        Some((
            x.with_margin(self.margin).zoomed(self.zoom),
            y.with_margin(self.margin).zoomed(self.zoom),
        ))
    }

    fn render_plot(&self, plot: Rect, view: (AxisBounds, AxisBounds), buf: &mut Buffer) {
        if plot.is_empty() {
            return;
        }
        let (dots_x, dots_y) = self.marker.dots_per_cell();
        let (cols, rows) = (plot.width as usize, plot.height as usize);
        let (width_dots, height_dots) = (cols * dots_x, rows * dots_y);
        // Per cell: the dots set, and the newest age band seen (points come oldest first).
        let mut cells = vec![(0u8, 0u8); cols * rows];
        let n = self.xs.len().min(self.ys.len());
        for (i, (&x, &y)) in self.xs[..n].iter().zip(&self.ys[..n]).enumerate() {
            let (Some(dx), Some(dy)) = (view.0.dot(x, width_dots), view.1.dot(y, height_dots))
            else {
                continue;
            };
            let dy = height_dots - 1 - dy;
            let cell = &mut cells[(dy / dots_y) * cols + dx / dots_x];
            cell.0 |= dot_bit(self.marker, dx % dots_x, dy % dots_y);
            cell.1 = (i * AGE_BANDS / n) as u8;
        }
        for (index, &(bits, band)) in cells.iter().enumerate() {
            if bits == 0 {
                continue;
            }
            let x = plot.x + (index % cols) as u16;
            let y = plot.y + (index / cols) as u16;
            if let Some(cell) = buf.cell_mut((x, y)) {
                cell.set_char(glyph(self.marker, bits))
                    .set_style(self.age_styles[band as usize]);
            }
        }
    }

    fn render_labels(&self, area: Rect, view: (AxisBounds, AxisBounds), buf: &mut Buffer) -> Rect {
        let y_max = format_tick(view.1.max);
        let y_min = format_tick(view.1.min);
        let gutter = [y_max.len(), y_min.len(), self.axis_names.y.chars().count()]
            .into_iter()
            .max()
            .unwrap_or(0) as u16;
        if area.width <= gutter + 2 || area.height < 3 {
            return area;
        }
        let plot = Rect {
            x: area.x + gutter + 1,
            y: area.y,
            width: area.width - gutter - 1,
            height: area.height - 1,
        };
        let style = self.label_style;
        let right_align = |s: &str| area.x + gutter - s.chars().count() as u16;
        buf.set_string(right_align(&y_max), plot.y, &y_max, style);
        buf.set_string(right_align(&y_min), plot.bottom() - 1, &y_min, style);
        if plot.height >= 3 && !self.axis_names.y.is_empty() {
            let name = self.axis_names.y;
            buf.set_string(right_align(name), plot.y + plot.height / 2, name, style);
        }
        let bottom = plot.bottom();
        let x_min = format_tick(view.0.min);
        let x_max = format_tick(view.0.max);
        buf.set_stringn(plot.x, bottom, &x_min, plot.width as usize, style);
        let max_len = x_max.len() as u16;
        if plot.width > x_min.len() as u16 + max_len + 1 {
            buf.set_string(plot.right() - max_len, bottom, &x_max, style);
        }
        let name = self.axis_names.x;
        let name_len = name.chars().count() as u16;
        let free = plot.width.saturating_sub(x_min.len() as u16 + max_len + 2);
        if !name.is_empty() && name_len <= free {
            let x = plot.x + (plot.width - name_len) / 2;
            buf.set_string(x, bottom, name, style);
        }
        plot
    }
}

/// The bounds of `values[i]` over the indices where both `values[i]` and `other[i]` are finite
/// (the points that will be plotted).
fn finite_pair_bounds(values: &[f64], other: &[f64]) -> Option<AxisBounds> {
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    for (&v, &o) in values.iter().zip(other) {
        if v.is_finite() && o.is_finite() {
            min = min.min(v);
            max = max.max(v);
        }
    }
    (min <= max).then_some(AxisBounds { min, max })
}

/// The bit of dot `(col, row)` of a cell (row 0 at the top).
fn dot_bit(marker: PortraitMarker, col: usize, row: usize) -> u8 {
    match marker {
        // Unicode Braille patterns: dots 1-2-3 down the left column, 4-5-6 down the right,
        // dots 7 and 8 at the bottom (U+2800 block layout).
        PortraitMarker::Braille => {
            const BITS: [[u8; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];
            BITS[row][col]
        }
        PortraitMarker::HalfBlock => 1 << row,
    }
}

fn glyph(marker: PortraitMarker, bits: u8) -> char {
    match marker {
        PortraitMarker::Braille => char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' '),
        PortraitMarker::HalfBlock => match bits {
            0b01 => '▀',
            0b10 => '▄',
            _ => '█',
        },
    }
}

/// A short label for an axis bound: at most about six characters.
pub fn format_tick(v: f64) -> String {
    let a = v.abs();
    let s = if a != 0.0 && !(1e-2..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    // "-0.00" says nothing "0.00" does not.
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

impl Widget for PhasePortrait<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        Widget::render(&self, area, buf);
    }
}

impl Widget for &PhasePortrait<'_> {
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
        let Some(view) = self.view() else {
            return;
        };
        let plot = if self.axis_labels {
            self.render_labels(inner, view, buf)
        } else {
            inner
        };
        self.render_plot(plot, view, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui_core::style::Color;
    use ratatui_widgets::borders::Borders;

    fn render(widget: &PhasePortrait<'_>, width: u16, height: u16) -> Buffer {
        let mut buf = Buffer::empty(Rect::new(0, 0, width, height));
        widget.render(buf.area, &mut buf);
        buf
    }

    fn gradient() -> [Style; AGE_BANDS] {
        [
            Style::new().fg(Color::Blue).add_modifier(Modifier::DIM),
            Style::new().fg(Color::Blue),
            Style::new().fg(Color::Cyan),
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ]
    }

    fn circle(n: usize) -> (Vec<f64>, Vec<f64>) {
        (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                (t.cos(), t.sin())
            })
            .unzip()
    }

    #[test]
    fn circle_in_braille() {
        let (xs, ys) = circle(400);
        let w = PhasePortrait::new(&xs, &ys).block(Block::bordered().title("circle"));
        insta::assert_snapshot!(format!("{:?}", render(&w, 24, 10)));
    }

    #[test]
    fn circle_in_half_blocks_with_axis_labels() {
        let (xs, ys) = circle(400);
        let w = PhasePortrait::new(&xs, &ys)
            .marker(PortraitMarker::HalfBlock)
            .axis_labels(AxisNames { x: "x", y: "y" });
        insta::assert_snapshot!(format!("{:?}", render(&w, 30, 12)));
    }

    #[test]
    fn newest_points_are_drawn_brighter() {
        // A line from bottom-left (oldest) to top-right (newest).
        let xs: Vec<f64> = (0..100).map(f64::from).collect();
        let w = PhasePortrait::new(&xs, &xs).age_styles(gradient());
        let buf = render(&w, 20, 5);
        insta::assert_snapshot!(format!("{buf:?}"));
        // Bottom-left cell holds the oldest points, top-right the newest.
        let look = |x, y| {
            let s: Style = buf[(x, y)].style();
            (s.fg, s.add_modifier)
        };
        let want = |s: Style| (s.fg, s.add_modifier);
        assert_eq!(look(0, 4), want(gradient()[0]));
        assert_eq!(look(19, 0), want(gradient()[3]));
    }

    #[test]
    fn extreme_points_land_inside_the_margin_not_on_the_edge() {
        let xs = [0.0, 10.0];
        let ys = [0.0, 10.0];
        let buf = render(&PhasePortrait::new(&xs, &ys), 20, 5);
        // With a 5% margin the extremes map to dots 1 and 38 of 40, not 0 and 39: the cells
        // at the corners hold the right-column / left-column dots only.
        let bottom_left = buf[(0, 4)].symbol().chars().next().unwrap_or(' ') as u32 - 0x2800;
        let top_right = buf[(19, 0)].symbol().chars().next().unwrap_or(' ') as u32 - 0x2800;
        assert_eq!(bottom_left, 0x80, "right column, bottom row of the cell");
        assert_eq!(top_right, 0x01, "left column, top row of the cell");
    }

    #[test]
    fn scaling_the_data_does_not_change_the_picture() {
        let (xs, ys) = circle(300);
        let big_x: Vec<f64> = xs.iter().map(|v| v * 1e6 + 42.0).collect();
        let big_y: Vec<f64> = ys.iter().map(|v| v * 1e-3).collect();
        let a = render(&PhasePortrait::new(&xs, &ys), 30, 10);
        let b = render(&PhasePortrait::new(&big_x, &big_y), 30, 10);
        assert_eq!(a, b);
    }

    #[test]
    fn zoom_shows_the_centre_only() {
        // Points at the centre and at the corners; zoom 4 keeps the centre only.
        let xs = [-1.0, 0.0, 1.0];
        let ys = [-1.0, 0.0, 1.0];
        let zoomed = render(&PhasePortrait::new(&xs, &ys).zoom(4.0), 20, 10);
        let lit: Vec<(u16, u16)> = (0..10)
            .flat_map(|y| (0..20).map(move |x| (x, y)))
            .filter(|&(x, y)| zoomed[(x, y)].symbol() != " ")
            .collect();
        assert_eq!(lit.len(), 1, "only the centre point is in view: {lit:?}");
        let (x, y) = lit[0];
        assert!((9..=10).contains(&x) && (4..=5).contains(&y), "{lit:?}");
    }

    #[test]
    fn non_finite_points_are_skipped_and_do_not_break_scaling() {
        let xs = [0.0, f64::NAN, 1.0, f64::INFINITY];
        let ys = [0.0, 5.0, 1.0, 2.0];
        let w = PhasePortrait::new(&xs, &ys);
        let (x, y) = w.view().expect("two finite points");
        assert!(x.min < 0.0 && x.max > 1.0 && x.max < 1.1, "{x:?}");
        // y = 5 and y = 2 belong to non-finite points and do not widen the view.
        assert!(y.max < 1.1, "{y:?}");
    }

    #[test]
    fn empty_and_constant_data_render_without_panicking() {
        let w = PhasePortrait::new(&[], &[]).block(Block::new().borders(Borders::ALL));
        let buf = render(&w, 10, 4);
        assert_eq!(buf[(1, 1)].symbol(), " ");
        let c = [3.0; 10];
        let buf = render(&PhasePortrait::new(&c, &c), 10, 4);
        let lit = buf.content().iter().filter(|c| c.symbol() != " ").count();
        assert_eq!(lit, 1, "a constant series is one dot in the middle");
        // Tiny areas.
        let _ = render(
            &PhasePortrait::new(&c, &c).axis_labels(AxisNames::default()),
            1,
            1,
        );
        let _ = render(&PhasePortrait::new(&c, &c), 0, 0);
    }

    #[test]
    fn delay_embedding_pairs_x_t_with_x_t_minus_delay() {
        let s = [1.0, 2.0, 3.0, 4.0, 5.0];
        let w = PhasePortrait::delay_embedding(&s, 2).expect("longer than the delay");
        assert_eq!(w.xs, &[3.0, 4.0, 5.0]);
        assert_eq!(w.ys, &[1.0, 2.0, 3.0]);
        assert!(PhasePortrait::delay_embedding(&s, 5).is_none());
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(format_tick(-19.874), "-19.9");
        assert_eq!(format_tick(0.5), "0.50");
        assert_eq!(format_tick(123.4), "123");
        assert_eq!(format_tick(-0.001), "-1.0e-3");
        assert_eq!(format_tick(-0.0001e-9), "-1.0e-13");
        assert_eq!(format_tick(-0.0), "0.00");
        assert_eq!(format_tick(0.0), "0.00");
    }
}
