//! The built-in stream generators and the [`RecordSource`] interface a server streams from.
//!
//! [`DemoSource`] turns a list of generator names and a seed into a [`Catalog`] and an endless,
//! deterministic sequence of [`Record`]s. Every generator advances one step per *tick*; tick `k`
//! produces one record with `seq = k` on each of the generator's channels, stamped
//! `t_ns = round(k · 10⁹ / rate_hz)`, the wall time since the start of the stream at the
//! configured rate. The model time of a sample (what the catalog's `period_s` describes) is a
//! separate thing: Lorenz advances 0.01 model time units per record whatever the wall rate.
//!
//! | generator | channels | kind | `period_s` |
//! | --- | --- | --- | --- |
//! | `lorenz` | `lorenz` (x, y, z), `lorenz.x` | vector 3, scalar | 0.01 |
//! | `rossler` | `rossler` (x, y, z), `rossler.x` | vector 3, scalar | 0.05 |
//! | `henon` | `henon` (x, y), `henon.x` | vector 2, scalar | 1.0 |
//! | `logistic` (`logistic:R`, 0 < R ≤ 4) | `logistic` (`logistic:R`) | scalar | 1.0 |
//! | `sine` | `sine` | scalar | 0.01 |
//! | `noise` | `noise` | scalar | none |
//! | `events` | `events` | event: latency_ms, error, retry, queue_depth, status | none |
//! | `tokens` | `tokens` | text | none |
//!
//! Flows and maps are deterministic systems started from fixed states; the seed drives the
//! random generators (`noise`, `events`, `tokens`), each from its own ChaCha8 stream chosen by
//! its name, so adding or reordering generators does not change the others' output.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::model::{Catalog, ChannelInfo, ChannelKind, Record, Value};

use super::events::{EVENT_FIELDS, ServiceEvents};
use super::flows::{LORENZ_SAMPLE_PERIOD, Lorenz, ROSSLER_SAMPLE_PERIOD, Rossler};
use super::maps::{Henon, LOGISTIC_DEFAULT_R, Logistic};
use super::signals::{Noise, SINE_SAMPLE_PERIOD, Sine};
use super::tokens::TokenStream;

/// The generator names [`DemoSource::new`] accepts.
pub const GENERATOR_NAMES: [&str; 8] = [
    "lorenz", "rossler", "henon", "logistic", "sine", "noise", "events", "tokens",
];

/// Records per second per generator when no rate is given (the command line's default).
pub const DEFAULT_RATE_HZ: f64 = 200.0;

/// Model time per iteration of a map: one unit, so exponents come out per iteration.
pub const MAP_SAMPLE_PERIOD: f64 = 1.0;

/// Why a source could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    #[error("unknown generator {name:?}; valid generators: {}", GENERATOR_NAMES.join(", "))]
    UnknownGenerator { name: String },
    #[error("generator {name:?} is given more than once")]
    DuplicateGenerator { name: String },
    #[error("no generators given; valid generators: {}", GENERATOR_NAMES.join(", "))]
    NoGenerators,
    #[error("invalid parameter for generator {generator:?}: {reason}")]
    InvalidParameter { generator: String, reason: String },
    #[error("invalid rate {rate_hz} Hz: must be a finite number above 0")]
    InvalidRate { rate_hz: f64 },
}

/// Anything a server can stream: a catalog and, tick by tick, the records of that catalog's
/// channels in time order.
pub trait RecordSource: Send + 'static {
    /// The channels this source publishes (ids are unique; records only use these ids).
    fn catalog(&self) -> &Catalog;
    /// The source clock (`t_ns`) of the next tick's records; `None` when the source has ended.
    fn next_t_ns(&self) -> Option<u64>;
    /// Appends the next tick's records (at most one per channel) to `out`; returns `false`
    /// and appends nothing when the source has ended.
    fn next_tick(&mut self, out: &mut Vec<Record>) -> bool;
}

/// One generator's state and where its channels sit in the catalog.
#[derive(Debug, Clone)]
enum Generator {
    Lorenz(Lorenz),
    Rossler(Rossler),
    Henon(Henon),
    Logistic(Logistic),
    Sine(Sine),
    Noise(Noise),
    Events(ServiceEvents),
    Tokens(TokenStream),
}

