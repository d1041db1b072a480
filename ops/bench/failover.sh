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
#                                 built with `mvn -q -Dmaven.test.skip=true package` when missing or older
#                                 than HEAD, or with BUILD=1; never when KEEL_JAR is set)
#   KEEL_POSTGRES_INSTALL_DIR     shared with the other benchmarks ($HOME/.cache/keel-bench/postgres;
#                                 /var/cache/keel-bench/postgres as root)
#   PGBENCH                       the pgbench to load with (default: one next to Keel's binaries,
#                                 else the first of PATH and /usr/lib/postgresql/*/bin)
#   KEEL_BENCH_API_PORT           Keel's API port (5493)
#   KEEL_BENCH_DOWNLOAD_PORT      its backup-download port (5498)
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
# Set-up, Keel, its API helpers and the cleanup are ops/bench/lib/keel.sh's; the report is
# ops/bench/py/failover.py.
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
# Its own backup-download port, so that a Keel on the defaults (5480, 5481) on the same machine does not stop it starting.
DOWNLOAD_PORT=${KEEL_BENCH_DOWNLOAD_PORT:-5498}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-24400-24404}
S3_EMBEDDED_PORTS=${KEEL_BENCH_S3_PORTS:-24405-24409}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-24410-24499}
FLOOR_PORTS=${KEEL_BENCH_FLOOR_PORTS:-24500-24509}
TARGET_MS=10000
source "$(dirname "$0")/lib/keel.sh"

positive N LAG_RATE LAG_SECONDS
[[ -z $ONLY || $ONLY == failover || $ONLY == lag ]] || die "ONLY is failover or lag, not '$ONLY'"
bench_init
KEEP=('*.log' '*.samples' '*.meta' 'ha-*.json')
PGBENCH_PID=
STOPPED=()                   # postmasters this run has sent SIGSTOP and not seen end
FLOOR_DIR=                   # the floor's pair while it is alive

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
    for side in primary standby; do stop_cluster "$FLOOR_DIR/$side" immediate; done
    rm -rf "$FLOOR_DIR"
    FLOOR_DIR=
}

stop_load() {  # on exit: pgbench, then the postmasters this run stopped, then the floor
    if [[ -n $PGBENCH_PID ]]; then
        kill "$PGBENCH_PID" 2>/dev/null
        wait "$PGBENCH_PID" 2>/dev/null
    fi
    continue_stopped
    stop_floor
}
at_exit stop_load
keel_jar
warn_ephemeral "$CATALOG_PORTS" "$S3_EMBEDDED_PORTS" "$INSTANCE_PORTS" "$FLOOR_PORTS"

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

# find_pgbin: the binaries Keel serves for its default major (its banner names the version), and
# the user it runs them as.
find_pgbin() {
    local version= deadline=$(( $(now_ms) + 60000 ))
    until [[ -n $version ]]; do
        (( $(now_ms) < deadline )) || die "Keel's banner names no default Postgres version: $(grep 'Postgres versions' "$KEEL_LOG")"
        sleep 0.2
        version=$(sed -n 's/.*(\([0-9][0-9.]*\), default).*/\1/p' "$KEEL_LOG" | head -n1)
    done
    PG_VERSION=$version
    pgbin_of "$version"
    server_user
}

# --- keel: one failover --------------------------------------------------------------------------

# keel_once LABEL: a premium-0 database, its primary stopped once its standby is Available; appends
# "LABEL total_ms url_changed_ms id name t0_ms old_port new_port before_row_kept old_postmaster_gone"
# to keel.samples
# and keeps GET .../ha as ha-LABEL.json.
keel_once() {
    local label=$1 created id name body url port pid instance t0 t1 t_url=- newurl= newport=- kept deadline fenced=no
    created=$(keel_create '{"plan":"premium-0"}')
    read -r id name <<<"$created"
    body=$(keel_wait_available "$id" 600)
    wait_ha_available "$id" 600
    url=$(json_field url "$body")
    port=$(url_port "$url")
    read -r pid instance < <(postmaster_of "$port") || die "no server under $KEEL_SERVERS/instances listens on $port ($url)"
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
        body=$(curl -sS --max-time 5 "${AUTH[@]}" "$API/v1/databases/$id" 2>/dev/null || true)
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
    keel_delete "$id"
}

# --- floor: the same failover by hand ------------------------------------------------------------

# floor_once LABEL: appends "LABEL total_ms promote_ms t0_ms" to floor.samples.
floor_once() {
    local label=$1 dir p1 p2 password pid t0 t_promoted t1 deadline
    dir=$WORK/floor-$label
    mkdir -p "$dir"
    chmod 700 "$dir"
    read -r p1 p2 < <(bench_py tool free-ports 2 "$FLOOR_PORTS") || die "no two free ports in $FLOOR_PORTS for the floor"
    password=$(floor_password "$dir")
    FLOOR_DIR=$dir

    floor_initdb "$dir" primary
    # The standby: a copy of the cleanly shut down primary, told to stream from it. initdb's
    # pg_hba.conf lets the superuser replicate from 127.0.0.1 with its password.
    cp -a "$dir/primary" "$dir/standby"
    floor_listen "$dir/primary" "$p1"
    floor_listen "$dir/standby" "$p2"
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
    created=$(keel_create '{"plan":"standard-0"}')
    read -r leader leader_name <<<"$created"
    body=$(keel_wait_available "$leader" 600)
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
    keel_wait_available "$follower" 900 >/dev/null
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
        response=$(curl -sS --max-time 5 -w '\n%{http_code}' "${AUTH[@]}" "$API/v1/databases/$follower" 2>/dev/null || true)
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

    keel_delete "$follower"
    keel_delete "$leader"
}

# --- the run -------------------------------------------------------------------------------------

run_start=$(now_ms)
keel_start "$WORK/keel" "$WORK/keel.log" KEEL_INSTANCES_POOL_SIZE=1 KEEL_HA_CHECK_INTERVAL="$HA_CHECK_INTERVAL" \
    KEEL_HA_MISSES="$HA_MISSES" KEEL_HA_PROBE_TIMEOUT_SECONDS="$HA_PROBE_TIMEOUT_SECONDS"
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
keel_stop

# --- report --------------------------------------------------------------------------------------

bench_py failover "$WORK" "$PG_VERSION" "$TARGET_MS" "$POLL" "$HA_CHECK_INTERVAL" "$HA_MISSES" "$HA_PROBE_TIMEOUT_SECONDS" \
    "$LAG_SAMPLE" "$(( ($(now_ms) - run_start) / 1000 ))"
