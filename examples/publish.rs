//! Publishes a stream of your own over QUIC with Midstream's library: a damped pendulum as
//! two scalar channels and a text channel of what it is doing. Attach with the command it
//! prints (`midstream-tui attach 127.0.0.1:4433 --pin ...`).
//!
//! `cargo run --release --example publish [-- ADDR [SECONDS]]`

use std::time::Duration;

use midstream::model::ChannelKind;
use midstream::publish::{Publisher, PublisherOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let listen = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:4433".to_owned())
        .parse()?;
    let seconds: f64 = args.next().map_or(Ok(60.0), |s| s.parse())?;

    let mut publisher = Publisher::bind(PublisherOptions::new(listen, "damped pendulum"))?;
    if let Some(command) = &publisher.info().attach_command {
        println!("attach with:\n  {command}");
    }
    // Declare the channels; 100 samples a second of the pendulum's own time.
    let dt = 0.01;
    let angle = publisher.channel("angle", ChannelKind::Scalar, Some(dt))?;
    let speed = publisher.channel("speed", ChannelKind::Scalar, Some(dt))?;
    let phase = publisher.channel("phase", ChannelKind::Text, None)?;

    let (mut theta, mut omega) = (2.5_f64, 0.0_f64);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(dt));
    for step in 0..(seconds / dt) as u64 {
        tick.tick().await;
        // Semi-implicit Euler for θ'' = −sin θ − 0.05 θ'.
        omega += dt * (-theta.sin() - 0.05 * omega);
        theta += dt * omega;
        publisher.send(angle, theta).await?;
        publisher.send(speed, omega).await?;
        if step % 50 == 0 {
            let word = if omega >= 0.0 { "rising" } else { "falling" };
            publisher.send(phase, word).await?;
        }
    }
    // Ends every channel's stream; the server goes on until it is interrupted.
    let shutdown = publisher.shutdown_handle();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        shutdown.shutdown();
    });
    publisher.finish().await;
    Ok(())
}
