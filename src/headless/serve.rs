//! `serve`: runs a QUIC stream source with built-in generators until interrupted, and logs
//! what happens to its clients on stderr.

use std::io::Write;

use crate::cli::ServeArgs;
use crate::sources::DemoSource;
use crate::transport::server::{CertificateSource, Server, ServerConfig, ServerEvent};

/// Binds, prints how to attach, and serves until Ctrl-C.
pub async fn run(args: &ServeArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let source = DemoSource::new(&args.generator, args.seed)?.with_rate(args.rate)?;
    let channels = source.catalog().channels.len();
    let mut config = ServerConfig::new(args.listen, source);
    config.token = args.token.clone();
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        config.certificate = CertificateSource::PemFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
    }
    let (mut server, info) = Server::bind(config)?;
    writeln!(
        out,
        "serving {} ({channels} channels, {} records/s each) on {} with ALPN midstream/1",
        args.generator.join(","),
        args.rate,
        info.addr
    )?;
    writeln!(out, "certificate SHA-256 fingerprint: {}", info.fingerprint)?;
    if let Some(command) = &info.attach_command {
        writeln!(out, "attach with:\n  {command}")?;
    }
    out.flush()?;
    let mut events = server.take_events();
    let shutdown = server.shutdown_handle();
    let serving = tokio::spawn(server.run());
    let log = async {
        if let Some(events) = events.as_mut() {
            while let Some(event) = events.recv().await {
                eprintln!("{}", describe(&event));
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: closing connections");
            shutdown.shutdown();
        }
        () = log => {}
    }
    serving.await??;
    Ok(())
}

fn describe(event: &ServerEvent) -> String {
    match event {
        ServerEvent::ClientSubscribed { remote, channels } => {
            format!("{remote}: subscribed to {channels} channels")
        }
        ServerEvent::ClientClosed {
            remote,
            code,
            reason,
        } => {
            format!("{remote}: closed ({}): {reason}", code.name())
        }
        ServerEvent::ClientLeft { remote, reason } => format!("{remote}: left: {reason}"),
        ServerEvent::ClientLagged {
            remote,
            channel,
            batches,
        } => format!("{remote}: fell behind on channel {channel}, {batches} batches dropped"),
        ServerEvent::RecordDropped { channel, seq } => {
            format!("dropped record {seq} of channel {channel}: too large for one frame")
        }
    }
}
