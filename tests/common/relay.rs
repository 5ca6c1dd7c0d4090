//! A UDP relay on 127.0.0.1 between QUIC clients and a server, that can be told to stop
//! forwarding (a network that goes silent without closing anything) and to start again, and
//! that can lose, delay and reorder datagrams ([`Faults`], per direction).
//!
//! Each client address gets its own upstream socket, as behind a NAT, so a client that
//! reconnects from a new port is relayed too. Plain threads and std sockets: it works the same
//! under a tokio test, a test that runs the binary and a benchmark.
//!
//! The faults are drawn from seeded ChaCha8 streams (one for the datagrams to the server, one
//! per client for the answers), so a run makes the same decisions for the same sequence of
//! datagrams. A delayed datagram waits in a scheduler thread (a heap of due times) and is sent
//! when due; with a jitter wider than the gap between datagrams, later ones overtake earlier
//! ones, as on a real path with several queues. What happened is counted per direction
//! ([`RelayStats`]).

use std::cmp::Ordering as Order;
use std::collections::{BinaryHeap, HashMap};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How often the relay's threads look whether they should end.
const POLL: Duration = Duration::from_millis(50);
/// Larger than any QUIC datagram.
const DATAGRAM_BYTES: usize = 65_536;

/// What the relay does to the datagrams of one direction. The default passes everything at
/// once.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Probability that a datagram is dropped.
    pub loss: f64,
    /// Delay of every datagram that is not dropped...
    pub delay: Duration,
    /// ...plus or minus up to this much, uniformly (never below zero).
    pub jitter: Duration,
    /// Probability that a datagram is held back by a further `reorder_by`, so that the ones
    /// after it overtake it.
    pub reorder: f64,
    pub reorder_by: Duration,
}

impl Faults {
    /// Drops each datagram with probability `p`.
    pub fn loss(p: f64) -> Faults {
        Faults {
            loss: p,
            ..Faults::default()
        }
    }

    /// Delays each datagram by `delay` ± up to `jitter`.
    pub fn delay(delay: Duration, jitter: Duration) -> Faults {
        Faults {
            delay,
            jitter,
            ..Faults::default()
        }
    }

    /// Whether a datagram may be held at all (otherwise it is sent as it comes).
    fn holds(&self) -> bool {
        self.delay > Duration::ZERO || self.jitter > Duration::ZERO || self.reorder > 0.0
    }

    /// What happens to the next datagram: `None` to drop it, or how long to hold it.
    fn draw(&self, rng: &mut ChaCha8Rng) -> Option<Duration> {
        if self.loss > 0.0 && rng.random_bool(self.loss.min(1.0)) {
            return None;
        }
        if !self.holds() {
            return Some(Duration::ZERO);
        }
        let mut hold = self.delay;
        if self.jitter > Duration::ZERO {
            let jitter = self.jitter.as_secs_f64();
            let offset = rng.random_range(-jitter..=jitter);
            hold = Duration::from_secs_f64((hold.as_secs_f64() + offset).max(0.0));
        }
        if self.reorder > 0.0 && rng.random_bool(self.reorder.min(1.0)) {
            hold += self.reorder_by;
        }
        Some(hold)
    }
}

/// The faults of both directions, and the seed of their random streams.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultPlan {
    /// Client → server.
    pub to_server: Faults,
    /// Server → client.
    pub to_client: Faults,
    pub seed: u64,
}

impl FaultPlan {
    /// The same faults both ways.
    pub fn both(faults: Faults, seed: u64) -> FaultPlan {
        FaultPlan {
            to_server: faults,
            to_client: faults,
            seed,
        }
    }
}

/// What happened to the datagrams of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Sent on (at once or when due).
    pub forwarded: u64,
    /// Dropped by the loss probability.
    pub lost: u64,
    /// Dropped because the relay was not forwarding.
    pub blocked: u64,
    /// Held for a while before being sent.
    pub delayed: u64,
    /// Sent after a datagram of the same client that came later (overtaken).
    pub reordered: u64,
    /// Bytes sent on.
    pub bytes: u64,
}

/// Both directions' counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    pub to_server: DirectionStats,
    pub to_client: DirectionStats,
}

/// A running relay; its threads end when it is dropped.
pub struct Relay {
    addr: SocketAddr,
    shared: Arc<Shared>,
    front: Option<JoinHandle<()>>,
    scheduler: Option<JoinHandle<()>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    ToServer,
    ToClient,
}

