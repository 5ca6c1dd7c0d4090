//! Dense symbol ids for the bit-parallel string algorithms: the distinct symbols of the
//! pattern are numbered `0..size`, and every symbol absent from the pattern gets `size`, whose
//! match mask is empty.

use std::hash::Hash;

use rustc_hash::FxHashMap;

/// Maps symbols to dense ids; see the module documentation.
pub(crate) trait Alphabet<S> {
    /// Number of distinct pattern symbols; also the id of every other symbol.
    fn size(&self) -> usize;
    /// The id of a symbol.
    fn id(&self, symbol: &S) -> u32;
}

/// Marks a table slot not yet given an id.
const UNSET: u32 = u32::MAX;

/// Bytes (ASCII texts): a direct table.
pub(crate) struct ByteAlphabet {
    table: [u32; 256],
    size: usize,
}

impl ByteAlphabet {
    pub(crate) fn new(pattern: &[u8]) -> Self {
        let mut table = [UNSET; 256];
        let mut size = 0u32;
        for &b in pattern {
            let slot = &mut table[usize::from(b)];
            if *slot == UNSET {
                *slot = size;
                size += 1;
            }
        }
        for slot in &mut table {
            if *slot == UNSET {
                *slot = size;
            }
        }
        ByteAlphabet {
            table,
            size: size as usize,
        }
    }
}

impl Alphabet<u8> for ByteAlphabet {
    fn size(&self) -> usize {
        self.size
    }

    #[inline(always)]
    fn id(&self, symbol: &u8) -> u32 {
        self.table[usize::from(*symbol)]
    }
}

/// Unicode scalar values: a direct table for U+0000..U+00FF and, above, a small
/// open-addressing table keyed on the code point (Fibonacci hashing, linear probing), sized
/// once to at least twice the pattern's length so probes stay short. The design follows
/// rapidfuzz's pattern-match vectors (a direct table for code points below 256, a hash table
/// above), with the hash mapping to a dense id instead of to the masks themselves. Cheaper
/// than a general `HashMap` per text symbol: one multiply, one shift and usually one
/// compare.
pub(crate) struct CharAlphabet {
    low: [u32; 256],
    /// `(code point, id)` slots; [`EMPTY_SLOT`] marks a free one.
    slots: Vec<(u32, u32)>,
    /// `64 − log2(slots.len())`: the shift that takes the product's top bits.
    shift: u32,
    size: u32,
}

/// A free slot of [`CharAlphabet`]'s table: no scalar value is `u32::MAX`.
const EMPTY_SLOT: (u32, u32) = (u32::MAX, 0);

/// Multiplier of the Fibonacci hash: 2⁶⁴ divided by the golden ratio, odd.
const GOLDEN_64: u64 = 0x9E37_79B9_7F4A_7C15;

impl CharAlphabet {
    /// Numbers the distinct scalar values of `pattern` (`pattern_len` of them, as code
    /// points) in order of first appearance; also returns each one's id.
    pub(crate) fn new(pattern: impl Iterator<Item = u32>, pattern_len: usize) -> (Self, Vec<u32>) {
        let capacity = (2 * pattern_len).next_power_of_two().max(16);
        let mut alphabet = CharAlphabet {
            low: [UNSET; 256],
            slots: vec![EMPTY_SLOT; capacity],
            shift: 64 - capacity.trailing_zeros(),
            size: 0,
        };
        let mut ids = Vec::with_capacity(pattern_len);
        for code in pattern {
            let id = if code < 256 {
                let slot = &mut alphabet.low[code as usize];
                if *slot == UNSET {
                    *slot = alphabet.size;
                    alphabet.size += 1;
                }
                *slot
            } else {
                let mut at = alphabet.home(code);
                loop {
                    let (key, id) = alphabet.slots[at];
                    if key == code {
                        break id;
                    }
                    if key == EMPTY_SLOT.0 {
                        let id = alphabet.size;
                        alphabet.slots[at] = (code, id);
                        alphabet.size += 1;
                        break id;
                    }
                    at = (at + 1) & (alphabet.slots.len() - 1);
                }
            };
            ids.push(id);
        }
        for slot in &mut alphabet.low {
            if *slot == UNSET {
                *slot = alphabet.size;
            }
        }
        (alphabet, ids)
    }

