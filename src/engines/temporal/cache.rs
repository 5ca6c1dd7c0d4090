//! A least-recently-used cache of comparison results, keyed on the *content* of both
//! sequences and on the comparison's parameters, bounded in entries and in bytes.
//!
//! The key is the full content, not a digest of it: a 64-bit hash of the values only picks the
//! bucket, and a hit requires the same comparison, the same kind of sequence, the same split
//! between the two operands and byte-for-byte equal values. Two different sequences therefore
//! never share an entry, whatever their lengths and whatever the hash does. Values are compared
//! by their bits (so `0.0` and `-0.0` are different keys: a miss, never a wrong hit).

use std::hash::Hasher;
use std::mem::size_of;

use super::dtw::{DtwOptions, dtw};
use super::edit::{lcs_len, lcs_len_str, levenshtein, levenshtein_str};
use super::error::TemporalError;
use rustc_hash::{FxHashMap, FxHasher};

/// What was computed: part of every key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// DTW with these options (cost and band).
    Dtw(DtwOptions),
    /// Levenshtein distance.
    Levenshtein,
    /// LCS length.
    Lcs,
}

/// A sequence that can be part of a cache key: its content as bytes, with a tag for its kind
/// so that, say, a text and a list of ids with the same bytes stay apart.
pub trait KeyContent {
    /// Distinguishes the kinds of sequence.
    const KIND: u8;
    /// Length of the content in bytes.
    fn byte_len(&self) -> usize;
    /// Feeds the content to a hasher.
    fn hash_content(&self, hasher: &mut impl Hasher);
    /// Appends the content's bytes.
    fn append_bytes(&self, out: &mut Vec<u8>);
    /// Whether `bytes` is exactly this content.
    fn equals_bytes(&self, bytes: &[u8]) -> bool;
}

impl KeyContent for [f64] {
    const KIND: u8 = 1;

    fn byte_len(&self) -> usize {
        self.len() * 8
    }

    fn hash_content(&self, hasher: &mut impl Hasher) {
        for v in self {
            hasher.write_u64(v.to_bits());
        }
    }

    fn append_bytes(&self, out: &mut Vec<u8>) {
        for v in self {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }

    fn equals_bytes(&self, bytes: &[u8]) -> bool {
        bytes.len() == self.len() * 8
            && bytes
                .chunks_exact(8)
                .zip(self)
                .all(|(chunk, v)| chunk == v.to_bits().to_le_bytes())
    }
}

impl KeyContent for str {
    const KIND: u8 = 2;

    fn byte_len(&self) -> usize {
        self.len()
    }

    fn hash_content(&self, hasher: &mut impl Hasher) {
        hasher.write(self.as_bytes());
    }

    fn append_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    fn equals_bytes(&self, bytes: &[u8]) -> bool {
        self.as_bytes() == bytes
    }
}

impl KeyContent for [u32] {
    const KIND: u8 = 3;

    fn byte_len(&self) -> usize {
        self.len() * 4
    }

    fn hash_content(&self, hasher: &mut impl Hasher) {
        for &v in self {
            hasher.write_u32(v);
        }
    }

