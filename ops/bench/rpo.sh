#!/usr/bin/env bash
# ops/bench/rpo.sh: how many acknowledged commits a database loses when its primary's host is lost,
# with Keel's WAL streaming, with archive_timeout alone (Heroku's design), and with pgBackRest 2.45
# (the anchor), in one run, against one S3-compatible server (one S3Proxy); and what the WAL
# receiver costs in CPU next to the archivers, for the same load's WAL.
#
# Each round, for each mode (the same kill time for all three; the order alternates by round):
#   keel-streaming  a standard-0 database of major 15 on a Keel with KEEL_ARCHIVE_STREAMING=true
#   keel-timeout    the same on the same Keel restarted with KEEL_ARCHIVE_STREAMING=false:
#                   archive_command and archive_timeout (60 s) only
#   pgbackrest      a cluster made with Keel's 15.19.0 binaries and the keel.conf Keel wrote (same
#                   settings, archive_timeout 60 s included; checked), archive-push with
#                   archive-async=y to a repository in the same S3Proxy, a full backup first
# then: pgbench -i (scale SCALE) and a table rpo_ack; a wait until nothing is left to archive;
# pgbench with CLIENTS clients at --rate RATE for LOAD_MIN + a uniform 0..LOAD_SPREAD seconds
# (SEED), each transaction TPC-B-like plus one insert of (client, its transaction number), logged
# by pgbench -l once acknowledged; then the primary's host is lost: its postmaster stopped, it and
# every process of it SIGKILLed (pgBackRest's processes too), its data directory and its WAL spool
# removed. Then "latest" is restored: Keel's POST /v1/databases {"rollback": <id>, "to": now},
# until available; pgBackRest's `restore` into the emptied directory (--archive-mode=off), started
# until promoted. Each acknowledged (client, number) missing from the copy is lost; the round's
# loss in seconds is the kill's time minus the acknowledgement of the oldest one lost (0: none).
# CPU, from the load's start to the last WAL position read before the kill, per GiB of WAL written:
# Keel's receiver (its threads in the JVM, by name in /proc/<pid>/task, and the walsender),
# the archive_command path (Postgres' archiver with the commands it runs: /proc/<pid>/stat, own and
# reaped children; Keel's upload threads), pgBackRest (the archiver and every pgbackrest process:
# a cpuacct cgroup when one can be made, else /proc read every 0.2 s), S3Proxy.
# Prints lost seconds p50 and max and lost transactions per mode, each against pgBackRest's, the
# CPU table and its ratios, the targets (<= 1 s lost; the receiver at most 1.5x pgBackRest's CPU),
# and every round.
#
# Run from anywhere, as root (Postgres and pgbackrest run as user postgres):
#   ops/bench/rpo.sh                                  # N=5 rounds: ~35-45 minutes on 2 vCPUs
#   N=1 LOAD_MIN=20 LOAD_SPREAD=0 ops/bench/rpo.sh    # a smoke run: ~5 minutes
#   MODES="keel-streaming pgbackrest" N=3 ops/bench/rpo.sh
# Environment:
#   N                        rounds (5)
#   LOAD_MIN, LOAD_SPREAD    seconds of load before the kill: LOAD_MIN + uniform(0, LOAD_SPREAD) (60, 60)
#   SEED                     bash's RANDOM seed for those offsets (1)
#   RATE, CLIENTS, SCALE     pgbench: transactions/s in all (100), clients (2), pgbench -i scale (1)
#   MODES                    which of keel-streaming keel-timeout pgbackrest (all three)
#   PGBR_PROCESS_MAX         pgBackRest process-max (2)
#   KEEL_BENCH_KEEL_S3       https (default: Keel, like pgBackRest, talks TLS to S3Proxy) or http
#   RESTORE_TIMEOUT          seconds a restore may take (900)
#   KEEL_JAR, BUILD, KEEL_POSTGRES_INSTALL_DIR, S3PROXY_JAR, KEEL_BENCH_LOG_DIR: as in archive.sh
#   KEEL_BENCH_PORTS         Keel's port block (31000: catalog +0..4, poolers +10..19, instances
#                            +20..99, downloads +100), KEEL_BENCH_API_PORT (31101),
#   KEEL_BENCH_S3_PORTS      S3Proxy's HTTP and HTTPS ports ("31102 31103"),
#   KEEL_BENCH_PGBR_PORT     pgBackRest's cluster (31104): below the ephemeral range, clear of
#                            Keel's defaults and of the other benchmarks.
# Set-up, S3Proxy, pgBackRest's cluster and the cleanup are ops/bench/lib/keel.sh's; the load, the
# kill, the restores' counts and the report are ops/bench/py/rpo.py and rpo_report.py. Everything
# lives in a temporary directory under /tmp, removed on exit after every process the run started
# is stopped; /etc/pgbackrest.conf is neither read nor written (--config points into it).
set -euo pipefail