impl Generator {
    /// The values of the next step, one per channel, in the order of [`Self::channels`].
    fn step(&mut self, emit: &mut impl FnMut(Value)) {
        match self {
            Generator::Lorenz(flow) => {
                let s = flow.next_sample();
                emit(Value::Vector(s.to_vec()));
                emit(Value::Scalar(s[0]));
            }
            Generator::Rossler(flow) => {
                let s = flow.next_sample();
                emit(Value::Vector(s.to_vec()));
                emit(Value::Scalar(s[0]));
            }
            Generator::Henon(map) => {
                let s = map.next_sample();
                emit(Value::Vector(s.to_vec()));
                emit(Value::Scalar(s[0]));
            }
            Generator::Logistic(map) => emit(Value::Scalar(map.next_sample())),
            Generator::Sine(signal) => emit(Value::Scalar(signal.next_sample())),
            Generator::Noise(signal) => emit(Value::Scalar(signal.next_sample())),
            Generator::Events(events) => emit(events.next_event().to_value()),
            Generator::Tokens(tokens) => emit(Value::Token(tokens.next_token().to_owned())),
        }
    }
}

/// A channel before it gets its id.
struct ChannelSpec {
    name: String,
    kind: ChannelKind,
    period_s: Option<f64>,
}

fn spec(name: &str, kind: ChannelKind, period_s: Option<f64>) -> ChannelSpec {
    ChannelSpec {
        name: name.to_owned(),
        kind,
        period_s,
    }
}

/// Builds one generator from its name (with an optional `:parameter`), and its channels.
fn build_generator(name: &str, seed: u64) -> Result<(Generator, Vec<ChannelSpec>), SourceError> {
    let (base, parameter) = match name.split_once(':') {
        Some((base, parameter)) => (base, Some(parameter)),
        None => (name, None),
    };
    if parameter.is_some() && base != "logistic" {
        return Err(SourceError::InvalidParameter {
            generator: name.to_owned(),
            reason: format!("{base} takes no parameter (only logistic:R does)"),
        });
    }
    let rng = || generator_rng(seed, name);
    let built = match base {
        "lorenz" => (
            Generator::Lorenz(Lorenz::new()),
            vec![
                spec(
                    "lorenz",
                    ChannelKind::Vector { dims: 3 },
                    Some(LORENZ_SAMPLE_PERIOD),
                ),
                spec("lorenz.x", ChannelKind::Scalar, Some(LORENZ_SAMPLE_PERIOD)),
            ],
        ),
        "rossler" => (
            Generator::Rossler(Rossler::new()),
            vec![
                spec(
                    "rossler",
                    ChannelKind::Vector { dims: 3 },
                    Some(ROSSLER_SAMPLE_PERIOD),
                ),
                spec(
                    "rossler.x",
                    ChannelKind::Scalar,
                    Some(ROSSLER_SAMPLE_PERIOD),
                ),
            ],
        ),
        "henon" => (
            Generator::Henon(Henon::new()),
            vec![
                spec(
                    "henon",
                    ChannelKind::Vector { dims: 2 },
                    Some(MAP_SAMPLE_PERIOD),
                ),
                spec("henon.x", ChannelKind::Scalar, Some(MAP_SAMPLE_PERIOD)),
            ],
        ),
        "logistic" => {
            let r = match parameter {
                None => LOGISTIC_DEFAULT_R,
                Some(text) => parse_logistic_r(name, text)?,
            };
            (
                Generator::Logistic(Logistic::new(r)),
                vec![spec(name, ChannelKind::Scalar, Some(MAP_SAMPLE_PERIOD))],
            )
        }
        "sine" => (
            Generator::Sine(Sine::new()),
            vec![spec("sine", ChannelKind::Scalar, Some(SINE_SAMPLE_PERIOD))],
        ),
        "noise" => (
            Generator::Noise(Noise::new(rng())),
            vec![spec("noise", ChannelKind::Scalar, None)],
        ),
        "events" => (
            Generator::Events(ServiceEvents::new(rng())),
            vec![spec(
                "events",
                ChannelKind::Event {
                    fields: EVENT_FIELDS.iter().map(|f| (*f).to_owned()).collect(),
                },
                None,
            )],
        ),
        "tokens" => (
            Generator::Tokens(TokenStream::new(rng())),
            vec![spec("tokens", ChannelKind::Text, None)],
        ),
        _ => {
            return Err(SourceError::UnknownGenerator {
                name: name.to_owned(),
            });
        }
    };
    Ok(built)
}

