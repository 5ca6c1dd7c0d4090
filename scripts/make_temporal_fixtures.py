#!/usr/bin/env python3
"""Reference values for the temporal engine (tests/fixtures/temporal/), computed by
implementations other than ours.

    pip install dtaidistance rapidfuzz numpy
    python3 scripts/make_temporal_fixtures.py

- DTW: dtaidistance (C implementation). Its `distance` is the square root of the minimum sum
  of squared differences (our `dtw-sq`); with `inner_dist="euclidean"` it is the minimum sum
  of |a - b| with no root (our `dtw`). Its `window=w` allows |i - j| <= w - 1, so DESIGN.md's
  band W' maps to `window=W' + 1`; for unequal lengths its band is skewed (it widens on one
  side only), so banded cases with unequal lengths use the plain dynamic program below, written
  here from the recurrence. Every case where both apply is checked against both.
- Levenshtein and LCS: rapidfuzz (`Levenshtein.distance`, `LCSseq.similarity`, and their
  `normalized_similarity`), on Python strings (sequences of Unicode code points) and on lists
  of integers (token sequences).
- Subsequence search: the DTW distance of every z-normalised window (numpy, population
  standard deviation) to the z-normalised query, by dtaidistance with the band.

The seed is fixed, so the files are reproducible.
"""

import json
import math
import os
import random
import sys

import numpy as np
import rapidfuzz
from dtaidistance import dtw
from rapidfuzz.distance import LCSseq, Levenshtein

import dtaidistance

SEED = 20240603
OUT_DIR = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "temporal")
# Agreement required between dtaidistance and the plain dynamic program below.
CROSS_CHECK_RTOL = 1e-12


def plain_dtw(a, b, window, squared):
    """DTW straight from the recurrence over the full matrix, with DESIGN.md's band rule:
    cells with |i - j| <= max(W, |n - m|) (no band when window is None)."""
    n, m = len(a), len(b)
    w = max(n, m) if window is None else max(window, abs(n - m))
    inf = math.inf
    d = [[inf] * (m + 1) for _ in range(n + 1)]
    d[0][0] = 0.0
    for i in range(1, n + 1):
        for j in range(max(1, i - w), min(m, i + w) + 1):
            diff = a[i - 1] - b[j - 1]
            cost = diff * diff if squared else abs(diff)
            d[i][j] = cost + min(d[i - 1][j - 1], d[i - 1][j], d[i][j - 1])
    total = d[n][m]
    return math.sqrt(total) if squared else total


def dtai(a, b, window, squared):
    """dtaidistance's DTW in DESIGN.md's convention (equal lengths or no band only)."""
    kwargs = {"use_c": True}
    if window is not None:
        kwargs["window"] = window + 1
    if not squared:
        kwargs["inner_dist"] = "euclidean"
    return float(dtw.distance(np.asarray(a, dtype=np.double), np.asarray(b, dtype=np.double), **kwargs))


def close(x, y):
    return abs(x - y) <= CROSS_CHECK_RTOL * max(1.0, abs(x), abs(y))


def dtw_cases(rng):
    shapes = [
        (1, 1), (1, 2), (2, 1), (1, 7), (7, 1), (2, 2), (3, 4), (5, 5), (8, 13), (13, 8),
        (10, 10), (17, 40), (40, 17), (50, 50), (64, 65), (100, 100), (120, 75), (200, 200),
    ]
    windows = [None, 0, 1, 2, 3, 5, 10, 30]
    cases = []
    for n, m in shapes:
        for kind in ("normal", "walk", "integers"):
            if kind == "normal":
                a = [rng.gauss(0.0, 1.0) for _ in range(n)]
                b = [rng.gauss(0.5, 2.0) for _ in range(m)]
            elif kind == "walk":
                a = list(np.cumsum([rng.gauss(0.0, 1.0) for _ in range(n)]))
                b = list(np.cumsum([rng.gauss(0.0, 1.0) for _ in range(m)]))
            else:
                a = [float(rng.randint(-5, 5)) for _ in range(n)]
                b = [float(rng.randint(-5, 5)) for _ in range(m)]
            a = [float(x) for x in a]
            b = [float(x) for x in b]
            results = []
            for window in windows:
                if window is not None and window > max(n, m):
                    continue
                entry = {"window": window}
                for key, squared in (("dtw", False), ("dtw_sq", True)):
                    plain = plain_dtw(a, b, window, squared)
                    if window is None or n == m:
                        reference = dtai(a, b, window, squared)
                        if not close(reference, plain):
                            sys.exit(f"dtaidistance {reference} != plain {plain} for {n}x{m} w={window}")
                        entry[key] = reference
                        entry["source"] = "dtaidistance"
                    else:
                        entry[key] = plain
                        entry["source"] = "plain-dp"
                results.append(entry)
            cases.append({"a": a, "b": b, "results": results})
    return cases


def random_text(rng, length, alphabet):
    return "".join(rng.choice(alphabet) for _ in range(length))


