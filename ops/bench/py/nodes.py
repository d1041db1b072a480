"""nodes.sh's client and report: Keel's API latency through each node, 1 node against 3.

  nodes.py check PHASE NODES_JSON NAME...       every node lists these nodes active and the databases, hosted by node-a
  nodes.py measure PHASE NODES_JSON N WARMUP IDLE
                                                IDLE s of background CPU, WARMUP unmeasured rounds, N measured rounds
                                                through every node of NODES_JSON; results/PHASE.json
  nodes.py report WORK                          the tables
"""
import http.client
import json
import os
import re
import sys
import time
import urllib.parse

from benchlib.core import die, fmt, load_result, log, pct, ratio, save
from benchlib.cpu import children, process

AUTH = os.environ.get("BENCH_AUTH", "")
CALLS = ["GET /v1/databases", "GET /v1/databases/{id}", "GET /v1/nodes", "POST /v1/dataclips", "DELETE /v1/dataclips/{id}"]
EXPECTED = {"GET /v1/databases": 200, "GET /v1/databases/{id}": 200, "GET /v1/nodes": 200, "POST /v1/dataclips": 201,
            "DELETE /v1/dataclips/{id}": 204}
PHASES = [("1-node", "1 node"), ("3-nodes", "3 nodes"), ("1-node-after", "1 node, after")]


