//! Records per second from a NATS server into the pipeline, for 1, 100 and 1,000 subjects.
//!
//! Starts `nats-server -js` on a free loopback port (it must be installed:
//! `apt-get install -y nats-server`), then for each subject count:
//!
//! - **core**: a publisher on the same machine sends JSON objects `{"v":i}` (two records each:
//!   the event and the field) round-robin over the subjects as fast as it can, while
//!   `attach`'s session (NATS source + pipeline, no engines) takes them. Core NATS drops
//!   what a slow subscriber cannot take, so the messages received are reported too.
//! - **jetstream**: the same messages are first stored in a stream, then read from the start
//!   (`--stream S --from all`): nothing is dropped, the rate is the source's and the
//!   pipeline's alone.
//!
//! `cargo run --release --example nats_rate -- [MESSAGES]` (default 200,000 per run).

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use midstream::session::{Session, SessionOptions, SessionSource};
use midstream::sources::nats::{
    JetStreamOptions, NatsAuth, NatsOptions, NatsSource, StartPosition,
};

/// Longest a run may take before it is reported as incomplete.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// A core run ends when no record came for this long (what was dropped never comes).
const QUIET_END: Duration = Duration::from_secs(2);

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server(store: &std::path::Path) -> anyhow::Result<(Server, String)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            anyhow::anyhow!("cannot run nats-server ({e}); apt-get install -y nats-server")
        })?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stderr"))?;
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("Server is ready") => break,
            Some(Ok(_)) => {}
            _ => anyhow::bail!("nats-server ended before it was ready"),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Ok((Server(child), format!("nats://127.0.0.1:{port}")))
}

fn options(url: &str, stream: Option<&str>) -> NatsOptions {
    NatsOptions {
        url: url.to_owned(),
        subjects: vec!["bench.>".to_owned()],
        jetstream: stream.map(|s| JetStreamOptions {
            stream: s.to_owned(),
            from: StartPosition::All,
            durable: None,
        }),
        auth: NatsAuth::default(),
        ca: None,
        echo_problems: false,
    }
}

fn received(session: &Session) -> u64 {
    session
        .snapshots
        .borrow()
        .channels
        .iter()
        .map(|c| c.received)
        .sum()
}

/// Waits until `want` records arrived, or (when `quiet_end`) none came for [`QUIET_END`].
/// Returns the records and the time from `start` to the last one.
async fn take(session: &Session, start: Instant, want: u64, quiet_end: bool) -> (u64, Duration) {
    let mut last = (0, start.elapsed());
    loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = received(session);
        if now != last.0 {
            last = (now, start.elapsed());
        }
        if now >= want
            || (quiet_end && start.elapsed() - last.1 > QUIET_END)
            || start.elapsed() > RUN_LIMIT
        {
            return last;
        }
    }
}

fn subject(i: usize, subjects: usize) -> String {
    format!("bench.s{}", i % subjects)
}

async fn core_run(url: &str, subjects: usize, messages: usize) -> anyhow::Result<()> {
    let session = Session::start(
        SessionSource::Nats(NatsSource::new(options(url, None))?),
        SessionOptions::new("bench"),
    )?;
    let client = async_nats::connect(url).await?;
    // Until the source's subscription is in place (core NATS keeps nothing for it before).
    while received(&session) == 0 {
        client.publish("bench.ready", "0".into()).await?;
        client.flush().await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = received(&session);
    let start = Instant::now();
    for i in 0..messages {
        client
            .publish(subject(i, subjects), format!("{{\"v\":{i}}}").into())
            .await?;
    }
    client.flush().await?;
    let published_s = start.elapsed().as_secs_f64();
    let want = before + 2 * messages as u64;
    let (got, took) = take(&session, start, want, true).await;
    let records = got - before;
    println!(
        "core       {subjects:>5} subjects: {records:>8} of {:>8} records in {:>6.2} s = {:>9.0} records/s ({:.0} messages/s published)",
        2 * messages,
        took.as_secs_f64(),
        records as f64 / took.as_secs_f64(),
        messages as f64 / published_s
    );
    session.finish().await?;
    Ok(())
}

async fn jetstream_run(url: &str, subjects: usize, messages: usize) -> anyhow::Result<()> {
    let client = async_nats::connect(url).await?;
    let js = jetstream::new(client.clone());
    let name = format!("BENCH{subjects}");
    let _ = js.delete_stream(&name).await;
    js.create_stream(jetstream::stream::Config {
        name: name.clone(),
        subjects: vec!["bench.>".to_owned()],
        ..Default::default()
    })
    .await?;
    // Acknowledged in windows, so that storing is not one round trip per message.
    let mut acks = Vec::with_capacity(1024);
    for i in 0..messages {
        acks.push(
            js.publish(subject(i, subjects), format!("{{\"v\":{i}}}").into())
                .await?,
        );
        if acks.len() == 1024 {
            for ack in acks.drain(..) {
                ack.await?;
            }
        }
    }
    for ack in acks.drain(..) {
        ack.await?;
    }
    let start = Instant::now();
    let session = Session::start(
        SessionSource::Nats(NatsSource::new(options(url, Some(&name)))?),
        SessionOptions::new("bench"),
    )?;
    let want = 2 * messages as u64;
    let (got, took) = take(&session, start, want, false).await;
    println!(
        "jetstream  {subjects:>5} subjects: {got:>8} of {want:>8} records in {:>6.2} s = {:>9.0} records/s",
        took.as_secs_f64(),
        got as f64 / took.as_secs_f64()
    );
    session.finish().await?;
    js.delete_stream(&name).await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let messages: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 200_000,
    };
    let store = tempfile::tempdir()?;
    let (_server, url) = start_server(store.path())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "{messages} messages {{\"v\":i}} per run (2 records each), server and publisher on this machine"
    );
    runtime.block_on(async {
        for subjects in [1, 100, 1000] {
            core_run(&url, subjects, messages).await?;
        }
        for subjects in [1, 100, 1000] {
            jetstream_run(&url, subjects, messages).await?;
        }
        anyhow::Ok(())
    })
}
