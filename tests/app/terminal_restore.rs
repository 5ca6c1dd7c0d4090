//! The terminal is restored on every exit path, panics included: a child process (this test
//! binary, re-run in a pseudo-terminal) enters the dashboard's terminal mode, waits for a key,
//! then either drops the guard or panics. Afterwards the pseudo-terminal must be back in its
//! original mode (same termios, so raw mode is off), off the alternate screen, with the cursor
//! shown, and a panic message must be readable on the normal screen (the hook restores the
//! terminal before the message is printed).

#![cfg(unix)]

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// The child's behaviour is chosen by this variable; without it the child test does nothing.
const CHILD_MODE: &str = "MIDSTREAM_TERMINAL_RESTORE_CHILD";

/// What the child draws once in the dashboard's mode.
const ENTERED: &str = "dashboard mode entered";

const PANIC_MESSAGE: &str = "deliberate panic for the restore test";

/// Generous: only reached when the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs only as the child of the tests below.
#[test]
fn child_process() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    use crossterm::event::{Event, read};
    use midstream::tui::TerminalGuard;
    use ratatui::widgets::Paragraph;

    let mut guard = TerminalGuard::enter().expect("a terminal");
    guard
        .terminal()
        .draw(|f| f.render_widget(Paragraph::new(ENTERED), f.area()))
        .expect("draw");
    loop {
        if let Event::Key(_) = read().expect("input") {
            break;
        }
    }
    match mode.as_str() {
        "panic" => panic!("{PANIC_MESSAGE}"),
        _ => {
            drop(guard);
            println!("left normally");
        }
    }
}

struct Outcome {
    screen: vt100::Parser,
    success: bool,
}

/// Run the child in a pseudo-terminal in `mode`; check raw mode while it runs; return the
/// screen and exit status after it ends, having checked the termios came back.
fn run_child(mode: &str) -> Outcome {
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("a pseudo-terminal");
    let original = pty.master.get_termios().expect("termios");

    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = CommandBuilder::new(exe);
    // libtest names the test by its module path without the crate's name.
    let child_test = format!(
        "{}::child_process",
        module_path!().split_once("::").map_or("", |(_, path)| path)
    );
    cmd.args([
        "--exact",
        child_test.as_str(),
        "--nocapture",
        "--test-threads=1",
    ]);
    cmd.env(CHILD_MODE, mode);
    // A backtrace would scroll the panic message off the 24 rows.
    cmd.env("RUST_BACKTRACE", "0");
    let mut child = pty.slave.spawn_command(cmd).expect("spawn the child");
    drop(pty.slave);

    let mut reader = pty.master.try_clone_reader().expect("pty reader");
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    // 24×80, as the pseudo-terminal.
    let mut screen = vt100::Parser::default();
    let deadline = Instant::now() + PATIENCE;
    while !screen.screen().contents().contains(ENTERED) {
        assert!(Instant::now() < deadline, "the child never drew");
        if let Ok(bytes) = rx.recv_timeout(Duration::from_millis(50)) {
            screen.process(&bytes);
        }
    }
    // In the dashboard's mode: raw, alternate screen, hidden cursor.
    assert_ne!(
        pty.master.get_termios().expect("termios"),
        original,
        "raw mode is on"
    );
    assert!(screen.screen().alternate_screen());
    assert!(screen.screen().hide_cursor());

    let mut writer = pty.master.take_writer().expect("pty writer");
    writer.write_all(b"x").expect("send a key");
    writer.flush().expect("send a key");

    let status = loop {
        if let Some(status) = child.try_wait().expect("child status") {
            break status;
        }
        assert!(Instant::now() < deadline, "the child did not exit");
        if let Ok(bytes) = rx.recv_timeout(Duration::from_millis(20)) {
            screen.process(&bytes);
        }
    };
    // Drain what is left.
    while let Ok(bytes) = rx.recv_timeout(Duration::from_millis(200)) {
        screen.process(&bytes);
    }
    assert_eq!(
        pty.master.get_termios().expect("termios"),
        original,
        "the terminal mode is restored"
    );
    drop(writer);
    Outcome {
        screen,
        success: status.success(),
    }
}

#[test]
fn dropping_the_guard_restores_the_terminal() {
    let outcome = run_child("drop");
    let screen = outcome.screen.screen();
    assert!(outcome.success);
    assert!(!screen.alternate_screen(), "left the alternate screen");
    assert!(!screen.hide_cursor(), "cursor shown");
    assert!(screen.contents().contains("left normally"));
}

#[test]
fn a_panic_restores_the_terminal_before_the_message_is_printed() {
    let outcome = run_child("panic");
    let screen = outcome.screen.screen();
    assert!(!outcome.success, "the child panicked");
    assert!(!screen.alternate_screen(), "left the alternate screen");
    assert!(!screen.hide_cursor(), "cursor shown");
    // Printed after leaving the alternate screen, so it is on the normal screen.
    assert!(
        screen.contents().contains(PANIC_MESSAGE),
        "{}",
        screen.contents()
    );
}
