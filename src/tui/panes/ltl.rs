//! The LTL pane: one row per monitored formula — its live status (satisfied / violated /
//! undecided, each with a symbol so it reads without colour), the formula and its channel, the
//! verdict strip over recent steps, the step that decided it, the steps monitored and the
//! atoms evaluated on missing fields; then the violations counted (the monitors restart after
//! a verdict by default), their rate, a timeline of the latest ones and the forecast: the
//! probability of a violation within the next K records, marked ⚠ as an early warning at
//! `--warn-at`. Under a violation, the records that broke it: on one line, or one record per
//! line while the pane is expanded.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Sparkline};

use midstream_widgets::verdict_strip::{Verdict, VerdictLook, VerdictStrip};

use crate::pipeline::{FormulaStatus, FormulaView, Snapshot};
use crate::tui::app::{App, Pane};
use crate::tui::format;
use crate::tui::theme::Theme;

use super::note;

/// Width of the status column ("? undecided"); the second line of a row starts under the
/// formula.
const STATUS_WIDTH: u16 = 11;
/// Columns between the parts of a row.
const GAP: u16 = 2;
/// Indent of the violation window's lines under the formula.
const WINDOW_INDENT: &str = "  ╰ ";
/// Steps the violation timeline spans at most (the latest ones): each of its cells counts the
/// violations in an equal share of them.
const TIMELINE_STEPS: u64 = 2_000;

