# 1,000 columns at ROWS rows/s on stdout (one million numbers a second at 1,000 rows/s), for
# the load run: each column a different mix of sines and noise, precomputed for a 4,000-row
# cycle so that writing costs little.
import math, random, sys, time
cols = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
rows_per_s = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
cycle = 4000
random.seed(1)
params = [(random.uniform(20, 400), random.uniform(0.1, 2), random.uniform(0, 0.3)) for _ in range(cols)]
lines = []
for r in range(cycle):
    vals = []
    for (period, amp, noise) in params:
        v = amp * math.sin(2 * math.pi * r / period) + noise * random.gauss(0, 1)
        vals.append(f"{v:.4f}")
    lines.append((" ".join(vals) + "\n").encode())
out = sys.stdout.buffer
out.write((" ".join(f"c{i}" for i in range(cols)) + "\n").encode())
start = time.monotonic()
sent = 0
while True:
    due = int((time.monotonic() - start) * rows_per_s)
    if due > sent:
        chunk = b"".join(lines[(sent + k) % cycle] for k in range(due - sent))
        out.write(chunk)
        out.flush()
        sent = due
    time.sleep(0.005)
