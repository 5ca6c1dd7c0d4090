//! The screen's loop: input events and snapshots in, frames and [`Control`]s out.
//!
//! It redraws only when something changed (a new snapshot generation, a handled key, a
//! resize), at most `fps_cap` frames per second, and otherwise sleeps until the next event or
//! frame deadline: an idle screen costs no CPU. Like oha's monitor and bandwhich's `start`, it
//! takes its terminal, input and data as arguments so tests drive it with a `TestBackend`, fake
//! keys and a watch channel.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::Event;
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::config::DEFAULT_CAPTURE_SAMPLES;
use crate::pipeline::Snapshot;

use super::app::App;
use super::control::Control;
use super::keymap;
use super::render::render;
use super::theme::Theme;

/// The default frame-rate cap.
pub const DEFAULT_FPS_CAP: u32 = 30;

/// A source of terminal input events.
pub trait InputEvents {
    /// The next event; `None` when the input has ended. Must be cancel-safe: the loop drops the
    /// future when a snapshot or a frame deadline comes first, and no event may be lost then.
    fn next_event(&mut self) -> impl Future<Output = Option<io::Result<Event>>> + Send;
}

/// How the loop runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopOptions {
    /// At most this many frames per second (0 is taken as 1).
    pub fps_cap: u32,
    /// Colours, or none (`NO_COLOR`).
    pub theme: Theme,
    /// Samples the `a` key captures as a pattern.
    pub capture_samples: usize,
}

impl LoopOptions {
    /// [`DEFAULT_FPS_CAP`] frames per second with `theme`.
    pub fn new(theme: Theme) -> Self {
        Self {
            fps_cap: DEFAULT_FPS_CAP,
            theme,
            capture_samples: DEFAULT_CAPTURE_SAMPLES,
        }
    }

    fn frame_interval(&self) -> Duration {
        Duration::from_secs(1) / self.fps_cap.max(1)
    }
}

/// Why the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReason {
    /// The user quit (`q`, Ctrl-C).
    Quit,
    /// The input ended (no more events can arrive).
    InputClosed,
}

/// What stopped the loop other than the user.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    #[error("drawing the screen failed: {0}")]
    Draw(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("reading terminal input failed: {0}")]
    Input(#[source] io::Error),
}

