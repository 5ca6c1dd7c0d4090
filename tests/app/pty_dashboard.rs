//! The real binary in a pseudo-terminal: with no arguments it draws a live dashboard whose
//! numbers change, `a` captures a pattern (saved in the config directory), `q` exits with
//! status 0, and the terminal is back in its normal mode.

use std::time::Duration;

use portable_pty::CommandBuilder;

use crate::common::binary::BIN;
use crate::common::pty::Pty;

const ROWS: u16 = 40;
const COLS: u16 = 140;

#[test]
fn dashboard_runs_live_and_quits_cleanly() {
    let mut cmd = CommandBuilder::new(BIN);
    // Keep trust-on-first-use and other user files out of the real home.
    let home = tempfile::tempdir().unwrap();
    cmd.env("HOME", home.path());
    cmd.env("XDG_CONFIG_HOME", home.path());
    let mut screen = Pty::spawn(cmd, ROWS, COLS);

    let first = screen.wait_for(
        "the Streams pane with the lorenz channel",
        Duration::from_secs(60),
        |t| t.contains("Streams") && t.contains("lorenz") && t.contains("LIVE"),
    );
    assert!(
        screen.screen(|s| s.alternate_screen()),
        "draws on the alternate screen"
    );
    assert!(
        !canonical_mode(screen.master()),
        "the terminal is in raw mode while drawing"
    );
    // Live numbers: the screen's text changes as records arrive.
    screen.wait_for("the numbers to change", Duration::from_secs(20), |t| {
        t != first
    });

    // `a` makes the focused channel's (lorenz) last 64 samples a pattern, saved as a file in
    // the config directory and named in the status line and the Patterns pane's library.
    // Once the Chaos pane has analysed lorenz (from 256 samples on), it has enough samples.
    // Generous: on a loaded machine the analysis (Normal priority) waits behind the rest.
    screen.wait_for("a first analysis", Duration::from_secs(60), |t| {
        t.contains(" analys")
    });
    screen.send(b"a");
    let saved = home.path().join("midstream").join("patterns");
    let text = screen.wait_for("the captured pattern", Duration::from_secs(20), |t| {
        t.contains("pattern \"lorenz-") && t.contains("added (64 samples)")
    });
    let files: Vec<_> = std::fs::read_dir(&saved)
        .unwrap_or_else(|e| panic!("{}: {e}; screen:\n{text}", saved.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_stem().unwrap().to_str().unwrap().to_owned();
    assert!(name.starts_with("lorenz-"), "{name}");
    let numbers = std::fs::read_to_string(&files[0])
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .inspect(|l| {
            l.parse::<f64>()
                .unwrap_or_else(|e| panic!("{l:?} in the pattern file: {e}"));
        })
        .count();
    assert_eq!(numbers, 64);
    screen.wait_for("the pattern in the library", Duration::from_secs(20), |t| {
        t.contains(&format!(
            "library: cycle, ramp-drop, spike, step-up, {name}"
        ))
    });

    screen.send(b"q");
    let status = screen.wait_exit("q", Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?}");
    assert!(
        canonical_mode(screen.master()),
        "raw mode was switched off again"
    );
    screen.close();
    assert!(
        !screen.screen(|s| s.alternate_screen()),
        "left the alternate screen"
    );
    assert!(!screen.screen(|s| s.hide_cursor()), "cursor shown again");
}

/// Whether the terminal's line discipline is in canonical (cooked) mode with echo, as a shell
/// leaves it; raw mode clears both flags.
fn canonical_mode(master: &dyn portable_pty::MasterPty) -> bool {
    let fd = master.as_raw_fd().expect("pty master fd");
    // SAFETY: `termios` is plain data that tcgetattr fills in; `fd` is open for the call.
    let mut termios: libc::termios = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::tcgetattr(fd, &mut termios) };
    assert_eq!(rc, 0, "tcgetattr on the pty");
    termios.c_lflag & libc::ICANON != 0 && termios.c_lflag & libc::ECHO != 0
}
