#!/usr/bin/env bash
# The hostile soak: steady healthy traffic with one hostile receiver and one hostile
# producer among it, for DURATION (10 minutes), on 127.0.0.1 only. Not part of CI.
#
#   load-tests/soak-hostile.sh
#
# What runs: Courier (release) on a fresh database; the sink (SINK_TRACK_IDS=1, so it counts
# distinct messages and duplicates) behind four healthy subscriptions and one signed one;
# hostile_peers.py's receiver behind one subscription (it answers each attempt with the
# next of: 200 "ok\0", invalid UTF-8, a 1 MiB header, a NUL in a header, a body trickled
# 1 byte/s, a reset mid-body); loadgen at RATE msg/s to the healthy subscriptions and
# HOSTILE_RATE msg/s to the hostile one; hostile_peers.py's producer at PRODUCER_RATE req/s
# (depth-5,000 payloads on every form, NUL bytes and %00, wrong signatures, \u0000 escapes,
# 900 KiB arrays, signed bodies). Courier's RSS is sampled every SAMPLE seconds.
#
# Then it waits for every delivery to finish (or DRAIN_TIMEOUT) and reports: accepted,
# lost (accepted but neither delivered nor failed), stranded (unfinished past their
# schedule), duplicates (seen twice by the sink; counted by Courier), the hostile
# receiver's outcomes, every unexpected answer, RSS start/peak/end, load average.
#
# Knobs: DURATION (600 s), RATE (800), HOSTILE_RATE (10; 0 = none), PRODUCER_RATE (20; 0 =
# none), SAMPLE (5 s),
# DRAIN_TIMEOUT (300 s), COURIER_PORT (18100), SINK_PORT (19200), HOSTILE_PORT (19201),
# PG_ADMIN_URL, REDIS_URL, NO_BUILD=1, RESULTS_DIR (/tmp/courier-bench), KEEP_DB=1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-600}"
RATE="${RATE:-800}"
HOSTILE_RATE="${HOSTILE_RATE:-10}"
PRODUCER_RATE="${PRODUCER_RATE:-20}"
SAMPLE="${SAMPLE:-5}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-300}"
COURIER_PORT="${COURIER_PORT:-18100}"
SINK_PORT="${SINK_PORT:-19200}"
HOSTILE_PORT="${HOSTILE_PORT:-19201}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
for url in "$PG_ADMIN_URL" "$REDIS_URL"; do
  case "$url" in
    *@127.0.0.1[:/]* | *//127.0.0.1[:/]* | *@localhost[:/]* | *//localhost[:/]*) ;;
    *) echo "refusing non-local URL: $url" >&2; exit 2 ;;
  esac
done

RUN_ID="$(date -u +%Y%m%dT%H%M%SZ)-$$"
DB="courier_soak_$(printf '%s' "$RUN_ID" | tr -c '[:alnum:]' '_' | tr '[:upper:]' '[:lower:]')"
PREFIX="soak:${RUN_ID}:"
OUT="${RESULTS_DIR:-/tmp/courier-bench}/${RUN_ID}-soak-hostile"
mkdir -p "$OUT"
API_KEY="soak_$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
SECRET="soak-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
COURIER_URL="http://127.0.0.1:${COURIER_PORT}"
SINK_URL="http://127.0.0.1:${SINK_PORT}"
SINK_BIN="$ROOT/target/release/courier-sink"
LOADGEN_BIN="$ROOT/target/release/loadgen"
COURIER_BIN="$ROOT/target/release/courier"
PEERS="$ROOT/load-tests/hostile_peers.py"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

PIDS=()
DB_CREATED=0
cleanup() {
  local rc=$?
  set +e
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[$i]}" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "$DB_CREATED" = 1 ] && [ "${KEEP_DB:-0}" != 1 ]; then
    psql "$PG_ADMIN_URL/postgres" -qAtc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1
  fi
  redis-cli -u "$REDIS_URL" --scan --pattern "${PREFIX}*" 2>/dev/null |
    xargs -r -n 500 redis-cli -u "$REDIS_URL" UNLINK >/dev/null 2>&1
  log "results and logs: $OUT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() { # url seconds pid
  for _ in $(seq 1 $(($2 * 10))); do
    curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
