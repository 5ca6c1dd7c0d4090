//! The EDM and tuning engines against values computed elsewhere, on committed fixtures made by
//! `scripts/make_edm_fixtures.py`: pyEDM 2.5 `Simplex`, `SMap`, `EmbedDimension` and
//! `PredictNonlinear` on a Lorenz x series, the logistic map and a noisy sine (skill computed
//! with numpy from pyEDM's observation/prediction columns), and statsmodels' biased ACF with the
//! dominant period picked from it by the documented rule.

use std::ops::Range;

use midstream::engines::meta::edm::{
    EMBEDDING_RHO_TOLERANCE, EdmParams, PROFILE_TAU, PROFILE_TP, Skill, embed_dimension,
    predict_nonlinear, profile_dynamics, profile_dynamics_with, simplex, smap,
};
use midstream::engines::meta::tuning::{autocorrelation, dominant_period};
use serde_json::Value;

use crate::common::fixtures;

/// Simplex agreement with pyEDM. Both pick the same `E + 1` neighbours (same tie rule) and
/// average the same targets with the same weights; only the order of floating-point sums
/// differs (distances over E coordinates, the weighted mean, numpy's corrcoef). Measured: at
/// most 1.5e-15 relative on ρ, MAE and RMSE over these fixtures. 1e-12 leaves room for other
/// platforms' rounding and nothing else: one different neighbour moves them by more than 1e-6.
const SIMPLEX_TOL: f64 = 1e-12;

/// S-map agreement with pyEDM. pyEDM solves each weighted regression with LAPACK's gelsd
/// (bidiagonalisation + divide and conquer), this engine with Householder QR and a Jacobi SVD;
/// both are backward stable, so forecasts agree to about `cond(A)·ε`. Measured: at most 4.4e-15
/// relative on ρ, MAE and RMSE over these fixtures (θ up to 9); 1e-10 allows designs a few
/// orders of magnitude worse conditioned than these.
const SMAP_TOL: f64 = 1e-10;

/// pyEDM's `EmbedDimension`/`PredictNonlinear` round ρ to 6 decimals (`ComputeError`,
/// `digits = 6`): half a unit in the 6th decimal, plus the tolerance of the run itself.
const ROUNDED_TOL: f64 = 5e-7 + SMAP_TOL;

/// statsmodels' `acf` sums the lagged products in a different order: ~1e-15 per lag.
const ACF_TOL: f64 = 1e-12;

fn references() -> Value {
    fixtures::json("meta/edm/references.json")
}

fn read_series(name: &str) -> Vec<f64> {
    fixtures::series(&format!("meta/edm/{name}"))
}

fn uint(v: &Value) -> usize {
    v.as_u64().expect("unsigned integer") as usize
}

fn range(v: &Value) -> Range<usize> {
    uint(&v[0])..uint(&v[1])
}

fn assert_skill(got: &Skill, want: &Value, tol: f64, name: &str) {
    assert_eq!(got.n, uint(&want["n"]), "{name}: scored pairs");
    let close = |g: f64, w: f64| (g - w).abs() <= tol * w.abs().max(1.0);
    let w = |k: &str| want[k].as_f64().expect("number");
    assert!(
        close(got.rho, w("rho")),
        "{name}: rho {} vs pyEDM {}",
        got.rho,
        w("rho")
    );
    assert!(
        close(got.mae, w("mae")),
        "{name}: MAE {} vs {}",
        got.mae,
        w("mae")
    );
    assert!(
        close(got.rmse, w("rmse")),
        "{name}: RMSE {} vs {}",
        got.rmse,
        w("rmse")
    );
}

