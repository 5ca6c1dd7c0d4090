//! Headless analyzers sharing the channels over a real `nats-server -js` (`common::nats`):
//! two `analyzer` processes of one group split 20 channels, each channel analysed by exactly
//! one of them; one is killed with SIGKILL while the data flows, and within 10 s the other
//! analyses every channel, with every channel's samples complete across the hand-over (the
//! sample count of each channel's last result equals the messages published on it). The
//! logistic map's exponent in the results is checked against its known value, ln 2.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;
use midstream::model::fleet::FleetResult;

use crate::common::binary;
use crate::common::nats::NatsServer;

/// Generous: the machine is shared, and nothing here waits this long when it works.
pub const TIMEOUT: Duration = Duration::from_secs(90);

/// The bound on moving a dead analyzer's channels.
const TAKEOVER_LIMIT: Duration = Duration::from_secs(10);

pub const CHANNELS: usize = 20;

/// Messages per second per channel while publishing.
const RATE_HZ: f64 = 50.0;

/// An `analyzer` process, killed when dropped, with its output lines.
pub struct Analyzer {
    pub child: Child,
    pub name: String,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl Analyzer {
    /// The tests' `analyzer` command (group `g`, subjects `in.>`, results `res`), its output
    /// piped.
    pub fn command(home: &std::path::Path, url: &str, name: &str, extra: &[&str]) -> Command {
        let mut command = binary::command(home);
        command
            .args(["analyzer", url, "--subject", "in.>", "--results", "res"])
            .args(["--group", "g", "--name", name])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    pub fn start(home: &std::path::Path, url: &str, name: &str, extra: &[&str]) -> Analyzer {
        let mut child = Analyzer::command(home, url, name, extra)
            .spawn()
            .expect("the analyzer starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        for pipe in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Analyzer {
            child,
            name: name.to_owned(),
            lines,
        }
    }

    /// Waits until the analyzer says it runs (its stream and bucket exist then).
    pub fn wait_started(&self) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.output().contains(&format!("analyzer {}:", self.name)) {
            assert!(
                Instant::now() < deadline,
                "{} did not start:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

impl Drop for Analyzer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Results received, with when.
#[derive(Default)]
pub struct Results(pub Vec<(Instant, FleetResult)>);

impl Results {
    /// Per channel, the analyzers whose results arrived after `since`.
    pub fn analyzers_since(&self, since: Instant) -> BTreeMap<String, BTreeSet<String>> {
        let mut by_channel: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (at, r) in &self.0 {
            if *at >= since {
                by_channel
                    .entry(r.channel.clone())
                    .or_default()
                    .insert(r.analyzer.clone());
            }
        }
        by_channel
    }

    pub fn latest(&self) -> BTreeMap<String, FleetResult> {
        let mut latest = BTreeMap::new();
        for (_, r) in &self.0 {
            latest.insert(r.channel.clone(), r.clone());
        }
        latest
    }
}

/// The stream sequence numbers published per subject (from the JetStream acks).
pub type Published = Arc<Mutex<BTreeMap<String, Vec<u64>>>>;

/// Publishes the logistic map (r = 4, a starting point per channel) on `in.c00` … through
/// JetStream, noting each message's sequence number, until `stop`.
pub async fn publish(url: String, stop: Arc<AtomicBool>, published: Published) {
    let client = async_nats::connect(url)
        .await
        .expect("the publisher connects");
    let js = jetstream::new(client);
    let mut x: Vec<f64> = (0..CHANNELS).map(|i| 0.1 + 0.037 * i as f64).collect();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / RATE_HZ));
    while !stop.load(Ordering::SeqCst) {
        tick.tick().await;
        for (i, xi) in x.iter_mut().enumerate() {
            *xi = 4.0 * *xi * (1.0 - *xi);
            let subject = format!("in.c{i:02}");
            let Ok(ack) = js.publish(subject.clone(), format!("{xi}").into()).await else {
                continue;
            };
            // A message whose ack is lost is not counted (it may or may not be stored).
            if let Ok(ack) = ack.await {
                published
                    .lock()
                    .unwrap()
                    .entry(subject)
                    .or_default()
                    .push(ack.sequence);
            }
        }
    }
}

/// Collects the results on `res.>`.
pub async fn collect(url: String, results: Arc<Mutex<Results>>) {
    let client = async_nats::connect(url)
        .await
        .expect("the collector connects");
    let mut sub = client.subscribe("res.>").await.expect("subscribed");
    client.flush().await.expect("flushed");
    while let Some(message) = sub.next().await {
        let result: FleetResult = serde_json::from_slice(&message.payload).unwrap_or_else(|e| {
            panic!(
                "{}: not a result ({e}): {}",
                message.subject,
                String::from_utf8_lossy(&message.payload)
            )
        });
        assert_eq!(message.subject.as_str(), format!("res.{}", result.channel));
        results.lock().unwrap().0.push((Instant::now(), result));
    }
}

/// What an analyzer's status line says, in part.
#[derive(Debug)]
struct Status {
    held: usize,
    seen: usize,
    members: usize,
    analysed_per_s: f64,
}

/// The last status line of an analyzer's output (`status 10s: 10 subjects held of 20 seen, 2
/// members; read 1000 msg/s, analysed 500 msg/s (500 records/s), ...`).
fn last_status(output: &str) -> Option<Status> {
    let line = output.lines().rev().find(|l| l.starts_with("status "))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |word: &str| {
        let i = words.iter().position(|w| *w == word)?;
        words.get(i + 1).copied()
    };
    let before = |word: &str| {
        let i = words
            .iter()
            .position(|w| w.trim_end_matches([',', ';']) == word)?;
        words.get(i.checked_sub(1)?).copied()
    };
    Some(Status {
        held: before("subjects")?.parse().ok()?,
        seen: after("of")?.parse().ok()?,
        members: before("members")?.parse().ok()?,
        analysed_per_s: after("analysed")?.parse().ok()?,
    })
}

/// Stops the publisher, then waits until each channel's last result is of the last message
/// published on it: what was published per subject, and the last results.
fn stop_and_catch_up(
    runtime: &tokio::runtime::Runtime,
    stop: &AtomicBool,
    publisher: tokio::task::JoinHandle<()>,
    published: &Published,
    results: &Mutex<Results>,
    logs: impl Fn() -> String,
) -> (BTreeMap<String, Vec<u64>>, BTreeMap<String, FleetResult>) {
    stop.store(true, Ordering::SeqCst);
    runtime.block_on(publisher).expect("the publisher ends");
    let published = published.lock().unwrap().clone();
    assert_eq!(published.len(), CHANNELS);
    let caught_up = |results: &Results| {
        let latest = results.latest();
        published.iter().all(|(subject, seqs)| {
            latest
                .get(subject)
                .is_some_and(|r| Some(&r.stream_seq) == seqs.last())
        })
    };
    assert!(
        wait_for(TIMEOUT, || caught_up(&results.lock().unwrap())),
        "results did not reach the last messages\n{}",
        logs()
    );
    let latest = results.lock().unwrap().latest();
    (published, latest)
}

/// The tests' runtime for the publisher and the collector: two workers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Polls `condition` every 100 ms until it holds or `limit` passes; whether it held.
pub fn wait_for(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn two_analyzers_split_the_channels_and_one_takes_all_when_the_other_is_killed() {
    let server = NatsServer::start();
    let home = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let mut a1 = Analyzer::start(home.path(), &server.url, "a1", &[]);
    let mut a2 = Analyzer::start(home.path(), &server.url, "a2", &[]);
    a1.wait_started();
    a2.wait_started();
    let results = Arc::new(Mutex::new(Results::default()));
    let published: Published = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    runtime.spawn(collect(server.url.clone(), results.clone()));
    let publisher = runtime.spawn(publish(server.url.clone(), stop.clone(), published.clone()));
    let logs = || format!("a1:\n{}\n\na2:\n{}", a1.output(), a2.output());

    // 1. Every channel on exactly one analyzer, both with a share: for the results of the
    // last 3 s, each channel has one analyzer, and both analyzers appear.
    let window = Duration::from_secs(3);
    let split = |results: &Results| {
        let since = Instant::now() - window;
        let by_channel = results.analyzers_since(since);
        let analyzers: BTreeSet<&String> = by_channel.values().flatten().collect();
        by_channel.len() == CHANNELS
            && by_channel.values().all(|a| a.len() == 1)
            && analyzers.len() == 2
    };
    assert!(
        wait_for(TIMEOUT, || split(&results.lock().unwrap())),
        "the channels were not split between the two analyzers: {:?}\n{}",
        results
            .lock()
            .unwrap()
            .analyzers_since(Instant::now() - window),
        logs()
    );
    // And it stays so.
    std::thread::sleep(window);
    {
        let results = results.lock().unwrap();
        let by_channel = results.analyzers_since(Instant::now() - window);
        assert_eq!(by_channel.len(), CHANNELS, "{by_channel:?}");
        for (channel, analyzers) in &by_channel {
            assert_eq!(analyzers.len(), 1, "{channel} on {analyzers:?}\n{}", logs());
        }
    }
    // Their status lines (every 5 s) agree: 20 subjects seen, two members, the subjects
    // split between them, and both analysing.
    let agreed = || {
        let (Some(s1), Some(s2)) = (last_status(&a1.output()), last_status(&a2.output())) else {
            return false;
        };
        s1.held + s2.held == CHANNELS
            && [s1, s2]
                .iter()
                .all(|s| s.seen == CHANNELS && s.members == 2 && s.analysed_per_s > 0.0)
    };
    assert!(wait_for(TIMEOUT, agreed), "{}", logs());
    let held_by_a1: BTreeSet<String> = results
        .lock()
        .unwrap()
        .analyzers_since(Instant::now() - window)
        .into_iter()
        .filter(|(_, a)| a.contains("a1"))
        .map(|(c, _)| c)
        .collect();
    assert!(!held_by_a1.is_empty());

    // 2. SIGKILL a1 while the data flows: within 10 s a2 analyses every channel.
    a1.child.kill().expect("SIGKILL");
    let _ = a1.child.wait();
    let killed = Instant::now();
    let all_on_a2 = |results: &Results| {
        let by_channel = results.analyzers_since(killed + Duration::from_millis(1500));
        by_channel.len() == CHANNELS
            && by_channel
                .values()
                .all(|a| a.len() == 1 && a.contains("a2"))
    };
    let taken = wait_for(TAKEOVER_LIMIT, || all_on_a2(&results.lock().unwrap()));
    let took = killed.elapsed();
    assert!(
        taken,
        "a2 did not analyse every channel within {TAKEOVER_LIMIT:?} of a1's death: {:?}\n{}",
        results.lock().unwrap().analyzers_since(killed),
        a2.output()
    );
    eprintln!(
        "a2 had every channel {:.1} s after a1 was killed",
        took.as_secs_f64()
    );

    // Long enough for the exponent's check below (1,000 samples at 50 a second).
    assert!(wait_for(TIMEOUT, || {
        let latest = results.lock().unwrap().latest();
        latest.values().all(|r| r.samples >= 1100)
    }));

    // 3. Complete and in order across the hand-over: once the publisher stops, each channel's
    // last result counts every message published on it, up to its last one.
    let (published, latest) =
        stop_and_catch_up(&runtime, &stop, publisher, &published, &results, || {
            a2.output()
        });
    for (subject, seqs) in &published {
        let result = &latest[subject];
        assert_eq!(result.analyzer, "a2");
        assert_eq!(
            result.samples,
            seqs.len() as u64,
            "{subject}: samples analysed vs messages published (held by a1 first: {})",
            held_by_a1.contains(subject)
        );
    }
    // Hand-overs said where they went on from.
    assert!(
        a2.output().contains("claimed in.c") && a2.output().contains("from a1"),
        "{}",
        a2.output()
    );

    // 4. The logistic map at r = 4 has λ = ln 2 per sample (its density is known in closed
    // form; e.g. Ott, Chaos in Dynamical Systems, 2002, §2.3). The channels a2 held from the
    // start (1,100 samples and more) say so within the engine's tolerance for it.
    let lambdas: Vec<f64> = latest
        .values()
        .filter(|r| !held_by_a1.contains(&r.channel))
        .filter_map(|r| r.lyapunov)
        .collect();
    assert!(!lambdas.is_empty(), "no exponent in {latest:?}");
    for lambda in lambdas {
        assert!(
            (lambda - std::f64::consts::LN_2).abs() < 0.15,
            "λ {lambda} vs ln 2"
        );
    }
    assert!(
        latest
            .values()
            .any(|r| r.class.as_deref() == Some("chaotic")),
        "{latest:?}"
    );

    // 5. Ctrl-C (SIGINT) stops an analyzer: it releases its leases and exits cleanly.
    // SAFETY: kill(2) on our own child's pid.
    let sent = unsafe { libc::kill(a2.child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0, "kill -INT");
    let exited = wait_for(Duration::from_secs(20), || {
        matches!(a2.child.try_wait(), Ok(Some(_)))
    });
    assert!(exited, "a2 still runs 20 s after SIGINT\n{}", a2.output());
    let status = a2.child.wait().expect("status");
    assert!(status.success(), "{status:?}\n{}", a2.output());
}

/// The real binary against a real server in a terminal: an analyzer's results fill the Fleet
/// pane of `attach --results`, and a message on the results' subjects that is not a result
/// is counted in the title, not a crash.
#[test]
fn attach_results_shows_the_fleet_in_a_terminal() {
    use portable_pty::CommandBuilder;

    use crate::common::pty::Pty;

    let server = NatsServer::start();
    let home = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let analyzer = Analyzer::start(home.path(), &server.url, "solo", &[]);
    analyzer.wait_started();
    let mut cmd = CommandBuilder::new(binary::BIN);
    cmd.env("HOME", home.path());
    cmd.env("XDG_CONFIG_HOME", home.path());
    cmd.env_remove("MIDSTREAM_CONFIG");
    cmd.args(["attach", &server.url, "--results", "res"]);
    let mut screen = Pty::spawn(cmd, 40, 140);
    screen.wait_for("the empty Fleet pane", TIMEOUT, |t| {
        t.contains("Fleet") && t.contains("no results yet on res.>")
    });
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = runtime.spawn(publish(server.url.clone(), stop.clone(), Arc::default()));
    let text = screen.wait_for("every channel's row", TIMEOUT, |t| {
        (0..CHANNELS).all(|i| t.contains(&format!("in.c{i:02}"))) && t.contains("solo")
    });
    assert!(text.contains("20 channels"), "{text}");
    runtime.block_on(async {
        let client = async_nats::connect(server.url.clone()).await.unwrap();
        client
            .publish("res.bogus", "{\"channel\": 7}".into())
            .await
            .unwrap();
        client.flush().await.unwrap();
    });
    screen.wait_for("the bad result counted", TIMEOUT, |t| t.contains("1 bad"));
    stop.store(true, Ordering::SeqCst);
    let _ = runtime.block_on(publisher);
    screen.send(b"q");
    let status = screen.wait_exit("q", Duration::from_secs(20));
    assert!(status.success(), "exit status {status:?}");
    screen.close();
}

/// Messages per subject that the group's stream holds, read back from the stream itself.
async fn stored_per_subject(url: &str) -> BTreeMap<String, u64> {
    let client = async_nats::connect(url).await.expect("connects");
    let js = jetstream::new(client);
    // After a cluster node is killed the stream may still be electing a leader: JetStream
    // answers requests only then, so each step is retried until TIMEOUT.
    let deadline = std::time::Instant::now() + TIMEOUT;
    let consumer = loop {
        let attempt = async {
            js.get_stream("MIDSTREAM_g")
                .await
                .map_err(|e| e.to_string())?
                .create_consumer(jetstream::consumer::pull::OrderedConfig {
                    deliver_policy: jetstream::consumer::DeliverPolicy::All,
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())
        };
        match attempt.await {
            Ok(consumer) => break consumer,
            Err(e) if std::time::Instant::now() < deadline => {
                eprintln!("the group's stream is not ready yet ({e}); trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => panic!("no consumer on the group's stream within {TIMEOUT:?}: {e}"),
        }
    };
    let mut messages = consumer.messages().await.expect("messages");
    let mut counts = BTreeMap::new();
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_secs(5), messages.next()).await
    {
        *counts.entry(message.subject.to_string()).or_insert(0) += 1;
        if message.info().is_ok_and(|i| i.pending == 0) {
            break;
        }
    }
    counts
}

/// A three-node JetStream cluster with the stream and the lease bucket on all three nodes
/// (`--replicas 3`): the node both analyzers are connected to is killed (SIGKILL) while the
/// data flows; the analyzers reconnect to the others, and every channel is again analysed by
/// exactly one of them, complete (each channel's sample count is the messages the stream
/// holds for it).
#[test]
fn analyzers_survive_the_loss_of_a_cluster_node() {
    use crate::common::nats_cluster::NatsCluster;

    let mut cluster = NatsCluster::start();
    let home = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let replicas = ["--replicas", "3"];
    let a1 = Analyzer::start(home.path(), &cluster.urls[0], "a1", &replicas);
    let a2 = Analyzer::start(home.path(), &cluster.urls[0], "a2", &replicas);
    a1.wait_started();
    a2.wait_started();
    let logs = || format!("a1:\n{}\n\na2:\n{}", a1.output(), a2.output());
    let results = Arc::new(Mutex::new(Results::default()));
    let stop = Arc::new(AtomicBool::new(false));
    runtime.spawn(collect(cluster.urls[2].clone(), results.clone()));
    let publisher = runtime.spawn(publish(
        cluster.urls[1].clone(),
        stop.clone(),
        Arc::default(),
    ));
    let window = Duration::from_secs(3);
    let all_analysed_once = |results: &Results, since: Instant| {
        let by_channel = results.analyzers_since(since);
        by_channel.len() == CHANNELS && by_channel.values().all(|a| a.len() == 1)
    };
    assert!(
        wait_for(TIMEOUT, || all_analysed_once(
            &results.lock().unwrap(),
            Instant::now() - window
        )),
        "no steady split before the node's loss\n{}",
        logs()
    );
    cluster.kill(0);
    let killed = Instant::now();
    // After the fail-over (reconnection, a new stream leader, leases renewed or moved), every
    // channel is analysed again, each by one analyzer.
    assert!(
        wait_for(TIMEOUT, || {
            let now = Instant::now();
            now > killed + window
                && all_analysed_once(&results.lock().unwrap(), (now - window).max(killed))
        }),
        "the channels were not analysed again after the node's loss: {:?}\n{}",
        results.lock().unwrap().analyzers_since(killed),
        logs()
    );
    eprintln!(
        "every channel analysed again {:.1} s after the node was killed",
        killed.elapsed().as_secs_f64()
    );
    stop.store(true, Ordering::SeqCst);
    runtime.block_on(publisher).expect("the publisher ends");
    let stored = runtime.block_on(stored_per_subject(&cluster.urls[1]));
    assert_eq!(stored.len(), CHANNELS, "{stored:?}");
    let complete = |results: &Results| {
        let latest = results.latest();
        stored
            .iter()
            .all(|(subject, n)| latest.get(subject).is_some_and(|r| r.samples == *n))
    };
    assert!(
        wait_for(TIMEOUT, || complete(&results.lock().unwrap())),
        "samples analysed vs messages stored: {:?} vs {stored:?}\n{}",
        results
            .lock()
            .unwrap()
            .latest()
            .values()
            .map(|r| (r.channel.clone(), r.samples))
            .collect::<Vec<_>>(),
        logs()
    );
}

/// `analyzer tls://... --ca FILE` against a real `nats-server` serving TLS with a certificate
/// signed by a test CA: with the CA it connects and runs (and analyses what arrives); without
/// it the server's certificate is refused and the analyzer exits with an error naming the
/// address; a missing CA file is named before connecting.
#[test]
fn analyzer_trusts_a_ca_file_for_tls() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "analyzer test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let cert_file = dir.path().join("server.pem");
    let key_file = dir.path().join("server.key");
    std::fs::write(&cert_file, leaf.pem()).unwrap();
    std::fs::write(&key_file, leaf_key.serialize_pem()).unwrap();
    let server = NatsServer::start_with(&[
        "--tls",
        "--tlscert",
        cert_file.to_str().unwrap(),
        "--tlskey",
        key_file.to_str().unwrap(),
    ]);
    let tls_url = format!("tls://127.0.0.1:{}", server.port);
    let home = tempfile::tempdir().unwrap();

    let mut trusted = Analyzer::start(
        home.path(),
        &tls_url,
        "tls",
        &["--ca", ca_file.to_str().unwrap()],
    );
    trusted.wait_started();

    // Without the CA: refused, and said so.
    let mut untrusted = Analyzer::start(home.path(), &tls_url, "untrusted", &[]);
    let status = wait_exit(&mut untrusted.child);
    assert!(!status.success(), "{}", untrusted.output());
    assert!(
        wait_for(TIMEOUT, || untrusted
            .output()
            .contains(&format!("cannot connect to {tls_url}"))),
        "{}",
        untrusted.output()
    );

    // A CA file that is not there: named before connecting.
    let missing = dir.path().join("missing.pem");
    let mut absent = Analyzer::start(
        home.path(),
        &tls_url,
        "absent",
        &["--ca", missing.to_str().unwrap()],
    );
    let status = wait_exit(&mut absent.child);
    assert!(!status.success(), "{}", absent.output());
    assert!(
        wait_for(TIMEOUT, || absent
            .output()
            .contains(&format!("--ca {}", missing.display()))),
        "{}",
        absent.output()
    );
    // The trusted one is still running.
    assert!(
        trusted.child.try_wait().unwrap().is_none(),
        "{}",
        trusted.output()
    );
}

/// An analyzer whose stdout has gone (`analyzer | head`, or `| tee` stopped by Ctrl-C) stops
/// as on SIGINT: it releases its leases, so the next analyzer claims every channel "from
/// released" at once (not from it, after the leases' expiry), and it exits with an error that
/// names the failed write.
#[test]
fn an_analyzer_whose_stdout_has_gone_releases_its_leases_and_says_why() {
    let server = NatsServer::start();
    let home = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let mut a1 = Analyzer::command(home.path(), &server.url, "a1", &[])
        .spawn()
        .expect("the analyzer starts");
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = a1.stderr.take().expect("stderr");
    let errors = stderr.clone();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        *errors.lock().unwrap() = text;
    });
    // Its stdout is read until it holds every channel, then closed.
    let stdout = BufReader::new(a1.stdout.take().expect("stdout"));
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = lines.clone();
    let reader = std::thread::spawn(move || {
        let mut claimed = BTreeSet::new();
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            if let Some(subject) = line.strip_prefix("claimed ") {
                claimed.insert(subject.split_whitespace().next().unwrap_or("").to_owned());
            }
            seen.lock().unwrap().push(line);
            if claimed.len() == CHANNELS {
                break;
            }
        }
        // The pipe's read end is dropped here.
    });
    let stop = Arc::new(AtomicBool::new(false));
    let published: Published = Arc::default();
    assert!(
        wait_for(TIMEOUT, || lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.starts_with("analyzer a1:"))),
        "a1 did not start: {}",
        stderr.lock().unwrap()
    );
    let publisher = runtime.spawn(publish(server.url.clone(), stop.clone(), published));
    assert!(
        wait_for(TIMEOUT, || reader.is_finished()),
        "a1 did not claim every channel:\n{}",
        lines.lock().unwrap().join("\n")
    );
    let closed = Instant::now();

    // Its next line (the status line, every 5 s) fails: it stops.
    let status = wait_exit(&mut a1);
    let stopped_after = closed.elapsed();
    assert!(!status.success(), "{status:?}");
    assert!(
        wait_for(Duration::from_secs(5), || stderr
            .lock()
            .unwrap()
            .contains("cannot write output: Broken pipe")),
        "{}",
        stderr.lock().unwrap()
    );

    // Its leases were released: the next analyzer takes every channel from nobody.
    let a2 = Analyzer::start(home.path(), &server.url, "a2", &[]);
    assert!(
        wait_for(TIMEOUT, || claims(&a2.output()).len() >= CHANNELS),
        "{}",
        a2.output()
    );
    let claims = claims(&a2.output());
    assert!(
        claims.iter().all(|l| l.contains(" from released at seq ")),
        "{claims:#?}"
    );
    stop.store(true, Ordering::SeqCst);
    runtime.block_on(publisher).expect("the publisher ends");
    eprintln!("a1 stopped {stopped_after:?} after its stdout was closed");
}

/// Two analyzers after a hand-over: `a1` held every channel, `a2` joined and took its share;
/// the publisher has stopped and the results reached its last messages.
struct Joined {
    a1: Analyzer,
    a2: Analyzer,
    /// `a2`'s claim lines.
    handed_over: Vec<String>,
    published: BTreeMap<String, Vec<u64>>,
    latest: BTreeMap<String, FleetResult>,
}

impl Joined {
    fn logs(&self) -> String {
        format!("a1:\n{}\n\na2:\n{}", self.a1.output(), self.a2.output())
    }
}

/// The claim lines of an analyzer's output.
fn claims(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| l.starts_with("claimed "))
        .map(str::to_owned)
        .collect()
}

/// `a1` alone until it holds every channel, two seconds of data, then `a2` (with `a2_args`)
/// joins and `a1` releases half the channels to it; two seconds more, and the publisher stops.
fn a_second_analyzer_joins(server: &NatsServer, a2_args: &[&str]) -> Joined {
    let home = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let a1 = Analyzer::start(home.path(), &server.url, "a1", &[]);
    a1.wait_started();
    let results = Arc::new(Mutex::new(Results::default()));
    let published: Published = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    runtime.spawn(collect(server.url.clone(), results.clone()));
    let publisher = runtime.spawn(publish(server.url.clone(), stop.clone(), published.clone()));
    assert!(
        wait_for(TIMEOUT, || claims(&a1.output()).len() == CHANNELS),
        "{}",
        a1.output()
    );
    std::thread::sleep(Duration::from_secs(2));
    let a2 = Analyzer::start(home.path(), &server.url, "a2", a2_args);
    let logs = || format!("a1:\n{}\n\na2:\n{}", a1.output(), a2.output());
    assert!(
        wait_for(TIMEOUT, || claims(&a2.output()).len() >= CHANNELS / 2),
        "a2 did not take its share\n{}",
        logs()
    );
    std::thread::sleep(Duration::from_secs(2));
    let (published, latest) =
        stop_and_catch_up(&runtime, &stop, publisher, &published, &results, logs);
    let handed_over = claims(&a2.output());
    assert!(!handed_over.is_empty());
    Joined {
        a1,
        a2,
        handed_over,
        published,
        latest,
    }
}

/// A stream that takes no more consumers (an operator's `max_consumers`, here 2: the two
/// analyzers' own readings) still hands channels over complete: the new holder gets the
/// subject's messages one by one by direct get, says so in its claim lines, and every channel's
/// samples still count every message published on it.
#[test]
fn a_hand_over_on_a_stream_that_takes_no_more_consumers_backfills_by_direct_get() {
    let server = NatsServer::start();
    // The group's stream made beforehand, as an operator would, with room for two consumers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = async_nats::connect(&server.url).await.expect("connects");
        jetstream::new(client)
            .create_stream(jetstream::stream::Config {
                name: "MIDSTREAM_g".to_owned(),
                subjects: vec!["in.>".to_owned()],
                max_consumers: 2,
                allow_direct: true,
                ..Default::default()
            })
            .await
            .expect("the stream is made");
    });
    let joined = a_second_analyzer_joins(&server, &[]);
    for line in &joined.handed_over {
        assert!(
            line.contains(" from released at seq ")
                && line.contains(" by direct get (no consumer: ")
                && !line.contains(" 0 messages backfilled"),
            "{line}\n{}",
            joined.logs()
        );
    }
    // Complete across the hand-over: each channel's last result counts every message
    // published on it.
    let mut on_a2 = 0;
    for (subject, seqs) in &joined.published {
        let result = &joined.latest[subject];
        on_a2 += usize::from(result.analyzer == "a2");
        assert_eq!(
            result.samples,
            seqs.len() as u64,
            "{subject} on {}",
            result.analyzer
        );
    }
    assert_eq!(on_a2, joined.handed_over.len(), "{}", joined.logs());
    eprintln!("{}", joined.handed_over.join("\n"));
}