#[derive(Default)]
struct Counters {
    forwarded: AtomicU64,
    lost: AtomicU64,
    blocked: AtomicU64,
    delayed: AtomicU64,
    reordered: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    fn read(&self) -> DirectionStats {
        DirectionStats {
            forwarded: self.forwarded.load(Ordering::SeqCst),
            lost: self.lost.load(Ordering::SeqCst),
            blocked: self.blocked.load(Ordering::SeqCst),
            delayed: self.delayed.load(Ordering::SeqCst),
            reordered: self.reordered.load(Ordering::SeqCst),
            bytes: self.bytes.load(Ordering::SeqCst),
        }
    }

    fn sent(&self, bytes: usize) {
        self.forwarded.fetch_add(1, Ordering::SeqCst);
        self.bytes.fetch_add(bytes as u64, Ordering::SeqCst);
    }
}

struct Shared {
    plan: FaultPlan,
    link: Mutex<Link>,
    closed: AtomicBool,
    to_server: Counters,
    to_client: Counters,
    queue: Mutex<BinaryHeap<Held>>,
    due: Condvar,
    /// Numbers the held datagrams in the order they came (ties of due times keep it).
    arrivals: AtomicU64,
}

/// Whether the relay forwards datagrams.
#[derive(Debug, Clone, Copy)]
enum Link {
    Up,
    /// Until told to forward again.
    Down,
    /// Until this time, then up again.
    DownUntil(Instant),
}

/// A datagram waiting in the scheduler.
struct Held {
    at: Instant,
    /// Arrival order, over all flows.
    arrival: u64,
    direction: Direction,
    client: SocketAddr,
    bytes: Vec<u8>,
    /// The socket to send on: the client's upstream socket (to the server, connected) or the
    /// front socket (to `client`).
    socket: Arc<UdpSocket>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Order::Equal
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Order> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    /// Reversed: the heap's top is the earliest due, then the earliest arrival.
    fn cmp(&self, other: &Self) -> Order {
        (other.at, other.arrival).cmp(&(self.at, self.arrival))
    }
}

impl Relay {
    /// Relays datagrams sent to [`Relay::addr`] to `upstream`, and the answers back, without
    /// faults.
    pub fn start(upstream: SocketAddr) -> Relay {
        Relay::start_with(upstream, FaultPlan::default())
    }

    /// Relays as [`Relay::start`], with the faults of `plan`.
    pub fn start_with(upstream: SocketAddr, plan: FaultPlan) -> Relay {
        let front = UdpSocket::bind("127.0.0.1:0").expect("bind the relay");
        front.set_read_timeout(Some(POLL)).unwrap();
        let addr = front.local_addr().unwrap();
        let shared = Arc::new(Shared {
            plan,
            link: Mutex::new(Link::Up),
            closed: AtomicBool::new(false),
            to_server: Counters::default(),
            to_client: Counters::default(),
            queue: Mutex::new(BinaryHeap::new()),
            due: Condvar::new(),
            arrivals: AtomicU64::new(0),
        });
        let state = shared.clone();
        let scheduler = std::thread::spawn(move || schedule(&state));
        let state = shared.clone();
        let front = std::thread::spawn(move || relay_front(front, upstream, &state));
        Relay {
            addr,
            shared,
            front: Some(front),
            scheduler: Some(scheduler),
        }
    }

    /// Where clients send to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every datagram, both ways, from now on (those already held are still sent).
    pub fn stop_forwarding(&self) {
        self.shared.set_link(Link::Down);
    }

    /// Drops every datagram, both ways, for `silence` from now, then forwards again by itself:
    /// the silence's length does not depend on when the caller's thread next runs.
    pub fn stop_forwarding_for(&self, silence: Duration) {
        self.shared
            .set_link(Link::DownUntil(Instant::now() + silence));
    }

    /// Forwards again.
    pub fn resume_forwarding(&self) {
        self.shared.set_link(Link::Up);
    }

    /// Datagrams dropped so far while not forwarding, both ways.
    pub fn dropped(&self) -> u64 {
        let stats = self.stats();
        stats.to_server.blocked + stats.to_client.blocked
    }

