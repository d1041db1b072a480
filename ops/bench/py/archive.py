"""archive.sh's measurements: a WAL load sampled every 0.25 s, both tools' base backups, the notes
from the logs. Results go to results/*.json; archive_report.py prints them.

  archive.py wal TOOL MODE ROUND URL STORE_ROOT DATA_DIR SPOOL_DIR API DB -- LOAD_CMD...
  archive.py keel-backup MODE ROUND API DB DATA_DIR BUCKET_DIR
  archive.py pgbr-backup MODE ROUND WRAPPER DATA_DIR BACKUP_DIR
  archive.py notes KEEL_LOG KEEL_PG_LOG PGBR_PG_LOG
"""
import os
import re
import subprocess
import threading
import time

from benchlib import cpu, keel, pg, pgbr
from benchlib.core import MB, WORK, die, log, lsn, run, save
from benchlib.keel import api_json, http

INTERVAL = 0.25
KEEL_PID = os.environ.get("BENCH_KEEL_PID", "")
DRAIN_TIMEOUT = float(os.environ.get("DRAIN_TIMEOUT", "600"))
IDLE_TIMEOUT = float(os.environ.get("IDLE_TIMEOUT", "300"))
ARCHIVE_POLL = float(os.environ.get("ARCHIVE_POLL", "1"))
GROUPS = ("keel", "pgbr-pg", "pgbr-tool", "s3proxy")


# --- CPU: cpuacct cgroups, and Keel's JVM by itself -----------------------------------------------

def cpu_snapshot():
    snap = cpu.cgroups(GROUPS)
    if KEEL_PID:
        jvm = cpu.process(KEEL_PID)
        if jvm is not None:
            snap["keel-jvm"] = jvm
    return snap


def cpu_delta(a, b):
    d = {k: b[k] - a[k] for k in b if k in a}
    if "keel" in d and "keel-jvm" in d:
        d["keel-postgres"] = d["keel"] - d["keel-jvm"]   # its catalog and instance servers, archive_command
    return d


# --- the object store, as S3Proxy's files ---------------------------------------------------------

# Keel: <db>/wal/<segment>.zst; pgBackRest: pgbackrest/archive/bench/15-1/<16 hex>/<segment>-<sha1>.zst.
# S3Proxy writes each object to "<name>-<uuid>" and renames it, so a name that matches is whole.
OBJECT = re.compile(r"^([0-9A-F]{24})(?:-[0-9a-f]{40})?\.zst$")


def stored(root):
    found = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            m = OBJECT.match(f)
            if m and m.group(1).startswith("00000001"):
                try:
                    found[m.group(1)] = os.stat(os.path.join(dirpath, f)).st_size
                except FileNotFoundError:
                    pass
    return found


STATUS = re.compile(r"^(00000001[0-9A-F]{16})\.(ready|done)$")


