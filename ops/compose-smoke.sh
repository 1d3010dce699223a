#!/usr/bin/env bash
# Runs the Docker image and ops/docker-compose.yml for real, on this machine's loopback only.
#
#   bash ops/compose-smoke.sh          # CI runs it after .ci/test (.ci/run)
#
# 1. A Docker engine: the running one, or `dockerd --bridge=none --iptables=false` started
#    here (and stopped at the end). No engine possible: one line saying so, exit 0.
# 2. Local base images from Debian's packages (ops/images/make.sh; kept in the engine, so a
#    second run skips debootstrap), the release binary (`cargo build --release`, a no-op when
#    fresh) and the dashboard build, then the runtime image: ops/Dockerfile's `runtime` stage
#    with COURIER_BINARY=host.
# 3. The stack from ops/docker-compose.yml + ops/smoke/hostnet.yml (host networking: Postgres
#    127.0.0.1:55432, Redis :56379, Courier :58000, receiver :58100), env file made from
#    ops/.env.example as docs/deploy.md says. Checks: health, the seed's cURL flow (signed
#    ingest → delivery to the example receiver → status → recent deliveries → dashboard),
#    `docker restart` of Courier during 300 ingests with nothing lost, ops/ec2/backup.sh and a
#    restore of its dump.
# 4. Profile `cluster`: courier-2 and courier-3 (:58001, :58002) join; 300 ingests spread over
#    the three nodes and six subscriptions while courier-3 is killed; nothing lost.
# 5. `down -v`, and timings. Logs of every container stay in target/compose-smoke/.
#
# Settings (environment): DOCKER (the docker CLI; default /usr/bin/docker when present, which
# matches Debian's dockerd and has BuildKit built in), COMPOSE (default `docker compose` when
# the plugin works, else docker-compose), COURIER_SMOKE_KEEP=1 (leave the stack up).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WORK="$ROOT/target/compose-smoke"
PROJECT=courier-smoke
B1=http://127.0.0.1:58000
RECEIVER=http://127.0.0.1:58100
PORTS="55432 56379 58000 58001 58002 58100"

log() { printf 'compose-smoke: %s\n' "$*"; }
die() { log "FAIL: $*"; exit 1; }

# ------------------------------------------------------------------------------- timings
T_START=$(date +%s)
T_PHASE=$T_START
PHASE=""
TIMINGS=()
phase() {
  local now
  now=$(date +%s)
  [ -n "$PHASE" ] && TIMINGS+=("$(printf '  %-56s %4ss' "$PHASE" $((now - T_PHASE)))")
  PHASE="$1"
  T_PHASE=$now
  [ -n "$1" ] && printf '\n--- %s\n' "$1"
  return 0
}
print_timings() {
  phase ""
  log "timings:"
  printf '%s\n' "${TIMINGS[@]}"
  printf '  %-56s %4ss\n' "total" $(($(date +%s) - T_START))
}

# ------------------------------------------------------------------------------- engine
if [ -z "${DOCKER:-}" ]; then
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
export DOCKER
command -v "$DOCKER" >/dev/null 2>&1 || { log "skipped: no docker CLI (apt-get install docker.io docker-compose debootstrap)"; exit 0; }
if [ -z "${COMPOSE:-}" ]; then
  if "$DOCKER" compose version >/dev/null 2>&1; then COMPOSE="$DOCKER compose"
  elif command -v docker-compose >/dev/null 2>&1; then COMPOSE=docker-compose
  else log "skipped: neither \`docker compose\` nor docker-compose is installed"; exit 0
  fi
fi
read -r -a COMPOSE_CMD <<<"$COMPOSE"

