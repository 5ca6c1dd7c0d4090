//! The checks each side applies to the control messages it receives, callable without a QUIC
//! connection: the entry points of the fuzz targets (`fuzz/`, `control_messages`).
//!
//! Each function takes a frame body as it arrives on the control stream and runs the code the
//! server's or the client's session runs on it: the same decoding ([`decode_body`]) and the
//! same checks ([`super::server`]'s Hello and Subscribe checks, [`super::client`]'s catalog
//! check and channel choice). Only the order of the messages (Hello, then Subscribe; Catalog,
//! then catalog updates) is the callers'. Not part of the stable API.

use super::client::{ClientError, check_catalog, choose_channels, value_fits};
use super::framing::decode_body;
use super::protocol::{ClientMessage, CloseCode, ServerMessage};
use super::server::{SessionEnd, TokenDigest, hello_refusal, validate_subscription};
use crate::model::{Catalog, ChannelId, ChannelInfo, ChannelKind, Value};

/// How the server ends a session over a control message: the close code and reason.
pub type Refusal = (CloseCode, String);

fn refusal(end: SessionEnd) -> Refusal {
    match end {
        SessionEnd::Close { code, reason } => (code, reason),
        // Only a QUIC connection ends on its own; the checks never do.
        SessionEnd::Ended(e) => (CloseCode::Normal, e.to_string()),
    }
}

/// The server reads the first control frame, which must be a Hello, of a client connecting to a
/// server that requires `token` (if any). `Ok`: the server answers with its catalog.
pub fn server_reads_hello(body: &[u8], token: Option<&str>) -> Result<(), Refusal> {
    match decode_body::<ClientMessage>(body, "Hello") {
        Err(e) => Err((CloseCode::ProtocolViolation, format!("bad Hello: {e}"))),
        Ok(ClientMessage::Subscribe { .. }) => Err((
            CloseCode::ProtocolViolation,
            "expected Hello, got Subscribe".to_owned(),
        )),
        Ok(ClientMessage::Hello {
            version,
            token: given,
        }) => match hello_refusal(
            token.map(TokenDigest::of).as_ref(),
            version,
            given.as_deref(),
        ) {
            Some(refused) => Err(refused),
            None => Ok(()),
        },
    }
}

/// The server reads the second control frame, which must be a Subscribe to channels of
/// `catalog` (the catalog it sent). `Ok`: the channels it opens data streams for, in order.
pub fn server_reads_subscribe(body: &[u8], catalog: &Catalog) -> Result<Vec<ChannelInfo>, Refusal> {
    match decode_body::<ClientMessage>(body, "Subscribe") {
        Err(e) => Err((CloseCode::ProtocolViolation, format!("bad Subscribe: {e}"))),
        Ok(ClientMessage::Hello { .. }) => Err((
            CloseCode::ProtocolViolation,
            "expected Subscribe, got Hello".to_owned(),
        )),
        Ok(ClientMessage::Subscribe { channels }) => {
            validate_subscription(catalog, &channels, super::protocol::MAX_CHANNELS)
                .map_err(refusal)
        }
    }
}

/// What the client makes of the server's answer to its Hello.
#[derive(Debug)]
pub enum CatalogAnswer {
    /// A catalog the client accepts.
    Catalog(Catalog),
    /// The server refused the client, with this reason (shown to the user).
    Rejected(String),
    /// A protocol violation: the client closes the connection with this reason.
    Violation(String),
}

/// The client reads the server's answer to its Hello.
pub fn client_reads_catalog(body: &[u8]) -> CatalogAnswer {
    match decode_body::<ServerMessage>(body, "Catalog") {
        Err(e) => CatalogAnswer::Violation(format!("bad catalog: {e}")),
        Ok(ServerMessage::CatalogUpdate(_)) => {
            CatalogAnswer::Violation("a catalog update before the catalog".to_owned())
        }
        Ok(ServerMessage::Reject { reason }) => CatalogAnswer::Rejected(reason),
        Ok(ServerMessage::Catalog(catalog)) => match check_catalog(&catalog) {
            Ok(()) => CatalogAnswer::Catalog(catalog),
            Err(reason) => CatalogAnswer::Violation(reason),
        },
    }
}

