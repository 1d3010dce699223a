#!/usr/bin/env bash
# Schemathesis over Courier's own /openapi.json, with the checks not_a_server_error,
# status_code_conformance and response_schema_conformance, against a real Courier (debug
# binary) with its own Postgres cluster and redis-server.
#
# Everything runs inside a network namespace this script creates (`unshare --net`) with only
# `lo` up: Courier, schemathesis, Postgres and Redis all live in it. Schemathesis generates
# `target_url` values (and Courier then tries to deliver to them), so the namespace is what
# guarantees no generated request can reach anything but this namespace's loopback: it has
# no other interface and no route. A veth pair to the host's Postgres and Redis would give
# the namespace a route out of it; private services inside need none. The script checks that
# the namespace has only `lo` and no route before it starts anything.
# COURIER_ALLOW_PRIVATE_TARGETS stays false.
#
# Needs root (CI runs as root), the Postgres server binaries (`initdb`, `pg_ctl`), redis-server
# and schemathesis (`pip install schemathesis`, done by .ci/run). Run it from anywhere:
#   bash .ci/schemathesis.sh            (builds target/debug/courier if missing)
# Env: SCHEMATHESIS_MAX_EXAMPLES (default 30), SCHEMATHESIS_MAX_TIME (seconds, default 200).
# One worker: with two, hypothesis (Python 3.11) sometimes fails in its own AST parsing
# ("AST constructor recursion depth mismatch"), a runtime error of the tool, not a finding.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--inside" ]; then
  [ -x target/debug/courier ] || nice -n 10 cargo build -q --bin courier
  exec unshare --net --fork bash "$0" --inside
fi

ip link set lo up
links="$(ip -o link show | awk -F': ' '{print $2}')"
routes="$(ip route show; ip -6 route show | grep -v '^::1 \|^fe80' || true)"
if [ "$links" != "lo" ] || [ -n "$(ip route show)" ]; then
  echo "the namespace is not private: links [$links], routes [$routes]" >&2
  exit 1
fi
echo "private network namespace: links [$links], no IPv4 route"

work="$(mktemp -d)"
pids=()
pg_bin="/usr/lib/postgresql/$(ls /usr/lib/postgresql | sort -n | tail -1)/bin"
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null 2>&1 || true
  redis-cli -p 6379 shutdown nosave >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

chown postgres:postgres "$work"
runuser -u postgres -- "$pg_bin/initdb" -D "$work/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p 5432 -k $work -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
  --dir "$work" --logfile "$work/redis.log"

key="schemathesis-key-$(python3 -c 'import uuid; print(uuid.uuid4().hex)')"
COURIER_BIND=127.0.0.1:8000 DATABASE_URL=postgres://postgres@127.0.0.1:5432/courier_schemathesis \
  REDIS_URL=redis://127.0.0.1:6379 COURIER_REDIS_PREFIX="courier_test:schemathesis:" \
  COURIER_API_KEY="$key" COURIER_ALLOW_PRIVATE_TARGETS=false COURIER_RETRY_SCHEDULE=1s \
  COURIER_DELIVERY_TIMEOUT=2s COURIER_LOG_FORMAT=json RUST_LOG=warn \
  target/debug/courier >"$work/courier.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do
  curl -fs http://127.0.0.1:8000/ready >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs http://127.0.0.1:8000/ready >/dev/null || { echo "courier did not start"; tail -50 "$work/courier.log"; exit 1; }

status=0
# /stream is Server-Sent Events (it never ends), /metrics is Prometheus text: both are left out.
schemathesis run http://127.0.0.1:8000/openapi.json \
  --header "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,response_schema_conformance \
  --exclude-path-regex '/stream$' --exclude-path /metrics \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" --max-time "${SCHEMATHESIS_MAX_TIME:-200}" \
  --workers 1 --request-timeout 10 --seed 20261203 \
  --suppress-health-check all --warnings off --continue-on-failure || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- courier log (errors)"
  grep -E '"level":"(ERROR|WARN)"' "$work/courier.log" | tail -40 || true
fi
exit "$status"
