//! The sparse index of a trace: where records start, every so many bytes, with their time.
//! A cleanly finished recording ends with one (the footer); a trace without it is scanned.
//!
//! The index is bounded: it holds at most [`MAX_INDEX_POINTS`] points. When it is full, every
//! other point is dropped and the spacing doubles, so a trace of any length is indexed in a
//! few hundred kilobytes, and a seek reads at most two spacings of records.

use serde::{Deserialize, Serialize};

use crate::model::Catalog;

/// Bytes between index points at the start (the spacing doubles when the index is full).
pub const INITIAL_INDEX_SPACING: u64 = 256 * 1024;

/// Most points an index holds (24 bytes each: 384 KiB at most).
pub const MAX_INDEX_POINTS: usize = 16 * 1024;

/// The index frame is followed by its offset (u64 LE) and this tag: the last 16 bytes of a
/// trace with a footer.
pub const INDEX_TAG: &[u8; 8] = b"MIDINDEX";

pub(crate) const INDEX_TRAILER_LEN: usize = 16;

/// Where a record frame starts, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexPoint {
    /// Byte offset of the frame.
    pub offset: u64,
    /// Records before it in the trace.
    pub record: u64,
    /// Its time stamp, nanoseconds on the source's clock.
    pub t_ns: u64,
}

/// What a trace holds, without its records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceIndex {
    /// Records in the trace.
    pub records: u64,
    /// Smallest and largest time stamp (0 when there are no records).
    pub first_t_ns: u64,
    pub last_t_ns: u64,
    /// The catalog at the end: every channel of the trace.
    pub catalog: Catalog,
    /// Bytes between points (a point may come later, at the next record frame).
    pub spacing: u64,
    /// In file order.
    pub points: Vec<IndexPoint>,
}

impl TraceIndex {
    /// The last point at or before trace time `t_ns` (the first point if none is).
    pub fn point_before(&self, t_ns: u64) -> Option<IndexPoint> {
        point_before(&self.points, t_ns)
    }

    /// The point before `point` in the index, if any.
    pub fn previous(&self, point: IndexPoint) -> Option<IndexPoint> {
        previous(&self.points, point)
    }
}

/// Of points in file order, the last one at or before trace time `t_ns` (the first point if
/// none is). Time stamps are taken to grow with the file, as a recording writes them.
pub fn point_before(points: &[IndexPoint], t_ns: u64) -> Option<IndexPoint> {
    let after = points.partition_point(|p| p.t_ns <= t_ns);
    points.get(after.saturating_sub(1)).copied()
}

/// The point before `point`, if any.
pub fn previous(points: &[IndexPoint], point: IndexPoint) -> Option<IndexPoint> {
    let at = points.partition_point(|p| p.offset < point.offset);
    at.checked_sub(1).map(|i| points[i])
}

/// Builds an index from the record frames as they are written or read.
#[derive(Debug, Clone)]
pub struct IndexBuilder {
    points: Vec<IndexPoint>,
    spacing: u64,
    next_at: u64,
    records: u64,
    first_t_ns: u64,
    last_t_ns: u64,
}

impl Default for IndexBuilder {
    fn default() -> Self {
        Self {
            points: Vec::new(),
            spacing: INITIAL_INDEX_SPACING,
            next_at: 0,
            records: 0,
            first_t_ns: u64::MAX,
            last_t_ns: 0,
        }
    }
}

impl IndexBuilder {
    /// A record frame at byte `offset` with time stamp `t_ns`.
    pub fn record(&mut self, offset: u64, t_ns: u64) {
        if offset >= self.next_at {
            if self.points.len() == MAX_INDEX_POINTS {
                self.thin();
            }
            self.points.push(IndexPoint {
                offset,
                record: self.records,
                t_ns,
            });
            self.next_at = offset + self.spacing;
        }
        self.records += 1;
        self.first_t_ns = self.first_t_ns.min(t_ns);
        self.last_t_ns = self.last_t_ns.max(t_ns);
    }

