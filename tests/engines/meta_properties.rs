//! Properties of the meta engine on random inputs, against the brute-force oracle of
//! `meta_support` (the definition, O(n²m)): equality with it, the nearest-neighbour property,
//! invariance under affine changes of scale, the streaming profile's equality with the batch
//! one, and the motif and discord rules.

use crate::meta_support::{Xorshift, distance, distance_matrix, exclusion, profile};
use midstream::engines::meta::{
    MatrixProfile, MatrixProfileError, StreamingMatrixProfile, discords, matrix_profile,
    max_window, min_samples, motifs,
};
use proptest::prelude::*;

/// Agreement with the oracle: relative on the distance, or on the correlation behind it for
/// close pairs (`√(2m(1 − ρ))` magnifies rounding as pairs get close; see meta_fixtures.rs).
const RTOL: f64 = 1e-9;
const CORRELATION_ATOL: f64 = 1e-12;

fn close(got: f64, want: f64, m: usize) -> bool {
    (got - want).abs() <= RTOL * want
        || (got * got - want * want).abs() <= 2.0 * m as f64 * CORRELATION_ATOL
}

fn le(x: f64, y: f64, m: usize) -> bool {
    x <= y || close(x, y, m)
}

/// A series and a window whose profile is defined: uniform reals, small integers (constant
/// windows and exact ties), or random walks.
fn series_and_window(max_len: usize) -> impl Strategy<Value = (Vec<f64>, usize)> {
    let values = prop_oneof![
        prop::collection::vec(-100.0f64..100.0, 6..max_len),
        prop::collection::vec((0..4u8).prop_map(f64::from), 6..max_len),
        (any::<u64>(), 6..max_len).prop_map(|(seed, n)| Xorshift(seed | 1).random_walk(n)),
    ];
    values.prop_flat_map(|series| {
        let max = max_window(series.len()).expect("6 samples take a window of 3");
        (Just(series), 3..=max)
    })
}

