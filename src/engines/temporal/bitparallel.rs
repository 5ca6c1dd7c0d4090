//! Bit-parallel kernels over dense symbol ids: Levenshtein distance (Myers 1999, "A fast
//! bit-vector algorithm for approximate string matching based on dynamic programming", JACM
//! 46(3), in the block form of Hyyrö 2003 and Edlib), its approximate-search variant (Sellers'
//! free start), and the LCS length (Allison & Dix 1986; Hyyrö 2004, "Bit-parallel LCS-length
//! computation revisited").
//!
//! The pattern (the shorter sequence) is held as one match mask per symbol, split into 64-bit
//! blocks; each text symbol then advances a whole column of the DP matrix in a few word
//! operations per block: O(⌈m/64⌉ · n) time.

use super::alphabet::Alphabet;

/// Bits per block.
const WORD: usize = 64;

/// Match masks of a pattern: bit `i` of the masks of symbol `s` is set when `pattern[i] == s`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PatternMasks {
    len: usize,
    blocks: usize,
    /// `(alphabet size + 1) · blocks` words; the last row (absent symbols) is zero.
    masks: Vec<u64>,
}

impl PatternMasks {
    /// Masks of `pattern` under `alphabet` (built from that pattern).
    pub(crate) fn build<S, A: Alphabet<S>>(pattern: &[S], alphabet: &A) -> Self {
        let mut masks = PatternMasks::default();
        masks.rebuild(
            pattern.iter().map(|s| alphabet.id(s)),
            pattern.len(),
            alphabet.size(),
        );
        masks
    }

    /// Refills the masks from pattern ids in `0..alphabet_size`, reusing the allocation.
    pub(crate) fn rebuild(
        &mut self,
        ids: impl Iterator<Item = u32>,
        len: usize,
        alphabet_size: usize,
    ) {
        self.len = len;
        self.blocks = len.div_ceil(WORD).max(1);
        self.masks.clear();
        self.masks.resize((alphabet_size + 1) * self.blocks, 0);
        for (i, id) in ids.enumerate() {
            self.masks[id as usize * self.blocks + i / WORD] |= 1u64 << (i % WORD);
        }
    }

    #[inline(always)]
    fn row(&self, id: u32) -> &[u64] {
        let start = id as usize * self.blocks;
        &self.masks[start..start + self.blocks]
    }
}

/// One column step of Myers' algorithm on one block (Myers 1999, Fig. 5 and §4; the block
/// interface of Edlib's `calculateBlock`): `pv`/`mv` are the block's vertical +1/−1 deltas,
/// `hin_pos`/`hin_neg` the horizontal delta entering at its top (one bit each). Returns the
/// horizontal deltas `(ph, mh)` before the shift: bit `i` is the delta leaving row `i`.
#[inline(always)]
fn advance_block(pv: &mut u64, mv: &mut u64, eq: u64, hin_pos: u64, hin_neg: u64) -> (u64, u64) {
    let xv = eq | *mv;
    let eq = eq | hin_neg;
    let xh = ((eq & *pv).wrapping_add(*pv) ^ *pv) | eq;
    let ph = *mv | !(xh | *pv);
    let mh = *pv & xh;
    let ph_shifted = (ph << 1) | hin_pos;
    let mh_shifted = (mh << 1) | hin_neg;
    *pv = mh_shifted | !(xv | ph_shifted);
    *mv = ph_shifted & xv;
    (ph, mh)
}

