//! Per-channel analysis state; turns records into scheduled engine tasks and publishes snapshots.

pub mod snapshot;

pub use snapshot::{ChannelSnapshot, LinkState, Snapshot, SourceStatus};
