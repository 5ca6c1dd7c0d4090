//! The temporal engine against values computed by other implementations
//! (scripts/make_temporal_fixtures.py: dtaidistance, rapidfuzz, numpy, and a plain dynamic
//! program for banded DTW of unequal lengths).

use midstream::engines::temporal::{
    DtwCost, DtwOptions, SearchConfig, StreamingSearch, best_match, dtw, dtw_bounded, dtw_path,
    lb_keogh, lb_kim, lb_kim_fl, lcs_dp, lcs_len, lcs_len_str, lcs_similarity_str, levenshtein,
    levenshtein_dp, levenshtein_similarity_str, levenshtein_str,
};
use serde_json::Value;

use crate::common::fixtures;

/// Relative agreement required with the reference DTW values: both sides add the same
/// costs in the same recurrence, so only the last bits of the sums may differ (the summation
/// order along a path is the same; serde_json's float parsing may be one ulp off).
const DTW_RTOL: f64 = 1e-12;

/// Relative agreement required for search distances: windows are z-normalised from running
/// sums here and by two-pass numpy there, which differ by about ε·m relative.
const SEARCH_RTOL: f64 = 1e-9;

/// Relative slack for "lower bound ≤ distance" (a bound summed in another order can exceed an
/// equal distance by a few ulps).
const BOUND_RTOL: f64 = 1e-12;

fn load(name: &str) -> Vec<Value> {
    fixtures::json(&format!("temporal/{name}"))["cases"]
        .as_array()
        .expect("cases")
        .clone()
}

fn floats(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect()
}

fn assert_close(got: f64, want: f64, rtol: f64, context: &str) {
    assert!(
        (got - want).abs() <= rtol * want.abs().max(1.0),
        "{context}: got {got}, want {want}"
    );
}

#[test]
fn dtw_agrees_with_dtaidistance_and_the_plain_program() {
    let mut checked = 0;
    for case in load("dtw.json") {
        let a = floats(&case["a"]);
        let b = floats(&case["b"]);
        for result in case["results"].as_array().expect("results") {
            let window = result["window"].as_u64().map(|w| w as usize);
            for (key, cost) in [("dtw", DtwCost::Absolute), ("dtw_sq", DtwCost::Squared)] {
                let want = result[key].as_f64().expect("reference");
                let options = DtwOptions { cost, window };
                let context = format!(
                    "{key} n={} m={} window={window:?} ({})",
                    a.len(),
                    b.len(),
                    result["source"]
                );
                let got = dtw(&a, &b, &options).expect("valid series");
                assert_close(got, want, DTW_RTOL, &context);
                assert_close(dtw(&b, &a, &options).unwrap(), want, DTW_RTOL, &context);
                let path = dtw_path(&a, &b, &options).expect("path");
                assert_close(path.distance, want, DTW_RTOL, &context);
                assert_eq!(path.path.first(), Some(&(0, 0)));
                assert_eq!(path.path.last(), Some(&(a.len() - 1, b.len() - 1)));
                let path_cost: f64 = path.path.iter().map(|&(i, j)| cost.local(a[i], b[j])).sum();
                assert_close(
                    cost.distance_from_raw(path_cost),
                    want,
                    1e-9,
                    &format!("{context} path cost"),
                );
                let slack = want * (1.0 + DTW_RTOL) + 1e-12;
                assert!(
                    dtw_bounded(&a, &b, &options, slack).unwrap().is_some(),
                    "{context}: abandoned at its own distance"
                );
                if want > 1e-9 {
                    assert_eq!(
                        dtw_bounded(&a, &b, &options, want * 0.99).unwrap(),
                        None,
                        "{context}: not abandoned below its distance"
                    );
                }
                let bound_slack = want * (1.0 + BOUND_RTOL) + 1e-12;
                assert!(
                    lb_kim(&a, &b, cost).unwrap() <= bound_slack,
                    "{context} LB_Kim"
                );
                assert!(
                    lb_kim_fl(&a, &b, cost).unwrap() <= bound_slack,
                    "{context} LB_KimFL"
                );
                assert!(
                    lb_keogh(&a, &b, &options).unwrap() <= bound_slack,
                    "{context} LB_Keogh"
                );
                assert!(
                    lb_keogh(&b, &a, &options).unwrap() <= bound_slack,
                    "{context} LB_Keogh"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 600, "only {checked} DTW values checked");
}

#[test]
fn texts_agree_with_rapidfuzz() {
    let cases = load("text.json");
    assert!(cases.len() > 200);
    for case in cases {
        let a = case["a"].as_str().expect("a");
        let b = case["b"].as_str().expect("b");
        let context = format!("{} {a:?} vs {b:?}", case["kind"]);
        let lev = case["levenshtein"].as_u64().expect("levenshtein") as usize;
        let lcs = case["lcs"].as_u64().expect("lcs") as usize;
        assert_eq!(levenshtein_str(a, b), lev, "{context}");
        assert_eq!(levenshtein_str(b, a), lev, "{context}");
        assert_eq!(lcs_len_str(a, b), lcs, "{context}");
        assert_eq!(lcs_len_str(b, a), lcs, "{context}");
        let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        assert_eq!(levenshtein_dp(&ca, &cb), lev, "{context} (DP)");
        assert_eq!(lcs_dp(&ca, &cb), lcs, "{context} (DP)");
        assert_eq!(levenshtein(&ca, &cb), lev, "{context} (tokens)");
        assert_eq!(lcs_len(&ca, &cb), lcs, "{context} (tokens)");
        assert_close(
            levenshtein_similarity_str(a, b),
            case["levenshtein_similarity"].as_f64().unwrap(),
            1e-12,
            &context,
        );
        assert_close(
            lcs_similarity_str(a, b),
            case["lcs_similarity"].as_f64().unwrap(),
            1e-12,
            &context,
        );
    }
}

#[test]
fn token_sequences_agree_with_rapidfuzz() {
    for case in load("tokens.json") {
        let ids = |v: &Value| -> Vec<u32> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect()
        };
        let (a, b) = (ids(&case["a"]), ids(&case["b"]));
        assert_eq!(
            levenshtein(&a, &b),
            case["levenshtein"].as_u64().unwrap() as usize
        );
        assert_eq!(lcs_len(&a, &b), case["lcs"].as_u64().unwrap() as usize);
    }
}

fn search_cost(case: &Value) -> DtwCost {
    match case["cost"].as_str() {
        Some("squared") => DtwCost::Squared,
        Some("absolute") => DtwCost::Absolute,
        other => panic!("unknown cost {other:?}"),
    }
}

#[test]
fn best_match_agrees_with_the_reference_profile() {
    for case in load("search.json") {
        let series = floats(&case["series"]);
        let query = floats(&case["query"]);
        let band = case["band"].as_u64().unwrap() as usize;
        let found = best_match(&series, &query, band, search_cost(&case))
            .unwrap()
            .expect("a match");
        assert_eq!(
            found.start,
            case["best_start"].as_u64().unwrap(),
            "{}",
            case["name"]
        );
        assert_close(
            found.distance,
            case["best_distance"].as_f64().unwrap(),
            SEARCH_RTOL,
            case["name"].as_str().unwrap(),
        );
        assert_eq!(found.len, query.len());
    }
}

/// The documented resolution of overlapping matches, applied to the reference profile.
fn expected_matches(profile: &[f64], threshold: f64, exclusion: usize) -> Vec<(u64, f64)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, f64)> = None;
    for (s, &d) in profile.iter().enumerate() {
        if let Some((ps, pd)) = pending
            && s >= ps + exclusion
        {
            out.push((ps as u64, pd));
            pending = None;
        }
        match pending {
            Some((_, pd)) if d < pd => pending = Some((s, d)),
            None if d <= threshold => pending = Some((s, d)),
            _ => {}
        }
    }
    out.extend(pending.map(|(s, d)| (s as u64, d)));
    out
}

