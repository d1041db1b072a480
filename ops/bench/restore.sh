#!/usr/bin/env bash
# ops/bench/restore.sh: Keel's point-in-time restore (rollback) beside pgBackRest 2.45's, in one run,
# from one S3-compatible server (one S3Proxy), to the same target time.
#
# Sets up, once, for each tool (Keel with its own S3 bucket, pgBackRest with another):
#   data     ~DB_MB (1024) MiB of pgbench data in a source database:
#              cmp  (default) pgbench -i's pgbench_accounts (ints and a blank char(84) filler;
#                   compresses ~20x), scale DB_MB/15, generated server-side
#              rnd  the same shape with 1 KiB of sha256 output as filler (incompressible)
#   backup   a base backup of it: Keel's POST /v1/databases/{id}/backups until `completed`,
#            pgBackRest's `backup --type=full` (zstd)
#   WAL      ~WAL_AFTER_MB (256) MiB written after the backup by the same updates on both (pgbench,
#            one client, fixed random seeds: 1000-row range updates of abalance)
#   target   T, a whole second of the servers' clock: 10 marker rows are committed (one per
#            transaction) on both sources, T is the next whole second at least 0.3 s later, nothing
#            is written until the clock is 0.5 s past T, then 10 more markers and updates until
#            their WAL segment is finished; a wait until both archives hold that segment.
# Then measures, ROUNDS (2) times, alternating which tool goes first, one restore at a time:
#   Keel        POST /v1/databases {"plan":"standard-0","rollback":"<source id>","to":"<T, RFC 3339>"}
#               -> the new database `available` and `psql "$url" -Atc 'select 1'` succeeding
#   pgBackRest  `restore --type=time --target=<T> --target-action=promote` into a fresh directory
#               (process-max PGBR_PROCESS_MAX, async archive-get), then its postgres started (as
#               `pg_ctl start` does, without the wait) -> pg_is_in_recovery() false over TCP+TLS
# and checks each restore: its markers must be the source's committed at or before T (the first
# 10), and count(*) and sum(abalance) of the table must equal the source's at T. Prints each
# round's times, the means, the ratio Keel/pgBackRest (< 1: Keel is faster) and each tool's restore
# throughput: (its backup's size + the WAL from the backup's start to T) / wall time. Each restored
# copy is removed (untimed) before the next restore starts: Keel's deleted through the API, until
# it is gone; pgBackRest's stopped and its directory removed. pgBackRest's copies restore with
# archive_mode=off, so none archives into the source's repository.
# Both sources are Postgres 15.19.0 (the binaries Keel unpacks), data checksums, the same settings
# (pgBackRest's cluster takes the keel.conf Keel wrote for its source instance, with its own port,
# socket, certificate and archive_command), loaded over TCP+TLS.
#
# Run from anywhere, as root (initdb, postgres and pgbackrest run as user postgres):
#   ops/bench/restore.sh                          # ~1 GiB, 256 MiB of WAL after, 2 rounds: ~3 min
#   ROUNDS=4 MODE=rnd ops/bench/restore.sh        # (set-up ~1.5 min; rnd's loads and backups ~1 more)
#   ONLY=pgbackrest ops/bench/restore.sh          # pgBackRest's half only (Keel still starts: it
#                                                 # serves the binaries and the settings)
# Environment:
#   ROUNDS                        restores per tool (2); Keel goes first in odd rounds
#   DB_MB                         MiB of table + index to load (1024): pgbench scale DB_MB/15 (cmp)
#   WAL_AFTER_MB                  MiB of WAL the updates write after the base backup (256)
#   MODE                          cmp (compressible, default) or rnd (incompressible)
#   ONLY                          keel or pgbackrest: set up and measure that tool only
#   PGBR_PROCESS_MAX              pgBackRest process-max for backup, restore and async archive-get
#                                 (2: the vCPUs here)
#   KEEL_BENCH_KEEL_S3            https (default: Keel uses the HTTPS endpoint pgBackRest needs, so
#                                 both pay for TLS) or http (S3Proxy's plain endpoint)
#   KEEL_JAR, BUILD               as in provision.sh (a private copy of target/keel.jar is run; the
#                                 build is `mvn -q -Dmaven.test.skip=true package`)
#   KEEL_POSTGRES_INSTALL_DIR     shared with provision.sh (/var/cache/keel-bench/postgres as root)
#   S3PROXY_JAR                   as in archive.sh (org.gaul:s3proxy:2.6.0:jar-with-dependencies)
#   KEEL_BENCH_API_PORT           Keel's API port (5492)
#   KEEL_BENCH_CATALOG_PORTS      its catalog's port range (24700-24704)
#   KEEL_BENCH_INSTANCE_PORTS     its instance port range (24705-24799): the source and the restores
#   KEEL_BENCH_S3_PORTS           S3Proxy's HTTP and HTTPS ports ("24690 24691")
#   KEEL_BENCH_PGBR_PORTS         pgBackRest's source server and its restored copies ("24692 24693")
#   KEEL_BENCH_LOG_DIR            copy every log (Keel, S3Proxy, the servers, pgBackRest, pgbench)
#                                 and the raw results there at the end
#   RESTORE_TIMEOUT               seconds one restore may take before the run gives up (1800)
#   SETTLE                        seconds of quiet (after a sync) before each restore (5)
# Everything lives in a temporary directory under /tmp (~5 GiB with DB_MB=1024: two sources, two
# buckets, one restored copy at a time), removed on exit after every process the run started is
# stopped; /etc/pgbackrest.conf is neither read nor written (--config points into it).
set -euo pipefail

