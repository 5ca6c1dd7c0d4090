//! Per-channel analysis state; turns records into scheduled engine tasks and publishes snapshots.
