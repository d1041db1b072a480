#!/usr/bin/env bash
# ops/bench/sync-commit.sh: what synchronous commit to the standby costs a premium (HA) database in
# throughput and latency, with pgbench, against the same cost on a primary+standby pair made by hand
# with the same Postgres binaries (the floor); in one run.
#
# Measures, with Debian's pgbench (PGBENCH), -c CLIENTS (4) -j 2 -T DURATION (30 s), two workloads:
#   tpcb     pgbench's TPC-B-like default (scale SCALE, 10: 10 branches, so 4 clients rarely wait
#            on one branch row): 3 updates, a select and an insert per transaction, one commit;
#   insert   a one-row insert per transaction (`insert into bench_sync ...`, -n): the commit is
#            most of the transaction, so this is where waiting for the standby shows most.
#   keel     one premium-0 database, measured through its url with sslmode=verify-full against
#            Keel's CA, in two modes:
#              sync   once GET /v1/databases/{id}/ha says "synchronous": true (and the primary's
#                     `show synchronous_standby_names` names the standby);
#              async  the same database and instance after Keel is restarted with
#                     KEEL_HA_ASYNCHRONOUS_PLANS=premium-0, once .../ha says "synchronous": false
#                     and synchronous_standby_names is empty. Keel is restarted (only Keel: its
#                     servers keep running) whenever the mode changes.
#            After each run .../ha is read again: a sync run during which Keel turned synchronous
#            commit off (a commit waited past KEEL_HA_SYNC_GRACE) is flagged and left out.
#   floor    a primary and a streaming standby made by hand with the binaries the Keel primary
#            runs (its postmaster's /proc/<pid>/exe) and Keel's initdb flags, stock settings, TLS
#            (a throwaway certificate for 127.0.0.1, sslmode=verify-full against it, also used by
#            the standby's replication connection): sync with synchronous_standby_names set to
#            the standby (ALTER SYSTEM, reload; pg_stat_replication says sync_state 'sync'), async
#            with it empty ('async'). pgbench -i -s SCALE into its database postgres, the same runs.
# N (3) repetitions; each runs keel and floor in one mode, then both in the other, and the order
# of the modes alternates (sync first in odd repetitions, async first in even ones) so that a
# drift of the machine hits both. Before the first repetition, one unmeasured WARMUP-second (10)
# run of each workload on each side. Latency is per transaction, from pgbench's -l log (its
# `time` column: the transaction's latency, connection set up beforehand).
# Prints, per workload: tps (median of the N runs) and latency p50/p95 (medians of the runs'
# percentiles) for keel sync, keel async, floor sync, floor async; sync/async for keel and for the
# floor (of the medians, and per repetition); keel/floor in each mode; the settings that differ
# between Keel's primary and the floor's; the load average during each run.
#
# Measured on 2 vCPUs (AMD EPYC), jar 616098b, Postgres 17.11.0, defaults, the machine shared with
# other Java tests (load average 6-13): sync/async tps, keel 0.38x insert (492 / 1298 tps, p50
# 6.3 / 1.9 ms) and 0.89x tpcb (279 / 314 tps, p50 11.0 / 9.7 ms); floor 0.42x insert (492 / 1163)
# and 0.60x tpcb (233 / 389); keel/floor 1.00x insert and 1.20x tpcb synchronous, 1.12x and 0.81x
# asynchronous. The table is in ops/bench/README.md.
#
# Run from anywhere, as root or not (as root, initdb/postgres run as user postgres, else keel):
#   ops/bench/sync-commit.sh                    # N=3, 30 s runs: ~17 minutes on 2 vCPUs
#   N=5 DURATION=60 CLIENTS=8 ops/bench/sync-commit.sh
# SUBJECT=receiver measures synchronous archiving instead (README): a standard-0 database whose
# commits wait for the WAL receiver to have their WAL in the object store, Keel started with
# KEEL_ARCHIVE_SYNCHRONOUS_PLANS=standard-0 for sync and without it for async, its mode read from
# GET .../archive's "receiver": {"synchronous": ...}; the floor is the same primary+standby pair.
# Environment:
#   SUBJECT                       standby (premium-0, the default) or receiver (standard-0)
#   N                             repetitions (3); each runs every side, mode and workload once
#   DURATION                      seconds of each timed pgbench run (30)
#   WARMUP                        seconds of the unmeasured run of each workload on each side (10; 0: none)
#   CLIENTS, THREADS              pgbench -c and -j (4, 2)
#   SCALE                         pgbench -i -s for the tpcb workload (10)
#   PGBENCH                       the pgbench to run (default: the first on PATH)
#   KEEL_JAR, BUILD               as in provision.sh (a private copy of target/keel.jar is run,
#                                 built with `mvn -q -Dmaven.test.skip=true package` when missing or older
#                                 than HEAD, or with BUILD=1; never when KEEL_JAR is set)
#   KEEL_POSTGRES_INSTALL_DIR     shared with the other benchmarks ($HOME/.cache/keel-bench/postgres;
#                                 /var/cache/keel-bench/postgres as root)
#   KEEL_BENCH_API_PORT           Keel's API port (5496)
#   KEEL_BENCH_PORTS              Keel's port block (24000: catalog +0..4, embedded S3 +5..9,
#                                 poolers +10..19, instances +20..99, downloads +100)
#   KEEL_BENCH_FLOOR_PORTS        the floor's primary and standby (24110-24119)
#   KEEL_BENCH_LOG_DIR            copy Keel's log, the floor's server logs, pgbench's outputs and
#                                 the results there at the end
# The ranges are clear of density.sh (22990-23999, API 5491), the block lib/keel.sh lays out by
# default (24200-24300, API 5495), failover.sh/dataclips.sh/diagnose.sh (24400-24509, 5493-5494),
# archive.sh (24590-24699), restore.sh (24690-24799, 5492), provision.sh (24700-24899, 5490), a
# Keel on its defaults (24850-25999), the tests (26000-32767) and rpo.sh (31000-31104), and lie
# below Linux's ephemeral range (32768-60999 by default), where a port free when chosen can be
# taken by an outgoing connection before the server binds it.
# Everything else lives in a temporary directory under /tmp that is removed on exit, after pgbench,
# the floor's servers, Keel and its servers are stopped. Set-up, Keel, its API helpers and the
# cleanup are ops/bench/lib/keel.sh's; the samples and the report are ops/bench/py/sync_commit.py.
set -euo pipefail

