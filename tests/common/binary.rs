//! The `midstream-tui` binary under test.

use std::path::Path;
use std::process::Command;

/// The binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_midstream-tui");

/// A command for the binary that reads no user configuration: its config home (`HOME` and
/// `XDG_CONFIG_HOME`) is `home`, and `MIDSTREAM_CONFIG` is unset.
pub fn command(home: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home)
        .env_remove("MIDSTREAM_CONFIG");
    command
}

/// Runs `command` to the end: whether it succeeded, its stdout and its stderr.
pub fn finish(command: &mut Command) -> (bool, String, String) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `replay --headless` of `trace`, with `args` before it, in the config home `home` (so only
/// the configuration the test gives is read); see [`finish`].
pub fn replay_headless(home: &Path, args: &[&str], trace: &Path) -> (bool, String, String) {
    finish(
        command(home)
            .args(["replay", "--headless"])
            .args(args)
            .arg(trace),
    )
}
