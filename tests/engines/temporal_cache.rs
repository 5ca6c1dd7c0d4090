//! The content cache: results are keyed on the content of both sequences and the
//! parameters, so two different sequences (in particular of equal length) never share an
//! entry, and the LRU and size bounds hold.

use midstream::engines::temporal::{
    CacheBounds, Comparison, ContentCache, DtwCost, DtwOptions, dtw, lcs_len_str, levenshtein_str,
};
use proptest::prelude::*;

fn text(max_len: usize) -> impl Strategy<Value = String> {
    let alphabet = vec!['a', 'b', 'é', '中', '😀'];
    prop::collection::vec(prop::sample::select(alphabet), 0..max_len)
        .prop_map(|chars| chars.into_iter().collect())
}

fn series(min_len: usize, max_len: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-100.0f64..100.0, min_len..max_len)
}

fn cost() -> impl Strategy<Value = DtwCost> {
    prop_oneof![Just(DtwCost::Absolute), Just(DtwCost::Squared)]
}

#[test]
fn equal_length_sequences_with_the_same_sum_get_their_own_entries() {
    // Same length, same sum, same multiset of values: only the order differs.
    let a = [1.0, 2.0, 3.0, 4.0];
    let reordered = [4.0, 3.0, 2.0, 1.0];
    let b = [1.0, 2.0, 3.0, 4.0];
    let options = DtwOptions::new(DtwCost::Absolute);
    let mut cache = ContentCache::<f64>::new(CacheBounds {
        max_entries: 8,
        max_bytes: 1 << 16,
    })
    .unwrap();
    assert_eq!(cache.dtw(&a, &b, &options).unwrap(), 0.0);
    assert_eq!(
        cache.get(Comparison::Dtw(options), &reordered[..], &b[..]),
        None
    );
    let d = cache.dtw(&reordered, &b, &options).unwrap();
    assert_eq!(d, dtw(&reordered, &b, &options).unwrap());
    assert!(d > 0.0);
    // The band is part of the key too.
    let banded = options.with_window(0);
    assert_eq!(
        cache.get(Comparison::Dtw(banded), &reordered[..], &b[..]),
        None
    );
    assert_eq!(
        cache.dtw(&reordered, &b, &banded).unwrap(),
        dtw(&reordered, &b, &banded).unwrap()
    );
    assert_eq!(cache.len(), 3);
    // Texts of equal length.
    let mut texts = ContentCache::<usize>::new(CacheBounds {
        max_entries: 8,
        max_bytes: 1 << 16,
    })
    .unwrap();
    assert_eq!(texts.levenshtein_str("abcd", "abcd"), 0);
    assert_eq!(texts.levenshtein_str("abdc", "abcd"), 2);
    assert_eq!(texts.stats().hits, 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_cache_never_serves_another_sequence_of_the_same_length(
        a in series(1, 40), delta in 1e-6f64..10.0, index in 0usize..40, b in series(1, 40), cost in cost()
    ) {
        let mut other = a.clone();
        let k = index % other.len();
        other[k] += delta;
        prop_assume!(other[k] != a[k]);
        let options = DtwOptions { cost, window: None };
        let mut cache = ContentCache::<f64>::new(CacheBounds { max_entries: 16, max_bytes: 1 << 20 }).unwrap();
        let first = cache.dtw(&a, &b, &options).unwrap();
        prop_assert_eq!(cache.get(Comparison::Dtw(options), &other[..], &b[..]), None);
        let second = cache.dtw(&other, &b, &options).unwrap();
        prop_assert_eq!(second, dtw(&other, &b, &options).unwrap());
        prop_assert_eq!(first, dtw(&a, &b, &options).unwrap());
        prop_assert_eq!(cache.len(), 2);
        prop_assert_eq!(cache.stats().hits, 0);
        // And each is served to itself.
        prop_assert_eq!(cache.dtw(&a, &b, &options).unwrap(), first);
        prop_assert_eq!(cache.stats().hits, 1);
    }

    #[test]
    fn the_cache_keys_texts_by_content(a in text(30), b in text(30), c in text(30)) {
        let mut cache = ContentCache::<usize>::new(CacheBounds { max_entries: 4, max_bytes: 1 << 16 }).unwrap();
        for (x, y) in [(&a, &b), (&b, &c), (&a, &c), (&c, &a), (&a, &b)] {
            prop_assert_eq!(cache.levenshtein_str(x, y), levenshtein_str(x, y));
            prop_assert_eq!(cache.lcs_len_str(x, y), lcs_len_str(x, y));
        }
    }
}