ROUNDS=${ROUNDS:-2}
DB_MB=${DB_MB:-1024}
WAL_AFTER_MB=${WAL_AFTER_MB:-256}
MODE=${MODE:-cmp}
ONLY=${ONLY:-}
PGBR_PROCESS_MAX=${PGBR_PROCESS_MAX:-2}
KEEL_S3=${KEEL_BENCH_KEEL_S3:-https}
API_PORT=${KEEL_BENCH_API_PORT:-5492}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-24700-24704}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-24705-24799}
read -r S3_PORT S3_TLS_PORT <<<"${KEEL_BENCH_S3_PORTS:-24690 24691}"
read -r PGBR_PORT PGBR_RESTORE_PORT <<<"${KEEL_BENCH_PGBR_PORTS:-24692 24693}"
export RESTORE_TIMEOUT=${RESTORE_TIMEOUT:-1800}
SETTLE=${SETTLE:-5}
PG_VERSION=15.19.0          # what Keel serves for major 15 (application.yml); pgBackRest 2.45 stops at 15
UPDATE_ROWS=1000            # rows per update transaction of the WAL written after the backup
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
KEEL_BUCKET=keel-restore
PGBR_BUCKET=pgbackrest-restore
STANZA=bench

die() { echo "restore.sh: $*" >&2; exit 1; }
say() { echo "restore.sh: $*" >&2; }
now_ms() { date +%s%3N; }

[[ $(id -u) -eq 0 ]] || die "run as root: pgBackRest's cluster, like Keel's, runs as user postgres (setpriv)"
[[ $DB_MB =~ ^[1-9][0-9]*$ ]] || die "DB_MB must be a positive integer, not '$DB_MB'"
[[ $WAL_AFTER_MB =~ ^[1-9][0-9]*$ ]] || die "WAL_AFTER_MB must be a positive integer, not '$WAL_AFTER_MB'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $SETTLE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "SETTLE must be a number of seconds, not '$SETTLE'"
[[ $MODE == cmp || $MODE == rnd ]] || die "MODE is cmp or rnd, not '$MODE'"
case $ONLY in
    '') TOOLS=(keel pgbr) ;;
    keel) TOOLS=(keel) ;;
    pgbackrest | pgbr) TOOLS=(pgbr) ;;
    *) die "ONLY is keel or pgbackrest, not '$ONLY'" ;;
esac
measures() { [[ " ${TOOLS[*]} " == *" $1 "* ]]; }
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

