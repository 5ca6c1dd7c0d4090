//! Pure analysis engines: functions over slices, no I/O, no threads, no async.
//! They depend on `model` only, and build for wasm32.

pub mod attractor;
pub mod ltl;
pub mod meta;
pub mod temporal;
