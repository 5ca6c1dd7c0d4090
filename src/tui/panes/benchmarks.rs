//! The Benchmarks pane: the latest results (`midstream-tui bench` runs, and `cargo bench`'s
//! criterion output) against the speed budgets the issues set, one row per budgeted benchmark
//! (budgets nobody has measured yet say "not run"), with the change from the run before or
//! from the baseline the run was compared with. The title counts the budgets met; the bottom
//! line says where the results were read, what a run going on is measuring, and how to make
//! more (`b` starts a quick run in the background).

use std::time::SystemTime;

use midstream_widgets::benchmark_table::{
    BenchmarkLook, BenchmarkRow, BenchmarkTable, BudgetStatus,
};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use crate::model::bench::{BenchReport, BudgetRow, Limit, Verdict};
use crate::pipeline::Snapshot;
use crate::tui::app::{App, Pane};
use crate::tui::format;
use crate::tui::theme::Theme;

/// A change of the median slower than this from the run before is marked as a regression:
/// criterion's own default noise threshold is 2%, and on a shared 2-core machine runs of the
/// same code differ by a few percent.
pub const REGRESSION_THRESHOLD: f64 = 0.05;

/// Draw the Benchmarks pane of `snapshot`.
pub fn render(frame: &mut Frame, area: Rect, app: &App, snapshot: &Snapshot, theme: &Theme) {
    let focused = app.focus() == Pane::Benchmarks;
    let report = snapshot.benchmarks.as_deref();
    let summary = match report {
        Some(r) => {
            let (within, measured) = r.within();
            format!("· {within}/{measured} measured within budget ")
        }
        None => "· reading results… ".to_string(),
    };
    let block = Block::bordered()
        .border_style(theme.border(focused))
        .title(Line::from(vec![
            Span::styled(" Benchmarks ", theme.title()),
            Span::styled(summary, theme.muted()),
        ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(report) = report else {
        return;
    };
    if inner.height < 2 {
        return;
    }
    let [table, footer] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
    let rows: Vec<BenchmarkRow> = report.rows.iter().map(row).collect();
    let look = BenchmarkLook {
        within: theme.good(),
        over: theme.error(),
        missing: theme.muted(),
        regressed: theme.warning(),
    };
    frame.render_widget(
        BenchmarkTable::new(rows)
            .look(look)
            .regression(REGRESSION_THRESHOLD),
        table,
    );
    frame.render_widget(
        Paragraph::new(footer_line(report, SystemTime::now())).style(theme.muted()),
        footer,
    );
}

/// A budget's row as the table draws it.
fn row(r: &BudgetRow) -> BenchmarkRow<'_> {
    let budget = match r.budget.limit {
        Limit::MaxNs(ns) => format!("≤ {}", format::nanos(ns)),
        Limit::MinPerS(rate) => format!("≥ {}", format::per_second(rate)),
    };
    let (name, measured) = match &r.result {
        None => (r.budget.bench.as_str(), "not run".to_string()),
        Some(result) => {
            let figure = match (r.budget.limit, result.per_s()) {
                (Limit::MinPerS(_), Some(rate)) => format::per_second(rate),
                _ => format::nanos(result.median_ns),
            };
            (result.id.as_str(), figure)
        }
    };
    let status = match r.verdict {
        None => BudgetStatus::Missing,
        Some(Verdict::Within) => BudgetStatus::Within,
        Some(Verdict::Over) => BudgetStatus::Over,
        Some(Verdict::NotComparable) => BudgetStatus::NotComparable,
    };
    BenchmarkRow {
        name,
        measured,
        budget,
        status,
        load: r.load,
        change: r.result.as_ref().and_then(|x| x.change),
    }
}

/// Where the results came from, how old the newest is, what else there is.
fn footer_line(report: &BenchReport, now: SystemTime) -> String {
    let mut parts = Vec::new();
    if let Some(current) = &report.running {
        parts.push(format!("running bench --quick: {current}"));
    }
    parts.push(format!("from {}", report.dir.display()));
    if let Some(name) = &report.baseline {
        parts.push(format!("change vs baseline {name}"));
    }
    let measured = report.rows.iter().any(|r| r.result.is_some()) || report.unbudgeted > 0;
    if !measured && report.running.is_none() {
        parts.push("no results yet: b runs the quick benchmarks".to_string());
    } else if let Some(t) = report.newest {
        let age = now.duration_since(t).unwrap_or_default();
        parts.push(format!("newest {} ago", format::duration(age)));
    }
    if report.unbudgeted > 0 {
        parts.push(format!("{} more without a budget", report.unbudgeted));
    }
    if !report.errors.is_empty() {
        parts.push(format!("{} unreadable", report.errors.len()));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::tui::sample::bench_report;

    #[test]
    fn the_footer_says_where_and_how_old() {
        let mut report = bench_report();
        assert_eq!(
            footer_line(&report, SystemTime::now()),
            "from target/criterion"
        );
        let empty = BenchReport::check(&[], &crate::bench::budgets().unwrap());
        assert!(
            footer_line(&empty, SystemTime::now())
                .ends_with("no results yet: b runs the quick benchmarks")
        );
        let now = SystemTime::now();
        report.newest = Some(now - Duration::from_secs(125));
        report.errors.push("x".into());
        assert_eq!(
            footer_line(&report, now),
            "from target/criterion · newest 2m05s ago · 1 unreadable"
        );
        report.unbudgeted = 1;
        report.running = Some("dtw/full/abs/100".into());
        report.baseline = Some("main".into());
        assert_eq!(
            footer_line(&report, now),
            "running bench --quick: dtw/full/abs/100 · from target/criterion · change vs \
             baseline main · newest 2m05s ago · 1 more without a budget · 1 unreadable"
        );
    }
}
