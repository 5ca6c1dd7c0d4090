//! QUIC server and client, wire protocol, TLS and pinning.
