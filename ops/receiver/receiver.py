"""Example webhook receiver for Courier (compose profile `example`).

Logs every delivery and, when RECEIVER_SECRET holds the subscription's `whsec_...` secret,
verifies both signatures Courier sends:
  - Standard Webhooks: webhook-signature = "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>",
    key = base64-decoded part after "whsec_" (space-separated list while a secret rotates);
  - GitHub style: X-Hub-Signature-256 = "sha256=<hex HMAC-SHA256(secret, body)>".
Standard library only. Answers 200 to a good delivery, 401 to a bad signature.
"""
import base64, hashlib, hmac, json, os, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ.get("RECEIVER_SECRET", "").strip()
HOST, _, PORT = os.environ.get("RECEIVER_BIND", "0.0.0.0:9000").rpartition(":")
TOLERANCE_S = 300
LOG_LOCK = threading.Lock()  # one whole line per delivery, even when deliveries overlap


def signing_key(secret):
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def verify(headers, body):
    """Returns None when the signatures check out, else the reason."""
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not msg_id or not ts.isdigit():
        return "missing webhook-id/webhook-timestamp"
    if abs(time.time() - int(ts)) > TOLERANCE_S:
        return "timestamp outside tolerance"
    mac = hmac.new(signing_key(SECRET), f"{msg_id}.{ts}.".encode() + body, hashlib.sha256)
    expected = base64.b64encode(mac.digest()).decode()
    sigs = [s.split(",", 1)[1] for s in headers.get("webhook-signature", "").split() if s.startswith("v1,")]
    if not any(hmac.compare_digest(expected, s) for s in sigs):
        return "bad webhook-signature"
    hub = headers.get("X-Hub-Signature-256", "")
    if hub:
        # The GitHub-style HMAC is keyed with the secret string; accept the decoded whsec_
        # bytes too, as the spec does not pin which one a generated secret uses.
        wants = ["sha256=" + hmac.new(k, body, hashlib.sha256).hexdigest()
                 for k in {SECRET.encode(), signing_key(SECRET)}]
        if not any(hmac.compare_digest(w, hub) for w in wants):
            return "bad X-Hub-Signature-256"
    return None


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        problem = verify(self.headers, body) if SECRET else None
        event = self.headers.get("X-Courier-Event-Type", "?")
        attempt = self.headers.get("X-Courier-Attempt", "?")
        line = json.dumps({"path": self.path, "event_type": event, "attempt": attempt,
                           "webhook_id": self.headers.get("webhook-id"), "bytes": len(body),
                           "verified": bool(SECRET) and problem is None, "problem": problem})
        with LOG_LOCK:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        self.send_response(401 if problem else 200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok":false}' if problem else b'{"ok":true}')

    def log_message(self, *args):  # one JSON line per delivery is enough
        pass


if __name__ == "__main__":
    # As PID 1 in a container, SIGTERM is ignored unless handled: `docker stop` would wait
    # for its timeout and then kill.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"receiver listening on {HOST}:{PORT}, verifying={'yes' if SECRET else 'no'}", file=sys.stderr)
    ThreadingHTTPServer((HOST, int(PORT)), Handler).serve_forever()
