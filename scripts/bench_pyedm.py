#!/usr/bin/env python3
"""Times pyEDM on the EDM simplex survey that `cargo bench --bench meta_bench -- edm/` times
for this engine (group `edm`, `embed_dimension/2000` and `simplex_serial/2000`), on the same
series, so that the two are compared in the same run on the same machine.

    pip install pyEDM numpy pandas
    python3 scripts/bench_pyedm.py [--repeats 20]

The series is the bench's `noisy_logistic(6, 2000)` (src/bench/suites/meta.rs): the logistic
map at r = 3.9 from 0.4 plus uniform noise of width 0.01 from the same xorshift64 generator,
reproduced here bit for bit. Library = first half, predictions = second half (pyEDM's
`lib = "1 1000"`, `pred = "1001 2000"`), tau = -1, Tp = 1, E = 1..10.

Prints, for each of the two workloads, the median and the minimum over the repeats (after one
warm-up call) in milliseconds:
- `simplex_serial`: ten `pyEDM.Simplex` calls, E = 1..10, one after the other;
- `embed_dimension`: one `pyEDM.EmbedDimension(maxE=10)` call (pyEDM's own survey, which runs
  the Simplex calls in a process pool).
It also checks that the ten ρ agree with EmbedDimension's, so both time the same work.
"""

import argparse
import statistics
import time

import numpy as np
import pandas as pd
import pyEDM

MASK = (1 << 64) - 1
N = 2000
MAX_E = 10


def noisy_logistic(seed, n):
    """The bench's generator: xorshift64 seeded with seed * 0x9e3779b97f4a7c15 | 1."""
    state = ((seed * 0x9E3779B97F4A7C15) & MASK) | 1
    x = 0.4
    out = []
    for _ in range(n):
        state ^= (state << 13) & MASK
        state ^= state >> 7
        state ^= (state << 17) & MASK
        unit = (state >> 11) / float(1 << 53)
        x = 3.9 * x * (1.0 - x)
        out.append(x + 0.01 * (unit - 0.5))
    return np.array(out)


def simplex_rho(df, e):
    out = pyEDM.Simplex(dataFrame=df, columns="x", target="x", lib=f"1 {N // 2}",
                        pred=f"{N // 2 + 1} {N}", E=e, Tp=1, tau=-1)
    ok = out[["Observations", "Predictions"]].dropna()
    return float(np.corrcoef(ok["Observations"], ok["Predictions"])[0, 1])


def serial(df):
    return [simplex_rho(df, e) for e in range(1, MAX_E + 1)]


def survey(df):
    return pyEDM.EmbedDimension(dataFrame=df, columns="x", target="x", lib=f"1 {N // 2}",
                                pred=f"{N // 2 + 1} {N}", maxE=MAX_E, Tp=1, tau=-1,
                                showPlot=False)


def timed(f, df, repeats):
    f(df)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        f(df)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    x = noisy_logistic(6, N)
    df = pd.DataFrame({"Time": np.arange(1, N + 1), "x": x})
    rho_serial = serial(df)
    rho_survey = survey(df)["rho"].to_numpy()
    assert np.allclose(rho_serial, rho_survey, atol=1e-6), (rho_serial, rho_survey)
    print(f"pyEDM {pyEDM.__version__}, n = {N}, E = 1..{MAX_E}; rho by E: "
          + " ".join(f"{r:.4f}" for r in rho_serial))
    for name, f in (("simplex_serial", serial), ("embed_dimension", survey)):
        median, best = timed(f, df, args.repeats)
        print(f"{name}: median {median:.1f} ms, min {best:.1f} ms over {args.repeats}")


if __name__ == "__main__":
    main()
