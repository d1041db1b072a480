#!/usr/bin/env bash
# ops/bench/provision.sh: Keel provisioning latency, without and with the warm pool, against its
# floor, in one run.
#
# Measures, N times each (default 10), plan standard-0:
#   cold   POST /v1/databases -> first successful `psql "$url" -Atc 'select 1'`, on a Keel started
#          with KEEL_INSTANCES_POOL_SIZE=0: every provision makes its instance (initdb, start).
#   warm   the same, on a second Keel started with KEEL_INSTANCES_POOL_SIZE=1, each sample taken
#          only once a pooled instance is ready: before each one (untimed) the script waits until
#          Keel's log holds k+1 "Warm pool: instance ... is ready" lines after k provisions (the
#          first one comes at startup). So "warm" means "a pooled instance was ready", not
#          "what any provision gets": one arriving while the pool refills takes the cold path.
#          Each warm sample is checked to have got the pooled instance (its URL's port is the one
#          the last ready line named).
#   floor  initdb + pg_ctl start -w + first successful `select 1`, run with the very Postgres
#          binaries Keel serves and the initdb flags Keel uses (the anchor: what making an
#          instance cannot beat on this machine). One floor sample follows every cold and every
#          warm sample (so 2N in all), which spreads slow phases of the machine over all three.
# Each database is deleted after it is measured (untimed), and the next sample starts only once it
# is gone (and, in the warm run, once the pool has refilled). The two Keels run one after the
# other, each with its own data directory under a temporary directory, sharing the unpacked
# Postgres binaries. Prints p50/p90/min/max of each, the ratios cold/floor and warm/floor, and
# where the time goes (steps as seen by polling the API; request, operation and first query as
# seen in Keel's log).
#
# Run from anywhere (as root or not; as root, initdb/postgres run as user postgres, else keel):
#   ops/bench/provision.sh                      # N=10, one unmeasured warm-up sample per run
#   N=30 WARMUP=2 ops/bench/provision.sh
# Environment:
#   N, WARMUP                     samples measured / unmeasured warm-up samples, per mode (10 / 1)
#   KEEL_JAR                      the jar to run (default <repo>/target/keel.jar, built with
#                                 `mvn -q -DskipTests package` when missing or older than HEAD's
#                                 commit, or always with BUILD=1); a private copy is run
#   KEEL_POSTGRES_INSTALL_DIR     where Keel unpacks Postgres, shared across runs (default
#                                 $HOME/.cache/keel-bench/postgres; /var/cache/keel-bench/postgres
#                                 as root, since the postgres user cannot traverse /root)
#   KEEL_BENCH_API_PORT           the bench Keels' API port (5490)
#   KEEL_BENCH_CATALOG_PORTS      their embedded catalog's port range (24800-24804)
#   KEEL_BENCH_INSTANCE_PORTS     their instance port range (24805-24899)
#   KEEL_BENCH_FLOOR_PORTS        where the floor's server listens (24700-24799)
#   KEEL_BENCH_LOG_DIR            copy both Keels' logs (keel-cold.log, keel-warm.log) there at the end
#   POLL_INTERVAL                 seconds between state polls / psql attempts (0.01)
# The port ranges lie below Linux's ephemeral range (32768-60999 by default): a port in it that was
# free when chosen can be taken, before the server binds it, by any outgoing connection (this
# script's polling makes ~100 a second), and the server then fails to start. They also stay clear
# of a Keel run on its defaults (catalog 24900-24999, instances 25000-25999) and of the tests
# (26000-32767).
# Everything else lives in a temporary directory under /tmp that is removed on exit, after every
# Postgres server the run started has been stopped.
set -euo pipefail

N=${N:-10}
WARMUP=${WARMUP:-1}
API_PORT=${KEEL_BENCH_API_PORT:-5490}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-24800-24804}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-24805-24899}
FLOOR_PORTS=${KEEL_BENCH_FLOOR_PORTS:-24700-24799}
POLL=${POLL_INTERVAL:-0.01}   # seconds between state polls and between psql attempts
REPO=$(cd "$(dirname "$0")/../.." && pwd)
JAR_SRC=${KEEL_JAR:-$REPO/target/keel.jar}
if [[ $(id -u) -eq 0 ]]; then
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-/var/cache/keel-bench/postgres}
else
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-$HOME/.cache/keel-bench/postgres}
fi
API=http://127.0.0.1:$API_PORT
PSQL=${PSQL:-psql}
READY='Warm pool: instance .* is ready on port'

