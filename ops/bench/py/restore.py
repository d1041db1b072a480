"""restore.sh's set-up and measurements: both tools' base backups, the target time T and its
markers, the wait until both archives hold T, one restore per call (timed, then checked against the
source at T). Results go to results/*.json; restore_report.py prints them.

  restore.py keel-backup API DB DATA_DIR
  restore.py pgbr-backup WRAPPER DATA_DIR
  restore.py target TABLE TOOL URL [TOOL URL]
  restore.py archived TOOL STORE SEGMENT API DB T
  restore.py keel-restore ROUND API SOURCE_ID
  restore.py pgbr-restore ROUND WRAPPER DATA_DIR PGBIN PORT URL UID GID LOG
"""
import calendar
import glob
import json
import os
import re
import subprocess
import time

from benchlib import keel, pg, pgbr
from benchlib.core import MB, WORK, die, load_result, log, lsn, pg_time, rfc3339, run, save
from benchlib.keel import api_json, http
from benchlib.pg import LAST_ERROR, Psql, query

RESTORE_TIMEOUT = float(os.environ.get("RESTORE_TIMEOUT", "1800"))
PG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) UTC ")   # log_timezone=UTC


# --- the base backups (set-up, not the measurement) -----------------------------------------------

def keel_backup(api, db, data_dir):
    b, t0, t1, size = keel.backup(api, db, 0.2, before=lambda: pg.datadir_size(data_dir))
    save("backup-keel", dict(tool="keel", id=b["id"], datadir=size, wall=t1 - t0, size=b["size_bytes"],
                             stored=b["stored_bytes"], start_lsn=b["start_lsn"], stop_lsn=b["stop_lsn"]))
    log(f"keel: backup {b['id']} of {size / MB:.0f} MiB in {t1 - t0:.1f} s"
        f" ({b['size_bytes'] / MB:.0f} MiB, stored {b['stored_bytes'] / MB:.0f} MiB)")


def pgbr_backup(wrapper, data_dir):
    size = pg.datadir_size(data_dir)
    t0, t1, _ = pgbr.backup(wrapper, os.path.join(WORK, "pgbackrest-backup.log"))
    wall = t1 - t0
    b = pgbr.latest(wrapper)
    save("backup-pgbr", dict(tool="pgbr", label=b["label"], datadir=size, wall=wall, size=b["info"]["size"],
                             stored=b["info"]["repository"]["delta"], start_lsn=b["lsn"]["start"], stop_lsn=b["lsn"]["stop"]))
    log(f"pgbr: backup {b['label']} of {size / MB:.0f} MiB in {wall:.1f} s"
        f" ({b['info']['size'] / MB:.0f} MiB, stored {b['info']['repository']['delta'] / MB:.0f} MiB)")


def target(table, *tool_urls):
    """Markers before and after T on every source (tool url pairs); T, and the sources' state at T."""
    sources = {tool_urls[i]: Psql(tool_urls[i + 1], f"target-{tool_urls[i]}") for i in range(0, len(tool_urls), 2)}
    ref = next(iter(sources.values()))
    clock = lambda: float(ref.value("select extract(epoch from clock_timestamp())"))

    def markers(first, last):
        for i in range(first, last + 1):
            for p in sources.values():
                p.rows(f"insert into bench_marker (id) values ({i})")   # one transaction each
            time.sleep(0.1)

    markers(1, 10)
    now = clock()
    t = int(now) + 1
    if t - now < 0.3:        # no commit in the 0.3 s before T: a marker is on one side of T, never on it
        t += 1
    state = {}
    for tool, p in sources.items():   # nothing is written between the markers and T: this is the state at T
        count, total = p.value(f"select count(*) || '|' || coalesce(sum(abalance), 0) from {table}").split("|")
        state[tool] = dict(lsn=p.value("select pg_current_wal_lsn()"), count=int(count), sum=int(total))
    while clock() < t + 0.5:
        time.sleep(0.05)
    markers(11, 20)
    for tool, p in sources.items():
        ts = f"'{pg_time(t)}'::timestamptz"
        state[tool]["expected"] = [int(x) for x in p.rows(f"select id from bench_marker where ts <= {ts} order by id")]
        state[tool]["after"] = [int(x) for x in p.rows(f"select id from bench_marker where ts > {ts} order by id")]
        if state[tool]["expected"] != list(range(1, 11)) or state[tool]["after"] != list(range(11, 21)):
            die(f"{tool}: markers around T are not 1-10 / 11-20: {state[tool]}")
        p.close()
    save("target", dict(t=t, rfc3339=rfc3339(t), pg=pg_time(t), table=table, sources=state))
    log(f"target time T = {rfc3339(t)} (markers 1-10 before, 11-20 after)")


