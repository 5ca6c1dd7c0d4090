//! The data model shared by every part of Midstream: channels, records and their values.
//!
//! Plain data with serde derives and no I/O, so the same types travel over the wire
//! (postcard), into trace files and into the engines.

pub mod bench;
pub mod decimal;
mod decision;
mod event;
mod fields;
pub mod fleet;
pub mod order;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use decision::Decision;
pub use event::{InputReport, LinkState, MAX_LISTED_PROBLEMS, SourceEvent};
pub use fields::{FieldNames, Fields};

/// Identifies a channel within one source's catalog.
pub type ChannelId = u32;

/// What shape of value a channel carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelKind {
    /// One number per record.
    Scalar,
    /// A fixed-length vector per record.
    Vector { dims: u32 },
    /// A set of named fields per record (numbers, booleans, strings).
    Event { fields: Vec<String> },
    /// One text token per record.
    Text,
}

impl ChannelKind {
    /// A short lower-case name for display.
    pub fn label(&self) -> &'static str {
        match self {
            ChannelKind::Scalar => "scalar",
            ChannelKind::Vector { .. } => "vector",
            ChannelKind::Event { .. } => "event",
            ChannelKind::Text => "text",
        }
    }
}

/// Describes one channel of a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelInfo {
    pub id: ChannelId,
    pub name: String,
    pub kind: ChannelKind,
    /// Unit of the values, if any ("ms", "m/s").
    pub unit: Option<String>,
    /// Nominal sample period in the signal's own time, in seconds, when there is one.
    /// For simulated flows this is the integration's sampling step in model time units.
    pub period_s: Option<f64>,
}

/// The list of channels a source publishes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Catalog {
    /// Human-readable description of the source ("demo: lorenz,events").
    pub source: String,
    pub channels: Vec<ChannelInfo>,
}

impl Catalog {
    pub fn channel(&self, id: ChannelId) -> Option<&ChannelInfo> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The channels' names, in catalog order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.channels.iter().map(|c| c.name.as_str())
    }
}

/// One field of an event record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FieldValue {
    Number(f64),
    Bool(bool),
    Text(String),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Number(x) => write!(f, "{x}"),
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// The value carried by one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<f64>),
    Fields(Fields),
    Token(String),
}

impl Value {
    /// The value as one number when it has an obvious one (a scalar, or a vector's first component).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Scalar(x) => Some(*x),
            Value::Vector(v) => v.first().copied(),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Scalar(x) => write!(f, "{x:.4}"),
            Value::Vector(v) => {
                f.write_str("[")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x:.3}")?;
                }
                f.write_str("]")
            }
            Value::Fields(m) => {
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}={v}")?;
                }
                Ok(())
            }
            Value::Token(s) => write!(f, "{s:?}"),
        }
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Scalar(x)
    }
}

impl From<Vec<f64>> for Value {
    fn from(v: Vec<f64>) -> Self {
        Value::Vector(v)
    }
}

impl From<&str> for Value {
    fn from(token: &str) -> Self {
        Value::Token(token.to_owned())
    }
}

/// One sample of one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub channel: ChannelId,
    /// Counts per channel from 0; a gap is a loss.
    pub seq: u64,
    /// The source's clock, nanoseconds since the stream started.
    pub t_ns: u64,
    pub value: Value,
}
