#!/usr/bin/env python3
"""Makes the attractor engine's test fixtures: series and independent reference values.

Run from the repository root:

    pip install "nolds==0.6.2" numpy scipy   # nolds 0.6.3 fails to import on Python 3.11
    python3 scripts/make_attractor_fixtures.py

Writes tests/fixtures/attractor/*.txt (one number per line) and references.json. Everything
here is independent of the Rust code:

- the flows are integrated with a classical fourth-order Runge-Kutta scheme written below (five
  steps per sample), the maps are iterated directly, and the noise comes from numpy;
- for the flows, the finite-time largest Lyapunov exponent of the very trajectory that was
  sampled is integrated alongside it from the variational equations (Benettin et al. 1980,
  renormalising the tangent vector every step): the value the series itself carries;
- Grassberger-Procaccia pair counts by brute force in numpy (gp_counts below);
- nolds (Schoelzel, https://github.com/CSchoel/nolds) estimates the largest Lyapunov exponent
  with Rosenstein's method (lyap_r) and the correlation dimension (corr_dim), with parameters
  tuned by hand for each series (its defaults are poor here: about 0.73 for Lorenz). Its
  corr_dim is recorded too but is no reference for D2: it counts every point with itself and
  has no Theiler window, which flattens C(r) at small r (1.82 for this Lorenz series);
- published values: Lorenz 0.906 (Sprott 2003, Chaos and Time-Series Analysis, table A.1),
  D2 2.05 (Grassberger & Procaccia 1983); Roessler 0.0714 (Sprott 2003); Henon 0.419 per
  iteration, D2 1.22 (Grassberger & Procaccia 1983: 1.21 +- 0.01); logistic r = 4: ln 2.
"""

import json
import math
import os
import sys

import numpy as np

try:
    import nolds
except ImportError:  # pragma: no cover
    sys.exit("needs nolds: pip install nolds numpy scipy")

OUT = os.path.join("tests", "fixtures", "attractor")
N = 5000


def lorenz(v):
    x, y, z = v
    return np.array([10.0 * (y - x), x * (28.0 - z) - y, x * y - 8.0 / 3.0 * z])


def lorenz_jac(v):
    x, y, z = v
    return np.array([[-10.0, 10.0, 0.0], [28.0 - z, -1.0, -x], [y, x, -8.0 / 3.0]])


def rossler(v):
    x, y, z = v
    return np.array([-y - z, x + 0.2 * y, 0.2 + z * (x - 5.7)])


def rossler_jac(v):
    x, y, z = v
    return np.array([[0.0, -1.0, -1.0], [1.0, 0.2, 0.0], [z, 0.0, x - 5.7]])


def flow_with_ftle(f, jac, x0, n, dt, transient, substeps=5):
    """Samples x every dt after a transient, RK4 at dt/substeps, and integrates a tangent
    vector along the same trajectory (RK4 on the joint system) for the finite-time exponent."""
    h = dt / substeps

    def joint(s):
        v, w = s[:3], s[3:]
        return np.concatenate([f(v), jac(v) @ w])

    def step(s):
        k1 = joint(s)
        k2 = joint(s + h / 2 * k1)
        k3 = joint(s + h / 2 * k2)
        k4 = joint(s + h * k3)
        return s + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)

    s = np.concatenate([np.array(x0, float), np.ones(3) / math.sqrt(3)])
    for _ in range(int(round(transient / h))):
        s = step(s)
        s[3:] /= np.linalg.norm(s[3:])
    out = np.empty(n)
    log_growth = 0.0
    for i in range(n):
        out[i] = s[0]
        for _ in range(substeps):
            s = step(s)
            norm = np.linalg.norm(s[3:])
            log_growth += math.log(norm)
            s[3:] /= norm
    return out, log_growth / (n * dt)


def henon(n, x0=0.1, transient=1000):
    x, y = x0, 0.0
    out = []
    for i in range(n + transient):
        x, y = 1.0 - 1.4 * x * x + y, 0.3 * x
        if i >= transient:
            out.append(x)
    return np.array(out)


def logistic(n, r, x0=0.3, transient=1000):
    x = x0
    out = []
    for i in range(n + transient):
        x = r * x * (1.0 - x)
        if i >= transient:
            out.append(x)
    return np.array(out)


def gp_counts(data, dim, delay, theiler, exponents):
    """Grassberger-Procaccia pair counts done the plain way: every distinct pair i < j of delay
    vectors with j - i > theiler, Euclidean distance on the series scaled to unit (population)
    standard deviation, counted below r^2 = 2^e for each e. An independent check of the
    engine's box-assisted counting; nolds' corr_dim cannot serve here because it counts each
    point with itself and has no Theiler window."""
    z = (data - data.mean()) / data.std()
    m = len(z) - (dim - 1) * delay
    emb = np.stack([z[c * delay: c * delay + m] for c in range(dim)], axis=1)
    thresholds = np.array([2.0 ** e for e in exponents])
    counts = np.zeros(len(exponents), dtype=np.int64)
    for i in range(m):
        j0 = i + theiler + 1
        if j0 >= m:
            break
        d2 = np.sum((emb[j0:] - emb[i]) ** 2, axis=1)
        counts += (d2[:, None] < thresholds[None, :]).sum(axis=0)
    total = sum(max(0, m - (i + theiler + 1)) for i in range(m))
    return {"dim": dim, "delay": delay, "theiler": theiler, "r2_exponents": list(exponents),
            "counts": [int(c) for c in counts], "total_pairs": int(total)}


