//! Raw quinn on 127.0.0.1, the baseline of the QUIC suite: the same TLS (a self-signed
//! certificate, pinned by the client) and the same transport settings as Midstream's server
//! and client (`transport::protocol::transport_config`, and the server's small receive window),
//! but plain bytes on streams instead of the protocol's messages.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Notify, mpsc};

use crate::transport::protocol::{DEFAULT_CLIENT_FRAME_BYTES, transport_config};
use crate::transport::tls::{ServerIdentity, Trust, client_crypto, server_crypto};

/// A raw quinn server and what a client needs to reach it.
pub struct RawServer {
    endpoint: quinn::Endpoint,
    pub addr: SocketAddr,
    client_config: quinn::ClientConfig,
    accepted: mpsc::Receiver<quinn::Connection>,
}

/// The server's receive windows, as Midstream's server sets them with its default frame
/// limit: two frames of the largest a client may send, plus their length prefixes.
const SERVER_WINDOW: u32 = 2 * (DEFAULT_CLIENT_FRAME_BYTES as u32 + 4);

impl RawServer {
    /// Binds on 127.0.0.1 (a free port) and accepts connections in the background. Must be
    /// called inside a tokio runtime.
    pub fn bind() -> Result<Self, String> {
        let identity =
            ServerIdentity::self_signed(&["localhost".to_owned(), "127.0.0.1".to_owned()])
                .map_err(|e| e.to_string())?;
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(
            server_crypto(&identity).map_err(|e| e.to_string())?,
        ));
        let mut transport = transport_config(true);
        transport
            .stream_receive_window(quinn::VarInt::from_u32(SERVER_WINDOW))
            .receive_window(quinn::VarInt::from_u32(SERVER_WINDOW));
        server.transport_config(Arc::new(transport));
        let endpoint = quinn::Endpoint::server(server, ([127, 0, 0, 1], 0).into())
            .map_err(|e| e.to_string())?;
        let addr = endpoint.local_addr().map_err(|e| e.to_string())?;
        let (crypto, _) =
            client_crypto(&Trust::Pin(identity.fingerprint()), None).map_err(|e| e.to_string())?;
        let mut client_config = quinn::ClientConfig::new(Arc::new(crypto));
        client_config.transport_config(Arc::new(transport_config(false)));
        let (tx, accepted) = mpsc::channel(16);
        let acceptor = endpoint.clone();
        tokio::spawn(async move {
            while let Some(incoming) = acceptor.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(conn) = incoming.await {
                        let _ = tx.send(conn).await;
                    }
                });
            }
        });
        Ok(Self {
            endpoint,
            addr,
            client_config,
            accepted,
        })
    }

    /// A new client endpoint (a UDP socket of its own, as a new client has) connected to the
    /// server: the client's and the server's side of the connection.
    pub async fn connect(
        &mut self,
    ) -> Result<(quinn::Endpoint, quinn::Connection, quinn::Connection), String> {
        let endpoint =
            quinn::Endpoint::client(([127, 0, 0, 1], 0).into()).map_err(|e| e.to_string())?;
        let client = endpoint
            .connect_with(self.client_config.clone(), self.addr, "localhost")
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())?;
        let server = self
            .accepted
            .recv()
            .await
            .ok_or_else(|| "the raw server stopped".to_owned())?;
        Ok((endpoint, client, server))
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.endpoint.close(0u32.into(), b"done");
    }
}

/// Bytes received on a set of streams, counted by reader tasks.
pub struct Received {
    pub bytes: AtomicU64,
    pub more: Notify,
}

impl Received {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            bytes: AtomicU64::new(0),
            more: Notify::new(),
        })
    }

    /// Waits until at least `target` bytes have arrived in all.
    pub async fn wait_for(&self, target: u64) {
        loop {
            let notified = self.more.notified();
            if self.bytes.load(Ordering::Acquire) >= target {
                return;
            }
            notified.await;
        }
    }
}

/// Reads `stream` to its end, counting into `received`.
pub async fn count_into(mut stream: quinn::RecvStream, received: Arc<Received>) {
    let mut buf = vec![0u8; 64 << 10];
    while let Ok(Some(n)) = stream.read(&mut buf).await {
        received.bytes.fetch_add(n as u64, Ordering::AcqRel);
        received.more.notify_waiters();
    }
}

/// `streams` unidirectional streams from the server's side `server` to the client's side
/// `client`, each announced with one byte so the client sees it, with a reader counting what
/// arrives on them: the writers' ends, and the count (the announcement bytes included).
pub async fn open_streams(
    server: &quinn::Connection,
    client: &quinn::Connection,
    streams: usize,
    priority: Option<i32>,
) -> Result<(Vec<quinn::SendStream>, Arc<Received>), String> {
    let received = Received::new();
    let mut sends = Vec::with_capacity(streams);
    for _ in 0..streams {
        let mut send = server.open_uni().await.map_err(|e| e.to_string())?;
        if let Some(p) = priority {
            send.set_priority(p).map_err(|e| e.to_string())?;
        }
        send.write_all(&[0]).await.map_err(|e| e.to_string())?;
        sends.push(send);
        let recv = client.accept_uni().await.map_err(|e| e.to_string())?;
        tokio::spawn(count_into(recv, received.clone()));
    }
    received.wait_for(streams as u64).await;
    Ok((sends, received))
}
