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
# Set-up, S3Proxy, pgBackRest's cluster and the cleanup are ops/bench/lib/keel.sh's; the backups,
# the target, the restores and the report are ops/bench/py/restore.py and restore_report.py.
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
read -r S3_HTTP S3_HTTPS <<<"${KEEL_BENCH_S3_PORTS:-24690 24691}"
read -r PGBR_PORT PGBR_RESTORE_PORT <<<"${KEEL_BENCH_PGBR_PORTS:-24692 24693}"
export RESTORE_TIMEOUT=${RESTORE_TIMEOUT:-1800}
SETTLE=${SETTLE:-5}
PG_VERSION=15.19.0          # what Keel serves for major 15 (application.yml); pgBackRest 2.45 stops at 15
UPDATE_ROWS=1000            # rows per update transaction of the WAL written after the backup
KEEL_BUCKET=keel-restore
PGBR_BUCKET=pgbackrest-restore
STANZA=bench
source "$(dirname "$0")/lib/keel.sh"

positive DB_MB WAL_AFTER_MB ROUNDS
[[ $SETTLE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "SETTLE must be a number of seconds, not '$SETTLE'"
[[ $MODE == cmp || $MODE == rnd ]] || die "MODE is cmp or rnd, not '$MODE'"
case $ONLY in
    '') TOOLS=(keel pgbr) ;;
    keel) TOOLS=(keel) ;;
    pgbackrest | pgbr) TOOLS=(pgbr) ;;
    *) die "ONLY is keel or pgbackrest, not '$ONLY'" ;;
esac
measures() { [[ " ${TOOLS[*]} " == *" $1 "* ]]; }
pgbr_bench "$PGBR_PORT" "$PGBR_RESTORE_PORT"
KEEP=('*.log' 'pgbr/*.log' 'pgbr/log/*.log' s3/s3proxy.log results)

# --- Keel: its source database (and, even with ONLY=pgbackrest, the binaries and settings) ---------

keel_start "$WORK/keel" "$WORK/keel.log"
say "provisioning Keel's source database (standard-0, Postgres 15; the first run unpacks $PG_VERSION) ..."
keel_database '{"plan":"standard-0","version":"15","name":"restore-source"}'

# --- pgBackRest's source cluster: same binaries, same settings (as archive.sh) ---------------------

PGBR=$WORK/pgbr              # pgBackRest's source cluster, its restored copies, config, spool, logs
PGBR_RESTORED=$PGBR/restored # the data directory of the copy being restored (one at a time)
PGBIN=$INSTALL_DIR/$PG_VERSION/bin
if measures pgbr; then
    pgbr_cluster "$KEEL_INSTANCE/data/keel.conf"
    # Its restored copies: the same role and password, their own port.
    PGBR_RESTORED_URL="postgres://bench:$PGBR_PASSWORD@127.0.0.1:$PGBR_RESTORE_PORT/bench?sslmode=require"
    bench_py tool settings "$KEEL_URL" "$PGBR_URL" replay
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
        bench_py restore keel-backup "$API" "$DB" "$KEEL_INSTANCE/data"
    else
        bench_py restore pgbr-backup "$PGBR/pgbackrest" "$PGBR/data"
    fi
done
first=
for tool in "${TOOLS[@]}"; do
    if [[ -z $first ]]; then write_wal "$tool"; first=$tool; else write_wal "$tool" "$WORK/chunks"; fi
done

target_args=()
for tool in "${TOOLS[@]}"; do target_args+=("$tool" "${URL[$tool]}"); done
bench_py restore target "$TABLE" "${target_args[@]}"
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
    t=$(bench_py tool result "$WORK/results/target.json" 'd["t"]')
    if [[ $tool == keel ]]; then
        bench_py restore archived keel "$S3_DATA/$KEEL_BUCKET/$DB/wal" "$segment" "$API" "$DB" "$t"
    else
        bench_py restore archived pgbr "$S3_DATA/$PGBR_BUCKET/pgbackrest/archive/$STANZA/15-1" "$segment" - - "$t"
    fi
done

bench_py tool meta "$WORK/results/meta.json" keel_s3="$KEEL_S3" keel_bucket="$KEEL_BUCKET" pgbr_bucket="$PGBR_BUCKET" \
    tools="${TOOLS[*]}" keel_version="$KEEL_VERSION" pgbr_version="pgBackRest $PGBR_VERSION" \
    pgbr_process_max="$PGBR_PROCESS_MAX" mode="$MODE" data="$DATA_DESC" db_mb="$DB_MB" wal_after_mb="$WAL_AFTER_MB" \
    update_rows="$UPDATE_ROWS" rounds="$ROUNDS"

# --- the measurements ----------------------------------------------------------------------------

restore_run() {  # restore_run TOOL ROUND
    sync                                                 # untimed: the last copy's writes flushed, and
    sleep "$SETTLE"                                      # the background work it left let settle
    say "round $2, $1: restore to T ..."
    if [[ $1 == keel ]]; then
        bench_py restore keel-restore "$2" "$API" "$DB"
    else
        rm -rf "$PGBR_RESTORED"                          # untimed: a fresh, empty directory, and no
        rm -rf "$PGBR/spool/archive/$STANZA/in"          # WAL prefetched by the last restore's archive-get
        mkdir -m 700 "$PGBR_RESTORED"
        own "$PGBR_RESTORED"
        bench_py restore pgbr-restore "$2" "$PGBR/pgbackrest" "$PGBR_RESTORED" "$PGBIN" "$PGBR_RESTORE_PORT" "$PGBR_RESTORED_URL" \
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
pgbr_stop
keel_stop
s3proxy_stop

rc=0
bench_py restore_report "$WORK/results/meta.json" || rc=$?
left=$(pids_of_run)
if [[ -n $left ]]; then
    say "still running after the stop (cleanup ends them): $(echo $left)"
fi
exit "$rc"
