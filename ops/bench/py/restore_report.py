"""restore.sh's report: each round's restore times, the means, Keel/pgBackRest, where the time goes,
and each restored copy checked against its source at T (exit 2 when one does not match).

  restore_report.py META_JSON
"""
import json
import sys

from benchlib.core import MB, fmt, load_result, mean, ratio
from restore import PG_EVENTS, replayed


def report(meta_path):
    with open(meta_path) as f:
        meta = json.load(f)
    rounds = int(meta["rounds"])
    tools = meta["tools"].split()
    name = {"keel": "Keel", "pgbr": "pgBackRest"}
    R = {tool: [load_result(f"restore-{tool}-r{i}") for i in range(1, rounds + 1)] for tool in tools}
    B = {tool: load_result(f"backup-{tool}") for tool in tools}
    tgt = load_result("target")
    st = load_result("settings")

    thr = lambda r: (r["size"] + r["replayed"]) / MB / r["wall"]
    print("Keel vs pgBackRest: point-in-time restore, one run, one S3 server")
    print(f"  machine        {meta['cpus']} vCPUs, {meta['cpu_model']}; {meta['started']}")
    print(f"  S3             one S3Proxy 2.6.0 (filesystem-nio2 under /tmp); Keel over {meta['keel_s3']}, pgBackRest over https;"
          f" buckets {meta['keel_bucket']} / {meta['pgbr_bucket']}")
    if st:
        found = st["found"]["keel"]
        print(f"  Postgres       {found.get('server_version')} for both (Keel's binaries), data checksums, TLS; the same settings: "
              + ", ".join(f"{n}={found.get(n)}" for n in ("shared_buffers", "max_wal_size", "checkpoint_timeout",
                                                          "recovery_prefetch", "maintenance_io_concurrency")))
    if "keel" in tools:
        print(f"  Keel           {meta['keel_version']}: POST /v1/databases {{\"plan\":\"standard-0\",\"rollback\":<source>,\"to\":T}}"
              f" -> available + select 1")
    if "pgbr" in tools:
        print(f"  pgBackRest     {meta['pgbr_version']}: restore --type=time --target-action=promote --archive-mode=off,"
              f" process-max={meta['pgbr_process_max']}, archive-async=y (async archive-get), then pg_ctl start"
              f" -> pg_is_in_recovery() = false")
    print(f"  data           {meta['mode']}: {meta['data']}; then {meta['wal_after_mb']} MiB of WAL of {meta['update_rows']}-row"
          f" updates after the base backup (pgbench, 1 client, the same seeds on both)")
    print(f"  target         T = {tgt['rfc3339']}: markers 1-10 committed before T, 11-20 after; restores must hold 1-10 and"
          f" the table's count(*) and sum(abalance) at T")
    print(f"  rounds         {rounds}, one restore at a time, each copy removed before the next; Keel first in odd rounds")
    print()
    print("  base backups (set-up, not measured here):")
    for tool in tools:
        b = B[tool]
        print(f"    {name[tool]:11s} data directory {b['datadir'] / MB:.0f} MiB, backup {b['size'] / MB:.0f} MiB, stored"
              f" {b['stored'] / MB:.0f} MiB, taken in {b['wall']:.1f} s; WAL from its start to T:"
              f" {replayed(tool, b) / MB:.0f} MiB")

    width = 52
    print()
    print(f"  {'':{width}s} " + " ".join(f"{name[t]:>10s}" for t in tools) + ("   Keel/pgBR" if len(tools) == 2 else ""))

    def row(label, f, d=1, show_ratio=True, better=""):
        vals = [mean([f(r) for r in R[t] if r]) for t in tools]
        line = f"  {label:{width}s} " + " ".join(f"{fmt(v, d):>10s}" for v in vals)
        if len(tools) == 2:
            line += f"   {ratio(*vals) if show_ratio else '':>9s}"
        print(f"{line}  {better}".rstrip())

    for i in range(rounds):
        first = "Keel first" if i % 2 == 0 else "pgBackRest first"
        row(f"round {i + 1} ({first}): wall time (s)", lambda r, i=i: r["wall"] if r["round"] == i + 1 else None)
    row("restore wall time, mean (s)", lambda r: r["wall"], better="lower is better (Keel/pgBR < 1: Keel faster)")
    row("throughput (MiB/s: (backup + WAL to T) / wall)", thr, better="higher is better")
    row("backup size (MiB)", lambda r: r["size"] / MB, 0, False)
    row("WAL replayed, backup start -> T (MiB)", lambda r: r["replayed"] / MB, 0, False)
    print("  where the time goes (s from the start, means; Keel's steps as its progress showed them, polled every 0.1 s):")
    if "keel" in tools:
        K = [r for r in R["keel"] if r]
        row("  Keel: POST answered", lambda r: r.get("post_s") if r["tool"] == "keel" else None, 2, False)
        seen = {step for r in K for step in r["steps"]}
        for step in sorted(seen, key=lambda s: mean([r["steps"].get(s) for r in K])):
            n = sum(1 for r in K if step in r["steps"])   # a step shorter than a poll can go unseen
            row(f"  Keel: step '{step}' first seen" + (f" ({n} of {len(K)} rounds)" if n < len(K) else ""),
                lambda r, s=step: r["steps"].get(s) if r["tool"] == "keel" else None, 1, False)
        row("  Keel: available", lambda r: r.get("available_s") if r["tool"] == "keel" else None, 1, False)
    if "pgbr" in tools:
        row("  pgBackRest: restore command done (files)", lambda r: r.get("restore_s") if r["tool"] == "pgbr" else None, 1, False)
        for key, _ in PG_EVENTS:
            row(f"  pgBackRest: server log '{key}'", lambda r, k=key: r["events"].get(k) if r["tool"] == "pgbr" else None, 1, False)
            if key == "consistent":
                row("  pgBackRest: first connection (hot standby)", lambda r: r.get("connect_s") if r["tool"] == "pgbr" else None,
                    1, False)
    print()
    print("Correctness (each restore against its source at T):")
    for tool in tools:
        for r in R[tool]:
            if not r:
                continue
            c = r["check"]
            verdict = "OK" if c["ok"] else "WRONG"
            print(f"  round {r['round']} {name[tool]:11s} {verdict}: markers {c['markers']} (expected 1-10);"
                  f" count {c['count']} / {c['expected_count']}, sum(abalance) {c['sum']} / {c['expected_sum']}"
                  + (f"; {c['error']}" if c.get("error") else "") + (f"; {r['stop_line']}" if r.get("stop_line") else ""))
    valid = all(r["check"]["ok"] for t in tools for r in R[t] if r)
    if "pgbr" in tools and "keel" in tools:
        k, p = mean([r["wall"] for r in R["keel"] if r]), mean([r["wall"] for r in R["pgbr"] if r])
        print()
        print(("" if valid else "NOT VALID (a restore does not match its source): ")
              + f"Keel/pgBackRest restore time: {ratio(k, p)} ({'Keel faster' if k < p else 'pgBackRest faster'});"
              f" throughput Keel {mean([thr(r) for r in R['keel'] if r]):.1f} MiB/s,"
              f" pgBackRest {mean([thr(r) for r in R['pgbr'] if r]):.1f} MiB/s")
    if not valid:
        print("!! at least one restore does not match its source at T: its time measures something else")
        sys.exit(2)


if __name__ == "__main__":
    report(sys.argv[1])
