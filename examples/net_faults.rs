//! Throughput and RTT of the QUIC transport through a faulty network: the test suite's UDP relay
//! on 127.0.0.1 (`tests/common/relay.rs`) between a server and a client, with no fault (the
//! baseline of the same run), 1 % and 5 % loss and 20 ms ± 10 ms of delay, both ways.
//!
//! The server streams the `sine` generator as fast as the client takes it
//! (`Pacing::AsFastAsPossible`, which never skips a record: a jump in `seq` would be a loss and
//! stops the run), so the rate is what the path and the machine allow. Each scenario runs on a
//! fresh server, relay and client: 1 s of warm-up, then `SECONDS` measured. It prints records/s,
//! MB/s on the wire (UDP payload from the server through the relay) and the RTT the client
//! reports (its `Rtt` events, every 100 ms: the median and the largest), each with its ratio to
//! the baseline of the same round.
//!
//! `cargo run --release --example net_faults [-- SECONDS [ROUNDS]]` (default 4 s, 1 round).

#[path = "../tests/common/relay.rs"]
#[allow(dead_code)]
mod relay;

use std::time::{Duration, Instant};

use midstream::sources::DemoSource;
use midstream::transport::client::{ClientConfig, TransportEvent, connect};
use midstream::transport::server::{Pacing, Server, ServerConfig};
use midstream::transport::tls::Trust;
use relay::{FaultPlan, Faults, Relay, RelayStats};

const WARM_UP: Duration = Duration::from_secs(1);
const SEED: u64 = 13;

struct Measured {
    records: u64,
    wire_bytes: u64,
    elapsed: Duration,
    rtts: Vec<Duration>,
    stats: RelayStats,
}

impl Measured {
    fn records_per_s(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64()
    }
    fn mb_per_s(&self) -> f64 {
        self.wire_bytes as f64 / self.elapsed.as_secs_f64() / 1e6
    }
    fn rtt_median(&self) -> Duration {
        let mut rtts = self.rtts.clone();
        rtts.sort();
        rtts.get(rtts.len() / 2).copied().unwrap_or_default()
    }
    fn rtt_max(&self) -> Duration {
        self.rtts.iter().max().copied().unwrap_or_default()
    }
}

async fn measure(plan: FaultPlan, seconds: Duration) -> Measured {
    let source = DemoSource::new(&["sine".to_owned()], 1)
        .expect("sine")
        .with_rate(1_000_000.0)
        .expect("rate");
    let mut config = ServerConfig::new("127.0.0.1:0".parse().expect("address"), source);
    config.pacing = Pacing::AsFastAsPossible;
    let (mut server, info) = Server::bind(config).expect("server binds");
    let shutdown = server.shutdown_handle();
    let _events = server.take_events();
    let serving = tokio::spawn(server.run());
    let relay = Relay::start_with(info.addr, plan);
    let mut client_config =
        ClientConfig::new(relay.addr().to_string(), Trust::Pin(info.fingerprint));
    client_config.rtt_interval = Duration::from_millis(100);
    let mut client = connect(client_config).expect("client starts");

    let begun = Instant::now();
    let mut measuring: Option<(Instant, u64)> = None;
    let mut records = 0;
    let mut next_seq: Option<u64> = None;
    let mut rtts = Vec::new();
    loop {
        if measuring.is_none() && begun.elapsed() >= WARM_UP && next_seq.is_some() {
            measuring = Some((Instant::now(), relay.stats().to_client.bytes));
            records = 0;
            rtts.clear();
        }
        if let Some((at, _)) = measuring
            && at.elapsed() >= seconds
        {
            break;
        }
        let event = tokio::time::timeout(Duration::from_secs(20), client.recv())
            .await
            .expect("an event within 20 s")
            .expect("the client runs");
        match event {
            TransportEvent::Records(batch) => {
                let first = batch[0].seq;
                assert!(
                    next_seq.is_none_or(|s| s == first),
                    "{plan:?}: records lost before seq {first}"
                );
                next_seq = Some(first + batch.len() as u64);
                records += batch.len() as u64;
            }
            TransportEvent::Rtt(rtt) => rtts.push(rtt),
            TransportEvent::Connected { .. } if next_seq.is_none() => {}
            other => panic!("{plan:?}: {other:?}"),
        }
    }
    let (at, bytes_before) = measuring.expect("measured");
    let elapsed = at.elapsed();
    let stats = relay.stats();
    drop(client);
    shutdown.shutdown();
    let _ = serving.await;
    Measured {
        records,
        wire_bytes: stats.to_client.bytes - bytes_before,
        elapsed,
        rtts,
        stats,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds = Duration::from_secs_f64(args.next().map_or(4.0, |s| s.parse().expect("SECONDS")));
    let rounds: u32 = args.next().map_or(1, |s| s.parse().expect("ROUNDS"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let jitter = Faults::delay(Duration::from_millis(20), Duration::from_millis(10));
    let scenarios = [
        ("no fault", FaultPlan::default()),
        ("1% loss", FaultPlan::both(Faults::loss(0.01), SEED)),
        ("5% loss", FaultPlan::both(Faults::loss(0.05), SEED)),
        ("20±10 ms", FaultPlan::both(jitter, SEED)),
    ];
    println!(
        "{:<6} {:<10} {:>11} {:>7} {:>8} {:>7} {:>9} {:>9} {:>7}  relay (to client: lost/reordered)",
        "round", "fault", "records/s", "ratio", "MB/s", "ratio", "RTT med", "RTT max", "ratio"
    );
    for round in 1..=rounds {
        let mut baseline: Option<(f64, f64, Duration)> = None;
        for (name, plan) in scenarios {
            let m = runtime.block_on(measure(plan, seconds));
            let (rate, mb, rtt) = (m.records_per_s(), m.mb_per_s(), m.rtt_median());
            let (base_rate, base_mb, base_rtt) = *baseline.get_or_insert((rate, mb, rtt));
            println!(
                "{round:<6} {name:<10} {rate:>11.0} {:>7.3} {mb:>8.2} {:>7.3} {:>9.2?} {:>9.2?} {:>7.1}  {}/{}",
                rate / base_rate,
                mb / base_mb,
                rtt,
                m.rtt_max(),
                rtt.as_secs_f64() / base_rtt.as_secs_f64(),
                m.stats.to_client.lost,
                m.stats.to_client.reordered,
            );
        }
    }
}
