#!/usr/bin/env bash
# ops/bench/failover.sh: how long an unplanned failover of a premium (HA) database takes, against
# the floor of a failover by hand with the same Postgres binaries, and how far a follower lags
# behind its leader under a steady write load; in one run.
#
# Measures:
#   keel   N times (default 5), each on a fresh premium-0 database once GET /v1/databases/{id}/ha
#          says "Available" (its standby streams): the time from `kill -STOP` of the primary's
#          postmaster (found through its postmaster.pid, whose 4th line is the port in the
#          database's url) to the first successful `insert` through the database's url, polled
#          every POLL_INTERVAL (0.05 s) until it names another server, then tried until it works.
#          The failover monitor runs on its defaults (a login every 1 s, a login timeout of 1 s,
#          3 missed checks), so this includes detection. Only the postmaster is stopped: the
#          primary takes no new connection, but its walsender keeps streaming, as when a server
#          hangs. Keel fences (kills) the stopped server itself. Each database is deleted afterwards
#          (untimed), and the next sample starts once it is gone.
#   floor  the same failover by hand, with the very binaries Keel serves (its default major), one
#          after each keel sample: initdb a primary (Keel's initdb flags), copy its cleanly shut
#          down data directory as a standby (standby.signal and primary_conninfo: what
#          `pg_basebackup -R` leaves, without a backup to take; the system's pg_basebackup may be
#          of an older major, which cannot copy a newer server), start both, wait until the
#          standby has replayed a table made on the primary, then `kill -STOP` the primary's
#          postmaster, at once `pg_ctl promote -w` the standby, and insert on it until that
#          succeeds. No detection at all, no TLS: what a failover cannot beat on this machine.
#   lag    a standard-0 leader and a follower of it (POST {"plan":"standard-0","follow":<leader>}):
#          pgbench (1 client, --rate LAG_RATE, 100/s, one ~512-byte insert per transaction) on
#          the leader for LAG_SECONDS (30), and GET /v1/databases/{follower} every LAG_SAMPLE
#          (0.5 s) meanwhile: its lag_bytes and lag_seconds (the leader's pg_stat_replication:
#          WAL not replayed yet, and replay_lag).
# Prints p50/max/min of keel and floor, the ratios keel/floor, keel against the 10 s target and
# the quoted figures of others (RDS Multi-AZ 60-120 s, Heroku ~2 minutes to confirm a failure,
# Patroni's defaults ~30 s, CloudNativePG's e2e budget 10 s: quoted, not measured here), where
# keel's time goes (Keel's log and the poller), the monitor's decisions and the fail_over
# sentence, and p50/p95/max of the follower's lag_bytes and lag_seconds.
#
# Run from anywhere, as root or not (as root, initdb/postgres run as user postgres, else keel):
#   ops/bench/failover.sh                       # N=5, LAG_SECONDS=30: ~2-2.5 minutes on 2 vCPUs
#   N=10 LAG_SECONDS=60 LAG_RATE=500 ops/bench/failover.sh
#   ONLY=failover ops/bench/failover.sh         # or ONLY=lag
# Environment:
#   N                             failover samples, keel and floor each (5)
#   SETTLE                        seconds of quiet before each SIGSTOP (2)
#   FAILOVER_TIMEOUT              seconds a keel sample may take before it counts as failed (120);
#                                 the stopped postmaster is then continued, and the run goes on
#   POLL_INTERVAL                 seconds between GETs / insert attempts while failing over (0.05)
#   LAG_SECONDS, LAG_RATE         the follower part's load: seconds, transactions/s (30, 100)
#   LAG_SAMPLE                    seconds between GETs of the follower (0.5)
#   ONLY                          failover or lag: measure one part only
#   HA_CHECK_INTERVAL, HA_MISSES, HA_PROBE_TIMEOUT_SECONDS
#                                 passed to Keel as KEEL_HA_*; default to Keel's defaults (1s, 3, 1)
#   KEEL_JAR, BUILD               as in provision.sh (a private copy of target/keel.jar is run,
#                                 built with `mvn -q -DskipTests package` when missing or older
#                                 than HEAD, or with BUILD=1; never when KEEL_JAR is set)
#   KEEL_POSTGRES_INSTALL_DIR     shared with the other benchmarks ($HOME/.cache/keel-bench/postgres;
#                                 /var/cache/keel-bench/postgres as root)
#   PGBENCH                       the pgbench to load with (default: one next to Keel's binaries,
#                                 else the first of PATH and /usr/lib/postgresql/*/bin)
#   KEEL_BENCH_API_PORT           Keel's API port (5493)
#   KEEL_BENCH_CATALOG_PORTS      its embedded catalog's port range (24400-24404)
#   KEEL_BENCH_S3_PORTS           its embedded S3Proxy's port range (24405-24409)
#   KEEL_BENCH_INSTANCE_PORTS     its instance port range (24410-24499)
#   KEEL_BENCH_FLOOR_PORTS        the floor's primary and standby (24500-24509)
#   KEEL_BENCH_LOG_DIR            copy Keel's log, pgbench's and the raw samples there at the end
# The ranges are clear of provision.sh (24700-24899, API 5490), archive.sh (24590-24699, 5491),
# restore.sh (24690-24799, 5492), a Keel on its defaults (24850-25999), the tests (26000-32767),
# and lie below Linux's ephemeral range (32768-60999 by default), where a port free when chosen
# can be taken by an outgoing connection before the server binds it.
# Everything else lives in a temporary directory under /tmp that is removed on exit, after Keel,
# every Postgres server the run started (a stopped one is continued first) and pgbench are stopped.
set -euo pipefail

