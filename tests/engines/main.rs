//! The engines (temporal, attractor, LTL, meta) against values computed elsewhere: committed
//! fixtures, published tables, independent implementations, and properties. One binary, so the
//! crate is linked once; each module was a test file of its own.

#[path = "../common/mod.rs"]
mod common;

mod attractor_support;
mod meta_support;

mod attractor_accuracy;
mod attractor_ensemble;
mod attractor_fixtures;
mod edm_fixtures;
// The meta track's learner drives it, which is part of the app.
#[cfg(feature = "app")]
mod learning_loop;
#[cfg(feature = "headless")]
mod ltl_check;
mod ltl_fixtures;
mod ltl_predict;
mod ltl_properties;
mod meta_fixtures;
mod meta_properties;
mod temporal_cache;
#[cfg(feature = "headless")]
mod temporal_compare;
mod temporal_fixtures;
mod temporal_properties;