/// Levenshtein distance between the pattern and a text of `text_len` symbols, given an upper
/// bound on it (global alignment: the top row is `D(0, j) = j`, so +1 enters the first block
/// at every column). Bits above the pattern's length in the last block hold garbage, which
/// only ever flows upwards (carries and left shifts), so the score is read at bit
/// `(m − 1) mod 64`.
///
/// Ukkonen's cut-off (1985, "Algorithms for approximate string matching", Inf. Control 64),
/// in the block form of Edlib (Šošić & Šikić 2017): a cell `(i, j)` on a path of cost at most
/// `upper_bound` satisfies `|i − j| + |(m − i) − (n − j)| ≤ upper_bound`, so each column only
/// computes the blocks meeting that band. Blocks above it are dropped (the first computed
/// block takes +1 from above, an overestimate of the true delta), and a block entering the
/// band at the bottom starts from +1 vertical deltas below the block above (an overestimate of
/// the true values). Overestimates outside the band only lengthen paths that already cost more
/// than the bound, so the distance, at most `upper_bound`, comes out exact.
pub(crate) fn levenshtein(
    pm: &PatternMasks,
    text: impl Iterator<Item = u32>,
    text_len: usize,
    upper_bound: usize,
) -> usize {
    let m = pm.len;
    if m == 0 {
        return text_len;
    }
    let last_bit = (m - 1) % WORD;
    let score_delta =
        |ph: u64, mh: u64, bit: usize| ((ph >> bit) & 1) as i64 - ((mh >> bit) & 1) as i64;
    if pm.blocks == 1 {
        let mut score = m as i64;
        let (mut pv, mut mv) = (!0u64, 0u64);
        for id in text {
            let (ph, mh) = advance_block(&mut pv, &mut mv, pm.row(id)[0], 1, 0);
            score += score_delta(ph, mh, last_bit);
        }
        return score as usize;
    }
    let blocks = pm.blocks;
    let (m_i, n_i) = (m as i64, text_len as i64);
    let length_gap = n_i - m_i;
    let bound = (upper_bound as i64).max(length_gap.abs());
    // Rows i (1-based) of column j (1-based) inside the band: j + low ≤ i ≤ j + high.
    let low = -((bound + length_gap).div_euclid(2));
    let high = (bound - length_gap).div_euclid(2);
    let block_of_row = |row: i64| ((row - 1) / WORD as i64) as usize;
    let rows_in_block = |w: usize| (((w + 1) * WORD).min(m) - w * WORD) as i64;
    let bottom_bit = |w: usize| if w == blocks - 1 { last_bit } else { WORD - 1 };

    // (positive, negative) vertical deltas of each block, side by side for locality.
    let mut vertical = vec![(!0u64, 0u64); blocks];
    // Column 0 is D(i, 0) = i, exact in every block. `last` is the lowest block computed so
    // far and `last_bottom` the value at its bottom row in the last column computed.
    let mut last = block_of_row((1 + high).min(m_i));
    let mut last_bottom = ((last + 1) * WORD).min(m) as i64;
    // The blocks column `column` computes, `first..=last`; `last_bottom` moves to the value
    // a block entering at the bottom starts from (+1 per row below the block above).
    let enter_column = |column: i64, last: &mut usize, last_bottom: &mut i64| {
        let first = block_of_row((column + low).max(1));
        let lowest = block_of_row((column + high).min(m_i));
        if lowest > *last {
            // One block enters per column (the band moves down one row per column).
            *last_bottom += rows_in_block(lowest);
            *last = lowest;
        }
        first
    };
    let mut text = text;
    let mut column = 0i64;
    loop {
        let (Some(id1), second) = (text.next(), text.next()) else {
            break;
        };
        column += 1;
        let first1 = enter_column(column, &mut last, &mut last_bottom);
        let last1 = last;
        let eqs1 = pm.row(id1);
        let Some(id2) = second else {
            // A last, unpaired column.
            let (body, tail) = vertical[first1..=last1].split_at_mut(last1 - first1);
            let (mut pos, mut neg) = (1u64, 0u64);
            for ((pv, mv), &eq) in body.iter_mut().zip(&eqs1[first1..last1]) {
                let (ph, mh) = advance_block(pv, mv, eq, pos, neg);
                pos = ph >> 63;
                neg = mh >> 63;
            }
            let (pv, mv) = &mut tail[0];
            let (ph, mh) = advance_block(pv, mv, eqs1[last1], pos, neg);
            last_bottom += score_delta(ph, mh, bottom_bit(last1));
            break;
        };
        // Two columns per pass over the blocks: block w of column j + 1 needs block w of
        // column j and block w − 1 of column j + 1, so the two carry chains run side by side
        // (one block apart) and the processor overlaps them.
        let eqs2 = pm.row(id2);
        let (mut pos1, mut neg1) = (1u64, 0u64);
        let (mut pos2, mut neg2) = (1u64, 0u64);
        let first2 = block_of_row((column + 1 + low).max(1));
        // Blocks only the first column computes (the band's top moved down past them).
        for w in first1..first2.min(last1 + 1) {
            let (pv, mv) = &mut vertical[w];
            let (ph, mh) = advance_block(pv, mv, eqs1[w], pos1, neg1);
            pos1 = ph >> 63;
            neg1 = mh >> 63;
        }
        // Blocks both compute, but for the first column's last one.
        let shared = first2.max(first1)..last1;
        for ((pv, mv), (&eq1, &eq2)) in vertical[shared.clone()]
            .iter_mut()
            .zip(eqs1[shared.clone()].iter().zip(&eqs2[shared]))
        {
            let (ph, mh) = advance_block(pv, mv, eq1, pos1, neg1);
            pos1 = ph >> 63;
            neg1 = mh >> 63;
            let (ph, mh) = advance_block(pv, mv, eq2, pos2, neg2);
            pos2 = ph >> 63;
            neg2 = mh >> 63;
        }
        // The first column's last block, with its score, then the second column there.
        {
            let (pv, mv) = &mut vertical[last1];
            let (ph, mh) = advance_block(pv, mv, eqs1[last1], pos1, neg1);
            last_bottom += score_delta(ph, mh, bottom_bit(last1));
        }
        column += 1;
        let first2 = enter_column(column, &mut last, &mut last_bottom);
        let last2 = last;
        let mut w = last1.max(first2);
        if first2 > last1 {
            // The second column starts below the first one's blocks: its top block takes +1.
            (pos2, neg2) = (1, 0);
        }
        loop {
            let (pv, mv) = &mut vertical[w];
            let (ph, mh) = advance_block(pv, mv, eqs2[w], pos2, neg2);
            if w == last2 {
                last_bottom += score_delta(ph, mh, bottom_bit(last2));
                break;
            }
            pos2 = ph >> 63;
            neg2 = mh >> 63;
            w += 1;
        }
    }
    last_bottom as usize
}

