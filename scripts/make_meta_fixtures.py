#!/usr/bin/env python3
"""Reference values for the meta engine's matrix profile (tests/fixtures/meta/), computed by
implementations other than ours.

    pip install stumpy numpy
    python3 scripts/make_meta_fixtures.py

- Matrix profile and index: stumpy.stump (z-normalised Euclidean distance, exclusion zone
  ceil(m/4), constant windows: 0 between two of them, sqrt(m) against a varying one).
- A brute-force profile in numpy straight from the definition: every window z-normalised
  (population standard deviation), every non-trivial pair compared, squared distances under
  1e-14 set to 0 as stumpy does. It is the ground truth
  where stumpy's running correlations lose digits (very close pairs); the script reports the
  largest disagreement between the two.
- Motif pairs and discords by the engine's documented rule (src/engines/meta/motifs.rs),
  applied here to the brute-force profile, and stumpy.motifs with max_matches=2 (the window
  and its nearest match), max_distance and cutoff infinite, for comparison: the two rules
  differ only when a later pair's second member lies in an earlier pair's exclusion zone.

Series files hold one number per line (repr, so they read back to the same f64). The seed is
fixed, so the files are reproducible.
"""

import json
import math
import os
import sys
import warnings

import numpy as np
import stumpy

SEED = 20240917
OUT_DIR = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "meta")
# Squared distances below this are 0 (stumpy's STUMPY_P_NORM_THRESHOLD).
SQUARED_DISTANCE_FLOOR = 1e-14
# Two profile values within this are a tie (motif order and neighbour choice are then free).
TIE_TOLERANCE = 1e-9


def exclusion_zone(m):
    return math.ceil(m / 4)


def brute_force(T, m):
    """Profile, index (smallest index among ties) and the full distance matrix."""
    n = len(T)
    l = n - m + 1
    e = exclusion_zone(m)
    W = np.lib.stride_tricks.sliding_window_view(T, m)
    constant = np.ptp(W, axis=1) == 0
    mu = W.mean(axis=1, keepdims=True)
    sd = W.std(axis=1, keepdims=True)
    sd[constant] = 1.0
    Z = (W - mu) / sd
    D = np.empty((l, l))
    for i in range(l):
        D[i] = np.sqrt(((Z - Z[i]) ** 2).sum(axis=1))
    cc = constant[:, None] & constant[None, :]
    mixed = constant[:, None] ^ constant[None, :]
    D[cc] = 0.0
    D[mixed] = math.sqrt(m)
    # stumpy's convention: squared distances under 1e-14 (STUMPY_P_NORM_THRESHOLD) are 0.
    D[D * D < SQUARED_DISTANCE_FLOOR] = 0.0
    idx = np.arange(l)
    D[np.abs(idx[:, None] - idx[None, :]) <= e] = np.inf
    P = D.min(axis=1)
    I = D.argmin(axis=1)
    return P, I, D


def top_motifs(P, I, m, k):
    e = exclusion_zone(m)
    order = sorted(range(len(P)), key=lambda i: (P[i], i))
    members, pairs = [], []
    for i in order:
        j = int(I[i])
        if any(abs(x - i) <= e or abs(x - j) <= e for x in members):
            continue
        pairs.append({"a": min(i, j), "b": max(i, j), "distance": float(P[i])})
        members += [i, j]
        if len(pairs) == k:
            break
    return pairs


def top_discords(P, m, k):
    e = exclusion_zone(m)
    order = sorted(range(len(P)), key=lambda i: (-P[i], i))
    found = []
    for i in order:
        if any(abs(d["index"] - i) <= e for d in found):
            continue
        found.append({"index": i, "distance": float(P[i])})
        if len(found) == k:
            break
    return found


def motifs_unambiguous(P, D, motifs, m):
    """True when no other window or neighbour ties with a chosen motif, so that the pairs
    themselves (not only their distances) are determined."""
    e = exclusion_zone(m)
    for mo in motifs:
        d = mo["distance"]
        near = np.abs(P - d) <= TIE_TOLERANCE * max(d, 1.0)
        near[[mo["a"], mo["b"]]] = False
        if near.any():
            return False
        for x in (mo["a"], mo["b"]):
            row = np.abs(D[x] - d) <= TIE_TOLERANCE * max(d, 1.0)
            other = mo["b"] if x == mo["a"] else mo["a"]
            row[max(0, other - e) : other + e + 1] = False
            if row.any():
                return False
    return True


def discords_unambiguous(P, discords):
    for dd in discords:
        near = np.abs(P - dd["distance"]) <= TIE_TOLERANCE * max(dd["distance"], 1.0)
        near[dd["index"]] = False
        if near.any():
            return False
    return True


