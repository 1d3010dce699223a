#!/usr/bin/env bash
# Browser tests against the release binary alone: builds it (build.rs builds the dashboard
# into the binary), copies it to an empty directory and runs it from there with no
# frontend/dist on disk (an existing one is moved aside and put back) and no
# COURIER_DASHBOARD_DIR, on its own database and Redis prefix, with a local receiver on
# 127.0.0.1. Checks that the embedded files are served compressed, then drives Debian's
# Chromium through e2e/dashboard.e2e.mjs, the tenancy pages' e2e/tenancy.e2e.mjs and the
# consumer portal's e2e/portal.e2e.mjs (with
# the example producer page of ops/portal-embed on two more 127.0.0.1 ports: one origin
# allowed to embed the portal, one not). Screenshots go to $SCREENSHOT_DIR (default
# docs/screenshots).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

db_server="${TEST_DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
run_id="$(python3 -c 'import uuid; print(uuid.uuid4().hex)')"
db_name="courier_test_e2e_${run_id}"
api_key="e2e-key-${run_id}"
courier_port="$(free_port)"
receiver_port="$(free_port)"
embed_port="$(free_port)"
foreign_port="$(free_port)"
portal_app="acme-e2e-${run_id:0:8}"
work="$(mktemp -d)"
aside=""
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$db_server/postgres" -qc "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "$aside" ] && [ -d "$aside" ]; then rm -rf frontend/dist; mv "$aside" frontend/dist; fi
  rm -rf "$work"
}
trap cleanup EXIT

started=$(date +%s)
nice -n 10 cargo build --release -q -p courier --bin courier
echo "release build: $(( $(date +%s) - started )) s"
if [ -d frontend/dist ]; then
  aside="$work/dist-aside"
  mv frontend/dist "$aside"
fi
mkdir "$work/bin"
cp target/release/courier "$work/bin/courier"

python3 - "$receiver_port" >"$work/receiver.log" 2>&1 <<'PY' &
# /hook answers 200; /flaky answers 500 until POST /control/heal (POST /control/break undoes it).
import http.server, sys, threading
state = {"healed": False}
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.startswith("/control/"):
            with lock:
                state["healed"] = self.path == "/control/heal"
            code, body = 204, b""
        elif self.path.startswith("/flaky") and not state["healed"]:
            code, body = 500, b'{"error":"flaky receiver is down"}'
        else:
            code, body = 200, b"ok"
        self.send_response(code)
        self.send_header("X-Receiver", "courier-e2e")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)

(cd "$work/bin" && env -u COURIER_DASHBOARD_DIR DATABASE_URL="$db_server/$db_name" COURIER_API_KEY="$api_key" \
  COURIER_BIND="127.0.0.1:$courier_port" COURIER_ALLOW_PRIVATE_TARGETS=true \
  COURIER_PORTAL_ORIGINS="http://localhost:$embed_port" \
  COURIER_REDIS_PREFIX="courier_test:e2e_${run_id}:" COURIER_RETRY_SCHEDULE=1s,2s \
  ./courier >"$work/courier.log" 2>&1) &
pids+=($!)

base="http://127.0.0.1:$courier_port"

# The example producer page (ops/portal-embed) twice: on an origin COURIER_PORTAL_ORIGINS lists,
# and on one it does not. Both mint a portal link for $portal_app on every load. The allowed one
# is reached as http://localhost:port, another *site* than Courier's http://127.0.0.1 (so the
# portal runs as a third-party frame, with third-party cookies and storage blocked); the other
# as http://127.0.0.1:port, the same site as Courier but an origin not listed.
for port in "$embed_port" "$foreign_port"; do
  COURIER_URL="$base" COURIER_API_KEY="$api_key" PORTAL_APPLICATION="$portal_app" PORTAL_TITLE="Acme Shop" \
    python3 ops/portal-embed/server.py --port "$port" >"$work/embed-$port.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 100); do
  curl -fs "$base/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$base/ready" >/dev/null || { echo "courier did not become ready"; cat "$work/courier.log"; exit 1; }

# The binary serves its embedded build: HTML at /, hashed assets gzip-compressed and cached for good.
curl -fs "$base/" | grep -q '<div id="root">' || { echo "/ does not answer the embedded dashboard"; exit 1; }
asset="$(curl -fs "$base/" | grep -o '/assets/index-[^"]*\.js' | head -1)"
headers="$(curl -fs -o /dev/null -D - -H 'Accept-Encoding: gzip' "$base$asset")"
echo "$headers" | grep -qi '^content-encoding: gzip' || { echo "$asset is not sent gzip-compressed"; echo "$headers"; exit 1; }
echo "$headers" | grep -qi '^cache-control: public, max-age=31536000, immutable' || { echo "$asset lacks the long cache header"; exit 1; }
raw=$(curl -fs "$base$asset" | wc -c); packed=$(curl -fs -H 'Accept-Encoding: gzip' "$base$asset" | wc -c)
echo "embedded dashboard: $asset $raw bytes, $packed bytes gzip-compressed"

status=0
(cd frontend && COURIER_URL="$base" COURIER_API_KEY="$api_key" RECEIVER_URL="http://127.0.0.1:$receiver_port" \
  SCREENSHOT_DIR="${SCREENSHOT_DIR:-$root/docs/screenshots}" \
  CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium || echo /usr/bin/chromium)}" node e2e/dashboard.e2e.mjs) || status=$?
if [ "$status" -eq 0 ]; then
  (cd frontend && COURIER_URL="$base" COURIER_API_KEY="$api_key" RECEIVER_URL="http://127.0.0.1:$receiver_port" \
    SCREENSHOT_DIR="${SCREENSHOT_DIR:-$root/docs/screenshots}" \
    CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium || echo /usr/bin/chromium)}" node e2e/tenancy.e2e.mjs) || status=$?
fi
if [ "$status" -eq 0 ]; then
  (cd frontend && COURIER_URL="$base" COURIER_API_KEY="$api_key" RECEIVER_URL="http://127.0.0.1:$receiver_port" \
    EMBED_URL="http://localhost:$embed_port/" FOREIGN_URL="http://127.0.0.1:$foreign_port/" \
    PORTAL_APP_UID="$portal_app" E2E_DATABASE_URL="$db_server/$db_name" \
    SCREENSHOT_DIR="${SCREENSHOT_DIR:-$root/docs/screenshots}" \
    CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium || echo /usr/bin/chromium)}" node e2e/portal.e2e.mjs) || status=$?
fi
if [ "$status" -ne 0 ]; then
  echo "--- courier log (last 60 lines)"; tail -n 60 "$work/courier.log"
fi
exit "$status"
