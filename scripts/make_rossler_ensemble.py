#!/usr/bin/env python3
"""An ensemble of independent Roessler series with each one's own finite-time exponent, to
measure the bias (mean error) and the spread of the attractor engine's automatic largest
Lyapunov exponent separately (tests/engines/attractor_ensemble.rs).

Run from the repository root:

    pip install numpy scipy
    python3 scripts/make_rossler_ensemble.py                     # the committed fixture
    python3 scripts/make_rossler_ensemble.py --count 48 --seed 7 --out /tmp/rossler_train

Roessler (a = b = 0.2, c = 5.7), x sampled every 0.05 time units, 5,000 samples per series
(the issue's case). Everything here is independent of the Rust code:

- each series starts from its own random initial state (x, y uniform in [-8, 8], z uniform in
  [0, 0.5], numpy's PCG64 with the given seed), runs a 500-time-unit transient that is thrown
  away, and is integrated on its own with scipy's solve_ivp (DOP853, rtol = atol = 1e-10);
- along the same solve, a tangent vector follows the variational equations (Benettin et al.
  1980), renormalised every time unit; its growth over the sampled stretch is that stretch's
  finite-time exponent (FTLE), the value the series itself carries. The transient aligns the
  tangent vector with the most unstable direction first;
- one long run (10,000 time units after the transient) gives the exponent of the attractor,
  to compare with the published 0.0714 (Sprott 2003, Chaos and Time-Series Analysis,
  table A.1).

Writes OUT/NN.txt (one number per line, 9 significant digits: far finer than the nearest
neighbour distances at n = 5000, ~1e-2) and OUT/references.json.
"""

import argparse
import json
import math
import os

import numpy as np
from scipy.integrate import solve_ivp

A, B, C = 0.2, 0.2, 5.7
DT = 0.05
N = 5000
TRANSIENT = 500.0
RENORMALISE_EVERY = 1.0  # time units
TOL = 1e-10
PUBLISHED = 0.0714


def joint(_t, s):
    x, y, z = s[:3]
    w = s[3:]
    jac = np.array([[0.0, -1.0, -1.0], [1.0, A, 0.0], [z, 0.0, x - C]])
    return np.concatenate([[-y - z, x + A * y, B + z * (x - C)], jac @ w])


def advance(s, t_span, t_eval=None):
    sol = solve_ivp(joint, t_span, s, method="DOP853", rtol=TOL, atol=TOL, t_eval=t_eval)
    if not sol.success:
        raise RuntimeError(sol.message)
    return sol


def run(state, samples):
    """Transient, then `samples` samples of x every DT; returns (x, FTLE over the samples)."""
    s = np.concatenate([np.asarray(state, float), np.ones(3) / math.sqrt(3.0)])
    t = 0.0
    while t < TRANSIENT - 1e-9:
        s = advance(s, (t, t + RENORMALISE_EVERY)).y[:, -1]
        s[3:] /= np.linalg.norm(s[3:])
        t += RENORMALISE_EVERY
    per_segment = int(round(RENORMALISE_EVERY / DT))
    out = np.empty(samples)
    log_growth = 0.0
    i = 0
    while i < samples:
        count = min(per_segment, samples - i)
        # Samples i .. i+count-1 at times 0, DT, ..., then on to the next segment's start.
        t_eval = np.arange(count + 1) * DT
        sol = advance(s, (0.0, count * DT), t_eval=t_eval)
        out[i:i + count] = sol.y[0, :count]
        s = sol.y[:, -1]
        norm = np.linalg.norm(s[3:])
        log_growth += math.log(norm)
        s[3:] /= norm
        i += count
    if not np.all(np.isfinite(out)) or np.abs(out).max() > 100:
        raise RuntimeError(f"escaped from the attractor from {state}")
    return out, log_growth / (samples * DT)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--out", default=os.path.join("tests", "fixtures", "attractor", "rossler_ensemble"))
    parser.add_argument("--long-run", type=float, default=10000.0,
                        help="time units of the long run for the attractor's exponent (0: skip)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    series = []
    for k in range(args.count):
        state = [rng.uniform(-8, 8), rng.uniform(-8, 8), rng.uniform(0, 0.5)]
        x, ftle = run(state, N)
        name = f"{k:02d}.txt"
        with open(os.path.join(args.out, name), "w") as fh:
            fh.write("".join(f"{v:.9g}\n" for v in x))
        series.append({"file": name, "initial_state": state, "ftle": ftle})
        print(name, f"ftle {ftle:.5f}", flush=True)
    refs = {
        "generator": "scripts/make_rossler_ensemble.py",
        "system": {"a": A, "b": B, "c": C},
        "dt": DT,
        "n": N,
        "seed": args.seed,
        "transient_time": TRANSIENT,
        "integrator": f"scipy {__import__('scipy').__version__} solve_ivp DOP853 rtol=atol={TOL}",
        "published_lyapunov": PUBLISHED,
        "series": series,
    }
    ftles = np.array([s["ftle"] for s in series])
    refs["ftle_mean"] = float(ftles.mean())
    refs["ftle_std"] = float(ftles.std(ddof=1))
    if args.long_run > 0:
        steps = int(round(args.long_run / DT))
        _, long = run([1.0, 1.0, 0.0], steps)
        refs["long_run"] = {"time_units": args.long_run, "lyapunov": long}
        print(f"long run over {args.long_run} time units: {long:.5f}", flush=True)
    print(f"FTLE over the sampled stretches: mean {ftles.mean():.5f}, std {ftles.std(ddof=1):.5f}")
    with open(os.path.join(args.out, "references.json"), "w") as fh:
        json.dump(refs, fh, indent=2)
        fh.write("\n")


if __name__ == "__main__":
    main()
