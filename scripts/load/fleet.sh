#!/usr/bin/env bash
# The analyzers' load run (README, "Analyzers on NATS"): a bare `nats-server -js` on a free
# loopback port, N analyzers of one group, and examples/fleet_load publishing SUBJECTS subjects
# (FIELDS numbers per JSON message, 0: one bare number) at RATE messages/s (0: as fast as it
# can) for SECS seconds. Prints the publisher's line and each analyzer's status lines (read,
# analysed msg/s and records/s, results latency), and each analyzer's CPU seconds by thread
# (the loop that reads NATS and feeds the pipeline, and the engines' `midstream-worker`s).
# Everything runs on this machine. DRAIN (default 8) is how many seconds the analyzers get
# after the publisher stops to finish what the stream holds.
#
#   scripts/load/fleet.sh N SUBJECTS FIELDS RATE SECS
set -euo pipefail
n=${1:-1}
subjects=${2:-100}
fields=${3:-0}
rate=${4:-0}
secs=${5:-20}
target=${CARGO_TARGET_DIR:-target}
bin=${MIDSTREAM_BIN:-$target/release/midstream-tui}
load=${FLEET_LOAD_BIN:-$target/release/examples/fleet_load}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
nats-server -a 127.0.0.1 -p "$port" -js -sd "$dir/store" 2> "$dir/server.log" &
server=$!
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 50); do grep -q "Server is ready" "$dir/server.log" && break; sleep 0.1; done
url="nats://127.0.0.1:$port"
for i in $(seq "$n"); do
  "$bin" analyzer "$url" --subject 'in.>' --results res --group load --name "a$i" > "$dir/a$i.out" 2>&1 &
  pids+=($!)
done
for i in $(seq "$n"); do
  for _ in $(seq 100); do grep -q "^analyzer a$i" "$dir/a$i.out" && break; sleep 0.1; done
done
sleep 2
"$load" "$url" --subjects "$subjects" --fields "$fields" --rate "$rate" --seconds "$secs"
# Let the analyzers finish what the stream holds, then their CPU time and last status lines.
drain=${DRAIN:-8}
sleep "$drain"
for i in $(seq "$n"); do
  p=${pids[$((i - 1))]}
  hz=$(getconf CLK_TCK)
  echo "a$i cpu s by thread: $(for t in /proc/$p/task/*; do
    comm=$(sed 's/^[0-9]* (\(.*\)) .*/\1/' "$t/stat")
    set -- $(sed 's/^.*) //' "$t/stat")
    echo "$comm ${12} ${13}"
  done | awk -v hz="$hz" '{c[$1] += ($2 + $3) / hz} END {for (k in c) printf "%s %.1f, ", k, c[k]}')"
done
for i in $(seq "$n"); do
  echo "== a$i"
  grep "^status" "$dir/a$i.out" | tail -n $(( (secs + drain) / 5 + 1 ))
done