mkdir -p "$WORK"
rm -f "$WORK"/*.log "$WORK"/*.txt
DOCKERD_PID=""
PHASE="engine" # no banner yet: without an engine the script prints one line only
if ! "$DOCKER" info >/dev/null 2>&1; then
  command -v dockerd >/dev/null 2>&1 || { log "skipped: no dockerd here (apt-get install docker.io)"; exit 0; }
  # No bridge and no iptables rules: containers use host networking only.
  dockerd --bridge=none --iptables=false --ip6tables=false >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 30); do
    "$DOCKER" info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 1
  done
  if ! "$DOCKER" info >/dev/null 2>&1; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    log "skipped: dockerd cannot run here ($(tail -n 1 "$WORK/dockerd.log" | cut -c1-160))"
    exit 0
  fi
  log "started dockerd (pid $DOCKERD_PID, --bridge=none --iptables=false)"
fi
log "docker $("$DOCKER" version -f '{{.Server.Version}}'), compose: $COMPOSE ($("${COMPOSE_CMD[@]}" version --short 2>/dev/null || echo '?'))"

ENVF="$WORK/smoke.env"
STACK="$WORK/stack.yml"
# The stack is ops/docker-compose.yml + ops/smoke/hostnet.yml as compose itself merges them
# (`config`), less the `ports:` of host-network services: the engine would discard them, but
# docker-compose 1.29 refuses host networking with port bindings and cannot unset a list
# from an override file. Profile `tls` (Caddy) is left out, and `ulimits` are capped at the
# engine's own limit.
render_stack() {
  "${COMPOSE_CMD[@]}" -p "$PROJECT" --env-file "$ENVF" -f ops/docker-compose.yml \
    -f ops/smoke/hostnet.yml --profile example --profile cluster config >"$STACK.tmp"
  chmod 600 "$STACK.tmp" # it holds the secrets of the env file
  python3 - "$STACK.tmp" "$STACK" "$(engine_nofile)" <<'EOF'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
nofile = int(sys.argv[3])
for name, svc in list(doc["services"].items()):
    if svc.get("profiles") and not {"example", "cluster"} & set(svc["profiles"]):
        del doc["services"][name]  # caddy (profile tls): needs ports 80/443 and a registry image
        continue
    assert svc.get("network_mode") == "host", name
    svc.pop("ports", None)
    # A container cannot get more open files than the engine has (65536 asked, 20000 here).
    lim = (svc.get("ulimits") or {}).get("nofile") or {}
    for k in ("soft", "hard"):
        if k in lim and int(lim[k]) > nofile:
            lim[k] = nofile
with open(sys.argv[2], "w", opener=lambda p, f: __import__("os").open(p, f, 0o600)) as out:
    yaml.safe_dump(doc, out, sort_keys=False)
EOF
  rm -f "$STACK.tmp"
}
engine_nofile() { # the running dockerd's hard limit on open files
  local pid
  pid="${DOCKERD_PID:-$(pgrep -o -x dockerd || true)}"
  awk '/^Max open files/ {print ($5 == "unlimited" ? 1048576 : $5)}' "/proc/${pid:-self}/limits"
}
compose() {
  "${COMPOSE_CMD[@]}" -p "$PROJECT" -f "$STACK" --profile example --profile cluster "$@"
}
cid() { compose ps -q "$1"; }
save_logs() {
  local svc id
  for svc in postgres redis courier courier-2 courier-3 receiver; do
    id="$(cid "$svc" 2>/dev/null || true)"
    if [ -n "$id" ]; then "$DOCKER" logs "$id" >"$WORK/$svc.log" 2>&1 || true; fi
  done
}
cleanup() {
  local rc=$?
  set +e
  if [ -f "$STACK" ]; then
    save_logs
    if [ "$rc" != 0 ]; then
      for f in "$WORK"/courier*.log "$WORK"/receiver.log "$WORK"/postgres.log; do
        [ -f "$f" ] && { log "last lines of $(basename "$f"):"; tail -n 25 "$f"; }
      done
    fi
    if [ "${COURIER_SMOKE_KEEP:-}" = 1 ]; then
      log "COURIER_SMOKE_KEEP=1: stack left up (project $PROJECT)"
    else
      compose down -v --remove-orphans -t 10 >"$WORK/down.log" 2>&1
    fi
  fi
  if [ -n "$DOCKERD_PID" ] && [ "${COURIER_SMOKE_KEEP:-}" != 1 ]; then
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    log "stopped the dockerd this script started"
  fi
  [ "$rc" = 0 ] && print_timings && log "passed"
  [ "$rc" != 0 ] && log "failed (logs in $WORK)"
  exit "$rc"
}
trap cleanup EXIT

# A leftover stack of an interrupted run goes first; then the ports must be free.
if [ -f "$STACK" ]; then compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true; fi
for p in $PORTS; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then die "port $p on 127.0.0.1 is in use"; fi
done

# ------------------------------------------------------------------------------- images
phase "base images (debootstrap + docker import, cached)"
bash ops/images/make.sh all

phase "dashboard and release binary (cargo build --release -p courier)"
# The dashboard first: a release binary that embeds it needs frontend/dist when it compiles.
if [ ! -f frontend/dist/index.html ]; then
  log "building the dashboard (frontend/dist)"
  (cd frontend && { [ -d node_modules ] || nice -n 10 npm ci --no-audit --no-fund; } && nice -n 10 npm run build) \
    >"$WORK/frontend-build.log" 2>&1 || { tail -n 30 "$WORK/frontend-build.log"; die "dashboard build failed"; }
fi
nice -n 10 cargo build --release -p courier --locked 2>"$WORK/cargo-release.log" ||
  { tail -n 30 "$WORK/cargo-release.log"; die "release build failed"; }

phase "runtime image (ops/Dockerfile, COURIER_BINARY=host)"
DOCKER_BUILDKIT=1 "$DOCKER" build -q -f ops/Dockerfile --target runtime --network host \
  --build-arg COURIER_BINARY=host --build-arg RUNTIME_BASE=courier-base/debian:bookworm \
  -t courier:smoke . >"$WORK/image.txt"
user="$("$DOCKER" image inspect -f '{{.Config.User}}' courier:smoke)"
hc="$("$DOCKER" image inspect -f '{{json .Config.Healthcheck.Test}}' courier:smoke)"
[ "$user" = 10001:10001 ] || die "image user is '$user', not 10001:10001"
[ "$hc" = '["CMD","/app/healthcheck","/health"]' ] || die "image healthcheck is $hc"
log "courier:smoke $(cut -c8-19 "$WORK/image.txt"), $("$DOCKER" image inspect -f '{{.Size}}' courier:smoke | awk '{printf "%.0f MB", $1/1e6}'), user $user"

# ------------------------------------------------------------------------------- env file
# As docs/deploy.md says: copy ops/.env.example and fill in the secrets.
set_env() { # key value
  grep -v "^$1=" "$ENVF" >"$ENVF.tmp" || true
  printf '%s=%s\n' "$1" "$2" >>"$ENVF.tmp"
  mv "$ENVF.tmp" "$ENVF"
}
umask 077
cp ops/.env.example "$ENVF"
umask 022
API_KEY="smoke_$(openssl rand -hex 16)"
SECRET="smoke-$(openssl rand -hex 8)"
set_env COURIER_API_KEY "$API_KEY"
set_env POSTGRES_PASSWORD "$(openssl rand -hex 24)"
set_env COURIER_ENCRYPTION_KEY "$(openssl rand -base64 32)"
set_env COURIER_ENV_FILE "$ENVF"
set_env COURIER_IMAGE_TAG smoke
set_env RECEIVER_SECRET "$SECRET"
# Shorter waits than production so a lost attempt shows up within the run (eight attempts
# over about two minutes: the receiver is down for 6 s in the restart and cluster phases).
set_env COURIER_RETRY_SCHEDULE 1s,2s,4s,8s,15s,30s,60s
set_env COURIER_NODE_TTL 10s
AUTH="Authorization: Bearer $API_KEY"

wait_healthy() { # timeout service...
  local deadline=$(($(date +%s) + $1)) svc id state
  shift
  for svc in "$@"; do
    while :; do
      id="$(cid "$svc")"
      state="$([ -n "$id" ] && "$DOCKER" inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null || echo missing)"
      [ "$state" = healthy ] && break
      [ "$(date +%s)" -gt "$deadline" ] && die "$svc is $state after waiting"
      sleep 1
    done
  done
  log "healthy: $*"
}
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {"d": d}))' "$1"; }

# ------------------------------------------------------------------------------- stack
phase "compose up (postgres, redis, courier, receiver)"
render_stack
compose up -d --no-build postgres redis courier receiver >"$WORK/up.log" 2>&1 ||
  { cat "$WORK/up.log"; die "compose up failed"; }
wait_healthy 120 postgres redis courier receiver
c1="$(cid courier)"
[ "$("$DOCKER" exec "$c1" id -u)" = 10001 ] || die "courier does not run as uid 10001"
"$DOCKER" exec "$c1" /app/healthcheck /health || die "the image's healthcheck (/health) fails inside the container"
log "courier runs as uid 10001; the image's healthcheck passes inside it"

phase "the seed's cURL flow"
curl -fsS "$B1/health" >/dev/null
curl -fsS "$B1/ready" >/dev/null
sub="$(curl -fsS -XPOST "$B1/subscriptions/" -H "$AUTH" -H 'Content-Type: application/json' \
  -d "{\"target_url\": \"$RECEIVER/hook\", \"secret_key\": \"$SECRET\", \"event_types\": [\"order.created\"]}")"
SUB="$(json 'd["id"]' <<<"$sub")"
log "subscription $SUB → $RECEIVER/hook"
body='{"order_id":123,"amount":100}'
sig="$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$SECRET" | awk '{print $NF}')"
code="$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$B1/ingest/$SUB?event_type=order.created" \
  -H 'X-Hub-Signature-256: sha256=0000' -d "$body")"
[ "$code" = 401 ] || die "a wrong signature got $code, not 401"
ans="$(curl -fsS -XPOST "$B1/ingest/$SUB?event_type=order.created" -H "X-Hub-Signature-256: sha256=$sig" -d "$body")"
TASK="$(json 'd["task_id"]' <<<"$ans")"
MSG="$(json 'd["message_id"]' <<<"$ans")"
[ "$(json 'd["status"]' <<<"$ans")" = accepted ] || die "ingest answered $ans"
status=""
for _ in $(seq 1 60); do
  status="$(curl -fsS "$B1/webhooks/status/$TASK" -H "$AUTH" | json 'd["status"]')"
  [ "$status" = succeeded ] && break
  sleep 0.5
done
[ "$status" = succeeded ] || die "delivery $TASK is $status"
recent="$(curl -fsS "$B1/subscriptions/$SUB/recent-deliveries" -H "$AUTH")"
python3 - "$recent" "$TASK" <<'EOF' || die "recent-deliveries does not show the delivery"
import json, sys
doc = json.loads(sys.argv[1])
rows = doc if isinstance(doc, list) else doc.get("items") or doc.get("deliveries") or []
assert any(sys.argv[2] in json.dumps(r) for r in rows), doc
EOF
received="$("$DOCKER" logs "$(cid receiver)" 2>/dev/null | grep -F "\"webhook_id\": \"$MSG\"" || true)"
grep -qF '"verified": true' <<<"$received" ||
  die "the receiver did not log a verified delivery of $MSG"
page="$(curl -fsS "$B1/")"
if ! grep -qi '<!doctype html' <<<"$page" || ! grep -q '<script' <<<"$page"; then die "GET / is not the dashboard"; fi
asset="$(grep -o '/assets/[^"]*\.js' <<<"$page" | head -n 1)"
curl -fsS -o /dev/null "$B1$asset" || die "dashboard asset $asset is not served"
log "ingest 202 → receiver (signature verified) → status succeeded → recent-deliveries → dashboard at / ($asset)"

# The receiver is down from 3 s to 9 s of each run, so deliveries are waiting for a retry
# when Courier restarts (or a node dies) and must be resumed from what it persisted.
phase "docker restart of courier during 300 ingests"
rc="$(cid receiver)"
python3 ops/smoke/traffic.py send --nodes "$B1" --subs "$SUB" --secret "$SECRET" \
  --count 300 --seconds 15 --accepted "$WORK/accepted-restart.txt" &
sender=$!
sleep 3
"$DOCKER" stop -t 5 "$rc" >/dev/null
sleep 2
t0=$(date +%s)
"$DOCKER" restart -t 30 "$c1" >/dev/null
log "receiver stopped at 3 s; courier restarted at 5 s (took $(($(date +%s) - t0))s)"
sleep 2
"$DOCKER" start "$rc" >/dev/null
log "receiver started again at 9 s"
wait "$sender" || die "no ingest was accepted"
wait_healthy 90 courier receiver
python3 ops/smoke/traffic.py wait --accepted "$WORK/accepted-restart.txt" \
  --container "$(cid receiver)" --docker "$DOCKER" --timeout 180 || die "messages lost across the restart"

phase "ops/ec2/backup.sh and a restore of its dump"
COURIER_DIR="$ROOT" BACKUP_DIR="$WORK/backups" COMPOSE="$COMPOSE" COMPOSE_PROJECT_NAME="$PROJECT" \
  COMPOSE_FILE="$STACK" bash ops/ec2/backup.sh >"$WORK/backup.txt" 2>&1 || { cat "$WORK/backup.txt"; die "backup.sh failed"; }
dump="$(find "$WORK/backups" -name 'courier-*.sql.gz' | sort | tail -n 1)"
grep -qF "$SUB" <(gunzip -c "$dump") || die "the dump does not contain subscription $SUB"
pg="$(cid postgres)"
"$DOCKER" exec "$pg" psql -qU courier -d courier -c 'CREATE DATABASE courier_restore' >/dev/null
gunzip -c "$dump" | "$DOCKER" exec -i "$pg" psql -qU courier -d courier_restore -v ON_ERROR_STOP=1 >/dev/null ||
  die "the dump does not restore"
count() { "$DOCKER" exec "$pg" psql -AtqU courier -d "$1" -c "SELECT count(*) FROM $2"; }
for t in subscriptions messages; do
  [ "$(count courier "$t")" = "$(count courier_restore "$t")" ] || die "restored $t differ"
done
log "$(cat "$WORK/backup.txt"); restored into courier_restore: $(count courier_restore messages) messages, $(count courier_restore subscriptions) subscriptions"

# ------------------------------------------------------------------------------- cluster
phase "profile cluster: courier-2 and courier-3 join"
compose up -d --no-build courier-2 courier-3 >"$WORK/up-cluster.log" 2>&1 ||
  { cat "$WORK/up-cluster.log"; die "compose up (cluster) failed"; }
wait_healthy 120 courier courier-2 courier-3
# Two subscriptions created on each node (where a subscription belongs to the node that
# created it; where ownership is by shard lease, six random shards), so courier-3 is likely
# to own some when it dies; the owners are printed before and after.
new_sub() { # node port -> a new subscription's id
  curl -fsS -XPOST "http://127.0.0.1:$1/subscriptions/" -H "$AUTH" -H 'Content-Type: application/json' \
    -d "{\"target_url\": \"$RECEIVER/hook\", \"secret_key\": \"$SECRET\", \"event_types\": [\"order.*\"]}" | json 'd["id"]'
}
subs=()
for n in 58000 58001 58002 58000 58001 58002; do subs+=("$(new_sub "$n")"); done
for n in 58000 58001 58002; do
  for id in "${subs[@]}"; do
    curl -fsS -o /dev/null "http://127.0.0.1:$n/subscriptions/$id" -H "$AUTH" || die "node :$n does not see subscription $id"
  done
done
owners() { # how many of the subscriptions each node owns: by shard lease
  # where subscriptions have a shard, else by subscriptions.owner_node
  local ids sql
  ids="$(printf "'%s'," "${subs[@]}" | sed 's/,$//')"
  sql="SELECT coalesce(h.owner, 'none') o, count(*) n FROM subscriptions s
       LEFT JOIN shards h ON h.shard = s.shard AND h.lease_until > now() WHERE s.id IN ($ids) GROUP BY 1"
  "$DOCKER" exec "$(cid postgres)" psql -AtqU courier -d courier -c "SELECT string_agg(o || ' ' || n, ', ' ORDER BY o) FROM ($sql) t" 2>/dev/null ||
    "$DOCKER" exec "$(cid postgres)" psql -AtqU courier -d courier -c "SELECT string_agg(o || ' ' || n, ', ' ORDER BY o) FROM
      (SELECT coalesce(owner_node, 'none') o, count(*) n FROM subscriptions WHERE id IN ($ids) GROUP BY 1) t" 2>/dev/null ||
    echo unknown
}
# Until courier-3 owns one of them (its leases may still be arriving): at most 20 more.
for _ in $(seq 1 20); do
  case "$(owners)" in *"courier-3 "* | unknown) break ;; esac
  subs+=("$(new_sub 58000)")
  sleep 0.5
done
log "${#subs[@]} subscriptions, visible on every node; owners: $(owners)"

phase "300 ingests over 3 nodes; courier-3 killed at 6 s"
python3 ops/smoke/traffic.py send --nodes "$B1,http://127.0.0.1:58001,http://127.0.0.1:58002" \
  --subs "$(IFS=,; echo "${subs[*]}")" --secret "$SECRET" --count 300 --seconds 15 \
  --accepted "$WORK/accepted-cluster.txt" &
sender=$!
sleep 3
"$DOCKER" stop -t 5 "$rc" >/dev/null
sleep 3
"$DOCKER" kill "$(cid courier-3)" >/dev/null
log "receiver stopped at 3 s; courier-3 killed (SIGKILL) at 6 s"
sleep 3
"$DOCKER" start "$rc" >/dev/null
log "receiver started again at 9 s"
wait "$sender" || die "no ingest was accepted"
[ "$("$DOCKER" inspect -f '{{.State.Running}}' "$(cid courier-3)")" = false ] || die "courier-3 came back"
python3 ops/smoke/traffic.py wait --accepted "$WORK/accepted-cluster.txt" \
  --container "$(cid receiver)" --docker "$DOCKER" --timeout 180 || die "messages lost when courier-3 died"
log "owners after: $(owners)"
curl -fsS "$B1/ready" >/dev/null && curl -fsS http://127.0.0.1:58001/ready >/dev/null

phase "compose down -v"
save_logs
compose down -v --remove-orphans -t 10 >"$WORK/down.log" 2>&1
rm -f "$ENVF" "$STACK"
