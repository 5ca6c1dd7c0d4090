//! The benchmark workloads, one file per suite, shared by `cargo bench` (`benches/*.rs`) and
//! `midstream-tui bench`.

pub mod attractor;
pub mod ltl;
pub mod meta;
pub mod pipeline;
pub mod quic;
pub mod render;
pub mod scheduler;
pub mod temporal;
pub mod trace;

use super::harness::Harness;

/// A suite: its name on the command line and its benchmarks.
pub struct Suite {
    pub name: &'static str,
    pub run: fn(&mut Harness<'_>),
}

/// Every suite, in the order a full run measures them.
pub const SUITES: [Suite; 9] = [
    Suite {
        name: "temporal",
        run: temporal::run,
    },
    Suite {
        name: "attractor",
        run: attractor::run,
    },
    Suite {
        name: "ltl",
        run: ltl::run,
    },
    Suite {
        name: "scheduler",
        run: scheduler::run,
    },
    Suite {
        name: "meta",
        run: meta::run,
    },
    Suite {
        name: "pipeline",
        run: pipeline::run,
    },
    Suite {
        name: "quic",
        run: quic::run,
    },
    Suite {
        name: "trace",
        run: trace::run,
    },
    Suite {
        name: "render",
        run: render::run,
    },
];

/// The suite named `name`.
pub fn suite(name: &str) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.name == name)
}
