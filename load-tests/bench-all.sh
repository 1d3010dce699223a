#!/usr/bin/env bash
# One command for the whole benchmark table of docs/benchmarks.md: every run.sh scenario
# (each with its same-run baseline), both scale runs, the isolation run and the scale-out run
# (root: cgroups), then a summary of the headline figures. Takes about 35 minutes on the
# 2-core machine; everything stays on 127.0.0.1.
#   load-tests/bench-all.sh                 # all of it
#   SCENARIOS="ingest-only e2e-1k" load-tests/bench-all.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

scenarios="${SCENARIOS:-ingest-only ingest-max sustained e2e-1k fanout slow burst subs-100k retries-1m isolation scale-out}"
out="${RESULTS_DIR:-/tmp/courier-bench}/all-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

cargo build --release -q -p courier -p courier-sink
for s in $scenarios; do
  echo "=== $s (load average: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/summary.txt"
  case "$s" in
    subs-100k | retries-1m) python3 "$here/scale.py" "$s" 2>&1 | tee "$out/$s.txt" | tail -n 1 >>"$out/summary.txt" ;;
    isolation | scale-out)
      NO_BUILD=1 bash "$here/run.sh" "$s" >"$out/$s.txt" 2>&1 || echo "$s failed (see $out/$s.txt)" >>"$out/summary.txt"
      sed -n '/^== /,$p' "$out/$s.txt" | grep -v '^\[' >>"$out/summary.txt" || true
      ;;
    *)
      NO_BUILD=1 bash "$here/run.sh" "$s" >"$out/$s.txt" 2>&1 || echo "$s failed (see $out/$s.txt)" >>"$out/summary.txt"
      sed -n "/== $s:/,/courier peak RSS/p" "$out/$s.txt" |
        grep -E "accepted msgs/s|delivered msgs/s|ingest p99|e2e p99|courier peak RSS" >>"$out/summary.txt" || true
      ;;
  esac
done
echo
cat "$out/summary.txt"
echo "full reports: $out"
