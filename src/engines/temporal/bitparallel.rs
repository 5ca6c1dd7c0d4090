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

    /// Masks of a pattern given as ids in `0..alphabet_size`.
    pub(crate) fn from_ids(ids: &[u32], alphabet_size: usize) -> Self {
        let mut masks = PatternMasks::default();
        masks.rebuild(ids.iter().copied(), ids.len(), alphabet_size);
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
/// Only a band of blocks is computed in each column, after Ukkonen (1985, "Algorithms for
/// approximate string matching", Inf. Control 64) in the block form of Edlib (Šošić & Šikić
/// 2017) and of rapidfuzz's `levenshtein_hyrroe2003_block`: with `k` an upper bound on the
/// distance, a cell `(i, j)` can only lie on a path of cost at most `k` if
/// `V(i, j) + |(m − i) − (n − j)| ≤ k`, the second term being what the rest of the path must
/// still pay. The band is kept with the values themselves, two columns at a time (see
/// [`BandEdge`]): the first and last blocks are dropped once no cell of theirs can meet that
/// condition in the next two columns, and a block is added below the last one once a cell of
/// it might. Rows above the band are treated as +1 from above and a block entering at the
/// bottom starts from +1 vertical deltas below the block above: both overestimate, which only
/// lengthens paths already above `k`. `k` itself shrinks as the columns go: from the last
/// block's bottom row `R` in column `j`, `max(n − j, m − R)` more operations always finish the
/// alignment. So the distance, at most every `k`, comes out exact.
///
/// Two text columns are computed per pass over the blocks: block `w` of column `j + 1` needs
/// block `w` of column `j` and block `w − 1` of column `j + 1`, so the two carry chains run
/// side by side, one block apart, and the processor overlaps them.
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
    let edge = BandEdge {
        m: m as i64,
        n: text_len as i64,
    };
    let mut k = (upper_bound as i64).max(edge.n - edge.m);
    let bottom_bit = |w: usize| if w == blocks - 1 { last_bit } else { WORD - 1 };
    // The sum of the vertical deltas of block w: its bottom value minus the one above it.
    let rise = |(pv, mv): (u64, u64), w: usize| {
        let valid = if w == blocks - 1 && last_bit < WORD - 1 {
            (1u64 << (last_bit + 1)) - 1
        } else {
            !0
        };
        i64::from((pv & valid).count_ones()) - i64::from((mv & valid).count_ones())
    };

    // (positive, negative) vertical deltas of each block, side by side for locality.
    let mut vertical = vec![(!0u64, 0u64); blocks];
    // Column 0 is V(i, 0) = i, exact in every block. The band is `first..=last`, with the
    // values at the bottom rows of those two blocks in the last column computed, and the value
    // on the row above `first` (row 0 is D(0, j) = j; above a later first block, +1 per
    // column from the value it had when the block above was dropped, as the kernel assumes).
    let mut first = 0usize;
    let mut last = 0usize;
    let mut first_above = 0i64;
    let mut first_bottom = edge.bottom_row(0);
    let mut last_bottom = first_bottom;
    let mut column = 0i64;
    let mut text = text;
    loop {
        // Blocks below the band that the next two columns may need.
        while last + 1 < blocks && edge.may_enter(last + 1, last_bottom, column, k) {
            last += 1;
            vertical[last] = (!0, 0);
            last_bottom += edge.bottom_row(last) - edge.bottom_row(last - 1);
        }
        while last > first && edge.all_out(last, last_bottom, None, column, k) {
            last_bottom -= rise(vertical[last], last);
            last -= 1;
        }
        while first < last
            && (edge.above_diagonal_band(first, column, k)
                || edge.all_out(first, first_bottom, Some(first_above), column, k))
        {
            first_above = first_bottom;
            first += 1;
            first_bottom += rise(vertical[first], first);
        }
        let (Some(id1), second) = (text.next(), text.next()) else {
            break;
        };
        let eqs1 = pm.row(id1);
        let Some(id2) = second else {
            // A last, unpaired column.
            let (mut pos, mut neg) = (1u64, 0u64);
            for w in first..=last {
                let (pv, mv) = &mut vertical[w];
                let (ph, mh) = advance_block(pv, mv, eqs1[w], pos, neg);
                if w == last {
                    last_bottom += score_delta(ph, mh, bottom_bit(w));
                }
                pos = ph >> 63;
                neg = mh >> 63;
            }
            column += 1;
            break;
        };
        let eqs2 = pm.row(id2);
        let (mut pos1, mut neg1) = (1u64, 0u64);
        let (mut pos2, mut neg2) = (1u64, 0u64);
        if first < last {
            let (pv, mv) = &mut vertical[first];
            let (ph1, mh1) = advance_block(pv, mv, eqs1[first], pos1, neg1);
            let (ph2, mh2) = advance_block(pv, mv, eqs2[first], pos2, neg2);
            first_bottom += score_delta(ph1, mh1, WORD - 1) + score_delta(ph2, mh2, WORD - 1);
            (pos1, neg1, pos2, neg2) = (ph1 >> 63, mh1 >> 63, ph2 >> 63, mh2 >> 63);
        }
        let middle = (first + 1).min(last)..last;
        for ((pv, mv), (&eq1, &eq2)) in vertical[middle.clone()]
            .iter_mut()
            .zip(eqs1[middle.clone()].iter().zip(&eqs2[middle]))
        {
            let (ph1, mh1) = advance_block(pv, mv, eq1, pos1, neg1);
            let (ph2, mh2) = advance_block(pv, mv, eq2, pos2, neg2);
            (pos1, neg1, pos2, neg2) = (ph1 >> 63, mh1 >> 63, ph2 >> 63, mh2 >> 63);
        }
        let (pv, mv) = &mut vertical[last];
        let (ph1, mh1) = advance_block(pv, mv, eqs1[last], pos1, neg1);
        let (ph2, mh2) = advance_block(pv, mv, eqs2[last], pos2, neg2);
        let bit = bottom_bit(last);
        last_bottom += score_delta(ph1, mh1, bit) + score_delta(ph2, mh2, bit);
        if first == last {
            first_bottom = last_bottom;
        }
        column += 2;
        first_above += 2;
        k = k.min(last_bottom + (edge.n - column).max(edge.m - edge.bottom_row(last)));
    }
    debug_assert_eq!(column, edge.n);
    debug_assert_eq!(last, blocks - 1);
    last_bottom as usize
}

