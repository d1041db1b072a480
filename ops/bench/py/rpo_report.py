"""rpo.sh's report: acknowledged commits lost per mode (seconds, p50 and max over the rounds; counts),
each against pgBackRest's (the anchor, measured in the same run), and the CPU each WAL shipper spent
per GiB of the same load's WAL.

  rpo_report.py META_JSON LOAD_AVERAGE_AT_THE_END
"""
import json
import sys

from benchlib.core import fmt, load_result, pct, ratio

GIB = 1024 ** 3
MODES = {"keel-streaming": "keel streaming", "keel-timeout": "keel timeout", "pgbackrest": "pgBackRest"}
TARGET_LOST_S = 1.0
TARGET_CPU = 1.5


def receiver(c):
    """Keel's WAL receiver: its threads in Keel's JVM, and the walsender it keeps busy on the primary."""
    return c.get("jvm-receiver", 0) + c.get("pg-walsender", 0)


def keel_archiver(c):
    """Keel's archive_command path: the server's archiver with the script it runs, Keel's upload threads."""
    return c.get("pg-archiver", 0) + c.get("pg-archiver-children", 0) + c.get("jvm-archiver", 0)


def pgbackrest(c):
    """The server's archiver and every pgbackrest process (archive-push, its async process): from the
    pgbr-tool cgroup, which archive_command joins, when there is one (its runs are then not counted
    again as the archiver's children); else the archiver's children and the async processes seen in /proc."""
    if "pgbr-tool" in c:
        return c.get("pg-archiver", 0) + c["pgbr-tool"]
    return c.get("pg-archiver", 0) + c.get("pg-archiver-children", 0) + c.get("pgbr-async", 0)


def per_gib(rounds, part):
    wal = sum(r["wal_bytes"] for r in rounds)
    return sum(part(r["cpu"]) for r in rounds) / (wal / GIB) if wal else None


