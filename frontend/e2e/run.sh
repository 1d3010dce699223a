#!/usr/bin/env bash
# Browser tests against a real Courier: builds the server, starts it with its own database
# and Redis prefix, a local receiver on 127.0.0.1, then drives Debian's Chromium through
# e2e/dashboard.e2e.mjs. Screenshots go to $SCREENSHOT_DIR (default docs/screenshots).
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
logs="$(mktemp -d)"
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$db_server/postgres" -qc "DROP DATABASE IF EXISTS \"$db_name\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

cargo build -q -p courier --bin courier
[ -f frontend/dist/index.html ] || (cd frontend && npm run build)

python3 - "$receiver_port" >"$logs/receiver.log" 2>&1 <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)

DATABASE_URL="$db_server/$db_name" COURIER_API_KEY="$api_key" COURIER_BIND="127.0.0.1:$courier_port" \
  COURIER_ALLOW_PRIVATE_TARGETS=true COURIER_DASHBOARD_DIR="$root/frontend/dist" \
  COURIER_REDIS_PREFIX="courier_test:e2e_${run_id}:" COURIER_RETRY_SCHEDULE=1s,2s \
  ./target/debug/courier >"$logs/courier.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$courier_port/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$courier_port/ready" >/dev/null || { echo "courier did not become ready"; cat "$logs/courier.log"; exit 1; }

status=0
(cd frontend && COURIER_URL="http://127.0.0.1:$courier_port" COURIER_API_KEY="$api_key" \
  RECEIVER_URL="http://127.0.0.1:$receiver_port/hook" SCREENSHOT_DIR="${SCREENSHOT_DIR:-$root/docs/screenshots}" \
  CHROMIUM_PATH="${CHROMIUM_PATH:-$(command -v chromium || echo /usr/bin/chromium)}" node e2e/dashboard.e2e.mjs) || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- courier log (last 60 lines)"; tail -n 60 "$logs/courier.log"
fi
exit "$status"