    /// Records seen so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The points so far, in file order.
    pub fn points(&self) -> &[IndexPoint] {
        &self.points
    }

    /// Largest time stamp so far (0 before the first record).
    pub fn last_t_ns(&self) -> u64 {
        self.last_t_ns
    }

    /// Drops every other point and doubles the spacing.
    fn thin(&mut self) {
        let mut keep = 0;
        self.points.retain(|_| {
            keep += 1;
            keep % 2 == 1
        });
        self.spacing *= 2;
        if let Some(last) = self.points.last() {
            self.next_at = last.offset + self.spacing;
        }
    }

    pub fn finish(self, catalog: Catalog) -> TraceIndex {
        let first_t_ns = if self.records == 0 {
            0
        } else {
            self.first_t_ns
        };
        TraceIndex {
            records: self.records,
            first_t_ns,
            last_t_ns: self.last_t_ns,
            catalog,
            spacing: self.spacing,
            points: self.points,
        }
    }
}

pub(crate) fn trailer(index_offset: u64) -> [u8; INDEX_TRAILER_LEN] {
    let mut trailer = [0u8; INDEX_TRAILER_LEN];
    trailer[..8].copy_from_slice(&index_offset.to_le_bytes());
    trailer[8..].copy_from_slice(INDEX_TAG);
    trailer
}

/// The index frame's offset, if these are the bytes of a trailer.
pub(crate) fn parse_trailer(trailer: &[u8; INDEX_TRAILER_LEN]) -> Option<u64> {
    (&trailer[8..] == INDEX_TAG).then(|| {
        let mut offset = [0u8; 8];
        offset.copy_from_slice(&trailer[..8]);
        u64::from_le_bytes(offset)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_spaced_and_thinned_when_full() {
        let mut builder = IndexBuilder::default();
        // 40-byte frames: a point every 256 KiB at first.
        let frames = (MAX_INDEX_POINTS as u64 + 10) * INITIAL_INDEX_SPACING / 40;
        for i in 0..frames {
            builder.record(i * 40, i * 1000);
        }
        let index = builder.finish(Catalog::default());
        assert_eq!(index.records, frames);
        assert!(index.points.len() <= MAX_INDEX_POINTS);
        assert!(index.points.len() > MAX_INDEX_POINTS / 2);
        assert_eq!(index.spacing, 2 * INITIAL_INDEX_SPACING);
        for pair in index.points.windows(2) {
            let gap = pair[1].offset - pair[0].offset;
            assert!(
                (index.spacing..index.spacing + 40).contains(&gap),
                "gap {gap}"
            );
            assert_eq!(pair[1].record - pair[0].record, gap / 40);
        }
        assert_eq!(index.first_t_ns, 0);
        assert_eq!(index.last_t_ns, (frames - 1) * 1000);
    }

    #[test]
    fn point_before_finds_the_last_point_not_after_a_time() {
        let mut builder = IndexBuilder::default();
        for i in 0..10u64 {
            builder.record(i * INITIAL_INDEX_SPACING, 100 + i * 10);
        }
        let index = builder.finish(Catalog::default());
        assert_eq!(index.point_before(0).unwrap().record, 0);
        assert_eq!(index.point_before(135).unwrap().record, 3);
        assert_eq!(index.point_before(140).unwrap().record, 4);
        assert_eq!(index.point_before(10_000).unwrap().record, 9);
        let four = index.point_before(140).unwrap();
        assert_eq!(index.previous(four).unwrap().record, 3);
        assert_eq!(index.previous(index.points[0]), None);
    }

    #[test]
    fn trailer_round_trips_and_rejects_other_bytes() {
        assert_eq!(parse_trailer(&trailer(123_456)), Some(123_456));
        let mut other = trailer(7);
        other[15] = b'Y';
        assert_eq!(parse_trailer(&other), None);
    }
}