    /// What happened so far, per direction.
    pub fn stats(&self) -> RelayStats {
        RelayStats {
            to_server: self.shared.to_server.read(),
            to_client: self.shared.to_client.read(),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.due.notify_all();
        for thread in [self.front.take(), self.scheduler.take()]
            .into_iter()
            .flatten()
        {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn set_link(&self, link: Link) {
        *self.link.lock().unwrap_or_else(PoisonError::into_inner) = link;
    }

    fn forwarding(&self) -> bool {
        match *self.link.lock().unwrap_or_else(PoisonError::into_inner) {
            Link::Up => true,
            Link::Down => false,
            Link::DownUntil(until) => Instant::now() >= until,
        }
    }

    fn counters(&self, direction: Direction) -> &Counters {
        match direction {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }

    /// Passes one datagram on: drops it, sends it now, or holds it in the scheduler.
    fn pass(
        &self,
        direction: Direction,
        rng: &mut ChaCha8Rng,
        datagram: &[u8],
        socket: &Arc<UdpSocket>,
        client: SocketAddr,
    ) {
        let counters = self.counters(direction);
        if !self.forwarding() {
            counters.blocked.fetch_add(1, Ordering::SeqCst);
            return;
        }
        let faults = match direction {
            Direction::ToServer => &self.plan.to_server,
            Direction::ToClient => &self.plan.to_client,
        };
        let Some(hold) = faults.draw(rng) else {
            counters.lost.fetch_add(1, Ordering::SeqCst);
            return;
        };
        if hold.is_zero() && self.queue_is_empty() {
            send(direction, socket, client, datagram);
            counters.sent(datagram.len());
            return;
        }
        // Once anything is held, even an undelayed datagram goes through the queue, in its
        // arrival order among those due at the same time: only the drawn delays reorder.
        if !hold.is_zero() {
            counters.delayed.fetch_add(1, Ordering::SeqCst);
        }
        let held = Held {
            at: Instant::now() + hold,
            arrival: self.arrivals.fetch_add(1, Ordering::SeqCst),
            direction,
            client,
            bytes: datagram.to_vec(),
            socket: socket.clone(),
        };
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(held);
        self.due.notify_one();
    }

    fn queue_is_empty(&self) -> bool {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }
}

fn send(direction: Direction, socket: &UdpSocket, client: SocketAddr, datagram: &[u8]) {
    let _ = match direction {
        Direction::ToServer => socket.send(datagram),
        Direction::ToClient => socket.send_to(datagram, client),
    };
}

/// The scheduler: sends each held datagram when it is due, counting those sent after a later
/// one of the same flow.
fn schedule(shared: &Shared) {
    // The latest arrival sent so far, per flow.
    let mut latest: HashMap<(Direction, SocketAddr), u64> = HashMap::new();
    let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
    while !shared.closed.load(Ordering::SeqCst) {
        let now = Instant::now();
        let wait = match queue.peek() {
            Some(next) if next.at <= now => Duration::ZERO,
            Some(next) => (next.at - now).min(POLL),
            None => POLL,
        };
        if !wait.is_zero() {
            queue = shared
                .due
                .wait_timeout(queue, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            continue;
        }
        let Some(held) = queue.pop() else {
            continue;
        };
        drop(queue);
        send(held.direction, &held.socket, held.client, &held.bytes);
        let counters = shared.counters(held.direction);
        counters.sent(held.bytes.len());
        let last = latest
            .entry((held.direction, held.client))
            .or_insert(held.arrival);
        if held.arrival < *last {
            counters.reordered.fetch_add(1, Ordering::SeqCst);
        }
        *last = (*last).max(held.arrival);
        queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
    }
}

/// Client → server: one upstream socket (and a thread for its answers) per client address.
fn relay_front(front: UdpSocket, upstream: SocketAddr, shared: &Arc<Shared>) {
    let front = Arc::new(front);
    let mut clients: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut answers = Vec::new();
    let mut buf = vec![0u8; DATAGRAM_BYTES];
    let mut rng = ChaCha8Rng::seed_from_u64(shared.plan.seed);
    while !shared.closed.load(Ordering::SeqCst) {
        let Ok((n, client)) = front.recv_from(&mut buf) else {
            continue; // the poll timeout
        };
        if !clients.contains_key(&client) && !shared.forwarding() {
            // Not even an upstream socket for a client that cannot get through.
            shared.to_server.blocked.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        let index = clients.len() as u64;
        let socket = clients.entry(client).or_insert_with(|| {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind an upstream socket");
            socket.connect(upstream).expect("connect to the server");
            socket.set_read_timeout(Some(POLL)).unwrap();
            let socket = Arc::new(socket);
            let (back, front, shared) = (socket.clone(), front.clone(), shared.clone());
            // Each client's answers have their own random stream.
            let seed = shared.plan.seed ^ (index + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            answers.push(std::thread::spawn(move || {
                relay_back(&back, &front, client, &shared, seed)
            }));
            socket
        });
        shared.pass(Direction::ToServer, &mut rng, &buf[..n], socket, client);
    }
    for answer in answers {
        let _ = answer.join();
    }
}

/// Server → one client.
fn relay_back(
    upstream: &UdpSocket,
    front: &Arc<UdpSocket>,
    client: SocketAddr,
    shared: &Shared,
    seed: u64,
) {
    let mut buf = vec![0u8; DATAGRAM_BYTES];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    while !shared.closed.load(Ordering::SeqCst) {
        let Ok(n) = upstream.recv(&mut buf) else {
            continue;
        };
        shared.pass(Direction::ToClient, &mut rng, &buf[..n], front, client);
    }
}
