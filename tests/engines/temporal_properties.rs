//! Properties of the temporal engine on random inputs: metric axioms, agreement of the fast
//! paths with their oracles, band monotonicity, lower bounds, the search's incrementality.

use midstream::engines::temporal::{
    DtwCost, DtwOptions, RepetitionConfig, RepetitionDetector, SearchConfig, StreamingSearch,
    best_match, dtw, dtw_bounded, dtw_path, lb_keogh, lb_kim, lb_kim_fl, lcs_dp, lcs_len,
    lcs_len_str, levenshtein, levenshtein_dp, levenshtein_str, z_normalise,
};
use proptest::prelude::*;

/// Relative slack for comparisons between float sums computed in different orders.
const RTOL: f64 = 1e-9;

fn le(x: f64, y: f64) -> bool {
    x <= y + RTOL * y.abs().max(1.0)
}

/// Texts over an alphabet mixing one-, two-, three- and four-byte UTF-8 scalar values, with
/// lengths that cross the 64-symbol block boundaries.
fn text(max_len: usize) -> impl Strategy<Value = String> {
    let alphabet = vec!['a', 'b', 'c', 'é', 'ß', '中', '文', '😀', '\u{301}'];
    prop::collection::vec(prop::sample::select(alphabet), 0..max_len)
        .prop_map(|chars| chars.into_iter().collect())
}

/// Texts of mostly wide scalar values (ids through the open-addressing table).
fn wide_text(max_len: usize) -> impl Strategy<Value = String> {
    let alphabet = vec!['中', '文', '丰', '😀', '😁', 'é', 'ĉ', 'x'];
    prop::collection::vec(prop::sample::select(alphabet), 0..max_len)
        .prop_map(|chars| chars.into_iter().collect())
}

fn series(min_len: usize, max_len: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-100.0f64..100.0, min_len..max_len)
}