    fn append_bytes(&self, out: &mut Vec<u8>) {
        for v in self {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    fn equals_bytes(&self, bytes: &[u8]) -> bool {
        bytes.len() == self.len() * 4
            && bytes
                .chunks_exact(4)
                .zip(self)
                .all(|(chunk, v)| chunk == v.to_le_bytes())
    }
}

/// Size limits of a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheBounds {
    /// Most entries held (at least 1).
    pub max_entries: usize,
    /// Most bytes held, counting each entry's key content plus its bookkeeping.
    pub max_bytes: usize,
}

/// Counters of a cache's activity and its current size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub insertions: u64,
    pub evictions: u64,
    /// Results not stored because their key alone exceeds the byte bound.
    pub too_large: u64,
    pub entries: usize,
    pub bytes: usize,
}

/// No slot.
const NIL: usize = usize::MAX;

#[derive(Debug)]
struct Slot<V> {
    digest: u64,
    comparison: Comparison,
    kinds: (u8, u8),
    /// Bytes of the first operand; the rest of `content` is the second.
    split: usize,
    content: Box<[u8]>,
    value: Option<V>,
    /// Neighbours in recency order (`prev` is more recent).
    prev: usize,
    next: usize,
    /// Next slot with the same digest.
    chain: usize,
}

/// The content-keyed LRU cache; see the module documentation.
#[derive(Debug)]
pub struct ContentCache<V> {
    bounds: CacheBounds,
    heads: FxHashMap<u64, usize>,
    slots: Vec<Slot<V>>,
    free: Vec<usize>,
    most_recent: usize,
    least_recent: usize,
    bytes: usize,
    stats: CacheStats,
}

impl<V: Clone> ContentCache<V> {
    /// Bookkeeping bytes counted per entry on top of its key content: the slot and its share
    /// of the digest map.
    pub const ENTRY_OVERHEAD_BYTES: usize = size_of::<Slot<V>>() + 2 * size_of::<(u64, usize)>();

    /// An empty cache; errors when the bounds allow no entry at all.
    pub fn new(bounds: CacheBounds) -> Result<Self, TemporalError> {
        if bounds.max_entries == 0 {
            return Err(TemporalError::InvalidParameter {
                name: "max_entries",
                reason: "a cache must be able to hold at least one entry".into(),
            });
        }
        if bounds.max_bytes < Self::ENTRY_OVERHEAD_BYTES {
            return Err(TemporalError::InvalidParameter {
                name: "max_bytes",
                reason: format!(
                    "{} bytes cannot hold one entry ({} bytes of bookkeeping each)",
                    bounds.max_bytes,
                    Self::ENTRY_OVERHEAD_BYTES
                ),
            });
        }
        Ok(ContentCache {
            bounds,
            heads: FxHashMap::default(),
            slots: Vec::new(),
            free: Vec::new(),
            most_recent: NIL,
            least_recent: NIL,
            bytes: 0,
            stats: CacheStats::default(),
        })
    }

    /// Activity counters and current size.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.len(),
            bytes: self.bytes,
            ..self.stats
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every entry (the counters are kept).
    pub fn clear(&mut self) {
        self.heads.clear();
        self.slots.clear();
        self.free.clear();
        self.most_recent = NIL;
        self.least_recent = NIL;
        self.bytes = 0;
    }

    /// The cached result for this comparison of `a` with `b`, marking it most recently used.
    pub fn get<A, B>(&mut self, comparison: Comparison, a: &A, b: &B) -> Option<V>
    where
        A: KeyContent + ?Sized,
        B: KeyContent + ?Sized,
    {
        let digest = digest(comparison, a, b);
        match self.find(digest, comparison, a, b) {
            Some(slot) => {
                self.stats.hits += 1;
                self.touch(slot);
                self.slots[slot].value.clone()
            }
            None => {
                self.stats.misses += 1;
                None
            }
        }
    }

    /// Stores a result, evicting the least recently used entries beyond the bounds.
    pub fn insert<A, B>(&mut self, comparison: Comparison, a: &A, b: &B, value: V)
    where
        A: KeyContent + ?Sized,
        B: KeyContent + ?Sized,
    {
        let digest = digest(comparison, a, b);
        self.insert_with_digest(digest, comparison, a, b, value);
    }

