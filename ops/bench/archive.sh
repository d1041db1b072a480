#!/usr/bin/env bash
# ops/bench/archive.sh: Keel's WAL archiving and base backups beside pgBackRest 2.45's, in one run,
# against one S3-compatible server (one S3Proxy), on compressible and on incompressible data.
#
# Measures, for each of two data modes:
#   cmp  compressible rows shaped like pgbench_accounts (ints and a blank char(84) filler; the WAL
#        compresses ~12x, the table ~24x)
#   rnd  incompressible rows (1 KiB of sha256 output per row; WAL and table compress ~1.05x)
# and for each tool (Keel with its own S3 bucket, pgBackRest with another):
#   WAL   one load of LOAD_MB (default 1024) MiB of WAL from the same generator (pgbench, one client,
#         ~4 MiB of WAL per transaction, unthrottled unless LOAD_RATE is set) over TLS to the
#         database. Sampled every 0.25 s: the server's write position (pg_current_wal_lsn()), which
#         segments are objects in the bucket (listing S3Proxy's files: an object appears there
#         whole, by rename), and pg_wal/archive_status. Prints the write rate, the archive
#         throughput (WAL archived / time from load start until every segment the load completed is
#         in the store), the lag while the load runs (write position minus the end of the newest
#         segment with every segment before it in the store), each segment's latency (finished ->
#         in the store), and the drain time (load end -> every segment the load completed is in the
#         store; the last, unfinished segment waits for archive_timeout on both and is left out).
#   base backup of the data directory the load left (~1 GB): Keel's POST /v1/databases/{id}/backups
#         until `completed`, pgBackRest's `backup --type=full` (zstd); wall time and MB/s of data
#         directory.
# Both Postgres servers are 15.19.0 (the binaries Keel unpacks), initdb'd with data checksums, with
# the same settings (pgBackRest's cluster takes the keel.conf Keel wrote for its instance, with its
# own port, socket, certificate and archive_command), and are loaded over TCP+TLS with the same
# pgbench. The two tools are measured one after the other, never at once: per mode, both WAL runs,
# then both backups, in ROUNDS rounds (4) that each start from empty tables and swap which tool goes
# first; the report gives means and each round's ratio. Nothing is restored, so no restored copy
# can archive into either bucket.
#
# Run from anywhere, as root (initdb, postgres and pgbackrest run as user postgres):
#   ops/bench/archive.sh                        # 4 rounds of ~1 GiB per load: ~6-8 minutes here
#   ROUNDS=2 LOAD_MB=512 ops/bench/archive.sh
# Environment:
#   ROUNDS                        rounds (4): each recreates the tables and measures everything once;
#                                 Keel goes first in odd rounds, pgBackRest in even ones
#   LOAD_MB                       MiB of WAL per load, per tool, mode and round (1024); the tables the loads
#                                 fill are what the backups copy (~0.8 GB cmp, ~1.1 GB rnd per 1024)
#   LOAD_RATE                     pgbench --rate (transactions/s of ~4 MiB WAL) to throttle the load
#                                 (unset: as fast as one client goes)
#   PGBR_PROCESS_MAX              pgBackRest process-max for archive-push and backup (2: the vCPUs
#                                 here, and Keel's 2 zstd workers)
#   KEEL_BENCH_KEEL_S3            https (default: Keel uses the HTTPS endpoint pgBackRest needs, so
#                                 both pay for TLS) or http (S3Proxy's plain endpoint)
#   KEEL_JAR, BUILD               as in provision.sh (a private copy of target/keel.jar is run; the
#                                 build is `mvn -q -Dmaven.test.skip=true package`)
#   KEEL_POSTGRES_INSTALL_DIR     shared with provision.sh (/var/cache/keel-bench/postgres as root)
#   S3PROXY_JAR                   org.gaul:s3proxy:2.6.0:jar-with-dependencies (default: found in
#                                 ~/.m2 or the cache next to the Postgres binaries, else downloaded
#                                 from Maven Central there, SHA-1 checked)
#   KEEL_BENCH_API_PORT           Keel's API port (5491)
#   KEEL_BENCH_CATALOG_PORTS      its catalog's port range (24600-24604)
#   KEEL_BENCH_INSTANCE_PORTS     its instance port range (24605-24699)
#   KEEL_BENCH_S3_PORTS           S3Proxy's HTTP and HTTPS ports ("24590 24591")
#   KEEL_BENCH_PGBR_PORT          pgBackRest's Postgres server (24592)
#   KEEL_BENCH_LOG_DIR            copy every log (Keel, S3Proxy, both Postgres, pgBackRest, pgbench)
#                                 and the raw results there at the end
#   DRAIN_TIMEOUT, IDLE_TIMEOUT   seconds to wait for archiving after a load / before one (600 / 300)
#   ARCHIVE_POLL                  seconds between GET /v1/databases/{id}/archive during Keel's loads,
#                                 checked against the store (1; 0: not polled)
# CPU seconds per component come from cpuacct cgroups (v1) this script makes and removes; without
# them (not root, no cgroup v1) the CPU rows are left out.
# Everything lives in a temporary directory under /tmp, removed on exit after every process the
# run started is stopped; /etc/pgbackrest.conf is neither read nor written (--config points into it).
set -euo pipefail