def report(meta_path, load_end):
    with open(meta_path) as f:
        meta = json.load(f)
    modes = meta["modes"].split()
    R = {m: [r for r in (load_result(f"round-{m}-r{i}") for i in range(1, int(meta["rounds"]) + 1)) if r and "lost" in r]
         for m in modes}
    print('RPO: the primary\'s host lost under pgbench load, then "latest" restored; acknowledged commits missing from the copy')
    print(f"  machine     {meta['cpus']} vCPUs, {meta['cpu_model']}; {meta['started']}; load average {meta['load_start']} at"
          f" the start, {load_end} at the end")
    print(f"  Postgres    {meta['pg_version']} for all (Keel's binaries, data checksums, TLS), Keel's settings on pgBackRest's"
          f" cluster too: archive_timeout={meta['archive_timeout']}, synchronous_commit={meta['synchronous_commit']}")
    print(f"  load        pgbench {meta['pgbench_version']}: {meta['clients']} clients, --rate {meta['rate']}/s, TPC-B-like"
          f" (scale {meta['scale']}) and one numbered insert per transaction, over TLS; acknowledged = logged by pgbench -l")
    print(f"  the kill    after {meta['load_min']} s + a uniform 0-{meta['load_spread']} s of load (seed {meta['seed']}, the same"
          f" offset for every mode of a round): SIGKILL of the primary's postmaster and all its processes, its data"
          f" directory and WAL spool removed (pgBackRest's processes too: they run on that host)")
    print(f"  modes       keel-streaming  {meta['keel_version']}, KEEL_ARCHIVE_STREAMING=true: WAL received over the"
          f" replication protocol; POST /v1/databases rollback to now")
    print("              keel-timeout    the same Keel with KEEL_ARCHIVE_STREAMING=false: archive_command and archive_timeout"
          " only (Heroku's design); rollback to now")
    print(f"              pgbackrest      {meta['pgbr_version']} archive-push, archive-async=y, process-max={meta['pgbr_process_max']},"
          " zstd 1, repository on the same S3Proxy; `restore` (latest), started until promoted: the anchor")
    print()
    anchor = R.get("pgbackrest") or []
    a_lost = [r["lost_s"] for r in anchor]
    print(f"  {'':16s} {'rounds':>6s} {'lost s p50':>10s} {'max':>7s} {'lost tx p50':>11s} {'max':>6s} {'acknowledged':>12s}"
          f"   {'lost s vs pgBackRest p50 | max':>30s}")
    for m in modes:
        rs = R[m]
        if not rs:
            print(f"  {MODES[m]:16s} {0:6d}  (no complete round)")
            continue
        lost_s, lost_n = [r["lost_s"] for r in rs], [r["lost"] for r in rs]
        vs = "" if m == "pgbackrest" or not a_lost else \
            f"{ratio(pct(lost_s, 50), pct(a_lost, 50))} | {ratio(max(lost_s), max(a_lost))}"
        print(f"  {MODES[m]:16s} {len(rs):6d} {pct(lost_s, 50):10.2f} {max(lost_s):7.2f} {pct(lost_n, 50):11.0f}"
              f" {max(lost_n):6d} {pct([r['acked'] for r in rs], 50):12.0f}   {vs:>30s}")

    print()
    print("CPU seconds per GiB of WAL written, over the load (load start -> the last WAL position read before the kill;"
          " all rounds pooled):")
    rows = (("receiver: Keel's receive threads + the walsender", receiver),
            ("archive_command path: archiver + script + Keel's uploads", keel_archiver),
            ("pgBackRest: archiver + archive-push (+ async)", pgbackrest),
            ("S3Proxy (the store, shared)", lambda c: c.get("s3proxy", 0)))
    print(f"  {'':58s} " + " ".join(f"{MODES[m]:>15s}" for m in modes))
    cost = {}
    for label, part in rows:
        cells = []
        for m in modes:
            applies = (part is pgbackrest) == (m == "pgbackrest") or label.startswith("S3Proxy")
            v = per_gib(R[m], part) if R[m] and applies else None
            cost[(m, part)] = v
            cells.append(f"{fmt(v, 2):>15s}")
        print(f"  {label:58s} " + " ".join(cells))
    wal = {m: sum(r["wal_bytes"] for r in R[m]) / 1048576 for m in modes}
    print(f"  {'WAL written (MiB, all rounds)':58s} " + " ".join(f"{wal[m]:15.1f}" for m in modes))
    rx = cost.get(("keel-streaming", receiver))
    total = None if rx is None else rx + (cost.get(("keel-streaming", keel_archiver)) or 0)
    arch = cost.get(("keel-timeout", keel_archiver))
    pgbr = cost.get(("pgbackrest", pgbackrest))
    print(f"  ratio receiver / pgBackRest {ratio(rx, pgbr)}; receiver / Keel's archiver (keel timeout) {ratio(rx, arch)};"
          f" keel streaming's receiver + archive_command path / pgBackRest {ratio(total, pgbr)};"
          f" Keel's archiver / pgBackRest {ratio(arch, pgbr)}")

    streaming = R.get("keel-streaming") or []
    if streaming:
        worst = max(r["lost_s"] for r in streaming)
        print(f"targets: <= {TARGET_LOST_S:g} s of acknowledged commits lost: keel streaming max {worst:.2f} s over"
              f" {len(streaming)} rounds: {'met' if worst <= TARGET_LOST_S else 'MISSED'};"
              f" receiver CPU <= {TARGET_CPU:g}x pgBackRest's for the same WAL: {ratio(rx, pgbr)}:"
              f" {'met' if rx is not None and pgbr and rx <= TARGET_CPU * pgbr else 'MISSED' if rx is not None and pgbr else '-'}")

    print()
    print("rounds:")
    for i in range(1, int(meta["rounds"]) + 1):
        for m in modes:
            r = load_result(f"round-{m}-r{i}")
            if not r:
                continue
            if "lost" not in r:
                print(f"  r{i} {m:15s} killed after {r['t_kill'] - r['t0']:.1f} s; not restored (the run stopped)")
                continue
            kept = "-" if r["newest_kept_age_s"] is None else f"{r['newest_kept_age_s']:.2f}"
            print(f"  r{i} {m:15s} killed after {r['t_kill'] - r['t0']:5.1f} s: {r['acked']:6d} acknowledged, {r['lost']:5d} lost"
                  f" ({r['lost_s']:6.2f} s), newest kept acknowledged {kept} s before the kill (newest acknowledged"
                  f" {r['newest_ack_age_s']:.2f} s); {r['unacknowledged_kept']} kept unacknowledged; WAL {r['wal_bytes'] / 1048576:.1f}"
                  f" MiB; restored in {r['restore_s']:.1f} s" + ("; the copy has no rpo_ack" if r["missing_table"] else ""))


if __name__ == "__main__":
    report(sys.argv[1], sys.argv[2])
