//! Temporal engine benchmarks (issue 3): DTW full and banded at n = 10…1000, Levenshtein and
//! LCS on small and large alphabets, the content cache (hit, miss, eviction), and subsequence
//! search of a 128-point query over 1,000,000 samples.
//!
//! Goals on the 2-core machine: DTW (|a−b|, full) n=100 ≤ 15 µs and n=1000 ≤ 1.5 ms;
//! Levenshtein n=1000 ≤ 30 µs; LCS n=1000 ≤ 20 µs; search ≥ 10,000,000 samples/s.

use std::hint::black_box;

use crate::bench::harness::{BenchmarkId, Harness};
use crate::engines::temporal::{
    CacheBounds, ContentCache, DtwCost, DtwOptions, RepetitionConfig, RepetitionDetector,
    SearchConfig, StreamingSearch, best_match, dtw, lcs_dp, lcs_len_str, levenshtein_dp,
    levenshtein_str,
};
use criterion::Throughput;

const SIZES: [usize; 5] = [10, 50, 100, 500, 1000];

/// Band of the "banded" runs: 10% of the length (the usual Sakoe–Chiba choice).
const BAND_FRACTION: f64 = 0.1;

/// xorshift64: reproducible inputs without a random-number dependency.
struct Xorshift(u64);

