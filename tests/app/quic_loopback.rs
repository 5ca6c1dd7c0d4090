//! Real QUIC connections on 127.0.0.1: a server streaming the demo source, clients with every
//! trust mode, and hostile peers on both sides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use midstream::model::{Catalog, ChannelId, Record, Value};
use midstream::sources::{DemoSource, GENERATOR_NAMES};
use midstream::transport::client::{
    ClientConfig, ClientError, ClientHandle, ReconnectPolicy, TransportEvent, connect,
};
use midstream::transport::framing::{encode_frame, read_message, write_message};
use midstream::transport::protocol::{
    ClientMessage, CloseCode, DEFAULT_CLIENT_FRAME_BYTES, DataStreamHeader, MAX_CHANNELS,
    MAX_CONTROL_FRAME_BYTES, MAX_DATA_FRAME_BYTES, PROTOCOL_VERSION, ServerMessage,
    transport_config,
};
use midstream::transport::server::{
    CertificateSource, Pacing, Server, ServerConfig, ServerError, ServerEvent, ServerInfo,
    ShutdownHandle,
};
use midstream::transport::tls::{
    Fingerprint, ServerIdentity, Trust, TrustFailure, client_crypto, server_crypto,
};

/// Longest wait for any one expected event; generous because the machine is shared.
const EVENT_TIMEOUT: Duration = Duration::from_secs(20);

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

struct Running {
    info: ServerInfo,
    shutdown: ShutdownHandle,
    events: tokio::sync::mpsc::Receiver<ServerEvent>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Shuts the server down the way a caller should, and waits until its socket is free.
    async fn stop(mut self) {
        self.shutdown.shutdown();
        let task = &mut self.task;
        tokio::time::timeout(EVENT_TIMEOUT, task)
            .await
            .expect("the server stops after shutdown")
            .expect("the server task ends cleanly");
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shutdown.shutdown();
        self.task.abort();
    }
}

fn start(config: ServerConfig) -> Running {
    let (server, info) = Server::bind(config).expect("server binds");
    run(server, info)
}

fn run(mut server: Server, info: ServerInfo) -> Running {
    let events = server.take_events().unwrap();
    let shutdown = server.shutdown_handle();
    let task = tokio::spawn(async move {
        server.run().await.expect("server runs");
    });
    Running {
        info,
        shutdown,
        events,
        task,
    }
}

/// Starts a server on an address another server just left: the old socket closes a moment
/// after its endpoint's last handle goes (quinn's driver task notices asynchronously), so
/// binding is retried for a while, as a restarting source would.
async fn restart(config: impl Fn() -> ServerConfig) -> Running {
    let deadline = tokio::time::Instant::now() + EVENT_TIMEOUT;
    loop {
        match Server::bind(config()) {
            Ok((server, info)) => return run(server, info),
            Err(ServerError::Bind { source, .. })
                if source.kind() == std::io::ErrorKind::AddrInUse
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("cannot restart the server: {e}"),
        }
    }
}

fn demo(generators: &[String], seed: u64, rate_hz: f64) -> DemoSource {
    DemoSource::new(generators, seed)
        .unwrap()
        .with_rate(rate_hz)
        .unwrap()
}

fn pinned(info: &ServerInfo) -> ClientConfig {
    let mut config = ClientConfig::new(info.addr.to_string(), Trust::Pin(info.fingerprint));
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(400),
    };
    config.rtt_interval = Duration::from_millis(100);
    config
}

async fn next_event(client: &mut ClientHandle) -> TransportEvent {
    match tokio::time::timeout(EVENT_TIMEOUT, client.recv()).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("the client stopped"),
        Err(_) => panic!("no event within {EVENT_TIMEOUT:?}"),
    }
}

/// The first event that is not an RTT report.
async fn next_non_rtt(client: &mut ClientHandle) -> TransportEvent {
    loop {
        match next_event(client).await {
            TransportEvent::Rtt(_) => continue,
            event => return event,
        }
    }
}

async fn expect_connected(client: &mut ClientHandle) -> (Catalog, Fingerprint) {
    match next_non_rtt(client).await {
        TransportEvent::Connected {
            catalog,
            fingerprint,
            ..
        } => (catalog, fingerprint),
        other => panic!("expected Connected, got {other:?}"),
    }
}