/// `--backfill-limit N`: a hand-over reads back at most N messages of a subject; the claim's
/// line names the stream sequence numbers it skipped, and the channel's samples lack exactly
/// the messages published on it in that range.
#[test]
fn the_backfill_limit_bounds_a_hand_over_and_names_what_it_skipped() {
    const LIMIT: u64 = 10;
    let server = NatsServer::start();
    let joined = a_second_analyzer_joins(&server, &["--backfill-limit", &LIMIT.to_string()]);
    let mut skipped_somewhere = false;
    for line in &joined.handed_over {
        // claimed in.c12 from released at seq 3753, 10 messages backfilled; the backfill limit
        // (10) reached: its messages from seq 3764 to 3999 skipped
        let words: Vec<&str> = line.split_whitespace().collect();
        let subject = words[1];
        let backfilled: u64 = words[words.iter().position(|w| *w == "messages").unwrap() - 1]
            .parse()
            .unwrap();
        assert!(backfilled <= LIMIT, "{line}");
        let skipped = line.find("; the backfill limit (10) reached: its messages from seq ");
        let missing = match skipped {
            None => 0,
            Some(_) => {
                skipped_somewhere = true;
                assert_eq!(backfilled, LIMIT, "{line}");
                let to = words.iter().position(|w| *w == "to").unwrap();
                let first: u64 = words[to - 1].parse().unwrap();
                let last: u64 = words[to + 1].parse().unwrap();
                assert!(first <= last, "{line}");
                joined.published[subject]
                    .iter()
                    .filter(|seq| (first..=last).contains(*seq))
                    .count() as u64
            }
        };
        let result = &joined.latest[subject];
        assert_eq!(result.analyzer, "a2", "{line}");
        assert_eq!(
            result.samples,
            joined.published[subject].len() as u64 - missing,
            "{line}\n{}",
            joined.logs()
        );
    }
    // a2 joined two seconds into the data (50 messages a second a subject), so the messages
    // since a1's last renewal are more than 10 on some subject.
    assert!(skipped_somewhere, "{}", joined.logs());
    eprintln!("{}", joined.handed_over.join("\n"));
}

/// Waits (up to [`TIMEOUT`]) for a process to exit.
fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("the process can be waited for") {
            return status;
        }
        assert!(Instant::now() < deadline, "the process did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}
