//! One frame from the app state and the latest snapshot. Pure: no I/O, no clock, no
//! environment; the event loop, the tests and `benches/render_bench.rs` all call [`render`].

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::pipeline::Snapshot;

use super::app::{App, Pane};
use super::layout::{MIN_HEIGHT, MIN_WIDTH, PaneAreas, ScreenLayout, screen_layout, takes_turns};
use super::panes;
use super::theme::Theme;

/// Draw one frame. The panes show the displayed snapshot (the frozen one while frozen); the
/// status line always shows `latest`.
pub fn render(frame: &mut Frame, app: &App, latest: &Snapshot, theme: &Theme) {
    let mut area = frame.area();
    let displayed = app.displayed(latest);
    if let Some(fleet) = &displayed.fleet
        && area.width >= MIN_WIDTH
        && area.height >= MIN_HEIGHT
    {
        // The analyzers' results (`attach --results`): the Fleet pane fills the screen when
        // no channel of its own is shown, else it takes the top, up to a third.
        if displayed.channels.is_empty() {
            let [body, status] =
                Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area);
            panes::fleet::render(frame, body, fleet, theme);
            panes::status::render(frame, status, app, latest, theme);
            if app.help_visible() {
                panes::help::render(frame, area, theme);
            }
            return;
        }
        let top = panes::fleet::wanted_height(fleet).min(area.height / 3);
        if area.height - top >= MIN_HEIGHT {
            let [fleet_area, rest] =
                Layout::vertical([Constraint::Length(top), Constraint::Fill(1)]).areas(area);
            panes::fleet::render(frame, fleet_area, fleet, theme);
            area = rest;
        }
    }
    match screen_layout(area, displayed.channels.len(), app.focus(), app.expanded()) {
        ScreenLayout::TooSmall { width, height } => render_too_small(frame, area, width, height),
        ScreenLayout::Panes(areas) => {
            for pane in Pane::ALL {
                let Some(rect) = areas.get(pane) else {
                    continue;
                };
                let draw = match pane {
                    Pane::Streams => panes::streams::render,
                    Pane::Phase => panes::phase::render,
                    Pane::Chaos => panes::chaos::render,
                    Pane::Patterns => panes::patterns::render,
                    Pane::Motifs => panes::motifs::render,
                    Pane::Learning => panes::learning::render,
                    Pane::Ltl => panes::ltl::render,
                    Pane::Scheduler => panes::scheduler::render,
                    Pane::Benchmarks => panes::benchmarks::render,
                };
                draw(frame, rect, app, displayed, theme);
            }
            render_tab_hint(frame, &areas, app, theme);
            panes::status::render(frame, areas.status, app, latest, theme);
            if app.help_visible() {
                panes::help::render(frame, area, theme);
            }
        }
    }
}

/// When some panes are not shown, the bottom border of the pane that `Tab` replaces says which
/// of the eight it is and which comes next: ` 3/8 · Tab ▸ Patterns `. In the grid that is only
/// a slot two panes share (Scheduler and Benchmarks, Patterns and Motifs), while one of them
/// has the focus.
fn render_tab_hint(frame: &mut Frame, areas: &PaneAreas, app: &App, theme: &Theme) {
    let focus = app.focus();
    let turn_taking = areas.grid && takes_turns(focus);
    if !areas.hides_some() && !turn_taking {
        return;
    }
    let shown =
        if areas.get(focus).is_some() && (focus != Pane::Streams || app.expanded().is_some()) {
            focus
        } else {
            Pane::Phase
        };
    let Some(rect) = areas.get(shown) else {
        return;
    };
    let position = Pane::ALL.iter().position(|&p| p == shown).unwrap_or(0) + 1;
    let hint = Line::from(vec![
        Span::styled(
            format!(" {position}/{} · Tab ▸ ", Pane::ALL.len()),
            theme.muted(),
        ),
        Span::styled(format!("{} ", focus.next().title()), theme.title()),
    ]);
    let width = hint.width() as u16;
    // Inside the corners of the bottom border, right-aligned; skipped when it does not fit.
    if rect.height < 2 || rect.width < width + 4 {
        return;
    }
    let at = Rect::new(rect.right() - 2 - width, rect.bottom() - 1, width, 1);
    frame.render_widget(hint, at);
}

