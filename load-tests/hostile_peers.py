#!/usr/bin/env python3
"""Hostile peers for load-tests/soak-hostile.sh, on 127.0.0.1 only.

  hostile_peers.py receiver --port P [--stats FILE]
      A raw TCP webhook receiver that reads each request and answers it with the next
      misbehaviour in turn: 200 with "ok\\0"; 200 with invalid UTF-8 (body and a header);
      200 with a 1 MiB header line; 200 with a NUL inside a header; 200 with a body
      trickled one byte a second; 200 with "partial" and a TCP reset mid-body. Writes its
      counts to FILE (JSON) every few seconds and at exit (SIGTERM).

  hostile_peers.py producer --courier URL --key KEY --open SUB --signed SUB --secret S
                            --duration SECONDS --rate R --stats FILE
      Sends R requests a second, cycling through hostile and ordinary ones: payloads nested
      5,000 deep on the three ingest forms, raw NUL bytes in a JSON body, %00 in event_type,
      a NUL byte in a header, wrong signatures, PATCH descriptions with \\u0000 (all must be
      4xx) and ordinary ones that must be accepted: \\u0000 escapes, a 900 KiB array, signed
      bodies. Counts answers per kind; anything unexpected (a 5xx, a wrong 4xx, a refused
      ordinary one) is listed in FILE.
"""

import argparse
import hashlib
import hmac
import json
import signal
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

# ----------------------------------------------------------------------------- receiver

BEHAVIOURS = ["nul_body", "invalid_utf8", "huge_header", "nul_header", "trickle", "reset_mid_body"]
OK = b"HTTP/1.1 200 OK\r\nconnection: close\r\n"


