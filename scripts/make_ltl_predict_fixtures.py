#!/usr/bin/env python3
"""Independent reference for `check --on-verdict restart --predict K`.

Writes tests/fixtures/ltl/predict_trace.jsonl (a Markov-modulated trace: a hidden-ish
`mode` field the formula never reads, and an `alarm` whose next value depends on the mode)
and tests/fixtures/ltl/predict_expected.json: for the formula G(alarm -> X !alarm), the
violation steps with restarts and, after every step, the probability of a violation within
the next K steps under the model the engine is documented to learn (a Markov chain over the
records' valuations, transition probabilities = observed transition counts / times left;
from a valuation never left yet, the valuations' overall frequencies). The monitor is coded
by hand here (a violation is an alarm right after an alarm of the same run), not compiled
from the formula, and the K-step probability is a backward recursion over (pending, valuation),
so nothing is shared with the Rust code but the model's definition.

Run: python3 scripts/make_ltl_predict_fixtures.py
"""

import json
import random
from functools import lru_cache
from pathlib import Path

SEED = 16
STEPS = 600
HORIZON = 5
# mode flips with these probabilities; alarm at t+1 is drawn given the mode at t.
MODE_FLIP = 0.05
ALARM_GIVEN_MODE = {False: 0.05, True: 0.45}

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ltl"


def generate():
    rng = random.Random(SEED)
    mode, alarm = False, False
    records = []
    for _ in range(STEPS):
        records.append({"mode": mode, "alarm": alarm})
        next_alarm = rng.random() < ALARM_GIVEN_MODE[mode]
        if rng.random() < MODE_FLIP:
            mode = not mode
        alarm = next_alarm
    return records


def main():
    records = generate()
    vals = [(r["alarm"], r["mode"]) for r in records]
    counts = {}  # (from, to) -> n
    left = {}  # from -> n
    seen = {}  # valuation -> n
    pending = False  # the running run's last record was an alarm
    restart_next = False
    violations = []
    predictions = []
    for t, v in enumerate(vals):
        # Monitor step (with restart after a violation).
        if restart_next:
            pending = False
            restart_next = False
        alarm = v[0]
        if pending and alarm:
            violations.append(t)
            restart_next = True
            pending = False
        else:
            pending = alarm
        # Model update.
        if t > 0:
            prev = vals[t - 1]
            counts[(prev, v)] = counts.get((prev, v), 0) + 1
            left[prev] = left.get(prev, 0) + 1
        seen[v] = seen.get(v, 0) + 1
        if t == 0:
            predictions.append(None)
            continue
        total_seen = sum(seen.values())

        def successors(s):
            if left.get(s, 0) > 0:
                return [(b, n / left[s]) for (a, b), n in counts.items() if a == s]
            return [(b, n / total_seen) for b, n in seen.items()]

        @lru_cache(maxsize=None)
        def risk(pend, s, k):
            if k == 0:
                return 0.0
            total = 0.0
            for nxt, p in successors(s):
                if pend and nxt[0]:
                    total += p
                else:
                    total += p * risk(nxt[0], nxt, k - 1)
            return total

        predictions.append(risk(pending, v, HORIZON))

    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "predict_trace.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    with open(OUT / "predict_expected.json", "w") as f:
        json.dump(
            {
                "formula": "G(alarm -> X !alarm)",
                "horizon": HORIZON,
                "violations": violations,
                "predictions": predictions,
            },
            f,
        )
    print(f"{len(violations)} violations, last prediction {predictions[-1]}")


if __name__ == "__main__":
    main()
