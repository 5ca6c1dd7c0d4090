//! The load of the analyzers' measurement (`scripts/load/fleet.sh`): publishes on `in.s0000`
//! … `in.sNNNN` round-robin through core NATS (the analyzers' stream stores what arrives),
//! each message either one number (one record) or a JSON object of `--fields` numbers (one
//! event record and one record per field), at `--rate` messages a second (0: as fast as the
//! connection takes them), for `--seconds`. Prints what it sent.
//!
//! `cargo run --release --example fleet_load -- nats://127.0.0.1:4222 --subjects 100
//!   --fields 0 --rate 0 --seconds 20`
//!
//! The values are the logistic map at r = 4, one orbit per subject, so that the analyzers'
//! engines have real work (a chaotic series; λ = ln 2 per sample).

use std::time::{Duration, Instant};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("{name}: a value")),
        None => Ok(default),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = args
        .first()
        .cloned()
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    let subjects: usize = arg(&args, "--subjects", 100)?;
    let fields: usize = arg(&args, "--fields", 0)?;
    let rate: f64 = arg(&args, "--rate", 0.0)?;
    let seconds: f64 = arg(&args, "--seconds", 20.0)?;
    anyhow::ensure!(subjects > 0, "--subjects: at least 1");
    let client = async_nats::ConnectOptions::new()
        // Large enough that a fast publisher is not held back by the client's own buffer.
        .client_capacity(1 << 16)
        .connect(url.as_str())
        .await?;
    let names: Vec<String> = (0..subjects).map(|i| format!("in.s{i:04}")).collect();
    let mut x: Vec<f64> = (0..subjects)
        .map(|i| 0.1 + 0.8 * (i as f64 + 0.5) / subjects as f64)
        .collect();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    let mut sent: u64 = 0;
    let mut i = 0;
    let mut payload = String::new();
    while Instant::now() < end {
        // Paced in steps of 10 ms: the messages due by now.
        let due = if rate > 0.0 {
            (start.elapsed().as_secs_f64() * rate) as u64
        } else {
            sent + 1000
        };
        if sent >= due {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        while sent < due {
            let xi = &mut x[i];
            *xi = 4.0 * *xi * (1.0 - *xi);
            payload.clear();
            if fields == 0 {
                payload.push_str(&format!("{xi}"));
            } else {
                payload.push('{');
                for f in 0..fields {
                    if f > 0 {
                        payload.push(',');
                    }
                    payload.push_str(&format!("\"f{f}\":{}", *xi + f as f64));
                }
                payload.push('}');
            }
            client
                .publish(names[i].clone(), payload.clone().into())
                .await?;
            sent += 1;
            i = (i + 1) % subjects;
        }
    }
    client.flush().await?;
    let elapsed = start.elapsed().as_secs_f64();
    let records_per_message = if fields == 0 { 1 } else { fields + 1 };
    println!(
        "sent {sent} messages on {subjects} subjects in {elapsed:.1} s: {:.0} msg/s, {:.0} records/s ({records_per_message} per message)",
        sent as f64 / elapsed,
        (sent * records_per_message as u64) as f64 / elapsed
    );
    Ok(())
}
