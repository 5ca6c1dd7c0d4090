#!/usr/bin/env python3
"""Reliability curve of the LTL violation forecast on the demo's `events` channel.

Records the demo's events generator over QUIC (`midstream-tui serve` + `midstream-tui record`),
writes its events channel as JSON lines (`cargo run --example trace_jsonl`), runs

    midstream-tui check --formula F --on-verdict restart --predict K --json EVENTS.jsonl

and bins the per-step predictions (the probability that the running monitor is violated within
the next K steps) against what happened: whether a violation came within the K steps after
that step. Steps whose K-step future runs past the end of the trace are left out. Prints one
row per bin of the predicted probability (10 bins): count, mean predicted, observed frequency.

    python3 scripts/reliability_events.py [--seconds 40] [--rate 250] [--seed 1]
        [--formula 'G(latency_ms < 100)'] [--k 10] [--bin target/release/midstream-tui]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=40)
    ap.add_argument("--rate", type=int, default=250, help="events per second")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--formula", default="G(latency_ms < 100)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--bin", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"),
                                                  "release", "midstream-tui"))
    ap.add_argument("--profile", default="release", help="cargo profile of the example")
    ap.add_argument("--keep", help="directory to keep the trace and JSON lines in")
    args = ap.parse_args()

    work = args.keep or tempfile.mkdtemp(prefix="midstream-reliability-")
    os.makedirs(work, exist_ok=True)
    trace = os.path.join(work, "events.midtrace")
    events = os.path.join(work, "events.jsonl")

    serve = subprocess.Popen(
        [args.bin, "serve", "--listen", "127.0.0.1:0", "--generator", "events",
         "--rate", str(args.rate), "--seed", str(args.seed)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        addr = pin = None
        for line in serve.stdout:
            if line.startswith("serving ") and " on " in line:
                addr = line.split(" on ")[1].split()[0]
            if line.startswith("certificate SHA-256 fingerprint: "):
                pin = line.split(": ", 1)[1].strip()
            if addr and pin:
                break
        if not (addr and pin):
            sys.exit("serve did not print its address and fingerprint")
        subprocess.run([args.bin, "record", addr, "--pin", pin, "-o", trace,
                        "--duration", str(args.seconds)], check=True)
    finally:
        serve.terminate()
        serve.wait()

    with open(events, "w") as out:
        cargo = ["cargo", "run", "-q", "--example", "trace_jsonl"]
        if args.profile == "release":
            cargo.insert(2, "--release")
        subprocess.run(cargo + ["--", trace, "events"], stdout=out, check=True)

    result = subprocess.run(
        [args.bin, "check", "--formula", args.formula, "--on-verdict", "restart",
         "--predict", str(args.k), "--json", events],
        stdout=subprocess.PIPE, text=True)
    if result.returncode not in (0, 1):
        sys.exit(f"check failed ({result.returncode})")
    report = json.loads(result.stdout)
    if isinstance(report, list):
        report = report[0]
    if "results" in report:
        report = report["results"][0]
    violations = sorted(report["violations"])
    predictions = report["predictions"]
    steps = len(predictions)

    import bisect
    bins = [[0, 0.0, 0] for _ in range(10)]
    for t, p in enumerate(predictions):
        if p is None or t + args.k >= steps:
            continue
        i = bisect.bisect_right(violations, t)
        hit = i < len(violations) and violations[i] <= t + args.k
        b = bins[min(int(p * 10), 9)]
        b[0] += 1
        b[1] += p
        b[2] += hit
    print(f"formula {args.formula}, K = {args.k}: {steps} steps, {len(violations)} violations "
          f"({args.seconds} s of events at {args.rate}/s, seed {args.seed})")
    print("| predicted | count | mean predicted | observed |")
    print("| --- | ---: | ---: | ---: |")
    for i, (n, total, hits) in enumerate(bins):
        lo, hi = i / 10, (i + 1) / 10
        if n:
            print(f"| {lo:.1f}–{hi:.1f} | {n} | {total / n:.3f} | {hits / n:.3f} |")
        else:
            print(f"| {lo:.1f}–{hi:.1f} | 0 | – | – |")


if __name__ == "__main__":
    main()
