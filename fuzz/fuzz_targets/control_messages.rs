//! The control messages of `midstream/1` as each side receives them: the frames of a control
//! stream read with the transport's frame reader, then put through the checks the server runs on
//! a Hello and a Subscribe, or the client on a Catalog, a Reject and catalog updates
//! (`transport::fuzzing`, which calls the sessions' own functions).
//!
//! Input: `[mode: u8][control stream]`. Bit 0 of `mode`: the server's side (0) or the client's
//! (1). Server: bits 1-2 pick the server's token (none, `secret`, empty); the first frame is the
//! Hello, the second the Subscribe to the catalog of `catalog()`. Client: bit 1 says whether it
//! subscribed to every channel (so takes catalog updates); the first frame is the answer to its
//! Hello, the later ones catalog updates.
//!
//! Checked against what the protocol says, computed here independently: a Hello is accepted
//! exactly when it is a Hello of version 1 with the server's token (any token when the server
//! has none); a Subscribe exactly when it names distinct channels of the catalog, at most
//! `MAX_CHANNELS`, and then the server opens those channels in that order; a catalog (first or
//! update) is taken exactly when its ids are distinct and at most `MAX_CHANNELS`; a Reject's
//! reason reaches the user as sent; choosing channels by name gives distinct ids of channels of
//! those names, or names the missing ones; every refusal's reason fits a Reject frame once
//! clipped.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use midstream::model::{Catalog, ChannelInfo, ChannelKind, FieldValue, Value};
use midstream::transport::framing::{encode_frame, read_frame};
use midstream::transport::fuzzing::{
    CatalogAnswer, client_accepts_value, client_chooses, client_reads_catalog, client_reads_update,
    server_reads_hello, server_reads_subscribe,
};
use midstream::transport::protocol::{
    ClientMessage, CloseCode, MAX_CHANNELS, MAX_CONTROL_FRAME_BYTES, MAX_REASON_BYTES,
    PROTOCOL_VERSION, ServerMessage, clip_reason,
};
use midstream_fuzz::{Chunked, encoding, now};

/// The server's catalog: ids out of order and with gaps, every kind.
fn catalog() -> Catalog {
    let kinds = [
        ChannelKind::Event {
            fields: vec!["a".into(), "b".into()],
        },
        ChannelKind::Scalar,
        ChannelKind::Vector { dims: 3 },
        ChannelKind::Text,
        ChannelKind::Scalar,
    ];
    let ids = [0, 1, 7, 3, 4095];
    Catalog {
        source: "fuzz".into(),
        channels: ids
            .iter()
            .zip(kinds)
            .map(|(&id, kind)| ChannelInfo {
                id,
                name: format!("c{id}"),
                kind,
                unit: None,
                period_s: Some(0.01),
            })
            .collect(),
    }
}

/// The control stream's frame bodies, as far as they are whole frames.
fn frames(stream: &[u8], most: usize) -> Vec<Vec<u8>> {
    let mut reader = Chunked::new(stream, &[]);
    let mut bodies = Vec::new();
    while bodies.len() < most {
        let mut body = Vec::new();
        match now(read_frame(&mut reader, MAX_CONTROL_FRAME_BYTES, &mut body)) {
            Ok(true) => bodies.push(body),
            Ok(false) | Err(_) => break,
        }
    }
    bodies
}

/// The body as exactly one message, decoded here without the transport's code.
fn exactly<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    match postcard::take_from_bytes::<T>(body) {
        Ok((value, [])) => Some(value),
        _ => None,
    }
}

/// Whether a refusal's reason fits the Reject (or close frame) that carries it.
fn sendable(reason: &str) {
    let clipped = clip_reason(reason);
    assert!(clipped.len() <= MAX_REASON_BYTES && reason.starts_with(clipped));
    let reject = ServerMessage::Reject {
        reason: clipped.to_owned(),
    };
    encode_frame(&reject, MAX_CONTROL_FRAME_BYTES, "Reject").expect("a Reject encodes");
}

fn valid_catalog(catalog: &Catalog) -> bool {
    let mut ids = HashSet::new();
    catalog.channels.len() <= MAX_CHANNELS && catalog.channels.iter().all(|c| ids.insert(c.id))
}

