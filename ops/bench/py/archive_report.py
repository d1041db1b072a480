"""archive.sh's report: the results archive.py saved, Keel beside pgBackRest, means over the rounds.

  archive_report.py META_JSON
"""
import json
import os
import sys

from benchlib.core import MB, clean, fmt, load_result, mean, pct, ratio

DRAIN_TIMEOUT = float(os.environ.get("DRAIN_TIMEOUT", "600"))
ARCHIVE_POLL = float(os.environ.get("ARCHIVE_POLL", "1"))


def report(meta_path):
    with open(meta_path) as f:
        meta = json.load(f)
    rounds = int(meta["rounds"])
    st = load_result("settings")

    def results(kind, tool, mode):
        return [r for r in (load_result(f"{kind}-{tool}-{mode}-r{i}") for i in range(1, rounds + 1)) if r]

    each = lambda x: (lambda rs: mean([x(r) for r in rs]))                 # mean over rounds
    pooled = lambda key, stat: (lambda rs: stat(clean(sum((r[key] for r in rs), []))))   # all rounds' samples
    p50 = lambda v: pct(v, 50) if v else None
    p90 = lambda v: pct(v, 90) if v else None
    tool_cpu = lambda r: r["cpu"].get("keel-jvm" if r["tool"] == "keel" else "pgbr-tool")
    pg_cpu = lambda r: r["cpu"].get("keel-postgres" if r["tool"] == "keel" else "pgbr-pg")
    top = lambda v: max(v) if v else None
    width = 56

    class Table:
        def __init__(self, title, keel, pgbr):
            self.k, self.p = keel, pgbr
            print()
            print(title)
            print(f"  {'':{width}s} {'Keel':>9s} {'pgBackRest':>10s} {'Keel/pgBR':>9s}  {'per round':<{6 * rounds}s}")

        def row(self, label, f, better="", d=1, show_ratio=True):
            k, p = f(self.k), f(self.p)
            per = ""
            if show_ratio and len(self.k) == len(self.p) > 1:
                per = " ".join(f"{ratio(f([a]), f([b])):>5s}" for a, b in zip(self.k, self.p))
            print(f"  {label:{width}s} {fmt(k, d):>9s} {fmt(p, d):>10s} {ratio(k, p) if show_ratio else '':>9s}  "
                  f"{per:<{6 * rounds}s}  {better}".rstrip())

    found = st["found"]["keel"]
    print("Keel vs pgBackRest: WAL archiving and base backups, one run, one S3 server")
    print(f"  machine        {meta['cpus']} vCPUs, {meta['cpu_model']}; {meta['started']}")
    print(f"  S3             one S3Proxy 2.6.0 (filesystem-nio2 under /tmp); Keel over {meta['keel_s3']}, pgBackRest over https;"
          f" buckets {meta['keel_bucket']} / {meta['pgbr_bucket']}")
    print(f"  Postgres       {found.get('server_version')} for both (Keel's binaries), data checksums, TLS; the same settings: "
          + ", ".join(f"{n}={found.get(n)}" for n in ("shared_buffers", "max_wal_size", "checkpoint_timeout", "archive_timeout",
                                                      "wal_compression", "synchronous_commit")))
    print(f"  Keel           {meta['keel_version']}: WAL zstd level 1, 4 upload threads; backups zstd level 3, 2 workers")
    print(f"  pgBackRest     {meta['pgbr_version']}: archive-async=y, process-max={meta['pgbr_process_max']}, compress-type=zst"
          f" (level 1 for archive-push, 3 for backup), start-fast=y, other options default (5 MiB upload chunks)")
    print(f"  load           pgbench {meta['pgbench_version']}, 1 client over TLS: {meta['transactions']} transactions of"
          f" ~{meta['tx_mb']} MiB of WAL ({meta['load_mb']} MiB nominal) per tool, mode and round"
          + (f", --rate {meta['load_rate']}" if meta.get("load_rate") else ", unthrottled"))
    print(f"                 cmp: {meta['cmp_rows']} pgbench_accounts-like rows per transaction (compressible)")
    print(f"                 rnd: {meta['rnd_rows']} rows of 1 KiB of sha256 output per transaction (incompressible)")
    print(f"  rounds         {rounds}; each recreates the tables, then per mode: both WAL loads, then both backups, one"
          f" tool at a time; Keel goes first in odd rounds, pgBackRest in even ones")
    print("  figures        means over the rounds (percentiles and maxima: over every round's samples);"
          " 'per round': each round's Keel/pgBR")

    for mode, title in (("cmp", "compressible"), ("rnd", "incompressible")):
        K, P = results("wal", "keel", mode), results("wal", "pgbr", mode)
        if not K or not P:
            continue
        t = Table(f"WAL archiving, {title} ({mode}): {each(lambda r: r['wal_written'] / MB)(K):.0f} / "
                  f"{each(lambda r: r['wal_written'] / MB)(P):.0f} MiB of WAL per load, {K[0]['segments']} / "
                  f"{P[0]['segments']} finished segments", K, P)
        t.row("load duration (s)", each(lambda r: r["load_s"]), "(the same load on both)")
        t.row("write rate (MiB/s of WAL)", each(lambda r: r["wal_written"] / MB / r["load_s"]),
              "higher: archiving held the load back less")
        t.row("archive throughput (MiB/s: load start -> all in store)",
              each(lambda r: None if r["timed_out"] else r["archived_bytes"] / MB / r["archive_s"]), "higher is better")
        t.row("segments in the store when the load ended (%)",
              each(lambda r: 100 * r["archived_during_load"] / r["segments"]), "higher is better", 0)
        t.row("lag while loading, p50 (MiB)", lambda rs: (pooled("lag", p50)(rs) or 0) / MB, "lower is better")
        t.row("lag while loading, p90 (MiB)", lambda rs: (pooled("lag", p90)(rs) or 0) / MB, "lower is better")
        t.row("lag while loading, max (MiB)", lambda rs: (pooled("lag", top)(rs) or 0) / MB, "lower is better")
        t.row("segment finished -> in store, p50 (s)", pooled("lat_store", p50), "lower is better", 2)
        t.row("segment finished -> in store, p90 (s)", pooled("lat_store", p90), "lower is better", 2)
        t.row("segment finished -> in store, max (s)", pooled("lat_store", top), "lower is better", 2)
        t.row("drain: load end -> every finished segment in store (s)", each(lambda r: r["drain_s"]), "lower is better", 2)
        t.row("stored per load (MiB)", each(lambda r: r["stored_bytes"] / MB), "")
        t.row("compression ratio (16 MiB segments / stored)", each(lambda r: r["raw_bytes"] / max(1, r["stored_bytes"])),
              "", 1, False)
        for r in K + P:
            if r["timed_out"]:
                print(f"  !! {r['tool']}: only {r['in_store']}/{r['segments']} segments in the store {DRAIN_TIMEOUT:.0f} s after a load")
        print("  where the time goes:")
        t.row("  finished -> handed off (.done), p50 (s)", pooled("lat_done", p50), "", 2, False)
        t.row("  finished -> handed off (.done), max (s)", pooled("lat_done", top), "", 2, False)
        t.row("  finished -> in Keel's spool, p50 | max (s)", lambda rs: pooled("lat_spool", p50)(rs) if rs is K else
              pooled("lat_spool", top)(K), "(Keel only: p50 | max)", 2, False)
        t.row("  most segments waiting for archive_command (.ready)", lambda rs: max(r["peak_ready"] for r in rs), "", 0, False)
        t.row("  most files in Keel's spool", lambda rs: max(r["peak_spool"] for r in rs) if rs is K else None, "", 0, False)
        t.row("  archive_command failures (pg_stat_archiver)", lambda rs: sum(r["failed_count"] for r in rs), "", 0, False)
        if K[0]["cpu"]:
            print("  CPU seconds per load, load start -> all in store:")
            t.row("  the tool (Keel's JVM | pgbackrest processes)",
                  each(tool_cpu), "lower is better")
            t.row("  its Postgres (Keel's also: catalog, archive_command)",
                  each(pg_cpu), "")
            t.row("  S3Proxy", each(lambda r: r["cpu"].get("s3proxy")), "")
            t.row("  tool + S3Proxy per GiB of WAL archived",
                  each(lambda r: ((tool_cpu(r) or 0) + r["cpu"].get("s3proxy", 0)) / (r["archived_bytes"] / 1024 / MB)),
                  "lower is better")
        polls = [r["archive_api"] for r in K if r.get("archive_api")]
        if polls:
            ms = sum((a["response_ms"] for a in polls), [])
            statuses = {}
            for a in polls:
                for k_, v_ in a["statuses"].items():
                    statuses[k_] = statuses.get(k_, 0) + v_
            print(f"  Keel's /archive, polled every {ARCHIVE_POLL:g} s during its loads: {len(ms)} answers in"
                  f" p50 {pct(ms, 50):.0f} ms, max {max(ms, default=0):.0f} ms; status {statuses};"
                  f" max lag_seconds {max(a['lag_seconds_max'] for a in polls)}, max waiting_files {max(a['waiting_files_max'] for a in polls)}")
            beyond = sum(a["beyond_gap"] for a in polls)
            most = max(a["beyond_gap_max_segments"] for a in polls)
            print(f"      answers whose newest_segment lay above a segment not yet in the store (so lag_bytes left out"
                  f" >= that much WAL): {beyond} (by up to {most} segments = {most * K[0]['seg'] / MB:.0f} MiB);"
                  f" answers listing gaps: {sum(a['with_gaps'] for a in polls)}")
            errors = sum((a["errors"] for a in polls), [])
            if errors:
                print(f"      errors: {errors[:3]}")

    for mode, title in (("cmp", "compressible"), ("rnd", "incompressible")):
        K, P = results("backup", "keel", mode), results("backup", "pgbr", mode)
        if not K or not P:
            continue
        t = Table(f"Base backup, {title} ({mode}): data directory {each(lambda r: r['datadir'] / MB)(K):.0f} / "
                  f"{each(lambda r: r['datadir'] / MB)(P):.0f} MiB (the files a backup copies)", K, P)
        t.row("wall time (s)", each(lambda r: r["wall"]), "lower is better")
        t.row("throughput (MiB/s of data directory)", each(lambda r: r["datadir"] / MB / r["wall"]), "higher is better")
        t.row("size the tool reports (MiB)", each(lambda r: r["size"] / MB), "")
        t.row("stored (MiB)", each(lambda r: r["stored"] / MB), "lower is better")
        t.row("compression ratio (size / stored)", each(lambda r: r["size"] / max(1, r["stored"])), "", 1, False)
        t.row("objects written to the store", each(lambda r: r["objects"]), "", 0, False)
        if all(r["split"] for r in K + P):
            print("  where the time goes (s):")
            for step in K[0]["split"]:
                t.row(f"  {step}", each(lambda r: r["split"].get(step)), "", 2, False)
        if K[0]["cpu"]:
            print("  CPU seconds per backup:")
            t.row("  the tool (Keel's JVM | pgbackrest processes)",
                  each(tool_cpu), "lower is better")
            t.row("  its Postgres (Keel's also: catalog)", each(pg_cpu), "")
            t.row("  S3Proxy", each(lambda r: r["cpu"].get("s3proxy")), "")

    # Keel's side does not stop while pgBackRest is measured: what did it cost then, idle?
    idle = [(r["cpu"].get("keel"), r["archive_s"]) for r in sum((results("wal", "pgbr", m) for m in ("cmp", "rnd")), [])
            if r["cpu"].get("keel") is not None and r.get("archive_s")]
    if idle:
        used, seconds = sum(c for c, _ in idle), sum(t_ for _, t_ in idle)
        print()
        print(f"Idle Keel (its JVM, catalog and instance; no load on them) while pgBackRest's WAL loads ran: {used:.1f} CPU s"
              f" in {seconds:.0f} s ({100 * used / seconds:.1f}% of one CPU); pgBackRest's idle cluster is counted the same way"
              f" in Keel's phases: " + "{:.1f} CPU s".format(sum(r["cpu"].get("pgbr-pg", 0) + r["cpu"].get("pgbr-tool", 0)
                                                                  for m in ("cmp", "rnd") for r in results("wal", "keel", m))))

    notes = load_result("notes")
    if notes:
        print()
        print("Logs during the run:")
        for line in notes["lines"]:
            print(f"  {line}")


if __name__ == "__main__":
    report(sys.argv[1])