fn parse_logistic_r(name: &str, text: &str) -> Result<f64, SourceError> {
    let invalid = |reason: String| SourceError::InvalidParameter {
        generator: name.to_owned(),
        reason,
    };
    let text = text.strip_prefix("r=").unwrap_or(text);
    let r: f64 = text
        .parse()
        .map_err(|_| invalid(format!("growth rate {text:?} is not a number")))?;
    if !(r > 0.0 && r <= 4.0) {
        return Err(invalid(format!(
            "growth rate {r} is outside (0, 4], where the map keeps [0, 1] invariant"
        )));
    }
    Ok(r)
}

/// The ChaCha8 stream of one generator: seeded by `seed`, stream chosen by the FNV-1a hash of
/// the generator's name, so each generator's randomness is independent of the others.
fn generator_rng(seed: u64, name: &str) -> ChaCha8Rng {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let stream = name.bytes().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    });
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// The built-in demo source: generators chosen by name, ticking at a wall rate.
#[derive(Debug, Clone)]
pub struct DemoSource {
    catalog: Catalog,
    /// Each generator with the id of its first channel (its channels are consecutive).
    generators: Vec<(Generator, u32)>,
    rate_hz: f64,
    ticks: u64,
}

impl DemoSource {
    /// Builds the generators named in `names` (see the module table), seeded by `seed`, at
    /// [`DEFAULT_RATE_HZ`]. Channel ids are assigned in order from 0.
    pub fn new(names: &[String], seed: u64) -> Result<Self, SourceError> {
        if names.is_empty() {
            return Err(SourceError::NoGenerators);
        }
        let mut generators = Vec::with_capacity(names.len());
        let mut channels: Vec<ChannelInfo> = Vec::new();
        for name in names {
            let name = name.trim();
            let (generator, specs) = build_generator(name, seed)?;
            if specs
                .iter()
                .any(|s| channels.iter().any(|c| c.name == s.name))
            {
                return Err(SourceError::DuplicateGenerator {
                    name: name.to_owned(),
                });
            }
            let first_id = channels.len() as u32;
            for s in specs {
                channels.push(ChannelInfo {
                    id: channels.len() as u32,
                    name: s.name,
                    kind: s.kind,
                    unit: None,
                    period_s: s.period_s,
                });
            }
            generators.push((generator, first_id));
        }
        let names: Vec<&str> = names.iter().map(|n| n.trim()).collect();
        Ok(Self {
            catalog: Catalog {
                source: format!("demo: {}", names.join(",")),
                channels,
            },
            generators,
            rate_hz: DEFAULT_RATE_HZ,
            ticks: 0,
        })
    }

    /// Sets the wall rate (ticks per second) that `t_ns` is computed from.
    pub fn with_rate(mut self, rate_hz: f64) -> Result<Self, SourceError> {
        if !(rate_hz.is_finite() && rate_hz > 0.0) {
            return Err(SourceError::InvalidRate { rate_hz });
        }
        self.rate_hz = rate_hz;
        Ok(self)
    }

    /// The channels, ids from 0 in the order the generators were named.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Ticks per second.
    pub fn rate_hz(&self) -> f64 {
        self.rate_hz
    }

    /// Ticks taken so far: the `seq` of the next records.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// `t_ns` of tick `k`: `round(k · 10⁹ / rate_hz)`.
    pub fn t_ns_of_tick(&self, k: u64) -> u64 {
        (k as f64 * 1e9 / self.rate_hz).round() as u64
    }

    /// Appends one record per channel for the next tick.
    pub fn tick(&mut self, out: &mut Vec<Record>) {
        let seq = self.ticks;
        let t_ns = self.t_ns_of_tick(seq);
        for (generator, first_id) in &mut self.generators {
            let mut channel = *first_id;
            generator.step(&mut |value| {
                out.push(Record {
                    channel,
                    seq,
                    t_ns,
                    value,
                });
                channel += 1;
            });
        }
        self.ticks += 1;
    }