    /// The cached result, or `compute()`'s, which is then stored (errors are not).
    pub fn get_or_try_insert_with<A, B, E>(
        &mut self,
        comparison: Comparison,
        a: &A,
        b: &B,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E>
    where
        A: KeyContent + ?Sized,
        B: KeyContent + ?Sized,
    {
        let digest = digest(comparison, a, b);
        if let Some(slot) = self.find(digest, comparison, a, b) {
            self.stats.hits += 1;
            self.touch(slot);
            if let Some(value) = &self.slots[slot].value {
                return Ok(value.clone());
            }
        }
        self.stats.misses += 1;
        let value = compute()?;
        self.insert_with_digest(digest, comparison, a, b, value.clone());
        Ok(value)
    }

    fn find<A, B>(&self, digest: u64, comparison: Comparison, a: &A, b: &B) -> Option<usize>
    where
        A: KeyContent + ?Sized,
        B: KeyContent + ?Sized,
    {
        let mut at = *self.heads.get(&digest)?;
        while at != NIL {
            let slot = &self.slots[at];
            if slot.digest == digest
                && slot.comparison == comparison
                && slot.kinds == (A::KIND, B::KIND)
                && slot.split == a.byte_len()
                && a.equals_bytes(&slot.content[..slot.split])
                && b.equals_bytes(&slot.content[slot.split..])
            {
                return Some(at);
            }
            at = slot.chain;
        }
        None
    }

    fn insert_with_digest<A, B>(
        &mut self,
        digest: u64,
        comparison: Comparison,
        a: &A,
        b: &B,
        value: V,
    ) where
        A: KeyContent + ?Sized,
        B: KeyContent + ?Sized,
    {
        if let Some(slot) = self.find(digest, comparison, a, b) {
            self.slots[slot].value = Some(value);
            self.touch(slot);
            return;
        }
        let size = a.byte_len() + b.byte_len() + Self::ENTRY_OVERHEAD_BYTES;
        if size > self.bounds.max_bytes {
            self.stats.too_large += 1;
            return;
        }
        while self.len() >= self.bounds.max_entries || self.bytes + size > self.bounds.max_bytes {
            self.evict_least_recent();
        }
        let mut content = Vec::with_capacity(size - Self::ENTRY_OVERHEAD_BYTES);
        a.append_bytes(&mut content);
        b.append_bytes(&mut content);
        let chain = self.heads.get(&digest).copied().unwrap_or(NIL);
        let slot = Slot {
            digest,
            comparison,
            kinds: (A::KIND, B::KIND),
            split: a.byte_len(),
            content: content.into_boxed_slice(),
            value: Some(value),
            prev: NIL,
            next: NIL,
            chain,
        };
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index] = slot;
                index
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.heads.insert(digest, index);
        self.link_front(index);
        self.bytes += size;
        self.stats.insertions += 1;
    }

    fn evict_least_recent(&mut self) {
        let victim = self.least_recent;
        if victim == NIL {
            return;
        }
        self.unlink(victim);
        let digest = self.slots[victim].digest;
        let next_in_chain = self.slots[victim].chain;
        if self.heads.get(&digest) == Some(&victim) {
            if next_in_chain == NIL {
                self.heads.remove(&digest);
            } else {
                self.heads.insert(digest, next_in_chain);
            }
        } else if let Some(&head) = self.heads.get(&digest) {
            let mut at = head;
            while self.slots[at].chain != victim && self.slots[at].chain != NIL {
                at = self.slots[at].chain;
            }
            if self.slots[at].chain == victim {
                self.slots[at].chain = next_in_chain;
            }
        }
        let slot = &mut self.slots[victim];
        self.bytes -= slot.content.len() + Self::ENTRY_OVERHEAD_BYTES;
        slot.content = Box::default();
        slot.value = None;
        slot.chain = NIL;
        self.free.push(victim);
        self.stats.evictions += 1;
    }

    fn touch(&mut self, index: usize) {
        if self.most_recent != index {
            self.unlink(index);
            self.link_front(index);
        }
    }

    fn unlink(&mut self, index: usize) {
        let (prev, next) = (self.slots[index].prev, self.slots[index].next);
        if prev == NIL {
            self.most_recent = next;
        } else {
            self.slots[prev].next = next;
        }
        if next == NIL {
            self.least_recent = prev;
        } else {
            self.slots[next].prev = prev;
        }
        self.slots[index].prev = NIL;
        self.slots[index].next = NIL;
    }