N=${N:-3}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-10}
CLIENTS=${CLIENTS:-4}
THREADS=${THREADS:-2}
SCALE=${SCALE:-10}
KEEL_BENCH_API_PORT=${KEEL_BENCH_API_PORT:-5496}
KEEL_BENCH_PORTS=${KEEL_BENCH_PORTS:-24000}
FLOOR_PORTS=${KEEL_BENCH_FLOOR_PORTS:-24110-24119}
SUBJECT=${SUBJECT:-standby}
case $SUBJECT in
    standby) PLAN=premium-0 ENDPOINT=ha ;;
    receiver) PLAN=standard-0 ENDPOINT=archive ;;
    *) echo "SUBJECT is standby or receiver, not '$SUBJECT'" >&2; exit 2 ;;
esac
source "$(dirname "$0")/lib/keel.sh"

positive N DURATION CLIENTS THREADS SCALE
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a number of seconds, not '$WARMUP'"
PGBENCH=${PGBENCH:-$(command -v pgbench || true)}
[[ -n $PGBENCH && -x $PGBENCH ]] || die "pgbench is required (Debian: postgresql-client-15's, or set PGBENCH)"
bench_init openssl
KEEP=('*.log' '*.out' 'floor/*.log' 'results')
FLOOR_DIR=                   # the floor's pair while it is alive
stop_floor() {
    [[ -n $FLOOR_DIR ]] || return 0
    local side
    for side in primary standby; do stop_cluster "$FLOOR_DIR/$side"; done
    FLOOR_DIR=
}
at_exit stop_floor
keel_jar
warn_ephemeral "$CATALOG_PORTS" "$S3_EMBEDDED_PORTS" "$POOLING_PORTS" "$INSTANCE_PORTS" "$FLOOR_PORTS"
printf '%s\n' '\set v random(1, 1000000)' 'insert into bench_sync (v) values (:v);' >"$WORK/insert.sql"