fn server(mode: u8, stream: &[u8]) {
    let token = [None, Some("secret"), Some(""), None][usize::from(mode >> 1 & 3)];
    let bodies = frames(stream, 2);
    let Some(hello) = bodies.first() else {
        return;
    };
    let expected = match exactly::<ClientMessage>(hello) {
        Some(ClientMessage::Hello {
            version,
            token: given,
        }) => version == PROTOCOL_VERSION && token.is_none_or(|t| given.as_deref() == Some(t)),
        _ => false,
    };
    match server_reads_hello(hello, token) {
        Ok(()) => assert!(expected, "a Hello accepted that should not be"),
        Err((code, reason)) => {
            assert!(!expected, "a Hello refused that should not be: {reason}");
            assert_ne!(code, CloseCode::Normal);
            sendable(&reason);
            return;
        }
    }
    let Some(subscribe) = bodies.get(1) else {
        return;
    };
    let catalog = catalog();
    let wanted = match exactly::<ClientMessage>(subscribe) {
        Some(ClientMessage::Subscribe { channels }) => {
            let mut seen = HashSet::new();
            let fine = channels.len() <= MAX_CHANNELS
                && channels
                    .iter()
                    .all(|id| seen.insert(*id) && catalog.channel(*id).is_some());
            fine.then_some(channels)
        }
        _ => None,
    };
    match server_reads_subscribe(subscribe, &catalog) {
        Ok(infos) => {
            let wanted = wanted.expect("a Subscribe accepted that should not be");
            let ids: Vec<u32> = infos.iter().map(|i| i.id).collect();
            assert_eq!(ids, wanted);
            for info in &infos {
                assert_eq!(Some(info), catalog.channel(info.id));
            }
        }
        Err((code, reason)) => {
            assert!(
                wanted.is_none(),
                "a Subscribe refused that should not be: {reason}"
            );
            assert!(matches!(
                code,
                CloseCode::ProtocolViolation | CloseCode::LimitExceeded
            ));
            sendable(&reason);
        }
    }
}

fn client(mode: u8, stream: &[u8]) {
    let follows = mode & 2 != 0;
    let bodies = frames(stream, 4);
    let Some(first) = bodies.first() else {
        return;
    };
    let decoded = exactly::<ServerMessage>(first);
    let catalog = match client_reads_catalog(first) {
        CatalogAnswer::Catalog(catalog) => {
            assert!(
                matches!(&decoded, Some(ServerMessage::Catalog(c)) if valid_catalog(c)),
                "a catalog taken that should not be"
            );
            catalog
        }
        CatalogAnswer::Rejected(reason) => {
            assert!(matches!(&decoded, Some(ServerMessage::Reject { reason: r }) if *r == reason));
            return;
        }
        CatalogAnswer::Violation(reason) => {
            assert!(
                !matches!(&decoded, Some(ServerMessage::Catalog(c)) if valid_catalog(c)),
                "a catalog refused that should not be: {reason}"
            );
            sendable(&reason);
            return;
        }
    };

    let all: Vec<u32> = catalog.channels.iter().map(|c| c.id).collect();
    assert_eq!(client_chooses(&catalog, None).expect("every channel"), all);
    let mut names: Vec<String> = catalog
        .channels
        .iter()
        .take(3)
        .map(|c| c.name.clone())
        .collect();
    names.extend(catalog.channels.first().map(|c| c.name.clone()));
    match client_chooses(&catalog, Some(&names)) {
        Ok(ids) => {
            let distinct: HashSet<u32> = ids.iter().copied().collect();
            assert_eq!(distinct.len(), ids.len(), "a channel chosen twice: {ids:?}");
            for id in &ids {
                let info = catalog
                    .channel(*id)
                    .expect("a chosen channel is in the catalog");
                assert!(names.contains(&info.name));
            }
            for name in &names {
                assert!(
                    ids.iter()
                        .any(|id| catalog.channel(*id).is_some_and(|c| c.name == *name))
                );
            }
        }
        Err(e) => panic!("names taken from the catalog are missing from it: {e}"),
    }
    let missing = vec!["\u{0}missing".to_owned()];
    if !catalog.channels.iter().any(|c| c.name == missing[0]) {
        assert!(client_chooses(&catalog, Some(&missing)).is_err());
    }

    let values = [
        Value::Scalar(1.0),
        Value::Vector(vec![1.0, 2.0, 3.0]),
        Value::Fields([("a".to_owned(), FieldValue::Bool(true))].into()),
        Value::Token("w".into()),
    ];
    for channel in &catalog.channels {
        for value in &values {
            let fits = match (&channel.kind, value) {
                (ChannelKind::Scalar, Value::Scalar(_)) => true,
                (ChannelKind::Vector { dims }, Value::Vector(v)) => {
                    v.len() as u64 == u64::from(*dims)
                }
                (ChannelKind::Event { .. }, Value::Fields(_)) => true,
                (ChannelKind::Text, Value::Token(_)) => true,
                _ => false,
            };
            assert_eq!(client_accepts_value(&channel.kind, value), fits);
        }
    }

    for body in &bodies[1..] {
        let decoded = exactly::<ServerMessage>(body);
        match client_reads_update(body, follows) {
            Ok(update) => assert!(
                follows
                    && matches!(&decoded, Some(ServerMessage::CatalogUpdate(c)) if valid_catalog(c) && encoding(c) == encoding(&update)),
                "an update taken that should not be"
            ),
            Err(reason) => {
                assert!(
                    !(follows
                        && matches!(&decoded, Some(ServerMessage::CatalogUpdate(c)) if valid_catalog(c))),
                    "an update refused that should not be: {reason}"
                );
                sendable(&reason);
                return;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        server(mode, stream);
    } else {
        client(mode, stream);
    }
});
