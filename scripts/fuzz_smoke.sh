#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for FUZZ_SECONDS seconds (default 20) on its committed
# seeds (fuzz/seeds/<target>/), two targets at a time, and fails when one crashes, leaks, times
# out on an input or runs out of memory. New corpus entries go to a scratch directory, so the
# work tree is left as it was. Needs a nightly toolchain; installs cargo-fuzz when missing.
#
#   scripts/fuzz_smoke.sh                  # every target, 20 s each
#   FUZZ_SECONDS=60 scripts/fuzz_smoke.sh frame_decoder trace_reader
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-20}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

cargo +nightly fuzz build

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# One target: its log in $scratch/<target>.log; the exit status is libFuzzer's.
run() {
  local target="$1"
  mkdir -p "$scratch/corpus/$target" "$scratch/artifacts/$target"
  cargo +nightly fuzz run "$target" "$scratch/corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$scratch/artifacts/$target/" >"$scratch/$target.log" 2>&1
}

report() {
  local target="$1" status="$2" log="$scratch/$1.log"
  local execs
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  if [ "$status" -eq 0 ]; then
    echo "fuzz $target: ok, $execs executions in ${seconds} s"
  else
    echo "fuzz $target: FAILED (exit $status); the end of its log:"
    tail -n 40 "$log"
    ls -l "$scratch/artifacts/$target/" || true
    failed=1
  fi
}

failed=0
i=0
while [ "$i" -lt "${#targets[@]}" ]; do
  first="${targets[$i]}"
  second="${targets[$((i + 1))]:-}"
  run "$first" &
  pid1=$!
  if [ -n "$second" ]; then
    run "$second" &
    pid2=$!
  fi
  status=0
  wait "$pid1" || status=$?
  report "$first" "$status"
  if [ -n "$second" ]; then
    status=0
    wait "$pid2" || status=$?
    report "$second" "$status"
  fi
  i=$((i + 2))
done
if [ "$failed" -ne 0 ]; then
  echo "a fuzz target failed: see above; reproduce with"
  echo "  cd fuzz && cargo +nightly fuzz run TARGET seeds/TARGET -- -max_total_time=$seconds"
  exit 1
fi