def wal(tool, mode, round_, url, store_root, data_dir, spool_dir, api, db, load_cmd):
    """One load, sampled; writes results/wal-<tool>-<mode>-r<round>.json."""
    psql = pg.Psql(url, f"{tool}-{mode}")
    seg = int(psql.value("select pg_size_bytes(current_setting('wal_segment_size'))"))
    per_id = 0x100000000 // seg
    num = lambda name: int(name[8:16], 16) * per_id + int(name[16:24], 16)
    status_dir = os.path.join(data_dir, "pg_wal", "archive_status")

    def store():
        return {num(n): size for n, size in stored(store_root).items()}

    def archive_status():
        ready, done = 0, []
        for n in os.listdir(status_dir):
            m = STATUS.match(n)
            if m:
                if m.group(2) == "ready":
                    ready += 1
                else:
                    done.append(num(m.group(1)))
        return ready, done

    def spool():
        if spool_dir == "-":
            return []
        return [num(n) for n in os.listdir(spool_dir) if re.match(r"^00000001[0-9A-F]{16}$", n)]

    # Not timed: wait until everything finished before is archived (nothing ready, spool empty).
    deadline = time.time() + IDLE_TIMEOUT
    while True:
        cur = lsn(psql.value("select pg_current_wal_lsn()"))
        ready, _ = archive_status()
        st = store()
        if ready == 0 and not spool() and st and max(st) >= cur // seg - 1:
            break
        if time.time() > deadline:
            die(f"{tool}: archiving is not idle after {IDLE_TIMEOUT:.0f} s before the {mode} load "
                f"({ready} segments ready, {len(spool())} in the spool, newest stored {max(st) if st else None}, at {cur // seg})")
        time.sleep(0.5)

    failed0 = int(psql.value("select failed_count from pg_stat_archiver"))
    start = lsn(psql.value("select pg_current_wal_lsn()"))
    first = start // seg
    seen_store, seen_done, seen_spool = {}, {}, {}
    samples = []            # (t, write lsn, contiguous segment, newest segment, .ready count, spool count)
    polls = []              # Keel's /archive: (t sent, t answered, body)
    ended = {}
    stop = threading.Event()

    def poll_archive():
        while not stop.is_set():
            t = time.time()
            code, body = http("GET", f"{api}/v1/databases/{db}/archive", timeout=30)
            polls.append((t, time.time(), body if code == 200 else {"error": code, "body": body}))
            stop.wait(max(0.0, ARCHIVE_POLL - (time.time() - t)))

    cpu0 = cpu_snapshot()
    t0 = time.time()
    out = open(os.path.join(WORK, f"pgbench-{tool}-{mode}-r{round_}.log"), "w")
    load = subprocess.Popen(load_cmd, stdout=out, stderr=subprocess.STDOUT)

    def waiter():
        load.wait()
        ended["t"] = time.time()
    threading.Thread(target=waiter, daemon=True).start()
    poller = None
    if api != "-" and ARCHIVE_POLL > 0:
        poller = threading.Thread(target=poll_archive, daemon=True)
        poller.start()
    samples.append((t0, start, first - 1, first - 1, 0, 0))
    t_end = end = last = None
    cpu_end = None
    timed_out = False
    while True:
        t = time.time()
        cur = lsn(psql.value("select pg_current_wal_lsn()"))
        st = store()
        for n in st:
            if n >= first:
                seen_store.setdefault(n, t)
        ready, done = archive_status()
        for n in done:
            if n >= first:
                seen_done.setdefault(n, t)
        sp = spool()
        for n in sp:
            if n >= first:
                seen_spool.setdefault(n, t)
        contig = first - 1
        while contig + 1 in seen_store:
            contig += 1
        newest = max(seen_store) if seen_store else first - 1
        samples.append((t, cur, contig, newest, ready, len(sp)))
        if t_end is None and "t" in ended:
            t_end = ended["t"]
            cpu_end = cpu_snapshot()
            end = lsn(psql.value("select pg_current_wal_lsn()"))
            last = end // seg - 1
            if load.returncode != 0:
                die(f"the {mode} load on {tool} failed (exit {load.returncode}); see {out.name}")
            if last < first:
                die(f"the {mode} load wrote less than one segment")
            log(f"{tool} {mode}: load done in {t_end - t0:.1f} s ({(end - start) / MB:.0f} MiB of WAL); "
                f"waiting until segments {first}..{last} are in the store")
        if t_end is not None and contig >= last:
            break
        if t_end is not None and time.time() - t_end > DRAIN_TIMEOUT:
            timed_out = True
            break
        time.sleep(max(0.0, INTERVAL - (time.time() - t)))
    cpu1 = cpu_snapshot()
    stop.set()
    if poller:
        poller.join(35)
    failed1 = int(psql.value("select failed_count from pg_stat_archiver"))
    psql.close()
    final = store()

    def passed(boundary):
        """When the write position reached boundary, interpolated between samples."""
        prev = None
        for t, cur, *_ in samples:
            if cur >= boundary:
                if prev is None or prev[1] >= boundary or cur == prev[1]:
                    return t
                return prev[0] + (t - prev[0]) * (boundary - prev[1]) / (cur - prev[1])
            prev = (t, cur)
        return None

    segments = range(first, last + 1)
    completed = {n: passed((n + 1) * seg) for n in segments}
    lat_store = [seen_store[n] - completed[n] for n in segments if n in seen_store and completed[n]]
    lat_done = [seen_done[n] - completed[n] for n in segments if n in seen_done and completed[n]]
    lat_spool = [seen_spool[n] - completed[n] for n in segments if n in seen_spool and completed[n]]
    during = [s for s in samples[1:] if s[0] <= t_end]
    lag = [s[1] - (s[2] + 1) * seg for s in during]
    t_all = None if timed_out else max(seen_store[n] for n in segments)
    result = dict(
        tool=tool, mode=mode, seg=seg, first=first, last=last, start=start, end=end, t0=t0, t_end=t_end, t_all=t_all,
        timed_out=timed_out, wal_written=end - start, load_s=t_end - t0, archived_bytes=(last + 1) * seg - start,
        archive_s=None if timed_out else t_all - t0, drain_s=None if timed_out else max(0.0, t_all - t_end),
        segments=len(segments), in_store=sum(1 for n in segments if n in seen_store),
        raw_bytes=len(segments) * seg, stored_bytes=sum(final.get(n, 0) for n in segments),
        archived_during_load=sum(1 for n in segments if n in seen_store and seen_store[n] <= t_end),
        lag=lag, lag_at_end=lag[-1] if lag else None, lat_store=lat_store, lat_done=lat_done, lat_spool=lat_spool,
        peak_ready=max(s[4] for s in samples), peak_spool=max(s[5] for s in samples),
        failed_count=failed1 - failed0, cpu_load=cpu_delta(cpu0, cpu_end), cpu=cpu_delta(cpu0, cpu1),
    )
    if poller:
        result["archive_api"] = check_archive_polls(polls, samples, num, first)
    save(f"wal-{tool}-{mode}-r{round_}", result)
    log(f"{tool} {mode}: {result['in_store']}/{len(segments)} segments in the store"
        + (f", {result['drain_s']:.1f} s after the load" if not timed_out else f" after {DRAIN_TIMEOUT:.0f} s: TIMED OUT"))