/// The band conditions of [`levenshtein`] for a pattern of `m` rows against a text of `n`
/// columns, rows counted from 1, after column `j` has been computed and for the next two
/// columns `j + 1` and `j + 2`.
///
/// Two facts bound unknown values from known ones: values change by at most one from a cell
/// to its neighbour (so `V(i, j + t) ≥ V(i, j) − t`, and within a column `V(i, j) ≥ V(R, j) −
/// |R − i|`), and a path through `(i, j′)` still pays at least the length difference of what
/// remains, `|(m − i) − (n − j′)|`.
struct BandEdge {
    m: i64,
    n: i64,
}

impl BandEdge {
    /// The bottom row of block `w`.
    fn bottom_row(&self, w: usize) -> i64 {
        (((w + 1) * WORD) as i64).min(self.m)
    }

    /// The top row of block `w`.
    fn top_row(&self, w: usize) -> i64 {
        (w * WORD) as i64 + 1
    }

    /// True when no cell of block `w` can be on a path of cost at most `k` in columns `j + 1`
    /// or `j + 2`, given the value `bottom` at its bottom row `R` in column `j` and, when
    /// known, the value `above` on the row above its top row `r₀`. With
    /// `c_t = m − n + j + t`, a cell `i` of the block is bounded below both by
    /// `bottom − (R − i) − t + |c_t − i|`, non-decreasing in `i` (the top row decides), and by
    /// `above − (i − r₀ + 1) − t + |c_t − i|`, non-increasing in `i` (the bottom row
    /// decides); either bound above `k` everywhere rules the block out. Each bound has the
    /// form `x − t + |c₀ + t − r|`, which does not increase with `t` (a step of `t` changes it
    /// by −2 or 0), so column `j + 2` is the one to check.
    fn all_out(&self, w: usize, bottom: i64, above: Option<i64>, j: i64, k: i64) -> bool {
        let (top, bottom_row) = (self.top_row(w), self.bottom_row(w));
        let (t, c) = (2, self.m - self.n + j + 2);
        let from_below = bottom - (bottom_row - top) - t + (c - top).abs();
        let from_above = above.map_or(i64::MIN, |above| {
            above - (bottom_row - top + 1) - t + (c - bottom_row).abs()
        });
        from_below.max(from_above) > k
    }

    /// True when block `w` lies wholly above Ukkonen's diagonal band of column `j + 1` (and so
    /// of `j + 2`): its rows `i` have `|i − j′| + |(m − i) − (n − j′)| > k`, a bound that needs
    /// no values and is sharper than [`BandEdge::all_out`] above the diagonal.
    fn above_diagonal_band(&self, w: usize, j: i64, k: i64) -> bool {
        let gap = self.n - self.m;
        let low = -((k + gap).div_euclid(2));
        self.bottom_row(w) < j + 1 + low
    }

    /// True when a cell of block `w`, just below the band's last block (whose bottom row holds
    /// `above` in column `j`), might be on a path of cost at most `k` in column `j + 1` or
    /// `j + 2`. A cell `i` below the row `R` above is bounded by `above − t − (i − R) +
    /// |c_t − i|`, non-increasing in `i`, so the block's bottom row decides; it does not
    /// increase with `t` either (see [`BandEdge::all_out`]), so column `j + 2` decides.
    fn may_enter(&self, w: usize, above: i64, j: i64, k: i64) -> bool {
        let (r, bottom_row) = (self.top_row(w) - 1, self.bottom_row(w));
        let (t, c) = (2, self.m - self.n + j + 2);
        above - t - (bottom_row - r) + (c - bottom_row).abs() <= k
    }
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

/// One block of Hyyrö's LCS step, with the addition's carry in and out (0 or 1). The sum is
/// taken in 128 bits so that the carry comes out of the add-with-carry instruction itself
/// (the carry chain from block to block is then two instructions long, not five).
#[inline(always)]
fn lcs_step(word: u64, eq: u64, carry: &mut u64) -> u64 {
    let u = word & eq;
    let wide = u128::from(word) + u128::from(u) + u128::from(*carry);
    *carry = (wide >> 64) as u64;
    (wide as u64) | (word ^ u)
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
