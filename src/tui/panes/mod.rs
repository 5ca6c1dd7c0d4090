//! One file per pane. Each draws from the app state and a snapshot, nothing else.

pub mod benchmarks;
pub mod chaos;
pub mod fleet;
pub mod help;
pub mod learning;
pub mod ltl;
pub mod motifs;
pub mod patterns;
pub mod phase;
pub mod scheduler;
pub mod status;
pub mod streams;

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::tui::theme::Theme;

/// A pane with nothing to draw but a short message, centred in its border.
/// A pane's bordered block, titled with its name and, when a channel is focused, what the
/// pane says about it (` Chaos · lorenz.x `).
pub(crate) fn channel_block<'a>(
    name: &'a str,
    about: Option<String>,
    focused: bool,
    theme: &Theme,
) -> Block<'a> {
    let mut title = vec![Span::styled(name, theme.title())];
    if let Some(about) = about {
        title.push(Span::styled(about, theme.muted()));
    }
    Block::bordered()
        .border_style(theme.border(focused))
        .title(Line::from(title))
}

pub(crate) fn note(frame: &mut Frame, area: Rect, block: Block<'_>, text: &str, theme: &Theme) {
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let row = Rect {
        y: inner.y + inner.height.saturating_sub(1) / 2,
        height: inner.height.min(3),
        ..inner
    };
    let paragraph = Paragraph::new(Line::styled(text.to_string(), theme.muted()))
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true });
    frame.render_widget(paragraph, row);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use ratatui::backend::TestBackend;
    use ratatui::style::{Color, Modifier};
    use ratatui::{Frame, Terminal};

    use midstream_widgets::latency_histogram::LatencyBucket;

    use super::scheduler::{ClassView, SchedulerView};
    use crate::pipeline::Snapshot;
    use crate::scheduler::{LatencyKind, LatencyPercentiles, TaskClass};
    use crate::tui::app::{App, Pane};
    use crate::tui::format;
    use crate::tui::keymap::Action;
    use crate::tui::sample::demo_snapshot;
    use crate::tui::theme::Theme;

    fn draw_pane(
        width: u16,
        height: u16,
        pane: impl FnOnce(&mut Frame, ratatui::layout::Rect),
    ) -> TestBackend {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
        terminal.draw(|f| pane(f, f.area())).expect("test backend");
        terminal.backend().clone()
    }

    /// The app focused on the channel named `name`.
    fn focused_on(name: &str, snap: &Arc<Snapshot>) -> App {
        let mut app = App::new();
        for _ in 0..snap.channels.len() {
            if app
                .focused_channel(snap)
                .is_some_and(|c| c.info.name == name)
            {
                return app;
            }
            app.apply(Action::NextChannel, snap);
        }
        panic!("no channel {name}");
    }

    #[test]
    fn streams_pane() {
        let snap = Arc::new(demo_snapshot(200));
        let app = focused_on("henon.x", &snap);
        let backend = draw_pane(90, 12, |f, area| {
            super::streams::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        // The focused row is reversed only when the pane has the focus (it has, by default).
        let buf = backend.buffer();
        let row = (0..12)
            .find(|&y| {
                (0..90)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
                    .contains("henon.x")
            })
            .expect("henon row");
        assert!(
            buf[(5, row)]
                .modifier
                .contains(ratatui::style::Modifier::REVERSED)
        );
    }

    #[test]
    fn streams_pane_without_channels() {
        let snap = Snapshot::default();
        let backend = draw_pane(60, 5, |f, area| {
            super::streams::render(f, area, &App::new(), &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
    }

    #[test]
    fn phase_pane_scalar_delay_embedding() {
        let snap = Arc::new(demo_snapshot(2000));
        let app = focused_on("henon.x", &snap);
        let backend = draw_pane(60, 20, |f, area| {
            super::phase::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        // The Hénon map's chosen delay, not the fixed one.
        assert!(backend.to_string().contains("τ = 1 sample (chosen)"));
    }

    #[test]
    fn phase_pane_falls_back_to_the_fixed_delay_before_any_analysis() {
        let mut snap = demo_snapshot(2000);
        snap.analysis.chaos.clear();
        let snap = Arc::new(snap);
        let app = focused_on("henon.x", &snap);
        let backend = draw_pane(60, 20, |f, area| {
            super::phase::render(f, area, &app, &snap, &Theme::COLOR);
        });
        let text = backend.to_string();
        assert!(
            text.contains(&format!(
                "τ = {} samples (fixed)",
                super::phase::DELAY_SAMPLES
            )),
            "{text}"
        );
    }

    #[test]
    fn phase_pane_vector_components() {
        let snap = Arc::new(demo_snapshot(4096));
        let app = focused_on("rossler", &snap);
        let backend = draw_pane(60, 20, |f, area| {
            super::phase::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
    }

    #[test]
    fn phase_pane_event_channel_note() {
        let snap = Arc::new(demo_snapshot(100));
        let app = focused_on("events", &snap);
        let backend = draw_pane(50, 9, |f, area| {
            super::phase::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        assert!(backend.to_string().contains("nothing numeric"));
    }

    #[test]
    fn phase_pane_waiting_for_enough_samples() {
        let mut snap = demo_snapshot(5);
        snap.channels.retain(|c| c.info.name == "sine");
        let snap = Arc::new(snap);
        let backend = draw_pane(50, 7, |f, area| {
            super::phase::render(f, area, &App::new(), &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        // The sine's chosen delay is 31 samples: 32 are needed for one point.
        assert!(backend.to_string().contains("5 of 32 samples"));
    }

    #[test]
    fn status_line() {
        let mut snap = demo_snapshot(10);
        snap.source.recording = Some("run.mtr".into());
        snap.source.recorded = 99;
        let snap = Arc::new(snap);
        let mut app = App::new();
        app.apply(Action::ToggleFreeze, &snap);
        let backend = draw_pane(120, 1, |f, area| {
            super::status::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
    }

    fn has_color(backend: &TestBackend) -> bool {
        backend
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset || c.bg != Color::Reset)
    }

    /// Cells of row `y` whose style reverses them.
    fn reversed_cells(backend: &TestBackend, y: u16) -> usize {
        let buf = backend.buffer();
        (0..buf.area.width)
            .filter(|&x| buf[(x, y)].modifier.contains(Modifier::REVERSED))
            .count()
    }

    #[test]
    fn chaos_pane_lorenz() {
        let snap = Arc::new(demo_snapshot(1000));
        let app = focused_on("lorenz.x", &snap);
        let backend = draw_pane(48, 20, |f, area| {
            super::chaos::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        for expected in ["CHAOTIC", "λ +0.893 1/s", "2.040", "m = 3, τ = 11 samples"] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
        assert!(text.contains("steps 4–36, R² 0.991"), "{text}");
        assert!(text.contains("19.8 ms"), "{text}");
    }

    #[test]
    fn chaos_pane_small_keeps_the_figures() {
        let snap = Arc::new(demo_snapshot(100));
        let app = focused_on("sine", &snap);
        let backend = draw_pane(44, 9, |f, area| {
            super::chaos::render(f, area, &app, &snap, &Theme::NO_COLOR);
        });
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        assert!(
            text.contains("PERIODIC") && text.contains("λ -0.002 1/s"),
            "{text}"
        );
        assert!(!has_color(&backend));
    }

    #[test]
    fn chaos_pane_before_the_first_analysis_counts_samples() {
        let mut snap = demo_snapshot(100);
        snap.analysis.chaos.clear();
        if let Some(c) = snap.channels.iter_mut().find(|c| c.info.name == "henon.x") {
            c.received = 1234;
        }
        let snap = Arc::new(snap);
        let app = focused_on("henon.x", &snap);
        let backend = draw_pane(48, 9, |f, area| {
            super::chaos::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        assert!(
            backend
                .to_string()
                .contains("collecting: 1,234/4,096 samples")
        );
    }

    #[test]
    fn chaos_pane_says_why_the_last_analysis_failed() {
        let mut snap = demo_snapshot(100);
        if let Some(view) = snap.analysis.chaos.get_mut(&4) {
            view.error = Some("window is constant".to_string());
            view.lyapunov = None;
        }
        let snap = Arc::new(snap);
        let app = focused_on("logistic", &snap);
        let backend = draw_pane(48, 16, |f, area| {
            super::chaos::render(f, area, &app, &snap, &Theme::COLOR);
        });
        let text = backend.to_string();
        assert!(
            text.contains("✗ last analysis failed: window is constant"),
            "{text}"
        );
        assert!(text.contains("λ — 1/s"), "{text}");
        let tokens = focused_on("tokens", &snap);
        let backend = draw_pane(48, 9, |f, area| {
            super::chaos::render(f, area, &tokens, &snap, &Theme::COLOR);
        });
        assert!(backend.to_string().contains("not numeric"));
    }

    #[test]
    fn patterns_pane_marks_the_newest_match_on_the_focused_channel() {
        let snap = Arc::new(demo_snapshot(1000));
        let app = focused_on("lorenz.x", &snap);
        let backend = draw_pane(80, 20, |f, area| {
            super::patterns::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        assert!(
            text.contains("library: double-scroll, ramp, spike, sine-burst"),
            "{text}"
        );
        assert!(
            text.contains("▲ spike on lorenz.x: samples 48,726–48,790"),
            "{text}"
        );
        assert!(text.contains("“I think so again”"), "{text}");
        // The match's 64 of 1000 samples are about 64 × 78 / 1000 ≈ 5 of the strip's columns
        // (rows 2 and 3: under the border and the caption).
        let marked = reversed_cells(&backend, 3);
        assert_eq!(reversed_cells(&backend, 2), marked);
        assert!((5..=7).contains(&marked), "{marked} columns marked");
        // Without colour the mark is still there (reversed).
        let plain = draw_pane(80, 20, |f, area| {
            super::patterns::render(f, area, &app, &snap, &Theme::NO_COLOR);
        });
        assert!(!has_color(&plain));
        assert_eq!(reversed_cells(&plain, 3), marked);
    }

    #[test]
    fn patterns_pane_without_a_match_in_the_window() {
        let snap = Arc::new(demo_snapshot(1000));
        let app = focused_on("logistic", &snap);
        let backend = draw_pane(70, 14, |f, area| {
            super::patterns::render(f, area, &app, &snap, &Theme::COLOR);
        });
        let text = backend.to_string();
        assert!(
            text.contains("logistic: no match in the last 1,000 samples"),
            "{text}"
        );
        assert!(!text.contains('▲'), "{text}");
        let empty = Arc::new(Snapshot::default());
        let backend = draw_pane(70, 8, |f, area| {
            super::patterns::render(f, area, &App::new(), &empty, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
    }

    /// Row `y` of a buffer as text.
    fn row_text(backend: &TestBackend, y: u16) -> String {
        let buf = backend.buffer();
        (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect()
    }

    /// The first cell (x, y) whose symbol is `symbol`.
    fn find_cell(backend: &TestBackend, symbol: &str) -> Option<(u16, u16)> {
        let buf = backend.buffer();
        (0..buf.area.height)
            .flat_map(|y| (0..buf.area.width).map(move |x| (x, y)))
            .find(|&(x, y)| buf[(x, y)].symbol() == symbol)
    }

    #[test]
    fn motifs_pane_draws_the_window_the_pair_the_discord_and_the_table() {
        let snap = Arc::new(demo_snapshot(1000));
        // Rössler: a tuned period, a close motif pair and a discord apart from it (the demo's pure
        // sine repeats exactly, so its every window is a perfect match and the discord sits on A).
        let mut app = focused_on("rossler", &snap);
        while app.focus() != Pane::Motifs {
            app.apply(Action::FocusNext, &snap);
        }
        let backend = draw_pane(84, 18, |f, area| {
            super::motifs::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        let view = &snap.analysis.meta[&2];
        let pair = view.motifs[0];
        let discord = view.discords[0];
        for expected in [
            "Motifs · rossler · m = 116 (period 116), N = 1,024".to_string(),
            format!(
                "A #{} ↔ B #{}",
                format::count(pair.a),
                format::count(pair.b)
            ),
            format!("d {:.3}", pair.distance),
            format!("▲ discord #{}", format::count(discord.index)),
            "channel".to_string(),
            "nonlin".to_string(),
        ] {
            assert!(text.contains(&expected), "{expected}:\n{text}");
        }
        // One table row per numeric channel, none for events and tokens.
        for name in [
            "lorenz", "lorenz.x", "rossler", "henon.x", "logistic", "sine",
        ] {
            assert!(
                (0..18).any(|y| row_text(&backend, y).starts_with(&format!("│{name} "))),
                "{name}:\n{text}"
            );
        }
        assert!(
            !text.contains("│events") && !text.contains("│tokens"),
            "{text}"
        );
        // The Rössler row is selected (reversed: the pane has the focus) and says what was tuned.
        let rossler_row = (0..18)
            .find(|&y| row_text(&backend, y).starts_with("│rossler "))
            .unwrap();
        assert!(reversed_cells(&backend, rossler_row) > 40);
        assert!(
            row_text(&backend, rossler_row).contains(" 116    116 "),
            "{text}"
        );
        // The ruler names A, B and the discord, each in its own colour.
        let colour = |symbol| {
            let (x, y) = find_cell(&backend, symbol).unwrap_or_else(|| panic!("{symbol}"));
            backend.buffer()[(x, y)].fg
        };
        assert_eq!(colour("├"), Color::Cyan);
        assert_eq!(colour("╞"), Color::Magenta);
        assert_eq!(colour("▲"), Color::Red);
        // The chart draws the windows over the series in the same colours.
        let chart_colours: std::collections::BTreeSet<String> = backend
            .buffer()
            .content()
            .iter()
            .filter(|c| {
                ('\u{2800}'..='\u{28FF}').contains(&c.symbol().chars().next().unwrap_or(' '))
            })
            .map(|c| format!("{:?}", c.fg))
            .collect();
        for c in ["Cyan", "Magenta", "Red"] {
            assert!(chart_colours.contains(c), "{c} in {chart_colours:?}");
        }
    }

    #[test]
    fn motifs_pane_without_colour_tells_the_windows_apart_by_glyph() {
        let snap = Arc::new(demo_snapshot(1000));
        let app = focused_on("lorenz.x", &snap);
        let backend = draw_pane(80, 16, |f, area| {
            super::motifs::render(f, area, &app, &snap, &Theme::NO_COLOR);
        });
        insta::assert_snapshot!(backend);
        assert!(!has_color(&backend));
        let text = backend.to_string();
        for glyph in ["├", "┤", "A", "╞", "╡", "B", "▲"] {
            assert!(text.contains(glyph), "{glyph}:\n{text}");
        }
        // B's ruler is underlined, A's is not.
        let (bx, by) = find_cell(&backend, "╞").unwrap();
        let (ax, ay) = find_cell(&backend, "├").unwrap();
        let buf = backend.buffer();
        assert!(buf[(bx, by)].modifier.contains(Modifier::UNDERLINED));
        assert!(!buf[(ax, ay)].modifier.contains(Modifier::UNDERLINED));
        assert!(text.contains("Motifs · lorenz.x"), "{text}");
    }

    #[test]
    fn motifs_pane_shows_a_failed_round_and_fits_small_areas() {
        let mut snap = demo_snapshot(1000);
        if let Some(view) = snap.analysis.meta.get_mut(&4) {
            view.error = Some("the last 512 samples are all 0: a constant window".into());
            view.motifs.clear();
            view.discords.clear();
            view.dynamics = None;
        }
        let snap = Arc::new(snap);
        let app = focused_on("logistic", &snap);
        let backend = draw_pane(80, 16, |f, area| {
            super::motifs::render(f, area, &app, &snap, &Theme::COLOR);
        });
        let text = backend.to_string();
        assert!(
            text.contains("✗ the last 512 samples are all 0: a constant window"),
            "{text}"
        );
        assert!(text.contains("│✗ logistic"), "{text}");
        // Small areas keep the caption and the focused row; nothing panics.
        let small = draw_pane(60, 6, |f, area| {
            super::motifs::render(f, area, &app, &snap, &Theme::NO_COLOR);
        });
        insta::assert_snapshot!(small);
        assert!(
            small.to_string().contains("│✗ logistic"),
            "{}",
            small.to_string()
        );
        for (w, h) in [(0, 0), (1, 1), (10, 3), (30, 4), (200, 2), (12, 40)] {
            let _ = draw_pane(w, h, |f, area| {
                super::motifs::render(f, area, &app, &snap, &Theme::COLOR);
            });
        }
        // A text channel and a channel before its first round say so.
        let tokens = focused_on("tokens", &snap);
        let text = draw_pane(80, 12, |f, area| {
            super::motifs::render(f, area, &tokens, &snap, &Theme::COLOR);
        })
        .to_string();
        assert!(text.contains("tokens is not numeric"), "{text}");
        let mut young = (*snap).clone();
        young.analysis.meta.clear();
        if let Some(c) = young.channels.iter_mut().find(|c| c.info.name == "sine") {
            c.received = 100;
        }
        let young = Arc::new(young);
        let sine = focused_on("sine", &young);
        let text = draw_pane(80, 12, |f, area| {
            super::motifs::render(f, area, &sine, &young, &Theme::COLOR);
        })
        .to_string();
        assert!(text.contains("collecting: 100/256 samples"), "{text}");
        let empty = draw_pane(60, 6, |f, area| {
            super::motifs::render(f, area, &App::new(), &Snapshot::default(), &Theme::COLOR);
        });
        assert!(empty.to_string().contains("no channels yet"));
    }

    #[test]
    fn ltl_pane_one_row_per_formula() {
        let snap = Arc::new(demo_snapshot(10));
        let backend = draw_pane(90, 13, |f, area| {
            super::ltl::render(f, area, &App::new(), &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        for expected in [
            "✓ satisfied",
            "✗ violated",
            "? undecided",
            "decided @ 1,877",
            "12 missing",
            "╰ #1875",
            // Violations counted, their rate per 1,000 steps, and the forecast.
            "✗ 37 · 10.3/1k steps · ✓ 0",
            "✗ 0 · 0.0/1k steps · ✓ 1,180",
            "⚠ P(✗ ≤10) 62%",
            "P(✗ ≤10) 0%",
            "P(✗ ≤10) learning",
            "⚠ 1 ",
        ] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
        let buf = backend.buffer();
        let color_of = |needle: &str| {
            let (x, y) = (0..buf.area.height)
                .find_map(|y| {
                    let row: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
                    row.find(needle)
                        .map(|at| (row[..at].chars().count() as u16, y))
                })
                .unwrap_or_else(|| panic!("{needle} not found"));
            buf[(x, y)].fg
        };
        assert_eq!(color_of("✓ satisfied"), Color::Green);
        assert_eq!(color_of("✗ violated"), Color::Red);
        assert_eq!(color_of("⚠ P(✗"), Color::Magenta);
        // The same symbols and words without colour.
        let plain = draw_pane(90, 13, |f, area| {
            super::ltl::render(f, area, &App::new(), &snap, &Theme::NO_COLOR);
        });
        assert!(!has_color(&plain));
        assert_eq!(plain.to_string(), text);
    }

    #[test]
    fn ltl_pane_expanded_lists_the_violation_window_one_record_per_line() {
        let snap = Arc::new(demo_snapshot(10));
        let mut app = App::new();
        while app.focus() != Pane::Ltl {
            app.apply(Action::FocusNext, &snap);
        }
        app.apply(Action::ToggleExpand, &snap);
        let backend = draw_pane(90, 17, |f, area| {
            super::ltl::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        let window = &snap.analysis.formulas[1].violation_window;
        for record in window {
            assert!(text.contains(record.as_str()), "{record}:\n{text}");
        }
        assert!(!text.contains('→'), "one record per line:\n{text}");
    }

    #[test]
    fn ltl_pane_without_formulas() {
        let snap = Snapshot::default();
        let backend = draw_pane(70, 5, |f, area| {
            super::ltl::render(f, area, &App::new(), &snap, &Theme::COLOR);
        });
        assert!(backend.to_string().contains("no formulas"));
    }

    /// Fixed figures for the Scheduler pane, as plain data.
    fn fixed_scheduler_view(kind: LatencyKind) -> SchedulerView {
        let bounds: Vec<(u64, u64)> = (0..12)
            .map(|i| {
                let edge = |k: i32| 10f64.powf(2.0 + f64::from(k) / 2.0).round() as u64;
                (edge(i), edge(i + 1))
            })
            .collect();
        let class = |class, peak: usize, n: u64, p: [u64; 5]| ClassView {
            class,
            percentiles: LatencyPercentiles {
                count: n,
                p50_ns: p[0],
                p90_ns: p[1],
                p99_ns: p[2],
                p999_ns: p[3],
                max_ns: p[4],
            },
            buckets: bounds
                .iter()
                .enumerate()
                .map(|(i, &(lower_ns, upper_ns))| LatencyBucket {
                    lower_ns,
                    upper_ns,
                    count: match i.abs_diff(peak) {
                        0 => n / 2,
                        1 => n / 5,
                        2 => n / 20,
                        _ => 0,
                    },
                })
                .collect(),
            deadline_misses: 0,
            shed: 0,
            rejected: 0,
            queue_depth: 0,
            capacity: 1024,
            tasks_per_s: n as f64 / 10.0,
        };
        let mut classes = vec![
            class(
                TaskClass::Critical,
                2,
                10_000,
                [1_500, 4_000, 9_000, 12_000, 30_000],
            ),
            class(
                TaskClass::High,
                4,
                2_000,
                [15_000, 40_000, 80_000, 95_000, 120_000],
            ),
            class(
                TaskClass::Normal,
                7,
                300,
                [2_000_000, 5_000_000, 9_000_000, 9_500_000, 9_900_000],
            ),
            class(TaskClass::Low, 9, 0, [0; 5]),
        ];
        classes[2].deadline_misses = 4;
        classes[3].shed = 17;
        classes[3].queue_depth = 9;
        SchedulerView {
            kind,
            workers: 2,
            uptime: Duration::from_secs(65),
            classes,
            shed_by_label: vec![("low meta on sine".to_string(), 17)],
        }
    }

    #[test]
    fn benchmarks_pane_checks_results_against_the_budgets() {
        let snap = demo_snapshot(16);
        let backend = draw_pane(96, 22, |f, area| {
            super::benchmarks::render(f, area, &App::new(), &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        for expected in [
            "Benchmarks · 5/6 measured within budget",
            "✓ dtw/full/abs/100",
            "5.40µs ≤ 15.0µs",
            "✗ edit/levenshtein/large/1000",
            "41.0µs ≤ 30.0µs",
            "+9%",
            "10.5 M/s ≥ 4.50 M/s",
            "−31%",
            "· edit/lcs/*/1000",
            "not run ≤ 20.0µs",
            "✓ schedule_one_task/submit_detached/workers/1",
            "from target/criterion",
        ] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
        // No results read yet: the title says so and nothing else is drawn.
        let empty = Snapshot {
            benchmarks: None,
            ..demo_snapshot(16)
        };
        let backend = draw_pane(60, 6, |f, area| {
            super::benchmarks::render(f, area, &App::new(), &empty, &Theme::NO_COLOR);
        });
        assert!(
            backend
                .to_string()
                .contains("Benchmarks · reading results…")
        );
    }

    #[test]
    fn scheduler_pane_from_fixed_figures() {
        let view = fixed_scheduler_view(LatencyKind::Wait);
        let backend = draw_pane(80, 26, |f, area| {
            super::scheduler::draw(f, area, true, &view, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        for expected in [
            "wait time (w: run)",
            "2 workers",
            "1,230 tasks/s",
            "critical 1.50µs",
            "shed: low meta on sine 17",
            "critical · wait  n 10,000",
            "low · wait  n 0",
            "no samples",
        ] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
    }

    #[test]
    fn scheduler_pane_compact_shows_the_classes_side_by_side() {
        let view = fixed_scheduler_view(LatencyKind::Run);
        let backend = draw_pane(80, 13, |f, area| {
            super::scheduler::draw(f, area, false, &view, &Theme::NO_COLOR);
        });
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        assert!(text.contains("run time (w: wait)"), "{text}");
        for class in ["critical · run", "high · run", "normal · run", "low · run"] {
            assert!(text.contains(class), "{class}:\n{text}");
        }
        assert!(!has_color(&backend));
        // Too little room for any histogram: the table stays and a note says how to see them.
        let backend = draw_pane(80, 9, |f, area| {
            super::scheduler::draw(f, area, false, &view, &Theme::NO_COLOR);
        });
        assert!(
            backend.to_string().contains("Enter expands"),
            "{}",
            backend.to_string()
        );
    }

    #[test]
    fn scheduler_pane_reads_the_stats_and_w_switches_the_latency() {
        let snap = Arc::new(demo_snapshot(10));
        let mut app = App::new();
        let wait = draw_pane(80, 26, |f, area| {
            super::scheduler::render(f, area, &app, &snap, &Theme::COLOR);
        })
        .to_string();
        assert!(
            wait.contains("wait time") && wait.contains("critical · wait  n 24,000"),
            "{wait}"
        );
        app.apply(Action::ToggleLatencyKind, &snap);
        let run = draw_pane(80, 26, |f, area| {
            super::scheduler::render(f, area, &app, &snap, &Theme::COLOR);
        })
        .to_string();
        assert!(
            run.contains("run time") && run.contains("critical · run  n 24,000"),
            "{run}"
        );
        let stats = snap.analysis.scheduler.as_ref().expect("sample stats");
        let view = SchedulerView::from_stats(stats, LatencyKind::Run, &snap.catalog);
        // Every class on the same buckets, and every sample in one of them.
        for c in &view.classes {
            assert_eq!(
                c.buckets.first(),
                view.classes[0]
                    .buckets
                    .first()
                    .map(|b| LatencyBucket {
                        count: c.buckets[0].count,
                        ..*b
                    })
                    .as_ref()
            );
            let total: u64 = c.buckets.iter().map(|b| b.count).sum();
            assert_eq!(total, c.percentiles.count);
        }
        assert_eq!(view.shed_by_label[0], ("low meta on sine".to_string(), 80));
        let none = Snapshot::default();
        let backend = draw_pane(60, 6, |f, area| {
            super::scheduler::render(f, area, &app, &none, &Theme::COLOR);
        });
        assert!(backend.to_string().contains("no scheduler"));
    }

    /// The Learning pane's figures for `lorenz.x`, fixed (a drift on a chaotic flow: E and τ
    /// moved, the window grew, a pattern learnt and pinned), and its decisions with one of
    /// another channel's that the pane must leave out.
    fn learning_snapshot() -> Snapshot {
        use crate::model::Decision;
        use crate::pipeline::{LearningView, LearntPatternView};
        let mut snap = demo_snapshot(10);
        let id = snap
            .channels
            .iter()
            .find(|c| c.info.name == "lorenz.x")
            .expect("lorenz.x in the demo")
            .info
            .id;
        snap.analysis.learning.insert(
            id,
            LearningView {
                rounds: 14,
                e: Some(4),
                tau: Some(12),
                effective: (4, 12),
                length: 2048,
                interval: 512,
                nonlinear: Some(true),
                rho_by_e: vec![0.62, 0.88, 0.95, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.90],
                rho_by_horizon: vec![
                    (1, 0.99),
                    (2, 0.98),
                    (4, 0.96),
                    (8, 0.90),
                    (16, 0.74),
                    (32, 0.41),
                    (64, 0.08),
                ],
                judge: Some((0.962, 0.871, 8)),
                backed_off: false,
                learnt: vec![
                    LearntPatternView {
                        name: "lorenz.x@3328".into(),
                        from: 3328,
                        to: 3360,
                        threshold: 5.247,
                        pinned: true,
                    },
                    LearntPatternView {
                        name: "lorenz.x@5120".into(),
                        from: 5120,
                        to: 5152,
                        threshold: 6.012,
                        pinned: false,
                    },
                ],
                learning_ms: 3.4,
            },
        );
        let decision =
            |channel_name: &str, sample, level, what: &str, from: &str, to: &str, why: &str| {
                Decision {
                    channel: if channel_name == "lorenz.x" {
                        id
                    } else {
                        id + 1
                    },
                    channel_name: channel_name.into(),
                    sample,
                    level,
                    what: what.into(),
                    from: from.into(),
                    to: to.into(),
                    why: why.into(),
                }
            };
        snap.analysis.decisions = vec![
            decision(
                "lorenz.x",
                256,
                2,
                "tau",
                "default 1",
                "12",
                "first minimum of the mutual information at lag 12",
            ),
            decision(
                "lorenz.x",
                256,
                2,
                "class",
                "unknown",
                "nonlinear",
                "S-map best theta 4 with rho 0.962",
            ),
            decision(
                "sine",
                256,
                2,
                "class",
                "unknown",
                "linear",
                "S-map best theta 0.01 with rho 1.000",
            ),
            decision(
                "lorenz.x",
                1024,
                2,
                "E",
                "2",
                "4",
                "simplex rho 0.970 at E 4 vs 0.880 at E 2",
            ),
            decision(
                "lorenz.x",
                3584,
                1,
                "pattern lorenz.x@3328",
                "candidate",
                "learnt",
                "seen in 2 rounds, 2 members in one window, 3 sightings; threshold 5.247 = q95 3.498 of the DTW distances of 3 occurrences among 993 windows, +50%",
            ),
            decision(
                "lorenz.x",
                3840,
                2,
                "window",
                "1024",
                "2048",
                "CV of lambda 0.41 over 3 windows > 0.30",
            ),
            decision(
                "lorenz.x",
                4096,
                3,
                "embedding rule",
                "judging",
                "kept",
                "held-out rho 0.962 tuned vs 0.871 default over 8 rounds",
            ),
            decision(
                "lorenz.x",
                5376,
                1,
                "pattern lorenz.x@5120",
                "candidate",
                "learnt",
                "seen in 2 rounds, 3 members in one window, 4 sightings; threshold 6.012 = q95 4.008 of the DTW distances of 4 occurrences among 1985 windows, +50%",
            ),
        ];
        snap
    }

    #[test]
    fn learning_pane_shows_the_choices_the_curves_the_score_and_the_decisions() {
        let snap = Arc::new(learning_snapshot());
        let app = focused_on("lorenz.x", &snap);
        let backend = draw_pane(100, 18, |f, area| {
            super::learning::render(f, area, &app, &snap, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
        let text = backend.to_string();
        for expected in [
            "E 4 τ 12",
            "window 2048 · every 512 · class nonlinear",
            "held-out ρ tuned 0.962 vs default 0.871 over 8 rounds · tuned in use",
            "1:0.62 2:0.88",
            "64:0.08",
            "* lorenz.x@3328 samples 3328..3360 threshold 5.247",
            "decisions (7)",
            "@5376 L1 pattern lorenz.x@5120 candidate -> learnt",
        ] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
        // The other channel's decision is not listed.
        assert!(!text.contains("theta 0.01"), "{text}");
        // Backed off: the verdict says so in the warning colour.
        let mut backed = (*snap).clone();
        if let Some(v) = backed.analysis.learning.values_mut().next() {
            v.backed_off = true;
        }
        let backed = Arc::new(backed);
        let plain = draw_pane(100, 18, |f, area| {
            super::learning::render(
                f,
                area,
                &focused_on("lorenz.x", &backed),
                &backed,
                &Theme::NO_COLOR,
            );
        });
        assert!(
            plain.to_string().contains("backed off to defaults"),
            "{plain:?}"
        );
    }

    #[test]
    fn help_overlay() {
        let backend = draw_pane(70, 20, |f, area| {
            super::help::render(f, area, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
    }
}