def mutate(rng, text, alphabet, edits):
    chars = list(text)
    for _ in range(edits):
        op = rng.choice("ids")
        pos = rng.randint(0, len(chars)) if op == "i" else (rng.randrange(len(chars)) if chars else 0)
        if op == "i":
            chars.insert(pos, rng.choice(alphabet))
        elif chars and op == "d":
            del chars[pos]
        elif chars:
            chars[pos] = rng.choice(alphabet)
    return "".join(chars)


def text_cases(rng):
    alphabets = {
        "binary": "01",
        "dna": "ACGT",
        "latin": "abcdefghijklmnopqrstuvwxyz ",
        "accented": "aeiouàéîõüñçß",
        "cjk": "".join(chr(c) for c in range(0x4E00, 0x4E00 + 500)),
        "emoji": "😀😁😂🤣😃😄😅😆😉😊👍🏽🇫🇷",
        "combining": "ae\u0301\u0308o\u0302n\u0303",
        "mixed": "aé中😀\u0301 Zß",
    }
    fixed = [
        ("", ""), ("", "a"), ("a", ""), ("a", "a"), ("a", "b"), ("kitten", "sitting"),
        ("flaw", "lawn"), ("café", "cafe"), ("e\u0301", "é"), ("😀a", "a😀"),
        ("日本語テキスト", "日本のテキスト"), ("ABCBDAB", "BDCABA"), ("\n", ""), ("a\r\nb", "a\nb"),
    ]
    cases = [(a, b, "fixed") for a, b in fixed]
    lengths = [1, 2, 5, 31, 63, 64, 65, 100, 127, 128, 129, 200, 300]
    for name, alphabet in alphabets.items():
        for n in lengths:
            m = rng.choice(lengths)
            a = random_text(rng, n, alphabet)
            cases.append((a, random_text(rng, m, alphabet), name + "-random"))
            cases.append((a, mutate(rng, a, alphabet, max(1, n // 10)), name + "-similar"))
    out = []
    for a, b, kind in cases:
        out.append({
            "kind": kind,
            "a": a,
            "b": b,
            "levenshtein": int(Levenshtein.distance(a, b)),
            "lcs": int(LCSseq.similarity(a, b)),
            "levenshtein_similarity": float(Levenshtein.normalized_similarity(a, b)),
            "lcs_similarity": float(LCSseq.normalized_similarity(a, b)),
        })
    return out


def token_cases(rng):
    out = []
    for n, m, vocabulary in [(0, 5, 3), (1, 1, 2), (10, 12, 4), (70, 66, 10), (150, 140, 1000), (300, 290, 30)]:
        a = [rng.randrange(vocabulary) for _ in range(n)]
        b = [rng.randrange(vocabulary) for _ in range(m)]
        for candidate in (b, a[: len(a) // 2] + b[len(b) // 2 :]):
            out.append({
                "a": a,
                "b": candidate,
                "levenshtein": int(Levenshtein.distance(a, candidate)),
                "lcs": int(LCSseq.similarity(a, candidate)),
            })
    return out


def znorm(x):
    x = np.asarray(x, dtype=np.double)
    std = x.std()
    return (x - x.mean()) / std


def search_cases(rng):
    out = []
    for name, squared, length, query_len, band in [
        ("walk-sq", True, 2500, 64, 6),
        ("walk-abs", False, 2500, 48, 4),
        ("walk-sq-wide", True, 1500, 100, 20),
    ]:
        series = np.cumsum([rng.gauss(0.0, 1.0) for _ in range(length)])
        query = np.cumsum([rng.gauss(0.0, 1.0) for _ in range(query_len)])
        # Plant two scaled, shifted, noisy copies of the query.
        for start in (length // 3, 2 * length // 3):
            series[start:start + query_len] = (
                series[start] + 2.5 * query + np.array([rng.gauss(0.0, 0.05) for _ in range(query_len)])
            )
        q = znorm(query)
        profile = [dtai(q, znorm(series[s:s + query_len]), band, squared) for s in range(length - query_len + 1)]
        best = int(np.argmin(profile))
        out.append({
            "name": name,
            "cost": "squared" if squared else "absolute",
            "band": band,
            "series": [float(v) for v in series],
            "query": [float(v) for v in query],
            "profile": [float(v) for v in profile],
            "best_start": best,
            "best_distance": float(profile[best]),
        })
    return out


def main():
    rng = random.Random(SEED)
    os.makedirs(OUT_DIR, exist_ok=True)
    provenance = {
        "script": "scripts/make_temporal_fixtures.py",
        "seed": SEED,
        "dtaidistance": dtaidistance.__version__,
        "rapidfuzz": rapidfuzz.__version__,
        "numpy": np.__version__,
    }
    files = {
        "dtw.json": dtw_cases(rng),
        "text.json": text_cases(rng),
        "tokens.json": token_cases(rng),
        "search.json": search_cases(rng),
    }
    for name, cases in files.items():
        with open(os.path.join(OUT_DIR, name), "w", encoding="utf-8") as f:
            json.dump({"provenance": provenance, "cases": cases}, f, ensure_ascii=False)
            f.write("\n")
        print(f"{name}: {len(cases)} cases")


if __name__ == "__main__":
    main()
