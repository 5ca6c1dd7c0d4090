//! Peers that try to exhaust the server, with quinn directly on 127.0.0.1: connections that
//! finish the TLS handshake and then say nothing, more connections than the server or one
//! address may have, and clients that exceed a limit. The server closes each with a reason
//! naming the limit, tells a refused client why, and keeps serving the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use midstream::sources::DemoSource;
use midstream::transport::client::{
    ClientConfig, ClientHandle, ReconnectPolicy, TransportEvent, connect,
};
use midstream::transport::framing::{encode_frame, read_message, write_message};
use midstream::transport::protocol::{
    ClientMessage, CloseCode, MAX_CONTROL_FRAME_BYTES, PROTOCOL_VERSION, ServerMessage,
    transport_config,
};
use midstream::transport::server::{
    Server, ServerConfig, ServerEvent, ServerInfo, ServerLimits, ShutdownHandle,
};
use midstream::transport::tls::{Trust, client_crypto};

/// The contract: a real client attaches this fast while silent connections are held open.
const ATTACH_WITHIN: Duration = Duration::from_secs(2);
/// How long a silent peer waits before it opens a new connection in place of one the server
/// closed, so that it keeps 100 open. Its handshakes cost as much CPU in this process as in the
/// server, on the same two cores: reopening at once would measure a handshake flood (CPU), not
/// the starvation by silent peers this is about.
const REOPEN_AFTER: Duration = Duration::from_secs(1);
/// Longest wait for anything else; generous because the machine is shared.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

struct Running {
    info: ServerInfo,
    shutdown: ShutdownHandle,
    events: tokio::sync::mpsc::Receiver<ServerEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        self.task.abort();
    }
}

fn start(limits: ServerLimits) -> Running {
    let source = DemoSource::new(&["sine".to_owned(), "events".to_owned()], 1)
        .unwrap()
        .with_rate(200.0)
        .unwrap();
    let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), source);
    config.limits = limits;
    let (mut server, info) = Server::bind(config).unwrap();
    let events = server.take_events().unwrap();
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(async move { server.run().await.unwrap() });
    Running {
        info,
        shutdown,
        events,
        task,
    }
}

fn client_config(info: &ServerInfo) -> ClientConfig {
    let mut config = ClientConfig::new(info.addr.to_string(), Trust::Pin(info.fingerprint));
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
    };
    config
}

/// A hostile peer's QUIC client: it trusts the server and speaks the protocol only if told to.
fn raw_endpoint(info: &ServerInfo) -> (quinn::Endpoint, quinn::ClientConfig) {
    let (crypto, _) = client_crypto(&Trust::Pin(info.fingerprint), None).unwrap();
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config(false)));
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    (endpoint, config)
}

async fn raw_connection(info: &ServerInfo) -> quinn::Connection {
    let (endpoint, config) = raw_endpoint(info);
    endpoint
        .connect_with(config, info.addr, "localhost")
        .unwrap()
        .await
        .expect("the TLS handshake")
}

async fn application_close(conn: &quinn::Connection) -> (CloseCode, String) {
    match tokio::time::timeout(EVENT_TIMEOUT, conn.closed()).await {
        Ok(quinn::ConnectionError::ApplicationClosed(close)) => (
            CloseCode::from_code(close.error_code.into_inner()).expect("one of our codes"),
            String::from_utf8_lossy(&close.reason).into_owned(),
        ),
        other => panic!("expected an application close, got {other:?}"),
    }
}

async fn next_event(client: &mut ClientHandle) -> TransportEvent {
    match tokio::time::timeout(EVENT_TIMEOUT, client.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the client stopped"),
        Err(_) => panic!("no event within {EVENT_TIMEOUT:?}"),
    }
}

/// Waits until the client has subscribed and its first records arrived.
async fn streaming(client: &mut ClientHandle) {
    let mut connected = false;
    loop {
        match next_event(client).await {
            TransportEvent::Connected { .. } => connected = true,
            TransportEvent::Records(_) if connected => return,
            TransportEvent::Failed(e) => panic!("the client failed: {e}"),
            _ => {}
        }
    }
}

/// The reason of the client's next disconnection (a client that subscribed to more than it
/// may is Connected first: it is closed when the server reads its Subscribe).
async fn disconnected(client: &mut ClientHandle) -> String {
    loop {
        match next_event(client).await {
            TransportEvent::Disconnected { reason } => return reason,
            TransportEvent::Failed(e) => panic!("a fatal error instead of a retry: {e}"),
            TransportEvent::Records(_) => panic!("records from a server that should refuse"),
            _ => {}
        }
    }
}

