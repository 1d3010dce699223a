"""Shared plumbing of the Python benchmarks (`scaleout.py`, `isolation.py`).

Owns: starting and stopping the processes a run needs (Courier nodes, sinks, loadgen) by
PID, the run's own database and Redis prefix, cgroup v1 CPU limits for nodes, and the
samples a report needs (Postgres CPU and row counters, machine CPU, sink stats).
Must never: send traffic anywhere but 127.0.0.1, kill a process it did not start, or leave
its database, Redis keys or cgroups behind (everything is undone in `Run.close`).
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG = os.environ.get("PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
COURIER = os.environ.get("COURIER_BIN", os.path.join(ROOT, "target/release/courier"))
SINK = os.environ.get("SINK_BIN", os.path.join(ROOT, "target/release/courier-sink"))
LOADGEN = os.environ.get("LOADGEN_BIN", os.path.join(ROOT, "target/release/loadgen"))
HZ = os.sysconf("SC_CLK_TCK")
CGROUP_CPU = "/sys/fs/cgroup/cpu"

for _url in (PG, REDIS_URL):
    if not any(h in _url for h in ("@127.0.0.1", "//127.0.0.1", "@localhost", "//localhost")):
        sys.exit(f"refusing non-local URL {_url}: load tests only talk to 127.0.0.1")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def env_dur(name, default):
    """A duration knob like `20s` or `500ms`, in seconds."""
    v = os.environ.get(name, default).strip()
    if v.endswith("ms"):
        return float(v[:-2]) / 1000
    if v.endswith("m"):
        return float(v[:-1]) * 60
    return float(v.rstrip("s"))


def http(method, url, body=None, key=None, timeout=30):
    assert url.startswith("http://127.0.0.1:"), url
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    req = urllib.request.Request(url, method=method, headers=headers,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=timeout) as r:
        raw = r.read()
        return json.loads(raw) if raw and r.headers.get_content_type() == "application/json" else raw


def wait_http(url, secs, proc=None):
    end = time.time() + secs
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            urllib.request.urlopen(url, timeout=1)
            return True
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    return False


def metric_sum(text, name, label=None):
    """Sum of a Prometheus series (optionally only lines containing `label`)."""
    total = 0.0
    for line in text.splitlines():
        if (line.startswith(name + " ") or line.startswith(name + "{")) and (label is None or label in line):
            try:
                total += float(line.rsplit(" ", 1)[1])
            except ValueError:
                pass
    return total


class Cgroup:
    """A cgroup v1 `cpu` group holding one process to `cpus` CPUs (CFS quota)."""

    def __init__(self, name, cpus, period_us=100000):
        self.path = os.path.join(CGROUP_CPU, name)
        os.makedirs(self.path, exist_ok=True)
        self._write("cpu.cfs_period_us", str(period_us))
        self._write("cpu.cfs_quota_us", str(int(cpus * period_us)))

    def _write(self, f, v):
        with open(os.path.join(self.path, f), "w") as fh:
            fh.write(v)

    def stat(self):
        """`cpu.stat`: nr_periods, nr_throttled, throttled_time (ns)."""
        with open(os.path.join(self.path, "cpu.stat")) as f:
            return {k: int(v) for k, v in (line.split() for line in f if line.strip())}

    def remove(self):
        # The process has exited by now; an empty group can be removed.
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)
        log(f"could not remove cgroup {self.path}")


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def postgres_ticks():
    """CPU ticks of every running postgres process, by PID (backends and background workers)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.find("(") + 1:raw.rfind(")")]
        if comm == "postgres":
            fields = raw.rsplit(")", 1)[1].split()
            out[int(d)] = int(fields[11]) + int(fields[12])
    return out


def postgres_cpu_s(before, after):
    """CPU seconds postgres used between two `postgres_ticks` samples (new PIDs from zero)."""
    return sum(t - before.get(pid, 0) for pid, t in after.items()) / HZ


def machine_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def sink_cmd(port, workers=2, delay_ms=0):
    return [SINK, "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--delay-ms", str(delay_ms)]