def archived(tool, store, segment, api, db, t):
    """Waits until the segment holding the WAL past T is in the tool's store (and, for Keel, T in /archive's window)."""
    deadline = time.time() + 600
    while True:
        if tool == "keel":
            ok = os.path.exists(os.path.join(store, segment + ".zst"))
        else:
            ok = bool(glob.glob(os.path.join(store, segment[:16], segment + "-*")))
        if ok:
            break
        if time.time() > deadline:
            die(f"{tool}: segment {segment} (past T) not in the store after 10 minutes")
        time.sleep(0.2)
    if tool != "keel":
        return
    deadline = time.time() + 120
    while True:
        window = api_json(f"{api}/v1/databases/{db}/archive").get("window") or {}
        if window.get("to") and calendar.timegm(time.strptime(window["to"][:19], "%Y-%m-%dT%H:%M:%S")) > t:
            return
        if time.time() > deadline:
            log(f"warning: Keel's /archive window {window} does not reach T {rfc3339(t)} although {segment} is stored")
            return
        time.sleep(0.5)


# --- the restores ---------------------------------------------------------------------------------

def check(tool, url, tgt):
    """The restored copy against the source at T: markers, count(*) and sum(abalance)."""
    src = tgt["sources"][tool]
    out = dict(ok=False, markers=None, expected=src["expected"], count=None, sum=None, expected_count=src["count"],
               expected_sum=src["sum"])
    rows = query(url, "select id from bench_marker order by id")
    if rows is None:
        out["error"] = f"cannot read bench_marker: {LAST_ERROR[0]}"
        return out
    out["markers"] = [int(x) for x in rows]
    rows = query(url, f"select count(*) || '|' || coalesce(sum(abalance), 0) from {tgt['table']}")
    if rows is None:
        out["error"] = f"cannot read {tgt['table']}: {LAST_ERROR[0]}"
        return out
    count, total = rows[0].split("|")
    out.update(count=int(count), sum=int(total))
    out["ok"] = out["markers"] == src["expected"] and out["count"] == src["count"] and out["sum"] == src["sum"]
    return out


def replayed(tool, backup):
    return max(0, lsn(load_result("target")["sources"][tool]["lsn"]) - lsn(backup["start_lsn"]))


def keel_restore(round_, api, source):
    round_ = int(round_)
    tgt = load_result("target")
    backup = load_result("backup-keel")
    body = {"plan": "standard-0", "rollback": source, "to": tgt["rfc3339"]}
    steps, progress = {}, None
    t0 = time.time()
    code, db = http("POST", f"{api}/v1/databases", body)
    t_post = time.time() - t0
    if code != 202 or not isinstance(db, dict) or "id" not in db:
        die(f"POST /v1/databases {json.dumps(body)} answered {code}: {db}")
    new = db["id"]
    log(f"round {round_}, keel: restoring into {new} (POST answered in {t_post * 1000:.0f} ms, state {db.get('state')})")
    while True:
        state = db.get("state")
        if state == "available":
            t_avail = time.time() - t0
            break
        if state != "creating":
            die(f"Keel's restore {new} is {state}: {db.get('state_reason')} ({db})")
        if db.get("progress"):
            progress = db["progress"]
            # "replaying WAL (at 2026-...)": the step without what it is at
            steps.setdefault(re.sub(r" \(.*\)$", "", progress.get("step") or "-"), time.time() - t0)
        if time.time() - t0 > RESTORE_TIMEOUT:
            die(f"Keel's restore {new} not available after {RESTORE_TIMEOUT:.0f} s (last progress {progress})")
        time.sleep(0.1)
        db = api_json(f"{api}/v1/databases/{new}")
    url = db.get("url") or die(f"database {new} is available without a url: {db}")
    while query(url, "select 1", timeout=10) != ["1"]:
        if time.time() - t0 > RESTORE_TIMEOUT:
            die(f"Keel's restore {new} is available but does not answer select 1")
        time.sleep(0.01)
    wall = time.time() - t0
    result = dict(tool="keel", round=round_, id=new, wall=wall, post_s=t_post, available_s=t_avail, steps=steps,
                  last_progress=progress, size=backup["size"], replayed=replayed("keel", backup),
                  check=check("keel", url, tgt))
    save(f"restore-keel-r{round_}", result)
    log(f"round {round_}, keel: restored in {wall:.1f} s; markers and table {'match' if result['check']['ok'] else 'DIFFER'}")
    # Untimed: delete the copy, and wait until it is gone, so the next restore has the machine.
    code, answer = http("DELETE", f"{api}/v1/databases/{new}")
    if code not in (202, 204):
        die(f"DELETE /v1/databases/{new} answered {code}: {answer}")
    deadline = time.time() + 900
    while http("GET", f"{api}/v1/databases/{new}")[0] != 404:
        if time.time() > deadline:
            die(f"database {new} still there 15 minutes after DELETE")
        time.sleep(0.5)