# --- keel ----------------------------------------------------------------------------------------

KEEL_MODE=
# keel_mode MODE: (re)starts Keel on the same data directory, with KEEL_HA_ASYNCHRONOUS_PLANS=$PLAN
# for async (SUBJECT=receiver: with KEEL_ARCHIVE_SYNCHRONOUS_PLANS=$PLAN for sync); only Keel
# restarts, its servers keep running.
keel_mode() {
    [[ $KEEL_MODE != "$1" ]] || return 0
    local extra=()
    if [[ $SUBJECT == receiver ]]; then
        [[ $1 != sync ]] || extra=(KEEL_ARCHIVE_SYNCHRONOUS_PLANS="$PLAN")
    else
        [[ $1 == sync ]] || extra=(KEEL_HA_ASYNCHRONOUS_PLANS="$PLAN")
    fi
    [[ -z $KEEL_MODE ]] || { say "restarting Keel for $1 commits ..."; keel_kill; }
    keel_start "$WORK/keel" "$WORK/keel.log" "${extra[@]}"
    KEEL_MODE=$1
}

ha_synchronous() {  # ha_synchronous ID: "synchronous" of GET .../ha (.../archive's receiver's for SUBJECT=receiver), or "?"
    local body
    body=$(body_of "$(api GET "/v1/databases/$1/$ENDPOINT")")
    if [[ $body =~ \"synchronous\":(true|false|null) ]]; then echo "${BASH_REMATCH[1]}"; else echo '?'; fi
}

# keel_wait_mode MODE SECONDS: until GET .../ha (or .../archive) says synchronous is true (sync) or false (async),
# then checks the primary's synchronous_standby_names agrees.
keel_wait_mode() {
    local want=true names deadline=$(( $(now_ms) + $2 * 1000 ))
    [[ $1 == sync ]] || want=false
    until [[ $(ha_synchronous "$DB") == "$want" ]]; do
        (( $(now_ms) < deadline )) || die "GET .../$ENDPOINT of $DB did not say \"synchronous\": $want within $2 s: $(body_of "$(api GET "/v1/databases/$DB/$ENDPOINT")")"
        sleep 0.5
    done
    names=$("$PSQL" -X -Atq "$KEEL_PG" -c 'show synchronous_standby_names') || die "cannot ask $DB's primary for synchronous_standby_names"
    if [[ $1 == sync && -z $names ]] || [[ $1 == async && -n $names ]]; then
        die "GET .../ha says synchronous $want but the primary's synchronous_standby_names is '$names'"
    fi
    say "keel $1: .../$ENDPOINT says \"synchronous\": $want, synchronous_standby_names '$names'"
}

# --- floor ---------------------------------------------------------------------------------------

# floor_pair: a primary and a streaming standby, Keel's binaries ($PGBIN) and initdb flags, TLS with
# a throwaway certificate for 127.0.0.1; sets FLOOR_PG (verify-full against it) and FLOOR_DIR.
floor_pair() {
    local dir=$WORK/floor p1 p2 password side deadline
    mkdir -p "$dir"
    chmod 700 "$dir"
    read -r p1 p2 < <(bench_py tool free-ports 2 "$FLOOR_PORTS") || die "no two free ports in $FLOOR_PORTS for the floor"
    password=$(floor_password "$dir")
    FLOOR_DIR=$dir
    floor_initdb "$dir" primary
    openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -days 2 \
        -keyout "$dir/primary/server.key" -out "$dir/primary/server.crt" >/dev/null 2>&1 || die "openssl could not make a certificate"
    chmod 600 "$dir/primary/server.key"
    cp "$dir/primary/server.crt" "$WORK/floor-ca.pem"
    printf "ssl = on\n" >>"$dir/primary/postgresql.conf"
    own "$dir/primary"
    # The standby: a copy of the cleanly shut down primary, streaming from it over TLS (as failover.sh's floor).
    cp -a "$dir/primary" "$dir/standby"
    floor_listen "$dir/primary" "$p1"
    floor_listen "$dir/standby" "$p2"
    # sslcert: a file that is not there, so that libpq, run with root's HOME, does not try /root/.postgresql.
    printf "primary_conninfo = 'host=127.0.0.1 port=%d user=keel password=%s application_name=floor_standby sslmode=require sslcert=%s'\n" \
        "$p1" "$password" "$dir/no-client.crt" >>"$dir/standby/postgresql.auto.conf"
    : >"$dir/standby/standby.signal"
    own "$dir/standby/standby.signal"
    for side in primary standby; do
        as_server "$PGBIN/pg_ctl" start -w -D "$dir/$side" -l "$dir/$side.log" >/dev/null \
            || die "the floor's $side did not start: $(tail -n 5 "$dir/$side.log")"
    done
    FLOOR_PG="postgresql://keel:$password@127.0.0.1:$p1/postgres?sslmode=verify-full&sslrootcert=$WORK/floor-ca.pem"
    deadline=$(( $(now_ms) + 60000 ))
    until [[ $("$PSQL" -X -Atq "$FLOOR_PG" -c "select count(*) from pg_stat_replication r join pg_stat_ssl s using (pid)
                where r.application_name = 'floor_standby' and r.state = 'streaming' and s.ssl" 2>/dev/null || true) == 1 ]]; do
        (( $(now_ms) < deadline )) || die "the floor's standby does not stream over TLS after 60 s: $(tail -n 5 "$dir/standby.log")"
        sleep 0.2
    done
}

floor_mode() {  # floor_mode MODE: synchronous_standby_names set (sync) or emptied (async), reloaded, checked
    local names=$1 state=sync deadline=$(( $(now_ms) + 30000 ))
    [[ $1 == sync ]] && names='"floor_standby"' || { names=''; state=async; }
    "$PSQL" -X -q "$FLOOR_PG" -v ON_ERROR_STOP=1 -c "alter system set synchronous_standby_names = '$names'" \
        -c 'select pg_reload_conf()' >/dev/null || die "could not set the floor's synchronous_standby_names"
    until [[ $("$PSQL" -X -Atq "$FLOOR_PG" -c "select sync_state from pg_stat_replication where application_name = 'floor_standby'") == "$state" ]]; do
        (( $(now_ms) < deadline )) || die "the floor's standby is not $state within 30 s"
        sleep 0.1
    done
}

# --- pgbench -------------------------------------------------------------------------------------

pgbench_init() {  # pgbench_init SIDE URL: pgbench's tables (scale SCALE) and bench_sync
    say "$1: pgbench -i -s $SCALE ..."
    "$PGBENCH" -i -q -s "$SCALE" "$2" >"$WORK/init-$1.out" 2>&1 || die "pgbench -i on $1 failed: $(tail -n 5 "$WORK/init-$1.out")"
    "$PSQL" -X -q "$2" -v ON_ERROR_STOP=1 -c 'create table bench_sync (id bigserial primary key, v int, at timestamptz default now())' \
        >/dev/null || die "could not create bench_sync on $1"
}

# bench SIDE MODE WORKLOAD REP SECONDS URL: one pgbench run; REP 0 is the unmeasured warm-up.
bench() {
    local side=$1 mode=$2 workload=$3 rep=$4 seconds=$5 url=$6 label=$1-$2-$3-$4 args rc=0 sync_after=-
    args=(-c "$CLIENTS" -j "$THREADS" -T "$seconds")
    [[ $workload == tpcb ]] || args+=(-n -f "$WORK/insert.sql")
    local load_before
    load_before=$(load_avg)
    "$PGBENCH" "${args[@]}" -l --log-prefix="$WORK/txn-$label" "$url" >"$WORK/pgbench-$label.out" 2>&1 || rc=$?
    (( rc == 0 )) || die "pgbench $label failed ($rc): $(tail -n 5 "$WORK/pgbench-$label.out")"
    [[ $side != keel ]] || sync_after=$(ha_synchronous "$DB")
    bench_py sync_commit sample "$side" "$mode" "$workload" "$rep" "$WORK/pgbench-$label.out" "$WORK/txn-$label" "$sync_after" \
        "$load_before" "$(load_avg)"
}

side_mode() {  # side_mode SIDE MODE: puts the side in the mode (keel: restart and wait; floor: reload)
    if [[ $1 == keel ]]; then
        keel_mode "$2"
        keel_wait_mode "$2" 180
    else
        floor_mode "$2"
    fi
}

# --- the run -------------------------------------------------------------------------------------

run_start=$(now_ms)
server_user
keel_mode sync
created=$(keel_create "{\"plan\":\"$PLAN\"}")
read -r DB _ <<<"$created"
body=$(keel_wait_available "$DB" 900)
KEEL_PG=$(verified "$(json_field url "$body")")
say "waiting for $DB's $SUBJECT and synchronous commit ..."
keel_wait_mode sync 900
read -r pid _ < <(postmaster_of "$(url_port "$KEEL_PG")") || die "no server under $KEEL_SERVERS/instances listens on the port of $DB's url"
exe=$(readlink "/proc/$pid/exe") || die "cannot read /proc/$pid/exe of $DB's primary"
PG_VERSION=$(basename "$(dirname "$(dirname "$exe")")")
pgbin_of "$PG_VERSION"
[[ $exe -ef $PGBIN/postgres ]] || die "$DB's primary runs $exe, not $PGBIN/postgres"
floor_pair
pgbench_init keel "$KEEL_PG"
pgbench_init floor "$FLOOR_PG"
bench_py sync_commit settings "$KEEL_PG" "$FLOOR_PG"
bench_py tool meta "$WORK/results/meta.json" n="$N" duration="$DURATION" warmup="$WARMUP" clients="$CLIENTS" threads="$THREADS" \
    scale="$SCALE" pg_version="$PG_VERSION" pgbench="$("$PGBENCH" --version)" keel="$KEEL_VERSION" plan="$PLAN" subject="$SUBJECT"

if (( WARMUP > 0 )); then
    for side in keel floor; do
        side_mode "$side" sync
        url=$KEEL_PG; [[ $side == keel ]] || url=$FLOOR_PG
        for workload in tpcb insert; do bench "$side" sync "$workload" 0 "$WARMUP" "$url"; done
    done
fi
for ((rep = 1; rep <= N; rep++)); do
    modes=(sync async)
    (( rep % 2 == 1 )) || modes=(async sync)
    for mode in "${modes[@]}"; do
        for side in keel floor; do
            side_mode "$side" "$mode"
            url=$KEEL_PG; [[ $side == keel ]] || url=$FLOOR_PG
            for workload in tpcb insert; do bench "$side" "$mode" "$workload" "$rep" "$DURATION" "$url"; done
        done
    done
done
keel_stop
stop_floor

# --- report --------------------------------------------------------------------------------------

bench_py sync_commit report "$(( ($(now_ms) - run_start) / 1000 ))" "$(nproc)"
