//! QUIC server and client, wire protocol, TLS and pinning.
//!
//! - [`protocol`]: the messages, limits, close codes and stream priorities of `midstream/1`.
//! - [`framing`]: `[u32 length LE][postcard body]` frames with size limits.
//! - [`tls`]: server identities, fingerprints, and the client's trust modes.
//! - [`server`]: [`server::Server`] streams a [`crate::sources::RecordSource`] to many clients.
//! - [`client`]: [`client::connect`] delivers [`client::TransportEvent`]s, reconnecting with
//!   backoff.

pub mod batch;
pub mod client;
pub mod framing;
#[doc(hidden)]
pub mod fuzzing;
pub mod protocol;
pub mod publish;
pub mod server;
pub mod tls;

use protocol::CloseCode;

/// A human-readable account of why a QUIC connection ended, naming our close codes.
pub fn describe_connection_error(error: &quinn::ConnectionError) -> String {
    use quinn::ConnectionError as E;
    match error {
        E::ApplicationClosed(close) => {
            let reason = String::from_utf8_lossy(&close.reason);
            match CloseCode::from_code(close.error_code.into_inner()) {
                Some(code) if reason.is_empty() => format!("closed by the peer ({})", code.name()),
                Some(code) => format!("closed by the peer ({}): {reason}", code.name()),
                None => format!(
                    "closed by the peer with code {}: {reason}",
                    close.error_code
                ),
            }
        }
        E::ConnectionClosed(close) => {
            let reason = String::from_utf8_lossy(&close.reason);
            format!(
                "closed by the peer's QUIC stack: {} {reason}",
                close.error_code
            )
        }
        E::TransportError(e) => format!("QUIC transport error: {e}"),
        E::VersionMismatch => "the peer speaks no QUIC version we do".to_owned(),
        E::Reset => "connection reset by the peer (it probably restarted)".to_owned(),
        E::TimedOut => format!(
            "no response from the peer for {} s",
            protocol::IDLE_TIMEOUT.as_secs()
        ),
        E::LocallyClosed => "closed locally".to_owned(),
        E::CidsExhausted => "connection ids exhausted".to_owned(),
    }
}
