"""sync-commit.sh's samples and report: pgbench's throughput and per-transaction latency on Keel's
premium database with synchronous commit on and off, and on the floor's pair made by hand.
Each run goes to results/sample-<side>-<mode>-<workload>-<rep>.json (rep 0: the warm-up).

  sync_commit.py sample SIDE MODE WORKLOAD REP PGBENCH_OUT LOG_PREFIX SYNC_AFTER LOAD_BEFORE LOAD_AFTER
  sync_commit.py settings KEEL_URL FLOOR_URL
  sync_commit.py report RUN_S CPUS

A transaction's latency is the `time` column (microseconds) of pgbench's -l log, one file per
thread (LOG_PREFIX.<pid>[.<thread>]); the files are removed once read.
"""
import glob
import json
import os
import re

from benchlib.core import RESULTS, die, fmt, load_result, log, machine, pct, ratio, run, save
from benchlib.pg import must

SIDES = ("keel", "floor")
MODES = ("sync", "async")
WORKLOADS = {"tpcb": "pgbench's TPC-B-like default (3 updates, a select, an insert)",
             "insert": "one insert of one row per transaction"}
SETTINGS = ["shared_buffers", "max_wal_size", "min_wal_size", "checkpoint_timeout", "checkpoint_completion_target",
            "wal_level", "wal_buffers", "wal_compression", "wal_sync_method", "full_page_writes", "fsync",
            "synchronous_commit", "commit_delay", "archive_mode", "max_connections", "shared_preload_libraries",
            "ssl", "track_io_timing", "log_min_duration_statement", "log_statement", "jit", "huge_pages",
            "max_wal_senders", "wal_keep_size", "data_checksums", "server_version"]