WORK=$(mktemp -d /tmp/keel-bench-restore.XXXXXX)
chmod 755 "$WORK"            # the server user must traverse it
cd "$WORK"                   # a cwd every user can reach
mkdir -p "$WORK/results"
KEEL_DATA=$WORK/keel
KEEL_LOG=$WORK/keel.log
KEEL_PID=
S3_PID=
PGBR=$WORK/pgbr              # pgBackRest's source cluster, its restored copies, config, spool, logs
PGBR_CONF=$PGBR/pgbackrest.conf
PGBR_RESTORED=$PGBR/restored # the data directory of the copy being restored (one at a time)
PGBIN=$INSTALL_DIR/$PG_VERSION/bin

# Keel gets no KEEL_* variable from the caller's environment, only the ones set here.
KEEL_ENV=(env)
while IFS= read -r name; do KEEL_ENV+=(-u "$name"); done < <(compgen -e | grep '^KEEL_' || true)
KEEL_ENV+=("KEEL_POSTGRES_INSTALL_DIR=$INSTALL_DIR")
[[ -n ${KEEL_POSTGRES_OS_USER:-} ]] && KEEL_ENV+=("KEEL_POSTGRES_OS_USER=$KEEL_POSTGRES_OS_USER")

as_server() { setpriv --reuid="$SERVER_UID" --regid="$SERVER_GID" --clear-groups -- "$@"; }
own() { chown -R "$SERVER_UID:$SERVER_GID" "$@"; }

# pids_of_run: every process whose command line names this run's directory (ours, all of them).
pids_of_run() { pgrep -f -- "$WORK/" || true; }

stop_cluster() {  # stop_cluster DATADIR
    if [[ -f $1/postmaster.pid ]]; then
        as_server "$PGBIN/pg_ctl" stop -D "$1" -m fast -w -t 60 >/dev/null 2>&1 \
            || as_server "$PGBIN/pg_ctl" stop -D "$1" -m immediate -w >/dev/null 2>&1 || true
    fi
}

