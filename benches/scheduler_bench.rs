//! The scheduler suite (`src/bench/suites/scheduler.rs`) under `cargo bench`: the same workloads that
//! `midstream-tui bench --suite scheduler` measures.

use criterion::{Criterion, criterion_group, criterion_main};
use midstream::bench::harness::Harness;

fn suite(c: &mut Criterion) {
    midstream::bench::suites::scheduler::run(&mut Harness::cargo(c));
}

criterion_group!(benches, suite);
criterion_main!(benches);
