"""rpo.sh's measurements: the primary's host lost under pgbench load, then "latest" restored, and the
acknowledged transactions counted against what the copy holds; the CPU each WAL shipper spent on the
same load. Results go to results/round-<mode>-r<round>.json; rpo_report.py prints them.

  rpo.py idle MODE URL API DB PGBR_CONF
  rpo.py load MODE ROUND URL POSTMASTER DATA_DIR SPOOL_DIR OFFSET_MS PGBR_CONF -- PGBENCH...
  rpo.py keel-restore MODE ROUND API DB
  rpo.py count MODE ROUND URL RESTORE_T0

Acknowledged: every transaction pgbench logged as completed (-l: it logs a transaction once its
COMMIT answered). Each inserts (client, seq) into rpo_ack, seq counting that client's transactions
from 1 (-D seq=0, \\set seq :seq + 1), which is the log's transaction number, so the log says which
rows a copy must hold and when each was acknowledged.
"""
import glob
import os
import shutil
import signal
import subprocess
import threading
import time

from benchlib import cpu
from benchlib.core import WORK, die, load_result, log, lsn, run, save, utc
from benchlib.keel import api_json, http
from benchlib.pg import LAST_ERROR, Psql, query

KEEL_PID = os.environ.get("BENCH_KEEL_PID", "")
S3_PID = os.environ.get("BENCH_S3_PID", "")
RESTORE_TIMEOUT = float(os.environ.get("RESTORE_TIMEOUT", "900"))
# Keel's threads, by the names the kernel keeps (15 characters): the receiver (one per primary, its
# supervisor, the segments completed behind it) and the archiver (archive_command's spool uploads).
RECEIVER = ("keel-wal-receiv", "keel-wal-comple")
ARCHIVER = ("keel-wal-upload", "keel-wal-scan")


def result_name(mode, round_):
    return f"round-{mode}-r{round_}"


# --- waiting until nothing is left to archive before a load --------------------------------------

def pgbr_processes(conf):
    """{pid: command line} of pgbackrest processes of this configuration."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "pgbackrest" in cmd and f"--config={conf}" in cmd:
            found[int(pid)] = cmd
    return found


def idle(mode, url, api, db, pgbr_conf):
    """Until every finished segment is archived (and Keel's spool empty, or pgBackRest's async push gone)."""
    psql = Psql(url, f"idle-{mode}")
    seg = int(psql.value("select pg_size_bytes(current_setting('wal_segment_size'))"))
    deadline = time.time() + 300
    while True:
        current, archived = psql.value("select pg_walfile_name(pg_current_wal_lsn()) || '|' ||"
                                       " coalesce(last_archived_wal, '') from pg_stat_archiver").split("|")
        number = lambda name: int(name[8:16], 16) * (0x100000000 // seg) + int(name[16:24], 16)
        done = bool(archived) and number(archived) >= number(current) - 1
        if done and mode == "pgbackrest":
            done = not any("archive-push:async" in cmd for cmd in pgbr_processes(pgbr_conf).values())
        elif done:
            done = (api_json(f"{api}/v1/databases/{db}/archive").get("waiting_files") or 0) == 0
        if done:
            break
        if time.time() > deadline:
            die(f"{mode}: archiving not idle after 300 s (server at {current}, last archived {archived or 'none'})")
        time.sleep(0.5)
    psql.close()
    time.sleep(2)


# --- CPU: Keel's threads, the primary's walsender and archiver, pgBackRest, S3Proxy ---------------

def snapshot(postmaster, async_seen):
    """CPU seconds so far of each part that ships WAL (what a later snapshot is compared with)."""
    snap = dict.fromkeys(("jvm-receiver", "jvm-archiver", "jvm-other", "pg-walsender", "pg-archiver",
                          "pg-archiver-children"), 0.0)
    if KEEL_PID:
        for name, seconds in cpu.threads(KEEL_PID).values():
            kind = "receiver" if name.startswith(RECEIVER) else "archiver" if name.startswith(ARCHIVER) else "other"
            snap[f"jvm-{kind}"] += seconds
    for pid, cmd in cpu.children(postmaster).items():
        s = cpu.stat(pid)
        if s and "walsender" in cmd:
            snap["pg-walsender"] += s[2]
        elif s and "archiver" in cmd:
            snap["pg-archiver"] += s[2]
            snap["pg-archiver-children"] += s[3]   # archive_command's runs, once reaped
    snap.update(cpu.cgroups(["pgbr-tool", "s3proxy"]))
    if "s3proxy" not in snap and S3_PID:
        snap["s3proxy"] = cpu.process(S3_PID) or 0.0
    snap["pgbr-async"] = sum(async_seen.values())
    snap["t"] = time.time()
    return snap


def watch_async(conf, seen, stop):
    """Without cgroups: pgBackRest's async archive-push outlives archive_command (its CPU is nobody's
    child's), so its processes are read every 0.2 s, each at the most CPU seen (a little of the last
    0.2 s of each is missed)."""
    while not stop.is_set():
        for pid, cmd in pgbr_processes(conf).items():
            if "archive-push:async" in cmd:
                seconds = cpu.process(pid)
                if seconds is not None:
                    seen[pid] = max(seen.get(pid, 0.0), seconds)
        stop.wait(0.2)


# --- the load, the kill, the acknowledged transactions --------------------------------------------

def kill_host(postmaster, data_dir, spool_dir, pgbr_conf):
    """What losing the primary's host takes: its Postgres (the postmaster stopped first so it forks
    nothing more, then every process of it killed), pgBackRest's processes, the data directory and
    the WAL spool. Returns the time of the kill."""
    os.kill(postmaster, signal.SIGSTOP)
    victims = [postmaster] + list(cpu.children(postmaster))
    if pgbr_conf != "-":
        victims += list(pgbr_processes(pgbr_conf))
    t_kill = time.time()
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(data_dir)
    if spool_dir != "-":
        shutil.rmtree(spool_dir, ignore_errors=True)
    return t_kill


def acknowledged(prefix):
    """{client: [(seq, epoch seconds acknowledged)]} from pgbench's per-transaction logs."""
    acks = {}
    for path in glob.glob(prefix + ".*"):
        with open(path) as f:
            for line in f:
                fields = line.split()
                if len(fields) < 6 or not fields[2].isdigit():
                    continue   # "failed" or "skipped" transactions were not acknowledged
                acks.setdefault(int(fields[0]), []).append((int(fields[1]), int(fields[4]) + int(fields[5]) / 1e6))
    return acks