    fn link_front(&mut self, index: usize) {
        self.slots[index].prev = NIL;
        self.slots[index].next = self.most_recent;
        if self.most_recent != NIL {
            self.slots[self.most_recent].prev = index;
        }
        self.most_recent = index;
        if self.least_recent == NIL {
            self.least_recent = index;
        }
    }
}

impl ContentCache<f64> {
    /// [`dtw`] through the cache.
    pub fn dtw(
        &mut self,
        a: &[f64],
        b: &[f64],
        options: &DtwOptions,
    ) -> Result<f64, TemporalError> {
        self.get_or_try_insert_with(Comparison::Dtw(*options), a, b, || dtw(a, b, options))
    }
}

impl ContentCache<usize> {
    /// [`levenshtein_str`] through the cache.
    pub fn levenshtein_str(&mut self, a: &str, b: &str) -> usize {
        let result: Result<usize, std::convert::Infallible> =
            self.get_or_try_insert_with(Comparison::Levenshtein, a, b, || {
                Ok(levenshtein_str(a, b))
            });
        result.unwrap_or_else(|never| match never {})
    }

    /// [`lcs_len_str`] through the cache.
    pub fn lcs_len_str(&mut self, a: &str, b: &str) -> usize {
        let result: Result<usize, std::convert::Infallible> =
            self.get_or_try_insert_with(Comparison::Lcs, a, b, || Ok(lcs_len_str(a, b)));
        result.unwrap_or_else(|never| match never {})
    }

    /// [`levenshtein`] over token ids, through the cache.
    pub fn levenshtein_ids(&mut self, a: &[u32], b: &[u32]) -> usize {
        let result: Result<usize, std::convert::Infallible> =
            self.get_or_try_insert_with(Comparison::Levenshtein, a, b, || Ok(levenshtein(a, b)));
        result.unwrap_or_else(|never| match never {})
    }

