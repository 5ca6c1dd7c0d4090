//! Time to draw one full frame at 160×48 with a realistic snapshot (8 channels of 4096 recent
//! points each) into a `TestBackend`: layout, panes, the phase portrait of the focused channel,
//! and the terminal's diff against the previous frame. Goal: under 2 ms.

use std::hint::black_box;
use std::sync::Arc;

use crate::bench::harness::Harness;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::pipeline::Snapshot;
use crate::tui::keymap::Action;
use crate::tui::sample::demo_snapshot;
use crate::tui::{App, Theme, render};

/// Recent points per channel, as the pipeline keeps them.
const POINTS: usize = 4096;

fn full_frame(c: &mut Harness<'_>) {
    if !c.wants_group("render") {
        return;
    }
    // Two different snapshots drawn in turn, so every frame differs from the one before, as
    // when data flows (one more sample shifts every point's age band).
    let frames: [Arc<Snapshot>; 2] = [
        Arc::new(demo_snapshot(POINTS)),
        Arc::new(demo_snapshot(POINTS + 1)),
    ];
    let mut group = c.benchmark_group("render");

    // The default focus (a vector channel: two components) and a scalar channel (delay
    // embedding).
    let vector = App::new();
    let mut scalar = App::new();
    scalar.apply(Action::NextChannel, &frames[0]);
    for (name, app) in [("160x48_vector", &vector), ("160x48_scalar", &scalar)] {
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("test backend");
        let mut turn = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                turn += 1;
                let snapshot = black_box(&frames[turn % 2]);
                terminal
                    .draw(|f| render(f, app, snapshot, &Theme::COLOR))
                    .expect("test backend");
            });
        });
    }
    group.finish();
}

/// Every benchmark of the suite.
pub fn run(c: &mut Harness<'_>) {
    full_frame(c);
}
