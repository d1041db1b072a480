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
#                                 `mvn -q -Dmaven.test.skip=true package` when missing or older than HEAD's
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
# Set-up, the Keels and the cleanup are ops/bench/lib/keel.sh's; the report is ops/bench/py/provision.py.
set -euo pipefail

N=${N:-10}
WARMUP=${WARMUP:-1}
API_PORT=${KEEL_BENCH_API_PORT:-5490}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-24800-24804}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-24805-24899}
FLOOR_PORTS=${KEEL_BENCH_FLOOR_PORTS:-24700-24799}
POLL=${POLL_INTERVAL:-0.01}   # seconds between state polls and between psql attempts
READY='Warm pool: instance .* is ready on port'
source "$(dirname "$0")/lib/keel.sh"

positive N
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a non-negative integer, not '$WARMUP'"
bench_init
KEEP=('keel-*.log')
MODE=                        # the Keel currently running: cold or warm
FLOOR_DIR=                   # the floor cluster currently alive, if any
stop_floor() { [[ -z $FLOOR_DIR ]] || stop_cluster "$FLOOR_DIR/data" immediate; }
at_exit stop_floor
keel_jar
warn_ephemeral "$CATALOG_PORTS" "$INSTANCE_PORTS" "$FLOOR_PORTS"

# --- Keel ----------------------------------------------------------------------------------------

# start_keel MODE POOL_SIZE: a Keel with a fresh data dir, healthy.
start_keel() {
    MODE=$1
    keel_start "$WORK/keel-$MODE" "$WORK/keel-$MODE.log" KEEL_INSTANCES_POOL_SIZE="$2"
}

# stop_keel: stops the running Keel and every server under its data dir, and removes the data
# dir (its log stays, for the report).
stop_keel() {
    keel_stop
    rm -rf "$KEEL_DATA" "$KEEL_SERVERS"
}

# wait_pool_ready COUNT: waits until Keel's log says COUNT times that a pooled instance is ready.
wait_pool_ready() {
    local deadline=$(( $(now_ms) + 120000 ))
    until (( $(grep -c -- "$READY" "$KEEL_LOG" || true) >= $1 )); do
        if grep -q 'Warm pool: could not make an instance' "$KEEL_LOG"; then
            die "the warm pool failed to make an instance: $(grep -A3 'Warm pool: could not' "$KEEL_LOG" | head -n 4)"
        fi
        kill -0 "$KEEL_PID" 2>/dev/null || die "Keel ($MODE) exited"
        (( $(now_ms) < deadline )) || die "the warm pool did not get instance $1 ready within 120 s"
        sleep 0.05
    done
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
    response=$(curl -sS -w '\n%{http_code}' "${AUTH[@]}" -d '{"plan":"standard-0"}' "$API/v1/databases")
    code=$(code_of "$response")
    body=$(body_of "$response")
    [[ $code == 202 ]] || die "POST /v1/databases answered $code: $body"
    id=$(json_field id "$body")
    events+=("POST->202 $(now_ms)")
    while :; do
        body=$(curl -sS "${AUTH[@]}" "$API/v1/databases/$id")
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
    port=$(url_port "$url") || port=-
    echo "$label $((t1 - t0)) $id $port $pooled_port $t0" >>"$WORK/$MODE.samples"
    echo "$label $t0 ${events[*]}" >>"$WORK/$MODE.events"

    # Not timed: deprovision and wait until it is gone, so nothing overlaps the next sample.
    keel_delete "$id"
}

# --- floor ---------------------------------------------------------------------------------------

# floor_once LABEL: initdb + start + first query with Keel's binaries and initdb flags; appends
# "LABEL total initdb start first_query" (ms) to floor-$MODE.samples.
floor_once() {
    local label=$1 dir port password t0 t_initdb t_started t1
    dir=$WORK/floor/$MODE-$label
    mkdir -p "$dir"
    chmod 700 "$dir"
    port=$(bench_py tool free-ports 1 "$FLOOR_PORTS") || die "no free port in $FLOOR_PORTS for the floor"
    password=$(floor_password "$dir")
    FLOOR_DIR=$dir

    t0=$(now_ms)
    floor_initdb "$dir" data
    t_initdb=$(now_ms)
    floor_listen "$dir/data" "$port"
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
pgbin_of 17.11.0             # the binaries Keel serves (default major 17), and the user it runs them as
server_user
: >"$WORK/cold.samples"; : >"$WORK/cold.events"; : >"$WORK/floor-cold.samples"
for ((i = 1; i <= WARMUP + N; i++)); do
    if (( i <= WARMUP )); then label=warmup$i; else label=s$((i - WARMUP)); fi
    keel_once "$label"
    floor_once "$label"
    say "cold $label: keel $(last_ms "$WORK/cold.samples") ms, floor $(last_ms "$WORK/floor-cold.samples") ms"
done
grep -q -- "$READY" "$KEEL_LOG" && die "the cold Keel made pooled instances (KEEL_INSTANCES_POOL_SIZE=0 ignored?)"
stop_keel

# --- the warm run: a pool of one, each sample taken when the pooled instance is ready -------------

start_keel warm 1
: >"$WORK/warm.samples"; : >"$WORK/warm.events"; : >"$WORK/floor-warm.samples"
for ((i = 1; i <= WARMUP + N; i++)); do
    if (( i <= WARMUP )); then label=warmup$i; else label=s$((i - WARMUP)); fi
    wait_pool_ready "$i"   # after i-1 provisions: the startup fill plus i-1 refills
    pooled_port=$(grep -- "$READY" "$KEEL_LOG" | tail -n1 | sed 's/.* on port \([0-9]*\).*/\1/')
    keel_once "$label" "$pooled_port"
    wait_pool_ready $((i + 1))   # the refill this provision started, so it cannot slow the floor
    floor_once "$label"
    say "warm $label: keel $(last_ms "$WORK/warm.samples") ms, floor $(last_ms "$WORK/floor-warm.samples") ms"
done
stop_keel

# --- report --------------------------------------------------------------------------------------

bench_py provision "$WORK" "$N" "$WARMUP" "$POLL"