N=${N:-5}
LOAD_MIN=${LOAD_MIN:-60}
LOAD_SPREAD=${LOAD_SPREAD:-60}
SEED=${SEED:-1}
RATE=${RATE:-100}
CLIENTS=${CLIENTS:-2}
SCALE=${SCALE:-1}
MODES=${MODES:-keel-streaming keel-timeout pgbackrest}
PGBR_PROCESS_MAX=${PGBR_PROCESS_MAX:-2}
KEEL_S3=${KEEL_BENCH_KEEL_S3:-https}
export RESTORE_TIMEOUT=${RESTORE_TIMEOUT:-900}
KEEL_BENCH_PORTS=${KEEL_BENCH_PORTS:-31000}
KEEL_BENCH_API_PORT=${KEEL_BENCH_API_PORT:-31101}
read -r S3_HTTP S3_HTTPS <<<"${KEEL_BENCH_S3_PORTS:-31102 31103}"
PGBR_PORT=${KEEL_BENCH_PGBR_PORT:-31104}
S3_EMBEDDED_PORTS=           # Keel uses the run's S3Proxy, not one of its own
PG_VERSION=15.19.0           # what Keel serves for major 15; pgBackRest 2.45 stops at 15
KEEL_BUCKET=keel-rpo
PGBR_BUCKET=pgbackrest-rpo
source "$(dirname "$0")/lib/keel.sh"

positive N RATE CLIENTS SCALE
[[ $LOAD_MIN =~ ^[1-9][0-9]*$ && $LOAD_SPREAD =~ ^[0-9]+$ ]] || die "LOAD_MIN and LOAD_SPREAD are whole seconds (LOAD_MIN > 0)"
for mode in $MODES; do
    [[ $mode =~ ^(keel-streaming|keel-timeout|pgbackrest)$ ]] || die "MODES holds keel-streaming, keel-timeout, pgbackrest; not '$mode'"
done
LOAD_START=$(load_avg)
pgbr_bench --cgroups "$PGBR_PORT"
KEEP=('*.log' 'pgbench-*' 'pgbr-*/*.log' 'pgbr-*/log/*.log' s3/s3proxy.log results)

# The load: pgbench's TPC-B-like transaction and a numbered row: (client, its transaction number).
cat >"$WORK/rpo.sql" <<'EOF'
\set aid random(1, 100000 * :scale)
\set bid random(1, 1 * :scale)
\set tid random(1, 10 * :scale)
\set delta random(-5000, 5000)
\set seq :seq + 1
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
UPDATE pgbench_tellers SET tbalance = tbalance + :delta WHERE tid = :tid;
UPDATE pgbench_branches SET bbalance = bbalance + :delta WHERE bid = :bid;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP);
INSERT INTO rpo_ack (client, seq) VALUES (:client_id, :seq);
END;
EOF
prepare() {  # prepare URL: pgbench's tables and rpo_ack
    "$PGBENCH" -i -q -s "$SCALE" -I dtGvp "$1" >>"$WORK/pgbench-init.log" 2>&1 || die "pgbench -i failed: $(tail -n 5 "$WORK/pgbench-init.log")"
    "$PSQL" -X -q "$1" -v ON_ERROR_STOP=1 -c "create table rpo_ack (client int, seq int, at timestamptz not null default clock_timestamp(),
        primary key (client, seq))" >/dev/null || die "could not create rpo_ack"
}
load() {  # load MODE ROUND URL POSTMASTER DATA_DIR SPOOL_DIR OFFSET_MS PGBR_CONF: the load, then the kill
    bench_py rpo load "$@" -- "$PGBENCH" -n -c "$CLIENTS" -j "$CLIENTS" --rate "$RATE" -T $(( $7 / 1000 + 600 )) \
        -D seq=0 -D scale="$SCALE" -f "$WORK/rpo.sql" -l "$3"
}

# --- Keel ----------------------------------------------------------------------------------------

STREAMING=
keel_streaming() {  # keel_streaming true|false: Keel running with that KEEL_ARCHIVE_STREAMING
    [[ $STREAMING != "$1" ]] || return 0
    keel_kill
    keel_start "$WORK/keel" "$WORK/keel.log" KEEL_ARCHIVE_STREAMING="$1"
    STREAMING=$1
}