def check_archive_polls(polls, samples, num, first):
    """What Keel's /archive said during the run, against what the store held.

    Objects only ever appear, so a segment missing from the store in a sample taken after an answer
    was missing when Keel answered: if that answer's newest_segment lies above it, lag_bytes (the
    server's position minus the end of newest_segment) left out at least the WAL from the missing
    segment up, and a restore could not reach newest_segment yet.
    """
    def sample_after(t):
        for s in samples:
            if s[0] >= t:
                return s
        return samples[-1]
    out = dict(polls=len(polls), errors=[], response_ms=[], statuses={}, beyond_gap=0, beyond_gap_max_segments=0,
               with_gaps=0, lag_seconds_max=0, waiting_files_max=0, raw=[])
    for sent, answered, body in polls:
        out["response_ms"].append((answered - sent) * 1000)
        if "error" in body:
            out["errors"].append(body)
            continue
        out["statuses"][body.get("status")] = out["statuses"].get(body.get("status"), 0) + 1
        out["lag_seconds_max"] = max(out["lag_seconds_max"], body.get("lag_seconds") or 0)
        out["waiting_files_max"] = max(out["waiting_files_max"], body.get("waiting_files") or 0)
        if body.get("gaps"):
            out["with_gaps"] += 1
        newest = body.get("newest_segment")
        contig = sample_after(answered)[2]
        if newest and num(newest) >= first and num(newest) > contig:
            out["beyond_gap"] += 1
            out["beyond_gap_max_segments"] = max(out["beyond_gap_max_segments"], num(newest) - contig)
        out["raw"].append(dict(t=answered, newest=newest, contiguous_after=contig, lag_bytes=body.get("lag_bytes"),
                               waiting=body.get("waiting_files"), gaps=body.get("gaps")))
    return out


# --- base backups ---------------------------------------------------------------------------------

