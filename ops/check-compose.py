#!/usr/bin/env python3
"""Static checks of ops/docker-compose.yml, for CI machines without Docker.

Checks that the file parses; that every service has an image or a build whose context,
Dockerfile and target exist; that depends_on, volumes, networks and env_file references
resolve; that `service_healthy` dependencies have a healthcheck; that every ${VAR} used is
documented in .env.example; the exposure policy: Postgres and Redis publish no port and each
Courier node's port 8000 is published on loopback by default; and that the Courier nodes
(`courier`, `courier-2`, ...) share one image and API key but each has its own
COURIER_NODE_ID and host port. Docker itself runs the file in ops/compose-smoke.sh.

Usage: python3 ops/check-compose.py [path/to/docker-compose.yml]   (exit 1 on any failure)
Needs PyYAML (`pip install pyyaml`).
"""
import os
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check-compose: PyYAML missing (pip install pyyaml)")

HERE = os.path.dirname(os.path.abspath(__file__))
VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")
PRIVATE_SERVICES = {"postgres", "redis"}

passed, failed = 0, []


def check(ok, what):
    global passed
    if ok:
        passed += 1
    else:
        failed.append(what)


def env_example_vars(path):
    names = set()
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)=", line)
            if m:
                names.add(m.group(1))
    return names