def stumpy_motif_pairs(T, P, k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dist, idx = stumpy.motifs(
            T, P, min_neighbors=1, max_distance=np.inf, cutoff=np.inf,
            max_matches=2, max_motifs=k,
        )
    pairs = []
    for drow, irow in zip(dist, idx):
        if len(irow) < 2 or irow[1] < 0:
            continue
        a, b = int(irow[0]), int(irow[1])
        pairs.append({"a": min(a, b), "b": max(a, b), "distance": float(drow[1])})
    return pairs


def random_walk(rng, n):
    return np.cumsum(rng.standard_normal(n))


def series_set(rng):
    out = {}
    out["random_walk_1000"] = random_walk(rng, 1000)

    t = np.arange(800)
    out["sine_noise_800"] = np.sin(2 * np.pi * t / 50.0) + 0.2 * rng.standard_normal(800)

    # A 64-sample pattern planted three times into white noise, with small noise on top.
    base = rng.standard_normal(2000) * 0.8
    pattern = np.sin(np.linspace(0, 3 * np.pi, 64)) * np.linspace(1, 3, 64)
    for start in (250, 1100, 1700):
        base[start : start + 64] = pattern + 0.05 * rng.standard_normal(64)
    out["planted_motif_2000"] = base

    # A random walk with flat stretches: some longer than the windows tested, some shorter.
    walk = random_walk(rng, 600)
    for start, length, level in ((50, 40, 3.0), (200, 8, -1.5), (330, 45, 3.0), (480, 25, 0.0)):
        walk[start : start + length] = level
    out["constant_stretches_600"] = walk

    out["random_walk_120"] = random_walk(rng, 120)
    out["random_walk_41"] = random_walk(rng, 41)

    # Far from zero: a running sum of squares would lose every digit here.
    out["offset_noise_500"] = 1e6 + rng.standard_normal(500)

    # An exactly repeating integer sawtooth with a few changed samples: exact zeros and ties.
    saw = np.tile(np.arange(10.0), 40)
    for pos in rng.choice(400, 12, replace=False):
        saw[pos] += rng.integers(1, 4)
    out["sawtooth_ties_400"] = saw

    out["white_noise_3000"] = rng.standard_normal(3000)
    return out


CASES = [
    ("random_walk_1000", 3, 3),
    ("random_walk_1000", 20, 3),
    ("random_walk_1000", 100, 3),
    ("sine_noise_800", 3, 3),
    ("sine_noise_800", 40, 3),
    ("planted_motif_2000", 64, 3),
    ("constant_stretches_600", 10, 3),
    ("constant_stretches_600", 30, 4),
    ("random_walk_120", 3, 3),
    ("random_walk_120", 60, 3),  # m = n/2
    ("random_walk_120", 79, 2),  # the largest window whose profile is defined for n = 120
    ("random_walk_41", 20, 2),  # m close to n/2, odd n
    ("offset_noise_500", 16, 3),
    ("sawtooth_ties_400", 10, 3),
    ("sawtooth_ties_400", 25, 3),
    ("white_noise_3000", 50, 5),
]


def main():
    rng = np.random.default_rng(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)
    series = series_set(rng)
    for name, T in series.items():
        with open(os.path.join(OUT_DIR, name + ".txt"), "w") as f:
            for x in T:
                f.write(repr(float(x)) + "\n")
    cases = []
    worst = 0.0
    for name, m, k in CASES:
        T = series[name]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a window too large for stumpy is a script bug
            mp = stumpy.stump(T, m)
        P = mp[:, 0].astype(float)
        I = mp[:, 1].astype(int)
        Pb, Ib, D = brute_force(T, m)
        assert np.all(np.isfinite(P)) and np.all(np.isfinite(Pb))
        # stumpy's neighbour must be at its profile distance (up to ties).
        for i in range(len(P)):
            assert abs(D[i, I[i]] - Pb[i]) <= 1e-6 * max(Pb[i], 1.0) + 1e-7, (name, m, i)
        rel = np.abs(P - Pb) / np.maximum(Pb, 1e-300)
        rel[(P == 0) & (Pb == 0)] = 0
        worst_case = float(np.max(np.where(Pb > 1e-3, rel, 0)))
        worst = max(worst, worst_case)
        motifs = top_motifs(Pb, Ib, m, k)
        discords = top_discords(Pb, m, k)
        sp = stumpy_motif_pairs(T, P, k)
        cases.append(
            {
                "file": name + ".txt",
                "n": len(T),
                "window": m,
                "exclusion": exclusion_zone(m),
                "top": k,
                "stumpy_profile": [float(x) for x in P],
                "stumpy_index": [int(x) for x in I],
                "brute_profile": [float(x) for x in Pb],
                "motifs": motifs,
                "motifs_unambiguous": bool(motifs_unambiguous(Pb, D, motifs, m)),
                "discords": discords,
                "discords_unambiguous": bool(discords_unambiguous(Pb, discords)),
                "stumpy_motifs": sp,
                "stumpy_motifs_agree": [(p["a"], p["b"]) for p in sp]
                == [(p["a"], p["b"]) for p in motifs],
            }
        )
        print(
            f"{name:24s} m={m:3d}: stumpy vs brute force {worst_case:.2e} (distances > 1e-3), "
            f"motifs {'unique' if cases[-1]['motifs_unambiguous'] else 'tied'}, "
            f"stumpy.motifs {'agrees' if cases[-1]['stumpy_motifs_agree'] else 'differs'}",
            file=sys.stderr,
        )
    refs = {
        "generator": "scripts/make_meta_fixtures.py",
        "stumpy": stumpy.__version__,
        "numpy": np.__version__,
        "seed": SEED,
        "tie_tolerance": TIE_TOLERANCE,
        "largest_relative_difference_stumpy_vs_brute_force": worst,
        "cases": cases,
    }
    with open(os.path.join(OUT_DIR, "references.json"), "w") as f:
        json.dump(refs, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