/// Keeps `count` connections from one endpoint that finish the TLS handshake and never send a
/// Hello, opening a new one whenever the server closes one, until dropped.
struct SilentFlood {
    /// Aborted when dropped.
    _tasks: tokio::task::JoinSet<()>,
    handshakes: Arc<AtomicU64>,
}

impl SilentFlood {
    async fn start(info: &ServerInfo, count: usize) -> SilentFlood {
        let (endpoint, config) = raw_endpoint(info);
        let handshakes = Arc::new(AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(count);
        for _ in 0..count {
            let (endpoint, config, addr) = (endpoint.clone(), config.clone(), info.addr);
            let (handshakes, ready) = (handshakes.clone(), ready_tx.clone());
            tasks.spawn(async move {
                loop {
                    let Ok(connecting) = endpoint.connect_with(config.clone(), addr, "localhost")
                    else {
                        return;
                    };
                    if let Ok(conn) = connecting.await {
                        handshakes.fetch_add(1, Ordering::SeqCst);
                        let _ = ready.try_send(());
                        conn.closed().await;
                    }
                    tokio::time::sleep(REOPEN_AFTER).await;
                }
            });
        }
        for _ in 0..count {
            ready_rx.recv().await;
        }
        SilentFlood {
            _tasks: tasks,
            handshakes,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_attaches_within_2_s_while_100_silent_connections_are_held_open() {
    let mut server = start(ServerLimits::default());
    let info = server.info.clone();
    let flood = SilentFlood::start(&info, 100).await;
    let before = flood.handshakes.load(Ordering::SeqCst);
    assert!(before >= 100, "{before} silent connections made");

    let started = Instant::now();
    let mut client = connect(client_config(&info)).unwrap();
    streaming(&mut client).await;
    let attached = started.elapsed();
    let during = flood.handshakes.load(Ordering::SeqCst) - before;
    assert!(
        attached < ATTACH_WITHIN,
        "attached after {attached:?} ({during} silent connections made meanwhile)"
    );
    // The silent ones were closed to make room, saying why.
    let mut made_room = 0;
    while let Ok(event) = server.events.try_recv() {
        if let ServerEvent::ClientClosed {
            code: CloseCode::ServerBusy,
            reason,
            ..
        } = event
        {
            assert!(
                reason.starts_with("server busy: closed to make room, no Hello after"),
                "{reason}"
            );
            made_room += 1;
        }
    }
    assert!(made_room > 0);
    eprintln!(
        "attached in {attached:?} with 100 silent connections held open ({} handshakes, \
         {during} while attaching, {made_room} closed to make room)",
        flood.handshakes.load(Ordering::SeqCst)
    );
    drop(flood);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_tells_the_client_it_is_busy_and_takes_it_when_there_is_room() {
    let server = start(ServerLimits {
        max_clients: 2,
        ..ServerLimits::default()
    });
    let mut first = connect(client_config(&server.info)).unwrap();
    streaming(&mut first).await;
    let mut second = connect(client_config(&server.info)).unwrap();
    streaming(&mut second).await;

    let mut third = connect(client_config(&server.info)).unwrap();
    assert_eq!(
        disconnected(&mut third).await,
        "the server refused this client: server busy: 2 clients"
    );
    // It retries (the refusal is not fatal), and gets in once a client has left.
    assert!(matches!(
        next_event(&mut third).await,
        TransportEvent::Reconnecting { attempt: 1, .. }
    ));
    drop(first);
    streaming(&mut third).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_more_than_its_share() {
    let server = start(ServerLimits {
        max_clients_per_address: 2,
        ..ServerLimits::default()
    });
    let mut first = connect(client_config(&server.info)).unwrap();
    streaming(&mut first).await;
    let mut second = connect(client_config(&server.info)).unwrap();
    streaming(&mut second).await;
    let mut third = connect(client_config(&server.info)).unwrap();
    assert_eq!(
        disconnected(&mut third).await,
        "the server closed this client for exceeding a limit: too many connections from \
         127.0.0.1: the limit is 2 per address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_get_a_shorter_deadline_when_the_server_is_full() {
    let server = start(ServerLimits {
        max_clients: 4,
        ..ServerLimits::default()
    });
    let started = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(raw_connection(&server.info).await);
    }
    for conn in &silent {
        let (code, reason) = application_close(conn).await;
        assert_eq!(code, CloseCode::Timeout);
        assert_eq!(reason, "no control stream within 1 s");
    }
    // Full: 1 s instead of the 10 s a server with room gives.
    let closed_after = started.elapsed();
    assert!(closed_after < Duration::from_secs(5), "{closed_after:?}");
}

/// Sends Hello on a new connection and returns it with its control stream, after the catalog.
async fn greeted(info: &ServerInfo) -> (quinn::Connection, quinn::SendStream, quinn::RecvStream) {
    let conn = raw_connection(info).await;
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    let hello = ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        token: None,
    };
    write_message(&mut send, &hello, MAX_CONTROL_FRAME_BYTES, "Hello")
        .await
        .unwrap();
    let catalog: Option<ServerMessage> =
        read_message(&mut recv, MAX_CONTROL_FRAME_BYTES, "Catalog")
            .await
            .unwrap();
    assert!(matches!(catalog, Some(ServerMessage::Catalog(_))));
    (conn, send, recv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_a_limit_is_closed_naming_it_and_the_others_are_served() {
    let mut server = start(ServerLimits {
        max_channels: 1,
        max_frame_bytes: 4096,
        ..ServerLimits::default()
    });
    let info = server.info.clone();
    let mut bystander = connect({
        let mut config = client_config(&info);
        config.channels = Some(vec!["sine".to_owned()]);
        config
    })
    .unwrap();
    streaming(&mut bystander).await;

    // A Hello over the frame limit (a 5,000-byte token).
    let conn = raw_connection(&info).await;
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    let hello = ClientMessage::Hello {
        version: PROTOCOL_VERSION,
        token: Some("t".repeat(5_000)),
    };
    let frame = encode_frame(&hello, MAX_CONTROL_FRAME_BYTES, "Hello").unwrap();
    let _ = send.write_all(&frame).await;
    let (code, reason) = application_close(&conn).await;
    assert_eq!(code, CloseCode::LimitExceeded);
    assert_eq!(
        reason,
        format!(
            "bad Hello: frame of {} bytes exceeds the limit of 4096 bytes",
            frame.len() - 4
        )
    );

    // A subscription over the channel limit.
    let (conn, mut send, _recv) = greeted(&info).await;
    let subscribe = ClientMessage::Subscribe {
        channels: vec![0, 1],
    };
    write_message(&mut send, &subscribe, MAX_CONTROL_FRAME_BYTES, "Subscribe")
        .await
        .unwrap();
    let (code, reason) = application_close(&conn).await;
    assert_eq!(code, CloseCode::LimitExceeded);
    assert_eq!(
        reason,
        "subscription to 2 channels exceeds the limit of 1 channels per client"
    );

    // A second stream: QUIC gives the client credit for one stream only, so it never opens,
    // and no stream of the client's own (a unidirectional one) either.
    let (conn, mut send, _recv) = greeted(&info).await;
    write_message(
        &mut send,
        &ClientMessage::Subscribe { channels: vec![0] },
        MAX_CONTROL_FRAME_BYTES,
        "Subscribe",
    )
    .await
    .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(1), conn.open_bi()).await;
    assert!(second.is_err(), "a second bidirectional stream opened");
    let uni = tokio::time::timeout(Duration::from_secs(1), conn.open_uni()).await;
    assert!(uni.is_err(), "a unidirectional stream opened");

    // The well-behaved client was served throughout, and a new one is too.
    let received = async {
        loop {
            if let TransportEvent::Records(_) = next_event(&mut bystander).await {
                return;
            }
        }
    };
    received.await;
    let mut newcomer = connect({
        let mut config = client_config(&info);
        config.channels = Some(vec!["events".to_owned()]);
        config
    })
    .unwrap();
    streaming(&mut newcomer).await;
    // A real client that asks for too much is told which limit it went over.
    let mut greedy = connect(client_config(&info)).unwrap();
    assert_eq!(
        disconnected(&mut greedy).await,
        "the server closed this client for exceeding a limit: subscription to 2 channels \
         exceeds the limit of 1 channels per client"
    );
    let mut closed = Vec::new();
    while let Ok(event) = server.events.try_recv() {
        if let ServerEvent::ClientClosed { code, .. } = event {
            closed.push(code);
        }
    }
    assert!(
        closed
            .iter()
            .filter(|c| **c == CloseCode::LimitExceeded)
            .count()
            >= 2,
        "{closed:?}"
    );
}