#[test]
fn simplex_and_smap_match_pyedm() {
    let refs = references();
    let cases = refs["cases"].as_array().expect("cases");
    let (mut simplexes, mut smaps) = (0, 0);
    for case in cases {
        let file = case["file"].as_str().expect("file");
        let series = read_series(file);
        let params = EdmParams {
            e: uint(&case["E"]),
            tau: uint(&case["tau"]),
            tp: uint(&case["Tp"]),
            exclusion_radius: uint(&case["exclusion_radius"]),
        };
        let (lib, pred) = (range(&case["lib"]), range(&case["pred"]));
        let name = format!(
            "{file} {} {params:?} lib {lib:?} pred {pred:?}",
            case["method"]
        );
        match case["method"].as_str().expect("method") {
            "simplex" => {
                let got = simplex(&series, lib, pred, &params).expect(&name);
                assert_skill(&got, case, SIMPLEX_TOL, &name);
                simplexes += 1;
            }
            "smap" => {
                let theta = case["theta"].as_f64().expect("theta");
                let got = smap(&series, lib, pred, &params, theta).expect(&name);
                assert_skill(&got, case, SMAP_TOL, &format!("{name} theta {theta}"));
                smaps += 1;
            }
            other => panic!("unknown method {other}"),
        }
    }
    assert!(
        simplexes >= 10 && smaps >= 10,
        "{simplexes} simplex, {smaps} S-map cases"
    );
}

#[test]
fn embed_dimension_and_predict_nonlinear_curves_match_pyedm() {
    let refs = references();
    for curve in refs["curves"].as_array().expect("curves") {
        let file = curve["file"].as_str().expect("file");
        let series = read_series(file);
        let (lib, pred) = (range(&curve["lib"]), range(&curve["pred"]));
        let (tau, tp) = (uint(&curve["tau"]), uint(&curve["Tp"]));
        let max_e = uint(&curve["max_e"]);

        let by_e = embed_dimension(&series, lib.clone(), pred.clone(), max_e, tau, tp)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(by_e.len(), max_e);
        let full = curve["embed_dimension"].as_array().expect("curve");
        let rounded = curve["embed_dimension_rho_rounded"]
            .as_array()
            .expect("curve");
        for (i, (e, skill)) in by_e.iter().enumerate() {
            assert_eq!(*e, i + 1);
            assert_skill(
                skill,
                &full[i],
                SIMPLEX_TOL,
                &format!("{file} EmbedDimension E={e}"),
            );
            let r = rounded[i].as_f64().expect("rho");
            assert!(
                (skill.rho - r).abs() <= ROUNDED_TOL,
                "{file} E={e}: {} vs {r}",
                skill.rho
            );
        }

        let thetas: Vec<f64> = curve["thetas"]
            .as_array()
            .expect("thetas")
            .iter()
            .map(|t| t.as_f64().expect("theta"))
            .collect();
        let e = uint(&curve["nonlinear_e"]);
        let by_theta = predict_nonlinear(&series, lib, pred, e, tau, tp, &thetas)
            .unwrap_or_else(|err| panic!("{file}: {err}"));
        let full = curve["predict_nonlinear"].as_array().expect("curve");
        let rounded = curve["predict_nonlinear_rho_rounded"]
            .as_array()
            .expect("curve");
        assert_eq!(by_theta.len(), thetas.len());
        for (i, (theta, skill)) in by_theta.iter().enumerate() {
            assert_eq!(*theta, thetas[i]);
            assert_skill(skill, &full[i], SMAP_TOL, &format!("{file} θ={theta}"));
            let r = rounded[i].as_f64().expect("rho");
            assert!(
                (skill.rho - r).abs() <= ROUNDED_TOL,
                "{file} θ={theta}: {} vs {r}",
                skill.rho
            );
        }
    }
}