class Node:
    """One keep-alive HTTP connection to a node's API; a request is timed from sending it to the end of its answer."""

    def __init__(self, name, api, pid):
        self.name, self.pid = name, pid
        u = urllib.parse.urlsplit(api)
        self.host, self.port = u.hostname, u.port
        self.conn = None
        self.reconnects = 0

    def request(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {AUTH}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                self.conn.connect()   # not timed: the connection is kept
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                text = response.read()
            except (http.client.HTTPException, ConnectionError) as e:
                self.conn.close()
                self.conn = None
                self.reconnects += 1
                if attempt == 2:
                    die(f"{method} {path} on {self.name} failed twice: {e!r}")
                continue
            ms = (time.perf_counter() - t0) * 1000
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return response.status, text, ms


def load(path):
    with open(path) as f:
        return json.load(f)


def json_of(text):
    try:
        return json.loads(text or b"null")
    except ValueError:
        return None


def check(phase, nodes_json, *names):
    """Every node answers, lists every node of names as active, and lists the databases, each on node-a."""
    spec = load(nodes_json)
    deadline = time.time() + 60
    for n in spec["nodes"]:
        node = Node(n["name"], n["api"], n["pid"])
        while True:
            status, text, _ = node.request("GET", "/v1/nodes")
            listed = {x["name"]: x["state"] for x in json_of(text) or []} if status == 200 else {}
            if all(listed.get(name) == "active" for name in names):
                break
            if time.time() > deadline:
                die(f"{phase}: {n['name']} lists nodes {listed} ({status}), not {list(names)} all active")
            time.sleep(0.5)
        status, text, _ = node.request("GET", "/v1/databases")
        dbs = {d["id"]: d for d in json_of(text) or []} if status == 200 else {}
        for db in spec["databases"]:
            d = dbs.get(db)
            if d is None or d["state"] != "available" or [i.get("node") for i in d.get("instances", [])] != ["node-a"]:
                die(f"{phase}: {n['name']} shows database {db} as {d}, not available on node-a")
        log(f"{phase}: {n['name']} lists nodes {sorted(listed)} active and the {len(spec['databases'])} databases on node-a")


def cpu_snapshot(spec):
    """CPU seconds so far: each node's JVM, the catalog (postmaster and its current backends), S3Proxy."""
    snap = {n["name"]: process(n["pid"]) for n in spec["nodes"]}
    catalog = process(spec["catalog_pid"]) or 0.0
    for pid in children(spec["catalog_pid"]):
        catalog += process(pid) or 0.0
    snap["catalog"] = catalog
    snap["s3proxy"] = process(spec["s3_pid"])
    return snap


def cpu_between(a, b, seconds):
    """% of one CPU each process used between two snapshots (a backend that ended in between is not counted)."""
    return {k: (100 * (b[k] - a[k]) / seconds if a.get(k) is not None and b.get(k) is not None else None) for k in b}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def measure(phase, nodes_json, n, warmup, idle):
    n, warmup, idle = int(n), int(warmup), float(idle)
    spec = load(nodes_json)
    nodes = [Node(x["name"], x["api"], x["pid"]) for x in spec["nodes"]]
    dbs = spec["databases"]
    samples = {x.name: {c: [] for c in CALLS} for x in nodes}
    odd = []             # answers other than the expected status
    late = 0             # dataclip runs answered 202 (still running)

    def one(node, call, method, path, body=None, measured=True):
        status, text, ms = node.request(method, path, body)
        if status != EXPECTED[call] and not (call == "POST /v1/dataclips" and status == 202):
            odd.append(dict(phase=phase, node=node.name, call=call, status=status, body=text[:300].decode(errors="replace")))
        if measured:
            samples[node.name][call].append(ms)
        return status, text

    def round_(r, measured):
        nonlocal late
        order = nodes[r % len(nodes):] + nodes[:r % len(nodes)]
        db = dbs[r % len(dbs)]
        for node in order:
            one(node, "GET /v1/databases", "GET", "/v1/databases", measured=measured)
            one(node, "GET /v1/databases/{id}", "GET", f"/v1/databases/{db}", measured=measured)
            one(node, "GET /v1/nodes", "GET", "/v1/nodes", measured=measured)
            status, text = one(node, "POST /v1/dataclips", "POST", "/v1/dataclips",
                               dict(title=f"bench {phase} {r} {node.name}", database=db, sql="select 1 as one"), measured=measured)
            clip = (json_of(text) or {}).get("id") if status in (201, 202) else None
            if status == 202:
                late += 1
            if clip:
                one(node, "DELETE /v1/dataclips/{id}", "DELETE", f"/v1/dataclips/{clip}", measured=measured)
            elif measured:
                die(f"{phase}: POST /v1/dataclips on {node.name} answered {status}: {text[:300]!r}")

    log(f"{phase}: {idle:.0f} s idle (background CPU) ...")
    c0, t0 = cpu_snapshot(spec), time.time()
    time.sleep(idle)
    idle_cpu = cpu_between(c0, cpu_snapshot(spec), time.time() - t0)
    log(f"{phase}: {warmup} warm-up rounds through {', '.join(x.name for x in nodes)} ...")
    for r in range(warmup):
        round_(r, measured=False)
    load0 = loadavg()
    log(f"{phase}: {n} measured rounds (load average {load0[0]:.2f}) ...")
    c0, t0 = cpu_snapshot(spec), time.time()
    for r in range(n):
        round_(warmup + r, measured=True)
    wall = time.time() - t0
    busy_cpu = cpu_between(c0, cpu_snapshot(spec), wall)
    load1 = loadavg()
    save(phase, dict(nodes=[x.name for x in nodes], samples=samples, idle_cpu=idle_cpu, busy_cpu=busy_cpu, wall=wall,
                     load_start=load0, load_end=load1, odd=odd, late=late, reconnects={x.name: x.reconnects for x in nodes},
                     n=n, warmup=warmup, idle=idle))
    for x in nodes:
        s = samples[x.name]
        log(f"{phase}: {x.name}: " + ", ".join(f"{c} p50 {pct(s[c], 50):.1f} ms" for c in CALLS))
    log(f"{phase}: {wall:.0f} s; load average {load1[0]:.2f} at the end; {len(odd)} unexpected answers")


# --- the report -----------------------------------------------------------------------------------

def cell(v):
    return f"{pct(v, 50):6.1f} {pct(v, 99):6.1f}" if v else f"{'-':>6} {'-':>6}"


def pooled(result, call):
    return [ms for name in result["nodes"] for ms in result["samples"][name][call]]


def keel_log_lines(work):
    """Distinct WARN/ERROR messages of each node's log, with counts (numbers and ids masked)."""
    out = {}
    for name in ("node-a", "node-b", "node-c"):
        path = os.path.join(work, f"{name}.log")
        if not os.path.exists(path):
            continue
        seen = {}
        with open(path, errors="replace") as f:
            for line in f:
                if re.match(r"^\d\d:\d\d:\d\d\.\d{3} (WARN |ERROR)", line):
                    key = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", line[13:].strip())
                    key = re.sub(r"\d+", "N", key)[:240]
                    seen.setdefault(key, [0, line.strip()[:300]])[0] += 1
        out[name] = seen
    return out


def report(work):
    meta = load_result("meta") or {}
    results = {p: load_result(p) for p, _ in PHASES}
    one, three = results["1-node"], results["3-nodes"]
    if not one or not three:
        die("no results of the 1-node and 3-nodes phases")
    print(f"nodes.sh: Keel's API latency with 3 nodes against 1, on one external catalog and one S3Proxy ({meta.get('keel', '?')})")
    print(f"  machine: {meta.get('cpus')} CPUs ({meta.get('cpu_model')}), started {meta.get('started')}")
    print(f"  catalog: Postgres from {meta.get('catalog_bin')} on 127.0.0.1:{meta.get('base')}; S3Proxy 2.6.0 over HTTP; one KEEL_SECRET_KEY")
    print("  every node on 127.0.0.1 with its own ports: no network namespaces, so no network between nodes, catalog and")
    print("  store but loopback, and the three JVMs (and the catalog, S3Proxy, the client) share this machine's CPUs,")
    print("  which separate hosts would not")
    print(f"  {meta.get('dbs')} essential-0 databases, all hosted by node-a; per call and node: N={one['n']} requests after "
          f"{one['warmup']} warm-up rounds; one keep-alive")
    print("  HTTP connection per node, one request at a time, each node in turn; latency = client's send -> end of answer")
    print()
    print("p50 / p99 in ms; the anchor is 1 node; ratio = 3 nodes / 1 node")
    print(f"{'call':28s} {'1 node':>13s} {'3 nodes':>13s}   {'ratio p50':>9s} {'ratio p99':>9s}")
    print(f"{'':28s} {'p50':>6s} {'p99':>6s} {'p50':>6s} {'p99':>6s}")
    for c in CALLS:
        a, b = one["samples"]["node-a"][c], pooled(three, c)
        print(f"{c:28s} {cell(a)} {cell(b)}   {ratio(pct(b, 50), pct(a, 50)):>9s} {ratio(pct(b, 99), pct(a, 99)):>9s}")
    print(f"  (3 nodes: the {three['n'] * len(three['nodes'])} requests through all three nodes pooled)")
    print()
    print("3 nodes, per node asked (p50 / p99 ms; ratio p50 against 1 node)")
    header = "".join(f" {name + (' (hosts)' if name == 'node-a' else ''):>21s}" for name in three["nodes"])
    print(f"{'call':28s}{header}")
    print(f"{'':28s}" + f" {'p50':>6s} {'p99':>6s} {'ratio':>7s}" * len(three["nodes"]))
    for c in CALLS:
        a = one["samples"]["node-a"][c]
        row = ""
        for name in three["nodes"]:
            v = three["samples"][name][c]
            row += f" {cell(v)} {ratio(pct(v, 50), pct(a, 50)):>7s}"
        print(f"{c:28s}{row}")
    after = results["1-node-after"]
    if after:
        print()
        print("drift check: node-a alone again after node-b and node-c stopped (their rows stay, shown lost). When after/1 node")
        print("is as far from 1.00x as the ratios above, the machine moved during the run, not Keel; the last two columns set")
        print("3 nodes against the mean of 1 node before and after (which cancels a drift that is steady over the run)")
        print(f"{'call':28s} {'1 node':>13s} {'1 node after':>13s}   {'after/1 node':>12s}   {'3 nodes / mean of both':>22s}")
        print(f"{'':28s} {'p50':>6s} {'p99':>6s} {'p50':>6s} {'p99':>6s}   {'p50':>12s}   {'p50':>10s} {'p99':>11s}")
        for c in CALLS:
            a, b, t = one["samples"]["node-a"][c], after["samples"]["node-a"][c], pooled(three, c)
            m50, m99 = (pct(a, 50) + pct(b, 50)) / 2, (pct(a, 99) + pct(b, 99)) / 2
            print(f"{c:28s} {cell(a)} {cell(b)}   {ratio(pct(b, 50), pct(a, 50)):>12s}   "
                  f"{ratio(pct(t, 50), m50):>10s} {ratio(pct(t, 99), m99):>11s}")
    print()
    print("CPU, % of one CPU (idle: no requests, before the phase's rounds; busy: during its measured rounds), load average")
    procs = ["node-a", "node-b", "node-c", "catalog", "s3proxy"]
    print(f"{'phase':16s} {'':5s}" + "".join(f" {p:>8s}" for p in procs) + "   wall   load avg start/end")
    for p, label in PHASES:
        r = results[p]
        if not r:
            continue
        for kind in ("idle", "busy"):
            cpu = r[f"{kind}_cpu"]
            cells = "".join(f" {fmt(cpu.get(x), 1):>8s}" for x in procs)
            extra = f"  {r['wall']:5.0f} s  {r['load_start'][0]:.2f} / {r['load_end'][0]:.2f}" if kind == "busy" else ""
            print(f"{label:16s} {kind:5s}{cells}{extra}")
    print()
    odd = [o for p, _ in PHASES if results[p] for o in results[p]["odd"]]
    late = {p: results[p]["late"] for p, _ in PHASES if results[p]}
    reconnects = {p: results[p]["reconnects"] for p, _ in PHASES if results[p]}
    print(f"unexpected answers: {len(odd)}; dataclip runs answered 202 (still running): {late}; reconnects: {reconnects}")
    for o in odd[:10]:
        print(f"  {o['phase']} {o['node']} {o['call']}: {o['status']} {o['body']}")
    print()
    print("samples (ms), min / p90 / max per phase and call:")
    for p, label in PHASES:
        r = results[p]
        if not r:
            continue
        for c in CALLS:
            v = pooled(r, c)
            print(f"  {label:14s} {c:28s} min {min(v):6.1f}  p90 {pct(v, 90):6.1f}  max {max(v):7.1f}")
    print()
    print("Keel's WARN/ERROR lines (distinct, with counts):")
    for name, seen in keel_log_lines(work).items():
        if not seen:
            print(f"  {name}: none")
            continue
        print(f"  {name}:")
        for count, line in sorted(seen.values(), key=lambda x: -x[0])[:15]:
            print(f"    {count:4d}x {line}")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "check":
        check(*args)
    elif command == "measure":
        measure(*args)
    elif command == "report":
        report(*args)
    else:
        die(f"unknown command {command}")


if __name__ == "__main__":
    main()
