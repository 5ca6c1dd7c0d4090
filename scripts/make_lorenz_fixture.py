#!/usr/bin/env python3
"""Reference trajectory for the `lorenz` generator (tests/app/generators.rs).

An independent classical RK4 integration of the Lorenz system written with numpy, using the
parameters and sampling the generator documents (src/sources/flows.rs):

  sigma = 10, rho = 28, beta = 8/3; start (1, 1, 1); internal step 0.001;
  one sample every 0.01 model time (10 RK4 steps); the first 1000 samples are a transient and
  are not written; the next SAMPLES samples are, as `seq,x,y,z` (seq from 0, as the
  generator's records are numbered).

Run: python3 scripts/make_lorenz_fixture.py > tests/fixtures/sources/lorenz_rk4.csv
(numpy only; written with numpy 2.4).
"""

import sys

import numpy as np

SIGMA, RHO, BETA = 10.0, 28.0, 8.0 / 3.0
SAMPLE_PERIOD = 0.01
SUBSTEPS = 10
TRANSIENT_SAMPLES = 1000
SAMPLES = 1500


def lorenz(state: np.ndarray) -> np.ndarray:
    x, y, z = state
    return np.array([SIGMA * (y - x), x * (RHO - z) - y, x * y - BETA * z])


def rk4(state: np.ndarray, h: float) -> np.ndarray:
    k1 = lorenz(state)
    k2 = lorenz(state + 0.5 * h * k1)
    k3 = lorenz(state + 0.5 * h * k2)
    k4 = lorenz(state + h * k3)
    return state + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def main() -> None:
    h = SAMPLE_PERIOD / SUBSTEPS
    state = np.array([1.0, 1.0, 1.0])
    out = sys.stdout
    out.write(
        "# lorenz sigma=10 rho=28 beta=8/3, RK4 h=0.001, sample every 0.01, "
        f"start (1,1,1), {TRANSIENT_SAMPLES} transient samples dropped; numpy {np.__version__}\n"
    )
    out.write("seq,x,y,z\n")
    for k in range(TRANSIENT_SAMPLES + SAMPLES):
        for _ in range(SUBSTEPS):
            state = rk4(state, h)
        if k >= TRANSIENT_SAMPLES:
            x, y, z = (float(v) for v in state)
            out.write(f"{k - TRANSIENT_SAMPLES},{x!r},{y!r},{z!r}\n")


if __name__ == "__main__":
    main()