fn cost() -> impl Strategy<Value = DtwCost> {
    prop_oneof![Just(DtwCost::Absolute), Just(DtwCost::Squared)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn levenshtein_is_a_metric_and_matches_the_oracle(
        a in text(200), b in text(200), c in text(80)
    ) {
        let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let d_ab = levenshtein_str(&a, &b);
        prop_assert_eq!(d_ab, levenshtein_dp(&ca, &cb));
        prop_assert_eq!(d_ab, levenshtein(&ca, &cb));
        prop_assert_eq!(d_ab, levenshtein_str(&b, &a));
        prop_assert_eq!(levenshtein_str(&a, &a), 0);
        prop_assert_eq!(d_ab == 0, a == b);
        prop_assert!(d_ab >= ca.len().abs_diff(cb.len()));
        prop_assert!(d_ab <= ca.len().max(cb.len()));
        let d_ac = levenshtein_str(&a, &c);
        let d_cb = levenshtein_str(&c, &b);
        prop_assert!(d_ab <= d_ac + d_cb, "triangle: {} > {} + {}", d_ab, d_ac, d_cb);
    }

    #[test]
    fn near_copies_across_many_blocks_match_the_oracle(
        a in prop::collection::vec(0u8..4, 0..700),
        edits in prop::collection::vec((0usize..700, 0u8..3, 0u8..4), 0..40),
    ) {
        // Small distances between long sequences: narrow Ukkonen bands.
        let mut b = a.clone();
        for &(at, kind, symbol) in &edits {
            let at = at % (b.len() + 1);
            match kind {
                0 => b.insert(at, symbol),
                1 if at < b.len() => { b.remove(at); }
                _ if at < b.len() => b[at] = symbol,
                _ => b.push(symbol),
            }
        }
        prop_assert_eq!(levenshtein(&a, &b), levenshtein_dp(&a, &b));
        prop_assert_eq!(levenshtein(&b, &a), levenshtein_dp(&a, &b));
        prop_assert_eq!(lcs_len(&a, &b), lcs_dp(&a, &b));
    }

    #[test]
    fn lcs_matches_the_oracle_and_is_symmetric(a in text(200), b in text(200)) {
        let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let l = lcs_len_str(&a, &b);
        prop_assert_eq!(l, lcs_dp(&ca, &cb));
        prop_assert_eq!(l, lcs_len(&ca, &cb));
        prop_assert_eq!(l, lcs_len_str(&b, &a));
        prop_assert_eq!(lcs_len_str(&a, &a), ca.len());
        prop_assert!(l <= ca.len().min(cb.len()));
        // Indel distance (no substitutions) bounds Levenshtein from above.
        prop_assert!(levenshtein_str(&a, &b) <= ca.len() + cb.len() - 2 * l);
    }

    #[test]
    fn token_sequences_of_many_blocks_match_the_oracle(
        a in prop::collection::vec(0u16..6, 0..400),
        b in prop::collection::vec(0u16..6, 0..400),
    ) {
        prop_assert_eq!(levenshtein(&a, &b), levenshtein_dp(&a, &b));
        prop_assert_eq!(lcs_len(&a, &b), lcs_dp(&a, &b));
    }

    #[test]
    fn texts_sharing_bytes_but_not_characters_at_their_ends(
        prefix in text(90), a_mid in wide_text(70), b_mid in wide_text(70), suffix in text(90),
        a_end in prop::sample::select(vec!['é', 'è', '©', 'ĉ', '中', '丰', '😀', '😁', 'a']),
        b_end in prop::sample::select(vec!['é', 'è', '©', 'ĉ', '中', '丰', '😀', '😁', 'a']),
    ) {
        // 'é' (C3 A9), 'è' (C3 A8), '©' (C2 A9), 'ĉ' (C4 89): neighbours share a lead or a
        // continuation byte, so a byte-level common prefix or suffix that is not cut back to
        // a character boundary would split a character.
        let a = format!("{prefix}{a_end}{a_mid}{a_end}{suffix}");
        let b = format!("{prefix}{b_end}{b_mid}{b_end}{suffix}");
        let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        prop_assert_eq!(levenshtein_str(&a, &b), levenshtein_dp(&ca, &cb));
        prop_assert_eq!(levenshtein_str(&b, &a), levenshtein_dp(&ca, &cb));
        prop_assert_eq!(lcs_len_str(&a, &b), lcs_dp(&ca, &cb));
    }

    #[test]
    fn large_alphabets_across_block_boundaries_match_the_oracle(
        len_a in prop::sample::select(vec![0usize, 1, 63, 64, 65, 127, 128, 129, 191, 192, 193, 300]),
        len_b in prop::sample::select(vec![0usize, 1, 63, 64, 65, 127, 128, 129, 191, 192, 193, 300]),
        seed in any::<u64>(),
        alphabet in prop::sample::select(vec![3u32, 40, 300, 5000]),
    ) {
        // Code points above U+00FF (ids through the open-addressing table), distances near
        // the lengths: the band is as wide as it gets and its edges move on the values.
        let mut state = seed | 1;
        let mut draw = |len: usize| -> Vec<char> {
            (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let k = (state % u64::from(alphabet)) as u32;
                    // Mix in a few ASCII letters so both tables are used.
                    if k.is_multiple_of(7) { char::from(b'a' + (k % 26) as u8) } else { char::from_u32(0x4E00 + k).unwrap() }
                })
                .collect()
        };
        let (ca, cb) = (draw(len_a), draw(len_b));
        let (a, b): (String, String) = (ca.iter().collect(), cb.iter().collect());
        let want = levenshtein_dp(&ca, &cb);
        prop_assert_eq!(levenshtein_str(&a, &b), want);
        prop_assert_eq!(levenshtein_str(&b, &a), want);
        prop_assert_eq!(levenshtein(&ca, &cb), want);
        let want = lcs_dp(&ca, &cb);
        prop_assert_eq!(lcs_len_str(&a, &b), want);
        prop_assert_eq!(lcs_len(&ca, &cb), want);
    }

    #[test]
    fn edits_near_block_boundaries_match_the_oracle(
        len in prop::sample::select(vec![64usize, 65, 127, 128, 129, 255, 256, 257, 640]),
        edits in prop::collection::vec((0usize..700, 0u8..3, 0u32..100_000), 0..300),
    ) {
        // From identical to unrelated: the band's first and last blocks are dropped and
        // re-entered at every kind of distance. Tokens are u32 ids well above 255.
        let a: Vec<u32> = (0..len as u32).map(|i| i.wrapping_mul(2_654_435_761) % 100_000).collect();
        let mut b = a.clone();
        for &(at, kind, token) in &edits {
            let at = at % (b.len() + 1);
            match kind {
                0 => b.insert(at, token),
                1 if at < b.len() => { b.remove(at); }
                _ if at < b.len() => b[at] = token,
                _ => b.push(token),
            }
        }
        prop_assert_eq!(levenshtein(&a, &b), levenshtein_dp(&a, &b));
        prop_assert_eq!(levenshtein(&b, &a), levenshtein_dp(&a, &b));
        prop_assert_eq!(lcs_len(&a, &b), lcs_dp(&a, &b));
    }

    #[test]
    fn dtw_is_symmetric_with_zero_self_distance(
        a in series(1, 60), b in series(1, 60), cost in cost(), window in prop::option::of(0usize..20)
    ) {
        let options = DtwOptions { cost, window };
        let d = dtw(&a, &b, &options).unwrap();
        prop_assert!(d >= 0.0);
        prop_assert_eq!(d, dtw(&b, &a, &options).unwrap());
        prop_assert_eq!(dtw(&a, &a, &options).unwrap(), 0.0);
        let path = dtw_path(&a, &b, &options).unwrap();
        prop_assert!((path.distance - d).abs() <= RTOL * d.max(1.0));
        for step in path.path.windows(2) {
            let (di, dj) = (step[1].0 - step[0].0, step[1].1 - step[0].1);
            prop_assert!(matches!((di, dj), (1, 0) | (0, 1) | (1, 1)));
        }
    }

    #[test]
    fn a_wider_band_never_increases_dtw(
        a in series(1, 70), b in series(1, 70), cost in cost(), w1 in 0usize..30, extra in 0usize..30
    ) {
        let narrow = dtw(&a, &b, &DtwOptions { cost, window: Some(w1) }).unwrap();
        let wide = dtw(&a, &b, &DtwOptions { cost, window: Some(w1 + extra) }).unwrap();
        let full = dtw(&a, &b, &DtwOptions { cost, window: None }).unwrap();
        prop_assert!(le(wide, narrow), "wide {} > narrow {}", wide, narrow);
        prop_assert!(le(full, wide), "full {} > wide {}", full, wide);
    }

    #[test]
    fn lower_bounds_never_exceed_dtw(
        a in series(1, 70), b in series(1, 70), cost in cost(), window in prop::option::of(0usize..25)
    ) {
        let options = DtwOptions { cost, window };
        let d = dtw(&a, &b, &options).unwrap();
        prop_assert!(le(lb_kim(&a, &b, cost).unwrap(), d));
        prop_assert!(le(lb_kim_fl(&a, &b, cost).unwrap(), d));
        prop_assert!(le(lb_keogh(&a, &b, &options).unwrap(), d));
        prop_assert!(le(lb_keogh(&b, &a, &options).unwrap(), d));
    }

    #[test]
    fn early_abandoning_is_exact(
        a in series(1, 50), b in series(1, 50), cost in cost(), window in prop::option::of(0usize..10),
        fraction in 0.0f64..2.0
    ) {
        let options = DtwOptions { cost, window };
        let d = dtw(&a, &b, &options).unwrap();
        let bound = d * fraction;
        match dtw_bounded(&a, &b, &options, bound).unwrap() {
            Some(v) => {
                prop_assert_eq!(v, d);
                prop_assert!(d <= bound);
            }
            None => prop_assert!(d > bound),
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn search_finds_the_brute_force_best_window(
        steps in prop::collection::vec(-1.0f64..1.0, 80..300),
        query in prop::collection::vec(-3.0f64..3.0, 4..24),
        band in 0usize..6,
        cost in cost(),
    ) {
        let series: Vec<f64> = steps
            .iter()
            .scan(0.0, |level, s| { *level += s; Some(*level) })
            .collect();
        let q = z_normalise(&query);
        let options = DtwOptions { cost, window: Some(band) };
        let profile: Vec<f64> = series
            .windows(query.len())
            .map(|w| dtw(&q, &z_normalise(w), &options).unwrap())
            .collect();
        let best = profile.iter().copied().fold(f64::INFINITY, f64::min);
        let found = best_match(&series, &query, band, cost).unwrap().unwrap();
        prop_assert!((found.distance - best).abs() <= RTOL * best.max(1.0),
            "found {} at {}, brute force {}", found.distance, found.start, best);
        let at = profile[found.start as usize];
        prop_assert!((at - found.distance).abs() <= RTOL * at.max(1.0));
    }

    #[test]
    fn feeding_in_pieces_gives_the_same_matches(
        steps in prop::collection::vec(-1.0f64..1.0, 50..400),
        query_len in 4usize..30,
        band in 0usize..5,
        split in prop::collection::vec(1usize..40, 1..20),
        cost in cost(),
    ) {
        let series: Vec<f64> = steps
            .iter()
            .scan(0.0, |level, s| { *level += s; Some(*level) })
            .collect();
        let query: Vec<f64> = series[..query_len.min(series.len())].iter().map(|v| v.sin()).collect();
        let config = SearchConfig { band, threshold: 3.0, cost, exclusion: None };
        let mut whole = StreamingSearch::new(&query, config).unwrap();
        let mut expected = Vec::new();
        whole.extend(&series, &mut expected);
        expected.extend(whole.finish());
        let mut pieces = StreamingSearch::new(&query, config).unwrap();
        let mut got = Vec::new();
        let mut at = 0;
        for len in split.iter().cycle() {
            if at >= series.len() { break; }
            let end = (at + len).min(series.len());
            pieces.extend(&series[at..end], &mut got);
            at = end;
        }
        got.extend(pieces.finish());
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn an_exact_repeat_is_flagged_with_its_period(
        prefix in prop::collection::vec(0u32..1000, 0..40),
        phrase in prop::collection::vec(1000u32..2000, 12..30),
        gap in prop::collection::vec(2000u32..3000, 0..20),
    ) {
        let config = RepetitionConfig { window: 8, max_edits: 1, lookback: 128 };
        let mut detector = RepetitionDetector::new(config).unwrap();
        let tokens: Vec<String> = prefix.iter().chain(&phrase).chain(&gap).chain(&phrase)
            .map(|t| format!("t{t}"))
            .collect();
        let mut last = None;
        for t in &tokens {
            last = detector.push(t);
        }
        let repetition = last.expect("the repeated phrase is flagged");
        prop_assert_eq!(repetition.edits, 0);
        prop_assert_eq!(repetition.period, (phrase.len() + gap.len()) as u64);
    }
}
