#!/usr/bin/env bash
# ops/bench/provision.sh: Keel provisioning latency against its floor, in one run.
#
# Measures, N times each (default 10), interleaved (one Keel sample, then one floor sample):
#   keel   POST /v1/databases -> first successful `psql "$url" -Atc 'select 1'` on the new database
#          (the database is deleted after each sample, outside the timed section).
#   floor  initdb + pg_ctl start -w + first successful `select 1`, run with the very Postgres
#          binaries Keel serves and the initdb flags Keel uses (the anchor: what provisioning
#          cannot beat on this machine).
# and prints p50/p90/min/max of each, the ratios keel/floor, and where Keel's time goes (phases
# as seen by polling the API, and the provision operation's duration from Keel's own log).
#
# Run from anywhere (as root or not; as root, initdb/postgres run as user postgres, else keel):
#   ops/bench/provision.sh                      # N=10, one unmeasured warm-up sample of each
#   N=30 WARMUP=2 ops/bench/provision.sh
# Environment:
#   N, WARMUP                     samples measured / unmeasured warm-up samples (10 / 1)
#   KEEL_JAR                      the jar to run (default <repo>/target/keel.jar; built with
#                                 `mvn -q -DskipTests package` when missing, or always with BUILD=1)
#   KEEL_POSTGRES_INSTALL_DIR     where Keel unpacks Postgres, shared across runs (default
#                                 $HOME/.cache/keel-bench/postgres; /var/cache/keel-bench/postgres
#                                 as root, since the postgres user cannot traverse /root)
#   KEEL_BENCH_API_PORT           Keel's API port (5490)
#   KEEL_BENCH_INSTANCE_PORTS     Keel's instance port range (31000-31099)
#   KEEL_BENCH_FLOOR_PORTS        where the floor's server listens (31100-31199)
#   KEEL_BENCH_LOG_OUT            copy Keel's log to this file at the end
#   POLL_INTERVAL                 seconds between state polls / psql attempts (0.01)
# Both port ranges lie below Linux's ephemeral range (32768-60999 by default): a port in it that
# was free when chosen can be taken, before the server binds it ~1.5 s later, by any outgoing
# connection (this script's own polling makes ~100 a second), and the server then fails to start.
# Everything else lives in a temporary directory under /tmp that is removed on exit, after every
# Postgres server the run started has been stopped.
set -euo pipefail

N=${N:-10}
WARMUP=${WARMUP:-1}
API_PORT=${KEEL_BENCH_API_PORT:-5490}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-31000-31099}
FLOOR_PORTS=${KEEL_BENCH_FLOOR_PORTS:-31100-31199}
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
DATA=$WORK/keel
KEEL_PID=
FLOOR_DIR=                   # the floor cluster currently alive, if any
PGBIN=

# Keel is started with no KEEL_* variable from the caller's environment (a KEEL_CATALOG_URL
# pointing at a real catalog must not leak in), only the ones set here.
KEEL_ENV=(env)
while IFS= read -r name; do KEEL_ENV+=(-u "$name"); done < <(compgen -e | grep '^KEEL_' || true)
KEEL_ENV+=("KEEL_DATA_DIR=$DATA" "KEEL_POSTGRES_INSTALL_DIR=$INSTALL_DIR")
[[ -n ${KEEL_POSTGRES_OS_USER:-} ]] && KEEL_ENV+=("KEEL_POSTGRES_OS_USER=$KEEL_POSTGRES_OS_USER")

as_server() {
    if [[ -n ${SERVER_UID:-} ]]; then
        setpriv --reuid="$SERVER_UID" --regid="$SERVER_GID" --clear-groups -- "$@"
    else
        "$@"
    fi
}

own() { [[ -z ${SERVER_UID:-} ]] || chown "$SERVER_UID:$SERVER_GID" "$@"; }

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
    if [[ -d $DATA ]]; then
        # Stops every Postgres server under Keel's data dir: its instances, then its catalog.
        "${KEEL_ENV[@]}" java -jar "$WORK/keel.jar" stop >/dev/null 2>&1 \
            || echo "provision.sh: 'keel.jar stop' failed; check for servers under $DATA" >&2
    fi
    if [[ -n ${KEEL_BENCH_LOG_OUT:-} && -f $WORK/keel.log ]]; then
        cp "$WORK/keel.log" "$KEEL_BENCH_LOG_OUT"
    fi
    if [[ $rc -ne 0 && -f $WORK/keel.log ]]; then
        echo "--- last lines of Keel's log ---" >&2
        tail -n 30 "$WORK/keel.log" >&2
    fi
    cd /
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Keel ----------------------------------------------------------------------------------------

