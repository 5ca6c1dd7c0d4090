#!/usr/bin/env python3
"""Reference values for the meta engine's EDM and tuning code (tests/fixtures/meta/edm/),
computed by implementations other than ours.

    pip install pyEDM statsmodels numpy
    python3 scripts/make_edm_fixtures.py

- Simplex and S-map skill: pyEDM 2.5 (`pyEDM.Simplex`, `pyEDM.SMap`, default knn, numpy
  lstsq solver) on a DataFrame `Time, x` with Time = 1..n. Our 0-based half-open ranges
  `lib = a..b` map to pyEDM's 1-based inclusive `lib = "a+1 b"` (same for pred); our lag
  `tau` is pyEDM's `tau = -tau`. Skill is computed here with numpy from pyEDM's
  Observations/Predictions columns over the rows where both are finite (pyEDM's own
  ComputeError rounds to 6 digits and reports max(err) as "MAE"), after checking that every
  Observation is x at its Time.
- EmbedDimension and PredictNonlinear curves: pyEDM's functions themselves (their rho is
  rounded to 6 digits by pyEDM), and the same curves at full precision from Simplex/SMap runs.
- Autocorrelation: statsmodels `acf(adjusted=False, fft=False)` and numpy's correlate-based
  biased estimate; the dominant period by the documented rule (highest local maximum after
  the first lag with acf <= 0) applied to the statsmodels ACF.

Series files hold one number per line (repr). The seed is fixed.
"""

import json
import os
import warnings

import numpy as np
import pandas as pd
import pyEDM
import statsmodels
from statsmodels.tsa.stattools import acf

SEED = 20261127
OUT_DIR = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "meta", "edm")
THETA_GRID = [0.0, 0.01, 0.1, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]


def lorenz_x(n, dt=0.01, every=10, burn=2000):
    """x of the Lorenz system (sigma 10, rho 28, beta 8/3) by RK4, sampled every `every` steps."""

    def f(s):
        x, y, z = s
        return np.array([10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z])

    s = np.array([1.0, 1.0, 1.0])
    out = []
    for i in range(burn + n * every):
        k1 = f(s)
        k2 = f(s + dt / 2 * k1)
        k3 = f(s + dt / 2 * k2)
        k4 = f(s + dt * k3)
        s = s + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if i >= burn and (i - burn) % every == 0:
            out.append(s[0])
    return np.array(out)


def logistic(n, r=3.9, x0=0.4, burn=100):
    x = x0
    out = []
    for i in range(burn + n):
        x = r * x * (1 - x)
        if i >= burn:
            out.append(x)
    return np.array(out)


def noisy_sine(rng, n, period, noise):
    t = np.arange(n)
    return np.sin(2 * np.pi * t / period) + noise * rng.standard_normal(n)


def frame(series):
    return pd.DataFrame({"Time": np.arange(1, len(series) + 1), "x": series})


def pyedm_range(r):
    a, b = r
    return f"{a + 1} {b}"


def score(series, projection):
    """rho, MAE, RMSE, n over finite pairs; checks the observation alignment."""
    time = projection["Time"].to_numpy(dtype=float)
    obs = projection["Observations"].to_numpy(dtype=float)
    pred = projection["Predictions"].to_numpy(dtype=float)
    for t, o in zip(time, obs):
        if np.isfinite(o):
            assert o == series[int(t) - 1], (t, o)
    ok = np.isfinite(obs) & np.isfinite(pred)
    obs, pred = obs[ok], pred[ok]
    err = obs - pred
    rho = float(np.corrcoef(obs, pred)[0, 1]) if len(obs) >= 2 else float("nan")
    return {
        "rho": rho,
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "n": int(len(obs)),
    }


def run(series, method, lib, pred, E, tau, Tp, excl, theta=None):
    kw = dict(
        dataFrame=frame(series),
        columns="x",
        target="x",
        lib=pyedm_range(lib),
        pred=pyedm_range(pred),
        E=E,
        tau=-tau,
        Tp=Tp,
        exclusionRadius=excl,
    )
    if method == "simplex":
        proj = pyEDM.Simplex(**kw)
    else:
        proj = pyEDM.SMap(theta=theta, **kw)["predictions"]
    return score(series, proj)