def read_request(sock):
    """Reads one request (head, then content-length bytes); returns its head or None."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or b"0")
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return head


def answer(sock, kind):
    if kind == "nul_body":
        sock.sendall(OK + b"content-length: 3\r\n\r\nok\0")
    elif kind == "invalid_utf8":
        body = b"ok \xff\xfe \xc3("
        sock.sendall(OK + b"x-latin1: caf\xe9\r\ncontent-length: %d\r\n\r\n" % len(body) + body)
    elif kind == "huge_header":
        sock.sendall(OK + b"x-huge: " + b"a" * (1 << 20) + b"\r\ncontent-length: 2\r\n\r\nok")
    elif kind == "nul_header":
        sock.sendall(OK + b"x-bad: a\0b\r\ncontent-length: 2\r\n\r\nok")
    elif kind == "trickle":
        sock.sendall(OK + b"content-length: 100000\r\n\r\n")
        for _ in range(100000):
            sock.sendall(b"x")
            time.sleep(1)
    elif kind == "reset_mid_body":
        sock.sendall(OK + b"content-length: 1000\r\n\r\npartial")
        time.sleep(0.3)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


class Receiver(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, port):
        super().__init__(("127.0.0.1", port), Handler)
        self.lock = threading.Lock()
        self.turn = 0
        self.counts = {k: 0 for k in BEHAVIOURS}
        self.requests = 0


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        srv = self.server
        try:
            if read_request(self.request) is None:
                return
            with srv.lock:
                kind = BEHAVIOURS[srv.turn % len(BEHAVIOURS)]
                srv.turn += 1
                srv.requests += 1
                srv.counts[kind] += 1
            answer(self.request, kind)
        except OSError:
            pass  # the client gave up (a trickle's timeout, a header it would not read)


def run_receiver(args):
    srv = Receiver(args.port)

    def dump():
        with srv.lock:
            data = {"requests": srv.requests, "by_behaviour": dict(srv.counts)}
        if args.stats:
            with open(args.stats, "w") as f:
                json.dump(data, f)

    def stop(*_):
        dump()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    while True:
        time.sleep(3)
        dump()


# ----------------------------------------------------------------------------- producer

def raw_http(port, request, timeout=15):
    """Sends raw bytes; returns (status, body) of the answer (0 when none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ")[1])
    except (IndexError, ValueError):
        status = 0
    return status, body


def request(method, path, headers, body):
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    lines += headers
    lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def nested(depth):
    return b"[" * depth + b"1" + b"]" * depth


def envelope(payload, event_type=b"soak.hostile"):
    return b'{"event_type": "' + event_type + b'", "payload": ' + payload + b"}"


def cases(a):
    """(kind, method, path, headers, body, expected statuses, ordinary?)"""
    key = f"Authorization: Bearer {a.key}".encode()
    raw = f"/ingest/{a.open}?event_type=soak.hostile"
    signed = f"/ingest/{a.signed}?event_type=soak.hostile"
    huge = b"[" + b",".join(str(i).encode() for i in range(150000)) + b"]"
    nul = b'{"s": "a\\u0000b", "\\u0000": ["\\u0000"]}'
    ordinary = b'{"ordinary": true, "n": 1}'
    sig = lambda body, secret=a.secret: (  # noqa: E731
        b"X-Hub-Signature-256: sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode())
    return [
        ("deep_raw", "POST", raw, [key], nested(5000), {400}, False),
        ("deep_envelope", "POST", f"/webhooks/ingest/{a.open}", [key], envelope(nested(5000)), {400}, False),
        ("deep_events", "POST", "/events", [key], envelope(nested(5000)), {400}, False),
        ("nul_escapes", "POST", raw, [key], nul, {202}, True),
        ("raw_nul_in_json", "POST", raw, [key], b'{"a": "x\0y"}', {400}, False),
        ("nul_in_event_type", "POST", f"/ingest/{a.open}?event_type=a.%00b", [key], ordinary, {400}, False),
        ("nul_in_header", "POST", raw, [key, b"Idempotency-Key: a\0b"], ordinary, {400}, False),
        ("huge_array", "POST", raw, [key], huge, {202}, True),
        ("bad_signature", "POST", signed, [sig(ordinary, "not-the-secret")], ordinary, {401}, False),
        ("signed", "POST", signed, [sig(ordinary)], ordinary, {202}, True),
        ("nul_description", "PATCH", f"/subscriptions/{a.signed}", [key, b"Content-Type: application/json"],
         b'{"description": "x\\u0000"}', {400}, False),
    ]


def run_producer(args):
    port = urllib.parse.urlparse(args.courier).port
    all_cases = cases(args)
    stats = {"sent": 0, "accepted": 0, "refused_as_expected": 0, "by_kind": {}, "unexpected": []}
    lock = threading.Lock()
    deadline = time.time() + args.duration
    interval = 1.0 / args.rate

    def one(i):
        kind, method, path, headers, body, expected, ordinary = all_cases[i % len(all_cases)]
        if kind == "huge_array" and (i // len(all_cases)) % 10:
            # 900 KiB bodies one cycle in ten, so the soak's database stays small.
            kind, method, path, headers, body, expected, ordinary = all_cases[3]
        try:
            status, answer_body = raw_http(port, request(method, path, headers, body))
        except OSError as e:
            status, answer_body = 0, str(e).encode()
        with lock:
            stats["sent"] += 1
            k = stats["by_kind"].setdefault(kind, {})
            k[str(status)] = k.get(str(status), 0) + 1
            if status in expected:
                stats["accepted" if ordinary else "refused_as_expected"] += 1
            elif len(stats["unexpected"]) < 50:
                stats["unexpected"].append(f"{kind}: {status} {answer_body[:200]!r}")
            else:
                stats["unexpected_more"] = stats.get("unexpected_more", 0) + 1

    threads = []
    i = 0
    next_at = time.time()
    while time.time() < deadline:
        t = threading.Thread(target=one, args=(i,), daemon=True)
        t.start()
        threads.append(t)
        threads = [t for t in threads if t.is_alive()]
        i += 1
        next_at += interval
        time.sleep(max(0.0, next_at - time.time()))
    for t in threads:
        t.join(timeout=30)
    with open(args.stats, "w") as f:
        json.dump(stats, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("receiver")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--stats")
    q = sub.add_parser("producer")
    for name in ("courier", "key", "open", "signed", "secret", "stats"):
        q.add_argument(f"--{name}", required=True)
    q.add_argument("--duration", type=float, required=True)
    q.add_argument("--rate", type=float, default=10)
    args = p.parse_args()
    if args.cmd == "receiver":
        run_receiver(args)
    else:
        if urllib.parse.urlparse(args.courier).hostname not in ("127.0.0.1", "localhost"):
            sys.exit("refusing a non-local Courier URL")
        run_producer(args)


if __name__ == "__main__":
    main()
