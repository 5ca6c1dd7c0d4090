//! A small, fast, non-cryptographic hasher for the engine's internal hash maps.
//!
//! The alphabet maps of the bit-parallel string algorithms look up one symbol per text
//! position, so the hasher's speed is on the hot path; SipHash (the standard library's
//! default) costs more than the bit-parallel step itself. This is the multiply-rotate scheme
//! of rustc's `FxHasher`, written out here (a dozen lines) rather than pulling in a crate,
//! with a final avalanche (the `fmix64` step of MurmurHash3) so that the low bits that
//! `HashMap` uses depend on every input bit. Keys come from the process's own data, and every
//! lookup compares full keys, so a weak hash can only cost time, never give a wrong answer.

use std::hash::{BuildHasherDefault, Hasher};

/// Multiplier of the Fx hash (rustc's `FxHasher`, from Firefox): an odd constant with good
/// bit dispersion.
const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// Builds [`FastHasher`]s for `HashMap`s.
pub(crate) type FastBuildHasher = BuildHasherDefault<FastHasher>;

/// A `HashMap` keyed with [`FastHasher`].
pub(crate) type FastHashMap<K, V> = std::collections::HashMap<K, V, FastBuildHasher>;

/// Fx-style word hasher; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher {
    state: u64,
}

impl FastHasher {
    #[inline]
    fn add_word(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add_word(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            // The length tag keeps "ab" and "ab\0" apart.
            self.add_word(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add_word(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add_word(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add_word(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add_word(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add_word(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fmix64(self.state)
    }
}

/// The finaliser of MurmurHash3 (Appleby): every output bit depends on every input bit.
#[inline]
pub(crate) fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hash;

    fn hash_of<T: Hash>(value: &T) -> u64 {
        let mut hasher = FastHasher::default();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn distinguishes_nearby_keys() {
        assert_ne!(hash_of(&"ab"), hash_of(&"ba"));
        assert_ne!(hash_of(&b"ab".as_slice()), hash_of(&b"ab\0".as_slice()));
        assert_ne!(hash_of(&1u64), hash_of(&2u64));
        assert_eq!(hash_of(&"same"), hash_of(&"same"));
    }

    #[test]
    fn murmur_finaliser_matches_published_value() {
        // fmix64(0) is 0; fmix64(1) as computed independently (Python, from the smhasher
        // definition of `fmix64` in MurmurHash3.cpp).
        assert_eq!(fmix64(0), 0);
        assert_eq!(fmix64(1), 0xb456_bcfc_34c2_cb2c);
    }
}