N=${N:-5}
SETTLE=${SETTLE:-2}
FAILOVER_TIMEOUT=${FAILOVER_TIMEOUT:-120}
POLL=${POLL_INTERVAL:-0.05}
LAG_SECONDS=${LAG_SECONDS:-30}
LAG_RATE=${LAG_RATE:-100}
LAG_SAMPLE=${LAG_SAMPLE:-0.5}
ONLY=${ONLY:-}
HA_CHECK_INTERVAL=${HA_CHECK_INTERVAL:-1s}
HA_MISSES=${HA_MISSES:-3}
HA_PROBE_TIMEOUT_SECONDS=${HA_PROBE_TIMEOUT_SECONDS:-1}
API_PORT=${KEEL_BENCH_API_PORT:-5493}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-24400-24404}
S3_PORTS=${KEEL_BENCH_S3_PORTS:-24405-24409}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-24410-24499}
FLOOR_PORTS=${KEEL_BENCH_FLOOR_PORTS:-24500-24509}
TARGET_MS=10000
REPO=$(cd "$(dirname "$0")/../.." && pwd)
JAR_SRC=${KEEL_JAR:-$REPO/target/keel.jar}
if [[ $(id -u) -eq 0 ]]; then
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-/var/cache/keel-bench/postgres}
else
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-$HOME/.cache/keel-bench/postgres}
fi
API=http://127.0.0.1:$API_PORT
PSQL=${PSQL:-psql}

die() { echo "failover.sh: $*" >&2; exit 1; }
say() { echo "failover.sh: $*" >&2; }
now_ms() { date +%s%3N; }

