//! Dense symbol ids for the bit-parallel string algorithms: the distinct symbols of the
//! pattern are numbered `0..size`, and every symbol absent from the pattern gets `size`, whose
//! match mask is empty.

use std::hash::Hash;

use super::hashing::FastHashMap;

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

/// Unicode scalar values: a direct table for U+0000..U+00FF, a hash map above.
pub(crate) struct CharAlphabet {
    low: [u32; 256],
    high: FastHashMap<char, u32>,
    size: usize,
}

impl CharAlphabet {
    pub(crate) fn new(pattern: &[char]) -> Self {
        let mut low = [UNSET; 256];
        let wide = pattern.iter().filter(|&&c| c as u32 >= 256).count();
        let mut high = FastHashMap::with_capacity_and_hasher(wide, Default::default());
        let mut size = 0u32;
        for &c in pattern {
            let code = c as u32;
            if code < 256 {
                let slot = &mut low[code as usize];
                if *slot == UNSET {
                    *slot = size;
                    size += 1;
                }
            } else {
                high.entry(c).or_insert_with(|| {
                    size += 1;
                    size - 1
                });
            }
        }
        for slot in &mut low {
            if *slot == UNSET {
                *slot = size;
            }
        }
        CharAlphabet {
            low,
            high,
            size: size as usize,
        }
    }
}

impl Alphabet<char> for CharAlphabet {
    fn size(&self) -> usize {
        self.size
    }

    #[inline(always)]
    fn id(&self, symbol: &char) -> u32 {
        let code = *symbol as u32;
        if code < 256 {
            self.low[code as usize]
        } else {
            self.high.get(symbol).copied().unwrap_or(self.size as u32)
        }
    }
}

/// Any `Eq + Hash` token: a hash map of references into the pattern.
pub(crate) struct HashAlphabet<'p, T> {
    map: FastHashMap<&'p T, u32>,
}

impl<'p, T: Eq + Hash> HashAlphabet<'p, T> {
    pub(crate) fn new(pattern: &'p [T]) -> Self {
        let mut map = FastHashMap::with_capacity_and_hasher(pattern.len(), Default::default());
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

        let pattern: Vec<char> = "añ€a😀".chars().collect();
        let c = CharAlphabet::new(&pattern);
        assert_eq!(c.size(), 4);
        assert_eq!(c.id(&'a'), 0);
        assert_eq!(c.id(&'ñ'), 1);
        assert_eq!(c.id(&'€'), 2);
        assert_eq!(c.id(&'😀'), 3);
        assert_eq!(c.id(&'x'), 4);
        assert_eq!(c.id(&'中'), 4);

        let words = ["to", "be", "or", "not", "to", "be"];
        let h = HashAlphabet::new(&words);
        assert_eq!(h.size(), 4);
        assert_eq!(h.id(&"be"), 1);
        assert_eq!(h.id(&"question"), 4);
    }
}