async fn expect_failure(client: &mut ClientHandle) -> ClientError {
    let error = match next_non_rtt(client).await {
        TransportEvent::Failed(error) => error,
        other => panic!("expected a fatal error, got {other:?}"),
    };
    // Failed is the last event: the client stops instead of retrying.
    let after = tokio::time::timeout(EVENT_TIMEOUT, client.recv()).await;
    assert!(matches!(after, Ok(None)), "events after Failed: {after:?}");
    error
}

/// Receives records until every channel in `wanted` has at least `per_channel`.
async fn collect(
    client: &mut ClientHandle,
    wanted: &[ChannelId],
    per_channel: usize,
) -> (BTreeMap<ChannelId, Vec<Record>>, usize) {
    let mut by_channel: BTreeMap<ChannelId, Vec<Record>> = BTreeMap::new();
    let mut rtts = 0;
    while wanted
        .iter()
        .any(|id| by_channel.get(id).map_or(0, Vec::len) < per_channel)
    {
        match next_event(client).await {
            TransportEvent::Records(batch) => {
                let channel = batch[0].channel;
                assert!(batch.iter().all(|r| r.channel == channel));
                by_channel.entry(channel).or_default().extend(batch);
            }
            TransportEvent::Rtt(rtt) => {
                assert!(rtt < Duration::from_secs(1), "loopback RTT {rtt:?}");
                rtts += 1;
            }
            other => panic!("unexpected event while streaming: {other:?}"),
        }
    }
    (by_channel, rtts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generator_arrives_complete_and_in_order() {
    let generators = names(&GENERATOR_NAMES);
    let rate_hz = 1000.0;
    let server = start(ServerConfig::new(loopback(), demo(&generators, 7, rate_hz)));
    assert!(server.info.self_signed);
    let command = server.info.attach_command.clone().unwrap();
    assert_eq!(
        command,
        format!(
            "midstream-tui attach {} --pin {}",
            server.info.addr, server.info.fingerprint
        )
    );
    assert_eq!(server.info.fingerprint.to_string().len(), 64);

    let mut client = connect(pinned(&server.info)).unwrap();
    let (catalog, fingerprint) = expect_connected(&mut client).await;
    assert_eq!(fingerprint, server.info.fingerprint);
    let mut reference = demo(&generators, 7, rate_hz);
    assert_eq!(&catalog, reference.catalog());

    let ids: Vec<ChannelId> = catalog.channels.iter().map(|c| c.id).collect();
    let (received, rtts) = collect(&mut client, &ids, 400).await;
    assert!(rtts > 0, "no RTT report");

    // Every record the server's source made from the first one received on, unchanged.
    let max_seq = received
        .values()
        .map(|v| v.last().unwrap().seq)
        .max()
        .unwrap();
    let mut expected: BTreeMap<(ChannelId, u64), Record> = BTreeMap::new();
    let mut out = Vec::new();
    while reference.ticks() <= max_seq {
        reference.tick(&mut out);
    }
    for r in out {
        expected.insert((r.channel, r.seq), r);
    }
    for (channel, records) in &received {
        let name = &catalog.channel(*channel).unwrap().name;
        let first = records[0].seq;
        for (k, record) in records.iter().enumerate() {
            assert_eq!(
                record.seq,
                first + k as u64,
                "{name}: gap or reordering at {k}"
            );
            assert_eq!(
                Some(record),
                expected.get(&(*channel, record.seq)),
                "{name}: record differs from the source's"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_is_accepted_as_printed_with_colons_and_prefix() {
    let server = start(ServerConfig::new(
        loopback(),
        demo(&names(&["sine"]), 1, 500.0),
    ));
    let hex = server.info.fingerprint.to_string().to_uppercase();
    let pairs: Vec<&str> = (0..32).map(|i| &hex[2 * i..2 * i + 2]).collect();
    let pin = format!("SHA256:{}", pairs.join(":"));
    let trust = Trust::from_flags(Some(&pin), None, false, false).unwrap();
    let mut config = pinned(&server.info);
    config.trust = trust;
    config.channels = Some(names(&["sine"]));
    let mut client = connect(config).unwrap();
    let (catalog, _) = expect_connected(&mut client).await;
    let (received, _) = collect(&mut client, &[catalog.channels[0].id], 50).await;
    assert!(received.values().all(|v| v.len() >= 50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_pin_is_refused_with_both_fingerprints_and_not_retried() {
    let mut server = start(ServerConfig::new(
        loopback(),
        demo(&names(&["sine"]), 1, 200.0),
    ));
    let wrong = Fingerprint([0xab; 32]);
    let mut config = pinned(&server.info);
    config.trust = Trust::Pin(wrong);
    let mut client = connect(config).unwrap();
    let error = expect_failure(&mut client).await;
    let message = error.to_string();
    let ClientError::Untrusted { failure, .. } = error else {
        panic!("expected an untrusted certificate, got {error:?}");
    };
    assert_eq!(
        *failure,
        TrustFailure::PinMismatch {
            expected: wrong,
            got: server.info.fingerprint
        }
    );
    assert!(message.contains(&wrong.to_string()), "{message}");
    assert!(
        message.contains(&server.info.fingerprint.to_string()),
        "{message}"
    );
    assert!(message.contains("pinned fingerprint"), "{message}");
    // Nothing subscribed on the server.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Ok(event) = server.events.try_recv() {
        assert!(
            !matches!(event, ServerEvent::ClientSubscribed { .. }),
            "{event:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_mismatch_is_rejected_with_the_reason() {
    let mut config = ServerConfig::new(loopback(), demo(&names(&["events"]), 1, 200.0));
    config.token = Some("s3cret".into());
    let server = start(config);

    let mut wrong = pinned(&server.info);
    wrong.token = Some("guess".into());
    let mut client = connect(wrong).unwrap();
    match expect_failure(&mut client).await {
        ClientError::Rejected { reason, .. } => assert_eq!(reason, "token does not match"),
        other => panic!("expected a rejection, got {other:?}"),
    }

    let mut client = connect(pinned(&server.info)).unwrap();
    let error = expect_failure(&mut client).await;
    assert!(
        error.to_string().contains("this server requires a token"),
        "{error}"
    );

    let mut right = pinned(&server.info);
    right.token = Some("s3cret".into());
    let mut client = connect(right).unwrap();
    let (catalog, _) = expect_connected(&mut client).await;
    collect(&mut client, &[catalog.channels[0].id], 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_channel_names_are_a_fatal_error_listing_the_catalog() {
    let server = start(ServerConfig::new(
        loopback(),
        demo(&names(&["lorenz"]), 1, 200.0),
    ));
    let mut config = pinned(&server.info);
    config.channels = Some(names(&["lorenz.y"]));
    let mut client = connect(config).unwrap();
    let error = expect_failure(&mut client).await.to_string();
    assert_eq!(
        error,
        "the source has no channel named lorenz.y; it has: lorenz, lorenz.x"
    );
}

/// A raw QUIC connection that trusts `info`'s certificate, for speaking the protocol badly.
async fn raw_connection(info: &ServerInfo) -> quinn::Connection {
    let (crypto, _) = client_crypto(&Trust::Pin(info.fingerprint), None).unwrap();
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport_config(false)));
    let endpoint = quinn::Endpoint::client(loopback()).unwrap();
    endpoint
        .connect_with(config, info.addr, "localhost")
        .unwrap()
        .await
        .expect("raw handshake")
}

/// Sends `bytes` on a fresh control stream and returns the server's close code and reason.
async fn closed_after(info: &ServerInfo, bytes: &[u8]) -> (CloseCode, String) {
    let conn = raw_connection(info).await;
    let (mut send, _recv) = conn.open_bi().await.unwrap();
    send.write_all(bytes).await.unwrap();
    application_close(&conn).await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_are_closed_with_a_reason_and_the_server_carries_on() {
    let mut server = start(ServerConfig::new(
        loopback(),
        demo(&names(&["sine", "events"]), 1, 500.0),
    ));
    let info = server.info.clone();

    // A length prefix of 4 GiB: over the limit of a client's frames.
    let (code, reason) = closed_after(&info, &u32::MAX.to_le_bytes()).await;
    assert_eq!(code, CloseCode::LimitExceeded);
    assert_eq!(
        reason,
        format!(
            "bad Hello: frame of 4294967295 bytes exceeds the limit of {DEFAULT_CLIENT_FRAME_BYTES} bytes"
        )
    );

    // A body that is not a message.
    let (code, reason) = closed_after(&info, &[3, 0, 0, 0, 0xff, 0xff, 0xff]).await;
    assert_eq!(code, CloseCode::ProtocolViolation);
    assert!(
        reason.starts_with("bad Hello: malformed Hello frame body"),
        "{reason}"
    );

    // An empty frame.
    let (_, reason) = closed_after(&info, &[0, 0, 0, 0]).await;
    assert_eq!(reason, "bad Hello: empty frame (length 0)");

    // Subscribe before Hello.
    let subscribe = encode_frame(
        &ClientMessage::Subscribe { channels: vec![0] },
        MAX_CONTROL_FRAME_BYTES,
        "Subscribe",
    )
    .unwrap();
    let (_, reason) = closed_after(&info, &subscribe).await;
    assert_eq!(reason, "expected Hello, got Subscribe");

    // A wrong protocol version.
    let hello = |version| {
        encode_frame(
            &ClientMessage::Hello {
                version,
                token: None,
            },
            MAX_CONTROL_FRAME_BYTES,
            "Hello",
        )
        .unwrap()
    };
    let (code, reason) = closed_after(&info, &hello(PROTOCOL_VERSION + 1)).await;
    assert_eq!(code, CloseCode::VersionMismatch);
    assert!(reason.contains("version 2 is not supported"), "{reason}");

    // A subscription to a channel that does not exist, then one to too many.
    for (channels, expected) in [
        (
            vec![0, 999],
            "channel id 999 is not in the catalog".to_owned(),
        ),
        (
            (0..=MAX_CHANNELS as u32).collect(),
            format!(
                "subscription to {} channels exceeds the limit of {MAX_CHANNELS} channels per \
                 client",
                MAX_CHANNELS + 1
            ),
        ),
    ] {
        let conn = raw_connection(&info).await;
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(&hello(PROTOCOL_VERSION)).await.unwrap();
        let catalog: Option<ServerMessage> =
            read_message(&mut recv, MAX_CONTROL_FRAME_BYTES, "Catalog")
                .await
                .unwrap();
        assert!(matches!(catalog, Some(ServerMessage::Catalog(_))));
        let subscribe = ClientMessage::Subscribe { channels };
        write_message(&mut send, &subscribe, MAX_CONTROL_FRAME_BYTES, "Subscribe")
            .await
            .unwrap();
        let (_, reason) = application_close(&conn).await;
        assert_eq!(reason, expected);
    }

    // A second message after Subscribe.
    let conn = raw_connection(&info).await;
    let (mut send, mut recv) = conn.open_bi().await.unwrap();
    send.write_all(&hello(PROTOCOL_VERSION)).await.unwrap();
    let _: Option<ServerMessage> = read_message(&mut recv, MAX_CONTROL_FRAME_BYTES, "Catalog")
        .await
        .unwrap();
    let subscribe = ClientMessage::Subscribe { channels: vec![] };
    write_message(&mut send, &subscribe, MAX_CONTROL_FRAME_BYTES, "Subscribe")
        .await
        .unwrap();
    send.write_all(&hello(PROTOCOL_VERSION)).await.unwrap();
    let (code, reason) = application_close(&conn).await;
    assert_eq!(code, CloseCode::ProtocolViolation);
    assert_eq!(reason, "unexpected Hello after Subscribe");

    // The server reported each closure, and still serves a well-behaved client.
    let mut closed = Vec::new();
    while closed.len() < 8 {
        match tokio::time::timeout(EVENT_TIMEOUT, server.events.recv()).await {
            Ok(Some(ServerEvent::ClientClosed { code, .. })) => closed.push(code),
            Ok(Some(_)) => {}
            other => panic!("server events ended after {closed:?}: {other:?}"),
        }
    }
    assert_eq!(
        closed
            .iter()
            .filter(|c| **c == CloseCode::ProtocolViolation)
            .count(),
        5,
        "{closed:?}"
    );
    let mut client = connect(pinned(&info)).unwrap();
    let (catalog, _) = expect_connected(&mut client).await;
    let ids: Vec<ChannelId> = catalog.channels.iter().map(|c| c.id).collect();
    collect(&mut client, &ids, 50).await;
    assert!(!server.task.is_finished());
}

/// A fake source that completes the handshake and then sends `data` on a channel's stream.
async fn hostile_server(data: Vec<u8>) -> (ServerInfo, tokio::task::JoinHandle<()>) {
    let identity = ServerIdentity::self_signed(&["localhost".into()]).unwrap();
    let fingerprint = identity.fingerprint();
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(server_crypto(&identity).unwrap()));
    config.transport_config(Arc::new(transport_config(true)));
    let endpoint = quinn::Endpoint::server(config, loopback()).unwrap();
    let addr = endpoint.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Some(incoming) = endpoint.accept().await {
            let Ok(conn) = incoming.await else { continue };
            let data = data.clone();
            tokio::spawn(async move {
                let Ok((mut send, mut recv)) = conn.accept_bi().await else {
                    return;
                };
                let _: Option<ClientMessage> =
                    read_message(&mut recv, MAX_CONTROL_FRAME_BYTES, "Hello")
                        .await
                        .unwrap();
                let catalog = DemoSource::new(&names(&["sine"]), 1)
                    .unwrap()
                    .catalog()
                    .clone();
                write_message(
                    &mut send,
                    &ServerMessage::Catalog(catalog),
                    MAX_CONTROL_FRAME_BYTES,
                    "Catalog",
                )
                .await
                .unwrap();
                let _: Option<ClientMessage> =
                    read_message(&mut recv, MAX_CONTROL_FRAME_BYTES, "Subscribe")
                        .await
                        .unwrap();
                let mut uni = conn.open_uni().await.unwrap();
                write_message(
                    &mut uni,
                    &DataStreamHeader { channel: 0 },
                    MAX_CONTROL_FRAME_BYTES,
                    "header",
                )
                .await
                .unwrap();
                let _ = uni.write_all(&data).await;
                conn.closed().await;
            });
        }
    });
    let info = ServerInfo {
        addr,
        fingerprint,
        self_signed: true,
        attach_command: None,
    };
    (info, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_is_dropped_with_a_reason_and_the_client_retries() {
    let oversized = (MAX_DATA_FRAME_BYTES as u32 + 1).to_le_bytes().to_vec();
    let wrong_kind = encode_frame(
        &vec![Record {
            channel: 0,
            seq: 0,
            t_ns: 0,
            value: Value::Token("not a number".into()),
        }],
        MAX_DATA_FRAME_BYTES,
        "batch",
    )
    .unwrap();
    for (data, expected) in [
        (
            oversized,
            format!(
                "protocol violation by the server: channel \"sine\": frame of {} bytes exceeds \
                 the limit of {MAX_DATA_FRAME_BYTES} bytes",
                MAX_DATA_FRAME_BYTES + 1
            ),
        ),
        (
            wrong_kind,
            "protocol violation by the server: channel \"sine\": record seq 0 does not fit the \
             channel's kind scalar"
                .to_owned(),
        ),
    ] {
        let (info, task) = hostile_server(data).await;
        let mut client = connect(pinned(&info)).unwrap();
        expect_connected(&mut client).await;
        match next_non_rtt(&mut client).await {
            TransportEvent::Disconnected { reason } => assert_eq!(reason, expected),
            other => panic!("expected Disconnected, got {other:?}"),
        }
        match next_non_rtt(&mut client).await {
            TransportEvent::Reconnecting { attempt, delay } => {
                assert_eq!(attempt, 1);
                assert_eq!(delay, Duration::from_millis(50));
            }
            other => panic!("expected Reconnecting, got {other:?}"),
        }
        drop(client);
        task.abort();
    }
}

fn write_identity(dir: &Path, name: &str, cert_pem: &str, key_pem: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    (cert, key)
}

fn self_signed_pem(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    write_identity(
        dir,
        name,
        &certified.cert.pem(),
        &certified.signing_key.serialize_pem(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_reconnects_when_the_source_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed_pem(dir.path(), "server");
    let config = |listen| {
        let mut config = ServerConfig::new(listen, demo(&names(&["sine"]), 1, 500.0));
        config.certificate = CertificateSource::PemFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        config
    };
    let first = start(config(loopback()));
    assert!(!first.info.self_signed && first.info.attach_command.is_none());
    let addr = first.info.addr;
    let expected_fingerprint = first.info.fingerprint;
    let mut client = connect(pinned(&first.info)).unwrap();
    expect_connected(&mut client).await;
    collect(&mut client, &[0], 20).await;

    first.stop().await;
    let reason = loop {
        match next_event(&mut client).await {
            TransportEvent::Disconnected { reason } => break reason,
            TransportEvent::Records(_) | TransportEvent::Rtt(_) => {}
            other => panic!("expected Disconnected, got {other:?}"),
        }
    };
    assert!(reason.contains("server shutting down"), "{reason}");
    assert!(matches!(
        next_non_rtt(&mut client).await,
        TransportEvent::Reconnecting { attempt: 1, .. }
    ));

    // Attempts fail while nothing listens, with growing delays...
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...and succeed once the source is back on the same address.
    let _second = restart(|| config(addr)).await;
    loop {
        match next_non_rtt(&mut client).await {
            TransportEvent::Connected { fingerprint, .. } => {
                assert_eq!(fingerprint, expected_fingerprint);
                break;
            }
            TransportEvent::Disconnected { .. } | TransportEvent::Reconnecting { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    collect(&mut client, &[0], 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_file_is_trusted_and_a_foreign_ca_is_refused() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let make_ca = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("{name} test CA"));
        let cert = params.self_signed(&key).unwrap();
        let path = dir.path().join(format!("{name}.pem"));
        std::fs::write(&path, cert.pem()).unwrap();
        (Issuer::new(params, key), path)
    };
    let (issuer, ca_file) = make_ca("ours");
    let (_, foreign_ca_file) = make_ca("foreign");
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let (cert, key) = write_identity(dir.path(), "leaf", &leaf.pem(), &leaf_key.serialize_pem());

    let mut config = ServerConfig::new(loopback(), demo(&names(&["sine"]), 1, 200.0));
    config.certificate = CertificateSource::PemFiles { cert, key };
    let server = start(config);

    let mut trusted = pinned(&server.info);
    trusted.trust = Trust::CaFile(ca_file);
    let mut client = connect(trusted).unwrap();
    let (_, fingerprint) = expect_connected(&mut client).await;
    assert_eq!(fingerprint, Fingerprint::of(leaf.der()));

    let mut foreign = pinned(&server.info);
    foreign.trust = Trust::CaFile(foreign_ca_file.clone());
    let mut client = connect(foreign).unwrap();
    let error = expect_failure(&mut client).await;
    let message = error.to_string();
    let ClientError::Untrusted { failure, .. } = &error else {
        panic!("expected an untrusted certificate, got {error:?}");
    };
    assert!(
        matches!(&**failure, TrustFailure::NotTrustedByCa { got, .. } if *got == fingerprint),
        "{failure:?}"
    );
    assert!(
        message.contains(&foreign_ca_file.display().to_string()),
        "{message}"
    );
    assert!(message.contains("UnknownIssuer"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_on_first_use_remembers_and_then_insists() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("config").join("known_servers");
    let first = start(ServerConfig::new(
        loopback(),
        demo(&names(&["sine"]), 1, 200.0),
    ));
    let addr = first.info.addr;
    let tofu = |info: &ServerInfo| {
        let mut config = pinned(info);
        config.trust = Trust::Tofu {
            store: store.clone(),
        };
        config
    };
    let mut client = connect(tofu(&first.info)).unwrap();
    expect_connected(&mut client).await;
    let saved = std::fs::read_to_string(&store).unwrap();
    assert_eq!(saved, format!("{addr} {}\n", first.info.fingerprint));
    drop(client);

    // The same server again: trusted.
    let mut client = connect(tofu(&first.info)).unwrap();
    expect_connected(&mut client).await;
    drop(client);
    first.stop().await;

    // A different certificate on the same address: refused, naming both fingerprints.
    let second = restart(|| ServerConfig::new(addr, demo(&names(&["sine"]), 1, 200.0))).await;
    let mut client = connect(tofu(&second.info)).unwrap();
    let error = expect_failure(&mut client).await;
    let ClientError::Untrusted { failure, .. } = error else {
        panic!("expected an untrusted certificate, got {error:?}");
    };
    match *failure {
        TrustFailure::TofuMismatch { got, store: s, .. } => {
            assert_eq!(got, second.info.fingerprint);
            assert_eq!(s, store);
        }
        other => panic!("expected a TOFU mismatch, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_trust_connects_to_anything() {
    let server = start(ServerConfig::new(
        loopback(),
        demo(&names(&["tokens"]), 1, 200.0),
    ));
    let mut config = pinned(&server.info);
    config.trust = Trust::Insecure;
    let mut client = connect(config).unwrap();
    let (_, fingerprint) = expect_connected(&mut client).await;
    assert_eq!(fingerprint, server.info.fingerprint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_fast_as_possible_pacing_loses_nothing() {
    let mut config = ServerConfig::new(loopback(), demo(&names(&["sine", "noise"]), 3, 1000.0));
    config.pacing = Pacing::AsFastAsPossible;
    let server = start(config);
    let mut client = connect(pinned(&server.info)).unwrap();
    expect_connected(&mut client).await;
    let (received, _) = collect(&mut client, &[0, 1], 100_000).await;
    for records in received.values() {
        for pair in records.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1);
        }
    }
}