sql() { psql "$PG_ADMIN_URL/$DB" -qAtX -c "$1"; }
api() { # method path [json]
  curl -fsS --max-time 10 -X "$1" "$COURIER_URL$2" -H "Authorization: Bearer $API_KEY" \
    -H 'Content-Type: application/json' ${3:+-d "$3"}
}
create_sub() { # json -> id
  api POST /subscriptions/ "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

if [ "${NO_BUILD:-0}" != 1 ]; then
  log "building courier and the sink (release)"
  (cd "$ROOT" && cargo build --release -p courier -p courier-sink 2>"$OUT/build.log") ||
    die "build failed (see $OUT/build.log)"
fi
for b in "$SINK_BIN" "$LOADGEN_BIN" "$COURIER_BIN"; do [ -x "$b" ] || die "no binary $b"; done

loadavg() { cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/'; }
{
  echo "load_start=$(loadavg)"
  echo "cpus=$(nproc)"
  echo "settings=duration ${DURATION}s, rate $RATE, hostile_rate $HOSTILE_RATE, producer_rate $PRODUCER_RATE"
} >"$OUT/env.txt"

SINK_BIND="127.0.0.1:$SINK_PORT" SINK_WORKERS=2 SINK_TRACK_IDS=1 "$SINK_BIN" >"$OUT/sink.log" 2>&1 &
PIDS+=($!)
wait_http "$SINK_URL/health" 10 "${PIDS[-1]}" || die "sink did not start"
python3 "$PEERS" receiver --port "$HOSTILE_PORT" --stats "$OUT/hostile-receiver.json" >"$OUT/hostile-receiver.log" 2>&1 &
PIDS+=($!)

psql "$PG_ADMIN_URL/postgres" -v ON_ERROR_STOP=1 -qAtc "CREATE DATABASE \"$DB\"" >/dev/null || die "cannot create $DB"
DB_CREATED=1
env COURIER_BIND="127.0.0.1:$COURIER_PORT" DATABASE_URL="$PG_ADMIN_URL/$DB" REDIS_URL="$REDIS_URL" \
  COURIER_REDIS_PREFIX="$PREFIX" COURIER_API_KEY="$API_KEY" COURIER_ALLOW_PRIVATE_TARGETS=true \
  COURIER_RETRY_SCHEDULE=1s,2s,4s,8s,16s COURIER_DELIVERY_TIMEOUT=5s COURIER_LOG_FORMAT=json \
  RUST_LOG=warn "$COURIER_BIN" >"$OUT/courier.log" 2>&1 &
COURIER_PID=$!
PIDS+=("$COURIER_PID")
wait_http "$COURIER_URL/ready" 60 "$COURIER_PID" || die "courier not ready (see $OUT/courier.log)"

HEALTHY=()
for i in 1 2 3 4; do HEALTHY+=("$(create_sub "{\"target_url\":\"$SINK_URL/hook/$i\",\"max_in_flight\":64}")"); done
HOSTILE="$(create_sub "{\"target_url\":\"http://127.0.0.1:$HOSTILE_PORT/hook\",\"max_in_flight\":64}")"
SIGNED="$(create_sub "{\"target_url\":\"$SINK_URL/hook/signed\",\"secret\":\"$SECRET\",\"max_in_flight\":64}")"
printf 'healthy %s\nhostile %s\nsigned %s\n' "${HEALTHY[*]}" "$HOSTILE" "$SIGNED" >"$OUT/subscriptions.txt"

sample_rss() { # every SAMPLE s: unix time, RSS KiB, 1-minute load
  echo "t,rss_kib,load1" >"$OUT/rss.csv"
  while kill -0 "$COURIER_PID" 2>/dev/null; do
    echo "$(date +%s),$(awk '/VmRSS/ {print $2}' "/proc/$COURIER_PID/status"),$(cut -d' ' -f1 /proc/loadavg)" >>"$OUT/rss.csv"
    sleep "$SAMPLE"
  done
}
sample_rss &
PIDS+=($!)

log "soak: $RATE msg/s healthy + $HOSTILE_RATE msg/s to the hostile receiver + $PRODUCER_RATE req/s hostile producer, ${DURATION}s"
cpu_before="$(awk '{print $14 + $15}' "/proc/$COURIER_PID/stat")"
URLS=()
for id in "${HEALTHY[@]}"; do URLS+=(--url "$COURIER_URL/ingest/$id?event_type=soak.healthy"); done
"$LOADGEN_BIN" "${URLS[@]}" --header "Authorization: Bearer $API_KEY" --mode open --rate "$RATE" \
  --connections 512 --duration "${DURATION}s" --json >"$OUT/loadgen-healthy.json" 2>"$OUT/loadgen-healthy.txt" &
GEN_H=$!
GEN_X="" GEN_P=""
if [ "$HOSTILE_RATE" != 0 ]; then # 0: no traffic to the hostile receiver (for comparison runs)
  "$LOADGEN_BIN" --url "$COURIER_URL/ingest/$HOSTILE?event_type=soak.to_hostile" \
    --header "Authorization: Bearer $API_KEY" --mode open --rate "$HOSTILE_RATE" --connections 64 \
    --duration "${DURATION}s" --json >"$OUT/loadgen-hostile.json" 2>"$OUT/loadgen-hostile.txt" &
  GEN_X=$!
fi
if [ "$PRODUCER_RATE" != 0 ]; then # 0: no hostile producer
  python3 "$PEERS" producer --courier "$COURIER_URL" --key "$API_KEY" --open "${HEALTHY[0]}" \
    --signed "$SIGNED" --secret "$SECRET" --duration "$DURATION" --rate "$PRODUCER_RATE" \
    --stats "$OUT/hostile-producer.json" >"$OUT/hostile-producer.log" 2>&1 &
  GEN_P=$!
fi
wait "$GEN_H" || die "healthy loadgen failed (see $OUT/loadgen-healthy.txt)"
[ -z "$GEN_X" ] || wait "$GEN_X" || die "hostile loadgen failed (see $OUT/loadgen-hostile.txt)"
[ -z "$GEN_P" ] || wait "$GEN_P" || die "hostile producer failed (see $OUT/hostile-producer.log)"
echo "load_end_of_traffic=$(loadavg)" >>"$OUT/env.txt"

log "traffic done; waiting for every delivery to finish (at most ${DRAIN_TIMEOUT}s)"
drain_start="$(date +%s)"
while :; do
  left="$(sql "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'delivering', 'retrying')")"
  [ "$left" = 0 ] && break
  [ $(($(date +%s) - drain_start)) -ge "$DRAIN_TIMEOUT" ] && { log "drain timeout with $left unfinished"; break; }
  sleep 2
done
echo "drain_s=$(($(date +%s) - drain_start))" >>"$OUT/env.txt"
cpu_after="$(awk '{print $14 + $15}' "/proc/$COURIER_PID/stat")"
echo "courier_cpu_s=$(((cpu_after - cpu_before) / $(getconf CLK_TCK)))" >>"$OUT/env.txt"
echo "load_end=$(loadavg)" >>"$OUT/env.txt"
sleep "$SAMPLE"
curl -fsS --max-time 5 "$SINK_URL/stats" >"$OUT/sink.json"
curl -fsS --max-time 5 "$COURIER_URL/metrics" >"$OUT/metrics.txt" || true
kill -TERM "${PIDS[1]}" 2>/dev/null && sleep 1  # the hostile receiver writes its counts

ids() { printf "'%s'," "$@" | sed 's/,$//'; }
sql "SELECT json_build_object(
  'messages', (SELECT count(*) FROM messages),
  'messages_without_delivery', (SELECT count(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id)),
  'healthy', (SELECT json_object_agg(status, n) FROM (SELECT status, count(*) n FROM deliveries WHERE subscription_id IN ($(ids "${HEALTHY[@]}" "$SIGNED")) GROUP BY status) s),
  'hostile', (SELECT json_object_agg(status, n) FROM (SELECT status, count(*) n FROM deliveries WHERE subscription_id = '$HOSTILE' GROUP BY status) s),
  'unfinished', (SELECT count(*) FROM deliveries WHERE status IN ('pending', 'delivering', 'retrying')),
  'stranded', (SELECT count(*) FROM deliveries WHERE status IN ('pending', 'retrying') AND next_attempt_at < now() - interval '60 seconds'),
  'hostile_attempts', (SELECT json_object_agg(k, n) FROM (SELECT coalesce(error_class, 'ok ' || status_code) k, count(*) n FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.subscription_id = '$HOSTILE' GROUP BY 1) s),
  'hostile_bodies_with_base64', (SELECT count(*) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.subscription_id = '$HOSTILE' AND a.response_body_base64 IS NOT NULL),
  'healthy_attempts_failed', (SELECT count(*) FROM attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.subscription_id IN ($(ids "${HEALTHY[@]}" "$SIGNED")) AND NOT a.succeeded)
)" >"$OUT/db.json"

python3 - "$OUT" <<'PY' | tee "$OUT/report.txt"
import json, os, re, sys
out = sys.argv[1]
def load(name, default=None):
    p = os.path.join(out, name)
    try:
        return json.load(open(p))
    except (OSError, ValueError):
        return default if default is not None else {}
env = dict(l.strip().split("=", 1) for l in open(os.path.join(out, "env.txt")) if "=" in l)
gh, gx, prod = load("loadgen-healthy.json"), load("loadgen-hostile.json"), load("hostile-producer.json")
db, sink, rx = load("db.json"), load("sink.json"), load("hostile-receiver.json")
metrics = open(os.path.join(out, "metrics.txt")).read() if os.path.exists(os.path.join(out, "metrics.txt")) else ""
def metric(name):
    return sum(float(l.split()[-1]) for l in metrics.splitlines() if l.startswith(name))
rss = [l.split(",") for l in open(os.path.join(out, "rss.csv")).read().splitlines()[1:] if l.count(",") == 2 and l.split(",")[1]]
rss_mib = [int(r[1]) / 1024 for r in rss]
warm = max(1, 60 // int(os.environ.get("SAMPLE", "5")))
accepted = gh.get("ok_total", 0) + gx.get("ok_total", 0) + prod.get("accepted", 0)
healthy, hostile = db.get("healthy") or {}, db.get("hostile") or {}
healthy_total = sum(healthy.values())
delivered = healthy.get("succeeded", 0)
lost = (max(0, accepted - db.get("messages", 0)) + db.get("messages_without_delivery", 0)
        + db.get("unfinished", 0) + max(0, delivered - sink.get("distinct", 0)))
errors = gh.get("errors", 0) + gh.get("non2xx", 0) + gx.get("errors", 0) + gx.get("non2xx", 0)
rows = [
    ("duration", f"{gh.get('duration_s', 0):.0f} s"),
    ("healthy rate (accepted)", f"{gh.get('ok_per_s', 0):,.0f} msg/s"),
    ("accepted (202)", f"{accepted:,}  (healthy {gh.get('ok_total', 0):,}, to the hostile receiver {gx.get('ok_total', 0):,}, producer's ordinary {prod.get('accepted', 0):,})"),
    ("messages committed", f"{db.get('messages', 0):,}"),
    ("ingest errors / non-2xx / dropped", f"{errors} / {gh.get('dropped', 0) + gx.get('dropped', 0)} dropped by the open-loop generator"),
    ("healthy deliveries", f"{healthy_total:,}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(healthy.items()))),
    ("sink: distinct / duplicates", f"{sink.get('distinct', 0):,} / {sink.get('duplicates', 0):,}"),
    ("healthy e2e p50 / p99 / max", f"{sink.get('p50_ms', 0):.1f} / {sink.get('p99_ms', 0):.1f} / {sink.get('max_ms', 0):.0f} ms"),
    ("hostile receiver deliveries", ", ".join(f"{k} {v:,}" for k, v in sorted(hostile.items()))),
    ("hostile receiver attempts", ", ".join(f"{k} {v:,}" for k, v in sorted((db.get('hostile_attempts') or {}).items()))
     + f"; {db.get('hostile_bodies_with_base64', 0):,} kept as exact bytes (base64)"),
    ("hostile receiver behaviours served", ", ".join(f"{k} {v:,}" for k, v in (rx.get("by_behaviour") or {}).items())),
    ("hostile producer", f"{prod.get('sent', 0):,} sent, {prod.get('refused_as_expected', 0):,} refused as expected, "
     f"{prod.get('accepted', 0):,} accepted, {len(prod.get('unexpected', [])) + prod.get('unexpected_more', 0)} unexpected"),
    ("LOST", f"{lost}"),
    ("STRANDED (unfinished past schedule)", f"{db.get('stranded', 0)} (unfinished after the drain: {db.get('unfinished', 0)})"),
    ("possible duplicates counted by Courier", f"{metric('courier_possible_duplicates_total'):.0f}"),
    ("outcomes dropped / fenced", f"{metric('courier_outcomes_dropped_total'):.0f} / {metric('courier_fenced_outcomes_total'):.0f}"),
    ("RSS start (1 min) / peak / end", (f"{rss_mib[min(warm, len(rss_mib) - 1)]:.1f} / {max(rss_mib):.1f} / {rss_mib[-1]:.1f} MiB" if rss_mib else "-")),
    ("drain after traffic", f"{env.get('drain_s', '?')} s; Courier CPU {env.get('courier_cpu_s', '?')} s"),
    ("load average (start / end of traffic / end)", f"{env.get('load_start', '?')} / {env.get('load_end_of_traffic', '?')} / {env.get('load_end', '?')}"),
]
print("\n== hostile soak ==")
for k, v in rows:
    print(f"{k:<44} {v}")
for u in prod.get("unexpected", [])[:10]:
    print("  unexpected:", u)
json.dump({"rows": dict(rows), "db": db, "sink": sink, "producer": prod, "receiver": rx,
           "rss_mib": rss_mib}, open(os.path.join(out, "summary.json"), "w"), indent=1)
PY