[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, not '$N'"
[[ $LAG_RATE =~ ^[1-9][0-9]*$ ]] || die "LAG_RATE must be a positive integer, not '$LAG_RATE'"
[[ $LAG_SECONDS =~ ^[1-9][0-9]*$ ]] || die "LAG_SECONDS must be a positive integer, not '$LAG_SECONDS'"
[[ -z $ONLY || $ONLY == failover || $ONLY == lag ]] || die "ONLY is failover or lag, not '$ONLY'"
for tool in curl java python3 "$PSQL" pgrep; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
[[ $(id -u) -ne 0 ]] || command -v setpriv >/dev/null || die "setpriv is required as root"

WORK=$(mktemp -d /tmp/keel-bench-failover.XXXXXX)
chmod 755 "$WORK"            # the server user must traverse it
cd "$WORK"                   # a cwd every user can reach (initdb/pg_ctl run as another user)
DATA=$WORK/keel
LOG=$WORK/keel.log
KEEL_PID=
PGBENCH_PID=
STOPPED=()                   # postmasters this run has sent SIGSTOP and not seen end
FLOOR_DIR=                   # the floor's pair while it is alive
PGBIN=
AUTH=
CA=$DATA/ca.pem

# Keel starts with no KEEL_* variable from the caller's environment (a KEEL_CATALOG_URL pointing
# at a real catalog must not leak in), only the ones set here.
KEEL_ENV=(env)
while IFS= read -r name; do KEEL_ENV+=(-u "$name"); done < <(compgen -e | grep '^KEEL_' || true)
KEEL_ENV+=("KEEL_POSTGRES_INSTALL_DIR=$INSTALL_DIR")
[[ -n ${KEEL_POSTGRES_OS_USER:-} ]] && KEEL_ENV+=("KEEL_POSTGRES_OS_USER=$KEEL_POSTGRES_OS_USER")

as_server() {
    if [[ -n ${SERVER_UID:-} ]]; then
        setpriv --reuid="$SERVER_UID" --regid="$SERVER_GID" --clear-groups -- "$@"
    else
        "$@"
    fi
}

own() { [[ -z ${SERVER_UID:-} ]] || chown "$SERVER_UID:$SERVER_GID" "$@"; }

# continue_stopped: sends SIGCONT to every postmaster this run stopped that still lives, so that it
# can be stopped (a stopped process only acts on SIGKILL).
continue_stopped() {
    local pid
    for pid in "${STOPPED[@]}"; do
        kill -CONT "$pid" 2>/dev/null || true
    done
    STOPPED=()
}

stop_floor() {
    [[ -n $FLOOR_DIR ]] || return 0
    local side
    for side in primary standby; do
        if [[ -f $FLOOR_DIR/$side/postmaster.pid ]]; then
            as_server "$PGBIN/pg_ctl" stop -D "$FLOOR_DIR/$side" -m immediate -w >/dev/null 2>&1 || true
        fi
    done
    rm -rf "$FLOOR_DIR"
    FLOOR_DIR=
}

stop_keel() {
    if [[ -n $KEEL_PID ]] && kill -0 "$KEEL_PID" 2>/dev/null; then
        kill "$KEEL_PID"
        wait "$KEEL_PID" 2>/dev/null || true
    fi
    KEEL_PID=
    if [[ -d $DATA ]]; then
        "${KEEL_ENV[@]}" KEEL_DATA_DIR="$DATA" java -jar "$WORK/keel.jar" stop >/dev/null 2>&1 \
            || say "'keel.jar stop' failed; check for servers under $DATA"
    fi
}

pids_of_run() { pgrep -f -- "$WORK/" || true; }

cleanup() {
    local rc=$? left pid
    set +e
    trap '' INT TERM
    if [[ -n $PGBENCH_PID ]]; then
        kill "$PGBENCH_PID" 2>/dev/null
        wait "$PGBENCH_PID" 2>/dev/null
    fi
    continue_stopped
    stop_floor
    stop_keel
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
        cp "$WORK"/*.log "$WORK"/*.samples "$WORK"/*.meta "$WORK"/ha-*.json "$KEEL_BENCH_LOG_DIR"/ 2>/dev/null
    fi
    if [[ $rc -ne 0 && -f $LOG ]]; then
        echo "--- last lines of Keel's log ---" >&2
        tail -n 30 "$LOG" >&2
    fi
    cd /
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the jar -------------------------------------------------------------------------------------

head_time=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || echo 0)
if [[ -z ${KEEL_JAR:-} ]] && [[ ${BUILD:-0} == 1 || ! -f $JAR_SRC || $(stat -c %Y "$JAR_SRC") -lt $head_time ]]; then
    say "building $JAR_SRC (missing, older than HEAD, or BUILD=1) ..."
    (cd "$REPO" && mvn -B -q -DskipTests package >&2) || die "the build failed"   # stdout: the report only
fi
[[ -f $JAR_SRC ]] || die "$JAR_SRC does not exist"
if [[ -z ${KEEL_JAR:-} && -n $(git -C "$REPO" status --porcelain -- src pom.xml 2>/dev/null) ]]; then
    say "warning: $REPO has uncommitted changes under src/ or pom.xml; the jar may not be HEAD's"
fi
# A private copy, retried until it is a whole zip: another build may be rewriting the jar.
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    cp "$JAR_SRC" "$WORK/keel.jar" 2>/dev/null \
        && python3 -c 'import sys, zipfile; sys.exit(zipfile.ZipFile(sys.argv[1]).testzip() is not None)' \
            "$WORK/keel.jar" 2>/dev/null \
        && break
    (( attempt < 10 )) || die "could not copy a complete $JAR_SRC (is a build rewriting it?)"
    sleep 3
done

if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
    for range in "$CATALOG_PORTS" "$S3_PORTS" "$INSTANCE_PORTS" "$FLOOR_PORTS"; do
        if (( ${range%-*} <= eph_hi && ${range#*-} >= eph_lo )); then
            say "warning: port range $range overlaps the ephemeral range $eph_lo-$eph_hi; a server may fail to bind its port"
        fi
    done
fi
mkdir -p "$INSTALL_DIR"

# --- helpers -------------------------------------------------------------------------------------

json_field() {  # json_field NAME JSON: the first string value of "NAME" (flat JSON, no escaped quotes)
    if [[ $2 =~ \"$1\":\"([^\"]*)\" ]]; then
        local value=${BASH_REMATCH[1]}
        printf '%s' "${value//\\\//\/}"
    fi
}

json_number() {  # json_number NAME JSON: the first number (or null) value of "NAME"
    if [[ $2 =~ \"$1\":(null|-?[0-9][0-9.eE+-]*) ]]; then
        printf '%s' "${BASH_REMATCH[1]}"
    fi
}

# verified URL: the database's url, checked against Keel's CA.
verified() { printf '%s&sslmode=verify-full&sslrootcert=%s' "$1" "$CA"; }

api() {  # api METHOD PATH [BODY]: prints the body, then a line with the status code
    local args=(-sS --max-time 10 -w '\n%{http_code}' -X "$1" -H "$AUTH")
    [[ -n ${3:-} ]] && args+=(-H 'Content-Type: application/json' -d "$3")
    curl "${args[@]}" "$API$2"
}

code_of() { printf '%s' "${1##*$'\n'}"; }
body_of() { printf '%s' "${1%$'\n'*}"; }

# create BODY: POST /v1/databases; prints the new database's id and name.
create() {
    local response code body
    response=$(api POST /v1/databases "$1")
    code=$(code_of "$response")
    body=$(body_of "$response")
    [[ $code == 202 ]] || die "POST /v1/databases $1 answered $code: $body"
    printf '%s %s\n' "$(json_field id "$body")" "$(json_field name "$body")"
}

# wait_available ID SECONDS: until the database is available; prints its JSON.
wait_available() {
    local body state deadline=$(( $(now_ms) + $2 * 1000 ))
    while :; do
        body=$(body_of "$(api GET "/v1/databases/$1")")
        state=$(json_field state "$body")
        case $state in
            available) printf '%s' "$body"; return ;;
            creating) ;;
            *) die "database $1 is '$state': $body" ;;
        esac
        (( $(now_ms) < deadline )) || die "database $1 not available after $2 s: $body"
        sleep 0.2
    done
}

# wait_ha_available ID SECONDS: until GET .../ha says the standby is Available.
wait_ha_available() {
    local body deadline=$(( $(now_ms) + $2 * 1000 ))
    while :; do
        body=$(body_of "$(api GET "/v1/databases/$1/ha")")
        [[ $(json_field status "$body") == Available ]] && return
        (( $(now_ms) < deadline )) || die "database $1: HA not Available after $2 s: $body"
        sleep 0.5
    done
}

# delete ID: DELETE and wait until it is 404.
delete() {
    local response deadline=$(( $(now_ms) + 180000 ))
    response=$(api DELETE "/v1/databases/$1")
    [[ $(code_of "$response") == 202 ]] || die "DELETE /v1/databases/$1 answered $(code_of "$response"): $(body_of "$response")"
    until [[ $(code_of "$(api GET "/v1/databases/$1")") == 404 ]]; do
        (( $(now_ms) < deadline )) || die "database $1 not deleted after 180 s"
        sleep 0.2
    done
}

url_port() { [[ $1 =~ @[^/@]*:([0-9]+)/ ]] && printf '%s' "${BASH_REMATCH[1]}"; }

# postmaster_of PORT: "pid instance_id" of the server under $DATA/instances listening on PORT
# (the 4th line of postmaster.pid is its port).
postmaster_of() {
    local file
    for file in "$DATA"/instances/*/data/postmaster.pid; do
        [[ -f $file ]] || continue
        if [[ $(sed -n 4p "$file") == "$1" ]]; then
            local dir=${file%/data/postmaster.pid}
            printf '%s %s\n' "$(sed -n 1p "$file")" "${dir##*/}"
            return 0
        fi
    done
    return 1
}

# free_ports COUNT FIRST-LAST: COUNT ports of the range a server could listen on now.
free_ports() {
    python3 - "$1" "$2" <<'PY'
import socket, sys
count = int(sys.argv[1])
first, last = map(int, sys.argv[2].split("-"))
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
        print(" ".join(map(str, found)))
        sys.exit(0)
sys.exit(1)
PY
}

# --- Keel ----------------------------------------------------------------------------------------

start_keel() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null; then
        die "port $API_PORT is taken; set KEEL_BENCH_API_PORT"
    fi
    say "starting Keel on $API (data under $DATA, Postgres binaries in $INSTALL_DIR) ..."
    "${KEEL_ENV[@]}" KEEL_DATA_DIR="$DATA" KEEL_PORT="$API_PORT" KEEL_CATALOG_PORTS="$CATALOG_PORTS" \
        KEEL_S3_EMBEDDED_PORTS="$S3_PORTS" KEEL_INSTANCES_PORTS="$INSTANCE_PORTS" KEEL_INSTANCES_POOL_SIZE=1 \
        KEEL_HA_CHECK_INTERVAL="$HA_CHECK_INTERVAL" KEEL_HA_MISSES="$HA_MISSES" \
        KEEL_HA_PROBE_TIMEOUT_SECONDS="$HA_PROBE_TIMEOUT_SECONDS" \
        java -jar "$WORK/keel.jar" >"$LOG" 2>&1 &
    KEEL_PID=$!
    local deadline=$(( $(now_ms) + 900000 ))   # the first start may download and unpack Postgres
    until [[ $(curl -s -o /dev/null -w '%{http_code}' "$API/health" 2>/dev/null) == 200 ]]; do
        kill -0 "$KEEL_PID" 2>/dev/null || die "Keel exited during startup"
        (( $(now_ms) < deadline )) || die "Keel did not become healthy within 15 minutes"
        sleep 0.2
    done
    [[ -s $DATA/admin-api-key ]] || die "no admin API key at $DATA/admin-api-key"
    AUTH="Authorization: Bearer $(<"$DATA/admin-api-key")"
    [[ -s $CA ]] || die "no CA certificate at $CA"
}