keel_round() {  # keel_round MODE ROUND OFFSET_MS
    local copy
    if [[ $1 == keel-streaming ]]; then keel_streaming true; else keel_streaming false; fi
    keel_database '{"plan":"standard-0","version":"15"}'
    prepare "$KEEL_URL"
    bench_py rpo idle "$1" "$KEEL_URL" "$API" "$DB" -
    load "$1" "$2" "$KEEL_URL" "$KEEL_POSTMASTER" "$KEEL_INSTANCE/data" "$KEEL_INSTANCE/spool" "$3" -
    copy=$(bench_py rpo keel-restore "$1" "$2" "$API" "$DB")
    keel_delete "$copy"
    keel_delete "$DB"
}

# --- pgBackRest ----------------------------------------------------------------------------------

PGBIN=$INSTALL_DIR/$PG_VERSION/bin
pgbr_round() {  # pgbr_round ROUND OFFSET_MS: a fresh cluster and stanza, its full backup, the load, the kill, the restore
    local t0
    PGBR=$WORK/pgbr-r$1
    STANZA=rpo-r$1
    pgbr_cluster "$WORK/keel.conf"
    "$PGBR/pgbackrest" --type=full backup >"$PGBR/backup.log" 2>&1 || die "pgBackRest's backup failed: $(tail -n 5 "$PGBR/backup.log")"
    prepare "$PGBR_URL"
    bench_py rpo idle pgbackrest "$PGBR_URL" - - "$PGBR_CONF"
    load pgbackrest "$1" "$PGBR_URL" "$(head -n 1 "$PGBR/data/postmaster.pid")" "$PGBR/data" "$PGBR/spool" "$2" "$PGBR_CONF"
    mkdir -m 700 "$PGBR/data"
    mkdir -p "$PGBR/spool"
    own "$PGBR/data" "$PGBR/spool"
    t0=$(now_ms)
    "$PGBR/pgbackrest" --archive-mode=off restore >"$PGBR/restore.log" 2>&1 || die "pgBackRest's restore failed: $(tail -n 5 "$PGBR/restore.log")"
    pgbr_start
    bench_py rpo count pgbackrest "$1" "$PGBR_URL" "$(( t0 / 1000 )).$(printf '%03d' $(( t0 % 1000 )))"
    pgbr_stop
    rm -rf "$PGBR/data"
}

# --- the template: Keel's settings for pgBackRest's clusters, checked once ------------------------

keel_streaming true
keel_database '{"plan":"standard-0","version":"15"}'
cp "$KEEL_INSTANCE/data/keel.conf" "$WORK/keel.conf"
ARCHIVE_TIMEOUT=$("$PSQL" -X -Atq "$KEEL_URL" -c "show archive_timeout")
SYNCHRONOUS_COMMIT=$("$PSQL" -X -Atq "$KEEL_URL" -c "show synchronous_commit")
if [[ " $MODES " == *" pgbackrest "* ]]; then
    PGBR=$WORK/pgbr-template
    STANZA=template
    pgbr_cluster "$WORK/keel.conf"
    bench_py tool settings "$KEEL_URL" "$PGBR_URL"
    pgbr_stop
    rm -rf "$PGBR/data"
fi
keel_delete "$DB"
bench_py tool meta "$WORK/results/meta.json" rounds="$N" modes="$MODES" clients="$CLIENTS" rate="$RATE" scale="$SCALE" \
    load_min="$LOAD_MIN" load_spread="$LOAD_SPREAD" seed="$SEED" pg_version="$PG_VERSION" \
    pgbench_version="$("$PGBENCH" --version | awk '{print $3}')" keel_version="$KEEL_VERSION" \
    pgbr_version="pgBackRest $PGBR_VERSION" pgbr_process_max="$PGBR_PROCESS_MAX" archive_timeout="$ARCHIVE_TIMEOUT" \
    synchronous_commit="$SYNCHRONOUS_COMMIT" load_start="$LOAD_START"

# --- the rounds ----------------------------------------------------------------------------------

RANDOM=$SEED
read -r -a order <<<"$MODES"
for ((round = 1; round <= N; round++)); do
    offset_ms=$(( LOAD_MIN * 1000 + RANDOM * LOAD_SPREAD * 1000 / 32767 ))
    for mode in "${order[@]}"; do
        say "round $round, $mode: the kill after $(( offset_ms / 1000 )).$(printf '%03d' $(( offset_ms % 1000 ))) s of load ..."
        if [[ $mode == pgbackrest ]]; then pgbr_round "$round" "$offset_ms"; else keel_round "$mode" "$round" "$offset_ms"; fi
    done
    mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)   # the next round the other way round
done

keel_stop
s3proxy_stop
bench_py rpo_report "$WORK/results/meta.json" "$(load_avg)"
