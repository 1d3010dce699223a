#!/usr/bin/env python3
"""Traffic for ops/compose-smoke.sh: a steady stream of signed ingests, and the check that
every accepted message reached the example receiver.

  traffic.py send --nodes http://127.0.0.1:58000,... --subs ID,ID --secret S \
                  --count 300 --seconds 15 --accepted FILE
      POST /ingest/{id}?event_type=order.created with X-Hub-Signature-256, round-robin over
      the nodes and subscriptions, evenly spread over the time given. A message counts as
      accepted only when a node answered 202 with status "accepted"; its message_id goes to
      FILE. Refused connections and 5xx (a node restarting) are counted, not retried.
  traffic.py wait --accepted FILE --container ID --timeout 180 [--docker /usr/bin/docker]
      Reads the receiver's log (`docker logs`) until every accepted message_id appears as a
      delivery's webhook-id, then prints accepted / delivered / lost / duplicates, how many
      needed retries, and whether every signature verified. Exit 1 when something is lost or
      unverified at the timeout.

Only loopback URLs are accepted: the smoke's traffic never leaves this machine.
"""
import argparse
import hashlib
import hmac
import http.client
import json
import subprocess
import sys
import time
import urllib.parse
from collections import Counter


def loopback(url):
    u = urllib.parse.urlsplit(url)
    if u.hostname not in ("127.0.0.1", "::1", "localhost"):
        sys.exit(f"traffic: {url} is not a loopback URL")
    return u.hostname, u.port or 80


def send(args):
    nodes = [loopback(n) for n in args.nodes.split(",")]
    subs = args.subs.split(",")
    interval = args.seconds / args.count
    counts = Counter()
    start = time.monotonic()
    with open(args.accepted, "w", encoding="utf-8") as out:
        for i in range(args.count):
            target = start + i * interval
            if (delay := target - time.monotonic()) > 0:
                time.sleep(delay)
            host, port = nodes[i % len(nodes)]
            sub = subs[i % len(subs)]
            body = json.dumps({"seq": i, "order_id": 1000 + i, "amount": i % 97}).encode()
            sig = hmac.new(args.secret.encode(), body, hashlib.sha256).hexdigest()
            try:
                conn = http.client.HTTPConnection(host, port, timeout=5)
                conn.request("POST", f"/ingest/{sub}?event_type=order.created", body,
                             {"Content-Type": "application/json",
                              "X-Hub-Signature-256": f"sha256={sig}"})
                resp = conn.getresponse()
                answer = resp.read()
                conn.close()
            except OSError:
                counts["refused"] += 1
                continue
            if resp.status == 202:
                doc = json.loads(answer)
                if doc.get("status") == "accepted":
                    out.write(doc["message_id"] + "\n")
                    out.flush()
                    counts["accepted"] += 1
                else:
                    counts[f"202 {doc.get('status')}"] += 1
            else:
                counts[f"http {resp.status}"] += 1
    took = time.monotonic() - start
    print(f"traffic: sent {args.count} in {took:.1f}s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0 if counts["accepted"] else 1


def deliveries(docker, container):
    logs = subprocess.run([docker, "logs", container], capture_output=True, text=True, check=True)
    seen = Counter()
    attempts = {}  # webhook-id -> the attempt number of its first logged delivery
    unverified = 0
    for line in logs.stdout.splitlines():
        if not line.startswith("{"):
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            sys.exit(f"traffic: the receiver logged a line that is not one JSON object: {line[:200]}")
        if d.get("webhook_id"):
            seen[d["webhook_id"]] += 1
            attempts.setdefault(d["webhook_id"], d.get("attempt"))
            unverified += not d.get("verified")
    return seen, attempts, unverified


def wait(args):
    accepted = {l.strip() for l in open(args.accepted, encoding="utf-8") if l.strip()}
    deadline = time.monotonic() + args.timeout
    start = time.monotonic()
    while True:
        seen, attempts, unverified = deliveries(args.docker, args.container)
        lost = accepted - set(seen)
        if not lost or time.monotonic() > deadline:
            break
        time.sleep(1)
    dup = sum(n - 1 for m, n in seen.items() if m in accepted and n > 1)
    retried = [int(attempts[m]) for m in accepted if str(attempts.get(m, "1")).isdigit() and int(attempts[m]) > 1]
    print(f"traffic: accepted {len(accepted)}, delivered {len(accepted) - len(lost)}, "
          f"lost {len(lost)}, duplicate deliveries {dup}, unverified signatures {unverified} "
          f"(waited {time.monotonic() - start:.1f}s)")
    print(f"traffic: delivered at the first attempt {len(accepted) - len(lost) - len(retried)}, "
          f"after retries {len(retried)} (latest attempt {max(retried, default=1)})")
    for m in sorted(lost)[:10]:
        print(f"traffic: lost {m}")
    return 1 if lost or unverified or not accepted else 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--nodes", required=True)
    s.add_argument("--subs", required=True)
    s.add_argument("--secret", required=True)
    s.add_argument("--count", type=int, default=300)
    s.add_argument("--seconds", type=float, default=15)
    s.add_argument("--accepted", required=True)
    w = sub.add_parser("wait")
    w.add_argument("--accepted", required=True)
    w.add_argument("--container", required=True)
    w.add_argument("--timeout", type=float, default=180)
    w.add_argument("--docker", default="docker")
    args = p.parse_args()
    return send(args) if args.cmd == "send" else wait(args)


if __name__ == "__main__":
    sys.exit(main())