PG_EVENTS = (("redo starts", "redo starts at"), ("consistent", "consistent recovery state reached"),
             ("target reached", "recovery stopping before"), ("redo done", "redo done at"),
             ("ready (promoted)", "database system is ready to accept connections"))


def pgbr_restore(round_, wrapper, data_dir, pgbin, port, url, uid, gid, log_path):
    round_ = int(round_)
    tgt = load_result("target")
    backup = load_result("backup-pgbr")
    as_server = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
    t0 = time.time()
    p = subprocess.run([wrapper, f"--pg1-path={data_dir}", "--type=time", f"--target={tgt['pg']}", "--target-action=promote",
                        "--archive-mode=off", "--log-level-console=info", "restore"], capture_output=True, text=True)
    t_restore = time.time() - t0
    with open(os.path.join(WORK, f"pgbackrest-restore-r{round_}.log"), "w") as f:
        f.write(p.stdout + p.stderr)
    if p.returncode != 0:
        die(f"pgbackrest restore failed ({p.returncode}): {(p.stdout + p.stderr)[-2000:]}")
    # The copy keeps the source's settings but listens on its own port (log times in UTC, for the
    # split below). Started as pg_ctl would, without its wait: this loop is the wait.
    server = subprocess.Popen(as_server + [f"{pgbin}/postgres", "-D", data_dir, "-p", str(port), "-c", "log_timezone=UTC"],
                              stdin=subprocess.DEVNULL, stdout=open(log_path, "a"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    t_connect = None
    while True:
        rows = query(url, "select pg_is_in_recovery()", timeout=10)
        if rows is not None and t_connect is None:
            t_connect = time.time() - t0
        if rows == ["f"]:
            break
        if time.time() - t0 > RESTORE_TIMEOUT:
            die(f"pgBackRest's restore not promoted after {RESTORE_TIMEOUT:.0f} s; see {log_path}")
        if server.poll() is not None:
            die(f"pgBackRest's restored server stopped: {open(log_path, errors='replace').read()[-2000:]}")
        time.sleep(0.02)
    wall = time.time() - t0
    checked = check("pgbr", url, tgt)   # (also gives the server time to log its last lines)
    events, stop_line = {}, None
    for line in open(log_path, errors="replace"):
        m = PG_TIME.match(line)
        if not m:
            continue
        at = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000 - t0
        for key, text in PG_EVENTS:
            if text in line:
                events.setdefault(key, at)
        if "recovery stopping before" in line:
            stop_line = line.split("LOG:", 1)[-1].strip()
    result = dict(tool="pgbr", round=round_, wall=wall, restore_s=t_restore, connect_s=t_connect, events=events,
                  stop_line=stop_line, size=backup["size"], replayed=replayed("pgbr", backup), check=checked)
    save(f"restore-pgbr-r{round_}", result)
    log(f"round {round_}, pgbr: restored in {wall:.1f} s (files {t_restore:.1f} s); markers and table"
        f" {'match' if result['check']['ok'] else 'DIFFER'}")


# --- report ---------------------------------------------------------------------------------------


if __name__ == "__main__":
    run({"keel-backup": keel_backup, "pgbr-backup": pgbr_backup, "target": target,
         "archived": lambda *a: archived(*a[:5], float(a[5])), "keel-restore": keel_restore, "pgbr-restore": pgbr_restore})