def keel_backup(mode, round_, api, db, data_dir, bucket_dir):
    steps = {}

    def step(posted, t0):
        op = api_json(f"{api}/v1/operations/{posted['operation_id']}")
        steps.setdefault(op.get("step") or "-", time.time() - t0)
    b, t0, t1, (size, cpu0) = keel.backup(api, db, 0.1, before=lambda: (pg.datadir_size(data_dir), cpu_snapshot()), each=step)
    cpu1 = cpu_snapshot()
    copy_at = steps.get("copying files")
    wait_at = steps.get("waiting for WAL to be archived")
    wall = t1 - t0
    split = {}
    if copy_at is not None:
        if wait_at is None:   # the wait was shorter than a poll
            wait_at = wall
        split = {"start (checkpoint)": copy_at, "copy files + stop": wait_at - copy_at, "wait for WAL": wall - wait_at,
                 "finish": 0.0}
    save(f"backup-keel-{mode}-r{round_}", dict(tool="keel", mode=mode, datadir=size, wall=wall, size=b["size_bytes"],
                                     stored=b["stored_bytes"], split=split, steps=steps, cpu=cpu_delta(cpu0, cpu1),
                                     objects=pg.objects(os.path.join(bucket_dir, db, "backups", b["id"]))))
    log(f"keel {mode}: backup of {size / MB:.0f} MiB in {wall:.1f} s")


STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) P00\s+\w+: (.*)$")


def pgbr_backup(mode, round_, wrapper, data_dir, backup_dir):
    size = pg.datadir_size(data_dir)
    cpu0 = cpu_snapshot()
    t0, t1, console = pgbr.backup(wrapper, os.path.join(WORK, f"pgbackrest-backup-{mode}-r{round_}.log"))
    cpu1 = cpu_snapshot()
    marks = {}
    for line in console.splitlines():
        m = STAMP.match(line)
        if not m:
            continue
        when = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000 - t0
        text = m.group(3)
        for key, prefix in (("started", "backup start archive"), ("stopping", "execute non-exclusive backup stop"),
                            ("labelled", "new backup label"), ("backup_end", "backup command end")):
            if text.startswith(prefix):
                marks.setdefault(key, when)
    wall = t1 - t0
    split = {}
    if all(k in marks for k in ("started", "stopping", "labelled")):
        split = {"start (checkpoint)": marks["started"], "copy files + stop": marks["stopping"] - marks["started"],
                 "wait for WAL": marks["labelled"] - marks["stopping"], "finish": wall - marks["labelled"]}
    b = pgbr.latest(wrapper)
    save(f"backup-pgbr-{mode}-r{round_}", dict(tool="pgbr", mode=mode, datadir=size, wall=wall, size=b["info"]["size"],
                                     stored=b["info"]["repository"]["delta"], split=split, marks=marks,
                                     label=b["label"], cpu=cpu_delta(cpu0, cpu1),
                                     objects=pg.objects(os.path.join(backup_dir, b["label"]))))
    log(f"pgbr {mode}: backup of {size / MB:.0f} MiB in {wall:.1f} s")


# --- what the logs say: warnings and errors of Keel, archive_command failures of the servers ------

def notes(keel_log, keel_pg, pgbr_pg):
    lines = []
    counts = {}
    samples = {}
    for line in open(keel_log, errors="replace"):
        m = re.match(r"^\d\d:\d\d:\d\d\.\d{3} (WARN|ERROR)\s+(\S+) - (.*)", line)
        if m:
            key = (m.group(1), m.group(2), re.sub(r"[0-9A-F]{24}|[0-9a-f-]{36}|\d+", "#", m.group(3))[:120])
            counts[key] = counts.get(key, 0) + 1
            samples.setdefault(key, line.strip()[:300])
    if not counts:
        lines.append("Keel: no WARN or ERROR lines")
    for key, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        lines.append(f"Keel {n}x: {samples[key]}")
    for name, path in (("Keel's server", keel_pg), ("pgBackRest's server", pgbr_pg)):
        text = open(path, errors="replace").read()
        failed = len(re.findall(r"archive command failed", text))
        spool_full = len(re.findall(r"keel-archive: \d+ WAL files wait", text))
        lines.append(f"{name}: {failed} 'archive command failed' lines" + (f" ({spool_full} of them: Keel's spool full)" if spool_full else ""))
    save("notes", dict(lines=lines))


if __name__ == "__main__":
    run({"wal": wal, "keel-backup": keel_backup, "pgbr-backup": pgbr_backup, "notes": notes})
