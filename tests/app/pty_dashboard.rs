//! The real binary in a pseudo-terminal: with no arguments it draws a live dashboard whose
//! numbers change, `a` captures a pattern (saved in the config directory), `q` exits with
//! status 0, and the terminal is back in its normal mode.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

use crate::common::binary::BIN;

const ROWS: u16 = 40;
const COLS: u16 = 140;

struct Screen {
    parser: Arc<Mutex<vt100::Parser>>,
}

impl Screen {
    fn contents(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Waits until `pred` holds for the screen's text, or panics with the last screen.
    fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.contents();
            if pred(&text) {
                return text;
            }
            if start.elapsed() > timeout {
                panic!("timed out waiting for {what}; screen:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn dashboard_runs_live_and_quits_cleanly() {
    let pty = native_pty_system();
    let pair = pty
        .openpty(PtySize {
            rows: ROWS,
            cols: COLS,
            pixel_width: 0,
            pixel_height: 0,
        })
        .expect("open a pty");
    let mut cmd = CommandBuilder::new(BIN);
    cmd.env("TERM", "xterm-256color");
    cmd.env_remove("NO_COLOR");
    // Keep trust-on-first-use and other user files out of the real home.
    let home = tempfile::tempdir().unwrap();
    cmd.env("HOME", home.path());
    cmd.env("XDG_CONFIG_HOME", home.path());
    let mut child = pair.slave.spawn_command(cmd).expect("spawn midstream-tui");
    drop(pair.slave);

    let parser = Arc::new(Mutex::new(vt100::Parser::new(
        ROWS.try_into().unwrap(),
        COLS.try_into().unwrap(),
        0,
    )));
    let mut reader = pair.master.try_clone_reader().unwrap();
    let sink = parser.clone();
    let pump = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().process(&buf[..n]);
        }
    });
    let screen = Screen {
        parser: parser.clone(),
    };
    let mut writer = pair.master.take_writer().unwrap();

    let first = screen.wait_for(
        "the Streams pane with the lorenz channel",
        Duration::from_secs(60),
        |t| t.contains("Streams") && t.contains("lorenz") && t.contains("LIVE"),
    );
    assert!(
        parser.lock().unwrap().screen().alternate_screen(),
        "draws on the alternate screen"
    );
    assert!(
        !canonical_mode(&*pair.master),
        "the terminal is in raw mode while drawing"
    );
    // Live numbers: the screen's text changes as records arrive.
    screen.wait_for("the numbers to change", Duration::from_secs(20), |t| {
        t != first
    });

    // `a` makes the focused channel's (lorenz) last 64 samples a pattern, saved as a file in
    // the config directory and named in the status line and the Patterns pane's library.
    // Once the Chaos pane has analysed lorenz (from 256 samples on), it has enough samples.
    screen.wait_for("a first analysis", Duration::from_secs(20), |t| {
        t.contains(" analys")
    });
    writer.write_all(b"a").unwrap();
    writer.flush().unwrap();
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

    writer.write_all(b"q").unwrap();
    writer.flush().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "q did not quit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    assert!(
        canonical_mode(&*pair.master),
        "raw mode was switched off again"
    );
    drop(writer);
    drop(pair.master);
    let _ = pump.join();
    let parser = parser.lock().unwrap();
    let screen = parser.screen();
    assert!(!screen.alternate_screen(), "left the alternate screen");
    assert!(!screen.hide_cursor(), "cursor shown again");
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