def strings(node):
    """Every string inside a YAML node, recursively."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def interpolate_default(s):
    """Replaces ${VAR:-default} by its default and ${VAR} by a placeholder."""
    return VAR.sub(lambda m: m.group(3) if m.group(2) in (":-", "-") else "X", s)


def dockerfile_targets(path):
    targets = set()
    for line in open(path, encoding="utf-8"):
        m = re.match(r"\s*FROM\s+\S+\s+AS\s+(\S+)", line, re.IGNORECASE)
        if m:
            targets.add(m.group(1).lower())
    return targets


def is_node(name):
    return name == "courier" or re.fullmatch(r"courier-\d+", name) is not None


def check_nodes(services):
    """The Courier nodes: one image, one API key, distinct node ids and host ports."""
    nodes = {n: s for n, s in services.items() if is_node(n) and isinstance(s, dict)}
    check("courier" in nodes, "service courier exists")
    env = {n: s.get("environment") or {} for n, s in nodes.items()}
    check(all(isinstance(e, dict) for e in env.values()), "Courier nodes: environment is a mapping")
    if not all(isinstance(e, dict) for e in env.values()):
        return
    ids = [interpolate_default(str(e.get("COURIER_NODE_ID", ""))) for e in env.values()]
    check(all(ids) and len(set(ids)) == len(ids), f"Courier nodes have distinct COURIER_NODE_IDs ({ids})")
    for key in ("COURIER_API_KEY", "COURIER_ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL"):
        values = {str(e.get(key)) for e in env.values()}
        check(len(values) == 1, f"Courier nodes share one {key}")
    check(len({s.get("image") for s in nodes.values()}) == 1, "Courier nodes run one image")
    hosts = [interpolate_default(str(p)).rsplit(":", 1)[0] for s in nodes.values() for p in s.get("ports") or []]
    check(len(set(hosts)) == len(hosts), f"Courier nodes publish on distinct host ports ({hosts})")
    for n, s in nodes.items():
        if n != "courier":
            check("cluster" in (s.get("profiles") or []), f"service {n}: in profile cluster")


def main():
    path = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "docker-compose.yml"))
    base = os.path.dirname(path)
    try:
        doc = yaml.safe_load(open(path, encoding="utf-8"))
    except yaml.YAMLError as e:
        print(f"FAIL {path}: YAML error: {e}")
        return 1
    check(isinstance(doc, dict) and isinstance(doc.get("services"), dict), "top level has a services mapping")
    services = doc.get("services") or {}
    volumes = set((doc.get("volumes") or {}).keys())
    networks = set((doc.get("networks") or {}).keys()) | {"default"}
    example = env_example_vars(os.path.join(base, ".env.example"))
    check(bool(example), ".env.example exists next to the compose file and defines variables")

    used_volumes = set()
    for name, svc in services.items():
        where = f"service {name}"
        check(isinstance(svc, dict), f"{where}: is a mapping")
        if not isinstance(svc, dict):
            continue
        check("image" in svc or "build" in svc, f"{where}: has image or build")
        build = svc.get("build")
        if build is not None:
            if isinstance(build, str):
                build = {"context": build}
            ctx = os.path.normpath(os.path.join(base, build.get("context", ".")))
            check(os.path.isdir(ctx), f"{where}: build context {ctx} exists")
            dockerfile = os.path.join(ctx, build.get("dockerfile", "Dockerfile"))
            check(os.path.isfile(dockerfile), f"{where}: Dockerfile {dockerfile} exists")
            if build.get("target") and os.path.isfile(dockerfile):
                check(build["target"].lower() in dockerfile_targets(dockerfile),
                      f"{where}: build target {build['target']} is a stage of {dockerfile}")
        deps = svc.get("depends_on") or {}
        dep_items = deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)
        for dep, cond in dep_items:
            check(dep in services, f"{where}: depends_on {dep} is a service")
            if isinstance(cond, dict) and cond.get("condition") == "service_healthy" and dep in services:
                check("healthcheck" in services[dep], f"{where}: {dep} has a healthcheck (service_healthy)")
        for vol in svc.get("volumes") or []:
            src = vol.get("source") if isinstance(vol, dict) else str(vol).split(":")[0]
            vtype = vol.get("type") if isinstance(vol, dict) else None
            if not src or vtype == "tmpfs":
                continue
            if src.startswith((".", "/", "~")):
                check(os.path.exists(os.path.join(base, src)), f"{where}: bind mount {src} exists")
            else:
                used_volumes.add(src)
                check(src in volumes, f"{where}: named volume {src} is declared")
        svc_networks = svc.get("networks") or []
        for net in svc_networks.keys() if isinstance(svc_networks, dict) else svc_networks:
            check(net in networks, f"{where}: network {net} is declared")
        for ef in svc.get("env_file") or []:
            ef_path = interpolate_default(ef if isinstance(ef, str) else ef.get("path"))
            full = os.path.join(base, ef_path)
            check(os.path.exists(full) or os.path.exists(os.path.join(base, ".env.example")),
                  f"{where}: env_file {ef_path} exists or has a .env.example to copy")
        hc = svc.get("healthcheck")
        if hc is not None:
            test = hc.get("test")
            check(isinstance(test, str) or (isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL", "NONE")),
                  f"{where}: healthcheck test is a string or starts with CMD/CMD-SHELL/NONE")
        ports = svc.get("ports") or []
        if name in PRIVATE_SERVICES:
            check(not ports, f"{where}: publishes no port (must never be public)")
        if is_node(name):
            check(any(str(p).endswith(":8000") for p in ports), f"{where}: publishes container port 8000")
            for p in ports:
                host = interpolate_default(str(p)).rsplit(":", 1)[0]
                check(host.startswith("127.0.0.1:") or host.startswith("[::1]:"),
                      f"{where}: port {p} is published on loopback by default")
            check("healthcheck" in svc and "/ready" in " ".join(map(str, svc["healthcheck"].get("test", []))),
                  f"{where}: healthcheck probes /ready")
            env = svc.get("environment") or {}
            check("COURIER_API_KEY" in env and ":?" in str(env.get("COURIER_API_KEY")),
                  f"{where}: COURIER_API_KEY is required (${{COURIER_API_KEY:?...}})")
    check_nodes(services)
    for vol in volumes - used_volumes:
        failed.append(f"volume {vol} is declared but no service uses it")

    for s in strings(doc):
        for m in VAR.finditer(s):
            check(m.group(1) in example, f"${{{m.group(1)}}} is documented in .env.example")

    for f in failed:
        print(f"FAIL {f}")
    print(f"check-compose {os.path.relpath(path)}: {len(services)} services, {len(volumes)} volumes")
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
