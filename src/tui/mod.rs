//! Terminal UI: app state, event loop, keymap, theme, layout, one file per pane.
//!
//! Data flow: the pipeline publishes `Arc<Snapshot>`s on a watch channel; [`event_loop::run`]
//! keeps the latest, turns keys into [`keymap::Action`]s applied to [`app::App`], draws with
//! [`render::render`] when something changed, and sends [`control::Control`]s back.

pub mod app;
pub mod control;
pub mod event_loop;
pub mod format;
pub mod keymap;
pub mod layout;
pub mod panes;
pub mod render;
/// A realistic snapshot with made-up benchmark results: for the screen's tests and the render
/// benchmark, which `midstream-tui bench` runs too.
pub mod sample;
pub mod series;
pub mod terminal;
pub mod theme;

pub use app::App;
pub use control::{Control, ReplayCommand};
pub use event_loop::{ExitReason, InputEvents, LoopError, LoopOptions, run};
pub use render::render;
pub use terminal::{CrosstermEvents, FakeEventSender, FakeEvents, TerminalGuard, fake_events};
pub use theme::Theme;
pub mod screen;