def load(mode, round_, url, postmaster, data_dir, spool_dir, offset_ms, pgbr_conf, pgbench):
    round_, postmaster, offset = int(round_), int(postmaster), int(offset_ms) / 1000
    psql = Psql(url, f"load-{mode}-r{round_}")
    async_seen, stop = {}, threading.Event()
    if mode == "pgbackrest" and not cpu.CG:
        threading.Thread(target=watch_async, args=(pgbr_conf, async_seen, stop), daemon=True).start()
    lsn0 = lsn(psql.value("select pg_current_wal_lsn()"))
    cpu0 = snapshot(postmaster, async_seen)
    prefix = os.path.join(WORK, f"pgbench-{mode}-r{round_}-tx")   # pgbench -l writes <prefix>.<pid>[.<thread>]
    out = open(os.path.join(WORK, f"pgbench-{mode}-r{round_}.log"), "w")
    t0 = time.time()
    bench = subprocess.Popen(pgbench + [f"--log-prefix={prefix}"], stdout=out, stderr=subprocess.STDOUT)
    while time.time() < t0 + offset:
        if bench.poll() is not None:
            die(f"{mode} round {round_}: pgbench ended before the kill (exit {bench.returncode}); see {out.name}")
        time.sleep(min(0.05, max(0.0, t0 + offset - time.time())))
    lsn1 = lsn(psql.value("select pg_current_wal_lsn()"))   # the last WAL position seen, and the CPU then
    cpu1 = snapshot(postmaster, async_seen)
    t_kill = kill_host(postmaster, data_dir, spool_dir, pgbr_conf)
    stop.set()
    psql.proc.kill()
    try:
        code = bench.wait(60)   # every client fails on its next statement, and pgbench writes its logs out
    except subprocess.TimeoutExpired:
        bench.kill()
        die(f"{mode} round {round_}: pgbench still running 60 s after the kill (its logs are incomplete)")
    acks = acknowledged(prefix)
    if not acks:
        die(f"{mode} round {round_}: pgbench logged no transaction; see {out.name}")
    cpu_used = {k: cpu1[k] - cpu0[k] for k in cpu1 if k in cpu0 and k != "t"}
    save(result_name(mode, round_), dict(
        mode=mode, round=round_, offset_s=offset, t0=t0, t_kill=t_kill, pgbench_exit=code,
        wal_bytes=lsn1 - lsn0, window_s=cpu1["t"] - cpu0["t"], cpu=cpu_used,
        acks={str(c): v for c, v in acks.items()}))
    log(f"{mode} round {round_}: killed after {t_kill - t0:.1f} s; {sum(map(len, acks.values()))} transactions"
        f" acknowledged, {(lsn1 - lsn0) / 1048576:.1f} MiB of WAL")


