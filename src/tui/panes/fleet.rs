//! The Fleet pane (`attach nats://... --results PREFIX`): one row per channel the analyzers
//! publish results for, with its analyzer, λ, class, verdicts, latest match and the age of its
//! last result; the title counts the channels per analyzer.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Row, Table};

use crate::model::fleet::FleetResult;
use crate::sources::fleet::FleetTable;
use crate::tui::theme::Theme;

/// A result older than this is shown as stale (its analyzer publishes every second while the
/// channel has new samples; three missed results mean it stopped or lost the channel).
const STALE_AFTER_S: f64 = 3.0;

/// Bounds of the channel column's width.
const NAME_WIDTH: (u16, u16) = (7, 24);

/// Rows the pane needs for `table`: borders, header and one per channel.
pub fn wanted_height(table: &FleetTable) -> u16 {
    u16::try_from(table.rows.len())
        .unwrap_or(u16::MAX)
        .max(1)
        .saturating_add(3)
}

/// Draw the Fleet pane of `table` into `area`.
pub fn render(frame: &mut Frame, area: Rect, table: &FleetTable, theme: &Theme) {
    let block = Block::bordered()
        .border_style(theme.border(false))
        .title(Line::from(vec![
            Span::styled(" Fleet ", theme.title()),
            Span::styled(title(table), theme.muted()),
        ]));
    if table.rows.is_empty() {
        let text = match &table.latest_problem {
            Some(problem) => format!("no results yet on {}.>; {problem}", table.prefix),
            None => format!("no results yet on {}.>", table.prefix),
        };
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let row = Rect {
            y: inner.y + inner.height / 2,
            height: inner.height.min(1),
            ..inner
        };
        frame.render_widget(
            Line::styled(text, theme.muted()).alignment(Alignment::Center),
            row,
        );
        return;
    }
    let name_width = table
        .rows
        .keys()
        .map(|name| name.chars().count())
        .max()
        .map_or(NAME_WIDTH.0, |w| {
            u16::try_from(w)
                .unwrap_or(u16::MAX)
                .clamp(NAME_WIDTH.0, NAME_WIDTH.1)
        });
    let analyzer_width = table
        .rows
        .values()
        .map(|row| row.result.analyzer.chars().count())
        .max()
        .map_or(8, |w| u16::try_from(w).unwrap_or(u16::MAX).clamp(8, 20));
    let header = Row::new([
        Cell::from("channel"),
        Cell::from("analyzer"),
        right("samples"),
        right("λ"),
        Cell::from("class"),
        Cell::from("verdicts"),
        Cell::from("latest match"),
        right("age"),
    ])
    .style(theme.table_header());
    let rows = table.rows.values().map(|row| {
        let age_s = table.age(row).as_secs_f64();
        let r = &row.result;
        let age = format!("{age_s:.0} s");
        let age = if age_s >= STALE_AFTER_S {
            Cell::from(Line::styled(age, theme.warning()).alignment(Alignment::Right))
        } else {
            right(age)
        };
        let class = match &r.class {
            Some(class) => Cell::from(Span::styled(class.clone(), theme.attractor_class(class))),
            None => Cell::from(Span::styled("—", theme.muted())),
        };
        Row::new([
            Cell::from(r.channel.clone()),
            Cell::from(r.analyzer.clone()),
            right(crate::tui::format::count(r.samples)),
            right(
                r.lyapunov
                    .map_or_else(|| "—".to_owned(), |l| format!("{l:+.3}")),
            ),
            class,
            verdicts(r, theme),
            Cell::from(latest_match(r)),
            age,
        ])
    });
    let widths = [
        Constraint::Length(name_width),
        Constraint::Length(analyzer_width),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(14),
        Constraint::Length(12),
        Constraint::Fill(1),
        Constraint::Length(5),
    ];
    let widget = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(1);
    frame.render_widget(widget, area);
}

/// `· res.> · 20 channels · a1 10 · a2 10 · 3 bad `.
fn title(table: &FleetTable) -> String {
    let mut title = format!("· {}.> · {} channels ", table.prefix, table.rows.len());
    for (analyzer, channels) in table.analyzers() {
        title.push_str(&format!("· {analyzer} {channels} "));
    }
    if table.bad_results > 0 {
        title.push_str(&format!("· {} bad ", table.bad_results));
    }
    if table.evicted > 0 {
        title.push_str(&format!("· {} rows dropped ", table.evicted));
    }
    title
}

