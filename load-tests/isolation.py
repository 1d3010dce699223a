#!/usr/bin/env python3
"""Isolation benchmark (issue 12): do stalled receivers slow healthy subscriptions down?

  load-tests/isolation.py
  load-tests/run.sh isolation       # the same

One Courier node (COURIER_DELIVERY_TIMEOUT=5s, COURIER_MAX_ATTEMPTS_IN_FLIGHT=MAX_ATTEMPTS,
default 1024) and three sinks on 127.0.0.1: `healthy` (answers at once), `busy` (answers at
once) and `stall` (answers after STALL_MS=6000 ms, longer than the 5 s timeout, so every
attempt times out). HEALTHY=4 healthy subscriptions get HEALTHY_RATE msgs/s together (open
loop) in three phases of DURATION each, back to back in one run, and their e2e latency is
measured over every message of the phase:

  quiet    healthy traffic alone: the control
  busy     plus STALLED=80 subscriptions (max_in_flight 16) to the fast `busy` sink at
           STALL_RATE msgs/s together: the same extra ingest and delivery work, no stall
  stalled  plus STALLED=80 subscriptions (max_in_flight 16) to the `stall` sink at STALL_RATE:
           the isolation case (their attempts time out and retry on BENCH_RETRY_SCHEDULE)

In `busy` and `stalled` the extra traffic starts LEAD seconds before the healthy traffic, so the
stalled subscriptions hold their attempts (and the node's attempt permits are contested) from
the first healthy message. During each phase, every second: `courier_attempt_permits{in_use}`,
`courier_attempt_permit_waiters`, the stall sink's requests in flight, Courier's, Postgres'
and the machine's CPU. Knobs: HEALTHY, HEALTHY_RATE (400), STALLED (80), STALL_RATE (320), STALL_MS (6000),
MAX_IN_FLIGHT (16), MAX_ATTEMPTS (1024), DURATION (30s), LEAD (15s), PORT (18200),
SINK_PORT (19250, +1 busy, +2 stall), PHASES ("quiet busy stalled"), KEEP_DB=1.
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

HEALTHY = int(os.environ.get("HEALTHY", "4"))
HEALTHY_RATE = int(os.environ.get("HEALTHY_RATE", "400"))
STALLED = int(os.environ.get("STALLED", "80"))
STALL_RATE = int(os.environ.get("STALL_RATE", "320"))
STALL_MS = int(os.environ.get("STALL_MS", "6000"))
MAX_IN_FLIGHT = int(os.environ.get("MAX_IN_FLIGHT", "16"))
MAX_ATTEMPTS = os.environ.get("MAX_ATTEMPTS", "1024")
DURATION = b.env_dur("DURATION", "30s")
LEAD = b.env_dur("LEAD", "15s")
PORT = int(os.environ.get("PORT", "18200"))
SINK_PORT = int(os.environ.get("SINK_PORT", "19250"))
PHASES = os.environ.get("PHASES", "quiet busy stalled").split()


class Sampler(threading.Thread):
    """Samples the node's permits, the stall sink's in-flight count and CPU once a second."""

    def __init__(self, api, stall_sink, pid):
        super().__init__(daemon=True)
        self.api, self.stall, self.pid = api, stall_sink, pid
        self.rows, self.stop_flag = [], threading.Event()

    def run(self):
        while not self.stop_flag.wait(1.0):
            try:
                m = b.http("GET", self.api + "/metrics").decode()
                self.rows.append({
                    "t": time.time(), "ticks": b.proc_ticks(self.pid), "busy": b.machine_busy(),
                    "pg": b.postgres_ticks(),
                    "permits_in_use": b.metric_sum(m, "courier_attempt_permits", 'state="in_use"'),
                    "waiters": b.metric_sum(m, "courier_attempt_permit_waiters"),
                    "reduced": b.metric_sum(m, "courier_concurrency_reduced_subscriptions"),
                    "stall_in_flight": b.sink_stats(self.stall)["in_flight"]})
            except (OSError, ValueError, KeyError):
                pass

    def summary(self):
        self.stop_flag.set()
        self.join()
        r = self.rows
        if len(r) < 2:
            return {}
        dt = r[-1]["t"] - r[0]["t"]
        busy = (r[-1]["busy"][0] - r[0]["busy"][0]) / max(1, r[-1]["busy"][1] - r[0]["busy"][1])
        peak = lambda k: max(x[k] for x in r)  # noqa: E731
        mean = lambda k: round(sum(x[k] for x in r) / len(r), 1)  # noqa: E731
        return {"permits_in_use_peak": peak("permits_in_use"), "permits_in_use_mean": mean("permits_in_use"),
                "waiters_peak": peak("waiters"), "reduced_subscriptions_peak": peak("reduced"),
                "stall_in_flight_peak": peak("stall_in_flight"), "stall_in_flight_mean": mean("stall_in_flight"),
                "permits_in_use_last": r[-1]["permits_in_use"], "stall_in_flight_last": r[-1]["stall_in_flight"],
                "courier_cpu": round((r[-1]["ticks"] - r[0]["ticks"]) / b.HZ / dt, 2),
                "pg_cpu": round(b.postgres_cpu_s(r[0]["pg"], r[-1]["pg"]) / dt, 2),
                "machine_busy": round(busy * os.cpu_count(), 2)}


def ingest_urls(ids):
    return [f"http://127.0.0.1:{PORT}/ingest/{i}?event_type=bench.ingest" for i in ids]


def run_phase(run, name, healthy_ids, extra_ids, sinks, courier):
    healthy, stall = sinks["healthy"], sinks["stall"]
    b.log(f"phase {name}: healthy {HEALTHY_RATE}/s over {len(healthy_ids)}"
          + (f", extra {STALL_RATE}/s over {len(extra_ids)} ({'stalled' if name == 'stalled' else 'fast'})"
             if extra_ids else "") + f" (load {b.loadavg()})")
    sampler = Sampler(f"http://127.0.0.1:{PORT}", stall, courier.pid)
    sampler.start()
    extra = None
    if extra_ids:
        extra = run.loadgen(f"{name}-extra", ingest_urls(extra_ids),
                            ["--mode", "open", "--rate", str(STALL_RATE), "--connections", "512",
                             "--duration", f"{LEAD + DURATION + 1}s"])
        time.sleep(LEAD)
    load = b.loadavg()
    b.sink_reset(healthy)
    gen = run.finish(run.loadgen(f"{name}-healthy", ingest_urls(healthy_ids),
                                 ["--mode", "open", "--rate", str(HEALTHY_RATE), "--connections", "256",
                                  "--duration", f"{DURATION}s"]), f"{name}-healthy")
    drain_s, got = b.drain([healthy], gen["ok_total"], idle_s=20, timeout_s=120)
    s = b.sink_stats(healthy)
    extra_gen = run.finish(extra, f"{name}-extra") if extra else {}
    res = {"phase": name, "load_1m": load, "healthy_accepted_per_s": gen["ok_per_s"],
           "healthy_ingest_p50_ms": gen["p50_ms"], "healthy_ingest_p99_ms": gen["p99_ms"],
           "healthy_errors": gen["errors"] + gen["non2xx"], "healthy_dropped": gen["dropped"],
           "healthy_delivered": s["ok"], "healthy_expected": gen["ok_total"], "drain_s": round(drain_s, 1),
           "e2e_p50_ms": s["p50_ms"], "e2e_p95_ms": s["p95_ms"], "e2e_p99_ms": s["p99_ms"],
           "e2e_max_ms": s["max_ms"], "extra_accepted_per_s": extra_gen.get("ok_per_s"),
           "extra_ingest_p99_ms": extra_gen.get("p99_ms"),
           "extra_errors": (extra_gen.get("errors", 0) + extra_gen.get("non2xx", 0)) if extra_gen else None}
    res.update(sampler.summary())
    if name == "stalled":
        st = b.sink_stats(stall)
        res.update({"stall_received": st["count"], "stall_peak_in_flight": st["peak_in_flight"]})
    b.log(json.dumps(res))
    return res


def report(results):
    print(f"\n== isolation: {HEALTHY} healthy subscriptions at {HEALTHY_RATE}/s; {STALLED} others at "
          f"{STALL_RATE}/s (max_in_flight {MAX_IN_FLIGHT}); stalled receivers answer after {STALL_MS} ms, "
          f"delivery timeout 5 s, COURIER_MAX_ATTEMPTS_IN_FLIGHT={MAX_ATTEMPTS}; {DURATION:.0f}s per phase ==")
    cols = ("phase", "healthy/s", "e2e p50", "e2e p95", "e2e p99", "e2e max", "ingest p99", "delivered",
            "permits", "waiters", "stall infl", "courier CPU", "pg CPU", "machine", "load")
    print(" ".join(f"{c:>11}" for c in cols))
    for r in results:
        row = (r["phase"], r["healthy_accepted_per_s"], r["e2e_p50_ms"], r["e2e_p95_ms"], r["e2e_p99_ms"],
               r["e2e_max_ms"], r["healthy_ingest_p99_ms"], f"{r['healthy_delivered']}/{r['healthy_expected']}",
               f"{r.get('permits_in_use_peak', '-')}", f"{r.get('waiters_peak', '-')}",
               f"{r.get('stall_in_flight_peak', '-')}", r.get("courier_cpu", "-"), r.get("pg_cpu", "-"),
               r.get("machine_busy", "-"),
               r["load_1m"])
        print(" ".join(f"{v!s:>11}" for v in row))
    base = next((r for r in results if r["phase"] == "quiet"), None)
    for r in results:
        if base and r is not base and base["e2e_p99_ms"]:
            print(f"{r['phase']}: healthy e2e p99 {r['e2e_p99_ms']} ms = {r['e2e_p99_ms'] / base['e2e_p99_ms']:.2f}× "
                  f"quiet; p50 {r['e2e_p50_ms']} ms = {r['e2e_p50_ms'] / max(0.001, base['e2e_p50_ms']):.2f}× quiet")


def main():
    run = b.Run("isolation")
    try:
        with open(os.path.join(run.out, "env.txt"), "w") as f:
            f.write(f"date={time.strftime('%FT%TZ', time.gmtime())} load={open('/proc/loadavg').read().strip()} "
                    f"HEALTHY={HEALTHY} HEALTHY_RATE={HEALTHY_RATE} STALLED={STALLED} STALL_RATE={STALL_RATE} "
                    f"STALL_MS={STALL_MS} MAX_IN_FLIGHT={MAX_IN_FLIGHT} MAX_ATTEMPTS={MAX_ATTEMPTS} "
                    f"DURATION={DURATION} LEAD={LEAD}\n")
        sinks = {"healthy": run.sink("sink-healthy", SINK_PORT), "busy": run.sink("sink-busy", SINK_PORT + 1),
                 "stall": run.sink("sink-stall", SINK_PORT + 2, STALL_MS)}
        db, prefix = run.database("iso"), run.prefix("iso")
        courier = run.courier("courier", PORT, db, prefix, f"bench-{run.id}",
                              {"COURIER_DELIVERY_TIMEOUT": "5s", "COURIER_MAX_ATTEMPTS_IN_FLIGHT": MAX_ATTEMPTS})
        api = f"http://127.0.0.1:{PORT}"
        if not b.wait_http(api + "/ready", 120, courier):
            sys.exit(f"courier not ready (see {run.out}/courier.log)")

        def create(target, max_in_flight=None):
            body = {"target_url": target, "event_types": ["bench.*"]}
            if max_in_flight:
                body["max_in_flight"] = max_in_flight
            return b.http("POST", f"{api}/subscriptions/", body, run.key)["id"]

        healthy_ids = [create(f"{sinks['healthy']}/hook/h{i}") for i in range(HEALTHY)]
        busy_ids = [create(f"{sinks['busy']}/hook/b{i}", MAX_IN_FLIGHT) for i in range(STALLED)] \
            if "busy" in PHASES else []
        stalled_ids = [create(f"{sinks['stall']}/hook/s{i}", MAX_IN_FLIGHT) for i in range(STALLED)] \
            if "stalled" in PHASES else []
        extra = {"quiet": [], "busy": busy_ids, "stalled": stalled_ids}
        results = [run_phase(run, p, healthy_ids, extra[p], sinks, courier) for p in PHASES]
        with open(os.path.join(run.out, "summary.json"), "w") as f:
            json.dump(results, f, indent=1)
        with open(os.path.join(run.out, "metrics.txt"), "wb") as f:
            f.write(b.http("GET", api + "/metrics"))
        report(results)
    finally:
        run.close()


if __name__ == "__main__":
    main()
