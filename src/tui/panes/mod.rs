//! One file per pane. Each draws from the app state and a snapshot, nothing else.

pub mod help;
pub mod phase;
pub mod status;
pub mod streams;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ratatui::backend::TestBackend;
    use ratatui::{Frame, Terminal};

    use crate::pipeline::Snapshot;
    use crate::tui::app::App;
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
        assert!(backend.to_string().contains("τ = 10 samples"));
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
        assert!(backend.to_string().contains("5 of 11 samples"));
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

    #[test]
    fn help_overlay() {
        let backend = draw_pane(70, 20, |f, area| {
            super::help::render(f, area, &Theme::COLOR);
        });
        insta::assert_snapshot!(backend);
    }
}