# --- the restored copy ----------------------------------------------------------------------------

def keel_restore(mode, round_, api, db):
    """Rollback to now through Keel's API (the source's server is gone: its newest archived WAL)."""
    t0 = time.time()
    to = utc(t0, "%Y-%m-%dT%H:%M:%S.") + f"{int(t0 * 1000) % 1000:03d}Z"
    code, copy = http("POST", f"{api}/v1/databases", {"plan": "standard-0", "rollback": db, "to": to})
    if code != 202 or not isinstance(copy, dict) or "id" not in copy:
        die(f"{mode} round {round_}: the rollback of {db} to {to} answered {code}: {copy}")
    while copy.get("state") != "available":
        if copy.get("state") not in ("creating", None):
            die(f"{mode} round {round_}: the rollback {copy['id']} is {copy.get('state')}: {copy.get('state_reason')}")
        if time.time() - t0 > RESTORE_TIMEOUT:
            die(f"{mode} round {round_}: the rollback {copy['id']} not available after {RESTORE_TIMEOUT:.0f} s")
        time.sleep(0.2)
        copy = api_json(f"{api}/v1/databases/{copy['id']}")
    count(mode, round_, copy["url"], t0)
    print(copy["id"])


def count(mode, round_, url, restore_t0):
    """The copy's rows against the acknowledged transactions: what is lost, and how many seconds of commits."""
    round_, restore_t0 = int(round_), float(restore_t0)
    while True:   # (pgBackRest's copy replays, then promotes; Keel's is available once promoted)
        answer = query(url, "select pg_is_in_recovery()", timeout=10)
        if answer == ["f"]:
            break
        if time.time() - restore_t0 > RESTORE_TIMEOUT:
            die(f"{mode} round {round_}: the restored copy is not promoted after {RESTORE_TIMEOUT:.0f} s: {LAST_ERROR[0]}")
        time.sleep(0.1)
    restore_s = time.time() - restore_t0
    rows = query(url, "select client || ' ' || seq from rpo_ack")
    missing_table = rows is None
    if missing_table and "does not exist" not in LAST_ERROR[0]:
        die(f"{mode} round {round_}: cannot read the copy's rpo_ack: {LAST_ERROR[0]}")
    kept = {tuple(map(int, r.split())) for r in rows or []}
    r = load_result(result_name(mode, round_))
    acked = [(int(c), seq, t) for c, v in r["acks"].items() for seq, t in v]
    lost = sorted((t, c, seq) for c, seq, t in acked if (c, seq) not in kept)
    acked_keys = {(c, seq) for c, seq, _ in acked}
    kept_times = [t for c, seq, t in acked if (c, seq) in kept]
    r.update(acked=len(acked), kept=len(kept), lost=len(lost), missing_table=missing_table,
             unacknowledged_kept=len(kept - acked_keys), restore_s=restore_s,
             lost_s=max(0.0, r["t_kill"] - lost[0][0]) if lost else 0.0,
             newest_kept_age_s=r["t_kill"] - max(kept_times) if kept_times else None,
             newest_ack_age_s=r["t_kill"] - max(t for _, _, t in acked))
    save(result_name(mode, round_), r)
    log(f"{mode} round {round_}: {len(acked)} acknowledged, {len(lost)} missing from the copy"
        f" ({r['lost_s']:.2f} s of commits before the kill)" + ("; the copy has no rpo_ack at all" if missing_table else ""))


if __name__ == "__main__":
    run({"idle": idle, "load": load, "keel-restore": keel_restore, "count": count})
