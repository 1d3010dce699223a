#!/usr/bin/env python3
"""A stand-in for Courier, only to test load-tests/run.sh itself (not a benchmark).

Speaks the slice of the contract run.sh uses: GET /ready, POST /subscriptions/ → 201 {id},
POST /ingest/{id}?event_type=... → 202, POST /events → 202, GET /metrics. Accepted messages
are forwarded unsigned to the subscription's target_url by a small thread pool; nothing is
durable. Reads COURIER_BIND and COURIER_API_KEY like the real server.

    COURIER_BIN=load-tests/tools/mock_courier.py NO_BUILD=1 RATE=200 DURATION=5s \
        load-tests/run.sh e2e-1k
"""
import json, os, queue, threading, urllib.request, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST, _, PORT = os.environ.get("COURIER_BIND", "127.0.0.1:8000").rpartition(":")
KEY = os.environ.get("COURIER_API_KEY", "")
subs, work = {}, queue.Queue()
stats = {"accepted": 0, "delivered": 0}


def deliver():
    while True:
        url, body, event_type = work.get()
        req = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", "X-Courier-Event-Type": event_type, "X-Courier-Attempt": "1"})
        try:
            urllib.request.urlopen(req, timeout=10).read()
            stats["delivered"] += 1
        except Exception:
            pass


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, doc=None):
        body = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path in ("/ready", "/health"):
            return self.reply(200, {"status": "ok"})
        if self.path == "/metrics":
            return self.reply(200, stats)
        self.reply(404, {"code": "not_found"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self.reply(401, {"code": "unauthorized"})
        path, _, query = self.path.partition("?")
        if path.rstrip("/") == "/subscriptions":
            sid = str(uuid.uuid4())
            subs[sid] = json.loads(body)
            return self.reply(201, {"id": sid, "secret": "whsec_mock", **subs[sid]})
        if path.startswith("/ingest/"):
            sub = subs.get(path.split("/")[2])
            if not sub:
                return self.reply(404, {"code": "not_found"})
            event_type = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("event_type", "")
            work.put((sub["target_url"], body, event_type))
            stats["accepted"] += 1
            return self.reply(202, {"task_id": str(uuid.uuid4()), "message_id": str(uuid.uuid4()), "status": "accepted"})
        if path == "/events":
            doc = json.loads(body)
            payload = json.dumps(doc["payload"], separators=(",", ":")).encode()
            for sub in subs.values():
                work.put((sub["target_url"], payload, doc["event_type"]))
            stats["accepted"] += 1
            return self.reply(202, {"task_id": [], "message_id": str(uuid.uuid4()), "status": "accepted"})
        self.reply(404, {"code": "not_found"})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    for _ in range(16):
        threading.Thread(target=deliver, daemon=True).start()
    ThreadingHTTPServer((HOST, int(PORT)), H).serve_forever()
