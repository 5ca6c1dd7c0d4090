#!/usr/bin/env bash
# The load run of docs/ARCHITECTURE.md ("Under load"): 1,000 columns at 1,000 lines/s (1 M
# records/s) piped into `open -` in plain-text mode, every engine on, recording, for SECS
# seconds; resident memory sampled every 5 s into rss.log. Extra arguments go to `open`
# (e.g. --formula 'G(c0 < 5)').
#
#   scripts/load/run.sh DIR SECS [open flags...]
set -euo pipefail
dir=${1:?output directory}
secs=${2:-600}
shift 2 || true
bin=${MIDSTREAM_BIN:-target/release/midstream-tui}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
python3 "$here/loadgen.py" 1000 1000 |
  "$bin" open - --format columns --name load --record "$dir/load.mtr" "$@" \
    > "$dir/summary.out" 2> "$dir/stderr.out" &
sleep 1
pid=$(pgrep -n -f -- "open - --format columns --name load")
start=$(date +%s)
: > "$dir/rss.log"
while [ $(( $(date +%s) - start )) -lt "$secs" ]; do
  echo "$(( $(date +%s) - start )) $(ps -o rss= -p "$pid")" >> "$dir/rss.log"
  sleep 5
done
kill -INT "$pid"
wait || true
tail -n 8 "$dir/summary.out"