def write_series(name, x):
    with open(os.path.join(OUT_DIR, name), "w") as f:
        for v in x:
            f.write(repr(float(v)) + "\n")


def acf_case(name, x, max_lag):
    sm = acf(x, nlags=max_lag, adjusted=False, fft=False)
    c = x - x.mean()
    full = np.correlate(c, c, mode="full")[len(x) - 1 :] / np.dot(c, c)
    assert np.max(np.abs(sm - full[: max_lag + 1])) < 1e-12
    crossing = next((k for k in range(1, max_lag + 1) if sm[k] <= 0), None)
    period = None
    if crossing is not None:
        r = acf(x, nlags=max_lag + 1, adjusted=False, fft=False)
        best = None
        for k in range(max(2, crossing + 1), max_lag + 1):
            if r[k] > r[k - 1] and r[k] >= r[k + 1] and (best is None or r[k] > r[best]):
                best = k
        period = None if best is None else {"lag": best, "strength": float(r[best])}
    return {
        "file": name,
        "max_lag": max_lag,
        "acf": [float(v) for v in sm],
        "dominant_period": period,
    }


def main():
    warnings.simplefilter("ignore")
    os.makedirs(OUT_DIR, exist_ok=True)
    rng = np.random.default_rng(SEED)
    series = {
        "lorenz_x_1000.txt": lorenz_x(1000),
        "logistic_600.txt": logistic(600),
        "noisy_sine_800.txt": noisy_sine(rng, 800, 25.3, 0.2),
        # Every RK4 step kept: a finely sampled flow, where one-step forecasts are nearly
        # linear and the dynamics show only at a delay of about a tenth of an orbit.
        "lorenz_x_fine_1024.txt": lorenz_x(1024, every=1),
    }
    for name, x in series.items():
        write_series(name, x)
    # Read back exactly what the Rust tests read.
    series = {name: np.loadtxt(os.path.join(OUT_DIR, name)) for name in series}

    cases = []

    def add(name, method, lib, pred, E, tau, Tp, excl=0, theta=None):
        x = series[name]
        s = run(x, method, lib, pred, E, tau, Tp, excl, theta)
        cases.append(
            {
                "file": name,
                "method": method,
                "lib": list(lib),
                "pred": list(pred),
                "E": E,
                "tau": tau,
                "Tp": Tp,
                "exclusion_radius": excl,
                "theta": theta,
                **s,
            }
        )

    lo, lg, sn = "lorenz_x_1000.txt", "logistic_600.txt", "noisy_sine_800.txt"
    # Simplex
    add(lo, "simplex", (0, 500), (500, 1000), 3, 1, 1)
    add(lo, "simplex", (0, 500), (500, 1000), 2, 2, 3)
    add(lo, "simplex", (500, 1000), (0, 400), 4, 1, 1)  # library after the predictions
    add(lo, "simplex", (0, 600), (600, 900), 3, 3, 0)
    add(lo, "simplex", (0, 500), (500, 800), 3, 1, 1, excl=8)  # exclusion across the gap
    add(lg, "simplex", (0, 300), (300, 600), 1, 1, 1)
    add(lg, "simplex", (0, 300), (300, 600), 2, 1, 1)
    add(lg, "simplex", (0, 300), (300, 600), 3, 2, 2)
    add(lg, "simplex", (100, 400), (0, 90), 2, 1, 1)
    add(sn, "simplex", (0, 400), (400, 800), 4, 2, 1)
    add(sn, "simplex", (0, 400), (400, 800), 6, 3, 5)
    add(sn, "simplex", (0, 400), (400, 700), 2, 1, 1, excl=3)
    # S-map
    for theta in [0.0, 0.5, 2.0, 8.0]:
        add(lo, "smap", (0, 500), (500, 1000), 3, 1, 1, theta=theta)
    add(lo, "smap", (0, 500), (500, 1000), 2, 3, 2, theta=1.0)
    for theta in [0.0, 1.0, 4.0]:
        add(lg, "smap", (0, 300), (300, 600), 2, 1, 1, theta=theta)
    add(lg, "smap", (0, 300), (300, 600), 1, 1, 1, theta=3.0)
    add(lg, "smap", (0, 300), (300, 600), 3, 1, 1, excl=4, theta=2.0)
    for theta in [0.0, 0.3, 3.0]:
        add(sn, "smap", (0, 400), (400, 800), 3, 2, 1, theta=theta)
    add(sn, "smap", (0, 400), (400, 800), 5, 4, 4, theta=1.5)

    curves = []
    lf = "lorenz_x_fine_1024.txt"
    for name, lib, pred, max_e, tau, Tp, nl_e in [
        (lo, (0, 500), (500, 1000), 8, 1, 1, 3),
        (lg, (0, 300), (300, 600), 6, 1, 1, 2),
        (sn, (0, 400), (400, 800), 8, 2, 1, 3),
        (lf, (0, 512), (512, 1024), 8, 1, 1, 1),
        (lf, (0, 512), (512, 1024), 8, 10, 10, 2),
    ]:
        x = series[name]
        df = frame(x)
        ed = pyEDM.EmbedDimension(
            dataFrame=df, columns="x", target="x", maxE=max_e, lib=pyedm_range(lib),
            pred=pyedm_range(pred), Tp=Tp, tau=-tau, numProcess=1, showPlot=False,
        )
        pn = pyEDM.PredictNonlinear(
            dataFrame=df, columns="x", target="x", theta=THETA_GRID, lib=pyedm_range(lib),
            pred=pyedm_range(pred), E=nl_e, Tp=Tp, tau=-tau, numProcess=1, showPlot=False,
        )
        curves.append(
            {
                "file": name,
                "lib": list(lib),
                "pred": list(pred),
                "tau": tau,
                "Tp": Tp,
                "max_e": max_e,
                "embed_dimension_rho_rounded": [float(v) for v in ed["rho"]],
                "embed_dimension": [
                    run(x, "simplex", lib, pred, E, tau, Tp, 0) for E in range(1, max_e + 1)
                ],
                "nonlinear_e": nl_e,
                "thetas": THETA_GRID,
                "predict_nonlinear_rho_rounded": [float(v) for v in pn["rho"]],
                "predict_nonlinear": [
                    run(x, "smap", lib, pred, nl_e, tau, Tp, 0, th) for th in THETA_GRID
                ],
            }
        )

    two_tone = np.sin(2 * np.pi * np.arange(2048) / 64) + 0.5 * np.sin(
        2 * np.pi * np.arange(2048) / 16
    )
    write_series("two_tone_2048.txt", two_tone)
    noise = rng.standard_normal(2048)
    write_series("white_noise_2048.txt", noise)
    acfs = [
        acf_case(sn, series[sn], 200),
        acf_case("two_tone_2048.txt", np.loadtxt(os.path.join(OUT_DIR, "two_tone_2048.txt")), 512),
        acf_case(lg, series[lg], 150),
        acf_case("white_noise_2048.txt", np.loadtxt(os.path.join(OUT_DIR, "white_noise_2048.txt")), 512),
    ]

    refs = {
        "generator": "scripts/make_edm_fixtures.py",
        "pyEDM": pyEDM.__version__,
        "statsmodels": statsmodels.__version__,
        "numpy": np.__version__,
        "cases": cases,
        "curves": curves,
        "acf": acfs,
    }
    with open(os.path.join(OUT_DIR, "references.json"), "w") as f:
        json.dump(refs, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases, {len(curves)} curves, {len(acfs)} acf series")
    for c in cases:
        print(c["file"], c["method"], c["E"], c["tau"], c["Tp"], c["exclusion_radius"], c["theta"], round(c["rho"], 4), c["n"])
    for c in curves:
        print(c["file"], [round(s["rho"], 3) for s in c["embed_dimension"]])
        print("  ", [round(s["rho"], 3) for s in c["predict_nonlinear"]])
    for a in acfs:
        print(a["file"], a["dominant_period"])


if __name__ == "__main__":
    main()
