"""psql (one-shot and as a coprocess, no driver needed), settings parity, data directory sizes, free ports."""
import os
import socket
import subprocess

from benchlib.core import WORK, die, save

PSQL = os.environ.get("PSQL", "psql")
LAST_ERROR = [""]


def query(url, sql, timeout=None):
    """Rows of one statement (psql -Atq), or None when psql fails (cannot connect, ...; then LAST_ERROR[0] says why)."""
    env = dict(os.environ, PGCONNECT_TIMEOUT="5")
    try:
        p = subprocess.run([PSQL, "-X", "-Atq", "-v", "ON_ERROR_STOP=1", url, "-c", sql], capture_output=True, text=True,
                           env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        LAST_ERROR[0] = f"psql timed out after {timeout} s"
        return None
    if p.returncode != 0:
        LAST_ERROR[0] = (p.stderr.strip().splitlines() or ["psql failed"])[0]
        return None
    return p.stdout.splitlines()


def must(url, sql):
    rows = query(url, sql)
    if rows is None:
        die(f"psql failed on {sql!r}: {LAST_ERROR[0]}")
    return rows


class Psql:
    """One psql session fed statements on stdin; each answer ends at an echoed marker."""

    def __init__(self, url, name):
        self.err = open(os.path.join(WORK, f"psql-{name}.err"), "a")
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        self.proc = subprocess.Popen([PSQL, "-X", "-Atq", "-v", "ON_ERROR_STOP=1", url], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True, bufsize=1, env=env)

    def rows(self, sql):
        self.proc.stdin.write(sql.strip().rstrip(";") + ";\n\\echo __end__\n")
        self.proc.stdin.flush()
        rows = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                die(f"psql ended; see {self.err.name}")
            line = line.rstrip("\n")
            if line == "__end__":
                return rows
            rows.append(line)

    def value(self, sql):
        rows = self.rows(sql)
        if not rows:
            die(f"no answer to {sql!r}; see {self.err.name}")
        return rows[0]

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(10)
        except Exception:
            self.proc.kill()


# --- settings parity: Keel's server and the one a benchmark made by hand --------------------------

SETTINGS = ["server_version", "data_checksums", "wal_segment_size", "wal_level", "wal_compression", "wal_buffers",
            "full_page_writes", "synchronous_commit", "fsync", "shared_buffers", "max_wal_size", "min_wal_size",
            "checkpoint_timeout", "checkpoint_completion_target", "archive_mode", "archive_timeout", "max_connections",
            "ssl", "wal_writer_delay", "commit_delay", "effective_io_concurrency", "bgwriter_lru_maxpages"]
REPLAY_SETTINGS = ["maintenance_work_mem", "recovery_prefetch", "maintenance_io_concurrency", "wal_decode_buffer_size"]


def settings(url_keel, url_pgbr, names):
    """Saves both servers' values of names as results/settings.json; dies when any differs."""
    found = {}
    for tool, url in (("keel", url_keel), ("pgbr", url_pgbr)):
        quoted = ",".join(f"'{n}'" for n in names)
        found[tool] = dict(r.split("|", 1) for r in must(
            url, f"select name, current_setting(name) from pg_settings where name in ({quoted}) order by name"))
    differ = [n for n in names if found["keel"].get(n) != found["pgbr"].get(n)]
    save("settings", dict(found=found, differ=differ))
    if differ:
        die("the two servers differ in " + ", ".join(f"{n} (keel {found['keel'].get(n)}, pgbackrest {found['pgbr'].get(n)})"
                                                     for n in differ))


# --- data directory size: what a base backup copies -----------------------------------------------

EMPTIED = {"pg_wal", "pg_replslot", "pg_stat_tmp", "pg_dynshmem", "pg_notify", "pg_serial", "pg_snapshots", "pg_subtrans"}
SKIPPED = {"postmaster.pid", "postmaster.opts", "backup_label", "backup_label.old", "tablespace_map", "tablespace_map.old",
           "recovery.signal", "standby.signal", "current_logfiles", "server.key", "postgresql.auto.conf.tmp"}


def datadir_size(data):
    total = 0
    for dirpath, dirs, files in os.walk(data):
        rel = os.path.relpath(dirpath, data)
        if rel.split(os.sep)[0] in EMPTIED:
            dirs[:] = []
            continue
        for f in files:
            if (rel == "." and f in SKIPPED) or f.startswith("pgsql_tmp") or f == "pg_internal.init":
                continue
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except FileNotFoundError:
                pass
    return total


def objects(root):
    return sum(len(files) for _, _, files in os.walk(root))


def free_ports(count, first, last):
    """The lowest count ports of first..last a server could listen on now (as Keel picks instance ports), or None."""
    found = []
    for port in range(first, last + 1):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            found.append(port)
        except OSError:
            pass
        finally:
            s.close()
        if len(found) == count:
            return found
    return None