class Run:
    """One benchmark run: its processes, databases, Redis prefix and cgroups, all undone on close."""

    def __init__(self, name):
        self.id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        self.out = os.path.join(os.environ.get("RESULTS_DIR", "/tmp/courier-bench"), f"{self.id}-{name}")
        os.makedirs(self.out, exist_ok=True)
        self.key = "bench_" + uuid.uuid4().hex + uuid.uuid4().hex[:16]
        self.procs = []
        self.dbs = []
        self.prefixes = []
        self.cgroups = []
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def spawn(self, name, cmd, env=None, stdout=None):
        logf = open(os.path.join(self.out, f"{name}.log"), "ab")
        p = subprocess.Popen(cmd, env=dict(os.environ, **(env or {})), stdout=stdout or logf, stderr=logf)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def sink(self, name, port, delay_ms=0):
        p = self.spawn(name, sink_cmd(port, int(os.environ.get("SINK_WORKERS", "2")), delay_ms))
        if not wait_http(f"http://127.0.0.1:{port}/health", 10, p):
            sys.exit(f"{name} did not start (see {self.out}/{name}.log)")
        return f"http://127.0.0.1:{port}"

    def database(self, tag):
        db = f"courier_bench_{tag}_{self.id.lower().replace('-', '_')}"
        subprocess.run(["psql", f"{PG}/postgres", "-qAtc", f'CREATE DATABASE "{db}"'], check=True,
                       stdout=subprocess.DEVNULL)
        self.dbs.append(db)
        return db

    def drop_database(self, db):
        r = subprocess.run(["psql", f"{PG}/postgres", "-qAtc", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode == 0 and db in self.dbs:
            self.dbs.remove(db)
        elif r.returncode != 0:
            log(f"could not drop database {db}")

    def prefix(self, tag):
        p = f"bench:{self.id}:{tag}:"
        self.prefixes.append(p)
        return p

    def courier(self, name, port, db, prefix, node_id, env=None, cgroup=None):
        """Starts one Courier node; with `cgroup` the process enters it before `exec`, so the
        limit binds from its first instruction (same PID: `sh` execs Courier)."""
        e = {"COURIER_BIND": f"127.0.0.1:{port}", "DATABASE_URL": f"{PG}/{db}", "REDIS_URL": REDIS_URL,
             "COURIER_REDIS_PREFIX": prefix, "COURIER_API_KEY": self.key, "COURIER_NODE_ID": node_id,
             "COURIER_ALLOW_PRIVATE_TARGETS": "true", "COURIER_LOG_FORMAT": "json",
             "COURIER_RETRY_SCHEDULE": os.environ.get("BENCH_RETRY_SCHEDULE", "1s,2s,4s,8s,16s"),
             "RUST_LOG": os.environ.get("COURIER_RUST_LOG", "warn")}
        e.update(env or {})
        cmd = [COURIER]
        if cgroup is not None:
            cmd = ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$1"', cgroup.path, COURIER]
        return self.spawn(name, cmd, e)

    def cgroup(self, name, cpus, period_us=100000):
        g = Cgroup(f"courier-bench-{self.id}-{name}", cpus, period_us)
        self.cgroups.append(g)
        return g

    def sql(self, db, query):
        r = subprocess.run(["psql", f"{PG}/{db}", "-qAtF", "\t", "-c", query], check=True,
                           stdout=subprocess.PIPE, text=True)
        return [line.split("\t") for line in r.stdout.splitlines() if line]

    def db_counters(self, db):
        row = self.sql("postgres", "SELECT tup_inserted, tup_updated, tup_deleted, xact_commit "
                                   f"FROM pg_stat_database WHERE datname = '{db}'")
        return [int(x) for x in row[0]] if row else [0, 0, 0, 0]

    def loadgen(self, name, urls, args):
        """Starts loadgen (JSON summary on stdout); `finish` collects it."""
        cmd = [LOADGEN, "--json", "--header", f"Authorization: Bearer {self.key}"] + args
        for u in urls:
            cmd += ["--url", u]
        return self.spawn(name, cmd, stdout=subprocess.PIPE)

    def finish(self, p, name):
        out, _ = p.communicate(timeout=600)
        self.procs.remove(p)
        with open(os.path.join(self.out, f"{name}.json"), "wb") as f:
            f.write(out)
        return json.loads(out)

    def close(self):
        for p in reversed(list(self.procs)):
            self.stop(p)
        for db in list(self.dbs):
            if os.environ.get("KEEP_DB") != "1":
                self.drop_database(db)
        for pre in self.prefixes:
            keys = subprocess.run(["redis-cli", "-u", REDIS_URL, "--scan", "--pattern", pre + "*"],
                                  stdout=subprocess.PIPE, text=True).stdout.split()
            for i in range(0, len(keys), 500):
                subprocess.run(["redis-cli", "-u", REDIS_URL, "UNLINK", *keys[i:i + 500]],
                               stdout=subprocess.DEVNULL)
        for g in self.cgroups:
            g.remove()
        log(f"results and logs: {self.out}")


def sink_stats(url):
    return http("GET", url + "/stats")


def sink_reset(url):
    """Zeroes the sink; returns the successful deliveries it had counted until then."""
    return int(http("POST", url + "/reset").get("ok_before", 0))


def drain(sinks, expected, idle_s=15, timeout_s=300):
    """Waits until the sinks have `expected` successful deliveries together, or no progress
    for `idle_s`, or `timeout_s`. Returns (seconds waited, delivered)."""
    start = time.time()
    last, last_change = -1, time.time()
    while True:
        total = sum(sink_stats(u)["ok"] for u in sinks)
        if total >= expected:
            return time.time() - start, total
        if total != last:
            last, last_change = total, time.time()
        if time.time() - last_change > idle_s or time.time() - start > timeout_s:
            log(f"drain stopped at {total}/{expected}")
            return time.time() - start, total
        time.sleep(0.5)
