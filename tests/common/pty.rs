//! The real binary in a pseudo-terminal, its screen kept by a vt100 parser.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, ExitStatus, MasterPty, PtySize, native_pty_system};

/// A program running in a pseudo-terminal of `rows` × `cols`.
pub struct Pty {
    parser: Arc<Mutex<vt100::Parser>>,
    writer: Option<Box<dyn Write + Send>>,
    master: Option<Box<dyn MasterPty + Send>>,
    child: Box<dyn Child + Send + Sync>,
    pump: Option<JoinHandle<()>>,
}

impl Pty {
    /// Starts `command` in a new terminal of `rows` × `cols` (`TERM=xterm-256color`).
    pub fn spawn(mut command: CommandBuilder, rows: u16, cols: u16) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        command.env("TERM", "xterm-256color");
        command.env_remove("NO_COLOR");
        let child = pair.slave.spawn_command(command).expect("spawn in the pty");
        drop(pair.slave);
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            rows.try_into().expect("rows > 0"),
            cols.try_into().expect("cols > 0"),
            0,
        )));
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
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
        let writer = pair.master.take_writer().expect("pty writer");
        Pty {
            parser,
            writer: Some(writer),
            master: Some(pair.master),
            child,
            pump: Some(pump),
        }
    }

    /// The screen's text now.
    pub fn contents(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    /// Runs `look` on the screen now.
    pub fn screen<T>(&self, look: impl FnOnce(&vt100::Screen) -> T) -> T {
        look(self.parser.lock().unwrap().screen())
    }

    /// Waits until `pred` holds for the screen's text, or panics with the last screen.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
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

    /// Types `keys`.
    pub fn send(&mut self, keys: &[u8]) {
        let writer = self.writer.as_mut().expect("the pty is open");
        writer.write_all(keys).unwrap();
        writer.flush().unwrap();
    }

    /// The terminal's master side (to read its line discipline).
    pub fn master(&self) -> &dyn MasterPty {
        self.master.as_deref().expect("the pty is open")
    }

    /// Waits for the program to exit, or panics after `timeout`.
    pub fn wait_exit(&mut self, what: &str, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "{what}: the program did not exit"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Closes the terminal and waits until everything the program wrote is on the screen.
    pub fn close(&mut self) {
        self.writer.take();
        self.master.take();
        if let Some(pump) = self.pump.take() {
            let _ = pump.join();
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
