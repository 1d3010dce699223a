#!/usr/bin/env python3
"""Scale-out benchmark: 1, 2 and 3 Courier nodes on one Postgres and one Redis (issue 10).

  load-tests/scaleout.py            # NODES="1 2 3", each node held to NODE_CPU=0.3 CPU
  load-tests/run.sh scale-out       # the same

Each node count gets a fresh database and Redis prefix shared by its nodes (each node its own
COURIER_NODE_ID and port), and every node runs in a cgroup v1 `cpu` group with the same CFS
quota, so the nodes, not the machine's 2 shared cores, are meant to be the limit. Once every
node holds its fair share of the 64 shard leases, SUBS_PER_NODE subscriptions *owned by each
node* are picked (shard = id bytes 14..16 mod 64), so delivery work is spread evenly, and
loadgen drives `POST /ingest/{id}` round-robin over every node's port (each subscription
reaches every port, so most ingests are handed to another node's shard over Redis, as in a
real load-balanced cluster).

Per node count:
  1. closed loop, CONNS_PER_NODE × nodes connections, WARMUP + DURATION: accepted msgs/s (client)
     and delivered msgs/s (sink) over the measured window; sustained = the smaller of the two;
     e2e p50/p99 of the window's deliveries; then the backlog's drain time.
  2. open loop at OPEN_FRACTION × that sustained rate for OPEN_DURATION: e2e p50/p99 at a load
     the nodes hold (0 disables).
  During the window: Postgres CPU (every `postgres` process, /proc/<pid>/stat), Postgres rows/s
  and commits/s (pg_stat_database deltas of the run's database), each node's CPU and how often
  its quota throttled it, the whole machine's CPU, and the 1-min load average.
Ratios are against the 1-node figures of the same invocation.

Knobs: NODES ("1 2 3"), NODE_CPU (0.3), CONNS_PER_NODE (32), SUBS_PER_NODE (8), DURATION (20s),
WARMUP (5s), CFS_PERIOD_US (100000; the quota is NODE_CPU × this), OPEN_FRACTION (0.7),
OPEN_DURATION (20s), NODE_POOL (COURIER_DB_POOL_SIZE per node, 12), NODE_TTL
(COURIER_NODE_TTL, 10s), AFFINITY=1 (each subscription's ingests go to the node that owns it,
so none is handed over: what a shard-aware load balancer would do), BASE_PORT (18100),
SINK_PORT (19150), KEEP_DB=1.
Needs root (cgroups), the release builds, Postgres and Redis on 127.0.0.1.
"""

import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

NODES = [int(x) for x in os.environ.get("NODES", "1 2 3").split()]
NODE_CPU = float(os.environ.get("NODE_CPU", "0.3"))
CFS_PERIOD_US = int(os.environ.get("CFS_PERIOD_US", "100000"))
CPN = int(os.environ.get("CONNS_PER_NODE", "32"))
SPN = int(os.environ.get("SUBS_PER_NODE", "8"))
DURATION = b.env_dur("DURATION", "20s")
WARMUP = b.env_dur("WARMUP", "5s")
OPEN_FRACTION = float(os.environ.get("OPEN_FRACTION", "0.7"))
OPEN_DURATION = b.env_dur("OPEN_DURATION", "20s")
POOL = os.environ.get("NODE_POOL", "12")
TTL = os.environ.get("NODE_TTL", "10s")
AFFINITY = os.environ.get("AFFINITY", "0") == "1"
BASE_PORT = int(os.environ.get("BASE_PORT", "18100"))
SINK_PORT = int(os.environ.get("SINK_PORT", "19150"))


def shard_of(sub_id):
    return int.from_bytes(uuid.UUID(sub_id).bytes[14:16], "big") % 64


def lease_owners(run, db):
    return {int(s): o for s, o in run.sql(db, "SELECT shard, owner FROM shards "
                                              "WHERE owner IS NOT NULL AND lease_until > now()")}