#[test]
fn streaming_matches_follow_the_reference_profile_in_any_chunking() {
    for case in load("search.json") {
        let name = case["name"].as_str().unwrap();
        let series = floats(&case["series"]);
        let query = floats(&case["query"]);
        let profile = floats(&case["profile"]);
        let band = case["band"].as_u64().unwrap() as usize;
        let mut sorted = profile.clone();
        sorted.sort_by(f64::total_cmp);
        // Two thresholds: between the planted copies and the rest (exactly two matches),
        // and the 3rd percentile (many matches to resolve). Each sits half-way between two
        // reference values, away from any rounding question.
        let planted = 0.5 * (sorted[1] + sorted[2]);
        let k = sorted.len() * 3 / 100;
        let percentile = 0.5 * (sorted[k] + sorted[k + 1]);
        for (threshold, exclusion) in [
            (planted, None),
            (percentile, None),
            (percentile, Some(query.len() / 2)),
        ] {
            let config = SearchConfig {
                band,
                threshold,
                cost: search_cost(&case),
                exclusion,
            };
            let want = expected_matches(&profile, threshold, exclusion.unwrap_or(query.len()));
            if threshold == planted {
                assert_eq!(want.len(), 2, "{name}");
            }
            for chunk in [1usize, 7, 1000, series.len()] {
                let mut search = StreamingSearch::new(&query, config).unwrap();
                let mut found = Vec::new();
                for piece in series.chunks(chunk) {
                    search.extend(piece, &mut found);
                }
                found.extend(search.finish());
                let context = format!("{name} threshold {threshold} chunk {chunk}");
                assert_eq!(found.len(), want.len(), "{context}");
                for (f, &(start, distance)) in found.iter().zip(&want) {
                    assert_eq!(f.start, start, "{context}");
                    assert_close(f.distance, distance, SEARCH_RTOL, &context);
                }
            }
        }
    }
}
