//! The Learning pane: the learning loop of the focused channel (`engines::meta::learning`).
//!
//! On top, what level 2 chose (E, τ, the analysis window, the re-analysis interval, the class)
//! and level 3's verdict (held-out ρ of the tuned embedding against the defaults, and whether
//! it was backed off); then the two skill curves the rounds compute, ρ by embedding dimension
//! and ρ by forecast horizon, as bar rows with their numbers; then the patterns learnt on the
//! channel (`*` pinned); then the decision log, newest last. When the snapshot carries
//! decisions read from a replayed trace (the live run's), they are listed below this run's.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::model::Decision;
use crate::pipeline::{LearningView, Snapshot};
use crate::tui::app::{App, Pane};
use crate::tui::theme::Theme;

use super::{channel_block, note};

/// Eighth-block glyphs for a bar of ρ ∈ [0, 1] in one cell.
const BARS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// One cell for ρ (negative skill draws as empty).
fn bar(rho: f64) -> char {
    let level = (rho.clamp(0.0, 1.0) * 8.0).round() as usize;
    BARS[level.min(8)]
}

/// Draw the Learning pane of `snapshot` (the displayed one).
pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, theme: &Theme) {
    let focused = app.focus() == Pane::Learning;
    let channel = app.focused_channel(snapshot);
    let view = channel.and_then(|c| snapshot.analysis.learning.get(&c.info.id));
    let about = channel.map(|c| format!("· {} ", c.info.name));
    let block = channel_block(" Learning ", about, focused, theme);
    let Some(channel) = channel else {
        return note(frame, area, block, "no channels yet", theme);
    };
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if inner.is_empty() {
        return;
    }
    let mut lines: Vec<Line> = Vec::new();
    match view.filter(|v| v.rounds > 0) {
        None => lines.push(Line::styled(
            format!("{}: no learning round yet", channel.info.name),
            theme.muted(),
        )),
        Some(v) => lines.extend(summary(v, theme)),
    }
    let own: Vec<&Decision> = snapshot
        .analysis
        .decisions
        .iter()
        .filter(|d| d.channel_name == channel.info.name)
        .collect();
    let recorded: Vec<&Decision> = snapshot
        .analysis
        .recorded_decisions
        .iter()
        .filter(|d| d.channel_name == channel.info.name)
        .collect();
    let header_rows = lines.len() as u16;
    let [top, log] = Layout::vertical([
        Constraint::Length(header_rows.min(inner.height)),
        Constraint::Fill(1),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(lines), top);
    let mut log_lines = vec![Line::styled(
        format!("decisions ({})", own.len()),
        theme.table_header(),
    )];
    let recorded_rows = if recorded.is_empty() {
        0
    } else {
        (log.height / 2) as usize
    };
    let own_rows = (log.height as usize)
        .saturating_sub(1 + recorded_rows)
        .max(1);
    log_lines.extend(
        own.iter()
            .skip(own.len().saturating_sub(own_rows))
            .map(|d| decision_line(d, log.width, theme)),
    );
    if !recorded.is_empty() {
        log_lines.push(Line::styled(
            format!("recorded in the trace ({})", recorded.len()),
            theme.table_header(),
        ));
        let rows = recorded_rows.saturating_sub(1).max(1);
        log_lines.extend(
            recorded
                .iter()
                .skip(recorded.len().saturating_sub(rows))
                .map(|d| decision_line(d, log.width, theme)),
        );
    }
    frame.render_widget(Paragraph::new(log_lines), log);
}

/// The parameters, the verdict, the two skill curves and the learnt patterns.
fn summary<'a>(v: &'a LearningView, theme: &Theme) -> Vec<Line<'a>> {
    let opt = |x: Option<usize>| x.map_or_else(|| "-".to_string(), |x| x.to_string());
    let class = match v.nonlinear {
        Some(true) => "nonlinear",
        Some(false) => "linear",
        None => "-",
    };
    let mut lines = vec![Line::from(format!(
        "E {} τ {} (in use E {} τ {}) · window {} · every {} · class {class} · round {} · {:.1} ms",
        opt(v.e),
        opt(v.tau),
        v.effective.0,
        v.effective.1,
        v.length,
        v.interval,
        v.rounds,
        v.learning_ms
    ))];
    lines.push(match v.judge {
        Some((tuned, default, n)) => Line::from(vec![
            Span::raw(format!(
                "held-out ρ tuned {tuned:.3} vs default {default:.3} over {n} rounds · "
            )),
            if v.backed_off {
                Span::styled("backed off to defaults", theme.warning())
            } else {
                Span::styled("tuned in use", theme.good())
            },
        ]),
        None => Line::styled("held-out ρ: after the second round", theme.muted()),
    });
    let curve = |label: &str, points: Vec<(String, f64)>| {
        let bars: String = points.iter().map(|(_, r)| bar(*r)).collect();
        let numbers: Vec<String> = points.iter().map(|(k, r)| format!("{k}:{r:.2}")).collect();
        Line::from(vec![
            Span::styled(format!("{label} "), theme.muted()),
            Span::styled(bars, theme.highlight()),
            Span::raw(format!(" {}", numbers.join(" "))),
        ])
    };
    lines.push(curve(
        "ρ by E      ",
        v.rho_by_e
            .iter()
            .enumerate()
            .map(|(i, r)| ((i + 1).to_string(), *r))
            .collect(),
    ));
    lines.push(curve(
        "ρ by horizon",
        v.rho_by_horizon
            .iter()
            .map(|(tp, r)| (tp.to_string(), *r))
            .collect(),
    ));
    if v.learnt.is_empty() {
        lines.push(Line::styled("no pattern learnt", theme.muted()));
    } else {
        for (i, p) in v.learnt.iter().enumerate() {
            lines.push(Line::from(format!(
                "{}{} {} samples {}..{} threshold {:.3}",
                if i == 0 { "learnt: " } else { "        " },
                if p.pinned { "*" } else { " " },
                p.name,
                p.from,
                p.to,
                p.threshold
            )));
        }
    }
    lines
}