/// Satisfied, violated and undecided formulas: `2✓ 1✗ 0?`, violations in the error colour.
fn verdicts<'a>(r: &FleetResult, theme: &Theme) -> Cell<'a> {
    if r.verdicts.is_empty() {
        return Cell::from(Span::styled("—", theme.muted()));
    }
    let count = |status: &str| r.verdicts.values().filter(|v| *v == status).count();
    let (ok, bad, open) = (count("satisfied"), count("violated"), count("undecided"));
    let violated = Span::styled(
        format!("{bad}✗"),
        if bad > 0 {
            theme.error()
        } else {
            theme.muted()
        },
    );
    Cell::from(Line::from(vec![
        Span::raw(format!("{ok}✓ ")),
        violated,
        Span::raw(format!(" {open}?")),
    ]))
}

/// `spike @1200 d 0.31`, or `—`.
fn latest_match(r: &FleetResult) -> String {
    r.matches.first().map_or_else(
        || "—".to_owned(),
        |m| format!("{} @{} d {:.2}", m.pattern, m.start_sample, m.distance),
    )
}

fn right<'a>(text: impl Into<Line<'a>>) -> Cell<'a> {
    Cell::from(text.into().alignment(Alignment::Right))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::model::fleet::FleetMatch;

    fn result(channel: &str, analyzer: &str, lyapunov: Option<f64>) -> FleetResult {
        FleetResult {
            channel: channel.to_owned(),
            analyzer: analyzer.to_owned(),
            samples: 4096,
            lyapunov,
            class: lyapunov.map(|l| if l > 0.0 { "chaotic" } else { "periodic" }.to_owned()),
            correlation_dimension: Some(1.02),
            verdicts: BTreeMap::new(),
            matches: Vec::new(),
            time: 0.0,
            subject: channel.to_owned(),
            stream_seq: 1,
        }
    }

    /// Three channels on two analyzers: one with formulas (one violated) and a match, one
    /// not yet analysed, one whose last result is 5 s old.
    fn table() -> FleetTable {
        let t0 = Instant::now();
        let mut table = FleetTable::new("res");
        let mut events = result("in.events", "host-a-17", None);
        events.verdicts = BTreeMap::from([
            ("G(latency_ms < 1000)".to_owned(), "violated".to_owned()),
            ("G(error -> F(!error))".to_owned(), "undecided".to_owned()),
        ]);
        table.insert(events, t0 + Duration::from_secs(5));
        let mut lorenz = result("in.lorenz", "host-a-17", Some(0.9056));
        lorenz.matches = vec![FleetMatch {
            pattern: "spike".to_owned(),
            start_sample: 1200,
            len: 32,
            distance: 0.314,
        }];
        table.insert(lorenz, t0 + Duration::from_secs(5));
        table.insert(result("in.sine", "host-b-9", Some(-0.0123)), t0);
        table.taken_at = t0 + Duration::from_secs(5);
        table
    }

    fn draw(table: &FleetTable, theme: &Theme) -> TestBackend {
        let mut terminal = Terminal::new(TestBackend::new(100, 7)).expect("test backend");
        terminal
            .draw(|f| render(f, f.area(), table, theme))
            .expect("test backend");
        terminal.backend().clone()
    }

    #[test]
    fn fleet_pane() {
        let backend = draw(&table(), &Theme::NO_COLOR);
        insta::assert_snapshot!(backend);
    }

    #[test]
    fn fleet_pane_marks_violations_and_stale_results() {
        let backend = draw(&table(), &Theme::COLOR);
        let buf = backend.buffer();
        let find = |text: &str| {
            (0..7)
                .find_map(|y| {
                    let line: String = (0..100).map(|x| buf[(x, y)].symbol()).collect();
                    line.find(text).map(|byte| {
                        let x = line[..byte].chars().count() as u16;
                        (x, y)
                    })
                })
                .unwrap_or_else(|| panic!("{text} not drawn"))
        };
        let (x, y) = find("1✗");
        assert_eq!(buf[(x, y)].fg, Theme::COLOR.error().fg.unwrap());
        let (x, y) = find("5 s");
        assert_eq!(buf[(x, y)].fg, Theme::COLOR.warning().fg.unwrap());
        let (x, y) = find("0 s");
        assert_ne!(buf[(x, y)].fg, Theme::COLOR.warning().fg.unwrap());
    }

    #[test]
    fn an_empty_fleet_says_where_it_listens() {
        let backend = draw(&FleetTable::new("res"), &Theme::NO_COLOR);
        let text: String = backend
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        assert!(text.contains("no results yet on res.>"), "{text}");
    }
}