/// Draw the LTL pane of `snapshot` (the displayed one).
pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, theme: &Theme) {
    let focused = app.focus() == Pane::Ltl;
    let formulas = &snapshot.analysis.formulas;
    let count = |status| formulas.iter().filter(|f| f.status == status).count();
    let warnings = formulas.iter().filter(|f| warns(f)).count();
    let mut title = vec![
        Span::styled(" LTL ", theme.title()),
        Span::styled(
            format!(
                "· {} formulas: {} ✓ {} ✗ {} ? ",
                formulas.len(),
                count(FormulaStatus::Satisfied),
                count(FormulaStatus::Violated),
                count(FormulaStatus::Undecided)
            ),
            theme.muted(),
        ),
    ];
    if warnings > 0 {
        title.push(Span::styled(format!("⚠ {warnings} "), theme.warning()));
    }
    let block = Block::bordered()
        .border_style(theme.border(focused))
        .title(Line::from(title));
    if formulas.is_empty() {
        return note(
            frame,
            area,
            block,
            "no formulas: give some with --formula or in the config file",
            theme,
        );
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let expanded = app.expanded() == Some(Pane::Ltl);
    let mut y = inner.y;
    for formula in formulas {
        if y >= inner.bottom() {
            break;
        }
        y = render_formula(frame, inner, y, formula, theme);
        if y < inner.bottom() {
            render_continuous(frame, Rect::new(inner.x, y, inner.width, 1), formula, theme);
            y += 1;
        }
        // The records that broke the formula last: shown while it is violated and, when the
        // monitor restarts, whenever it has been violated at least once.
        if (formula.status == FormulaStatus::Violated || formula.violations > 0)
            && !formula.violation_window.is_empty()
        {
            let lines = if expanded {
                formula.violation_window.clone()
            } else {
                vec![formula.violation_window.join(" → ")]
            };
            for (i, text) in lines.into_iter().enumerate() {
                if y >= inner.bottom() {
                    break;
                }
                let lead = if i == 0 { WINDOW_INDENT } else { "    " };
                let line = Line::from(vec![
                    Span::styled(lead, theme.muted()),
                    Span::styled(text, theme.error()),
                ]);
                frame.render_widget(line, Rect::new(inner.x, y, inner.width, 1));
                y += 1;
            }
        }
    }
}

/// The status as the pane shows it: symbol and word, and its style.
pub fn status_text(formula: &FormulaView, theme: &Theme) -> (String, Style) {
    match formula.status {
        FormulaStatus::Satisfied => ("✓ satisfied".to_string(), theme.good()),
        FormulaStatus::Violated => ("✗ violated".to_string(), theme.error()),
        FormulaStatus::Undecided => ("? undecided".to_string(), theme.warning()),
    }
}

/// The formula's two lines from row `y` of `inner` (the second only when there is room);
/// returns the next free row.
fn render_formula(
    frame: &mut Frame,
    inner: Rect,
    y: u16,
    formula: &FormulaView,
    theme: &Theme,
) -> u16 {
    let (status, style) = status_text(formula, theme);
    let [status_area, text_area] =
        Layout::horizontal([Constraint::Length(STATUS_WIDTH), Constraint::Fill(1)])
            .spacing(GAP)
            .areas(Rect::new(inner.x, y, inner.width, 1));
    frame.render_widget(Line::styled(status, style), status_area);
    let mut text = vec![Span::styled(formula.formula.as_str(), theme.title())];
    if formula.status == FormulaStatus::Undecided {
        let now = if formula.verdict_if_ended {
            "✓"
        } else {
            "✗"
        };
        text.push(Span::styled(
            format!("  (if it ended now {now})"),
            theme.muted(),
        ));
    }
    frame.render_widget(Line::from(text), text_area);
    let y = y + 1;
    if y >= inner.bottom() {
        return y;
    }

    let decided = formula.decided_at.map_or_else(
        || "undecided".to_string(),
        |s| format!("decided @ {}", format::count(s)),
    );
    let mut figures = vec![
        Span::styled(decided, theme.muted()),
        Span::styled(
            format!(" · {} steps · ", format::count(formula.steps)),
            theme.muted(),
        ),
    ];
    let missing = format!("{} missing", format::count(formula.missing_fields));
    figures.push(if formula.missing_fields > 0 {
        Span::styled(missing, theme.warning())
    } else {
        Span::styled(missing, theme.muted())
    });
    let figures = Line::from(figures);
    let channel = Span::styled(formula.channel_name.as_str(), theme.muted());
    let [_, channel_area, strip_area, figures_area] = Layout::horizontal([
        Constraint::Length(STATUS_WIDTH),
        Constraint::Length(channel.width() as u16),
        Constraint::Fill(1),
        Constraint::Length(figures.width() as u16),
    ])
    .spacing(GAP)
    .areas(Rect::new(inner.x, y, inner.width, 1));
    frame.render_widget(channel, channel_area);
    let look = VerdictLook {
        true_style: theme.good(),
        false_style: theme.error(),
        undecided_style: theme.muted(),
        ..VerdictLook::default()
    };
    let strip = VerdictStrip::new(formula.recent.iter().map(|&v| Verdict::from(v))).look(look);
    frame.render_widget(strip, strip_area);
    frame.render_widget(figures.alignment(Alignment::Right), figures_area);
    y + 1
}

/// Whether the forecast has reached the early-warning threshold.
fn warns(formula: &FormulaView) -> bool {
    formula.prediction.is_some_and(|p| p >= formula.warn_at)
}

/// The third line of a formula: violations (count, rate per 1,000 steps), satisfactions, the
/// timeline of the latest violations and the forecast.
fn render_continuous(frame: &mut Frame, area: Rect, formula: &FormulaView, theme: &Theme) {
    let rate = if formula.steps > 0 {
        formula.violations as f64 * 1e3 / formula.steps as f64
    } else {
        0.0
    };
    let violations = Span::styled(
        format!(
            "✗ {} · {rate:.1}/1k steps · ✓ {}",
            format::count(formula.violations),
            format::count(formula.satisfactions)
        ),
        if formula.violations > 0 {
            theme.error()
        } else {
            theme.muted()
        },
    );
    let horizon = formula.predict_steps;
    let forecast = match formula.prediction {
        None => Span::styled(format!("P(✗ ≤{horizon}) learning"), theme.muted()),
        Some(p) if warns(formula) => Span::styled(
            format!("⚠ P(✗ ≤{horizon}) {:.0}%", p * 100.0),
            theme.warning(),
        ),
        Some(p) => Span::styled(format!("P(✗ ≤{horizon}) {:.0}%", p * 100.0), theme.muted()),
    };
    let [_, counts_area, timeline_area, forecast_area] = Layout::horizontal([
        Constraint::Length(STATUS_WIDTH),
        Constraint::Length(violations.width() as u16),
        Constraint::Fill(1),
        Constraint::Length(forecast.width() as u16),
    ])
    .spacing(GAP)
    .areas(area);
    frame.render_widget(violations, counts_area);
    if !formula.restarts && formula.violations == 0 {
        // A stopped monitor has at most one violation: no timeline to draw.
    } else if timeline_area.width > 0 {
        let cells = timeline(formula, timeline_area.width as usize);
        let max = cells.iter().copied().max().unwrap_or(0).max(1);
        frame.render_widget(
            Sparkline::default()
                .data(&cells)
                .max(max)
                .style(theme.error()),
            timeline_area,
        );
    }
    frame.render_widget(
        Line::from(forecast).alignment(Alignment::Right),
        forecast_area,
    );
}

/// Violations per cell over the latest steps (at most [`TIMELINE_STEPS`], split evenly into
/// `cells`), oldest first.
fn timeline(formula: &FormulaView, cells: usize) -> Vec<u64> {
    let span = formula.steps.clamp(1, TIMELINE_STEPS);
    let start = formula.steps.saturating_sub(span);
    let mut counts = vec![0u64; cells];
    for &step in &formula.violation_steps {
        if step >= start && step < formula.steps {
            let cell = ((step - start) * cells as u64 / span) as usize;
            counts[cell.min(cells - 1)] += 1;
        }
    }
    counts
}