def write(name, series):
    path = os.path.join(OUT, name)
    with open(path, "w") as fh:
        for v in series:
            fh.write(f"{v:.12g}\n")
    return name


def main():
    os.makedirs(OUT, exist_ok=True)
    refs = {"generator": "scripts/make_attractor_fixtures.py", "nolds": nolds.__dict__.get("__version__", "0.6"), "series": {}}

    lor, lor_ftle = flow_with_ftle(lorenz, lorenz_jac, [1.0, 1.0, 1.0], N, 0.01, 50.0)
    ros, ros_ftle = flow_with_ftle(rossler, rossler_jac, [1.0, 1.0, 0.0], N, 0.05, 500.0)
    cases = {
        "lorenz_x.txt": dict(data=lor, dt=0.01, published_lyapunov=0.906, published_d2=2.05, ftle=lor_ftle,
                             lyap=dict(emb_dim=4, lag=10, min_tsep=100, trajectory_len=250),
                             lyap_fit_skip=60, d2=dict(emb_dim=3, lag=10, rmin=0.05, rmax=0.4),
                             gp=(3, 10, 30)),
        "rossler_x.txt": dict(data=ros, dt=0.05, published_lyapunov=0.0714, ftle=ros_ftle,
                              lyap=dict(emb_dim=3, lag=8, min_tsep=120, trajectory_len=300),
                              lyap_fit_skip=0, d2=None),
        "henon_x.txt": dict(data=henon(N), dt=None, published_lyapunov=0.419, published_d2=1.22,
                            lyap=dict(emb_dim=2, lag=1, min_tsep=10, trajectory_len=10),
                            lyap_fit_skip=1, d2=dict(emb_dim=2, lag=1, rmin=0.01, rmax=0.1),
                            gp=(2, 1, 1)),
        "logistic_r4.txt": dict(data=logistic(N, 4.0), dt=None, published_lyapunov=math.log(2.0),
                                lyap=dict(emb_dim=2, lag=1, min_tsep=10, trajectory_len=10),
                                lyap_fit_skip=0, d2=None),
        "logistic_r3_5.txt": dict(data=logistic(N, 3.5), dt=None, expected_class="periodic"),
        "sine.txt": dict(data=np.sin(2 * math.pi * np.arange(N) / (10 * math.pi)), dt=None,
                         expected_class="periodic"),
        "white_noise.txt": dict(data=np.random.default_rng(20260401).normal(size=N), dt=None,
                                expected_class="noise"),
    }
    for name, case in cases.items():
        data = case["data"]
        write(name, data)
        entry = {k: v for k, v in case.items() if k not in ("data", "lyap", "d2", "lyap_fit_skip", "gp")}
        if "published_lyapunov" in case:
            entry.setdefault("expected_class", "chaotic")
            p = case["lyap"]
            dt = case["dt"] or 1.0
            # nolds fits the mean log-divergence from step fit_offset to trajectory_len; tau is
            # the sample period, so the result is per time unit for flows, per step for maps.
            lam = nolds.lyap_r(data, emb_dim=p["emb_dim"], lag=p["lag"], min_tsep=p["min_tsep"],
                               trajectory_len=p["trajectory_len"], fit="poly",
                               fit_offset=case["lyap_fit_skip"], tau=dt)
            entry["nolds_lyap_r"] = {"value": float(lam), "params": p, "fit_offset": case["lyap_fit_skip"],
                                     "unit": "per time unit" if case["dt"] else "per sample"}
        if case.get("d2"):
            q = case["d2"]
            sd = float(np.std(data))
            rvals = np.exp(np.linspace(math.log(q["rmin"] * sd), math.log(q["rmax"] * sd), 16))
            d2 = nolds.corr_dim(data, q["emb_dim"], lag=q["lag"], rvals=rvals, fit="poly")
            entry["nolds_corr_dim"] = {"value": float(d2), "params": q}
        if case.get("gp"):
            entry["gp_counts"] = gp_counts(data, *case["gp"], exponents=range(-12, 1))
        refs["series"][name] = entry
        print(name, json.dumps({k: v for k, v in entry.items()}, default=float), flush=True)
    with open(os.path.join(OUT, "references.json"), "w") as fh:
        json.dump(refs, fh, indent=2, default=float)
        fh.write("\n")


if __name__ == "__main__":
    main()
