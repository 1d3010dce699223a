#!/usr/bin/env python3
"""Scale benchmarks that no HTTP load generator can set up: many subscriptions, many retries.

  load-tests/scale.py subs-100k    100,000 active subscriptions; one fan-out event reaches all
                                   of them (100,000 subscription actors alive at once); peak RSS.
                                   `subs-100k N`: N subscriptions instead (to see how RSS grows).
  load-tests/scale.py retries-1m   1,000,000 pending retries (in Postgres and Redis, as a
                                   crashed node leaves them); time from start until every one
                                   is scheduled again in the restarted node.

Each run makes its own database (courier_bench_scale_<id>) and Redis prefix, starts the release
build of Courier and the sink on 127.0.0.1, prints a result line, and cleans up. Sends traffic
only to 127.0.0.1. Needs the release builds (`cargo build --release -p courier -p courier-sink`).
"""

import base64
import hashlib
import json
import os
import struct
import subprocess
import sys
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG = os.environ.get("PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_PORT = os.environ.get("REDIS_PORT", "6379")
COURIER = os.environ.get("COURIER_BIN", os.path.join(ROOT, "target/release/courier"))
SINK = os.environ.get("SINK_BIN", os.path.join(ROOT, "target/release/courier-sink"))
KEY = "scale-bench-key-" + uuid.uuid4().hex
RUN = uuid.uuid4().hex[:12]
DB = f"courier_bench_scale_{RUN}"
PREFIX = f"bench:scale:{RUN}:"
PORT, SINK_PORT = 18600, 19600
# A throwaway key ring for this run, so the rows inserted below can be sealed the way Courier
# seals them (otherwise its start-up re-encryption pass rewrites every one of them).
ENC_KEY = os.urandom(32)
SECRET = "whsec_c2NhbGUtYmVuY2gtc2VjcmV0LXNjYWxlLWJlbmNo"


def _hchacha20(key, nonce16):
    """HChaCha20 (draft-irtf-cfrg-xchacha): the subkey XChaCha20-Poly1305 encrypts with."""
    m = 0xFFFFFFFF
    s = [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574, *struct.unpack("<8I", key), *struct.unpack("<4I", nonce16)]

    def qr(a, b, c, d):
        s[a] = (s[a] + s[b]) & m; s[d] ^= s[a]; s[d] = ((s[d] << 16) & m) | (s[d] >> 16)
        s[c] = (s[c] + s[d]) & m; s[b] ^= s[c]; s[b] = ((s[b] << 12) & m) | (s[b] >> 20)
        s[a] = (s[a] + s[b]) & m; s[d] ^= s[a]; s[d] = ((s[d] << 8) & m) | (s[d] >> 24)
        s[c] = (s[c] + s[d]) & m; s[b] ^= s[c]; s[b] = ((s[b] << 7) & m) | (s[b] >> 25)

    for _ in range(10):
        qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15)
        qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14)
    return struct.pack("<8I", *s[0:4], *s[12:16])


assert _hchacha20(bytes(range(32)), bytes.fromhex("000000090000004a0000000031415927")).hex() == (
    "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"), "HChaCha20 test vector"


def sealer():
    """Seals as `courier_actors::crypto` does: `enc:v1:<key id>:<base64url(nonce || ciphertext+tag)>`,
    XChaCha20-Poly1305 with the header and context as associated data. Every value of the run
    shares one nonce: the key is thrown away after the run and the secret is a dummy, so the
    reuse costs nothing here, and it saves a pure-Python HChaCha20 per value (~0.6 ms each)."""
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
    key_id = hashlib.sha256(b"courier-encryption-key-id\0" + ENC_KEY).hexdigest()[:8]
    header = f"enc:v1:{key_id}:"
    nonce = os.urandom(24)
    aead = ChaCha20Poly1305(_hchacha20(ENC_KEY, nonce[:16]))

    def seal(context, plaintext):
        sealed = aead.encrypt(b"\0\0\0\0" + nonce[16:], plaintext.encode(), header.encode() + b"\0" + context.encode())
        return header + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()
    return seal


SHARDS = 64


def shard_of(sid):
    """Courier's `domain::shard_of`: the id's last two bytes, big-endian, modulo the shards."""
    return (sid.bytes[14] * 256 + sid.bytes[15]) % SHARDS


def insert_subscriptions(n, url_prefix, max_in_flight, event_types=None):
    """`n` active subscriptions, sealed and sharded as Courier writes them, in one COPY."""
    rows, seal = [], sealer()
    for g in range(1, n + 1):
        sid = uuid.uuid4()
        shard = shard_of(sid)
        types = "{" + ",".join(event_types) + "}" if event_types else "{}"
        rows.append("\t".join([str(sid), f"{url_prefix}{g}", types, str(max_in_flight),
                                seal(f"subscription:{sid}:signing-secret", SECRET),
                                seal(f"subscription:{sid}:headers", "{}"), "f", str(shard)]))
    subprocess.run(["psql", f"{PG}/{DB}", "-qc",
                    "COPY subscriptions (id, target_url, event_types, max_in_flight, secret, headers_sealed, "
                    "requires_signature, shard) FROM STDIN"],
                   input=("\n".join(rows) + "\n").encode(), check=True, stdout=subprocess.PIPE)


def psql(sql, db=DB):
    subprocess.run(["psql", f"{PG}/{db}", "-qAtc", sql], check=True, stdout=subprocess.PIPE)