    /// Appends every tick whose `t_ns` is at most `elapsed_ns` (the records due by a wall
    /// clock that started with the stream); returns how many ticks were taken.
    pub fn tick_until(&mut self, elapsed_ns: u64, out: &mut Vec<Record>) -> u64 {
        let start = self.ticks;
        while self.t_ns_of_tick(self.ticks) <= elapsed_ns {
            self.tick(out);
        }
        self.ticks - start
    }
}

impl RecordSource for DemoSource {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn next_t_ns(&self) -> Option<u64> {
        Some(self.t_ns_of_tick(self.ticks))
    }

    fn next_tick(&mut self, out: &mut Vec<Record>) -> bool {
        self.tick(out);
        true
    }
}

impl Iterator for DemoSource {
    type Item = Vec<Record>;

    /// The records of the next tick (the source never ends).
    fn next(&mut self) -> Option<Vec<Record>> {
        let mut out = Vec::with_capacity(self.catalog.channels.len());
        self.tick(&mut out);
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn unknown_generator_lists_the_valid_ones() {
        let err = DemoSource::new(&names(&["lorenz", "lorentz"]), 1).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("\"lorentz\""), "{message}");
        for valid in GENERATOR_NAMES {
            assert!(message.contains(valid), "{message}");
        }
    }

    #[test]
    fn catalog_has_ids_in_order_and_periods() {
        let source = DemoSource::new(&names(&["events", "lorenz", "henon"]), 1).unwrap();
        let channels = &source.catalog().channels;
        let listed: Vec<(u32, &str)> = channels.iter().map(|c| (c.id, c.name.as_str())).collect();
        assert_eq!(
            listed,
            [
                (0, "events"),
                (1, "lorenz"),
                (2, "lorenz.x"),
                (3, "henon"),
                (4, "henon.x")
            ]
        );
        assert_eq!(channels[1].kind, ChannelKind::Vector { dims: 3 });
        assert_eq!(channels[2].period_s, Some(0.01));
        assert_eq!(channels[4].period_s, Some(1.0));
        assert_eq!(channels[0].period_s, None);
    }

    #[test]
    fn duplicates_and_bad_parameters_are_refused() {
        assert_eq!(
            DemoSource::new(&names(&["sine", "sine"]), 1).unwrap_err(),
            SourceError::DuplicateGenerator {
                name: "sine".into()
            }
        );
        assert!(matches!(
            DemoSource::new(&names(&["logistic:5"]), 1),
            Err(SourceError::InvalidParameter { .. })
        ));
        assert!(matches!(
            DemoSource::new(&names(&["sine:2"]), 1),
            Err(SourceError::InvalidParameter { .. })
        ));
        assert_eq!(
            DemoSource::new(&[], 1).unwrap_err(),
            SourceError::NoGenerators
        );
        assert!(DemoSource::new(&names(&["logistic", "logistic:r=3.5"]), 1).is_ok());
        let bad_rate = DemoSource::new(&names(&["sine"]), 1)
            .unwrap()
            .with_rate(0.0);
        assert!(matches!(bad_rate, Err(SourceError::InvalidRate { .. })));
    }

    #[test]
    fn ticks_stamp_seq_and_wall_time_from_the_rate() {
        let mut source = DemoSource::new(&names(&["lorenz", "sine"]), 1)
            .unwrap()
            .with_rate(400.0)
            .unwrap();
        let mut out = Vec::new();
        // 400 Hz: ticks at 0, 2.5 ms, 5 ms, 7.5 ms, 10 ms → five ticks due by 10 ms.
        assert_eq!(source.tick_until(10_000_000, &mut out), 5);
        assert_eq!(out.len(), 15);
        let last = &out[14];
        assert_eq!((last.channel, last.seq, last.t_ns), (2, 4, 10_000_000));
        // The scalar channel carries the vector's x.
        let (v, x) = (&out[12].value, &out[13].value);
        assert_eq!(v.as_f64(), x.as_f64());
    }
}