    #[inline(always)]
    fn home(&self, code: u32) -> usize {
        (u64::from(code).wrapping_mul(GOLDEN_64) >> self.shift) as usize
    }

    /// The id of a scalar value given as its code point.
    #[inline(always)]
    pub(crate) fn code_id(&self, code: u32) -> u32 {
        if code < 256 {
            return self.low[code as usize];
        }
        // At most half the slots are used, so a free slot ends every probe sequence.
        let mut at = self.home(code);
        loop {
            let (key, id) = self.slots[at];
            if key == code {
                return id;
            }
            if key == EMPTY_SLOT.0 {
                return self.size;
            }
            at = (at + 1) & (self.slots.len() - 1);
        }
    }
}

impl Alphabet<char> for CharAlphabet {
    fn size(&self) -> usize {
        self.size as usize
    }

    #[inline(always)]
    fn id(&self, symbol: &char) -> u32 {
        self.code_id(*symbol as u32)
    }
}

/// Any `Eq + Hash` token: a hash map of references into the pattern.
pub(crate) struct HashAlphabet<'p, T> {
    map: FxHashMap<&'p T, u32>,
}

impl<'p, T: Eq + Hash> HashAlphabet<'p, T> {
    pub(crate) fn new(pattern: &'p [T]) -> Self {
        let mut map = FxHashMap::with_capacity_and_hasher(pattern.len(), Default::default());
        for t in pattern {
            let next = map.len() as u32;
            map.entry(t).or_insert(next);
        }
        HashAlphabet { map }
    }
}

impl<T: Eq + Hash> Alphabet<T> for HashAlphabet<'_, T> {
    fn size(&self) -> usize {
        self.map.len()
    }

    #[inline(always)]
    fn id(&self, symbol: &T) -> u32 {
        self.map
            .get(symbol)
            .copied()
            .unwrap_or(self.map.len() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_and_absent_symbols_share_the_last() {
        let a = ByteAlphabet::new(b"abca");
        assert_eq!(a.size(), 3);
        assert_eq!([a.id(&b'a'), a.id(&b'b'), a.id(&b'c')], [0, 1, 2]);
        assert_eq!(a.id(&b'z'), 3);

        let (c, ids) = CharAlphabet::new("añ€a😀".chars().map(u32::from), 5);
        assert_eq!(ids, [0, 1, 2, 0, 3]);
        assert_eq!(c.size(), 4);
        assert_eq!(c.id(&'a'), 0);
        assert_eq!(c.id(&'ñ'), 1);
        assert_eq!(c.id(&'€'), 2);
        assert_eq!(c.id(&'😀'), 3);
        assert_eq!(c.id(&'x'), 4);
        assert_eq!(c.id(&'中'), 4);

        // Many wide symbols: the table fills to half, probes wrap around.
        let wide: Vec<char> = (0..300u32)
            .filter_map(|k| char::from_u32(0x4E00 + 7 * k))
            .collect();
        let (c, ids) = CharAlphabet::new(wide.iter().map(|&c| c as u32), wide.len());
        assert_eq!(ids, (0..300).collect::<Vec<u32>>());
        for (k, ch) in wide.iter().enumerate() {
            assert_eq!(c.id(ch), k as u32);
        }
        assert_eq!(c.id(&'\u{4E01}'), 300);
        assert_eq!(c.id(&'z'), 300);

        let words = ["to", "be", "or", "not", "to", "be"];
        let h = HashAlphabet::new(&words);
        assert_eq!(h.size(), 4);
        assert_eq!(h.id(&"be"), 1);
        assert_eq!(h.id(&"question"), 4);
    }
}