def sample(side, mode, workload, rep, out, prefix, sync_after, load_before, load_after):
    text = open(out).read()
    tps = re.search(r"^tps = ([0-9.]+)", text, re.M)
    done = re.search(r"^number of transactions actually processed: (\d+)", text, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", text, re.M)
    if not tps or not done:
        die(f"no tps in {out}: {text[-500:]}")
    latencies, odd = [], 0
    files = sorted(glob.glob(glob.escape(prefix) + ".*"))
    if not files:
        die(f"pgbench left no transaction log at {prefix}.*")
    for path in files:
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    latencies.append(int(fields[2]) / 1000)
                else:
                    odd += 1
        os.remove(path)
    r = dict(side=side, mode=mode, workload=workload, rep=int(rep), tps=float(tps.group(1)), transactions=int(done.group(1)),
             failed=int(failed.group(1)) if failed else 0, logged=len(latencies), odd_log_lines=odd,
             p50_ms=pct(latencies, 50), p95_ms=pct(latencies, 95), p99_ms=pct(latencies, 99),
             mean_ms=sum(latencies) / len(latencies) if latencies else None,
             sync_after=sync_after, load_before=load_before, load_after=load_after)
    save(f"sample-{side}-{mode}-{workload}-{rep}", r)
    log(f"{side} {mode:5} {workload:6} {'warm-up' if rep == '0' else 'rep ' + rep}: {r['tps']:8.1f} tps, p50 {r['p50_ms']:.2f} ms,"
        f" p95 {r['p95_ms']:.2f} ms ({r['transactions']} transactions; load {load_after})")


def settings(keel_url, floor_url):
    sql = ("select name || '=' || current_setting(name) from pg_settings where name in ("
           + ", ".join(f"'{n}'" for n in SETTINGS) + ")")
    both = {}
    for side, url in (("keel", keel_url), ("floor", floor_url)):
        both[side] = dict(row.split("=", 1) for row in must(url, sql))
    save("settings", both)


def median(values):
    return pct(values, 50) if values else float("nan")


def report(run_s, cpus):
    meta = load_result("meta") or {}
    samples = []
    for path in glob.glob(os.path.join(RESULTS, "sample-*.json")):
        with open(path) as f:
            samples.append(json.load(f))
    measured = [s for s in samples if s["rep"] > 0]
    # A keel sync run during which Keel turned synchronous commit off is no sync run.
    flagged = [s for s in measured if s["side"] == "keel" and s["mode"] == "sync" and s["sync_after"] != "true"]
    kept = [s for s in measured if s not in flagged]
    m = machine()
    print(f"sync-commit.sh: {meta.get('keel', 'Keel')}, plan {meta.get('plan')} (commits wait for the {meta.get('subject', 'standby')}), Postgres {meta.get('pg_version')};"
          f" {meta.get('pgbench', 'pgbench')}")
    print(f"  -c {meta.get('clients')} -j {meta.get('threads')} -T {meta.get('duration')} s, N={meta.get('n')} per side, mode"
          f" and workload, modes alternating; TLS on both sides (verify-full); {cpus} CPUs ({m['cpu_model']})")
    loads = [float(s["load_after"].split()[0]) for s in measured]
    if loads:
        print(f"  load average (1 min) after each run: min {min(loads):.1f}, median {median(loads):.1f}, max {max(loads):.1f}")
    print()

    def of(side, mode, workload):
        return sorted((s for s in kept if (s["side"], s["mode"], s["workload"]) == (side, mode, workload)), key=lambda s: s["rep"])

    for workload, what in WORKLOADS.items():
        print(f"{workload}: {what}" + (f", scale {meta.get('scale')}" if workload == "tpcb" else ""))
        med = {}
        for side in SIDES:
            for mode in MODES:
                runs = of(side, mode, workload)
                tps = median([s["tps"] for s in runs])
                p50 = median([s["p50_ms"] for s in runs])
                p95 = median([s["p95_ms"] for s in runs])
                med[side, mode] = (tps, p50, p95)
                failed = sum(s["failed"] for s in runs)
                print(f"  {side:5} {mode:5} N={len(runs)}  {fmt(tps, 0):>7} tps   latency p50 {fmt(p50, 2):>6} ms  p95 {fmt(p95, 2):>6} ms"
                      f"   runs: {' '.join(fmt(s['tps'], 0) for s in runs)} tps" + (f"   FAILED transactions: {failed}" if failed else ""))
        for side in SIDES:
            (ts, l50s, l95s), (ta, l50a, l95a) = med[side, "sync"], med[side, "async"]
            per_rep = []
            for rep in sorted({s["rep"] for s in kept}):
                a = [s["tps"] for s in of(side, "async", workload) if s["rep"] == rep]
                b = [s["tps"] for s in of(side, "sync", workload) if s["rep"] == rep]
                if a and b:
                    per_rep.append(ratio(b[0], a[0], suffix=""))
            print(f"  {side:5} sync/async: tps {ratio(ts, ta, suffix='')}  latency p50 {ratio(l50s, l50a, suffix='')}"
                  f" p95 {ratio(l95s, l95a, suffix='')}   tps per repetition: {' '.join(per_rep)}")
        for mode in MODES:
            (tk, l50k, l95k), (tf, l50f, l95f) = med["keel", mode], med["floor", mode]
            print(f"  keel/floor {mode:5}: tps {ratio(tk, tf, suffix='')}  latency p50 {ratio(l50k, l50f, suffix='')}"
                  f" p95 {ratio(l95k, l95f, suffix='')}")
        print()
    if flagged:
        print("ODD: keel sync runs after which GET .../ha no longer said \"synchronous\": true (left out above):")
        for s in flagged:
            print(f"  {s['workload']} rep {s['rep']}: {s['tps']:.0f} tps, synchronous after the run: {s['sync_after']}")
        print()
    both = load_result("settings")
    if both:
        differ = [n for n in SETTINGS if both["keel"].get(n) != both["floor"].get(n)]
        print("Settings that differ, keel's primary | the floor's (stock) primary:")
        for n in differ:
            print(f"  {n:30} {both['keel'].get(n, '(not visible)'):>24} | {both['floor'].get(n, '(not visible)')}")
        print()
    print("Every run (warm-ups are rep 0): side mode workload rep tps p50 p95 p99 ms, transactions, load after")
    for s in sorted(samples, key=lambda s: (s["workload"], s["rep"], s["side"], s["mode"])):
        print(f"  {s['side']:5} {s['mode']:5} {s['workload']:6} {s['rep']}  {s['tps']:8.1f}  {fmt(s['p50_ms'], 2):>6} {fmt(s['p95_ms'], 2):>6}"
              f" {fmt(s['p99_ms'], 2):>6}  {s['transactions']:7}  {s['load_after']}"
              + ("" if s["side"] == "floor" else f"  synchronous after: {s['sync_after']}"))
    print(f"\nThe run took {int(run_s) // 60} min {int(run_s) % 60} s.")


if __name__ == "__main__":
    run({"sample": sample, "settings": settings, "report": report})
