//! A synthetic service-request event stream: latency, errors, retries and a queue, with
//! occasional overload bursts.
//!
//! Each record is one request. The generator alternates between a calm regime and bursts
//! (latency up, errors frequent, the queue growing). An error opens an *episode*: the following
//! requests are retries (`retry = true`) until one succeeds (the recovery) or
//! [`MAX_RETRIES`] retries have failed and the client gives up. Most episodes recover within a
//! few events and a few do not, so properties such as "every error is followed by a recovery"
//! hold most of the time and break now and then.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::model::{FieldValue, Fields, Value};

/// The event fields, in catalog order.
pub const EVENT_FIELDS: [&str; 5] = ["latency_ms", "error", "retry", "queue_depth", "status"];

/// Probability per calm event that a burst starts (a burst about every 500 events, so about
/// a tenth of the events fall in one).
pub const BURST_START_PROBABILITY: f64 = 0.002;
/// Shortest and longest burst, in events.
pub const BURST_MIN_EVENTS: u32 = 20;
pub const BURST_MAX_EVENTS: u32 = 80;
/// Probability that a fresh (non-retry) request fails, in the calm regime and in a burst.
pub const CALM_ERROR_PROBABILITY: f64 = 0.01;
pub const BURST_ERROR_PROBABILITY: f64 = 0.12;
/// Probability that a retry fails again, in the calm regime and in a burst.
pub const CALM_RETRY_FAILURE_PROBABILITY: f64 = 0.2;
pub const BURST_RETRY_FAILURE_PROBABILITY: f64 = 0.45;
/// Retries after which the client gives up on an episode without a recovery. With the
/// probabilities above, about 0.2⁴ = 0.2 % of calm and 0.45⁴ = 4 % of burst episodes end so.
pub const MAX_RETRIES: u32 = 4;
/// Latency model (ms): a floor plus an exponential tail; bursts add a per-queued-request cost,
/// and failures wait for a timeout-like extra.
pub const CALM_LATENCY_FLOOR_MS: f64 = 5.0;
pub const CALM_LATENCY_MEAN_EXTRA_MS: f64 = 10.0;
pub const BURST_LATENCY_FLOOR_MS: f64 = 40.0;
pub const BURST_LATENCY_MEAN_EXTRA_MS: f64 = 60.0;
pub const LATENCY_PER_QUEUED_MS: f64 = 2.0;
pub const ERROR_LATENCY_MEAN_EXTRA_MS: f64 = 100.0;
/// Queue random walk: per event, the chance of one more and of one fewer waiting request.
pub const CALM_QUEUE_UP: f64 = 0.1;
pub const CALM_QUEUE_DOWN: f64 = 0.5;
pub const BURST_QUEUE_UP: f64 = 0.6;
pub const BURST_QUEUE_DOWN: f64 = 0.2;
/// The queue never holds more than this.
pub const MAX_QUEUE_DEPTH: u32 = 500;

/// One generated request, before it becomes a record's fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceEvent {
    pub latency_ms: f64,
    pub error: bool,
    pub retry: bool,
    pub queue_depth: u32,
    pub in_burst: bool,
}

impl ServiceEvent {
    /// The record value: the five [`EVENT_FIELDS`]; `status` is `"error"` or `"ok"`.
    pub fn to_value(&self) -> Value {
        let status = if self.error { "error" } else { "ok" };
        Value::Fields(Fields::from_iter([
            ("latency_ms", FieldValue::Number(self.latency_ms)),
            ("error", FieldValue::Bool(self.error)),
            ("retry", FieldValue::Bool(self.retry)),
            (
                "queue_depth",
                FieldValue::Number(f64::from(self.queue_depth)),
            ),
            ("status", FieldValue::Text(status.to_owned())),
        ]))
    }
}

/// The event generator's state.
#[derive(Debug, Clone)]
pub struct ServiceEvents {
    rng: ChaCha8Rng,
    /// Events left in the current burst (0 = calm).
    burst_remaining: u32,
    /// Retries already made in the current error episode; `None` when no episode is open.
    episode_retries: Option<u32>,
    queue_depth: u32,
}

impl ServiceEvents {
    pub fn new(rng: ChaCha8Rng) -> Self {
        Self {
            rng,
            burst_remaining: 0,
            episode_retries: None,
            queue_depth: 0,
        }
    }

    /// The next request.
    pub fn next_event(&mut self) -> ServiceEvent {
        let in_burst = if self.burst_remaining > 0 {
            self.burst_remaining -= 1;
            true
        } else if self.rng.random_bool(BURST_START_PROBABILITY) {
            self.burst_remaining = self.rng.random_range(BURST_MIN_EVENTS..=BURST_MAX_EVENTS) - 1;
            true
        } else {
            false
        };

        let (up, down) = if in_burst {
            (BURST_QUEUE_UP, BURST_QUEUE_DOWN)
        } else {
            (CALM_QUEUE_UP, CALM_QUEUE_DOWN)
        };
        let u: f64 = self.rng.random();
        if u < up {
            self.queue_depth = (self.queue_depth + 1).min(MAX_QUEUE_DEPTH);
        } else if u < up + down {
            self.queue_depth = self.queue_depth.saturating_sub(1);
        }

        let retry = self.episode_retries.is_some();
        let failure_probability = match (retry, in_burst) {
            (false, false) => CALM_ERROR_PROBABILITY,
            (false, true) => BURST_ERROR_PROBABILITY,
            (true, false) => CALM_RETRY_FAILURE_PROBABILITY,
            (true, true) => BURST_RETRY_FAILURE_PROBABILITY,
        };
        let error = self.rng.random_bool(failure_probability);
        self.episode_retries = match (self.episode_retries, error) {
            (None, true) => Some(0),
            (Some(done), true) if done + 1 < MAX_RETRIES => Some(done + 1),
            // A success closes the episode (the recovery); so does the last failed retry.
            _ => None,
        };

        let mut latency_ms = if in_burst {
            BURST_LATENCY_FLOOR_MS
                + self.exponential(BURST_LATENCY_MEAN_EXTRA_MS)
                + LATENCY_PER_QUEUED_MS * f64::from(self.queue_depth)
        } else {
            CALM_LATENCY_FLOOR_MS + self.exponential(CALM_LATENCY_MEAN_EXTRA_MS)
        };
        if error {
            latency_ms += self.exponential(ERROR_LATENCY_MEAN_EXTRA_MS);
        }
        ServiceEvent {
            // Reported to 0.1 ms, as a service's logs would.
            latency_ms: (latency_ms * 10.0).round() / 10.0,
            error,
            retry,
            queue_depth: self.queue_depth,
            in_burst,
        }
    }

    /// An exponential deviate with the given mean (inverse-CDF method).
    fn exponential(&mut self, mean: f64) -> f64 {
        let u: f64 = 1.0 - self.rng.random::<f64>(); // (0, 1]
        -mean * u.ln()
    }
}