/// The message shown instead of the panes on a screen below the minimum size.
pub fn too_small_message(width: u16, height: u16) -> String {
    format!("terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT}, have {width}×{height})")
}

fn render_too_small(frame: &mut Frame, area: Rect, width: u16, height: u16) {
    let text = too_small_message(width, height);
    // Wrapped lines it will take, to centre it vertically.
    let rows = (text.chars().count() as u16).div_ceil(area.width.max(1));
    let row = Rect {
        y: area.y + area.height.saturating_sub(rows) / 2,
        height: rows.min(area.height),
        ..area
    };
    let paragraph = Paragraph::new(Line::raw(text))
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    frame.render_widget(paragraph, row);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::style::Color;

    use super::*;
    use crate::pipeline::LinkState;
    use crate::tui::keymap::Action;
    use crate::tui::sample::demo_snapshot;

    /// Points per channel in the frame tests (the bench uses 4096).
    const POINTS: usize = 1000;

    fn draw(width: u16, height: u16, app: &App, latest: &Snapshot, theme: Theme) -> TestBackend {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
        terminal
            .draw(|f| render(f, app, latest, &theme))
            .expect("test backend");
        terminal.backend().clone()
    }

    fn has_color(buf: &Buffer) -> bool {
        buf.content().iter().any(|c| {
            c.fg != Color::Reset || c.bg != Color::Reset || c.underline_color != Color::Reset
        })
    }

    /// A snapshot with every status the screen can flag: gaps, recording, insecure, replay.
    fn everything_on() -> (App, Snapshot) {
        let mut snap = demo_snapshot(POINTS);
        snap.source.insecure = true;
        snap.source.recording = Some("run.mtr".to_string());
        snap.source.recorded = 1234;
        let latest = Arc::new(snap.clone());
        let mut app = App::new();
        app.apply(Action::ToggleFreeze, &latest);
        app.apply(Action::ToggleHelp, &latest);
        (app, snap)
    }

    #[test]
    fn whole_frame_80x24() {
        let snap = demo_snapshot(POINTS);
        insta::assert_snapshot!(draw(80, 24, &App::new(), &snap, Theme::COLOR));
    }

    #[test]
    fn whole_frame_160x48() {
        let snap = demo_snapshot(POINTS);
        insta::assert_snapshot!(draw(160, 48, &App::new(), &snap, Theme::COLOR));
    }

    #[test]
    fn every_pane_is_reached_with_tab_at_80x24() {
        let latest = Arc::new(demo_snapshot(POINTS));
        let mut app = App::new();
        for pane in Pane::ALL {
            assert_eq!(app.focus(), pane);
            let text = draw(80, 24, &app, &latest, Theme::NO_COLOR).to_string();
            assert!(
                text.contains(&format!("┌ {} ", pane.title())),
                "{pane:?}:\n{text}"
            );
            assert!(
                text.contains(&format!("Tab ▸ {} ", pane.next().title())),
                "{pane:?}:\n{text}"
            );
            app.apply(Action::FocusNext, &latest);
        }
        // Focused on the Chaos pane: the table and the Chaos pane.
        app.apply(Action::FocusNext, &latest);
        app.apply(Action::FocusNext, &latest);
        insta::assert_snapshot!(draw(80, 24, &app, &latest, Theme::COLOR));
    }

    #[test]
    fn the_grid_shows_every_pane_without_a_tab_hint() {
        let latest = Arc::new(demo_snapshot(POINTS));
        let mut app = App::new();
        let text = draw(160, 48, &app, &latest, Theme::NO_COLOR).to_string();
        for pane in Pane::ALL {
            assert_eq!(
                text.contains(&format!("┌ {} ", pane.title())),
                !matches!(pane, Pane::Benchmarks | Pane::Motifs | Pane::Learning),
                "{pane:?}:\n{text}"
            );
        }
        assert!(!text.contains("Tab ▸"), "{text}");

        // The Benchmarks pane takes the Scheduler's slot while it has the focus, and the slot
        // says so.
        app.apply(Action::FocusPrevious, &latest);
        assert_eq!(app.focus(), Pane::Benchmarks);
        let text = draw(160, 48, &app, &latest, Theme::NO_COLOR).to_string();
        assert!(
            text.contains("┌ Benchmarks · 5/6 measured within budget"),
            "{text}"
        );
        assert!(!text.contains("┌ Scheduler "), "{text}");
        assert!(text.contains("9/9 · Tab ▸ Streams"), "{text}");
        app.apply(Action::FocusPrevious, &latest);
        let text = draw(160, 48, &app, &latest, Theme::NO_COLOR).to_string();
        assert!(text.contains("8/9 · Tab ▸ Benchmarks"), "{text}");

        // The Motifs pane takes the Patterns pane's slot while it has the focus.
        while app.focus() != Pane::Motifs {
            app.apply(Action::FocusNext, &latest);
        }
        let text = draw(160, 48, &app, &latest, Theme::NO_COLOR).to_string();
        assert!(text.contains("┌ Motifs "), "{text}");
        assert!(!text.contains("┌ Patterns "), "{text}");
        assert!(text.contains("5/9 · Tab ▸ Learning"), "{text}");
        // So does the Learning pane.
        app.apply(Action::FocusNext, &latest);
        let text = draw(160, 48, &app, &latest, Theme::NO_COLOR).to_string();
        assert!(text.contains("┌ Learning "), "{text}");
        assert!(!text.contains("┌ Patterns "), "{text}");
        assert!(text.contains("6/9 · Tab ▸ LTL"), "{text}");
        app.apply(Action::FocusPrevious, &latest);
        app.apply(Action::FocusPrevious, &latest);
        let text = draw(160, 48, &app, &latest, Theme::NO_COLOR).to_string();
        assert!(text.contains("4/9 · Tab ▸ Motifs"), "{text}");
    }

    #[test]
    fn terminal_too_small() {
        let snap = demo_snapshot(10);
        let backend = draw(40, 10, &App::new(), &snap, Theme::COLOR);
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        assert!(text.contains("terminal too small"), "{text}");
        // One row short of the minimum is too small as well; the minimum itself is not.
        let text = draw(60, 15, &App::new(), &snap, Theme::COLOR).to_string();
        assert!(text.contains("need 60×16, have 60×15"), "{text}");
        let text = draw(60, 16, &App::new(), &snap, Theme::COLOR).to_string();
        assert!(!text.contains("too small"), "{text}");
    }

    #[test]
    fn tiny_and_empty_screens_do_not_panic() {
        let snap = demo_snapshot(10);
        for (w, h) in [(0, 0), (1, 1), (3, 40), (200, 2)] {
            let _ = draw(w, h, &App::new(), &snap, Theme::COLOR);
        }
        let _ = draw(80, 24, &App::new(), &Snapshot::default(), Theme::COLOR);
    }

    #[test]
    fn no_color_leaves_no_colour_in_any_cell() {
        let (app, snap) = everything_on();
        let plain = draw(160, 48, &app, &snap, Theme::NO_COLOR);
        assert!(!has_color(plain.buffer()));
        // The same frame in colour does have colour: the check can fail.
        let coloured = draw(160, 48, &app, &snap, Theme::COLOR);
        assert!(has_color(coloured.buffer()));
        // And the text is the same.
        assert_eq!(plain.to_string(), coloured.to_string());
    }

    #[test]
    fn help_overlay_lists_every_key_at_80x24_and_at_the_minimum_size() {
        let latest = Arc::new(demo_snapshot(POINTS));
        let mut app = App::new();
        app.apply(Action::ToggleHelp, &latest);
        let big = draw(80, 24, &app, &latest, Theme::NO_COLOR);
        insta::assert_snapshot!("help_80x24", big);
        let small = draw(60, 16, &app, &latest, Theme::NO_COLOR);
        insta::assert_snapshot!("help_60x16", small);
        for backend in [big, small] {
            let text = backend.to_string();
            for b in crate::tui::keymap::BINDINGS {
                assert!(text.contains(b.help), "{} missing:\n{text}", b.help);
            }
        }
    }

    #[test]
    fn frozen_panes_keep_the_old_snapshot_while_the_status_line_moves_on() {
        let first = Arc::new(demo_snapshot(POINTS));
        let mut app = App::new();
        app.apply(Action::ToggleFreeze, &first);
        let mut later = demo_snapshot(POINTS);
        later.generation = 2;
        for c in &mut later.channels {
            c.received = 777_777;
        }
        let text = draw(160, 48, &app, &later, Theme::NO_COLOR).to_string();
        assert!(text.contains("FROZEN"), "{text}");
        // The table shows the frozen counts, the status line the latest total.
        assert!(text.contains("48,210"), "{text}");
        assert!(!text.contains("777,777"), "{text}");
        assert!(text.contains(&format!(
            "{} received",
            crate::tui::format::count(8 * 777_777)
        )));
    }

    #[test]
    fn expanded_phase_pane_with_zoom() {
        let latest = Arc::new(demo_snapshot(POINTS));
        let mut app = App::new();
        app.apply(Action::FocusNext, &latest);
        app.apply(Action::ToggleExpand, &latest);
        app.apply(Action::ZoomIn, &latest);
        insta::assert_snapshot!(draw(80, 24, &app, &latest, Theme::COLOR));
    }

    #[test]
    fn replay_status_with_every_flag() {
        let (mut app, mut snap) = everything_on();
        app.apply(Action::ToggleHelp, &Arc::new(snap.clone()));
        snap.source.label = "trace run.mtr".to_string();
        snap.source.link = LinkState::Replay {
            speed: 4.0,
            paused: true,
            position_ns: 12_300_000_000,
            length_ns: 60_000_000_000,
        };
        insta::assert_snapshot!(draw(160, 48, &app, &snap, Theme::COLOR));
    }

    #[test]
    fn link_states_in_the_status_line() {
        let mut snap = demo_snapshot(10);
        let cases = [
            (
                LinkState::Reconnecting {
                    reason: "connection lost: timed out".to_string(),
                    attempt: 3,
                    delay: Duration::from_millis(1500),
                },
                "reconnecting (attempt 3, connection lost: timed out) in 1.50s",
            ),
            (
                LinkState::Failed {
                    reason: "certificate pin mismatch".to_string(),
                },
                "failed: certificate pin mismatch",
            ),
            (
                LinkState::Ended {
                    reason: "end of trace".to_string(),
                },
                "ended: end of trace",
            ),
            (
                LinkState::Connecting,
                "connecting to demo on 127.0.0.1:40123",
            ),
        ];
        for (link, expected) in cases {
            snap.source.link = link;
            let text = draw(160, 48, &App::new(), &snap, Theme::NO_COLOR).to_string();
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
    }

    #[test]
    fn a_stall_and_its_length_show_in_the_status_line_and_the_streams_pane() {
        let mut snap = demo_snapshot(10);
        snap.source.link = LinkState::Stalled {
            remote: "127.0.0.1:4433".to_string(),
            silent_for: Duration::from_millis(4240),
        };
        let text = draw(160, 48, &App::new(), &snap, Theme::NO_COLOR).to_string();
        assert!(
            text.contains("STALLED for 4.2 s: no packet from 127.0.0.1:4433"),
            "{text}"
        );
        let title = text
            .lines()
            .find(|l| l.contains("Streams"))
            .unwrap_or_else(|| panic!("no Streams pane:\n{text}"));
        assert!(title.contains("· STALLED for 4.2 s"), "{title}");
    }

    #[test]
    fn insecure_warning_is_red_and_shown_at_the_minimum_width() {
        let mut snap = demo_snapshot(10);
        snap.source.insecure = true;
        let backend = draw(60, 16, &App::new(), &snap, Theme::COLOR);
        let buf = backend.buffer();
        let row: String = (0..60).map(|x| buf[(x, 15)].symbol().to_string()).collect();
        let at = row.find("INSECURE").expect("warning on the status line");
        let x = row[..at].chars().count() as u16;
        assert_eq!(buf[(x, 15)].fg, Color::Red);
    }
}