/// One decision in `width` cells: the why is cut with an ellipsis when the line is longer, so
/// each decision keeps its row and its closing parenthesis.
fn decision_line<'a>(d: &Decision, width: u16, theme: &Theme) -> Line<'a> {
    let head = format!("@{} L{} ", d.sample, d.level);
    let change = format!("{} {} -> {} ", d.what, d.from, d.to);
    let room = (width as usize).saturating_sub(head.chars().count() + change.chars().count());
    let why = if d.why.chars().count() + 2 <= room {
        format!("({})", d.why)
    } else {
        let kept: String = d.why.chars().take(room.saturating_sub(3)).collect();
        format!("({}…)", kept.trim_end())
    };
    Line::from(vec![
        Span::styled(head, theme.muted()),
        Span::raw(change),
        Span::styled(why, theme.muted()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_why_is_cut_with_an_ellipsis_and_keeps_its_parenthesis() {
        let d = Decision {
            channel: 0,
            channel_name: "x".into(),
            sample: 512,
            level: 2,
            what: "E".into(),
            from: "2".into(),
            to: "4".into(),
            why: "simplex rho 0.970 at E 4 vs 0.880 at E 2".into(),
        };
        let text = |w| {
            decision_line(&d, w, &Theme::NO_COLOR)
                .spans
                .iter()
                .map(|s| s.content.to_string())
                .collect::<String>()
        };
        assert_eq!(
            text(80),
            "@512 L2 E 2 -> 4 (simplex rho 0.970 at E 4 vs 0.880 at E 2)"
        );
        assert_eq!(text(36), "@512 L2 E 2 -> 4 (simplex rho 0.97…)");
        assert_eq!(text(36).chars().count(), 36);
    }

    #[test]
    fn bars_scale_rho_to_eighths() {
        assert_eq!(bar(1.0), '█');
        assert_eq!(bar(0.5), '▄');
        assert_eq!(bar(-0.3), ' ');
        assert_eq!(bar(0.0), ' ');
    }
}
