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
}

impl LoopOptions {
    /// [`DEFAULT_FPS_CAP`] frames per second with `theme`.
    pub fn new(theme: Theme) -> Self {
        Self {
            fps_cap: DEFAULT_FPS_CAP,
            theme,
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
    let mut app = App::new();
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