/// Approximate search (Sellers 1980: the pattern may start anywhere in the text, so nothing
/// enters the top row): the smallest edit distance between the pattern and a substring of
/// the text, and the index of the text position where the latest such substring ends.
/// `None` for an empty text or an empty pattern.
pub(crate) fn best_substring_match(
    pm: &PatternMasks,
    text: impl Iterator<Item = u32>,
) -> Option<(usize, usize)> {
    let m = pm.len;
    if m == 0 {
        return None;
    }
    let last_bit = (m - 1) % WORD;
    let blocks = pm.blocks;
    let mut vertical = vec![(!0u64, 0u64); blocks];
    let mut score = m as i64;
    let mut best: Option<(usize, usize)> = None;
    for (j, id) in text.enumerate() {
        let eqs = pm.row(id);
        let (body, last) = vertical.split_at_mut(blocks - 1);
        let (mut hin_pos, mut hin_neg) = (0u64, 0u64);
        for ((pv, mv), &eq) in body.iter_mut().zip(eqs) {
            let (ph, mh) = advance_block(pv, mv, eq, hin_pos, hin_neg);
            hin_pos = ph >> 63;
            hin_neg = mh >> 63;
        }
        let (pv, mv) = &mut last[0];
        let (ph, mh) = advance_block(pv, mv, eqs[blocks - 1], hin_pos, hin_neg);
        score += ((ph >> last_bit) & 1) as i64 - ((mh >> last_bit) & 1) as i64;
        let d = score as usize;
        if best.is_none_or(|(bd, _)| d <= bd) {
            best = Some((d, j));
        }
    }
    best
}

/// One block of Hyyrö's LCS step, with the addition's carry in and out (0 or 1).
#[inline(always)]
fn lcs_step(word: u64, eq: u64, carry: &mut u64) -> u64 {
    let u = word & eq;
    let (sum, c1) = word.overflowing_add(u);
    let (sum, c2) = sum.overflowing_add(*carry);
    *carry = u64::from(c1 | c2);
    sum | (word ^ u)
}

/// Length of the longest common subsequence of the pattern and the text (Hyyrö 2004, eq. 2:
/// `V′ = (V + (V & M)) | (V & !M)`, with the carry of the addition running across blocks);
/// the LCS length is the number of zero bits among the pattern's `m` bits.
pub(crate) fn lcs(pm: &PatternMasks, text: impl Iterator<Item = u32>) -> usize {
    let m = pm.len;
    if m == 0 {
        return 0;
    }
    let blocks = pm.blocks;
    let zeros = |v: &[u64]| -> usize {
        v.iter()
            .enumerate()
            .map(|(w, &word)| {
                let valid = if (w + 1) * WORD <= m {
                    !0u64
                } else {
                    (1u64 << (m - w * WORD)) - 1
                };
                (!word & valid).count_ones() as usize
            })
            .sum()
    };
    if blocks == 1 {
        let mut v = !0u64;
        for id in text {
            let u = v & pm.row(id)[0];
            v = v.wrapping_add(u) | (v ^ u);
        }
        return zeros(&[v]);
    }
    let mut v = vec![!0u64; blocks];
    let mut text = text;
    while let Some(first) = text.next() {
        let e1 = pm.row(first);
        if let Some(second) = text.next() {
            // Two columns per pass over the blocks (see `levenshtein`).
            let e2 = pm.row(second);
            let (mut carry1, mut carry2) = (0u64, 0u64);
            for ((word, &eq1), &eq2) in v.iter_mut().zip(e1).zip(e2) {
                let x = lcs_step(*word, eq1, &mut carry1);
                *word = lcs_step(x, eq2, &mut carry2);
            }
        } else {
            let mut carry = 0u64;
            for (word, &eq) in v.iter_mut().zip(e1) {
                *word = lcs_step(*word, eq, &mut carry);
            }
        }
    }
    zeros(&v)
}
