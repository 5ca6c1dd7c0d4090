//! The Chaos pane: the attractor analysis of the focused channel's sliding window — its class,
//! the largest Lyapunov exponent λ (Rosenstein et al. 1993) on a gauge, the correlation
//! dimension D2 (Grassberger & Procaccia 1983), the embedding (m, τ) that was chosen, the fit
//! range and its R², the time the analysis took, and the history of λ and D2 as sparklines.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};

use midstream_widgets::exponent_gauge::ExponentGauge;

use crate::model::ChannelKind;
use crate::pipeline::{ChaosView, Snapshot};
use crate::tui::app::{App, Pane};
use crate::tui::format;
use crate::tui::series::{SPARK_LEVELS, scale_to_levels};
use crate::tui::theme::Theme;

use super::{channel_block, note};

/// Samples in the sliding window the pipeline analyses; the pane counts towards it until the
/// first analysis arrives.
pub const ANALYSIS_WINDOW_SAMPLES: u64 =
    crate::engines::attractor::analysis::DEFAULT_WINDOW_SAMPLES as u64;

/// The gauge's range is ± the largest |λ| seen in the history times this, so the current value
/// rarely hits the end of the bar and the bar does not jump with every new value.
const GAUGE_HEADROOM: f64 = 1.25;

/// With at least this many inner rows the gauge draws its scale (three rows), and the
/// sparklines get more than one row each.
const ROOMY_ROWS: u16 = 14;

/// Draw the Chaos pane for the focused channel of `snapshot` (the displayed one).
pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, theme: &Theme) {
    let focused = app.focus() == Pane::Chaos;
    let channel = app.focused_channel(snapshot);
    let about = channel.map(|c| format!("· {} ", c.info.name));
    let block = channel_block(" Chaos ", about, focused, theme);
    let Some(channel) = channel else {
        return note(frame, area, block, "no channels yet", theme);
    };
    if matches!(
        channel.info.kind,
        ChannelKind::Event { .. } | ChannelKind::Text
    ) {
        let text = format!(
            "{} is not numeric: no attractor analysis. Press c for the next channel.",
            channel.info.name
        );
        return note(frame, area, block, &text, theme);
    }
    let Some(view) = snapshot.analysis.chaos.get(&channel.info.id) else {
        let text = format!(
            "collecting: {}/{} samples",
            format::count(channel.received.min(ANALYSIS_WINDOW_SAMPLES)),
            format::count(ANALYSIS_WINDOW_SAMPLES)
        );
        return note(frame, area, block, &text, theme);
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    render_view(frame, inner, view, theme);
}

/// The figures and sparklines of one analysis inside the pane's border.
fn render_view(frame: &mut Frame, area: Rect, view: &ChaosView, theme: &Theme) {
    if area.is_empty() {
        return;
    }
    let roomy = area.height >= ROOMY_ROWS;
    let error_rows = u16::from(view.error.is_some());
    let gauge_rows = if roomy { 3 } else { 1 };
    let [head, error, gauge, figures, history] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(error_rows),
        Constraint::Length(gauge_rows),
        Constraint::Length(4),
        Constraint::Fill(1),
    ])
    .areas(area);

    let class = if view.class.is_empty() {
        "unclassified"
    } else {
        view.class.as_str()
    };
    let head_line = Line::from(vec![
        Span::styled(
            format!(" {} ", class.to_uppercase()),
            theme.attractor_class(class),
        ),
        Span::styled(
            format!(
                "  {} analyses",
                format::count(view.history.len() as u64 + 1)
            ),
            theme.muted(),
        ),
    ]);
    frame.render_widget(head_line, head);
    if let Some(reason) = &view.error {
        let line = Line::styled(format!("✗ last analysis failed: {reason}"), theme.error());
        frame.render_widget(line, error);
    }

    let largest = view
        .history
        .iter()
        .filter_map(|(l, _)| *l)
        .chain(view.lyapunov)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let bound = if largest > 0.0 {
        largest * GAUGE_HEADROOM
    } else {
        1.0
    };
    let gauge_widget = ExponentGauge::new(view.lyapunov)
        .symbol("λ")
        .unit(&view.lyapunov_unit)
        .range(-bound, bound)
        .show_scale(roomy)
        .text_style(theme.title())
        .positive_style(theme.warning())
        .negative_style(theme.good());
    frame.render_widget(gauge_widget, gauge);

    let d2 = view
        .correlation_dimension
        .map_or_else(|| "—".to_string(), |d| format!("{d:.3}"));
    let fit = match (view.fit, view.fit_r2) {
        (Some((a, b)), Some(r2)) => format!("steps {a}–{b}, R² {r2:.3}"),
        (Some((a, b)), None) => format!("steps {a}–{b}"),
        (None, Some(r2)) => format!("R² {r2:.3}"),
        (None, None) => "—".to_string(),
    };
    let label = |text: &'static str| Span::styled(text, theme.muted());
    let lines = vec![
        Line::from(vec![label("D₂        "), Span::styled(d2, theme.title())]),
        Line::from(vec![
            label("embedding "),
            Span::raw(format!(
                "m = {}, τ = {}",
                view.dim,
                format::samples(view.delay)
            )),
        ]),
        Line::from(vec![label("λ fit     "), Span::raw(fit)]),
        Line::from(vec![
            label("window    "),
            Span::raw(format!(
                "{} to #{}, {:.1} ms",
                format::samples(view.window),
                format::count(view.at_sample),
                view.elapsed_ms
            )),
        ]),
    ];
    frame.render_widget(Paragraph::new(lines), figures);

    if history.height >= 2 {
        let [lambda_area, d2_area] =
            Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(history);
        let lambdas: Vec<Option<f64>> = view
            .history
            .iter()
            .map(|(l, _)| *l)
            .chain(std::iter::once(view.lyapunov))
            .collect();
        let dims: Vec<Option<f64>> = view
            .history
            .iter()
            .map(|(_, d)| *d)
            .chain(std::iter::once(view.correlation_dimension))
            .collect();
        trend(frame, lambda_area, "λ", &lambdas, theme);
        trend(frame, d2_area, "D₂", &dims, theme);
    }
}

/// A label row (`λ history  0.851 … 0.952`) and a sparkline of the newest values under it.
fn trend(frame: &mut Frame, area: Rect, name: &str, values: &[Option<f64>], theme: &Theme) {
    if area.is_empty() {
        return;
    }
    let shown = &values[values.len().saturating_sub(usize::from(area.width))..];
    let (levels, range) = scale_to_levels(shown);
    let range = range.map_or_else(String::new, |(lo, hi)| format!("  {lo:.3} … {hi:.3}"));
    let label = Line::from(vec![
        Span::styled(format!("{name} history"), theme.muted()),
        Span::raw(range),
    ]);
    frame.render_widget(label, Rect { height: 1, ..area });
    if area.height > 1 {
        let sparkline = Sparkline::default()
            .data(levels)
            .max(SPARK_LEVELS)
            .style(theme.good());
        let rows = Rect {
            y: area.y + 1,
            height: area.height - 1,
            ..area
        };
        frame.render_widget(sparkline, rows);
    }
}
