#!/usr/bin/env python3
"""Writes the built-in reference patterns in assets/patterns/ (one number per line).

Shapes, not amplitudes: the search z-normalises every window, so only the shape matters.
"""
import math
import pathlib

OUT = pathlib.Path(__file__).resolve().parent.parent / "assets" / "patterns"


def write(name, values):
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.txt").write_text("".join(f"{v:.6f}\n" for v in values))


# One period of a sine sampled 50 times (the demo's sine channel has 50 samples per cycle).
write("cycle", [math.sin(2 * math.pi * i / 50) for i in range(50)])
# A narrow Gaussian bump on a flat line: a spike.
write("spike", [math.exp(-0.5 * ((i - 24) / 3.0) ** 2) for i in range(48)])
# A smoothed step up: a level shift.
write("step-up", [1 / (1 + math.exp(-(i - 24) / 1.5)) for i in range(48)])
# A slow rise and a sharp drop.
write("ramp-drop", [i / 40 if i < 40 else 0.0 for i in range(48)])
