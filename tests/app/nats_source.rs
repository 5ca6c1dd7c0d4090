//! A NATS server's subjects as a source, against a real `nats-server -js` on loopback
//! (`common::nats`): subjects to channels with JSON, numbers and text; wildcards; a bad
//! payload counted, not a crash; JetStream replay from `--from all` with a removed message
//! counted as a gap; `record nats://...` then `replay --headless`; and the real binary's
//! `attach nats://...` in a pseudo-terminal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use midstream::model::{Catalog, ChannelKind, InputReport, LinkState, Record, SourceEvent, Value};
use midstream::sources::nats::{
    JetStreamOptions, NatsAuth, NatsOptions, NatsSource, StartPosition,
};
use portable_pty::CommandBuilder;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::common::binary::{self, BIN};
use crate::common::nats::NatsServer;
use crate::common::pty::Pty;

/// Generous: the machine is shared, and nothing here waits for this long when it works.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What the source has sent so far.
#[derive(Default)]
struct Seen {
    catalog: Catalog,
    records: Vec<Record>,
    report: Option<InputReport>,
    links: Vec<LinkState>,
}

impl Seen {
    fn id(&self, name: &str) -> Option<u32> {
        self.catalog
            .channels
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.id)
    }

    fn kind(&self, name: &str) -> Option<&ChannelKind> {
        self.catalog
            .channels
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.kind)
    }

    fn of(&self, name: &str) -> Vec<&Record> {
        let Some(id) = self.id(name) else {
            return Vec::new();
        };
        self.records.iter().filter(|r| r.channel == id).collect()
    }

    fn numbers(&self, name: &str) -> Vec<f64> {
        self.of(name)
            .iter()
            .filter_map(|r| r.value.as_f64())
            .collect()
    }

    fn tokens(&self, name: &str) -> Vec<String> {
        self.of(name)
            .iter()
            .filter_map(|r| match &r.value {
                Value::Token(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn core(url: &str, subjects: &[&str]) -> NatsOptions {
    NatsOptions {
        url: url.to_owned(),
        subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
        jetstream: None,
        auth: NatsAuth::default(),
        ca: None,
        echo_problems: false,
    }
}

/// Runs the source on `rt`, collecting what it sends.
fn watch(rt: &Runtime, opts: NatsOptions) -> Arc<Mutex<Seen>> {
    let source = NatsSource::new(opts).expect("valid options");
    let (tx, mut rx) = mpsc::channel(1024);
    rt.spawn(source.run(tx));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = seen.clone();
    rt.spawn(async move {
        while let Some(event) = rx.recv().await {
            let mut seen = sink.lock().unwrap();
            match event {
                SourceEvent::Catalog(catalog) => seen.catalog = catalog,
                SourceEvent::Records(records) => seen.records.extend(records),
                SourceEvent::Input(report) => seen.report = Some(report),
                SourceEvent::Link(link) => seen.links.push(link),
                _ => {}
            }
        }
    });
    seen
}

/// Waits until `done` holds for what was seen, or panics saying what it waited for.
fn wait_until(seen: &Mutex<Seen>, what: &str, done: impl Fn(&Seen) -> bool) {
    let start = Instant::now();
    loop {
        {
            let seen = seen.lock().unwrap();
            if done(&seen) {
                return;
            }
            if start.elapsed() > TIMEOUT {
                let names: Vec<&str> = seen.catalog.names().collect();
                panic!(
                    "timed out waiting for {what}: channels {names:?}, {} records, links {:?}, report {:?}",
                    seen.records.len(),
                    seen.links,
                    seen.report
                );
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn publisher(rt: &Runtime, url: &str) -> async_nats::Client {
    rt.block_on(async_nats::connect(url))
        .expect("the test's publisher connects")
}

fn publish(rt: &Runtime, client: &async_nats::Client, subject: &str, payload: &[u8]) {
    rt.block_on(async {
        client
            .publish(subject.to_owned(), payload.to_vec().into())
            .await
            .expect("publish");
        client.flush().await.expect("flush");
    });
}

/// Core NATS keeps nothing for a subscriber that is not there yet: publishes to `subject`
/// until the source has a record of it, so that what follows is seen.
fn until_subscribed(rt: &Runtime, client: &async_nats::Client, seen: &Mutex<Seen>, subject: &str) {
    let start = Instant::now();
    while seen.lock().unwrap().of(subject).is_empty() {
        assert!(start.elapsed() < TIMEOUT, "the source never saw {subject}");
        publish(rt, client, subject, b"0");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn subjects_become_channels_with_json_numbers_and_text() {
    let server = NatsServer::start();
    let rt = runtime();
    let seen = watch(&rt, core(&server.url, &["sensors.>", "log"]));
    let client = publisher(&rt, &server.url);
    until_subscribed(&rt, &client, &seen, "sensors.probe");

    publish(
        &rt,
        &client,
        "sensors.a",
        br#"{"temp":21.5,"ok":true,"deep":{"v":3}}"#,
    );
    publish(
        &rt,
        &client,
        "sensors.a",
        br#"{"temp":22.5,"ok":false,"deep":{"v":4}}"#,
    );
    publish(&rt, &client, "sensors.b", b"42");
    publish(&rt, &client, "sensors.b", b" -1.5e3\n");
    publish(&rt, &client, "log", b"disk full, retrying");
    publish(&rt, &client, "elsewhere", b"7");
    wait_until(&seen, "every message's records", |s| {
        s.tokens("log").len() == 4
            && s.numbers("sensors.b").len() == 2
            && s.of("sensors.a").len() == 2
    });

    let seen = seen.lock().unwrap();
    assert_eq!(seen.numbers("sensors.a.temp"), [21.5, 22.5]);
    assert_eq!(seen.numbers("sensors.a.deep.v"), [3.0, 4.0]);
    assert_eq!(seen.numbers("sensors.b"), [42.0, -1500.0]);
    assert_eq!(seen.tokens("log"), ["disk", "full", ",", "retrying"]);
    let Some(ChannelKind::Event { fields }) = seen.kind("sensors.a") else {
        panic!("sensors.a is an event channel: {:?}", seen.catalog);
    };
    assert_eq!(fields, &["temp", "ok", "deep.v"]);
    assert_eq!(seen.kind("sensors.b"), Some(&ChannelKind::Scalar));
    assert_eq!(seen.kind("log"), Some(&ChannelKind::Text));
    assert!(seen.id("elsewhere").is_none(), "not subscribed");
    // The event records carry the object's fields.
    let Value::Fields(first) = &seen.of("sensors.a")[0].value else {
        panic!("events carry fields");
    };
    assert_eq!(
        first.get("ok"),
        Some(&midstream::model::FieldValue::Bool(true))
    );
    assert!(
        seen.links
            .iter()
            .any(|l| matches!(l, LinkState::Connected { remote } if remote == &server.url)),
        "{:?}",
        seen.links
    );
}

#[test]
fn wildcards_subscribe_to_every_matching_subject() {
    let server = NatsServer::start();
    let rt = runtime();
    let seen = watch(&rt, core(&server.url, &["room.*.temp"]));
    let client = publisher(&rt, &server.url);
    until_subscribed(&rt, &client, &seen, "room.probe.temp");
    for room in ["kitchen", "hall", "attic"] {
        publish(&rt, &client, &format!("room.{room}.temp"), b"20");
    }
    publish(&rt, &client, "room.kitchen.humidity", b"50");
    publish(&rt, &client, "room.a.b.temp", b"1");
    wait_until(&seen, "the three rooms", |s| {
        ["kitchen", "hall", "attic"]
            .iter()
            .all(|r| s.numbers(&format!("room.{r}.temp")) == [20.0])
    });
    // A last message on a matching subject, so that anything before it has arrived too.
    publish(&rt, &client, "room.last.temp", b"1");
    wait_until(&seen, "the last room", |s| {
        !s.of("room.last.temp").is_empty()
    });
    let seen = seen.lock().unwrap();
    let mut names: Vec<&str> = seen.catalog.names().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "room.attic.temp",
            "room.hall.temp",
            "room.kitchen.temp",
            "room.last.temp",
            "room.probe.temp"
        ]
    );
}

#[test]
fn a_bad_payload_is_counted_and_shown_not_a_crash() {
    let server = NatsServer::start();
    let rt = runtime();
    let seen = watch(&rt, core(&server.url, &["sensors.>"]));
    let client = publisher(&rt, &server.url);
    until_subscribed(&rt, &client, &seen, "sensors.probe");
    publish(&rt, &client, "sensors.a", br#"{"temp":1}"#);
    publish(&rt, &client, "sensors.a", br#"{"temp":"#);
    publish(&rt, &client, "sensors.a", b"[1, 2]");
    publish(&rt, &client, "sensors.a", br#"{"temp":2}"#);
    wait_until(&seen, "the last good message and the report", |s| {
        s.numbers("sensors.a.temp").len() == 2
            && s.report.as_ref().is_some_and(|r| r.bad_messages == 2)
    });
    let seen = seen.lock().unwrap();
    assert_eq!(seen.numbers("sensors.a.temp"), [1.0, 2.0]);
    let report = seen.report.as_ref().unwrap();
    assert_eq!(report.first.len(), 2, "{report:?}");
    assert!(
        report.first[0].starts_with("sensors.a message 2: not a JSON object"),
        "{report:?}"
    );
    assert!(report.summary().starts_with("2 bad messages"), "{report:?}");
    assert!(
        !seen
            .links
            .iter()
            .any(|l| matches!(l, LinkState::Failed { .. })),
        "{:?}",
        seen.links
    );
}

#[test]
fn a_lost_connection_shows_and_reconnects() {
    let mut server = NatsServer::start();
    let rt = runtime();
    let seen = watch(&rt, core(&server.url, &["sensors.>"]));
    let client = publisher(&rt, &server.url);
    until_subscribed(&rt, &client, &seen, "sensors.probe");
    server.kill();
    wait_until(&seen, "the link to say it is reconnecting", |s| {
        matches!(
            s.links.last(),
            Some(LinkState::Reconnecting { reason, .. }) if reason.contains("lost the connection")
        )
    });
    server.restart();
    wait_until(&seen, "the link to be connected again", |s| {
        matches!(s.links.last(), Some(LinkState::Connected { .. }))
    });
    // Subscribed again by the client: new messages arrive.
    let client = publisher(&rt, &server.url);
    until_subscribed(&rt, &client, &seen, "sensors.after");
}

/// Makes stream `name` on `subjects` and publishes `messages` to it, each acknowledged.
fn fill_stream(
    rt: &Runtime,
    client: &async_nats::Client,
    name: &str,
    subjects: &[&str],
    messages: &[(String, Vec<u8>)],
) -> jetstream::stream::Stream {
    rt.block_on(async {
        let js = jetstream::new(client.clone());
        let stream = js
            .create_stream(jetstream::stream::Config {
                name: name.to_owned(),
                subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
                ..Default::default()
            })
            .await
            .expect("create the stream");
        for (subject, payload) in messages {
            js.publish(subject.clone(), payload.clone().into())
                .await
                .expect("publish")
                .await
                .expect("the stream has it");
        }
        stream
    })
}

#[test]
fn jetstream_replays_from_all_and_counts_removed_messages_as_a_gap() {
    let server = NatsServer::start();
    let rt = runtime();
    let client = publisher(&rt, &server.url);
    let mut messages: Vec<(String, Vec<u8>)> = (0..200)
        .map(|i| {
            (
                "sensors.a".to_owned(),
                format!("{{\"v\":{i}}}").into_bytes(),
            )
        })
        .collect();
    messages.extend((0..20).map(|i| ("other.x".to_owned(), format!("{i}").into_bytes())));
    let stream = fill_stream(
        &rt,
        &client,
        "SENSORS",
        &["sensors.>", "other.>"],
        &messages,
    );
    // Stream sequence 100 is {"v":99}: removed before anyone read it.
    assert!(rt.block_on(stream.delete_message(100)).expect("delete"));

    let seen = watch(
        &rt,
        NatsOptions {
            jetstream: Some(JetStreamOptions {
                stream: "SENSORS".to_owned(),
                from: StartPosition::All,
                durable: None,
            }),
            ..core(&server.url, &["sensors.>"])
        },
    );
    wait_until(&seen, "the stream's history", |s| {
        s.numbers("sensors.a.v").len() == 199
    });
    // Live messages follow the history.
    rt.block_on(async {
        let js = jetstream::new(client.clone());
        js.publish("sensors.a", "{\"v\":200}".into())
            .await
            .unwrap()
            .await
            .unwrap();
    });
    wait_until(&seen, "a live message", |s| {
        s.numbers("sensors.a.v").len() == 200
    });

    let seen = seen.lock().unwrap();
    let want: Vec<f64> = (0..=200).filter(|&i| i != 99).map(f64::from).collect();
    assert_eq!(seen.numbers("sensors.a.v"), want);
    assert!(
        seen.id("other.x").is_none(),
        "other.> is not a wanted subject"
    );
    // The removed message is one missing record of the event channel: 200 records whose
    // sequence numbers end at 200.
    let events: Vec<u64> = seen.of("sensors.a").iter().map(|r| r.seq).collect();
    assert_eq!(events.len(), 200);
    assert_eq!(
        events[98..100],
        [98, 100],
        "the gap is where the message was"
    );
    assert_eq!(*events.last().unwrap(), 200);
}

/// Publishes `payloads` to `subject` through JetStream, each acknowledged by the stream.
fn js_publish(rt: &Runtime, client: &async_nats::Client, subject: &str, payloads: &[String]) {
    rt.block_on(async {
        let js = jetstream::new(client.clone());
        for payload in payloads {
            js.publish(subject.to_owned(), payload.clone().into())
                .await
                .expect("publish")
                .await
                .expect("the stream has it");
        }
    });
}

#[test]
fn jetstream_resumes_after_the_server_restarts_without_a_gap() {
    let mut server = NatsServer::start();
    let rt = runtime();
    let client = publisher(&rt, &server.url);
    let first: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| {
            (
                "sensors.a".to_owned(),
                format!("{{\"v\":{i}}}").into_bytes(),
            )
        })
        .collect();
    fill_stream(&rt, &client, "SENSORS", &["sensors.>"], &first);
    let seen = watch(
        &rt,
        NatsOptions {
            jetstream: Some(JetStreamOptions {
                stream: "SENSORS".to_owned(),
                from: StartPosition::All,
                durable: Some("dashboard".to_owned()),
            }),
            ..core(&server.url, &[])
        },
    );
    wait_until(&seen, "the first 50", |s| {
        s.numbers("sensors.a.v").len() == 50
    });
    drop(client);
    server.kill();
    wait_until(&seen, "the link to say it is reconnecting", |s| {
        matches!(s.links.last(), Some(LinkState::Reconnecting { .. }))
    });
    server.restart();
    let client = publisher(&rt, &server.url);
    let more: Vec<String> = (50..100).map(|i| format!("{{\"v\":{i}}}")).collect();
    js_publish(&rt, &client, "sensors.a", &more);
    wait_until(&seen, "the 50 published after the restart", |s| {
        s.numbers("sensors.a.v").len() == 100
    });
    let seen = seen.lock().unwrap();
    let want: Vec<f64> = (0..100).map(f64::from).collect();
    assert_eq!(seen.numbers("sensors.a.v"), want);
    let events: Vec<u64> = seen.of("sensors.a").iter().map(|r| r.seq).collect();
    assert_eq!(events, (0..100).collect::<Vec<u64>>(), "no gap, no repeat");
}

#[test]
fn record_nats_then_replay_headless_accounts_for_every_record() {
    let server = NatsServer::start();
    let rt = runtime();
    let client = publisher(&rt, &server.url);
    let mut messages = Vec::new();
    for i in 0..100 {
        messages.push((
            "sensors.a".to_owned(),
            format!("{{\"v\":{i}}}").into_bytes(),
        ));
        messages.push(("sensors.b".to_owned(), format!("{}", i * 2).into_bytes()));
        messages.push(("sensors.log".to_owned(), b"all well".to_vec()));
    }
    fill_stream(&rt, &client, "S", &["sensors.>"], &messages);

    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("nats.mtr");
    let (ok, stdout, stderr) = binary::finish(
        binary::command(dir.path())
            .args(["record", &server.url, "--stream", "S", "--from", "all"])
            .args(["--subject", "sensors.>", "--duration", "10", "-o"])
            .arg(&trace),
    );
    assert!(ok, "record failed: {stderr}");
    // 100 events + 100 fields, 100 numbers, 100 × 2 tokens.
    assert!(
        stdout.starts_with("recorded 500 records"),
        "{stdout}\n{stderr}"
    );

    let (ok, report, stderr) = binary::replay_headless(dir.path(), &[], &trace);
    assert!(ok, "{stderr}");
    let mut total = 0;
    for (name, want) in [
        ("sensors.a", 100),
        ("sensors.a.v", 100),
        ("sensors.b", 100),
        ("sensors.log", 200),
    ] {
        let row: Vec<&str> = report
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name}:\n{report}"))
            .split_whitespace()
            .collect();
        assert_eq!(row[2], want.to_string(), "{name}:\n{report}");
        assert_eq!(row[3], "0", "no gaps on {name}:\n{report}");
        total += want;
    }
    assert_eq!(total, 500);
}

#[test]
fn attach_nats_in_a_terminal_shows_the_channels() {
    let server = NatsServer::start();
    let rt = runtime();
    let client = publisher(&rt, &server.url);
    let home = tempfile::tempdir().unwrap();
    let mut cmd = CommandBuilder::new(BIN);
    cmd.env("HOME", home.path());
    cmd.env("XDG_CONFIG_HOME", home.path());
    cmd.env_remove("MIDSTREAM_CONFIG");
    cmd.args(["attach", &server.url, "--subject", "sensors.>"]);
    let mut screen = Pty::spawn(cmd, 40, 140);

    // Core NATS: messages before the subscription are not kept, so keep publishing.
    let stop = Arc::new(AtomicBool::new(false));
    let publishing = {
        let stop = stop.clone();
        let client = client.clone();
        let handle = rt.handle().clone();
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let payload = format!("{{\"temp\":{}}}", 20 + i % 5);
                handle.block_on(async {
                    let _ = client.publish("sensors.kitchen", payload.into()).await;
                    let _ = client.publish("sensors.level", format!("{i}").into()).await;
                    let _ = client.flush().await;
                });
                i += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let text = screen.wait_for("the NATS channels", TIMEOUT, |t| {
        t.contains("sensors.kitchen.temp") && t.contains("sensors.level")
    });
    assert!(
        text.contains("nats://127.0.0.1"),
        "the source is named:\n{text}"
    );
    stop.store(true, Ordering::Relaxed);
    publishing.join().unwrap();
    screen.send(b"q");
    let status = screen.wait_exit("q", Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?}");
    screen.close();
}

#[test]
fn user_and_password_come_from_the_environment() {
    let server = NatsServer::start_with(&["--user", "dash", "--pass", "s3cret"]);
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("auth.mtr");
    let record = |password: &str| {
        binary::finish(
            binary::command(dir.path())
                .env("NATS_USER", "dash")
                .env("NATS_PASSWORD", password)
                .args([
                    "record",
                    &server.url,
                    "--subject",
                    "x",
                    "--duration",
                    "3",
                    "-o",
                ])
                .arg(&trace),
        )
    };
    let (ok, stdout, stderr) = record("s3cret");
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("connected to {}", server.url)),
        "{stderr}"
    );
    // A wrong password never connects: the server's refusal is the reason shown.
    let (_, _, stderr) = record("wrong");
    assert!(!stderr.contains("connected to"), "{stderr}");
    assert!(stderr.to_lowercase().contains("authorization"), "{stderr}");
}

#[test]
fn nats_and_quic_flags_are_not_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.mtr");
    let refused = |args: &[&str], says: &str| {
        let (ok, _, stderr) = binary::finish(
            binary::command(dir.path())
                .arg("record")
                .args(args)
                .arg("-o")
                .arg(&out),
        );
        assert!(!ok, "{args:?} is refused");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    };
    refused(
        &["127.0.0.1:4433", "--subject", "a"],
        "are for a NATS server",
    );
    refused(
        &["nats://127.0.0.1:1", "--subject", "a", "--insecure"],
        "are for QUIC sources",
    );
    refused(&["nats://127.0.0.1:1"], "needs --subject");
    refused(
        &["nats://127.0.0.1:1", "--subject", "a..b"],
        "not a NATS subject",
    );
    refused(
        &["nats://127.0.0.1:1", "--stream", "S", "--from", "yesterday"],
        "expected new, all",
    );
    assert!(!out.exists(), "nothing was recorded");
}
