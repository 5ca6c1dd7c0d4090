//! A UDP relay on 127.0.0.1 between QUIC clients and a server, that can be told to stop
//! forwarding (a network that goes silent without closing anything) and to start again.
//!
//! Each client address gets its own upstream socket, as behind a NAT, so a client that
//! reconnects from a new port is relayed too. Plain threads and std sockets: it works the same
//! under a tokio test and a test that runs the binary.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the relay's threads look whether they should end.
const POLL: Duration = Duration::from_millis(50);
/// Larger than any QUIC datagram.
const DATAGRAM_BYTES: usize = 65_536;

/// A running relay; its threads end when it is dropped.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    front: Option<JoinHandle<()>>,
}

struct Shared {
    forwarding: AtomicBool,
    closed: AtomicBool,
    /// Datagrams dropped while not forwarding.
    dropped: AtomicU64,
}

impl Relay {
    /// Relays datagrams sent to [`Relay::addr`] to `upstream`, and the answers back.
    pub fn start(upstream: SocketAddr) -> Relay {
        let front = UdpSocket::bind("127.0.0.1:0").expect("bind the relay");
        front.set_read_timeout(Some(POLL)).unwrap();
        let addr = front.local_addr().unwrap();
        let shared = Arc::new(Shared {
            forwarding: AtomicBool::new(true),
            closed: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        });
        let state = shared.clone();
        let front = std::thread::spawn(move || relay_front(front, upstream, &state));
        Relay {
            addr,
            shared,
            front: Some(front),
        }
    }

    /// Where clients send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every datagram, both ways, from now on.
    pub fn stop_forwarding(&self) {
        self.shared.forwarding.store(false, Ordering::SeqCst);
    }

    /// Forwards again.
    pub fn resume_forwarding(&self) {
        self.shared.forwarding.store(true, Ordering::SeqCst);
    }

    /// Datagrams dropped so far while not forwarding.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        if let Some(front) = self.front.take() {
            let _ = front.join();
        }
    }
}

impl Shared {
    /// Whether to pass a datagram on (counting it when not).
    fn pass(&self) -> bool {
        let pass = self.forwarding.load(Ordering::SeqCst);
        if !pass {
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
        pass
    }
}

/// Client → server: one upstream socket (and a thread for its answers) per client address.
fn relay_front(front: UdpSocket, upstream: SocketAddr, shared: &Arc<Shared>) {
    let front = Arc::new(front);
    let mut clients: HashMap<SocketAddr, UdpSocket> = HashMap::new();
    let mut answers = Vec::new();
    let mut buf = vec![0u8; DATAGRAM_BYTES];
    while !shared.closed.load(Ordering::SeqCst) {
        let Ok((n, client)) = front.recv_from(&mut buf) else {
            continue; // the poll timeout
        };
        if !shared.pass() {
            continue;
        }
        let socket = clients.entry(client).or_insert_with(|| {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind an upstream socket");
            socket.connect(upstream).expect("connect to the server");
            socket.set_read_timeout(Some(POLL)).unwrap();
            let back = socket.try_clone().unwrap();
            let (front, shared) = (front.clone(), shared.clone());
            answers.push(std::thread::spawn(move || {
                relay_back(&back, &front, client, &shared)
            }));
            socket
        });
        let _ = socket.send(&buf[..n]);
    }
    for answer in answers {
        let _ = answer.join();
    }
}

/// Server → one client.
fn relay_back(upstream: &UdpSocket, front: &UdpSocket, client: SocketAddr, shared: &Shared) {
    let mut buf = vec![0u8; DATAGRAM_BYTES];
    while !shared.closed.load(Ordering::SeqCst) {
        let Ok(n) = upstream.recv(&mut buf) else {
            continue;
        };
        if shared.pass() {
            let _ = front.send_to(&buf[..n], client);
        }
    }
}