def wait_balanced(run, db, node_ids, within=120):
    """Until all 64 shards are held and each node holds its fair share (within 2 of 64/n)."""
    start, n = time.time(), len(node_ids)
    while time.time() - start < within:
        owners = lease_owners(run, db)
        counts = {nid: sum(1 for o in owners.values() if o == nid) for nid in node_ids}
        if len(owners) == 64 and all(-(-64 // n) - 2 <= c <= -(-64 // n) for c in counts.values()):
            return time.time() - start, counts
        time.sleep(0.5)
    sys.exit(f"shard leases not balanced after {within}s: {counts}")


def node_counts(ports):
    """(messages ingested, attempts made) per node, from each node's /metrics."""
    out = []
    for port in ports:
        try:
            m = b.http("GET", f"http://127.0.0.1:{port}/metrics").decode()
            out.append((b.metric_sum(m, "courier_ingest_messages_total"), b.metric_sum(m, "courier_attempts_total")))
        except OSError:
            out.append((0.0, 0.0))
    return out


def sample(run, db, sink, nodes, groups, ports):
    busy, total = b.machine_busy()
    return {"t": time.time(), "pg": b.postgres_ticks(), "rows": run.db_counters(db), "counts": node_counts(ports),
            "nodes": [b.proc_ticks(p.pid) for p in nodes], "groups": [g.stat() for g in groups],
            "busy": busy, "total": total, "sink": b.sink_stats(sink), "load": b.loadavg()}


def window(s0, s1, delivered):
    dt = s1["t"] - s0["t"]
    d_rows = [a - z for a, z in zip(s1["rows"], s0["rows"])]
    thr = [(g1["nr_throttled"] - g0["nr_throttled"]) / max(1, g1["nr_periods"] - g0["nr_periods"])
           for g0, g1 in zip(s0["groups"], s1["groups"])]
    return {"window_s": round(dt, 2), "delivered_per_s": round(delivered / dt, 1),
            "pg_cpu": round(b.postgres_cpu_s(s0["pg"], s1["pg"]) / dt, 3),
            "pg_rows_per_s": round((d_rows[0] + d_rows[1] + d_rows[2]) / dt),
            "pg_inserts_per_s": round(d_rows[0] / dt), "pg_updates_per_s": round(d_rows[1] / dt),
            "pg_commits_per_s": round(d_rows[3] / dt),
            "node_cpu": [round((a - z) / b.HZ / dt, 3) for a, z in zip(s1["nodes"], s0["nodes"])],
            "node_throttled": [round(x, 2) for x in thr],
            "node_ingest_per_s": [round((a[0] - z[0]) / dt) for a, z in zip(s1["counts"], s0["counts"])],
            "node_attempts_per_s": [round((a[1] - z[1]) / dt) for a, z in zip(s1["counts"], s0["counts"])],
            "machine_busy": round((s1["busy"] - s0["busy"]) / max(1, s1["total"] - s0["total"]) * os.cpu_count(), 2),
            "load_1m": s0["load"]}


def phase(run, db, sink, nodes, groups, ports, name, urls, args, warmup, duration):
    """Runs one loadgen phase; samples at the end of its warm-up and of its window."""
    b.sink_reset(sink)
    lg = run.loadgen(name, urls, args + ["--warmup", f"{warmup}s", "--duration", f"{duration}s"])
    t0 = time.time()
    time.sleep(warmup + 0.1)
    before_window = b.sink_reset(sink)
    s0 = sample(run, db, sink, nodes, groups, ports)
    time.sleep(max(0.0, t0 + 0.05 + warmup + duration - 0.1 - time.time()))
    s1 = sample(run, db, sink, nodes, groups, ports)
    gen = run.finish(lg, name)
    w = window(s0, s1, s1["sink"]["ok"])
    # Every accepted request, warm-up included, must reach the sink.
    expected = gen["ok_total"] - before_window
    drain_s, got = b.drain([sink], expected)
    e2e = s1["sink"]
    w.update({"accepted_per_s": gen["ok_per_s"], "ingest_p50_ms": gen["p50_ms"], "ingest_p99_ms": gen["p99_ms"],
              "errors": gen["errors"] + gen["non2xx"], "dropped": gen["dropped"],
              "first_error": gen["first_error"], "e2e_p50_ms": e2e["p50_ms"], "e2e_p95_ms": e2e["p95_ms"],
              "e2e_p99_ms": e2e["p99_ms"], "e2e_max_ms": e2e["max_ms"], "drain_s": round(drain_s, 1),
              "undelivered": max(0, expected - got)})
    w["sustained_per_s"] = min(w["accepted_per_s"], w["delivered_per_s"])
    return w


def measure(run, n, sink):
    b.log(f"--- {n} node(s), {NODE_CPU} CPU each (load {b.loadavg()})")
    db, prefix = run.database(f"so{n}"), run.prefix(f"n{n}")
    node_ids = [f"bench-{run.id}-{n}-{i}" for i in range(1, n + 1)]
    ports = [BASE_PORT + i for i in range(1, n + 1)]
    groups, nodes = [], []
    for i, (nid, port) in enumerate(zip(node_ids, ports)):
        g = run.cgroup(f"{n}-{i + 1}", NODE_CPU, CFS_PERIOD_US)
        p = run.courier(f"n{n}-node{i + 1}", port, db, prefix, nid,
                        {"COURIER_DB_POOL_SIZE": POOL, "COURIER_NODE_TTL": TTL}, g)
        # The first node runs the migrations alone; the others start once it is ready.
        if not b.wait_http(f"http://127.0.0.1:{port}/ready", 120, p):
            sys.exit(f"node {nid} not ready (see {run.out}/n{n}-node{i + 1}.log)")
        groups.append(g)
        nodes.append(p)
    balance_s, counts = wait_balanced(run, db, node_ids)
    b.log(f"leases balanced after {balance_s:.1f}s: {counts}")
    owners = lease_owners(run, db)
    picked = {nid: [] for nid in node_ids}
    api = f"http://127.0.0.1:{ports[0]}"
    for k in range(40 * n * SPN):
        if all(len(v) >= SPN for v in picked.values()):
            break
        sub = b.http("POST", f"{api}/subscriptions/", {"target_url": f"{sink}/hook/{k}",
                                                        "event_types": ["bench.*"]}, run.key)
        owner = owners.get(shard_of(sub["id"]))
        if owner in picked and len(picked[owner]) < SPN:
            picked[owner].append(sub["id"])
    if not all(len(v) >= SPN for v in picked.values()):
        sys.exit(f"could not pick {SPN} subscriptions per node: {picked}")
    subs = [picked[node_ids[j % n]][j // n] for j in range(n * SPN)]
    # Request i goes to port i mod n and subscription i div n: successive requests rotate
    # ports and owners, and each subscription is ingested through every port. AFFINITY=1
    # instead sends each subscription's ingests to the node that owns it (no hand-over).
    if AFFINITY:
        urls = [f"http://127.0.0.1:{ports[j % n]}/ingest/{subs[j]}?event_type=bench.ingest"
                for j in range(len(subs))]
    else:
        urls = [f"http://127.0.0.1:{ports[i % n]}/ingest/{subs[i // n]}?event_type=bench.ingest"
                for i in range(n * len(subs))]
    epochs0 = run.sql(db, "SELECT coalesce(sum(epoch), 0) FROM shards")[0][0]
    res = {"nodes": n, "node_cpu_quota": NODE_CPU, "balance_s": round(balance_s, 1), "leases": counts,
           "subscriptions": len(subs)}
    res["closed"] = phase(run, db, sink, nodes, groups, ports, f"n{n}-closed", urls,
                          ["--mode", "closed", "--connections", str(CPN * n)], WARMUP, DURATION)
    b.log(f"closed: {json.dumps(res['closed'])}")
    if OPEN_FRACTION > 0:
        rate = round(OPEN_FRACTION * res["closed"]["sustained_per_s"])
        res["open"] = phase(run, db, sink, nodes, groups, ports, f"n{n}-open", urls,
                            ["--mode", "open", "--rate", str(rate), "--connections", str(256 * n)], 2, OPEN_DURATION)
        res["open"]["rate"] = rate
        b.log(f"open at {rate}/s: {json.dumps(res['open'])}")
    res["lease_moves"] = int(run.sql(db, "SELECT coalesce(sum(epoch), 0) FROM shards")[0][0]) - int(epochs0)
    t = time.time()
    for p in nodes:
        run.stop(p)
    t2 = time.time()
    run.drop_database(db)
    b.log(f"nodes stopped in {t2 - t:.1f}s, database dropped in {time.time() - t2:.1f}s")
    return res


def report(results):
    one = results[0]
    print(f"\n== scale-out: {NODE_CPU} CPU per node (cgroup v1 CFS quota {int(NODE_CPU * CFS_PERIOD_US)} µs per "
          f"{CFS_PERIOD_US} µs), closed loop {CPN} conns/node, "
          f"{SPN} subscriptions/node, {DURATION:.0f}s after {WARMUP:.0f}s warm-up"
          + (", ingest sent to each subscription's owner (AFFINITY=1)" if AFFINITY else
             ", ingest round-robin over every node") + " ==")
    hdr = ("nodes", "accepted/s", "delivered/s", "sustained/s", "ratio", "e2e p50", "e2e p99", "ingest p99",
           "drain s", "pg CPU", "pg rows/s", "commits/s", "node CPU", "throttled", "machine", "load")
    print(" ".join(f"{h:>11}" for h in hdr))
    for r in results:
        c = r["closed"]
        ratio = c["sustained_per_s"] / one["closed"]["sustained_per_s"] if one["closed"]["sustained_per_s"] else 0
        row = (r["nodes"], c["accepted_per_s"], c["delivered_per_s"], c["sustained_per_s"], f"{ratio:.2f}",
               c["e2e_p50_ms"], c["e2e_p99_ms"], c["ingest_p99_ms"], c["drain_s"], c["pg_cpu"], c["pg_rows_per_s"],
               c["pg_commits_per_s"], "/".join(str(x) for x in c["node_cpu"]),
               "/".join(str(x) for x in c["node_throttled"]), c["machine_busy"], c["load_1m"])
        print(" ".join(f"{v:>11}" for v in row))
    if all("open" in r for r in results):
        print(f"\nopen loop at {OPEN_FRACTION} × each sustained rate, {OPEN_DURATION:.0f}s:")
        print(" ".join(f"{h:>11}" for h in ("nodes", "rate", "accepted/s", "delivered/s", "dropped", "e2e p50",
                                              "e2e p99", "ingest p99", "pg CPU", "pg rows/s", "machine", "load")))
        for r in results:
            o = r["open"]
            row = (r["nodes"], o["rate"], o["accepted_per_s"], o["delivered_per_s"], o["dropped"], o["e2e_p50_ms"],
                   o["e2e_p99_ms"], o["ingest_p99_ms"], o["pg_cpu"], o["pg_rows_per_s"], o["machine_busy"],
                   o["load_1m"])
            print(" ".join(f"{v:>11}" for v in row))
    for r in results:
        c = r["closed"]
        per = c["pg_cpu"] / c["sustained_per_s"] * 1000 if c["sustained_per_s"] else 0
        print(f"{r['nodes']} node(s): ingest/s per node {c['node_ingest_per_s']}, delivery attempts/s per node "
              f"{c['node_attempts_per_s']}")
        print(f"{r['nodes']} node(s): Postgres {per:.3f} ms CPU and {c['pg_rows_per_s'] / max(1, c['sustained_per_s']):.2f}"
              f" rows per message; leases {r['leases']} (balanced in {r['balance_s']} s, {r['lease_moves']} moves"
              f" while measuring); errors {c['errors']}, undelivered {c['undelivered']}")


def main():
    if os.geteuid() != 0:
        sys.exit("scaleout.py needs root for the cgroup CPU quotas")
    run = b.Run("scale-out")
    try:
        with open(os.path.join(run.out, "env.txt"), "w") as f:
            f.write(f"date={time.strftime('%FT%TZ', time.gmtime())} load={open('/proc/loadavg').read().strip()} "
                    f"NODES={NODES} NODE_CPU={NODE_CPU} CFS_PERIOD_US={CFS_PERIOD_US} CPN={CPN} SPN={SPN} DURATION={DURATION} WARMUP={WARMUP} "
                    f"OPEN_FRACTION={OPEN_FRACTION} POOL={POOL} TTL={TTL} AFFINITY={AFFINITY}\n")
        sink = run.sink("sink", SINK_PORT)
        results = [measure(run, n, sink) for n in NODES]
        with open(os.path.join(run.out, "summary.json"), "w") as f:
            json.dump(results, f, indent=1)
        report(results)
    finally:
        run.close()


if __name__ == "__main__":
    main()