fn check_against_oracle(series: &[f64], m: usize, p: &MatrixProfile) -> Result<(), TestCaseError> {
    let matrix = distance_matrix(series, m);
    let want = profile(&matrix);
    prop_assert_eq!(p.len(), series.len() - m + 1);
    prop_assert_eq!(p.exclusion, exclusion(m));
    for i in 0..p.len() {
        prop_assert!(
            close(p.distance[i], want[i], m),
            "i={} {} vs {}",
            i,
            p.distance[i],
            want[i]
        );
        let j = p.index[i];
        prop_assert!(
            j < p.len() && i.abs_diff(j) > p.exclusion,
            "i={} j={}",
            i,
            j
        );
        // The index attains the profile value, and nothing non-trivial is nearer.
        prop_assert!(close(matrix[i][j], p.distance[i], m), "i={} j={}", i, j);
        for (k, &d) in matrix[i].iter().enumerate() {
            if i.abs_diff(k) > p.exclusion {
                prop_assert!(
                    le(p.distance[i], d, m),
                    "P[{}] = {} > d({}, {}) = {}",
                    i,
                    p.distance[i],
                    i,
                    k,
                    d
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn profile_equals_the_definition((series, m) in series_and_window(90)) {
        let p = matrix_profile(&series, m).expect("defined");
        check_against_oracle(&series, m, &p)?;
    }

    #[test]
    fn affine_changes_of_the_series_change_nothing(
        (series, m) in series_and_window(90),
        scale in prop_oneof![0.5f64..4.0, -4.0f64..-0.5],
        shift in -1000.0f64..1000.0,
    ) {
        let p = matrix_profile(&series, m).expect("defined");
        let moved: Vec<f64> = series.iter().map(|x| scale * x + shift).collect();
        let q = matrix_profile(&moved, m).expect("defined");
        for i in 0..p.len() {
            // The moved samples are rounded: agreement to a few ulps of the shift over the
            // windows' spread.
            let (a, b) = (q.distance[i], p.distance[i]);
            prop_assert!(
                (a - b).abs() <= 1e-6 * b || (a * a - b * b).abs() <= 2e-9 * m as f64,
                "i={} {} vs {}", i, a, b
            );
        }
    }

    #[test]
    fn streaming_equals_batch((series, m) in series_and_window(120), split in 0usize..120) {
        let batch = matrix_profile(&series, m).expect("defined");
        let mut one_by_one = StreamingMatrixProfile::new(m).expect("window");
        for (k, &x) in series.iter().enumerate() {
            one_by_one.push(x).expect("finite");
            prop_assert_eq!(one_by_one.is_defined(), k + 1 >= min_samples(m));
            if !one_by_one.is_defined() {
                let is_too_large = matches!(
                    one_by_one.profile(),
                    Err(MatrixProfileError::WindowTooLarge { .. })
                );
                prop_assert!(is_too_large);
            }
        }
        let split = split.min(series.len());
        let mut seeded = StreamingMatrixProfile::with_series(&series[..split], m).expect("seed");
        seeded.extend(&series[split..]).expect("finite");
        prop_assert_eq!(seeded.len(), series.len());
        for streamed in [one_by_one.profile().expect("defined"), seeded.profile().expect("defined")] {
            prop_assert_eq!(streamed.len(), batch.len());
            for i in 0..batch.len() {
                let (a, b) = (streamed.distance[i], batch.distance[i]);
                if streamed.index[i] == batch.index[i] {
                    // Same arithmetic in the same order: the same bits.
                    prop_assert_eq!(a.to_bits(), b.to_bits(), "i={} {} vs {}", i, a, b);
                } else {
                    prop_assert!(close(a, b, m), "i={} {} vs {}", i, a, b);
                    let j = streamed.index[i];
                    prop_assert!(close(distance(&series, m, i, j), b, m));
                }
            }
        }
    }

    #[test]
    fn motifs_and_discords_follow_the_rule((series, m) in series_and_window(120), k in 0usize..6) {
        let p = matrix_profile(&series, m).expect("defined");
        let e = p.exclusion;
        let found = motifs(&p, k);
        prop_assert!(found.len() <= k);
        for (n, pair) in found.iter().enumerate() {
            prop_assert!(pair.a < pair.b && pair.b - pair.a > e);
            prop_assert!(close(distance(&series, m, pair.a, pair.b), pair.distance, m));
            let from_a = p.index[pair.a] == pair.b && p.distance[pair.a] == pair.distance;
            let from_b = p.index[pair.b] == pair.a && p.distance[pair.b] == pair.distance;
            prop_assert!(from_a || from_b);
            for earlier in &found[..n] {
                prop_assert!(earlier.distance <= pair.distance);
                for x in [earlier.a, earlier.b] {
                    prop_assert!(x.abs_diff(pair.a) > e && x.abs_diff(pair.b) > e);
                }
            }
        }
        // No pair was passed over: every window nearer than the last motif, or any window
        // at all when fewer than k were found, has itself or its neighbour in a motif's zone.
        let in_zone = |x: usize| found.iter().any(|f| f.a.abs_diff(x) <= e || f.b.abs_diff(x) <= e);
        let bound = if found.len() < k { f64::INFINITY } else { found.last().map_or(f64::NEG_INFINITY, |f| f.distance) };
        for i in 0..p.len() {
            if p.distance[i] < bound {
                prop_assert!(in_zone(i) || in_zone(p.index[i]), "window {} was skipped", i);
            }
        }

        let outliers = discords(&p, k);
        prop_assert!(outliers.len() <= k);
        for (n, d) in outliers.iter().enumerate() {
            prop_assert_eq!(d.distance, p.distance[d.index]);
            for earlier in &outliers[..n] {
                prop_assert!(earlier.distance >= d.distance);
                prop_assert!(earlier.index.abs_diff(d.index) > e);
            }
        }
        let bound = if outliers.len() < k { f64::NEG_INFINITY } else { outliers.last().map_or(f64::INFINITY, |d| d.distance) };
        for i in 0..p.len() {
            if p.distance[i] > bound {
                prop_assert!(outliers.iter().any(|d| d.index.abs_diff(i) <= e), "window {} was skipped", i);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Long enough for several bands of diagonals and for the statistics' periodic refresh.
    #[test]
    fn long_series_equal_the_definition(seed in any::<u64>(), n in 600usize..900, m in 3usize..40, flat in 0usize..3) {
        let mut rng = Xorshift(seed | 1);
        let mut series = rng.random_walk(n);
        for _ in 0..flat {
            let start = (rng.unit() * (n - 60) as f64) as usize;
            let level = series[start];
            series[start..start + 10 + (rng.unit() * 50.0) as usize].fill(level);
        }
        let p = matrix_profile(&series, m).expect("defined");
        check_against_oracle(&series, m, &p)?;
    }
}

#[test]
fn bad_input_is_refused_with_its_position() {
    let mut rng = Xorshift(7);
    let mut series = rng.random_walk(50);
    assert_eq!(
        matrix_profile(&series, 2),
        Err(MatrixProfileError::WindowTooSmall { window: 2 })
    );
    let max = max_window(50).expect("a window");
    assert!(matrix_profile(&series, max).is_ok());
    assert_eq!(
        matrix_profile(&series, max + 1),
        Err(MatrixProfileError::WindowTooLarge {
            window: max + 1,
            n: 50
        })
    );
    assert!(matrix_profile(&series, 51).is_err());
    series[17] = f64::INFINITY;
    assert_eq!(
        matrix_profile(&series, 5).unwrap_err().to_string(),
        "sample 17 is not a finite number (inf)"
    );

    let mut streaming = StreamingMatrixProfile::new(5).expect("window");
    streaming.extend(&[1.0, 2.0, 3.0]).expect("finite");
    let err = streaming.push(f64::NAN).unwrap_err();
    assert!(matches!(
        err,
        MatrixProfileError::NonFinite { index: 3, .. }
    ));
    assert_eq!(err.to_string(), "sample 3 is not a finite number (NaN)");
    assert_eq!(streaming.len(), 3);
    assert!(StreamingMatrixProfile::new(2).is_err());
}
