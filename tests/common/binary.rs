//! The `midstream-tui` binary under test.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// A `serve` process, killed when dropped, with the address and the pin it printed.
pub struct Served {
    child: Child,
    pub addr: String,
    pub pin: String,
}

impl Served {
    /// Sends `signal` (`libc::SIGTERM`, ...) to the server.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) with a pid this test started and has not reaped yet.
        assert_eq!(
            unsafe { libc::kill(pid, signal) },
            0,
            "kill({pid}, {signal})"
        );
    }

    /// Waits for the server to exit, or panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("serve's status") {
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "serve did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `serve --listen 127.0.0.1:0` with `args` in `dir`, and reads the fingerprint and the
/// `attach` command it prints, checking that the command pins that fingerprint.
pub fn serve(dir: &Path, args: &[&str]) -> Served {
    let served = serve_on(dir, "127.0.0.1:0", args);
    assert!(
        !served.pin.is_empty(),
        "serve with a generated certificate prints the attach command"
    );
    served
}

/// Starts `serve --listen LISTEN` with `args` in `dir` and reads the address and fingerprint it
/// prints; with a generated certificate, also the `attach` command, checking that it pins that
/// fingerprint.
pub fn serve_on(dir: &Path, listen: &str, args: &[&str]) -> Served {
    serve_with_env(dir, listen, args, &[])
}

/// [`serve_on`] with these environment variables set for the server.
pub fn serve_with_env(dir: &Path, listen: &str, args: &[&str], env: &[(&str, &str)]) -> Served {
    spawn_serve(dir, listen, args, env, false)
}

/// [`serve`] with its stderr a pipe whose reader has gone (closed before serve writes to it),
/// as with `serve 2>&1 | tee log` when Ctrl-C stops `tee` first.
pub fn serve_with_stderr_gone(dir: &Path, args: &[&str]) -> Served {
    let served = spawn_serve(dir, "127.0.0.1:0", args, &[], true);
    assert!(!served.pin.is_empty(), "serve prints the attach command");
    served
}

fn spawn_serve(
    dir: &Path,
    listen: &str,
    args: &[&str],
    env: &[(&str, &str)],
    stderr_gone: bool,
) -> Served {
    let mut child = Command::new(BIN)
        .envs(env.iter().copied())
        .args(["serve", "--listen", listen])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(if stderr_gone {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("start serve");
    // The read end, dropped: serve's writes to stderr fail with a broken pipe from now on.
    drop(child.stderr.take());
    let own_certificate = args.contains(&"--cert");
    let stdout = child.stdout.take().expect("serve's stdout");
    let mut lines = BufReader::new(stdout).lines();
    let start = Instant::now();
    let mut addr = None;
    let mut fingerprint = None;
    while start.elapsed() < Duration::from_secs(30) {
        let Some(Ok(line)) = lines.next() else { break };
        if line.starts_with("serving ")
            && let Some((before, _)) = line.split_once(" with ALPN")
            && let Some((_, listening)) = before.rsplit_once(" on ")
        {
            addr = Some(listening.to_string());
        }
        if let Some(fp) = line.strip_prefix("certificate SHA-256 fingerprint: ") {
            fingerprint = Some(fp.trim().to_string());
            if own_certificate {
                let served = Served {
                    child,
                    addr: addr.expect("serve printed its address first"),
                    pin: fp.trim().to_string(),
                };
                std::thread::spawn(move || for _ in lines {});
                return served;
            }
        }
        if let Some(command) = line.trim().strip_prefix("midstream-tui attach ") {
            let words: Vec<&str> = command.split_whitespace().collect();
            assert_eq!(words[1], "--pin", "{line}");
            assert_eq!(
                Some(words[2].to_string()),
                fingerprint,
                "the attach command pins the printed fingerprint"
            );
            assert_eq!(words[2].len(), 64, "64 hex digits: {line}");
            let served = Served {
                child,
                addr: words[0].to_string(),
                pin: words[2].to_string(),
            };
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return served;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("serve did not print its address and fingerprint");
}

/// A process's stderr, line by line as it comes, from a thread.
pub struct StderrLines(mpsc::Receiver<String>, Vec<String>);

impl StderrLines {
    /// Every line read so far.
    pub fn lines(&self) -> &[String] {
        &self.1
    }

    pub fn of(child: &mut Child) -> StderrLines {
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        StderrLines(rx, Vec::new())
    }

    /// Waits for a line containing `text`; panics with every line so far after `timeout`.
    pub fn wait_for(&mut self, text: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.0.recv_timeout(left) {
                Ok(line) => {
                    self.1.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?} within {timeout:?}; stderr:\n{}",
                    self.1.join("\n")
                ),
            }
        }
    }
}
