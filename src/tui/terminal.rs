//! The real terminal: raw mode, alternate screen and hidden cursor on the way in, all of it
//! undone on the way out on every path: [`TerminalGuard`]'s `Drop`, and a panic hook that
//! restores the terminal before the default hook prints the panic message (so the message
//! lands on a normal screen). Also the input event sources: crossterm's `EventStream`, and a
//! fake one for tests.

use std::future::{Future, poll_fn};
use std::io::{self, Stdout};
use std::pin::Pin;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyModifiers};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use futures_core::Stream;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use super::event_loop::InputEvents;

/// The terminal type the dashboard draws on.
pub type CrosstermTerminal = Terminal<CrosstermBackend<Stdout>>;

/// Whether the terminal is in the dashboard's mode, so that restoring happens once whichever
/// path gets there first (guard drop or panic hook).
static ACTIVE: AtomicBool = AtomicBool::new(false);

static PANIC_HOOK: Once = Once::new();

/// Owns the real terminal while the dashboard runs; dropping it restores the terminal.
pub struct TerminalGuard {
    terminal: CrosstermTerminal,
}

impl TerminalGuard {
    /// Put stdout's terminal into raw mode on the alternate screen with the cursor hidden, and
    /// install the restoring panic hook (once per process).
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let setup = (|| {
            execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
            Terminal::new(CrosstermBackend::new(io::stdout()))
        })();
        match setup {
            Ok(terminal) => Ok(Self { terminal }),
            Err(e) => {
                let _ = restore();
                Err(e)
            }
        }
    }

    pub fn terminal(&mut self) -> &mut CrosstermTerminal {
        &mut self.terminal
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = restore();
    }
}

/// Leave the alternate screen, show the cursor and leave raw mode, if the dashboard had set
/// them up; does nothing otherwise, so calling it twice is harmless.
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    // Try every step even when one fails, and report the first failure.
    let screen = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
    let raw = disable_raw_mode();
    screen.and(raw)
}

/// Chain a hook that restores the terminal in front of the current panic hook.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = restore();
            previous(info);
        }));
    });
}

/// Terminal input from crossterm's `EventStream` (the `event-stream` feature).
pub struct CrosstermEvents {
    stream: EventStream,
}

impl CrosstermEvents {
    pub fn new() -> Self {
        Self {
            stream: EventStream::new(),
        }
    }
}

impl Default for CrosstermEvents {
    fn default() -> Self {
        Self::new()
    }
}

impl InputEvents for CrosstermEvents {
    fn next_event(&mut self) -> impl Future<Output = Option<io::Result<Event>>> + Send {
        // `poll_next` keeps its state in the stream, so dropping this future loses nothing.
        poll_fn(|cx| Pin::new(&mut self.stream).poll_next(cx))
    }
}

/// A fake input for tests: events sent through the paired [`FakeEventSender`] arrive in
/// order; dropping the sender ends the input.
pub struct FakeEvents {
    rx: mpsc::UnboundedReceiver<io::Result<Event>>,
}

/// Sends events to a [`FakeEvents`].
#[derive(Clone)]
pub struct FakeEventSender {
    tx: mpsc::UnboundedSender<io::Result<Event>>,
}

/// A connected fake input and its sender.
pub fn fake_events() -> (FakeEventSender, FakeEvents) {
    let (tx, rx) = mpsc::unbounded_channel();
    (FakeEventSender { tx }, FakeEvents { rx })
}

impl FakeEventSender {
    /// Send an event; false when the receiving side is gone.
    pub fn send(&self, event: Event) -> bool {
        self.tx.send(Ok(event)).is_ok()
    }

    /// Press a key without modifiers.
    pub fn key(&self, code: KeyCode) -> bool {
        self.send(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    /// Press a key with modifiers.
    pub fn key_with(&self, code: KeyCode, modifiers: KeyModifiers) -> bool {
        self.send(Event::Key(KeyEvent::new(code, modifiers)))
    }

    /// The terminal was resized.
    pub fn resize(&self, width: u16, height: u16) -> bool {
        self.send(Event::Resize(width, height))
    }

    /// Reading the input failed.
    pub fn fail(&self, error: io::Error) -> bool {
        self.tx.send(Err(error)).is_ok()
    }
}

impl InputEvents for FakeEvents {
    fn next_event(&mut self) -> impl Future<Output = Option<io::Result<Event>>> + Send {
        // `recv` is cancel-safe.
        self.rx.recv()
    }
}