/// The client, subscribed to every channel (`follows`) or not, reads a control frame after the
/// catalog. `Ok`: a catalog update it takes.
pub fn client_reads_update(body: &[u8], follows: bool) -> Result<Catalog, String> {
    match decode_body::<ServerMessage>(body, "control message") {
        Err(e) => Err(format!("control stream: {e}")),
        Ok(ServerMessage::CatalogUpdate(catalog)) if follows => {
            check_catalog(&catalog)?;
            Ok(catalog)
        }
        Ok(_) => Err("unexpected control message after the catalog".to_owned()),
    }
}

/// The channels the client subscribes to: all of `catalog`'s, or those `names` names.
pub fn client_chooses(
    catalog: &Catalog,
    names: Option<&[String]>,
) -> Result<Vec<ChannelId>, ClientError> {
    choose_channels(catalog, names)
}

/// Whether a received record's value fits its channel's kind (else the data stream is a
/// protocol violation).
pub fn client_accepts_value(kind: &ChannelKind, value: &Value) -> bool {
    value_fits(kind, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::protocol::PROTOCOL_VERSION;

    fn body<T: serde::Serialize>(value: &T) -> Vec<u8> {
        postcard::to_allocvec(value).unwrap()
    }

    fn catalog(ids: &[ChannelId]) -> Catalog {
        Catalog {
            source: "test".into(),
            channels: ids
                .iter()
                .map(|&id| ChannelInfo {
                    id,
                    name: format!("c{id}"),
                    kind: ChannelKind::Scalar,
                    unit: None,
                    period_s: None,
                })
                .collect(),
        }
    }

    #[test]
    fn the_server_checks_hello_then_subscribe() {
        let hello = |version, token: Option<&str>| {
            body(&ClientMessage::Hello {
                version,
                token: token.map(str::to_owned),
            })
        };
        assert!(server_reads_hello(&hello(PROTOCOL_VERSION, None), None).is_ok());
        assert!(server_reads_hello(&hello(PROTOCOL_VERSION, Some("k")), Some("k")).is_ok());
        let (code, _) =
            server_reads_hello(&hello(PROTOCOL_VERSION, Some("j")), Some("k")).unwrap_err();
        assert_eq!(code, CloseCode::Rejected);
        let (code, _) = server_reads_hello(&hello(2, None), None).unwrap_err();
        assert_eq!(code, CloseCode::VersionMismatch);
        let (code, reason) = server_reads_hello(&[9], None).unwrap_err();
        assert_eq!(code, CloseCode::ProtocolViolation);
        assert!(reason.starts_with("bad Hello"), "{reason}");

        let cat = catalog(&[0, 5]);
        let sub = body(&ClientMessage::Subscribe {
            channels: vec![5, 0],
        });
        let infos = server_reads_subscribe(&sub, &cat).unwrap();
        assert_eq!(infos.iter().map(|i| i.id).collect::<Vec<_>>(), [5, 0]);
        let twice = body(&ClientMessage::Subscribe {
            channels: vec![5, 5],
        });
        assert!(server_reads_subscribe(&twice, &cat).is_err());
        assert!(server_reads_subscribe(&hello(PROTOCOL_VERSION, None), &cat).is_err());
    }

    #[test]
    fn the_client_checks_catalogs() {
        let good = body(&ServerMessage::Catalog(catalog(&[1, 2])));
        assert!(matches!(
            client_reads_catalog(&good),
            CatalogAnswer::Catalog(_)
        ));
        let dup = body(&ServerMessage::Catalog(catalog(&[1, 1])));
        assert!(matches!(
            client_reads_catalog(&dup),
            CatalogAnswer::Violation(_)
        ));
        let reject = body(&ServerMessage::Reject {
            reason: "no".into(),
        });
        assert!(matches!(client_reads_catalog(&reject), CatalogAnswer::Rejected(r) if r == "no"));
        let update = body(&ServerMessage::CatalogUpdate(catalog(&[3])));
        assert!(matches!(
            client_reads_catalog(&update),
            CatalogAnswer::Violation(_)
        ));
        assert!(client_reads_update(&update, true).is_ok());
        assert!(client_reads_update(&update, false).is_err());
        let cat = catalog(&[1, 2]);
        assert_eq!(client_chooses(&cat, None).unwrap(), [1, 2]);
        assert!(client_chooses(&cat, Some(&["c9".to_owned()])).is_err());
        assert!(client_accepts_value(
            &ChannelKind::Scalar,
            &Value::Scalar(1.0)
        ));
        assert!(!client_accepts_value(
            &ChannelKind::Text,
            &Value::Scalar(1.0)
        ));
    }
}
