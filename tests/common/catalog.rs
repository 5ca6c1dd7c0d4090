//! Catalogs and trace headers for tests that make their own streams.

use midstream::model::{Catalog, ChannelId, ChannelInfo, ChannelKind};
#[cfg(feature = "app")]
use midstream::trace::TraceHeader;

/// A channel with no unit and no sample period.
pub fn channel(id: ChannelId, name: &str, kind: ChannelKind) -> ChannelInfo {
    ChannelInfo {
        id,
        name: name.into(),
        kind,
        unit: None,
        period_s: None,
    }
}

/// A catalog of `channels` from the source `source`.
pub fn catalog(source: &str, channels: Vec<ChannelInfo>) -> Catalog {
    Catalog {
        source: source.into(),
        channels,
    }
}

/// The header of a trace of `catalog` (current format, started at 0, named after the
/// catalog's source).
#[cfg(feature = "app")]
pub fn trace_header(catalog: Catalog) -> TraceHeader {
    TraceHeader {
        version: midstream::trace::FORMAT_VERSION,
        started_unix_ns: 0,
        source: catalog.source.clone(),
        catalog,
    }
}