LOAD_MB=${LOAD_MB:-1024}
ROUNDS=${ROUNDS:-4}
LOAD_RATE=${LOAD_RATE:-}
PGBR_PROCESS_MAX=${PGBR_PROCESS_MAX:-2}
KEEL_S3=${KEEL_BENCH_KEEL_S3:-https}
API_PORT=${KEEL_BENCH_API_PORT:-5491}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-24600-24604}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-24605-24699}
read -r S3_PORT S3_TLS_PORT <<<"${KEEL_BENCH_S3_PORTS:-24590 24591}"
PGBR_PORT=${KEEL_BENCH_PGBR_PORT:-24592}
export DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600} IDLE_TIMEOUT=${IDLE_TIMEOUT:-300} ARCHIVE_POLL=${ARCHIVE_POLL:-1}
PG_VERSION=15.19.0          # what Keel serves for major 15 (application.yml); pgBackRest 2.45 stops at 15
TX_MB=4                     # WAL per load transaction, roughly
CMP_ROWS=25000              # rows per transaction: ~3.8 MiB of WAL each
RND_ROWS=3800               # ~4.0 MiB of WAL each
REPO=$(cd "$(dirname "$0")/../.." && pwd)
JAR_SRC=${KEEL_JAR:-$REPO/target/keel.jar}
if [[ $(id -u) -eq 0 ]]; then
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-/var/cache/keel-bench/postgres}
else
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-$HOME/.cache/keel-bench/postgres}
fi
MAVEN=${KEEL_MAVEN_REPOSITORY:-https://repo.maven.apache.org/maven2}
API=http://127.0.0.1:$API_PORT
PSQL=${PSQL:-psql}
PGBENCH=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
[[ -x $PGBENCH ]] || PGBENCH=$(command -v pgbench || true)
KEEL_BUCKET=keel-archive
PGBR_BUCKET=pgbackrest-archive
STANZA=bench

die() { echo "archive.sh: $*" >&2; exit 1; }
say() { echo "archive.sh: $*" >&2; }
now_ms() { date +%s%3N; }

[[ $(id -u) -eq 0 ]] || die "run as root: pgBackRest's cluster, like Keel's, runs as user postgres (setpriv)"
[[ $LOAD_MB =~ ^[1-9][0-9]*$ ]] || die "LOAD_MB must be a positive integer, not '$LOAD_MB'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ -z $LOAD_RATE || $LOAD_RATE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "LOAD_RATE must be a number, not '$LOAD_RATE'"
[[ $KEEL_S3 == http || $KEEL_S3 == https ]] || die "KEEL_BENCH_KEEL_S3 is http or https, not '$KEEL_S3'"
for tool in curl java keytool openssl python3 setpriv pgrep pgbackrest "$PSQL"; do
    command -v "$tool" >/dev/null || die "$tool is required (pgbackrest: apt-get install -y pgbackrest)"
done
[[ -n $PGBENCH && -x $PGBENCH ]] || die "pgbench is required (Debian: postgresql-15's /usr/lib/postgresql/15/bin/pgbench)"
PGBR_VERSION=$(pgbackrest version | awk '{print $2}')
[[ $PGBR_VERSION == 2.45 ]] || say "warning: pgBackRest is $PGBR_VERSION, not 2.45"
SERVER_USER=${KEEL_POSTGRES_OS_USER:-postgres}
SERVER_UID=$(id -u "$SERVER_USER") || die "user $SERVER_USER does not exist"
SERVER_GID=$(id -g "$SERVER_USER")

WORK=$(mktemp -d /tmp/keel-bench-archive.XXXXXX)
chmod 755 "$WORK"            # the server user must traverse it
cd "$WORK"                   # a cwd every user can reach
mkdir -p "$WORK/results"
KEEL_DATA=$WORK/keel
KEEL_LOG=$WORK/keel.log
KEEL_PID=
S3_PID=
PGBR=$WORK/pgbr              # pgBackRest's cluster, config, spool, logs
PGBR_CONF=$PGBR/pgbackrest.conf
PGBIN=$INSTALL_DIR/$PG_VERSION/bin
CG=                          # the cpuacct cgroup of this run, when there is one

# Keel gets no KEEL_* variable from the caller's environment, only the ones set here.
KEEL_ENV=(env)
while IFS= read -r name; do KEEL_ENV+=(-u "$name"); done < <(compgen -e | grep '^KEEL_' || true)
KEEL_ENV+=("KEEL_POSTGRES_INSTALL_DIR=$INSTALL_DIR")
[[ -n ${KEEL_POSTGRES_OS_USER:-} ]] && KEEL_ENV+=("KEEL_POSTGRES_OS_USER=$KEEL_POSTGRES_OS_USER")

as_server() { setpriv --reuid="$SERVER_UID" --regid="$SERVER_GID" --clear-groups -- "$@"; }
own() { chown -R "$SERVER_UID:$SERVER_GID" "$@"; }
# cgroup GROUP: sets IN_CG to the words that run a command in cgroup GROUP (its children too), so
# that "${IN_CG[@]}" cmd ... & leaves $! the command's own pid (sh execs it); empty without cgroups.
cgroup() {
    IN_CG=()
    [[ -z $CG ]] || IN_CG=(sh -c 'echo $$ >"$0/tasks" && exec "$@"' "$CG/$1")
}

# pids_of_run: every process whose command line names this run's directory (ours, all of them).
pids_of_run() { pgrep -f -- "$WORK/" || true; }

stop_pgbr() {
    if [[ -f $PGBR/data/postmaster.pid ]]; then
        as_server "$PGBIN/pg_ctl" stop -D "$PGBR/data" -m fast -w -t 60 >/dev/null 2>&1 \
            || as_server "$PGBIN/pg_ctl" stop -D "$PGBR/data" -m immediate -w >/dev/null 2>&1 || true
    fi
    # pgBackRest's async archive-push outlives the archive_command that started it, briefly.
    local pid deadline=$(( $(now_ms) + 30000 ))
    while [[ -n $(pgrep -f -- "--config=$PGBR_CONF" || true) ]] && (( $(now_ms) < deadline )); do sleep 0.2; done
    for pid in $(pgrep -f -- "--config=$PGBR_CONF" || true); do kill "$pid" 2>/dev/null || true; done
}

stop_keel() {
    if [[ -n $KEEL_PID ]] && kill -0 "$KEEL_PID" 2>/dev/null; then
        kill "$KEEL_PID"
        wait "$KEEL_PID" 2>/dev/null || true
    fi
    KEEL_PID=
    if [[ -d $KEEL_DATA ]]; then
        "${KEEL_ENV[@]}" KEEL_DATA_DIR="$KEEL_DATA" java -jar "$WORK/keel.jar" stop >/dev/null 2>&1 \
            || say "'keel.jar stop' failed; check for servers under $KEEL_DATA"
    fi
}

stop_s3() {
    if [[ -n $S3_PID ]] && kill -0 "$S3_PID" 2>/dev/null; then
        kill "$S3_PID"
        wait "$S3_PID" 2>/dev/null || true
    fi
    S3_PID=
}

cleanup() {
    local rc=$?
    set +e
    trap '' INT TERM
    stop_pgbr
    stop_keel
    stop_s3
    local left pid
    left=$(pids_of_run)
    if [[ -n $left ]]; then
        say "processes of this run still alive after stopping; ending them:"
        ps -o pid=,args= -p "$(echo $left | tr ' ' ',')" >&2
        for pid in $left; do kill "$pid" 2>/dev/null; done
        sleep 2
        for pid in $(pids_of_run); do kill -9 "$pid" 2>/dev/null; done
    fi
    if [[ -n $CG ]]; then
        for group in keel pgbr-pg pgbr-tool s3proxy; do rmdir "$CG/$group" 2>/dev/null; done
        rmdir "$CG" 2>/dev/null || say "could not remove cgroup $CG: $(cat "$CG"/*/tasks 2>/dev/null | tr '\n' ' ')"
    fi
    if [[ -n ${KEEL_BENCH_LOG_DIR:-} ]]; then
        mkdir -p "$KEEL_BENCH_LOG_DIR"
        cp "$WORK"/*.log "$KEEL_BENCH_LOG_DIR"/ 2>/dev/null
        cp "$PGBR"/*.log "$KEEL_BENCH_LOG_DIR"/ 2>/dev/null
        cp "$PGBR"/log/*.log "$KEEL_BENCH_LOG_DIR"/ 2>/dev/null
        cp "$WORK/s3/s3proxy.log" "$KEEL_BENCH_LOG_DIR"/ 2>/dev/null
        cp -r "$WORK/results" "$KEEL_BENCH_LOG_DIR"/ 2>/dev/null
    fi
    if [[ $rc -ne 0 && -f $KEEL_LOG ]]; then
        echo "--- last lines of Keel's log ---" >&2
        tail -n 20 "$KEEL_LOG" >&2
    fi
    cd /
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- preflight -----------------------------------------------------------------------------------

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$API_PORT" "$S3_PORT" "$S3_TLS_PORT" "$PGBR_PORT"; do
    port_free "$port" || die "port $port is taken (see KEEL_BENCH_*_PORT(S))"
done
if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
    for range in "$CATALOG_PORTS" "$INSTANCE_PORTS" "$S3_PORT-$S3_TLS_PORT" "$PGBR_PORT-$PGBR_PORT"; do
        if (( ${range%-*} <= eph_hi && ${range#*-} >= eph_lo )); then
            say "warning: port range $range overlaps the ephemeral range $eph_lo-$eph_hi"
        fi
    done
fi

if [[ -w /sys/fs/cgroup/cpuacct ]] && mkdir "/sys/fs/cgroup/cpuacct/keel-bench-archive-$$" 2>/dev/null; then
    CG=/sys/fs/cgroup/cpuacct/keel-bench-archive-$$
    for group in keel pgbr-pg pgbr-tool s3proxy; do mkdir "$CG/$group"; done
    # pgBackRest's archive-push runs as the server user and moves itself into pgbr-tool.
    chown "$SERVER_UID:$SERVER_GID" "$CG/pgbr-tool/tasks"
else
    say "no cpuacct cgroup (v1) available: CPU seconds are not reported"
fi

# --- the jar (as provision.sh) --------------------------------------------------------------------

head_time=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 0)
if [[ -z ${KEEL_JAR:-} ]] && [[ ${BUILD:-0} == 1 || ! -f $JAR_SRC || $(stat -c %Y "$JAR_SRC") -lt $head_time ]]; then
    say "building $JAR_SRC (missing, older than HEAD, or BUILD=1) ..."
    # Only the jar is needed: tests are not compiled (a test being edited meanwhile cannot break it).
    (cd "$REPO" && mvn -B -q -Dmaven.test.skip=true package >&2) || die "the build failed"
fi
[[ -f $JAR_SRC ]] || die "$JAR_SRC does not exist"
if [[ -z ${KEEL_JAR:-} && -n $(git -C "$REPO" status --porcelain -- src pom.xml 2>/dev/null) ]]; then
    say "warning: $REPO has uncommitted changes under src/ or pom.xml; the jar may not be HEAD's"
fi
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    cp "$JAR_SRC" "$WORK/keel.jar" 2>/dev/null \
        && python3 -c 'import sys, zipfile; sys.exit(zipfile.ZipFile(sys.argv[1]).testzip() is not None)' \
            "$WORK/keel.jar" 2>/dev/null \
        && break
    (( attempt < 10 )) || die "could not copy a complete $JAR_SRC (is a build rewriting it?)"
    sleep 3
done
mkdir -p "$INSTALL_DIR"

# --- the S3 server: one S3Proxy, HTTP and HTTPS, two buckets --------------------------------------

S3PROXY_NAME=s3proxy-2.6.0-jar-with-dependencies.jar
if [[ -z ${S3PROXY_JAR:-} ]]; then
    for candidate in "$HOME/.m2/repository/org/gaul/s3proxy/2.6.0/$S3PROXY_NAME" "$(dirname "$INSTALL_DIR")/$S3PROXY_NAME"; do
        [[ -s $candidate ]] && S3PROXY_JAR=$candidate && break
    done
fi
if [[ -z ${S3PROXY_JAR:-} ]]; then
    S3PROXY_JAR=$(dirname "$INSTALL_DIR")/$S3PROXY_NAME
    say "downloading S3Proxy 2.6.0 from $MAVEN into $S3PROXY_JAR ..."
    url=$MAVEN/org/gaul/s3proxy/2.6.0/$S3PROXY_NAME
    curl -fsS -o "$WORK/$S3PROXY_NAME" "$url" || die "could not download $url"
    [[ $(sha1sum <"$WORK/$S3PROXY_NAME" | cut -d' ' -f1) == $(curl -fsS "$url.sha1" | cut -c1-40) ]] \
        || die "the SHA-1 of $url does not match"
    mv "$WORK/$S3PROXY_NAME" "$S3PROXY_JAR"
fi
[[ -s $S3PROXY_JAR ]] || die "no S3Proxy jar at $S3PROXY_JAR"

S3_ID=bench$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
S3_SECRET=$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
S3_STOREPASS=$(head -c 15 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
mkdir -p "$WORK/s3/data"
keytool -genkeypair -keyalg RSA -keysize 2048 -alias s3proxy -dname CN=127.0.0.1 -ext SAN=ip:127.0.0.1 -validity 2 \
    -keystore "$WORK/s3/keystore.jks" -storetype JKS -storepass "$S3_STOREPASS" -keypass "$S3_STOREPASS" >/dev/null 2>&1 \
    || die "keytool could not make the S3Proxy keystore"
# Keel's JVM must trust that certificate, and still Maven Central's (it downloads Postgres binaries).
keytool -exportcert -alias s3proxy -keystore "$WORK/s3/keystore.jks" -storepass "$S3_STOREPASS" -file "$WORK/s3/s3proxy.crt" >/dev/null 2>&1
cacerts=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")/lib/security/cacerts
cp -L "$cacerts" "$WORK/s3/truststore" || die "no JDK cacerts at $cacerts"
chmod 644 "$WORK/s3/truststore"
keytool -importcert -noprompt -alias keel-bench-s3proxy -file "$WORK/s3/s3proxy.crt" -keystore "$WORK/s3/truststore" \
    -storepass changeit >/dev/null 2>&1 || die "could not add the S3Proxy certificate to a copy of $cacerts"
cat >"$WORK/s3/s3proxy.properties" <<EOF
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
s3proxy.secure-endpoint=https://127.0.0.1:$S3_TLS_PORT
s3proxy.keystore-path=$WORK/s3/keystore.jks
s3proxy.keystore-password=$S3_STOREPASS
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ID
s3proxy.credential=$S3_SECRET
s3proxy.ignore-unknown-headers=true
jclouds.provider=filesystem-nio2
jclouds.filesystem.basedir=$WORK/s3/data
jclouds.identity=bench
jclouds.credential=bench
EOF
chmod 600 "$WORK/s3/s3proxy.properties"
say "starting S3Proxy on 127.0.0.1:$S3_PORT (HTTP) and :$S3_TLS_PORT (HTTPS), objects under $WORK/s3/data ..."
cgroup s3proxy
"${IN_CG[@]}" java -Xmx512m -jar "$S3PROXY_JAR" --properties "$WORK/s3/s3proxy.properties" >"$WORK/s3/s3proxy.log" 2>&1 &
S3_PID=$!
deadline=$(( $(now_ms) + 90000 ))
until ! port_free "$S3_TLS_PORT" && ! port_free "$S3_PORT"; do
    kill -0 "$S3_PID" 2>/dev/null || die "S3Proxy exited: $(tail -n 5 "$WORK/s3/s3proxy.log")"
    (( $(now_ms) < deadline )) || die "S3Proxy did not listen within 90 s"
    sleep 0.2
done
empty_sha256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855   # S3Proxy needs the header
code=$(curl -sk -o "$WORK/s3/bucket.out" -w '%{http_code}' -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
    -H "x-amz-content-sha256: $empty_sha256" \
    --user "$S3_ID:$S3_SECRET" "https://127.0.0.1:$S3_TLS_PORT/$PGBR_BUCKET")
[[ $code == 200 ]] || die "S3Proxy did not create bucket $PGBR_BUCKET ($code): $(cat "$WORK/s3/bucket.out")"

# --- the bench helper (Python): samplers, backup drivers, report ---------------------------------

cat >"$WORK/bench.py" <<'PY'
import json, os, re, subprocess, sys, threading, time, urllib.error, urllib.request

WORK = os.environ["BENCH_WORK"]
RESULTS = os.path.join(WORK, "results")
INTERVAL = 0.25
CG = os.environ.get("BENCH_CG", "")
KEEL_PID = os.environ.get("BENCH_KEEL_PID", "")
AUTH = os.environ.get("BENCH_AUTH", "")
DRAIN_TIMEOUT = float(os.environ.get("DRAIN_TIMEOUT", "600"))
IDLE_TIMEOUT = float(os.environ.get("IDLE_TIMEOUT", "300"))
ARCHIVE_POLL = float(os.environ.get("ARCHIVE_POLL", "1"))
TICK = os.sysconf("SC_CLK_TCK")
GROUPS = ("keel", "pgbr-pg", "pgbr-tool", "s3proxy")
MB = 1024 * 1024


def log(msg):
    print(f"archive.sh: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


def lsn(text):
    hi, lo = text.strip().split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def pct(values, p):
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def save(name, data):
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump(data, f, indent=1)


def load_result(name):
    path = os.path.join(RESULTS, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


# --- CPU: cpuacct cgroups, and Keel's JVM by itself -----------------------------------------------

def cpu_snapshot():
    snap = {}
    if CG:
        for g in GROUPS:
            try:
                with open(f"{CG}/{g}/cpuacct.usage") as f:
                    snap[g] = int(f.read()) / 1e9
            except OSError:
                pass
    if KEEL_PID:
        try:
            with open(f"/proc/{KEEL_PID}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            snap["keel-jvm"] = (int(fields[11]) + int(fields[12])) / TICK
        except (OSError, IndexError, ValueError):
            pass
    return snap


def cpu_delta(a, b):
    d = {k: b[k] - a[k] for k in b if k in a}
    if "keel" in d and "keel-jvm" in d:
        d["keel-postgres"] = d["keel"] - d["keel-jvm"]   # its catalog and instance servers, archive_command
    return d


# --- a psql coprocess (no driver needed) ----------------------------------------------------------

class Psql:
    def __init__(self, url, name):
        self.err = open(os.path.join(WORK, f"psql-{name}.err"), "a")
        env = dict(os.environ, PGCONNECT_TIMEOUT="10")
        self.proc = subprocess.Popen([os.environ.get("PSQL", "psql"), "-X", "-Atq", url], stdin=subprocess.PIPE,
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


# --- Keel's API -----------------------------------------------------------------------------------

def http(method, url, timeout=30):
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {AUTH}",
                                                                  "Content-Type": "application/json"})
    if method == "POST":
        request.data = b"{}"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, body.decode(errors="replace")


def api_json(url):
    code, body = http("GET", url)
    if code != 200:
        die(f"GET {url} answered {code}: {body}")
    return body


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
    psql = Psql(url, f"{tool}-{mode}")
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
            code, body = http("GET", f"{api}/v1/databases/{db}/archive")
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
        result["archive_api"] = check_archive_polls(polls, samples, seg, num, first)
    save(f"wal-{tool}-{mode}-r{round_}", result)
    log(f"{tool} {mode}: {result['in_store']}/{len(segments)} segments in the store"
        + (f", {result['drain_s']:.1f} s after the load" if not timed_out else f" after {DRAIN_TIMEOUT:.0f} s: TIMED OUT"))


def check_archive_polls(polls, samples, seg, num, first):
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


def keel_backup(mode, round_, api, db, data_dir, bucket_dir):
    base = f"{api}/v1/databases/{db}/backups"
    deadline = time.time() + 600
    while any(b["state"] == "running" for b in api_json(base)):   # not timed: a backup still running
        if time.time() > deadline:
            die("a Keel backup has been running for 10 minutes")
        time.sleep(0.5)
    size = datadir_size(data_dir)
    cpu0 = cpu_snapshot()
    t0 = time.time()
    code, body = http("POST", base)
    if code != 202:
        die(f"POST {base} answered {code}: {body}")
    backup, operation = body["id"], body["operation_id"]
    steps = {}
    while True:
        b = api_json(f"{base}/{backup}")
        if b["state"] == "completed":
            t1 = time.time()
            break
        if b["state"] == "failed":
            die(f"Keel's backup {backup} failed: {b.get('error')}")
        op = api_json(f"{api}/v1/operations/{operation}")
        steps.setdefault(op.get("step") or "-", time.time() - t0)
        if time.time() - t0 > 1800:
            die(f"Keel's backup {backup} did not complete within 30 minutes")
        time.sleep(0.1)
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
                                     objects=objects(os.path.join(bucket_dir, db, "backups", backup))))
    log(f"keel {mode}: backup of {size / MB:.0f} MiB in {wall:.1f} s")


STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) P00\s+\w+: (.*)$")


def pgbr_backup(mode, round_, wrapper, data_dir, backup_dir):
    size = datadir_size(data_dir)
    cpu0 = cpu_snapshot()
    t0 = time.time()
    p = subprocess.run([wrapper, "--type=full", "--log-level-console=info", "backup"], capture_output=True, text=True)
    t1 = time.time()
    cpu1 = cpu_snapshot()
    with open(os.path.join(WORK, f"pgbackrest-backup-{mode}-r{round_}.log"), "w") as f:
        f.write(p.stdout + p.stderr)
    if p.returncode != 0:
        die(f"pgbackrest backup failed ({p.returncode}): {(p.stdout + p.stderr)[-2000:]}")
    marks = {}
    for line in p.stdout.splitlines():
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
    info = json.loads(subprocess.run([wrapper, "--output=json", "info"], capture_output=True, text=True, check=True).stdout)
    b = info[0]["backup"][-1]
    save(f"backup-pgbr-{mode}-r{round_}", dict(tool="pgbr", mode=mode, datadir=size, wall=wall, size=b["info"]["size"],
                                     stored=b["info"]["repository"]["delta"], split=split, marks=marks,
                                     label=b["label"], cpu=cpu_delta(cpu0, cpu1),
                                     objects=objects(os.path.join(backup_dir, b["label"]))))
    log(f"pgbr {mode}: backup of {size / MB:.0f} MiB in {wall:.1f} s")


# --- settings parity ------------------------------------------------------------------------------

SETTINGS = ["server_version", "data_checksums", "wal_segment_size", "wal_level", "wal_compression", "wal_buffers",
            "full_page_writes", "synchronous_commit", "fsync", "shared_buffers", "max_wal_size", "min_wal_size",
            "checkpoint_timeout", "checkpoint_completion_target", "archive_mode", "archive_timeout", "max_connections",
            "ssl", "wal_writer_delay", "commit_delay", "effective_io_concurrency", "bgwriter_lru_maxpages"]


def settings(url_keel, url_pgbr):
    found = {}
    for tool, url in (("keel", url_keel), ("pgbr", url_pgbr)):
        psql = Psql(url, f"settings-{tool}")
        names = ",".join(f"'{n}'" for n in SETTINGS)
        found[tool] = dict(r.split("|", 1) for r in psql.rows(
            f"select name, current_setting(name) from pg_settings where name in ({names}) order by name"))
        psql.close()
    differ = [n for n in SETTINGS if found["keel"].get(n) != found["pgbr"].get(n)]
    save("settings", dict(found=found, differ=differ))
    if differ:
        die("the two servers differ in " + ", ".join(f"{n} (keel {found['keel'].get(n)}, pgbackrest {found['pgbr'].get(n)})"
                                                     for n in differ))


def wait_first_backup(api, db):
    deadline = time.time() + 900
    while True:
        backups = api_json(f"{api}/v1/databases/{db}/backups")
        if any(b["state"] == "completed" for b in backups):
            return
        failed = [b for b in backups if b["state"] == "failed"]
        if failed:
            die(f"Keel's first backup failed: {failed[0].get('error')}")
        if time.time() > deadline:
            die("Keel's first backup did not complete within 15 minutes")
        time.sleep(0.5)


# --- report ---------------------------------------------------------------------------------------

def report(meta_path):
    with open(meta_path) as f:
        meta = json.load(f)
    rounds = int(meta["rounds"])
    st = load_result("settings")

    def results(kind, tool, mode):
        return [r for r in (load_result(f"{kind}-{tool}-{mode}-r{i}") for i in range(1, rounds + 1)) if r]

    def clean(v):
        return [x for x in v if x is not None and x == x]

    def mean(v):
        v = clean(v)
        return sum(v) / len(v) if v else None

    def fmt(v, d=1):
        return "-" if v is None or v != v else f"{v:.{d}f}"

    def ratio(k, p):
        if k is None or p is None or k != k or p != p:
            return "-"
        if p == 0:
            return "-" if k == 0 else "inf"
        return f"{k / p:.2f}x"

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
    command, args = sys.argv[1], sys.argv[2:]
    if command == "wal":
        sep = args.index("--")
        wal(*args[:sep], args[sep + 1:])
    elif command == "keel-backup":
        keel_backup(*args)
    elif command == "pgbr-backup":
        pgbr_backup(*args)
    elif command == "settings":
        settings(*args)
    elif command == "wait-first-backup":
        wait_first_backup(*args)
    elif command == "report":
        report(*args)
    else:
        die(f"unknown command {command}")
PY
export BENCH_WORK=$WORK BENCH_CG=$CG PSQL
bench() { python3 "$WORK/bench.py" "$@"; }

json_field() {  # json_field NAME JSON: the string value of "NAME" (flat JSON, no escaped quotes)
    if [[ $2 =~ \"$1\":\"([^\"]*)\" ]]; then
        local value=${BASH_REMATCH[1]}
        printf '%s' "${value//\\\//\/}"
    fi
}

# The load: pgbench scripts, one transaction each, ~4 MiB of WAL. The tables have autovacuum off,
# so no vacuum or analyze adds WAL of its own (with data checksums, setting hint bits or the
# visibility map WAL-logs whole pages).
cat >"$WORK/load-cmp.sql" <<EOF
\\set seed random(1, 1000000000000)
insert into bench_cmp select :seed + i, i % 100 + 1, 0, '' from generate_series(1, $CMP_ROWS) i;
EOF
cat >"$WORK/load-rnd.sql" <<EOF
\\set seed random(1, 1000000000000)
insert into bench_rnd select :seed + i, (select string_agg(sha256(int8send(:seed) || int8send(i) || int4send(j)), ''::bytea) from generate_series(1, 32) j) from generate_series(1, $RND_ROWS) i;
EOF
TABLES="create table bench_cmp (aid bigint, bid int, abalance int, filler char(84)) with (autovacuum_enabled = off);
create table bench_rnd (id bigint, payload bytea) with (autovacuum_enabled = off);"
TRANSACTIONS=$(( (LOAD_MB + TX_MB - 1) / TX_MB ))
load_cmd() {  # load_cmd MODE URL: the pgbench command line of one load
    local cmd=("$PGBENCH" -n -c 1 -f "$WORK/load-$1.sql" -t "$TRANSACTIONS")
    [[ -n $LOAD_RATE ]] && cmd+=(--rate "$LOAD_RATE")
    printf '%s\n' "${cmd[@]}" "$2"
}

# --- Keel ----------------------------------------------------------------------------------------

keel_s3_endpoint=http://127.0.0.1:$S3_PORT
[[ $KEEL_S3 == https ]] && keel_s3_endpoint=https://127.0.0.1:$S3_TLS_PORT
say "starting Keel on $API (data under $KEEL_DATA, S3 $keel_s3_endpoint bucket $KEEL_BUCKET) ..."
cgroup keel
"${IN_CG[@]}" "${KEEL_ENV[@]}" KEEL_DATA_DIR="$KEEL_DATA" KEEL_PORT="$API_PORT" KEEL_CATALOG_PORTS="$CATALOG_PORTS" \
    KEEL_INSTANCES_PORTS="$INSTANCE_PORTS" KEEL_INSTANCES_POOL_SIZE=0 \
    KEEL_S3_ENDPOINT="$keel_s3_endpoint" KEEL_S3_REGION=us-east-1 KEEL_S3_BUCKET="$KEEL_BUCKET" \
    KEEL_S3_ACCESS_KEY_ID="$S3_ID" KEEL_S3_SECRET_ACCESS_KEY="$S3_SECRET" \
    java -Djavax.net.ssl.trustStore="$WORK/s3/truststore" -Djavax.net.ssl.trustStorePassword=changeit \
    -jar "$WORK/keel.jar" >"$KEEL_LOG" 2>&1 &
KEEL_PID=$!
export BENCH_KEEL_PID=$KEEL_PID
deadline=$(( $(now_ms) + 900000 ))
until [[ $(curl -s -o /dev/null -w '%{http_code}' "$API/health" 2>/dev/null) == 200 ]]; do
    kill -0 "$KEEL_PID" 2>/dev/null || die "Keel exited during startup"
    (( $(now_ms) < deadline )) || die "Keel did not become healthy within 15 minutes"
    sleep 0.2
done
KEY=$(<"$KEEL_DATA/admin-api-key")
export BENCH_AUTH=$KEY
AUTH="Authorization: Bearer $KEY"
KEEL_VERSION="Keel at $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
[[ -n ${KEEL_JAR:-} ]] && KEEL_VERSION="Keel from $KEEL_JAR"

say "provisioning a Keel database (standard-0, Postgres 15; the first run unpacks $PG_VERSION) ..."
body=$(curl -sS -H "$AUTH" -H 'Content-Type: application/json' -d '{"plan":"standard-0","version":"15"}' "$API/v1/databases")
DB=$(json_field id "$body")
[[ -n $DB ]] || die "POST /v1/databases answered: $body"
deadline=$(( $(now_ms) + 900000 ))
while :; do
    body=$(curl -sS -H "$AUTH" "$API/v1/databases/$DB")
    case $(json_field state "$body") in
        available) break ;;
        creating) ;;
        *) die "database $DB: $body" ;;
    esac
    (( $(now_ms) < deadline )) || die "database $DB not available after 15 minutes"
    sleep 0.5
done
KEEL_URL=$(json_field url "$body")
say "waiting for Keel's first backup of $DB ..."
bench wait-first-backup "$API" "$DB"
KEEL_INSTANCE=$(ls -d "$KEEL_DATA"/instances/*/ | head -n 1)
KEEL_INSTANCE=${KEEL_INSTANCE%/}
[[ -f $KEEL_INSTANCE/data/keel.conf ]] || die "no keel.conf under $KEEL_INSTANCE/data"
"$PSQL" -X -q "$KEEL_URL" -v ON_ERROR_STOP=1 -c "$TABLES" >/dev/null || die "could not create the tables on Keel's database"

# --- pgBackRest's cluster: same binaries, same settings --------------------------------------------

say "making pgBackRest's cluster (Postgres $PG_VERSION from $PGBIN, port $PGBR_PORT, bucket $PGBR_BUCKET) ..."
[[ -x $PGBIN/initdb ]] || die "$PGBIN/initdb is missing: Keel should have unpacked $PG_VERSION there"
mkdir -p "$PGBR"/{sock,spool,lock,log}
chmod 755 "$PGBR"
own "$PGBR"
as_server "$PGBIN/initdb" -D "$PGBR/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 --data-checksums \
    --encoding=UTF8 --locale=C --no-instructions >"$PGBR/initdb.log" 2>&1 || die "initdb failed: $(cat "$PGBR/initdb.log")"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 2 -keyout "$PGBR/data/bench.key" \
    -out "$PGBR/data/bench.crt" >/dev/null 2>&1 || die "openssl could not make a certificate"
chmod 600 "$PGBR/data/bench.key"
own "$PGBR/data/bench.key" "$PGBR/data/bench.crt"
# Keel's settings for its instance, but this server's own port, socket, certificate, archive_command.
{
    echo "# Keel's keel.conf for its instance, except the lines below it"
    grep -Ev "^[[:space:]]*(listen_addresses|port|unix_socket_directories|ssl_cert_file|ssl_key_file|archive_command)[[:space:]]*=" \
        "$KEEL_INSTANCE/data/keel.conf"
    echo "listen_addresses = '127.0.0.1'"
    echo "port = $PGBR_PORT"
    echo "unix_socket_directories = '$PGBR/sock'"
    echo "ssl_cert_file = 'bench.crt'"
    echo "ssl_key_file = 'bench.key'"
    if [[ -n $CG ]]; then   # pgbackrest's CPU is counted by itself (its async process stays in the group)
        echo "archive_command = 'echo \$\$ > $CG/pgbr-tool/tasks; exec pgbackrest --config=$PGBR_CONF --stanza=$STANZA archive-push %p'"
    else
        echo "archive_command = 'pgbackrest --config=$PGBR_CONF --stanza=$STANZA archive-push %p'"
    fi
} >"$PGBR/data/bench.conf"
echo "include 'bench.conf'" >>"$PGBR/data/postgresql.conf"
printf 'local all postgres peer\nhostssl bench bench 127.0.0.1/32 scram-sha-256\n' >"$PGBR/data/pg_hba.conf"
own "$PGBR/data"
cat >"$PGBR_CONF" <<EOF
[global]
repo1-type=s3
repo1-s3-uri-style=path
repo1-storage-verify-tls=n
repo1-s3-endpoint=127.0.0.1
repo1-storage-port=$S3_TLS_PORT
repo1-s3-region=us-east-1
repo1-s3-bucket=$PGBR_BUCKET
repo1-s3-key=$S3_ID
repo1-s3-key-secret=$S3_SECRET
repo1-path=/pgbackrest
repo1-retention-full=10
archive-async=y
spool-path=$PGBR/spool
lock-path=$PGBR/lock
log-path=$PGBR/log
log-level-console=warn
log-level-file=info
process-max=$PGBR_PROCESS_MAX
compress-type=zst
start-fast=y

[global:archive-push]
compress-level=1

[$STANZA]
pg1-path=$PGBR/data
pg1-port=$PGBR_PORT
pg1-socket-path=$PGBR/sock
pg1-user=postgres
EOF
chmod 600 "$PGBR_CONF"
own "$PGBR_CONF"
# pgbackrest as the server user, in its cgroup: bench.py runs backups and info through this.
cat >"$PGBR/pgbackrest" <<EOF
#!/bin/sh
[ -z "$CG" ] || echo \$\$ >"$CG/pgbr-tool/tasks"
exec setpriv --reuid=$SERVER_UID --regid=$SERVER_GID --clear-groups -- pgbackrest --config=$PGBR_CONF --stanza=$STANZA "\$@"
EOF
chmod 700 "$PGBR/pgbackrest"
cgroup pgbr-pg
"${IN_CG[@]}" setpriv --reuid="$SERVER_UID" --regid="$SERVER_GID" --clear-groups -- \
    "$PGBIN/pg_ctl" start -w -D "$PGBR/data" -l "$PGBR/postgresql.log" >/dev/null \
    || die "pgBackRest's cluster did not start: $(tail -n 5 "$PGBR/postgresql.log")"
PGBR_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
as_server "$PSQL" -X -q -h "$PGBR/sock" -p "$PGBR_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "create role bench login password '$PGBR_PASSWORD'" -c "create database bench owner bench" >/dev/null \
    || die "could not create pgBackRest's database"
PGBR_URL="postgres://bench:$PGBR_PASSWORD@127.0.0.1:$PGBR_PORT/bench?sslmode=require"
"$PSQL" -X -q "$PGBR_URL" -v ON_ERROR_STOP=1 -c "$TABLES" >/dev/null || die "could not create the tables on pgBackRest's database"
"$PGBR/pgbackrest" stanza-create >"$PGBR/stanza.log" 2>&1 || die "stanza-create failed: $(cat "$PGBR/stanza.log")"
"$PGBR/pgbackrest" check >"$PGBR/check.log" 2>&1 || die "pgbackrest check failed: $(cat "$PGBR/check.log")"
say "pgBackRest's first full backup (not measured, as Keel's first one is not) ..."
"$PGBR/pgbackrest" --type=full backup >"$PGBR/first-backup.log" 2>&1 || die "the first pgBackRest backup failed: $(cat "$PGBR/first-backup.log")"

bench settings "$KEEL_URL" "$PGBR_URL"

python3 - "$WORK/results/meta.json" <<PY
import json, os, subprocess, sys, time
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
json.dump(dict(cpus=os.cpu_count(), cpu_model=model, started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
               keel_s3="$KEEL_S3", keel_bucket="$KEEL_BUCKET", pgbr_bucket="$PGBR_BUCKET",
               keel_version="$KEEL_VERSION", pgbr_version="pgBackRest $PGBR_VERSION", pgbr_process_max="$PGBR_PROCESS_MAX",
               pgbench_version=subprocess.run(["$PGBENCH", "--version"], capture_output=True, text=True).stdout.split()[2],
               transactions=$TRANSACTIONS, tx_mb=$TX_MB, load_mb=$LOAD_MB, load_rate="$LOAD_RATE",
               cmp_rows=$CMP_ROWS, rnd_rows=$RND_ROWS, rounds=$ROUNDS), open(sys.argv[1], "w"))
PY

# --- the measurements ----------------------------------------------------------------------------

KEEL_STORE=$WORK/s3/data/$KEEL_BUCKET/$DB/wal
PGBR_STORE=$WORK/s3/data/$PGBR_BUCKET/pgbackrest/archive/$STANZA
wal_run() {  # wal_run TOOL MODE ROUND
    local cmd
    say "round $3, $1 $2: WAL load of $TRANSACTIONS transactions ..."
    if [[ $1 == keel ]]; then
        mapfile -t cmd < <(load_cmd "$2" "$KEEL_URL")
        bench wal keel "$2" "$3" "$KEEL_URL" "$KEEL_STORE" "$KEEL_INSTANCE/data" "$KEEL_INSTANCE/spool" "$API" "$DB" -- "${cmd[@]}"
    else
        mapfile -t cmd < <(load_cmd "$2" "$PGBR_URL")
        bench wal pgbr "$2" "$3" "$PGBR_URL" "$PGBR_STORE" "$PGBR/data" - - - -- "${cmd[@]}"
    fi
}
backup_run() {  # backup_run TOOL MODE ROUND
    say "round $3, $1 $2: base backup ..."
    if [[ $1 == keel ]]; then
        bench keel-backup "$2" "$3" "$API" "$DB" "$KEEL_INSTANCE/data" "$WORK/s3/data/$KEEL_BUCKET"
    else
        bench pgbr-backup "$2" "$3" "$PGBR/pgbackrest" "$PGBR/data" "$WORK/s3/data/$PGBR_BUCKET/pgbackrest/backup/$STANZA"
    fi
}
sql_both() {
    "$PSQL" -X -q "$KEEL_URL" -v ON_ERROR_STOP=1 -c "$1" >/dev/null || die "on Keel's database: $1"
    "$PSQL" -X -q "$PGBR_URL" -v ON_ERROR_STOP=1 -c "$1" >/dev/null || die "on pgBackRest's database: $1"
}
for ((round = 1; round <= ROUNDS; round++)); do
    if (( round % 2 )); then order=(keel pgbr); else order=(pgbr keel); fi
    sql_both "drop table if exists bench_cmp, bench_rnd; $TABLES"   # every round starts from empty tables
    for mode in cmp rnd; do
        # The incompressible backups copy the random table only.
        [[ $mode == rnd ]] && sql_both "drop table bench_cmp"
        for tool in "${order[@]}"; do wal_run "$tool" "$mode" "$round"; done
        for tool in "${order[@]}"; do backup_run "$tool" "$mode" "$round"; done
    done
done

# What Keel's logs say: warnings and errors of Keel, archive_command failures of its server.
python3 - "$KEEL_LOG" "$KEEL_INSTANCE/postgresql.log" "$PGBR/postgresql.log" "$WORK/results/notes.json" <<'PY'
import json, re, sys
keel_log, keel_pg, pgbr_pg, out = sys.argv[1:]
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
json.dump(dict(lines=lines), open(out, "w"))
PY

body=$(curl -sS -H "$AUTH" "$API/v1/databases/$DB/archive")
echo "$body" >"$WORK/results/archive-final.json"

# Stop everything before the report, so the check for leftovers below means something.
stop_pgbr
stop_keel
stop_s3

bench report "$WORK/results/meta.json"
echo
echo "Keel's /archive at the end: $body"
left=$(pids_of_run)
if [[ -n $left ]]; then
    say "still running after the stop (cleanup ends them): $(echo $left)"
fi