stop_pgbr() {
    stop_cluster "$PGBR_RESTORED"
    stop_cluster "$PGBR/data"
    # pgBackRest's async archive-push and archive-get outlive the command that started them, briefly.
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
for port in "$API_PORT" "$S3_PORT" "$S3_TLS_PORT" "$PGBR_PORT" "$PGBR_RESTORE_PORT"; do
    port_free "$port" || die "port $port is taken (see KEEL_BENCH_*_PORT(S))"
done
if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
    for range in "$CATALOG_PORTS" "$INSTANCE_PORTS" "$S3_PORT-$S3_TLS_PORT" "$PGBR_PORT-$PGBR_RESTORE_PORT"; do
        if (( ${range%-*} <= eph_hi && ${range#*-} >= eph_lo )); then
            say "warning: port range $range overlaps the ephemeral range $eph_lo-$eph_hi"
        fi
    done
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

# --- the S3 server: one S3Proxy, HTTP and HTTPS, two buckets (as archive.sh) ----------------------

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
java -Xmx512m -jar "$S3PROXY_JAR" --properties "$WORK/s3/s3proxy.properties" >"$WORK/s3/s3proxy.log" 2>&1 &
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

# --- the bench helper (Python): backups, the target, restores, report -----------------------------

cat >"$WORK/bench.py" <<'PY'
import calendar, glob, json, os, re, subprocess, sys, time, urllib.error, urllib.request

WORK = os.environ["BENCH_WORK"]
RESULTS = os.path.join(WORK, "results")
AUTH = os.environ.get("BENCH_AUTH", "")
PSQL = os.environ.get("PSQL", "psql")
RESTORE_TIMEOUT = float(os.environ.get("RESTORE_TIMEOUT", "1800"))
MB = 1024 * 1024
PG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3}) UTC ")   # log_timezone=UTC


def log(msg):
    print(f"restore.sh: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


def lsn(text):
    hi, lo = text.strip().split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def save(name, data):
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump(data, f, indent=1)


def load_result(name):
    path = os.path.join(RESULTS, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def utc(epoch, fmt):
    return time.strftime(fmt, time.gmtime(epoch))


def rfc3339(epoch):          # Keel's "to"
    return utc(epoch, "%Y-%m-%dT%H:%M:%SZ")


def pg_time(epoch):          # pgBackRest's --target (and Postgres' recovery_target_time)
    return utc(epoch, "%Y-%m-%d %H:%M:%S+00")


# --- psql: one-shot queries, and a coprocess for the marker phase ---------------------------------

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
        p = subprocess.run([PSQL, "-X", "-Atq", "-v", "ON_ERROR_STOP=1", url, "-c", sql], capture_output=True, text=True)
        die(f"psql failed on {sql!r}: {p.stderr.strip()}")
    return rows


class Psql:
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


# --- Keel's API -----------------------------------------------------------------------------------

def http(method, url, body=None, timeout=60):
    request = urllib.request.Request(url, method=method, headers={"Authorization": f"Bearer {AUTH}",
                                                                  "Content-Type": "application/json"})
    if method == "POST":
        request.data = json.dumps(body if body is not None else {}).encode()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode(errors="replace")


def api_json(url):
    code, body = http("GET", url)
    if code != 200:
        die(f"GET {url} answered {code}: {body}")
    return body


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


# --- data directory size: what a base backup copies (as archive.sh) -------------------------------

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


# --- the base backups (set-up, not the measurement) -----------------------------------------------

def keel_backup(api, db, data_dir):
    base = f"{api}/v1/databases/{db}/backups"
    deadline = time.time() + 600
    while any(b["state"] == "running" for b in api_json(base)):   # a backup still running (the first one)
        if time.time() > deadline:
            die("a Keel backup has been running for 10 minutes")
        time.sleep(0.5)
    size = datadir_size(data_dir)
    t0 = time.time()
    code, body = http("POST", base)
    if code != 202:
        die(f"POST {base} answered {code}: {body}")
    backup = body["id"]
    while True:
        b = api_json(f"{base}/{backup}")
        if b["state"] == "completed":
            break
        if b["state"] == "failed":
            die(f"Keel's backup {backup} failed: {b.get('error')}")
        if time.time() - t0 > 1800:
            die(f"Keel's backup {backup} did not complete within 30 minutes")
        time.sleep(0.2)
    save("backup-keel", dict(tool="keel", id=backup, datadir=size, wall=time.time() - t0, size=b["size_bytes"],
                             stored=b["stored_bytes"], start_lsn=b["start_lsn"], stop_lsn=b["stop_lsn"]))
    log(f"keel: backup {backup} of {size / MB:.0f} MiB in {time.time() - t0:.1f} s"
        f" ({b['size_bytes'] / MB:.0f} MiB, stored {b['stored_bytes'] / MB:.0f} MiB)")


def pgbr_backup(wrapper, data_dir):
    size = datadir_size(data_dir)
    t0 = time.time()
    p = subprocess.run([wrapper, "--type=full", "--log-level-console=info", "backup"], capture_output=True, text=True)
    wall = time.time() - t0
    with open(os.path.join(WORK, "pgbackrest-backup.log"), "w") as f:
        f.write(p.stdout + p.stderr)
    if p.returncode != 0:
        die(f"pgbackrest backup failed ({p.returncode}): {(p.stdout + p.stderr)[-2000:]}")
    info = json.loads(subprocess.run([wrapper, "--output=json", "info"], capture_output=True, text=True, check=True).stdout)
    b = info[0]["backup"][-1]
    save("backup-pgbr", dict(tool="pgbr", label=b["label"], datadir=size, wall=wall, size=b["info"]["size"],
                             stored=b["info"]["repository"]["delta"], start_lsn=b["lsn"]["start"], stop_lsn=b["lsn"]["stop"]))
    log(f"pgbr: backup {b['label']} of {size / MB:.0f} MiB in {wall:.1f} s"
        f" ({b['info']['size'] / MB:.0f} MiB, stored {b['info']['repository']['delta'] / MB:.0f} MiB)")


# --- settings parity (as archive.sh) --------------------------------------------------------------

SETTINGS = ["server_version", "data_checksums", "wal_segment_size", "wal_level", "wal_compression", "wal_buffers",
            "full_page_writes", "synchronous_commit", "fsync", "shared_buffers", "max_wal_size", "min_wal_size",
            "checkpoint_timeout", "checkpoint_completion_target", "archive_mode", "archive_timeout", "max_connections",
            "ssl", "wal_writer_delay", "commit_delay", "effective_io_concurrency", "bgwriter_lru_maxpages",
            "maintenance_work_mem", "recovery_prefetch", "maintenance_io_concurrency", "wal_decode_buffer_size"]


def settings(url_keel, url_pgbr):
    found = {}
    for tool, url in (("keel", url_keel), ("pgbr", url_pgbr)):
        names = ",".join(f"'{n}'" for n in SETTINGS)
        found[tool] = dict(r.split("|", 1) for r in must(
            url, f"select name, current_setting(name) from pg_settings where name in ({names}) order by name"))
    differ = [n for n in SETTINGS if found["keel"].get(n) != found["pgbr"].get(n)]
    save("settings", dict(found=found, differ=differ))
    if differ:
        die("the two servers differ in " + ", ".join(f"{n} (keel {found['keel'].get(n)}, pgbackrest {found['pgbr'].get(n)})"
                                                     for n in differ))


# --- the target time ------------------------------------------------------------------------------

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

def report(meta_path):
    with open(meta_path) as f:
        meta = json.load(f)
    rounds = int(meta["rounds"])
    tools = meta["tools"]
    name = {"keel": "Keel", "pgbr": "pgBackRest"}
    R = {tool: [load_result(f"restore-{tool}-r{i}") for i in range(1, rounds + 1)] for tool in tools}
    B = {tool: load_result(f"backup-{tool}") for tool in tools}
    tgt = load_result("target")
    st = load_result("settings")

    def mean(v):
        v = [x for x in v if x is not None]
        return sum(v) / len(v) if v else None

    def fmt(v, d=1):
        return "-" if v is None else f"{v:.{d}f}"

    def ratio(k, p):
        return "-" if k is None or p is None or p == 0 else f"{k / p:.2f}x"

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
    command, args = sys.argv[1], sys.argv[2:]
    commands = {"wait-first-backup": wait_first_backup, "keel-backup": keel_backup, "pgbr-backup": pgbr_backup,
                "settings": settings, "target": target, "archived": lambda *a: archived(*a[:5], float(a[5])),
                "keel-restore": keel_restore, "pgbr-restore": pgbr_restore, "report": report}
    if command not in commands:
        die(f"unknown command {command}")
    commands[command](*args)
PY
export BENCH_WORK=$WORK PSQL RESTORE_TIMEOUT
bench() { python3 "$WORK/bench.py" "$@"; }

json_field() {  # json_field NAME JSON: the string value of "NAME" (flat JSON, no escaped quotes)
    if [[ $2 =~ \"$1\":\"([^\"]*)\" ]]; then
        local value=${BASH_REMATCH[1]}
        printf '%s' "${value//\\\//\/}"
    fi
}

# --- Keel: its source database (and, even with ONLY=pgbackrest, the binaries and settings) ---------

keel_s3_endpoint=http://127.0.0.1:$S3_PORT
[[ $KEEL_S3 == https ]] && keel_s3_endpoint=https://127.0.0.1:$S3_TLS_PORT
say "starting Keel on $API (data under $KEEL_DATA, S3 $keel_s3_endpoint bucket $KEEL_BUCKET) ..."
"${KEEL_ENV[@]}" KEEL_DATA_DIR="$KEEL_DATA" KEEL_PORT="$API_PORT" KEEL_CATALOG_PORTS="$CATALOG_PORTS" \
    KEEL_INSTANCES_PORTS="$INSTANCE_PORTS" KEEL_INSTANCES_POOL_SIZE=0 \
    KEEL_S3_ENDPOINT="$keel_s3_endpoint" KEEL_S3_REGION=us-east-1 KEEL_S3_BUCKET="$KEEL_BUCKET" \
    KEEL_S3_ACCESS_KEY_ID="$S3_ID" KEEL_S3_SECRET_ACCESS_KEY="$S3_SECRET" \
    java -Djavax.net.ssl.trustStore="$WORK/s3/truststore" -Djavax.net.ssl.trustStorePassword=changeit \
    -jar "$WORK/keel.jar" >"$KEEL_LOG" 2>&1 &
KEEL_PID=$!
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

say "provisioning Keel's source database (standard-0, Postgres 15; the first run unpacks $PG_VERSION) ..."
body=$(curl -sS -H "$AUTH" -H 'Content-Type: application/json' -d '{"plan":"standard-0","version":"15","name":"restore-source"}' \
    "$API/v1/databases")
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

# --- pgBackRest's source cluster: same binaries, same settings (as archive.sh) ---------------------

if measures pgbr; then
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
        echo "archive_command = 'pgbackrest --config=$PGBR_CONF --stanza=$STANZA archive-push %p'"
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
    # pgbackrest as the server user: bench.py runs backup, info and restore through this.
    cat >"$PGBR/pgbackrest" <<EOF
#!/bin/sh
exec setpriv --reuid=$SERVER_UID --regid=$SERVER_GID --clear-groups -- pgbackrest --config=$PGBR_CONF --stanza=$STANZA "\$@"
EOF
    chmod 700 "$PGBR/pgbackrest"
    as_server "$PGBIN/pg_ctl" start -w -D "$PGBR/data" -l "$PGBR/postgresql.log" >/dev/null \
        || die "pgBackRest's cluster did not start: $(tail -n 5 "$PGBR/postgresql.log")"
    PGBR_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    as_server "$PSQL" -X -q -h "$PGBR/sock" -p "$PGBR_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c "create role bench login password '$PGBR_PASSWORD'" -c "create database bench owner bench" >/dev/null \
        || die "could not create pgBackRest's database"
    PGBR_URL="postgres://bench:$PGBR_PASSWORD@127.0.0.1:$PGBR_PORT/bench?sslmode=require"
    # Its restored copies: the same role and password, their own port.
    PGBR_RESTORED_URL="postgres://bench:$PGBR_PASSWORD@127.0.0.1:$PGBR_RESTORE_PORT/bench?sslmode=require"
    "$PGBR/pgbackrest" stanza-create >"$PGBR/stanza.log" 2>&1 || die "stanza-create failed: $(cat "$PGBR/stanza.log")"
    "$PGBR/pgbackrest" check >"$PGBR/check.log" 2>&1 || die "pgbackrest check failed: $(cat "$PGBR/check.log")"
    bench settings "$KEEL_URL" "$PGBR_URL"
fi

declare -A URL=([keel]=$KEEL_URL [pgbr]=${PGBR_URL:-})

# --- the data: the same generator on both sources -------------------------------------------------

if [[ $MODE == cmp ]]; then
    TABLE=pgbench_accounts
    SCALE=$(( (DB_MB + 7) / 15 ))          # pgbench -i: ~15 MiB of table and index per scale unit
    (( SCALE >= 1 )) || SCALE=1
    ROWS=$(( SCALE * 100000 ))
    DATA_DESC="pgbench -i -s $SCALE (server-side generation): $ROWS pgbench_accounts rows (blank filler, compressible)"
else
    TABLE=bench_rnd
    ROWS=$(( DB_MB * 1024 * 1024 / 1180 ))  # ~1180 bytes of table and index per row
    DATA_DESC="$ROWS pgbench_accounts-shaped rows of bench_rnd with 1 KiB of sha256 output as filler (incompressible)"
fi
MARKERS="create table bench_marker (id int primary key, ts timestamptz not null default clock_timestamp());"

load() {  # load TOOL: the table, its index, the marker table
    local url=${URL[$1]}
    say "$1: loading ~$DB_MB MiB ($MODE) ..."
    if [[ $MODE == cmp ]]; then
        "$PGBENCH" -i -q -s "$SCALE" -I dtGvp "$url" >"$WORK/pgbench-init-$1.log" 2>&1 \
            || die "pgbench -i failed on $1: $(tail -n 5 "$WORK/pgbench-init-$1.log")"
    else
        local batch=100000 from sql
        sql="drop table if exists bench_rnd; create table bench_rnd (aid int not null, bid int, abalance int, filler bytea);"
        for ((from = 1; from <= ROWS; from += batch)); do
            sql+="insert into bench_rnd select i, (i - 1) / 100000 + 1, 0, (select string_agg(sha256(int4send(i) || int4send(j)), ''::bytea)
                  from generate_series(1, 32) j) from generate_series($from, $(( from + batch - 1 < ROWS ? from + batch - 1 : ROWS ))) i;"
        done
        sql+="alter table bench_rnd add primary key (aid); vacuum analyze bench_rnd;"
        "$PSQL" -X -q "$url" -v ON_ERROR_STOP=1 -f - <<<"$sql" >"$WORK/load-$1.log" 2>&1 \
            || die "loading bench_rnd failed on $1: $(tail -n 5 "$WORK/load-$1.log")"
    fi
    # No autovacuum or autoanalyze adds WAL of its own at an arbitrary moment (with data checksums,
    # hint bits and the visibility map WAL-log whole pages).
    "$PSQL" -X -q "$url" -v ON_ERROR_STOP=1 -c "alter table $TABLE set (autovacuum_enabled = off); $MARKERS" >/dev/null \
        || die "could not prepare the tables on $1"
}

# The WAL after the backup: 1000-row range updates (non-HOT: pgbench's pages are full), run in chunks
# of pgbench transactions with fixed seeds; the first tool's chunks are repeated on the other.
cat >"$WORK/update.sql" <<EOF
\\set a random(1, $(( ROWS - UPDATE_ROWS + 1 )))
update $TABLE set abalance = abalance + 1 where aid between :a and :a + $(( UPDATE_ROWS - 1 ));
EOF
wal_bytes_since() { "$PSQL" -X -Atq "$1" -c "select pg_wal_lsn_diff(pg_current_wal_lsn(), '$2')::bigint"; }
chunk() {  # chunk TOOL TRANSACTIONS SEED
    "$PGBENCH" -n -c 1 -t "$2" --random-seed="$3" -f "$WORK/update.sql" "${URL[$1]}" >>"$WORK/pgbench-update-$1.log" 2>&1 \
        || die "the update load failed on $1: $(tail -n 5 "$WORK/pgbench-update-$1.log")"
}
write_wal() {  # write_wal TOOL [chunks file to repeat]
    local url=${URL[$1]} start written=0 target=$(( WAL_AFTER_MB * 1024 * 1024 )) tx=20 seed=1 n s
    start=$("$PSQL" -X -Atq "$url" -c "select pg_current_wal_lsn()")
    if [[ -n ${2:-} ]]; then
        while read -r n s; do chunk "$1" "$n" "$s"; done <"$2"
    else
        : >"$WORK/chunks"
        while (( written < target )); do
            chunk "$1" "$tx" "$seed"
            echo "$tx $seed" >>"$WORK/chunks"
            local before=$written
            written=$(wal_bytes_since "$url" "$start")
            # The next chunk: what is left, at the rate seen so far (at least 5 transactions).
            tx=$(( (target - written) * tx / (written - before > 0 ? written - before : 1) ))
            (( tx >= 5 )) || tx=5
            seed=$(( seed + 1 ))
        done
    fi
    written=$(wal_bytes_since "$url" "$start")
    say "$1: $(( written / 1024 / 1024 )) MiB of WAL written after the backup"
}

for tool in "${TOOLS[@]}"; do load "$tool"; done

# --- base backups, the WAL after them, the target time --------------------------------------------

for tool in "${TOOLS[@]}"; do
    say "$tool: base backup ..."
    if [[ $tool == keel ]]; then
        bench keel-backup "$API" "$DB" "$KEEL_INSTANCE/data"
    else
        bench pgbr-backup "$PGBR/pgbackrest" "$PGBR/data"
    fi
done
first=
for tool in "${TOOLS[@]}"; do
    if [[ -z $first ]]; then write_wal "$tool"; first=$tool; else write_wal "$tool" "$WORK/chunks"; fi
done

target_args=()
for tool in "${TOOLS[@]}"; do target_args+=("$tool" "${URL[$tool]}"); done
bench target "$TABLE" "${target_args[@]}"
# A little more WAL past T: updates until the segment holding the markers after T is finished (the
# database owner may not call pg_switch_wal(), and archive_timeout would take a minute); then wait
# until both stores hold that segment.
for tool in "${TOOLS[@]}"; do
    segment=$("$PSQL" -X -Atq "${URL[$tool]}" -c "select pg_walfile_name(pg_current_wal_lsn())")
    seed=1000
    while [[ $("$PSQL" -X -Atq "${URL[$tool]}" -c "select pg_walfile_name(pg_current_wal_lsn())") == "$segment" ]]; do
        chunk "$tool" 5 "$seed"
        seed=$(( seed + 1 ))
    done
    say "$tool: waiting until segment $segment (past T) is archived ..."
    t=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["t"])' "$WORK/results/target.json")
    if [[ $tool == keel ]]; then
        bench archived keel "$WORK/s3/data/$KEEL_BUCKET/$DB/wal" "$segment" "$API" "$DB" "$t"
    else
        bench archived pgbr "$WORK/s3/data/$PGBR_BUCKET/pgbackrest/archive/$STANZA/15-1" "$segment" - - "$t"
    fi
done

python3 - "$WORK/results/meta.json" <<PY
import json, os, sys, time
model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
json.dump(dict(cpus=os.cpu_count(), cpu_model=model, started=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
               keel_s3="$KEEL_S3", keel_bucket="$KEEL_BUCKET", pgbr_bucket="$PGBR_BUCKET", tools="${TOOLS[*]}".split(),
               keel_version="$KEEL_VERSION", pgbr_version="pgBackRest $PGBR_VERSION", pgbr_process_max="$PGBR_PROCESS_MAX",
               mode="$MODE", data="$DATA_DESC", db_mb=$DB_MB, wal_after_mb=$WAL_AFTER_MB, update_rows=$UPDATE_ROWS,
               rounds=$ROUNDS), open(sys.argv[1], "w"))
PY

# --- the measurements ----------------------------------------------------------------------------

restore_run() {  # restore_run TOOL ROUND
    sync                                                 # untimed: the last copy's writes flushed, and
    sleep "$SETTLE"                                      # the background work it left let settle
    say "round $2, $1: restore to T ..."
    if [[ $1 == keel ]]; then
        bench keel-restore "$2" "$API" "$DB"
    else
        rm -rf "$PGBR_RESTORED"                          # untimed: a fresh, empty directory, and no
        rm -rf "$PGBR/spool/archive/$STANZA/in"          # WAL prefetched by the last restore's archive-get
        mkdir -m 700 "$PGBR_RESTORED"
        own "$PGBR_RESTORED"
        bench pgbr-restore "$2" "$PGBR/pgbackrest" "$PGBR_RESTORED" "$PGBIN" "$PGBR_RESTORE_PORT" "$PGBR_RESTORED_URL" \
            "$SERVER_UID" "$SERVER_GID" "$PGBR/restored-r$2.log"
        stop_cluster "$PGBR_RESTORED"                    # untimed: stop the copy and remove it
        rm -rf "$PGBR_RESTORED"
    fi
}
for ((round = 1; round <= ROUNDS; round++)); do
    if (( round % 2 )); then order=(keel pgbr); else order=(pgbr keel); fi
    for tool in "${order[@]}"; do
        if measures "$tool"; then restore_run "$tool" "$round"; fi
    done
done

# Stop everything before the report, so the check for leftovers below means something.
stop_pgbr
stop_keel
stop_s3

rc=0
bench report "$WORK/results/meta.json" || rc=$?
left=$(pids_of_run)
if [[ -n $left ]]; then
    say "still running after the stop (cleanup ends them): $(echo $left)"
fi
exit "$rc"