/// Run the screen until the user quits or the input ends.
///
/// `snapshots` carries the pipeline's latest [`Snapshot`]; when its sender goes away the
/// screen keeps showing the last one. Commands for the pipeline (replay control, recording,
/// quit) go to `control`; a closed `control` channel is ignored. On quit, [`Control::Quit`] is
/// sent before returning.
pub async fn run<B, E>(
    terminal: &mut Terminal<B>,
    events: &mut E,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    control: mpsc::UnboundedSender<Control>,
    opts: LoopOptions,
) -> Result<ExitReason, LoopError>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: InputEvents,
{
    let frame_interval = opts.frame_interval();
    let mut app = App::new().with_capture_samples(opts.capture_samples);
    let mut latest = Arc::clone(&snapshots.borrow_and_update());
    let mut snapshots_open = true;
    let mut dirty = true;
    let mut next_frame = Instant::now();
    loop {
        if dirty && Instant::now() >= next_frame {
            let now = Instant::now();
            app.frame_drawn(now.into_std());
            terminal
                .draw(|frame| render(frame, &app, &latest, &opts.theme))
                .map_err(|e| LoopError::Draw(Box::new(e)))?;
            dirty = false;
            next_frame = now + frame_interval;
        }
        tokio::select! {
            event = events.next_event() => match event {
                None => return Ok(ExitReason::InputClosed),
                Some(Err(e)) => return Err(LoopError::Input(e)),
                Some(Ok(Event::Key(key))) => {
                    if let Some(action) = keymap::action_for(&key) {
                        if let Some(command) = app.apply(action, &latest) {
                            // The pipeline may be gone already; the screen carries on.
                            let _ = control.send(command);
                        }
                        if app.should_quit() {
                            return Ok(ExitReason::Quit);
                        }
                        dirty = true;
                    }
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
            },
            changed = snapshots.changed(), if snapshots_open => match changed {
                Ok(()) => {
                    let snapshot = Arc::clone(&snapshots.borrow_and_update());
                    if snapshot.generation != latest.generation {
                        dirty = true;
                    }
                    latest = snapshot;
                }
                Err(_) => snapshots_open = false,
            },
            () = tokio::time::sleep_until(next_frame), if dirty => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crossterm::event::{KeyCode, KeyModifiers};
    use ratatui::backend::{ClearType, TestBackend, WindowSize};
    use ratatui::buffer::Cell;
    use ratatui::layout::{Position, Size};

    use super::*;
    use crate::tui::sample::demo_snapshot;
    use crate::tui::terminal::fake_events;

    /// A `TestBackend` that counts the frames drawn (one flush per frame).
    struct CountingBackend {
        inner: TestBackend,
        frames: Arc<AtomicUsize>,
    }

    impl Backend for CountingBackend {
        type Error = Infallible;

        fn draw<'a, I>(&mut self, content: I) -> Result<(), Infallible>
        where
            I: Iterator<Item = (u16, u16, &'a Cell)>,
        {
            self.inner.draw(content)
        }
        fn hide_cursor(&mut self) -> Result<(), Infallible> {
            self.inner.hide_cursor()
        }
        fn show_cursor(&mut self) -> Result<(), Infallible> {
            self.inner.show_cursor()
        }
        fn get_cursor_position(&mut self) -> Result<Position, Infallible> {
            self.inner.get_cursor_position()
        }
        fn set_cursor_position<P: Into<Position>>(&mut self, p: P) -> Result<(), Infallible> {
            self.inner.set_cursor_position(p)
        }
        fn clear(&mut self) -> Result<(), Infallible> {
            self.inner.clear()
        }
        fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Infallible> {
            self.inner.clear_region(clear_type)
        }
        fn size(&self) -> Result<Size, Infallible> {
            self.inner.size()
        }
        fn window_size(&mut self) -> Result<WindowSize, Infallible> {
            self.inner.window_size()
        }
        fn flush(&mut self) -> Result<(), Infallible> {
            self.frames.fetch_add(1, Ordering::SeqCst);
            self.inner.flush()
        }
    }

    /// Generous bound for something that should happen within a frame or two; only reached
    /// when the test fails.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// How long "nothing happens" is watched for: many frame intervals at the tests' caps.
    const QUIET_SPELL: Duration = Duration::from_millis(250);

    fn counting_terminal(width: u16, height: u16) -> (Terminal<CountingBackend>, Arc<AtomicUsize>) {
        let frames = Arc::new(AtomicUsize::new(0));
        let backend = CountingBackend {
            inner: TestBackend::new(width, height),
            frames: Arc::clone(&frames),
        };
        (Terminal::new(backend).expect("test backend"), frames)
    }

    async fn wait_for_frames(frames: &AtomicUsize, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while frames.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < deadline, "frame {n} never came");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn snapshot(generation: u64, label: &str) -> Arc<Snapshot> {
        let mut s = demo_snapshot(100);
        s.generation = generation;
        s.source.label = label.to_string();
        Arc::new(s)
    }

    fn options(fps_cap: u32) -> LoopOptions {
        LoopOptions {
            fps_cap,
            ..LoopOptions::new(Theme::NO_COLOR)
        }
    }

    #[tokio::test]
    async fn draws_on_change_only_and_quits_on_q() {
        let (mut terminal, frames) = counting_terminal(100, 30);
        let (keys, mut events) = fake_events();
        let (snapshot_tx, snapshot_rx) = watch::channel(snapshot(1, "first source"));
        let (control_tx, mut control_rx) = mpsc::unbounded_channel();

        let script = async {
            wait_for_frames(&frames, 1).await;
            // Nothing changes: no frame.
            tokio::time::sleep(QUIET_SPELL).await;
            assert_eq!(frames.load(Ordering::SeqCst), 1, "redrew while idle");
            // The same generation published again: no frame.
            snapshot_tx.send_replace(snapshot(1, "first source"));
            tokio::time::sleep(QUIET_SPELL).await;
            assert_eq!(frames.load(Ordering::SeqCst), 1, "redrew an old generation");
            // A new generation: one frame.
            snapshot_tx.send_replace(snapshot(2, "second source"));
            wait_for_frames(&frames, 2).await;
            // A key that is not bound: no frame.
            keys.key(KeyCode::Char('x'));
            tokio::time::sleep(QUIET_SPELL).await;
            assert_eq!(
                frames.load(Ordering::SeqCst),
                2,
                "redrew for an unbound key"
            );
            // A handled key: a frame.
            keys.key(KeyCode::Char('?'));
            wait_for_frames(&frames, 3).await;
            // A resize: a frame.
            keys.resize(100, 30);
            wait_for_frames(&frames, 4).await;
            tokio::time::sleep(QUIET_SPELL).await;
            assert_eq!(frames.load(Ordering::SeqCst), 4);
            keys.key(KeyCode::Char('q'));
        };
        let run = run(
            &mut terminal,
            &mut events,
            snapshot_rx,
            control_tx,
            options(60),
        );
        let (result, ()) = tokio::time::timeout(PATIENCE, async { tokio::join!(run, script) })
            .await
            .expect("the loop ended");
        assert_eq!(result.expect("no loop error"), ExitReason::Quit);
        assert_eq!(control_rx.try_recv(), Ok(Control::Quit));
        let screen = terminal.backend().inner.to_string();
        assert!(screen.contains("second source"), "{screen}");
        assert!(
            screen.contains("Keys"),
            "the help overlay is open:\n{screen}"
        );
    }

    #[tokio::test]
    async fn ctrl_c_quits_and_commands_reach_the_pipeline() {
        let (mut terminal, _frames) = counting_terminal(80, 24);
        let (keys, mut events) = fake_events();
        let (_snapshot_tx, snapshot_rx) = watch::channel(snapshot(1, "src"));
        let (control_tx, mut control_rx) = mpsc::unbounded_channel();
        keys.key(KeyCode::Char('r'));
        keys.key_with(KeyCode::Char('c'), KeyModifiers::CONTROL);
        let result = tokio::time::timeout(
            PATIENCE,
            run(
                &mut terminal,
                &mut events,
                snapshot_rx,
                control_tx,
                options(30),
            ),
        )
        .await
        .expect("the loop ended");
        assert_eq!(result.expect("no loop error"), ExitReason::Quit);
        assert_eq!(control_rx.try_recv(), Ok(Control::ToggleRecording));
        assert_eq!(control_rx.try_recv(), Ok(Control::Quit));
    }

    /// In virtual time, so the count of frames does not depend on how busy the machine is.
    #[tokio::test(start_paused = true)]
    async fn snapshots_are_coalesced_under_the_frame_cap_and_the_last_one_is_shown() {
        let (mut terminal, frames) = counting_terminal(100, 30);
        let (keys, mut events) = fake_events();
        let (snapshot_tx, snapshot_rx) = watch::channel(snapshot(0, "gen 0"));
        let (control_tx, _control_rx) = mpsc::unbounded_channel();
        const FPS_CAP: u32 = 10;
        const PUBLISHED: u64 = 100;
        let script = async {
            let started = Instant::now();
            for generation in 1..=PUBLISHED {
                snapshot_tx.send_replace(snapshot(generation, &format!("gen {generation}")));
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            let elapsed = started.elapsed();
            // Let the last one be drawn, then stop.
            tokio::time::sleep(QUIET_SPELL).await;
            keys.key(KeyCode::Char('q'));
            elapsed
        };
        let run = run(
            &mut terminal,
            &mut events,
            snapshot_rx,
            control_tx,
            options(FPS_CAP),
        );
        let (result, elapsed) = tokio::time::timeout(PATIENCE, async { tokio::join!(run, script) })
            .await
            .expect("the loop ended");
        assert_eq!(result.expect("no loop error"), ExitReason::Quit);
        let drawn = frames.load(Ordering::SeqCst);
        // One frame per interval while publishing (a new snapshot is always waiting), at most
        // the first and the last besides.
        assert_eq!(elapsed, Duration::from_millis(3) * PUBLISHED as u32);
        let interval = Duration::from_secs(1) / FPS_CAP;
        let intervals = (elapsed.as_secs_f64() / interval.as_secs_f64()).ceil() as usize;
        assert!(
            (intervals..=intervals + 2).contains(&drawn),
            "{drawn} frames for {elapsed:?} at {FPS_CAP} fps"
        );
        let screen = terminal.backend().inner.to_string();
        assert!(screen.contains(&format!("gen {PUBLISHED}")), "{screen}");
    }

    #[tokio::test]
    async fn ends_when_the_input_ends_and_survives_a_vanished_pipeline() {
        let (mut terminal, frames) = counting_terminal(80, 24);
        let (keys, mut events) = fake_events();
        let (snapshot_tx, snapshot_rx) = watch::channel(snapshot(1, "src"));
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        // The pipeline goes away: no more snapshots, nobody reads commands.
        drop(snapshot_tx);
        drop(control_rx);
        let script = async {
            wait_for_frames(&frames, 1).await;
            keys.key(KeyCode::Char('r'));
            wait_for_frames(&frames, 2).await;
            drop(keys);
        };
        let run = run(
            &mut terminal,
            &mut events,
            snapshot_rx,
            control_tx,
            options(30),
        );
        let (result, ()) = tokio::time::timeout(PATIENCE, async { tokio::join!(run, script) })
            .await
            .expect("the loop ended");
        assert_eq!(result.expect("no loop error"), ExitReason::InputClosed);
    }

    #[tokio::test]
    async fn an_input_error_is_reported() {
        let (mut terminal, _frames) = counting_terminal(80, 24);
        let (keys, mut events) = fake_events();
        let (_snapshot_tx, snapshot_rx) = watch::channel(snapshot(1, "src"));
        let (control_tx, _control_rx) = mpsc::unbounded_channel();
        keys.fail(io::Error::other("tty gone"));
        let result = tokio::time::timeout(
            PATIENCE,
            run(
                &mut terminal,
                &mut events,
                snapshot_rx,
                control_tx,
                options(30),
            ),
        )
        .await
        .expect("the loop ended");
        match result {
            Err(LoopError::Input(e)) => assert!(e.to_string().contains("tty gone")),
            other => panic!("{other:?}"),
        }
    }
}