die() { echo "provision.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, not '$N'"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a non-negative integer, not '$WARMUP'"
for tool in curl java python3 "$PSQL"; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

WORK=$(mktemp -d /tmp/keel-bench.XXXXXX)
chmod 755 "$WORK"            # the server user must traverse it
cd "$WORK"                   # a cwd every user can reach (initdb/pg_ctl run as another user)
MODE=                        # the Keel currently running: cold or warm
DATA=                        # its data directory, and its log
LOG=
KEEL_PID=
FLOOR_DIR=                   # the floor cluster currently alive, if any
PGBIN=

# The Keels are started with no KEEL_* variable from the caller's environment (a KEEL_CATALOG_URL
# pointing at a real catalog must not leak in), only the ones set here.
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

# stop_servers DATA_DIR: stops every Postgres server under a Keel data dir (instances, catalog).
stop_servers() {
    "${KEEL_ENV[@]}" KEEL_DATA_DIR="$1" java -jar "$WORK/keel.jar" stop >/dev/null 2>&1 \
        || echo "provision.sh: 'keel.jar stop' failed; check for servers under $1" >&2
    if pgrep -f -- "-D $1/" >/dev/null; then
        echo "provision.sh: a Postgres server under $1 is still running:" >&2
        pgrep -af -- "-D $1/" >&2
    fi
}

cleanup() {
    local rc=$?
    set +e
    if [[ -n $FLOOR_DIR && -f $FLOOR_DIR/data/postmaster.pid ]]; then
        as_server "$PGBIN/pg_ctl" stop -D "$FLOOR_DIR/data" -m immediate -w >/dev/null 2>&1
    fi
    if [[ -n $KEEL_PID ]] && kill -0 "$KEEL_PID" 2>/dev/null; then
        kill "$KEEL_PID"
        wait "$KEEL_PID" 2>/dev/null
    fi
    for dir in "$WORK/keel-cold" "$WORK/keel-warm"; do
        [[ -d $dir ]] && stop_servers "$dir"
    done
    if [[ -n ${KEEL_BENCH_LOG_DIR:-} ]]; then
        mkdir -p "$KEEL_BENCH_LOG_DIR" && cp "$WORK"/keel-*.log "$KEEL_BENCH_LOG_DIR"/ 2>/dev/null
    fi
    if [[ $rc -ne 0 && -n $LOG && -f $LOG ]]; then
        echo "--- last lines of Keel's log ($MODE) ---" >&2
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
    echo "building $JAR_SRC (missing, older than HEAD, or BUILD=1) ..." >&2
    (cd "$REPO" && mvn -B -q -DskipTests package >&2) || die "the build failed"   # stdout: the report only
fi
[[ -f $JAR_SRC ]] || die "$JAR_SRC does not exist"
if [[ -z ${KEEL_JAR:-} && -n $(git -C "$REPO" status --porcelain -- src pom.xml 2>/dev/null) ]]; then
    echo "warning: $REPO has uncommitted changes under src/ or pom.xml; the jar may not be HEAD's" >&2
fi
# A private copy: a rebuild of target/ while the benchmark runs cannot pull the jar from under it.
# Someone else's build may be writing the jar right now: retry until the copy is a whole zip.
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
    for range in "$CATALOG_PORTS" "$INSTANCE_PORTS" "$FLOOR_PORTS"; do
        if (( ${range%-*} <= eph_hi && ${range#*-} >= eph_lo )); then
            echo "warning: port range $range overlaps the ephemeral range $eph_lo-$eph_hi; a server may fail to bind its port" >&2
        fi
    done
fi
mkdir -p "$INSTALL_DIR"

# --- Keel ----------------------------------------------------------------------------------------

# start_keel MODE POOL_SIZE: starts a Keel with a fresh data dir and waits until it is healthy.
start_keel() {
    MODE=$1
    DATA=$WORK/keel-$MODE
    LOG=$WORK/keel-$MODE.log
    if (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null; then
        die "port $API_PORT is taken; set KEEL_BENCH_API_PORT"
    fi
    echo "starting Keel ($MODE, KEEL_INSTANCES_POOL_SIZE=$2) on $API (data under $DATA, Postgres binaries in $INSTALL_DIR) ..." >&2
    "${KEEL_ENV[@]}" KEEL_DATA_DIR="$DATA" KEEL_PORT="$API_PORT" KEEL_CATALOG_PORTS="$CATALOG_PORTS" \
        KEEL_INSTANCES_PORTS="$INSTANCE_PORTS" KEEL_INSTANCES_POOL_SIZE="$2" \
        java -jar "$WORK/keel.jar" >"$LOG" 2>&1 &
    KEEL_PID=$!
    local deadline=$(( $(now_ms) + 900000 ))   # the first start may download and unpack Postgres
    until [[ $(curl -s -o /dev/null -w '%{http_code}' "$API/health" 2>/dev/null) == 200 ]]; do
        kill -0 "$KEEL_PID" 2>/dev/null || die "Keel ($MODE) exited during startup"
        (( $(now_ms) < deadline )) || die "Keel ($MODE) did not become healthy within 15 minutes"
        sleep 0.2
    done
    [[ -s $DATA/admin-api-key ]] || die "no admin API key at $DATA/admin-api-key"
    AUTH="Authorization: Bearer $(<"$DATA/admin-api-key")"
}

# stop_keel: stops the running Keel and every server under its data dir, and removes the data
# dir (its log stays, for the report).
stop_keel() {
    kill "$KEEL_PID"
    wait "$KEEL_PID" 2>/dev/null || true
    KEEL_PID=
    stop_servers "$DATA"
    rm -rf "$DATA"
}

# wait_pool_ready COUNT: waits until Keel's log says COUNT times that a pooled instance is ready.
wait_pool_ready() {
    local deadline=$(( $(now_ms) + 120000 ))
    until (( $(grep -c -- "$READY" "$LOG" || true) >= $1 )); do
        if grep -q 'Warm pool: could not make an instance' "$LOG"; then
            die "the warm pool failed to make an instance: $(grep -A3 'Warm pool: could not' "$LOG" | head -n 4)"
        fi
        kill -0 "$KEEL_PID" 2>/dev/null || die "Keel ($MODE) exited"
        (( $(now_ms) < deadline )) || die "the warm pool did not get instance $1 ready within 120 s"
        sleep 0.05
    done
}

json_field() {  # json_field NAME JSON: the string value of "NAME" (flat JSON, no escaped quotes)
    if [[ $2 =~ \"$1\":\"([^\"]*)\" ]]; then
        local value=${BASH_REMATCH[1]}
        printf '%s' "${value//\\\//\/}"
    fi
}

# first_query CMD...: runs CMD until it succeeds (every ~10 ms, 60 s at most).
first_query() {
    local deadline=$(( $(now_ms) + 60000 ))
    until "$@" >/dev/null 2>"$WORK/query.err"; do
        (( $(now_ms) < deadline )) || die "no successful query within 60 s: $(cat "$WORK/query.err")"
        sleep "$POLL"
    done
}

# keel_once LABEL [POOLED_PORT]: one provision on the running Keel; appends
# "LABEL total_ms database_id port POOLED_PORT t0" to $MODE.samples and the phases (the first time
# each provisioning step was seen) to $MODE.events.
keel_once() {
    local label=$1 pooled_port=${2:--} t0 t1 response code body id state step seen= url port=-
    local events=()
    t0=$(now_ms)
    response=$(curl -sS -w '\n%{http_code}' -H "$AUTH" -H 'Content-Type: application/json' \
        -d '{"plan":"standard-0"}' "$API/v1/databases")
    code=${response##*$'\n'}
    body=${response%$'\n'*}
    [[ $code == 202 ]] || die "POST /v1/databases answered $code: $body"
    id=$(json_field id "$body")
    events+=("POST->202 $(now_ms)")
    while :; do
        body=$(curl -sS -H "$AUTH" "$API/v1/databases/$id")
        state=$(json_field state "$body")
        case $state in
            available) break ;;
            creating)
                step=$(json_field step "$body")
                if [[ -n $step && $step != "$seen" ]]; then
                    events+=("${step// /_} $(now_ms)")
                    seen=$step
                fi
                ;;
            *) die "database $id is '$state': $body" ;;
        esac
        (( $(now_ms) - t0 < 300000 )) || die "database $id not available after 300 s"
        sleep "$POLL"
    done
    url=$(json_field url "$body")
    events+=("available->first_query $(now_ms)")
    PGCONNECT_TIMEOUT=5 first_query "$PSQL" "$url" -XAtc 'select 1'
    t1=$(now_ms)
    events+=("end $t1")
    [[ $url =~ @[^/@]*:([0-9]+)/ ]] && port=${BASH_REMATCH[1]}
    echo "$label $((t1 - t0)) $id $port $pooled_port $t0" >>"$WORK/$MODE.samples"
    echo "$label $t0 ${events[*]}" >>"$WORK/$MODE.events"

    # Not timed: deprovision and wait until it is gone, so nothing overlaps the next sample.
    curl -sS -o /dev/null -X DELETE -H "$AUTH" "$API/v1/databases/$id"
    local deadline=$(( $(now_ms) + 120000 ))
    until [[ $(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$API/v1/databases/$id") == 404 ]]; do
        (( $(now_ms) < deadline )) || die "database $id not deleted after 120 s"
        sleep 0.05
    done
}

# --- floor ---------------------------------------------------------------------------------------

# find_pgbin: the binaries Keel serves (default major 17), and the user it runs them as.
find_pgbin() {
    PGBIN=$INSTALL_DIR/17.11.0/bin
    for program in initdb pg_ctl postgres; do
        [[ -x $PGBIN/$program ]] || die "$PGBIN/$program is missing: did Keel unpack Postgres 17.11.0 there?"
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

# first_bindable FIRST-LAST: the lowest port in the range a server could listen on now (as Keel
# picks instance ports).
first_bindable() {
    python3 - "$1" <<'PY'
import socket, sys
first, last = map(int, sys.argv[1].split("-"))
for port in range(first, last + 1):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    sys.exit(0)
sys.exit(1)
PY
}

# floor_once LABEL: initdb + start + first query with Keel's binaries and initdb flags; appends
# "LABEL total initdb start first_query" (ms) to floor-$MODE.samples.
floor_once() {
    local label=$1 dir port password t0 t_initdb t_started t1
    dir=$WORK/floor/$MODE-$label
    mkdir -p "$dir"
    chmod 700 "$dir"
    port=$(first_bindable "$FLOOR_PORTS") || die "no free port in $FLOOR_PORTS for the floor"
    password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
    printf '%s\n' "$password" >"$dir/pwfile"
    chmod 600 "$dir/pwfile"
    own "$dir" "$dir/pwfile"
    FLOOR_DIR=$dir

    t0=$(now_ms)
    as_server "$PGBIN/initdb" -D "$dir/data" -U keel --pwfile="$dir/pwfile" --auth=scram-sha-256 \
        --data-checksums --encoding=UTF8 --locale=C --no-instructions >"$dir/initdb.log" 2>&1 \
        || die "initdb failed: $(cat "$dir/initdb.log")"
    t_initdb=$(now_ms)
    printf "listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = ''\n" "$port" \
        >>"$dir/data/postgresql.conf"
    as_server "$PGBIN/pg_ctl" start -w -D "$dir/data" -l "$dir/postgresql.log" >/dev/null \
        || die "pg_ctl start failed: $(cat "$dir/postgresql.log")"
    t_started=$(now_ms)
    PGPASSWORD=$password PGCONNECT_TIMEOUT=5 first_query \
        "$PSQL" -X -h 127.0.0.1 -p "$port" -U keel -d postgres -Atc 'select 1'
    t1=$(now_ms)
    echo "$label $((t1 - t0)) $((t_initdb - t0)) $((t_started - t_initdb)) $((t1 - t_started))" >>"$WORK/floor-$MODE.samples"

    as_server "$PGBIN/pg_ctl" stop -D "$dir/data" -m fast -w >/dev/null
    FLOOR_DIR=
    rm -rf "$dir"
}

last_ms() { tail -n1 "$1" | cut -d' ' -f2; }

# --- the cold run: no pool, every provision makes its instance ------------------------------------

start_keel cold 0
find_pgbin
: >"$WORK/cold.samples"; : >"$WORK/cold.events"; : >"$WORK/floor-cold.samples"
for ((i = 1; i <= WARMUP + N; i++)); do
    if (( i <= WARMUP )); then label=warmup$i; else label=s$((i - WARMUP)); fi
    keel_once "$label"
    floor_once "$label"
    echo "cold $label: keel $(last_ms "$WORK/cold.samples") ms, floor $(last_ms "$WORK/floor-cold.samples") ms" >&2
done
grep -q -- "$READY" "$LOG" && die "the cold Keel made pooled instances (KEEL_INSTANCES_POOL_SIZE=0 ignored?)"
stop_keel

# --- the warm run: a pool of one, each sample taken when the pooled instance is ready -------------

start_keel warm 1
: >"$WORK/warm.samples"; : >"$WORK/warm.events"; : >"$WORK/floor-warm.samples"
for ((i = 1; i <= WARMUP + N; i++)); do
    if (( i <= WARMUP )); then label=warmup$i; else label=s$((i - WARMUP)); fi
    wait_pool_ready "$i"   # after i-1 provisions: the startup fill plus i-1 refills
    pooled_port=$(grep -- "$READY" "$LOG" | tail -n1 | sed 's/.* on port \([0-9]*\).*/\1/')
    keel_once "$label" "$pooled_port"
    wait_pool_ready $((i + 1))   # the refill this provision started, so it cannot slow the floor
    floor_once "$label"
    echo "warm $label: keel $(last_ms "$WORK/warm.samples") ms, floor $(last_ms "$WORK/floor-warm.samples") ms" >&2
done
stop_keel

# --- report --------------------------------------------------------------------------------------

python3 - "$WORK" "$N" "$WARMUP" "$POLL" <<'PY'
import re, sys, time

work, n, warmup, poll = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
MODES = ("cold", "warm")

def pct(values, p):
    # Linear interpolation between closest ranks (numpy's default).
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)

def rows(path):
    with open(path) as f:
        return [line.split() for line in f if line.strip()]

def measured(rs):
    return [r for r in rs if r[0].startswith("s")]

keel_rows = {m: rows(f"{work}/{m}.samples") for m in MODES}
floor_rows = {m: rows(f"{work}/floor-{m}.samples") for m in MODES}
keel = {m: [int(r[1]) for r in measured(keel_rows[m])] for m in MODES}
floor_by_run = {m: [int(r[1]) for r in measured(floor_rows[m])] for m in MODES}
floor = floor_by_run["cold"] + floor_by_run["warm"]
warm_claimed = sum(1 for r in measured(keel_rows["warm"]) if r[3] == r[4])

def stats(v):
    return f"p50 {pct(v, 50):5.0f} ms  p90 {pct(v, 90):5.0f} ms  (min {min(v)} .. max {max(v)} ms)"

print(f"Provisioning latency, plan standard-0: POST /v1/databases -> first successful `select 1`")
print(f"  cold   KEEL_INSTANCES_POOL_SIZE=0: every provision makes its instance (initdb, start, ...)")
print(f"  warm   KEEL_INSTANCES_POOL_SIZE=1, measured only when a pooled instance was ready: before each")
print(f"         sample the script waited (untimed) for the pool to refill. A provision arriving while")
print(f"         the pool refills takes the cold path. Claimed the pooled instance: {warm_claimed}/{len(keel['warm'])}")
print(f"  floor  initdb + pg_ctl start -w + first query, same binaries; one after each cold and warm sample")
print()
print(f"cold  N={len(keel['cold']):<3}  {stats(keel['cold'])}")
print(f"warm  N={len(keel['warm']):<3}  {stats(keel['warm'])}   (a pooled instance was ready)")
print(f"floor N={len(floor):<3}  {stats(floor)}")
for m in MODES:
    v = floor_by_run[m]
    print(f"      floor during the {m} run: p50 {pct(v, 50):.0f} ms  p90 {pct(v, 90):.0f} ms")
for m in MODES:
    print(f"ratio {m}/floor: p50 {pct(keel[m], 50) / pct(floor, 50):.2f}x  p90 {pct(keel[m], 90) / pct(floor, 90):.2f}x")
print()
for m in MODES:
    print(f"samples {m:5s} (ms): " + " ".join(str(x) for x in keel[m]))
    print(f"  floor after each: " + " ".join(str(x) for x in floor_by_run[m]))
if warmup:
    for m in MODES:
        pairs = [f"keel {k[1]} ms, floor {f[1]} ms" for k, f in zip(keel_rows[m], floor_rows[m])
                 if k[0].startswith("warmup")]
        print(f"warm-up, {m} run (not counted): " + "; ".join(pairs))

# Steps as seen by the poller. Events are "POST->202 <when the 202 came>", then "<step> <when the
# step was first seen>" for each step, "available->first_query <when available was seen>" and
# "end <t1>". A phase runs from its start to the next one's; the first step starts at the 202.
ORDER = ["POST->202", "preparing_Postgres_binaries", "reserving_a_port", "initializing", "starting",
         "creating_credentials", "available->first_query"]  # DatabaseCreate's steps, in order
print()
print(f"keel steps, p50 ms (p90), seen by polling every ~{poll * 1000:.0f} ms: a step shorter than a poll may go unseen, its time")
print(f"  counted in the step seen before it (or, before the first step seen, in that one)")
print(f"  (warm path: 'initializing' rewrites the pooled instance's config, 'starting' reloads it)")
phases = {m: {} for m in MODES}
order = list(ORDER)
for m in MODES:
    for r in measured(rows(f"{work}/{m}.events")):
        events = list(zip(r[2::2], map(int, r[3::2])))
        starts = [("POST->202", int(r[1]))]
        for i, (label, t) in enumerate(events[1:], start=1):
            starts.append((label, events[0][1] if i == 1 else t))
        for (label, start), (_, end) in zip(starts, starts[1:]):
            phases[m].setdefault(label, []).append(end - start)
            if label not in order:
                order.append(label)
print(f"  {'':30s} {'cold':>13s} {'warm':>13s}")
for label in order:
    cells = []
    for m in MODES:
        if label in phases[m]:
            v = phases[m][label] + [0] * (len(keel[m]) - len(phases[m][label]))
            cells.append(f"{pct(v, 50):5.0f} ({pct(v, 90):4.0f})")
        else:
            cells.append("-")
    if any(c != "-" for c in cells):
        print(f"  {label.replace('_', ' '):30s} {cells[0]:>13s} {cells[1]:>13s}")

# Keel's log: "Operation provision started/succeeded", with the database id after the message (as
# " database=<id>", or glued to it as this logback pattern currently renders it). Its time of day
# (the JVM's local time, ms) is set against the script's clock: POST -> started is the request and
# the wait for an operation thread, started -> succeeded is Keel's work, succeeded -> first query
# is noticing "available" by polling plus psql's first connection.
stamp = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) .*Operation provision (started|succeeded)\s*(?:database=)?"
                   r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")

def time_of_day(epoch_ms):
    t = time.localtime(epoch_ms // 1000)
    return ((t.tm_hour * 60 + t.tm_min) * 60 + t.tm_sec) * 1000 + epoch_ms % 1000

print()
print("keel per its log, p50 ms (p90):")
print(f"  {'':30s} {'cold':>13s} {'warm':>13s}")
split = {m: {"POST -> operation started": [], "operation started -> succeeded": [],
             "succeeded -> first query": []} for m in MODES}
for m in MODES:
    samples = {r[2]: (int(r[5]), int(r[1])) for r in measured(keel_rows[m])}
    marks = {}
    with open(f"{work}/keel-{m}.log", errors="replace") as f:
        for text in f:
            s = stamp.match(text)
            if s and s.group(6) in samples:
                h, mi, sec, ms = map(int, s.groups()[:4])
                marks.setdefault(s.group(6), {})[s.group(5)] = ((h * 60 + mi) * 60 + sec) * 1000 + ms
    for db, mk in marks.items():
        if "started" not in mk or "succeeded" not in mk:
            continue
        t0, total = samples[db]
        to_start = (mk["started"] - time_of_day(t0)) % 86400000
        work_ms = (mk["succeeded"] - mk["started"]) % 86400000
        if to_start > total:   # the clocks do not line up (another time zone?): skip the split
            continue
        split[m]["POST -> operation started"].append(to_start)
        split[m]["operation started -> succeeded"].append(work_ms)
        split[m]["succeeded -> first query"].append(total - to_start - work_ms)
for label in split["cold"]:
    cells = [f"{pct(v, 50):5.0f} ({pct(v, 90):4.0f})" if v else "-" for v in (split[m][label] for m in MODES)]
    print(f"  {label:30s} {cells[0]:>13s} {cells[1]:>13s}")

print("floor steps, p50 ms (p90):")
all_floor = measured(floor_rows["cold"]) + measured(floor_rows["warm"])
for i, label in enumerate(["initdb", "pg_ctl start -w", "first query"], start=2):
    v = [int(r[i]) for r in all_floor]
    print(f"  {label:30s} {pct(v, 50):5.0f} ({pct(v, 90):4.0f})")
PY