def http(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status, r.read()


def metric(name):
    with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/metrics", timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_courier(extra=None):
    env = dict(os.environ, DATABASE_URL=f"{PG}/{DB}", COURIER_API_KEY=KEY, COURIER_BIND=f"127.0.0.1:{PORT}",
               REDIS_URL=f"redis://127.0.0.1:{REDIS_PORT}", COURIER_REDIS_PREFIX=PREFIX,
               COURIER_ALLOW_PRIVATE_TARGETS="true", COURIER_NODE_ID=f"scale-{RUN}", RUST_LOG="warn",
               COURIER_DB_POOL_SIZE="32", COURIER_ENCRYPTION_KEY=base64.b64encode(ENC_KEY).decode(),
               **(extra or {}))
    log = open(f"/tmp/courier-scale-{RUN}.log", "a")
    p = subprocess.Popen([COURIER], env=env, stdout=log, stderr=log)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=1)
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    sys.exit("courier did not start")


def start_sink():
    env = dict(os.environ, SINK_BIND=f"127.0.0.1:{SINK_PORT}", SINK_WORKERS="1")
    p = subprocess.Popen([SINK], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return p


def sink_count():
    with urllib.request.urlopen(f"http://127.0.0.1:{SINK_PORT}/stats", timeout=10) as r:
        return json.load(r).get("count", 0)


def subs_100k(n=100_000):
    courier = start_courier()
    sink = start_sink()
    try:
        http("POST", "/subscriptions", {"target_url": f"http://127.0.0.1:{SINK_PORT}/warm"})
        courier.terminate()
        courier.wait(30)
        insert_subscriptions(n, f"http://127.0.0.1:{SINK_PORT}/s/", 4, ["scale.*"])
        t0 = time.time()
        courier = start_courier()
        started = time.time() - t0
        idle = rss_mib(courier.pid)
        t1 = time.time()
        status, body = http("POST", "/events", {"event_type": "scale.test", "payload": {"hello": "all"}})
        accepted = time.time() - t1
        fanout = len(json.loads(body)["task_id"])
        peak, actors, deadline = idle, 0, time.time() + 300
        while sink_count() < fanout and time.time() < deadline:
            peak = max(peak, rss_mib(courier.pid))
            actors = max(actors, metric("courier_actors_alive"))
            time.sleep(0.2)
        delivered_s = time.time() - t1
        peak = max(peak, rss_mib(courier.pid))
        print(f"subs-100k: {n:,} subscriptions loaded in {started:.1f}s, idle RSS {idle:.1f} MiB; "
              f"one /events fanned out to {fanout:,} deliveries (202 after {accepted:.1f}s), "
              f"{sink_count():,} delivered in {delivered_s:.1f}s, subscription actors alive (max seen) {actors:,.0f}, "
              f"peak RSS {peak:.1f} MiB")
    finally:
        courier.kill()
        sink.kill()


def retries_1m(subs=1_000, per_sub=1_000):
    courier = start_courier()
    try:
        http("POST", "/subscriptions", {"target_url": "http://127.0.0.1:9/unused"})
        courier.terminate()
        courier.wait(30)
        insert_subscriptions(subs, "http://127.0.0.1:9/r/", 16)
        psql(f"""WITH s AS (SELECT id FROM subscriptions WHERE target_url LIKE '%/r/%'),
                 m AS (INSERT INTO messages (id, event_type, payload, subscription_id)
                       SELECT gen_random_uuid(), 'scale.retry', '{{"n": 1}}', s.id FROM s, generate_series(1, {per_sub})
                       RETURNING id, subscription_id)
                 INSERT INTO deliveries (id, message_id, subscription_id, event_type, status, attempt_count, next_attempt_at)
                 SELECT gen_random_uuid(), m.id, m.subscription_id, 'scale.retry', 'retrying', 1,
                        now() + interval '30 minutes' + random() * interval '10 minutes' FROM m""")
        # What a crashed node leaves in Redis: the schedule of every pending retry.
        out = subprocess.run(["psql", f"{PG}/{DB}", "-qAtc",
                              "SELECT subscription_id || ':' || id, (extract(epoch from next_attempt_at) * 1000)::bigint "
                              "FROM deliveries WHERE status = 'retrying'"], check=True, stdout=subprocess.PIPE).stdout
        proto = bytearray()
        for line in out.splitlines():
            member, score = line.split(b"|")
            # `{prefix}retries:{shard}`, the shard as Courier computes it from the subscription id.
            shard = shard_of(uuid.UUID(member.split(b":")[0].decode()))
            key = f"{PREFIX}retries:{shard}".encode()
            parts = [b"ZADD", key, score, member]
            proto += b"*4\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        subprocess.run(["redis-cli", "-p", REDIS_PORT, "--pipe"], input=bytes(proto), check=True, stdout=subprocess.DEVNULL)
        total = subs * per_sub
        t0 = time.time()
        courier = start_courier()
        deadline, scheduled = t0 + 120, 0.0
        while time.time() < deadline:
            scheduled = metric("courier_pending_retries")
            if scheduled >= total:
                break
            time.sleep(0.25)
        resumed = time.time() - t0
        print(f"retries-1m: {total:,} pending retries over {subs:,} subscriptions; all {scheduled:,.0f} scheduled again "
              f"{resumed:.1f}s after the process started; RSS {rss_mib(courier.pid):.1f} MiB")
    finally:
        courier.kill()
        keys = [f"{PREFIX}{kind}:{shard}" for kind in ("retries", "inflight") for shard in range(SHARDS)]
        subprocess.run(["redis-cli", "-p", REDIS_PORT, "DEL", *keys], stdout=subprocess.DEVNULL)


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    runs = {"subs-100k": subs_100k, "retries-1m": retries_1m}
    if which not in runs:
        sys.exit(__doc__)
    try:
        if which == "subs-100k" and len(sys.argv) > 2:
            runs[which](int(sys.argv[2]))
        else:
            runs[which]()
    finally:
        subprocess.run(["psql", f"{PG}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
