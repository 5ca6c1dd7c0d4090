//! A deterministic, realistic [`Snapshot`] for the screen's tests and the render benchmark:
//! eight channels like the demo's (Lorenz and Rössler flows integrated with RK4, Hénon and
//! logistic maps, a sine, events, tokens), each with `points` recent samples.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::{Catalog, ChannelInfo, ChannelKind, FieldValue, Value};
use crate::pipeline::{ChannelSnapshot, LinkState, Snapshot, SourceStatus};

/// Integration step of the sample flows, in model time units.
const FLOW_DT: f64 = 0.01;

/// Steps discarded before sampling so the flows are on their attractors.
const TRANSIENT_STEPS: usize = 2000;

/// One RK4 step of `f` from `s` by `dt`.
fn rk4(f: impl Fn([f64; 3]) -> [f64; 3], s: [f64; 3], dt: f64) -> [f64; 3] {
    let add =
        |a: [f64; 3], b: [f64; 3], k: f64| [a[0] + k * b[0], a[1] + k * b[1], a[2] + k * b[2]];
    let k1 = f(s);
    let k2 = f(add(s, k1, dt / 2.0));
    let k3 = f(add(s, k2, dt / 2.0));
    let k4 = f(add(s, k3, dt));
    let mut out = s;
    for i in 0..3 {
        out[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
    }
    out
}

/// `points` samples of a flow, one column per component.
fn flow(f: impl Fn([f64; 3]) -> [f64; 3] + Copy, start: [f64; 3], points: usize) -> Vec<Vec<f64>> {
    let mut s = start;
    for _ in 0..TRANSIENT_STEPS {
        s = rk4(f, s, FLOW_DT);
    }
    let mut columns: Vec<Vec<f64>> = (0..3).map(|_| Vec::with_capacity(points)).collect();
    for _ in 0..points {
        s = rk4(f, s, FLOW_DT);
        for (column, v) in columns.iter_mut().zip(s) {
            column.push(v);
        }
    }
    columns
}

/// Lorenz (σ = 10, ρ = 28, β = 8/3).
fn lorenz(s: [f64; 3]) -> [f64; 3] {
    [
        10.0 * (s[1] - s[0]),
        s[0] * (28.0 - s[2]) - s[1],
        s[0] * s[1] - 8.0 / 3.0 * s[2],
    ]
}

/// Rössler (a = b = 0.2, c = 5.7).
fn rossler(s: [f64; 3]) -> [f64; 3] {
    [-s[1] - s[2], s[0] + 0.2 * s[1], 0.2 + s[2] * (s[0] - 5.7)]
}

fn henon(points: usize) -> Vec<f64> {
    let (mut x, mut y) = (0.1, 0.1);
    (0..points + 100)
        .map(|_| {
            (x, y) = (1.0 - 1.4 * x * x + y, 0.3 * x);
            x
        })
        .skip(100)
        .collect()
}

fn logistic(points: usize) -> Vec<f64> {
    let mut x: f64 = 0.2;
    (0..points)
        .map(|_| {
            x = 3.9 * x * (1.0 - x);
            x
        })
        .collect()
}

fn info(
    id: u32,
    name: &str,
    kind: ChannelKind,
    unit: Option<&str>,
    period_s: Option<f64>,
) -> ChannelInfo {
    ChannelInfo {
        id,
        name: name.to_string(),
        kind,
        unit: unit.map(str::to_string),
        period_s,
    }
}

/// A connected demo source with eight channels of `points` recent samples each.
pub fn demo_snapshot(points: usize) -> Snapshot {
    let lorenz_xyz = flow(lorenz, [1.0, 1.0, 1.0], points);
    let rossler_xyz = flow(rossler, [1.0, 1.0, 0.0], points);
    let sine: Vec<f64> = (0..points).map(|i| (i as f64 * 0.05).sin()).collect();
    let fields: BTreeMap<String, FieldValue> = [
        ("error".to_string(), FieldValue::Bool(false)),
        ("latency_ms".to_string(), FieldValue::Number(12.5)),
        ("queue_depth".to_string(), FieldValue::Number(3.0)),
    ]
    .into_iter()
    .collect();
    let event_fields = fields.keys().cloned().collect();

    let mut channels = Vec::new();
    let mut push =
        |info: ChannelInfo, recent: Vec<Vec<f64>>, last: Value, rate_hz: f64, missing: u64| {
            let mut c = ChannelSnapshot::new(info);
            c.received = 48_210 + 1000 * c.info.id as u64;
            c.missing = missing;
            c.rate_hz = rate_hz;
            c.last_value = Some(last);
            c.last_t_ns = 482_100_000_000;
            c.recent = recent;
            channels.push(c);
        };
    let last = |columns: &[Vec<f64>]| -> Vec<f64> {
        columns.iter().filter_map(|c| c.last().copied()).collect()
    };
    let lorenz_last = last(&lorenz_xyz);
    let x_last = lorenz_xyz[0].last().copied().unwrap_or(0.0);
    push(
        info(
            0,
            "lorenz",
            ChannelKind::Vector { dims: 3 },
            None,
            Some(FLOW_DT),
        ),
        lorenz_xyz.clone(),
        Value::Vector(lorenz_last),
        100.0,
        0,
    );
    push(
        info(1, "lorenz.x", ChannelKind::Scalar, None, Some(FLOW_DT)),
        vec![lorenz_xyz[0].clone()],
        Value::Scalar(x_last),
        100.0,
        0,
    );
    let rossler_last = last(&rossler_xyz);
    push(
        info(
            2,
            "rossler",
            ChannelKind::Vector { dims: 3 },
            None,
            Some(FLOW_DT),
        ),
        rossler_xyz,
        Value::Vector(rossler_last),
        100.0,
        0,
    );
    let h = henon(points);
    let h_last = h.last().copied().unwrap_or(0.0);
    push(
        info(3, "henon.x", ChannelKind::Scalar, None, Some(1.0)),
        vec![h],
        Value::Scalar(h_last),
        250.0,
        12,
    );
    let l = logistic(points);
    let l_last = l.last().copied().unwrap_or(0.0);
    push(
        info(4, "logistic", ChannelKind::Scalar, None, Some(1.0)),
        vec![l],
        Value::Scalar(l_last),
        250.0,
        0,
    );
    let s_last = sine.last().copied().unwrap_or(0.0);
    push(
        info(5, "sine", ChannelKind::Scalar, Some("V"), Some(0.05)),
        vec![sine],
        Value::Scalar(s_last),
        20.0,
        0,
    );
    push(
        info(
            6,
            "events",
            ChannelKind::Event {
                fields: event_fields,
            },
            None,
            None,
        ),
        Vec::new(),
        Value::Fields(fields),
        7.5,
        3,
    );
    push(
        info(7, "tokens", ChannelKind::Text, None, None),
        Vec::new(),
        Value::Token("again".to_string()),
        42.0,
        0,
    );

    Snapshot {
        generation: 1,
        source: SourceStatus {
            label: "demo on 127.0.0.1:40123".to_string(),
            link: LinkState::Connected {
                remote: "127.0.0.1:40123".to_string(),
            },
            rtt: Some(Duration::from_micros(420)),
            insecure: false,
            recording: None,
            recorded: 0,
            notice: None,
        },
        catalog: Catalog {
            source: "demo: lorenz,rossler,henon,logistic,sine,events,tokens".to_string(),
            channels: channels.iter().map(|c| c.info.clone()).collect(),
        },
        channels,
        analysis: Default::default(),
    }
}
