//! The attractor engine against values computed elsewhere, on committed fixtures made by
//! `scripts/make_attractor_fixtures.py`: published exponents and dimensions, the finite-time
//! exponent of each flow's own trajectory (tangent-space integration in numpy), nolds'
//! `lyap_r` with hand-tuned parameters, and brute-force Grassberger–Procaccia pair counts.

use midstream::engines::attractor::{
    AnalysisOptions, AttractorAnalysis, DelayEmbedding, analyze, correlation_sum,
};
use serde_json::Value;

use crate::common::fixtures;

fn references() -> Value {
    fixtures::json("attractor/references.json")
}

fn series(name: &str) -> Vec<f64> {
    fixtures::series(&format!("attractor/{name}"))
}

fn analysed(name: &str, entry: &Value) -> AttractorAnalysis {
    analyze(
        &series(name),
        &AnalysisOptions {
            dt: entry["dt"].as_f64(),
            ..AnalysisOptions::default()
        },
    )
    .expect("analysis")
}

fn close(what: &str, value: f64, reference: f64, relative: f64) {
    assert!(
        (value / reference - 1.0).abs() <= relative,
        "{what}: {value} vs reference {reference} (tolerance {}%)",
        relative * 100.0
    );
}

#[test]
fn every_fixture_gets_its_class() {
    let refs = references();
    let all = refs["series"].as_object().expect("series");
    assert!(all.len() >= 7);
    for (name, entry) in all {
        let a = analysed(name, entry);
        assert_eq!(a.n, 5000, "{name}");
        assert_eq!(a.class.label(), entry["expected_class"], "{name}");
    }
}

#[test]
fn exponents_agree_with_published_values_own_trajectories_and_nolds() {
    let refs = references();
    for (name, entry) in refs["series"].as_object().expect("series") {
        let Some(published) = entry["published_lyapunov"].as_f64() else {
            continue;
        };
        let a = analysed(name, entry);
        let lambda = a.lyapunov_value().expect("an exponent");
        // The goals: 15% for Rössler, 10% for the others.
        let goal = if name.starts_with("rossler") {
            0.15
        } else {
            0.10
        };
        close(&format!("{name} vs published"), lambda, published, goal);
        // nolds' Rosenstein estimate with hand-tuned embedding and fit range.
        let nolds = entry["nolds_lyap_r"]["value"]
            .as_f64()
            .expect("nolds value");
        close(&format!("{name} vs nolds lyap_r"), lambda, nolds, 0.10);
        // The finite-time exponent of the sampled stretch itself (flows only).
        if let Some(ftle) = entry["ftle"].as_f64() {
            close(&format!("{name} vs own FTLE"), lambda, ftle, 0.10);
        }
    }
}

#[test]
fn dimensions_agree_with_published_values() {
    let refs = references();
    for (name, entry) in refs["series"].as_object().expect("series") {
        let Some(published) = entry["published_d2"].as_f64() else {
            continue;
        };
        let a = analysed(name, entry);
        let d2 = a.correlation_dimension.as_ref().expect("a D2").value;
        let tolerance = if name.starts_with("lorenz") {
            0.15
        } else {
            0.10
        };
        assert!(
            (d2 - published).abs() <= tolerance,
            "{name}: D2 {d2} vs {published} ± {tolerance}"
        );
    }
}

#[test]
fn pair_counts_match_a_brute_force_count() {
    // Distinct pairs only, no self-pairs, Theiler window excluded: counted by the engine's
    // box-assisted search and by plain numpy, at radii r² = 2^e (edges of the engine's grid).
    let refs = references();
    let mut checked = 0;
    for (name, entry) in refs["series"].as_object().expect("series") {
        let gp = &entry["gp_counts"];
        if gp.is_null() {
            continue;
        }
        let field = |k: &str| gp[k].as_u64().expect("integer") as usize;
        let embedding = DelayEmbedding::new(field("dim"), field("delay")).expect("embedding");
        let sum = correlation_sum(&series(name), embedding, field("theiler")).expect("sum");
        assert_eq!(
            sum.total_pairs,
            gp["total_pairs"].as_u64().expect("total"),
            "{name}"
        );
        let exponents = gp["r2_exponents"].as_array().expect("exponents");
        let counts = gp["counts"].as_array().expect("counts");
        for (e, count) in exponents.iter().zip(counts) {
            let log_r = 0.5 * (e.as_f64().expect("exponent") * std::f64::consts::LN_2);
            if let Some(i) = sum.log_r.iter().position(|&l| (l - log_r).abs() < 1e-9) {
                assert_eq!(Some(sum.counts[i]), count.as_u64(), "{name}: r² = 2^{e}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 10, "only {checked} radii compared");
}

#[cfg(feature = "headless")]
#[test]
fn analyze_command_reports_the_fixture() {
    use midstream::headless::analyze::{AnalyzeOptions, run};
    let mut out = Vec::new();
    run(
        &AnalyzeOptions {
            dt: Some(0.01),
            dim: None,
            delay: None,
            json: true,
            file: fixtures::path("attractor/lorenz_x.txt"),
            column: None,
        },
        &mut out,
    )
    .expect("analyze");
    let v: Value = serde_json::from_slice(&out).expect("one JSON object");
    assert_eq!(v["n"], 5000);
    assert_eq!(v["class"], "chaotic");
    assert_eq!(v["lyapunov"]["unit"], "per time unit");
    close(
        "JSON λ",
        v["lyapunov"]["value"].as_f64().expect("λ"),
        0.906,
        0.10,
    );
    let d2 = v["correlation_dimension"]["value"].as_f64().expect("D2");
    assert!((d2 - 2.05).abs() <= 0.15);
}

#[cfg(feature = "headless")]
#[test]
fn analyze_command_plain_output_reads_well() {
    use midstream::headless::analyze::{AnalyzeOptions, run};
    let mut out = Vec::new();
    run(
        &AnalyzeOptions {
            dt: None,
            dim: None,
            delay: None,
            json: false,
            file: fixtures::path("attractor/henon_x.txt"),
            column: None,
        },
        &mut out,
    )
    .expect("analyze");
    let text = String::from_utf8(out).expect("utf-8");
    println!("{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(lines[0], "samples: 5000");
    assert!(lines[1].starts_with("embedding: dimension 2 (cao), delay 1 sample (autocorrelation)"));
    assert!(lines[2].starts_with("lyapunov: 0.41") && lines[2].contains("per sample (fit "));
    assert!(lines[3].starts_with("correlation dimension: 1.2"));
    assert_eq!(lines[4], "class: chaotic");
    assert!(lines[5].starts_with("time: ") && lines[5].ends_with(" ms"));
}