if [[ ! -f $JAR_SRC || ${BUILD:-0} == 1 ]]; then
    echo "building $JAR_SRC ..." >&2
    (cd "$REPO" && mvn -q -DskipTests package) || die "the build failed"
fi
# A private copy: a rebuild of target/ while the benchmark runs cannot pull the jar from under it.
cp "$JAR_SRC" "$WORK/keel.jar"

if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
    read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range
    for range in "$INSTANCE_PORTS" "$FLOOR_PORTS"; do
        if (( ${range%-*} <= eph_hi && ${range#*-} >= eph_lo )); then
            echo "warning: port range $range overlaps the ephemeral range $eph_lo-$eph_hi; a server may fail to bind its port" >&2
        fi
    done
fi
if (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null; then
    die "port $API_PORT is taken; set KEEL_BENCH_API_PORT"
fi
mkdir -p "$INSTALL_DIR"

echo "starting Keel on $API (data under $DATA, Postgres binaries in $INSTALL_DIR) ..." >&2
"${KEEL_ENV[@]}" KEEL_PORT="$API_PORT" KEEL_INSTANCES_PORTS="$INSTANCE_PORTS" \
    java -jar "$WORK/keel.jar" >"$WORK/keel.log" 2>&1 &
KEEL_PID=$!
deadline=$(( $(now_ms) + 900000 ))   # the first start may download and unpack Postgres
until [[ $(curl -s -o /dev/null -w '%{http_code}' "$API/health" 2>/dev/null) == 200 ]]; do
    kill -0 "$KEEL_PID" 2>/dev/null || die "Keel exited during startup"
    (( $(now_ms) < deadline )) || die "Keel did not become healthy within 15 minutes"
    sleep 0.2
done
[[ -s $DATA/admin-api-key ]] || die "no admin API key at $DATA/admin-api-key"
KEY=$(<"$DATA/admin-api-key")
AUTH="Authorization: Bearer $KEY"

# The binaries Keel serves (default major 17), and the user it runs them as.
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

# keel_once LABEL: one provision; appends "LABEL total_ms database_id" to keel.samples and the
# phases (the first time each provisioning step was seen) to keel.events.
keel_once() {
    local label=$1 t0 t1 response code body id state step seen= url
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
    echo "$label $((t1 - t0)) $id" >>"$WORK/keel.samples"
    echo "$label $t0 ${events[*]}" >>"$WORK/keel.events"

    # Not timed: deprovision and wait until it is gone, so nothing overlaps the next sample.
    curl -sS -o /dev/null -X DELETE -H "$AUTH" "$API/v1/databases/$id"
    local deadline=$(( $(now_ms) + 120000 ))
    until [[ $(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$API/v1/databases/$id") == 404 ]]; do
        (( $(now_ms) < deadline )) || die "database $id not deleted after 120 s"
        sleep 0.05
    done
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

# floor_once LABEL: initdb + start + first query with Keel's binaries and initdb flags.
floor_once() {
    local label=$1 dir port password t0 t_initdb t_started t1
    dir=$WORK/floor/$label
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
    echo "$label $((t1 - t0)) $((t_initdb - t0)) $((t_started - t_initdb)) $((t1 - t_started))" >>"$WORK/floor.samples"

    as_server "$PGBIN/pg_ctl" stop -D "$dir/data" -m fast -w >/dev/null
    FLOOR_DIR=
    rm -rf "$dir"
}

: >"$WORK/keel.samples"
: >"$WORK/keel.events"
: >"$WORK/floor.samples"
for ((i = 1; i <= WARMUP; i++)); do
    echo "warm-up $i/$WARMUP ..." >&2
    keel_once "warmup$i"
    floor_once "warmup$i"
done
for ((i = 1; i <= N; i++)); do
    keel_once "s$i"
    floor_once "s$i"
    echo "sample $i/$N: keel $(tail -n1 "$WORK/keel.samples" | cut -d' ' -f2) ms, floor $(tail -n1 "$WORK/floor.samples" | cut -d' ' -f2) ms" >&2
done

# --- report --------------------------------------------------------------------------------------

python3 - "$WORK" "$N" "$WARMUP" "$POLL" <<'PY'
import re, sys

work, n, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

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

keel_rows = rows(f"{work}/keel.samples")
floor_rows = rows(f"{work}/floor.samples")
keel = [int(r[1]) for r in keel_rows if r[0].startswith("s")]
floor = [int(r[1]) for r in floor_rows if r[0].startswith("s")]
measured_ids = {r[2] for r in keel_rows if r[0].startswith("s")}

def line(name, v):
    return (f"{name}, N={len(v)}:  p50 {pct(v, 50):.0f} ms  p90 {pct(v, 90):.0f} ms"
            f"  (min {min(v)} .. max {max(v)} ms)")

print(line("provision (POST -> first query)", keel))
print(line("floor (initdb + pg_ctl start + first query)", floor))
print(f"ratio keel/floor: p50 {pct(keel, 50) / pct(floor, 50):.2f}x  p90 {pct(keel, 90) / pct(floor, 90):.2f}x")
print()
print("samples keel  (ms): " + " ".join(str(x) for x in keel))
print("samples floor (ms): " + " ".join(str(x) for x in floor))
warm = [f"keel {k[1]} ms, floor {f[1]} ms" for k, f in zip(keel_rows, floor_rows) if k[0].startswith("warmup")]
if warm:
    print("warm-up (not counted): " + "; ".join(warm))

# Phases as seen by the poller. Events are "POST->202 <when the 202 came>", then "<step> <when
# the step was first seen>" for each step, "available->first_query <when available was seen>" and
# "end <t1>". A phase runs from its start to the next one's; the first step starts at the 202.
phases = {}
order = ["POST->202", "preparing_Postgres_binaries", "reserving_a_port", "initializing", "starting",
         "creating_credentials", "available->first_query"]  # DatabaseCreate's steps, in order
for r in rows(f"{work}/keel.events"):
    if not r[0].startswith("s"):
        continue
    events = list(zip(r[2::2], map(int, r[3::2])))
    starts = [("POST->202", int(r[1]))]
    for i, (label, t) in enumerate(events[1:], start=1):
        starts.append((label, events[0][1] if i == 1 else t))
    for (label, start), (_, end) in zip(starts, starts[1:]):
        phases.setdefault(label, []).append(end - start)
        if label not in order:
            order.append(label)
print()
print(f"keel phases, p50 ms (seen by polling every ~{float(sys.argv[4]) * 1000:.0f} ms; a step shorter than a poll merges into the one before):")
for label in [l for l in order if l in phases]:
    v = phases[label] + [0] * (len(keel) - len(phases[label]))
    print(f"  {label.replace('_', ' '):32s} {pct(v, 50):6.0f}   (p90 {pct(v, 90):.0f})")

floor_measured = [r for r in floor_rows if r[0].startswith("s")]
print("floor phases, p50 ms:")
for i, label in enumerate(["initdb", "pg_ctl start -w", "first query"], start=2):
    v = [int(r[i]) for r in floor_measured]
    print(f"  {label:32s} {pct(v, 50):6.0f}   (p90 {pct(v, 90):.0f})")

# The provision operation's duration from Keel's log ("Operation provision started/succeeded").
# The database id follows the message (as " database=<id>", or glued to it as this logback pattern
# currently renders it).
stamp = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) .*Operation provision (started|succeeded)\s*(?:database=)?"
                   r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
marks = {}
with open(f"{work}/keel.log", errors="replace") as f:
    for text in f:
        m = stamp.match(text)
        if m and m.group(6) in measured_ids:
            h, mi, s, ms = map(int, m.groups()[:4])
            marks.setdefault(m.group(6), {})[m.group(5)] = ((h * 60 + mi) * 60 + s) * 1000 + ms
ops = [(m["succeeded"] - m["started"]) % 86400000 for m in marks.values() if "started" in m and "succeeded" in m]
if ops:
    print(f"keel provision operation per its log (started -> succeeded), N={len(ops)}:"
          f"  p50 {pct(ops, 50):.0f} ms  p90 {pct(ops, 90):.0f} ms  (min {min(ops)} .. max {max(ops)} ms)")
PY