impl Xorshift {
    fn new(seed: u64) -> Self {
        Xorshift(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn uniform_series(seed: u64, len: usize) -> Vec<f64> {
    let mut rng = Xorshift::new(seed);
    (0..len).map(|_| rng.unit() * 2.0 - 1.0).collect()
}

fn random_walk(seed: u64, len: usize) -> Vec<f64> {
    let mut rng = Xorshift::new(seed);
    let mut level = 0.0;
    (0..len)
        .map(|_| {
            level += rng.unit() * 2.0 - 1.0;
            level
        })
        .collect()
}

/// A text of `len` scalar values drawn from `alphabet`.
fn text(seed: u64, len: usize, alphabet: &[char]) -> String {
    let mut rng = Xorshift::new(seed);
    (0..len)
        .map(|_| alphabet[(rng.next_u64() % alphabet.len() as u64) as usize])
        .collect()
}

fn small_alphabet() -> Vec<char> {
    "ACGT".chars().collect()
}

/// 1024 CJK ideographs (U+4E00…): multi-byte scalar values, a large alphabet.
fn large_alphabet() -> Vec<char> {
    (0x4E00u32..0x4E00 + 1024)
        .filter_map(char::from_u32)
        .collect()
}

fn bench_dtw(c: &mut Harness<'_>) {
    if !c.wants_group("dtw") {
        return;
    }
    let mut group = c.benchmark_group("dtw");
    for &n in &SIZES {
        let a = uniform_series(1, n);
        let b = uniform_series(2, n);
        let band = (BAND_FRACTION * n as f64) as usize;
        for (cost, name) in [(DtwCost::Absolute, "abs"), (DtwCost::Squared, "sq")] {
            let full = DtwOptions::new(cost);
            let banded = full.with_window(band);
            group.bench_with_input(
                BenchmarkId::new(format!("full/{name}"), n),
                &n,
                |bench, _| bench.iter(|| dtw(black_box(&a), black_box(&b), &full)),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("band10/{name}"), n),
                &n,
                |bench, _| bench.iter(|| dtw(black_box(&a), black_box(&b), &banded)),
            );
        }
    }
    group.finish();
}

fn bench_edit(c: &mut Harness<'_>) {
    if !c.wants_group("edit") {
        return;
    }
    let mut group = c.benchmark_group("edit");
    for (alphabet_name, alphabet) in [("small", small_alphabet()), ("large", large_alphabet())] {
        for &n in &SIZES {
            let a = text(3, n, &alphabet);
            let b = text(4, n, &alphabet);
            group.bench_with_input(
                BenchmarkId::new(format!("levenshtein/{alphabet_name}"), n),
                &n,
                |bench, _| bench.iter(|| levenshtein_str(black_box(&a), black_box(&b))),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("lcs/{alphabet_name}"), n),
                &n,
                |bench, _| bench.iter(|| lcs_len_str(black_box(&a), black_box(&b))),
            );
        }
    }
    // The dynamic-programming oracles, for scale.
    for &n in &[100usize, 1000] {
        let a: Vec<char> = text(3, n, &small_alphabet()).chars().collect();
        let b: Vec<char> = text(4, n, &small_alphabet()).chars().collect();
        group.bench_with_input(
            BenchmarkId::new("levenshtein_dp/small", n),
            &n,
            |bench, _| bench.iter(|| levenshtein_dp(black_box(&a), black_box(&b))),
        );
        group.bench_with_input(BenchmarkId::new("lcs_dp/small", n), &n, |bench, _| {
            bench.iter(|| lcs_dp(black_box(&a), black_box(&b)))
        });
    }
    group.finish();
}

fn bench_cache(c: &mut Harness<'_>) {
    if !c.wants_group("cache") {
        return;
    }
    let mut group = c.benchmark_group("cache");
    let bounds = CacheBounds {
        max_entries: 1024,
        max_bytes: 64 << 20,
    };
    let opts = DtwOptions::new(DtwCost::Absolute);
    for &n in &[100usize, 1000] {
        let a = uniform_series(5, n);
        let b = uniform_series(6, n);
        // Hit: the pair is always there.
        let mut warm = ContentCache::<f64>::new(bounds).expect("valid bounds");
        warm.dtw(&a, &b, &opts).expect("finite inputs");
        group.bench_with_input(BenchmarkId::new("dtw_hit", n), &n, |bench, _| {
            bench.iter(|| warm.dtw(black_box(&a), black_box(&b), &opts))
        });
        // Miss: a new first value every time, so the key is always new; the DTW is computed
        // and stored (with an eviction once the cache is full).
        let mut cold = ContentCache::<f64>::new(bounds).expect("valid bounds");
        let mut fresh = a.clone();
        let mut counter = 0u64;
        group.bench_with_input(BenchmarkId::new("dtw_miss", n), &n, |bench, _| {
            bench.iter(|| {
                counter += 1;
                fresh[0] = counter as f64;
                cold.dtw(black_box(&fresh), black_box(&b), &opts)
            })
        });
    }
    // Eviction: a full cache of short texts; every insertion evicts the oldest entry.
    let mut full = ContentCache::<usize>::new(CacheBounds {
        max_entries: 1024,
        max_bytes: 64 << 20,
    })
    .expect("valid bounds");
    let texts: Vec<String> = (0..4096).map(|k| format!("entry-{k:06}")).collect();
    for t in &texts[..1024] {
        full.levenshtein_str(t, "reference");
    }
    let mut next = 1024usize;
    group.bench_function("levenshtein_insert_evict/16", |bench| {
        bench.iter(|| {
            let key = &texts[next % texts.len()];
            next += 1;
            full.insert(
                crate::engines::temporal::Comparison::Levenshtein,
                key.as_str(),
                "reference",
                7,
            );
        })
    });
    let a = text(7, 1000, &small_alphabet());
    let b = text(8, 1000, &small_alphabet());
    let mut warm = ContentCache::<usize>::new(bounds).expect("valid bounds");
    warm.levenshtein_str(&a, &b);
    group.bench_function("levenshtein_hit/1000", |bench| {
        bench.iter(|| warm.levenshtein_str(black_box(&a), black_box(&b)))
    });
    group.finish();
}

/// Samples in the search benchmarks.
const SEARCH_SAMPLES: usize = 1_000_000;
/// Query length of the search benchmarks.
const SEARCH_QUERY: usize = 128;

fn bench_search(c: &mut Harness<'_>) {
    if !c.wants_group("search") {
        return;
    }
    let mut group = c.benchmark_group("search");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SEARCH_SAMPLES as u64));
    let series = random_walk(9, SEARCH_SAMPLES);
    let query = random_walk(10, SEARCH_QUERY);
    let band = (BAND_FRACTION * SEARCH_QUERY as f64) as usize;
    for (cost, name) in [(DtwCost::Absolute, "abs"), (DtwCost::Squared, "sq")] {
        group.bench_function(format!("best_match/{name}/128/1M"), |bench| {
            bench.iter(|| best_match(black_box(&series), &query, band, cost))
        });
    }
    // Monitoring: copies of the query with noise planted every 100,000 samples, and a
    // threshold that catches them; everything else has to be pruned.
    let mut planted = series.clone();
    let mut rng = Xorshift::new(11);
    for start in (50_000..SEARCH_SAMPLES - SEARCH_QUERY).step_by(100_000) {
        let offset = planted[start];
        for (k, &q) in query.iter().enumerate() {
            planted[start + k] = offset + q * 1.5 + (rng.unit() - 0.5) * 0.2;
        }
    }
    for (cost, name, threshold) in [
        (DtwCost::Absolute, "abs", 8.0),
        (DtwCost::Squared, "sq", 1.0),
    ] {
        let config = SearchConfig {
            band,
            threshold,
            cost,
            exclusion: None,
        };
        group.bench_function(format!("streaming/{name}/128/1M"), |bench| {
            bench.iter(|| {
                let mut search = StreamingSearch::new(&query, config).expect("valid query");
                let mut found = Vec::new();
                search.extend(black_box(&planted), &mut found);
                found.extend(search.finish());
                found
            })
        });
    }
    group.finish();
}

fn bench_repetition(c: &mut Harness<'_>) {
    if !c.wants_group("repetition") {
        return;
    }
    let mut group = c.benchmark_group("repetition");
    let words: Vec<String> = {
        let mut rng = Xorshift::new(12);
        (0..10_000)
            .map(|_| format!("w{}", rng.next_u64() % 5000))
            .collect()
    };
    group.throughput(Throughput::Elements(words.len() as u64));
    group.bench_function("push/default/10k_tokens", |bench| {
        bench.iter(|| {
            let mut detector =
                RepetitionDetector::new(RepetitionConfig::default()).expect("valid config");
            let mut flagged = 0usize;
            for w in &words {
                flagged += usize::from(detector.push(w).is_some());
            }
            flagged
        })
    });
    group.finish();
}

/// Every benchmark of the suite.
pub fn run(c: &mut Harness<'_>) {
    bench_dtw(c);
    bench_edit(c);
    bench_cache(c);
    bench_search(c);
    bench_repetition(c);
}
