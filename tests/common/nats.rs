//! A real `nats-server` (with JetStream) on a free loopback port and a temporary store
//! directory, stopped when dropped. `.ci/run` installs it (`apt-get install -y nats-server`).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the server may take to say it is ready (generous: the machine is shared).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running `nats-server -js`.
pub struct NatsServer {
    child: Child,
    args: Vec<String>,
    pub port: u16,
    /// `nats://127.0.0.1:PORT`.
    pub url: String,
    store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts `nats-server -js` on 127.0.0.1 and waits until it says it is ready.
    pub fn start() -> NatsServer {
        Self::start_with(&[])
    }

    /// As [`NatsServer::start`], with more arguments for the server (`--user`, `--pass`).
    pub fn start_with(args: &[&str]) -> NatsServer {
        let store = tempfile::tempdir().expect("a store directory");
        // A port the kernel just gave out and took back: free unless another process takes
        // it in the next moment.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let child = spawn(port, &store, &args);
        NatsServer {
            child,
            args,
            port,
            url: format!("nats://127.0.0.1:{port}"),
            store,
        }
    }

    /// Kills the server (SIGKILL: its clients see the connection drop) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same port and store, after [`NatsServer::kill`].
    pub fn restart(&mut self) {
        self.child = spawn(self.port, &self.store, &self.args);
    }
}

/// `nats-server -js` on `port` with its store in `store`, once it says it is ready.
fn spawn(port: u16, store: &tempfile::TempDir, args: &[String]) -> Child {
    let mut child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run nats-server ({e}): install it with apt-get install -y nats-server")
        });
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    // What the server said before it was ready: its reason when it never is.
    let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let said_too = said.clone();
    std::thread::spawn(move || {
        let mut ready = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("Server is ready")
                && let Some(tx) = ready.take()
            {
                let _ = tx.send(());
            }
            if ready.is_some() {
                said_too.lock().unwrap().push(line);
            }
        }
    });
    if rx.recv_timeout(READY_TIMEOUT).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "nats-server on port {port} did not get ready within {READY_TIMEOUT:?}:\n{}",
            said.lock().unwrap().join("\n")
        );
    }
    child
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