# find_pgbin: the binaries Keel serves for its default major (its banner names the version), and
# the user it runs them as.
find_pgbin() {
    local version= deadline=$(( $(now_ms) + 60000 ))
    until [[ -n $version ]]; do
        (( $(now_ms) < deadline )) || die "Keel's banner names no default Postgres version: $(grep 'Postgres versions' "$LOG")"
        sleep 0.2
        version=$(sed -n 's/.*(\([0-9][0-9.]*\), default).*/\1/p' "$LOG" | head -n1)
    done
    PG_VERSION=$version
    PGBIN=$INSTALL_DIR/$version/bin
    for program in initdb pg_ctl postgres; do
        [[ -x $PGBIN/$program ]] || die "$PGBIN/$program is missing: did Keel unpack Postgres $version there?"
    done
    if [[ $(id -u) -eq 0 ]]; then
        SERVER_USER=${KEEL_POSTGRES_OS_USER:-}
        if [[ -z $SERVER_USER ]]; then
            if id -u postgres >/dev/null 2>&1; then SERVER_USER=postgres; else SERVER_USER=keel; fi
        fi
        SERVER_UID=$(id -u "$SERVER_USER") || die "user $SERVER_USER does not exist"
        SERVER_GID=$(id -g "$SERVER_USER")
    fi
}

# --- keel: one failover --------------------------------------------------------------------------

# keel_once LABEL: a premium-0 database, its primary stopped once its standby is Available; appends
# "LABEL total_ms url_changed_ms id name t0_ms old_port new_port before_row_kept old_postmaster_gone"
# to keel.samples
# and keeps GET .../ha as ha-LABEL.json.
keel_once() {
    local label=$1 created id name body url port pid instance t0 t1 t_url=- newurl= newport=- kept deadline fenced=no
    created=$(create '{"plan":"premium-0"}')
    read -r id name <<<"$created"
    body=$(wait_available "$id" 600)
    wait_ha_available "$id" 600
    url=$(json_field url "$body")
    port=$(url_port "$url")
    read -r pid instance < <(postmaster_of "$port") || die "no server under $DATA/instances listens on $port ($url)"
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] || die "pid $pid (port $port) is not a postgres process"
    "$PSQL" -X -q "$(verified "$url")" -v ON_ERROR_STOP=1 \
        -c "create table bench_failover (sample text, phase text, at timestamptz default now())" \
        -c "insert into bench_failover (sample, phase) values ('$label', 'before')" >/dev/null \
        || die "could not write to $name before stopping its primary"
    # The standby has flushed everything (the monitor's view, refreshed every check).
    deadline=$(( $(now_ms) + 30000 ))
    until [[ $(json_number standby_lag_bytes "$(body_of "$(api GET "/v1/databases/$id/ha")")") == 0 ]]; do
        (( $(now_ms) < deadline )) || die "the standby of $name did not catch up within 30 s"
        sleep 0.2
    done
    sleep "$SETTLE"

    t0=$(now_ms)
    kill -STOP "$pid"
    STOPPED+=("$pid")
    deadline=$(( t0 + FAILOVER_TIMEOUT * 1000 ))
    while :; do
        body=$(curl -sS --max-time 5 -H "$AUTH" "$API/v1/databases/$id" 2>/dev/null || true)
        newurl=$(json_field url "$body")
        if [[ -n $newurl && $newurl != "$url" ]]; then
            [[ $t_url == - ]] && t_url=$(now_ms)
            if PGCONNECT_TIMEOUT=2 "$PSQL" -X -q "$(verified "$newurl")" \
                -c "insert into bench_failover (sample, phase) values ('$label', 'after')" >/dev/null 2>"$WORK/query.err"; then
                t1=$(now_ms)
                break
            fi
            # A failed attempt: when, since the stop, and why (the report shows them).
            echo "$(( $(now_ms) - t0 )) $(head -c 300 "$WORK/query.err" | tr '\n' ' ')" >>"$WORK/attempts-$label.log"
        fi
        if (( $(now_ms) >= deadline )); then
            say "keel $label: no successful write through a new url within $FAILOVER_TIMEOUT s (url now: ${newurl:-none}; $(cat "$WORK/query.err" 2>/dev/null))"
            t1=-
            break
        fi
        sleep "$POLL"
    done
    if [[ $t1 == - ]]; then
        continue_stopped   # Keel did not fence it: let it go on, so that the deletion can stop it
        kept=-
    else
        # Keel fences (kills) the stopped postmaster: it should be gone within moments.
        for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
            kill -0 "$pid" 2>/dev/null || { fenced=yes; break; }
            sleep 0.25
        done
        if [[ $fenced == yes ]]; then STOPPED=(); else continue_stopped; fi
        newport=$(url_port "$newurl")
        kept=$("$PSQL" -X -Atq "$(verified "$newurl")" \
            -c "select count(*) from bench_failover where sample = '$label' and phase = 'before'" 2>/dev/null || echo '?')
    fi
    body_of "$(api GET "/v1/databases/$id/ha")" >"$WORK/ha-$label.json"
    if [[ $t1 == - ]]; then
        echo "$label - - $id $name $t0 $port - - -" >>"$WORK/keel.samples"
    else
        echo "$label $((t1 - t0)) $([[ $t_url == - ]] && echo - || echo $((t_url - t0))) $id $name $t0 $port $newport $kept $fenced" \
            >>"$WORK/keel.samples"
    fi

    # Not timed: deprovision and wait until it is gone, so nothing overlaps the next sample.
    delete "$id"
}

