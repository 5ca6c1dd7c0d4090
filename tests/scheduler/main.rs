//! The priority and deadline executor: ordering, shedding, cancellation, shutdown, the urgent
//! reserve, wake-ups and statistics. One binary; each module was a test file of its own.

#![cfg(feature = "scheduler")]

mod support;

mod cancel;
mod order;
mod reserve;
mod shedding;
mod shutdown;
mod stats;
mod wakeups;