#[test]
fn autocorrelation_and_dominant_period_match_statsmodels() {
    let refs = references();
    for case in refs["acf"].as_array().expect("acf") {
        let file = case["file"].as_str().expect("file");
        let series = read_series(file);
        let max_lag = uint(&case["max_lag"]);
        let want: Vec<f64> = case["acf"]
            .as_array()
            .expect("acf")
            .iter()
            .map(|v| v.as_f64().expect("number"))
            .collect();
        let got = autocorrelation(&series, max_lag).expect("finite, non-constant");
        assert_eq!(got.len(), want.len());
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= ACF_TOL,
                "{file} lag {k}: {g} vs statsmodels {w}"
            );
        }
        let period = dominant_period(&series, 2, max_lag);
        match &case["dominant_period"] {
            Value::Null => assert_eq!(period, None, "{file}"),
            want => {
                let p = period.unwrap_or_else(|| panic!("{file}: no period"));
                assert_eq!(p.lag, uint(&want["lag"]), "{file}");
                let s = want["strength"].as_f64().expect("strength");
                assert!(
                    (p.strength - s).abs() <= ACF_TOL,
                    "{file}: {} vs {s}",
                    p.strength
                );
            }
        }
    }
}

/// `profile_dynamics_with` on series whose pyEDM curves were computed on exactly its halves:
/// its simplex curve is pyEDM's `EmbedDimension`, its `E` is the documented rule applied to
/// pyEDM's curve, and its S-map curve is pyEDM's `PredictNonlinear` at that `E`. With τ = Tp = 1
/// it is `profile_dynamics` itself.
#[test]
fn profile_dynamics_uses_pyedm_curves_on_the_two_halves() {
    let refs = references();
    let mut checked = Vec::new();
    for curve in refs["curves"].as_array().expect("curves") {
        let file = curve["file"].as_str().expect("file");
        let series = read_series(file);
        let n = series.len();
        if range(&curve["lib"]) != (0..n / 2) || range(&curve["pred"]) != (n / 2..n) {
            continue;
        }
        let (tau, tp) = (uint(&curve["tau"]), uint(&curve["Tp"]));
        let max_e = uint(&curve["max_e"]);
        let profile = profile_dynamics_with(&series, max_e, tau, tp)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        if (tau, tp) == (PROFILE_TAU, PROFILE_TP) {
            assert_eq!(profile_dynamics(&series, max_e).as_ref(), Ok(&profile));
        }
        let rho = |cases: &Value| -> Vec<f64> {
            let cases = cases.as_array().expect("curve");
            cases
                .iter()
                .map(|s| s["rho"].as_f64().expect("rho"))
                .collect()
        };
        let want = rho(&curve["embed_dimension"]);
        for (g, w) in profile.rho_by_e.iter().zip(&want) {
            assert!((g - w).abs() <= SIMPLEX_TOL, "{file} τ {tau}: {g} vs {w}");
        }
        let best = want.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e = 1 + want
            .iter()
            .position(|&r| r >= best - EMBEDDING_RHO_TOLERANCE)
            .expect("some E");
        assert_eq!((profile.e, profile.tau, profile.tp), (e, tau, tp), "{file}");
        if uint(&curve["nonlinear_e"]) == e {
            let want = rho(&curve["predict_nonlinear"]);
            for ((_, g), w) in profile.rho_by_theta.iter().zip(&want) {
                assert!((g - w).abs() <= SMAP_TOL, "{file} τ {tau}: {g} vs {w}");
            }
        }
        checked.push((file.to_owned(), tau, profile.nonlinear));
    }
    // The chaotic flow sampled coarsely and the chaotic map are nonlinear one step ahead, the
    // noisy sine is not; the flow sampled finely is not either (one step is nearly linear),
    // but is at a lag and horizon of ten samples.
    let expected = [
        ("lorenz_x_1000.txt", 1, true),
        ("logistic_600.txt", 1, true),
        ("noisy_sine_800.txt", 2, false),
        ("lorenz_x_fine_1024.txt", 1, false),
        ("lorenz_x_fine_1024.txt", 10, true),
    ];
    let expected: Vec<(String, usize, bool)> = expected
        .iter()
        .map(|&(f, t, nl)| (f.to_owned(), t, nl))
        .collect();
    assert_eq!(checked, expected);
}