# --- floor: the same failover by hand ------------------------------------------------------------

# floor_once LABEL: appends "LABEL total_ms promote_ms t0_ms" to floor.samples.
floor_once() {
    local label=$1 dir p1 p2 password pid t0 t_promoted t1 deadline
    dir=$WORK/floor-$label
    mkdir -p "$dir"
    chmod 700 "$dir"
    read -r p1 p2 < <(free_ports 2 "$FLOOR_PORTS") || die "no two free ports in $FLOOR_PORTS for the floor"
    password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    printf '%s\n' "$password" >"$dir/pwfile"
    chmod 600 "$dir/pwfile"
    own "$dir" "$dir/pwfile"
    FLOOR_DIR=$dir

    as_server "$PGBIN/initdb" -D "$dir/primary" -U keel --pwfile="$dir/pwfile" --auth=scram-sha-256 \
        --data-checksums --encoding=UTF8 --locale=C --no-instructions >"$dir/initdb.log" 2>&1 \
        || die "initdb failed: $(cat "$dir/initdb.log")"
    # The standby: a copy of the cleanly shut down primary, told to stream from it. initdb's
    # pg_hba.conf lets the superuser replicate from 127.0.0.1 with its password.
    cp -a "$dir/primary" "$dir/standby"
    printf "listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = ''\n" "$p1" >>"$dir/primary/postgresql.conf"
    printf "listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = ''\n" "$p2" >>"$dir/standby/postgresql.conf"
    printf "primary_conninfo = 'host=127.0.0.1 port=%d user=keel password=%s application_name=floor_standby'\n" \
        "$p1" "$password" >>"$dir/standby/postgresql.auto.conf"
    : >"$dir/standby/standby.signal"
    own "$dir/standby/standby.signal"
    as_server "$PGBIN/pg_ctl" start -w -D "$dir/primary" -l "$dir/primary.log" >/dev/null \
        || die "the floor's primary did not start: $(tail -n 5 "$dir/primary.log")"
    as_server "$PGBIN/pg_ctl" start -w -D "$dir/standby" -l "$dir/standby.log" >/dev/null \
        || die "the floor's standby did not start: $(tail -n 5 "$dir/standby.log")"
    export PGPASSWORD=$password
    "$PSQL" -X -q -h 127.0.0.1 -p "$p1" -U keel -d postgres -v ON_ERROR_STOP=1 \
        -c "create table bench_failover (sample text, phase text, at timestamptz default now())" \
        -c "insert into bench_failover (sample, phase) values ('$label', 'before')" >/dev/null \
        || die "could not write to the floor's primary"
    deadline=$(( $(now_ms) + 30000 ))
    until [[ $("$PSQL" -X -Atq -h 127.0.0.1 -p "$p1" -U keel -d postgres -c "select count(*) from pg_stat_replication
                where state = 'streaming' and replay_lsn >= pg_current_wal_lsn()") == 1 ]]; do
        (( $(now_ms) < deadline )) || die "the floor's standby did not replay the primary's writes within 30 s: $(tail -n 5 "$dir/standby.log")"
        sleep 0.1
    done
    pid=$(head -n1 "$dir/primary/postmaster.pid")
    sleep "$SETTLE"

    t0=$(now_ms)
    kill -STOP "$pid"
    STOPPED+=("$pid")
    as_server "$PGBIN/pg_ctl" promote -w -D "$dir/standby" >/dev/null || die "pg_ctl promote failed: $(tail -n 5 "$dir/standby.log")"
    t_promoted=$(now_ms)
    deadline=$(( t0 + 60000 ))
    until PGCONNECT_TIMEOUT=2 "$PSQL" -X -q -h 127.0.0.1 -p "$p2" -U keel -d postgres \
        -c "insert into bench_failover (sample, phase) values ('$label', 'after')" >/dev/null 2>"$WORK/query.err"; do
        (( $(now_ms) < deadline )) || die "no write on the floor's promoted standby within 60 s: $(cat "$WORK/query.err")"
        sleep 0.01
    done
    t1=$(now_ms)
    unset PGPASSWORD
    echo "$label $((t1 - t0)) $((t_promoted - t0)) $t0" >>"$WORK/floor.samples"

    continue_stopped
    stop_floor
}

# --- lag: a follower under a steady write load ---------------------------------------------------

find_pgbench() {
    if [[ -n ${PGBENCH:-} ]]; then
        [[ -x $PGBENCH ]] || die "PGBENCH=$PGBENCH is not executable"
        return
    fi
    local candidate
    for candidate in "$PGBIN/pgbench" "$(command -v pgbench || true)" /usr/lib/postgresql/*/bin/pgbench; do
        if [[ -n $candidate && -x $candidate ]]; then
            PGBENCH=$candidate
            return
        fi
    done
    die "no pgbench (not next to Keel's binaries, on PATH, or under /usr/lib/postgresql); set PGBENCH"
}

lag_run() {
    local created leader leader_name follower follower_name body leader_url response code deadline lsn0 lsn1 t0 t1 rc
    local lag_bytes lag_seconds replication
    find_pgbench
    created=$(create '{"plan":"standard-0"}')
    read -r leader leader_name <<<"$created"
    body=$(wait_available "$leader" 600)
    leader_url=$(json_field url "$body")
    # A follower starts from its leader's first base backup, taken once it is available.
    deadline=$(( $(now_ms) + 600000 ))
    while :; do
        response=$(api POST /v1/databases "{\"plan\":\"standard-0\",\"follow\":\"$leader\"}")
        code=$(code_of "$response")
        [[ $code == 202 ]] && break
        [[ $code == 422 && $(body_of "$response") == *"no base backup"* ]] \
            || die "POST a follower of $leader_name answered $code: $(body_of "$response")"
        (( $(now_ms) < deadline )) || die "$leader_name had no restorable base backup within 600 s"
        sleep 1
    done
    body=$(body_of "$response")
    follower=$(json_field id "$body")
    follower_name=$(json_field name "$body")
    wait_available "$follower" 900 >/dev/null
    deadline=$(( $(now_ms) + 60000 ))
    until [[ $(json_field replication "$(body_of "$(api GET "/v1/databases/$follower")")") == streaming ]]; do
        (( $(now_ms) < deadline )) || die "follower $follower_name not streaming within 60 s"
        sleep 0.5
    done
    "$PSQL" -X -q "$(verified "$leader_url")" -v ON_ERROR_STOP=1 \
        -c "create table bench_lag (id bigserial primary key, at timestamptz default now(), payload text)" >/dev/null \
        || die "could not write to $leader_name"
    printf '%s\n' "insert into bench_lag (payload) values (repeat(md5(random()::text), 16));" >"$WORK/lag.sql"
    sleep "$SETTLE"

    lsn0=$("$PSQL" -X -Atq "$(verified "$leader_url")" -c 'select pg_current_wal_lsn()')
    say "lag: $PGBENCH, 1 client, --rate $LAG_RATE, ${LAG_SECONDS} s on $leader_name; sampling $follower_name every $LAG_SAMPLE s ..."
    t0=$(now_ms)
    "$PGBENCH" -n -c 1 -j 1 --rate="$LAG_RATE" -T "$LAG_SECONDS" -f "$WORK/lag.sql" "$(verified "$leader_url")" \
        >"$WORK/pgbench.log" 2>&1 &
    PGBENCH_PID=$!
    : >"$WORK/lag.samples"
    sleep "$LAG_SAMPLE"
    while kill -0 "$PGBENCH_PID" 2>/dev/null; do
        response=$(curl -sS --max-time 5 -w '\n%{http_code}' -H "$AUTH" "$API/v1/databases/$follower" 2>/dev/null || true)
        body=$(body_of "$response")
        code=$(code_of "$response")
        lag_bytes=$(json_number lag_bytes "$body")
        lag_seconds=$(json_number lag_seconds "$body")
        replication=$(json_field replication "$body")
        # elapsed_ms http_code lag_bytes lag_seconds replication; "-" where the answer had none
        echo "$(( $(now_ms) - t0 )) ${code:--} ${lag_bytes:--} ${lag_seconds:--} ${replication// /_}" \
            | sed 's/ $/ -/' >>"$WORK/lag.samples"
        sleep "$LAG_SAMPLE"
    done
    rc=0
    wait "$PGBENCH_PID" || rc=$?
    PGBENCH_PID=
    t1=$(now_ms)
    (( rc == 0 )) || die "pgbench failed ($rc): $(tail -n 5 "$WORK/pgbench.log")"
    lsn1=$("$PSQL" -X -Atq "$(verified "$leader_url")" -c 'select pg_current_wal_lsn()')
    local wal
    wal=$("$PSQL" -X -Atq "$(verified "$leader_url")" -c "select pg_wal_lsn_diff('$lsn1', '$lsn0')::bigint")
    echo "$PGBENCH|$("$PGBENCH" --version)|$LAG_RATE|$LAG_SECONDS|$((t1 - t0))|$wal|$leader_name|$follower_name" >"$WORK/lag.meta"

    delete "$follower"
    delete "$leader"
}

# --- the run -------------------------------------------------------------------------------------

run_start=$(now_ms)
start_keel
find_pgbin
: >"$WORK/keel.samples"; : >"$WORK/floor.samples"
if [[ $ONLY != lag ]]; then
    for ((i = 1; i <= N; i++)); do
        keel_once "s$i"
        floor_once "s$i"
        say "sample s$i: keel $(tail -n1 "$WORK/keel.samples" | cut -d' ' -f2) ms, floor $(tail -n1 "$WORK/floor.samples" | cut -d' ' -f2) ms"
    done
fi
if [[ $ONLY != failover ]]; then
    lag_run
fi
stop_keel

# --- report --------------------------------------------------------------------------------------

python3 - "$WORK" "$PG_VERSION" "$TARGET_MS" "$POLL" "$HA_CHECK_INTERVAL" "$HA_MISSES" "$HA_PROBE_TIMEOUT_SECONDS" \
    "$LAG_SAMPLE" "$(( ($(now_ms) - run_start) / 1000 ))" <<'PY'
import json, os, re, sys, time

work, pg_version, target_ms, poll = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
check_interval, misses, probe_timeout, lag_sample, run_s = sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8], int(sys.argv[9])

def pct(values, p):
    # Linear interpolation between closest ranks (numpy's default).
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)

def rows(name):
    path = f"{work}/{name}"
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.split() for line in f if line.strip()]

def ms(v):
    return f"{v:6.0f} ms"

stamp = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) ")

keel_rows = rows("keel.samples")
floor_rows = rows("floor.samples")
if keel_rows:
    ok = [r for r in keel_rows if r[1] != "-"]
    failed = [r for r in keel_rows if r[1] == "-"]
    keel = [int(r[1]) for r in ok]
    floor = [int(r[1]) for r in floor_rows]
    print(f"Failover: kill -STOP of the primary's postmaster -> first successful insert through the database's url")
    print(f"  keel   plan premium-0, Postgres {pg_version}; failover monitor: a login every {check_interval}, login timeout"
          f" {probe_timeout} s, fails over after {misses} missed checks; url polled every {poll * 1000:.0f} ms")
    print(f"  floor  by hand, Postgres {pg_version} (the same binaries): a primary and a streaming standby, kill -STOP the"
          f" primary,")
    print(f"         pg_ctl promote -w the standby at once, insert on it until that works: no detection, no TLS")
    print()
    if keel:
        print(f"keel   N={len(keel):<2}  p50 {ms(pct(keel, 50))}  max {ms(max(keel))}  (min {min(keel)} ms)"
              + (f"   FAILED: {len(failed)} more sample(s) did not fail over" if failed else ""))
    else:
        print(f"keel   no sample failed over ({len(failed)} failed)")
    print(f"floor  N={len(floor):<2}  p50 {ms(pct(floor, 50))}  max {ms(max(floor))}  (min {min(floor)} ms)")
    if keel:
        print(f"ratio keel/floor: p50 {pct(keel, 50) / pct(floor, 50):.1f}x  max {max(keel) / max(floor):.1f}x")
        met = sum(1 for v in keel if v < target_ms)
        verdict = "met" if met == len(keel_rows) else "MISSED"
        print(f"target: under {target_ms / 1000:.0f} s: keel p50 {pct(keel, 50) / 1000:.1f} s ({pct(keel, 50) / target_ms:.2f}x the"
              f" target), max {max(keel) / 1000:.1f} s ({max(keel) / target_ms:.2f}x): {verdict},"
              f" {met}/{len(keel_rows)} runs under {target_ms / 1000:.0f} s")
        print(f"quoted, not measured here: RDS Multi-AZ 60-120 s, Heroku confirms a failure over ~2 min (120 s),"
              f" Patroni's defaults ~30 s,")
        print(f"  CloudNativePG's e2e budget 10 s; each over keel's max ({max(keel) / 1000:.1f} s):"
              f" RDS {60000 / max(keel):.0f}-{120000 / max(keel):.0f}x, Heroku {120000 / max(keel):.0f}x,"
              f" Patroni {30000 / max(keel):.1f}x, CloudNativePG {10000 / max(keel):.1f}x")

    # Where keel's time goes: Keel's log (time of day, the JVM's local time, ms) set against the
    # script's clock for the first missed check and the decision; the poller for the url.
    def time_of_day(epoch_ms):
        t = time.localtime(epoch_ms // 1000)
        return ((t.tm_hour * 60 + t.tm_min) * 60 + t.tm_sec) * 1000 + epoch_ms % 1000
    log = []
    with open(f"{work}/keel.log", errors="replace") as f:
        for text in f:
            s = stamp.match(text)
            if s:
                h, mi, sec, milli = map(int, s.groups())
                log.append((((h * 60 + mi) * 60 + sec) * 1000 + milli, text.rstrip("\n")))
    phases = {"kill -STOP -> 1st missed check logged": [], "1st miss -> fail_over decision logged": [],
              "decision -> url names the standby": [], "url changed -> first write": []}
    done_after = []
    for r in ok:
        name, t0 = r[4], int(r[5])
        total, t_url = int(r[1]), int(r[2])
        day0 = time_of_day(t0)
        def first(pattern):
            for at, text in log:
                if f"Database {name}: " in text and pattern in text:
                    d = (at - day0) % 86400000
                    if d < 3600000:
                        return d
            return None
        miss, decided, completed = first("missed 1 of"), first("failing over because"), first("failed over:")
        if miss is None or decided is None or decided > t_url:
            continue
        phases["kill -STOP -> 1st missed check logged"].append(miss)
        phases["1st miss -> fail_over decision logged"].append(decided - miss)
        phases["decision -> url names the standby"].append(t_url - decided)
        phases["url changed -> first write"].append(total - t_url)
        if completed is not None:
            done_after.append(completed - decided)
    if any(phases.values()):
        print()
        print(f"keel, where the time goes, p50 (max) ms, {len(phases['url changed -> first write'])} samples"
              f" (Keel's log against the poller's clock):")
        for label, v in phases.items():
            if v:
                print(f"  {label:40s} {pct(v, 50):6.0f} ({max(v):6.0f})")
        if done_after:
            print(f"  (decision -> 'failed over' logged, after followers and the new timeline's backup are started:"
                  f" p50 {pct(done_after, 50):.0f} ms)")
    if floor_rows:
        promote = [int(r[2]) for r in floor_rows]
        write = [int(r[1]) - int(r[2]) for r in floor_rows]
        print(f"floor, p50 (max) ms:")
        print(f"  {'kill -STOP -> pg_ctl promote -w returned':40s} {pct(promote, 50):6.0f} ({max(promote):6.0f})")
        print(f"  {'-> first write':40s} {pct(write, 50):6.0f} ({max(write):6.0f})")

    print()
    print("samples (ms):")
    for r, f in zip(keel_rows, floor_rows + [None] * len(keel_rows)):
        keel_text = "FAILED (no write through a new url)" if r[1] == "-" else f"keel {r[1]:>6s}"
        kept = "" if r[1] == "-" else (f"   port {r[6]} -> {r[7]}, row written before the stop kept: {'yes' if r[8] == '1' else r[8]},"
                                       f" stopped postmaster gone (fenced): {r[9]}")
        print(f"  {r[0]:4s} {keel_text}   floor {f[1] if f else '-':>5s}{kept}")
        attempts = rows(f"attempts-{r[0]}.log")
        if attempts:
            print(f"       {len(attempts)} failed write(s) through the new url, from {attempts[0][0]} ms;"
                  f" the first: {' '.join(attempts[0][1:])[:200]}")

    # The monitor's decisions, per sample, oldest first.
    sentence = None
    odd = []
    print("the failover monitor's decisions (GET .../ha, oldest first):")
    for r in keel_rows:
        try:
            with open(f"{work}/ha-{r[0]}.json") as f:
                ha = json.load(f)
        except (OSError, ValueError):
            print(f"  {r[0]}: (no /ha answer)")
            continue
        decisions = list(reversed(ha.get("decisions") or []))
        kinds = [d.get("kind") for d in decisions]
        print(f"  {r[0]}: {', '.join(kinds) or '(none)'}; HA status now: {ha.get('status')}")
        for d in decisions:
            if d.get("kind") == "fail_over" and sentence is None:
                sentence = d.get("sentence")
            if d.get("kind") not in ("watching", "fail_over"):
                odd.append(f"{r[0]}: {d.get('kind')}: {d.get('sentence')}")
        if kinds.count("fail_over") != 1:
            odd.append(f"{r[0]}: {kinds.count('fail_over')} fail_over decisions")
        if r[1] != "-" and r[9] != "yes":
            odd.append(f"{r[0]}: the stopped postmaster (old primary) was still alive 5 s after the failover; continued")
    if sentence:
        print(f"fail_over sentence (first sample): {sentence}")
    for line in odd:
        print(f"  ODD: {line}")

lag = rows("lag.samples")
if lag:
    with open(f"{work}/lag.meta") as f:
        pgbench, version, rate, seconds, elapsed, wal, leader, follower = f.read().strip().split("|")
    done = None
    try:
        with open(f"{work}/pgbench.log") as f:
            text = f.read()
        m = re.search(r"number of transactions actually processed: (\d+)", text)
        done = int(m.group(1)) if m else None
        m = re.search(r"latency average = ([\d.]+) ms", text)
        latency = m.group(1) if m else "?"
    except OSError:
        latency = "?"
    wal = int(wal)
    def num(v):
        try:
            return float(v)
        except ValueError:
            return None
    answered = [r for r in lag if r[1] == "200"]
    failed_gets = [r for r in lag if r[1] != "200"]
    lb = [num(r[2]) for r in answered if num(r[2]) is not None]
    ls = [num(r[3]) for r in answered if num(r[3]) is not None]
    states = {}
    for r in answered:
        states[r[4]] = states.get(r[4], 0) + 1
    print()
    print(f"Follower lag: a standard-0 leader ({leader}) and its standard-0 follower ({follower}), Postgres {pg_version}")
    print(f"  load: {pgbench} ({version}), 1 client, --rate {rate}/s for {seconds} s, one insert of a 512-character row"
          f" per transaction, over verify-full TLS")
    tps = f"{done / (int(elapsed) / 1000):.1f}" if done else "?"
    print(f"  achieved: {done if done is not None else '?'} transactions ({tps}/s), latency average {latency} ms;"
          f" WAL {wal / 1048576:.1f} MiB, {wal / 1024 / (int(elapsed) / 1000):.0f} KiB/s")
    print(f"  GET /v1/databases/{{follower}} every {lag_sample} s during the load: {len(lag)} samples, {len(answered)} answered"
          f" 200; replication: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    if failed_gets:
        codes = {}
        for r in failed_gets:
            codes[r[1]] = codes.get(r[1], 0) + 1
        print(f"  FAILED GETs (left out below): " + ", ".join(f"{v} x HTTP {k}" for k, v in sorted(codes.items()))
              + " (Keel's log says why)")
    if lb:
        print(f"lag_bytes    p50 {pct(lb, 50):9.0f}  p95 {pct(lb, 95):9.0f}  max {max(lb):9.0f}   ({len(answered) - len(lb)} null)")
    if ls:
        print(f"lag_seconds  p50 {pct(ls, 50):9.3f}  p95 {pct(ls, 95):9.3f}  max {max(ls):9.3f}   ({len(answered) - len(ls)} null)")
# Keel's ERROR lines, each with the exception line after it, distinct ones counted.
errors = {}
with open(f"{work}/keel.log", errors="replace") as f:
    lines = f.read().splitlines()
for i, text in enumerate(lines):
    if re.match(r"^\d\d:\d\d:\d\d\.\d{3} ERROR ", text):
        what = re.sub(r"^\S+ ERROR\s+", "", text)
        what = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", what)
        if i + 1 < len(lines) and not stamp.match(lines[i + 1]):
            what += " | " + lines[i + 1].strip()
            if i + 2 < len(lines) and lines[i + 2].strip().startswith("at "):
                what += " " + lines[i + 2].strip()
        errors[what] = errors.get(what, 0) + 1
if errors:
    print()
    print(f"Keel logged {sum(errors.values())} ERROR line(s):")
    for what, count in errors.items():
        print(f"  {count} x {what[:400]}")

print()
print(f"run took {run_s} s")
PY