    /// [`lcs_len`] over token ids, through the cache.
    pub fn lcs_len_ids(&mut self, a: &[u32], b: &[u32]) -> usize {
        let result: Result<usize, std::convert::Infallible> =
            self.get_or_try_insert_with(Comparison::Lcs, a, b, || Ok(lcs_len(a, b)));
        result.unwrap_or_else(|never| match never {})
    }
}

/// The 64-bit digest that picks a key's bucket (never decides a hit on its own).
fn digest<A, B>(comparison: Comparison, a: &A, b: &B) -> u64
where
    A: KeyContent + ?Sized,
    B: KeyContent + ?Sized,
{
    use std::hash::Hash;
    let mut hasher = FxHasher::default();
    comparison.hash(&mut hasher);
    hasher.write_u8(A::KIND);
    hasher.write_u8(B::KIND);
    hasher.write_usize(a.byte_len());
    a.hash_content(&mut hasher);
    b.hash_content(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::super::dtw::DtwCost;
    use super::*;

    /// The engines' map hasher (rustc-hash's `FxHasher`) keeps nearby keys apart.
    #[test]
    fn the_hasher_distinguishes_nearby_keys() {
        use std::hash::Hash;
        let hash_of = |value: &dyn Fn(&mut FxHasher)| {
            let mut hasher = FxHasher::default();
            value(&mut hasher);
            hasher.finish()
        };
        assert_ne!(hash_of(&|h| "ab".hash(h)), hash_of(&|h| "ba".hash(h)));
        assert_ne!(
            hash_of(&|h| b"ab".as_slice().hash(h)),
            hash_of(&|h| b"ab\0".as_slice().hash(h))
        );
        assert_ne!(hash_of(&|h| 1u64.hash(h)), hash_of(&|h| 2u64.hash(h)));
        assert_eq!(hash_of(&|h| "same".hash(h)), hash_of(&|h| "same".hash(h)));
    }

    fn bounds(max_entries: usize, max_bytes: usize) -> CacheBounds {
        CacheBounds {
            max_entries,
            max_bytes,
        }
    }

    #[test]
    fn equal_digests_never_merge_different_contents() {
        // Force the worst case: two different keys of equal length in the same bucket.
        let mut cache = ContentCache::<f64>::new(bounds(8, 1 << 20)).unwrap();
        let cmp = Comparison::Dtw(DtwOptions::default());
        let (a1, a2, b) = ([1.0, 2.0], [2.0, 1.0], [0.0, 0.0]);
        cache.insert_with_digest(42, cmp, &a1[..], &b[..], 1.0);
        cache.insert_with_digest(42, cmp, &a2[..], &b[..], 2.0);
        assert_eq!(cache.len(), 2);
        let first = cache.find(42, cmp, &a1[..], &b[..]).unwrap();
        let second = cache.find(42, cmp, &a2[..], &b[..]).unwrap();
        assert_ne!(first, second);
        assert_eq!(cache.slots[first].value, Some(1.0));
        assert_eq!(cache.slots[second].value, Some(2.0));
        // Evicting the chain's head keeps the other reachable.
        cache.evict_least_recent();
        assert!(cache.find(42, cmp, &a1[..], &b[..]).is_none());
        assert_eq!(cache.find(42, cmp, &a2[..], &b[..]), Some(second));
    }

    #[test]
    fn operands_split_and_kinds_are_part_of_the_key() {
        let mut cache = ContentCache::<usize>::new(bounds(8, 1 << 20)).unwrap();
        assert_eq!(cache.levenshtein_str("ab", "c"), 2);
        // Same concatenated bytes, different split.
        assert_eq!(cache.levenshtein_str("a", "bc"), 2);
        assert_eq!(cache.get(Comparison::Levenshtein, "ab", "c"), Some(2));
        assert_eq!(cache.get(Comparison::Levenshtein, "a", "bc"), Some(2));
        assert_eq!(cache.get(Comparison::Lcs, "ab", "c"), None);
        // "abcd" as text and as one u32 with the same bytes.
        cache.insert(Comparison::Levenshtein, "abcd", "", 4);
        let word = [u32::from_le_bytes(*b"abcd")];
        let none: [u32; 0] = [];
        assert_eq!(
            cache.get(Comparison::Levenshtein, &word[..], &none[..]),
            None
        );
    }

    #[test]
    fn least_recently_used_goes_first() {
        let mut cache = ContentCache::<usize>::new(bounds(2, 1 << 20)).unwrap();
        cache.levenshtein_str("a", "b");
        cache.levenshtein_str("c", "d");
        cache.levenshtein_str("a", "b"); // refreshes (a, b)
        cache.levenshtein_str("e", "f"); // evicts (c, d)
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.evictions), (1, 3, 1));
        assert!(cache.get(Comparison::Levenshtein, "a", "b").is_some());
        assert!(cache.get(Comparison::Levenshtein, "c", "d").is_none());
        assert!(cache.get(Comparison::Levenshtein, "e", "f").is_some());
    }

    #[test]
    fn byte_bound_is_kept() {
        let overhead = ContentCache::<f64>::ENTRY_OVERHEAD_BYTES;
        let max_bytes = 3 * (overhead + 16 * 8);
        let mut cache = ContentCache::<f64>::new(bounds(100, max_bytes)).unwrap();
        let opts = DtwOptions::new(DtwCost::Absolute);
        for k in 0..10 {
            let a = vec![k as f64; 8];
            cache.dtw(&a, &[0.0; 8], &opts).unwrap();
            assert!(cache.stats().bytes <= max_bytes);
        }
        assert_eq!(cache.len(), 3);
        let huge = vec![1.0; max_bytes];
        assert_eq!(cache.dtw(&huge, &[1.0], &opts).unwrap(), 0.0);
        assert_eq!(cache.stats().too_large, 1);
        assert!(ContentCache::<f64>::new(bounds(0, 1 << 20)).is_err());
        assert!(ContentCache::<f64>::new(bounds(1, 1)).is_err());
    }
}
