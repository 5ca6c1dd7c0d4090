//! Three `nats-server -js` nodes clustered with routes on free loopback ports, each with its
//! own store; a node can be killed (SIGKILL) and the others go on. Stopped when dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a node may take to say it is ready (generous: the machine is shared).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running three-node JetStream cluster.
pub struct NatsCluster {
    nodes: Vec<Option<Child>>,
    /// `nats://127.0.0.1:PORT` of each node.
    pub urls: Vec<String>,
    _stores: Vec<tempfile::TempDir>,
}

impl NatsCluster {
    pub fn start() -> NatsCluster {
        let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let cluster_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let routes: Vec<String> = cluster_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect();
        let mut stores = Vec::new();
        let mut nodes = Vec::new();
        for i in 0..3 {
            let store = tempfile::tempdir().expect("a store directory");
            let others: Vec<&str> = (0..3)
                .filter(|&j| j != i)
                .map(|j| routes[j].as_str())
                .collect();
            let mut child = Command::new("nats-server")
                .args(["-a", "127.0.0.1", "-p", &ports[i].to_string(), "-js", "-sd"])
                .arg(store.path())
                .args(["-n", &format!("node{i}"), "--cluster_name", "midstream"])
                .args(["--cluster", &routes[i], "--routes", &others.join(",")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot run nats-server ({e}): apt-get install -y nats-server")
                });
            let stderr = child.stderr.take().expect("piped stderr");
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let mut ready = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("Server is ready")
                        && let Some(tx) = ready.take()
                    {
                        let _ = tx.send(());
                    }
                }
            });
            if rx.recv_timeout(READY_TIMEOUT).is_err() {
                let _ = child.kill();
                panic!("cluster node {i} did not get ready within {READY_TIMEOUT:?}");
            }
            nodes.push(Some(child));
            stores.push(store);
        }
        NatsCluster {
            nodes,
            urls: ports
                .iter()
                .map(|p| format!("nats://127.0.0.1:{p}"))
                .collect(),
            _stores: stores,
        }
    }

    /// Kills node `i` with SIGKILL and waits for it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
