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
# Set-up, S3Proxy, pgBackRest's cluster and the cleanup are ops/bench/lib/keel.sh's; the samplers,
# the backup drivers and the report are ops/bench/py/archive.py and archive_report.py.
set -euo pipefail

LOAD_MB=${LOAD_MB:-1024}
ROUNDS=${ROUNDS:-4}
LOAD_RATE=${LOAD_RATE:-}
PGBR_PROCESS_MAX=${PGBR_PROCESS_MAX:-2}
KEEL_S3=${KEEL_BENCH_KEEL_S3:-https}
API_PORT=${KEEL_BENCH_API_PORT:-5491}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-24600-24604}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-24605-24699}
read -r S3_HTTP S3_HTTPS <<<"${KEEL_BENCH_S3_PORTS:-24590 24591}"
PGBR_PORT=${KEEL_BENCH_PGBR_PORT:-24592}
export DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-600} IDLE_TIMEOUT=${IDLE_TIMEOUT:-300} ARCHIVE_POLL=${ARCHIVE_POLL:-1}
PG_VERSION=15.19.0          # what Keel serves for major 15 (application.yml); pgBackRest 2.45 stops at 15
TX_MB=4                     # WAL per load transaction, roughly
CMP_ROWS=25000              # rows per transaction: ~3.8 MiB of WAL each
RND_ROWS=3800               # ~4.0 MiB of WAL each
KEEL_BUCKET=keel-archive
PGBR_BUCKET=pgbackrest-archive
STANZA=bench
source "$(dirname "$0")/lib/keel.sh"

positive LOAD_MB ROUNDS
[[ -z $LOAD_RATE || $LOAD_RATE =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "LOAD_RATE must be a number, not '$LOAD_RATE'"
pgbr_bench --cgroups "$PGBR_PORT"
KEEP=('*.log' 'pgbr/*.log' 'pgbr/log/*.log' s3/s3proxy.log results)

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

keel_start "$WORK/keel" "$WORK/keel.log"
say "provisioning a Keel database (standard-0, Postgres 15; the first run unpacks $PG_VERSION) ..."
keel_database '{"plan":"standard-0","version":"15"}'
"$PSQL" -X -q "$KEEL_URL" -v ON_ERROR_STOP=1 -c "$TABLES" >/dev/null || die "could not create the tables on Keel's database"

# --- pgBackRest's cluster: same binaries, same settings --------------------------------------------

PGBR=$WORK/pgbr
PGBIN=$INSTALL_DIR/$PG_VERSION/bin
pgbr_cluster "$KEEL_INSTANCE/data/keel.conf"
"$PSQL" -X -q "$PGBR_URL" -v ON_ERROR_STOP=1 -c "$TABLES" >/dev/null || die "could not create the tables on pgBackRest's database"
say "pgBackRest's first full backup (not measured, as Keel's first one is not) ..."
"$PGBR/pgbackrest" --type=full backup >"$PGBR/first-backup.log" 2>&1 || die "the first pgBackRest backup failed: $(cat "$PGBR/first-backup.log")"

bench_py tool settings "$KEEL_URL" "$PGBR_URL"
bench_py tool meta "$WORK/results/meta.json" pgbench_version="$("$PGBENCH" --version | awk '{print $3}')" keel_s3="$KEEL_S3" keel_bucket="$KEEL_BUCKET" pgbr_bucket="$PGBR_BUCKET" \
    keel_version="$KEEL_VERSION" pgbr_version="pgBackRest $PGBR_VERSION" pgbr_process_max="$PGBR_PROCESS_MAX" \
    transactions="$TRANSACTIONS" tx_mb="$TX_MB" load_mb="$LOAD_MB" load_rate="$LOAD_RATE" \
    cmp_rows="$CMP_ROWS" rnd_rows="$RND_ROWS" rounds="$ROUNDS"

# --- the measurements ----------------------------------------------------------------------------

KEEL_STORE=$S3_DATA/$KEEL_BUCKET/$DB/wal
PGBR_STORE=$S3_DATA/$PGBR_BUCKET/pgbackrest/archive/$STANZA
wal_run() {  # wal_run TOOL MODE ROUND
    local cmd
    say "round $3, $1 $2: WAL load of $TRANSACTIONS transactions ..."
    if [[ $1 == keel ]]; then
        mapfile -t cmd < <(load_cmd "$2" "$KEEL_URL")
        bench_py archive wal keel "$2" "$3" "$KEEL_URL" "$KEEL_STORE" "$KEEL_INSTANCE/data" "$KEEL_INSTANCE/spool" "$API" "$DB" -- "${cmd[@]}"
    else
        mapfile -t cmd < <(load_cmd "$2" "$PGBR_URL")
        bench_py archive wal pgbr "$2" "$3" "$PGBR_URL" "$PGBR_STORE" "$PGBR/data" - - - -- "${cmd[@]}"
    fi
}
backup_run() {  # backup_run TOOL MODE ROUND
    say "round $3, $1 $2: base backup ..."
    if [[ $1 == keel ]]; then
        bench_py archive keel-backup "$2" "$3" "$API" "$DB" "$KEEL_INSTANCE/data" "$S3_DATA/$KEEL_BUCKET"
    else
        bench_py archive pgbr-backup "$2" "$3" "$PGBR/pgbackrest" "$PGBR/data" "$S3_DATA/$PGBR_BUCKET/pgbackrest/backup/$STANZA"
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

# What the logs say: warnings and errors of Keel, archive_command failures of its server.
bench_py archive notes "$KEEL_LOG" "$KEEL_INSTANCE/postgresql.log" "$PGBR/postgresql.log"
body=$(curl -sS "${AUTH[@]}" "$API/v1/databases/$DB/archive")
echo "$body" >"$WORK/results/archive-final.json"

# Stop everything before the report, so the check for leftovers below means something.
pgbr_stop
keel_stop
s3proxy_stop

bench_py archive_report "$WORK/results/meta.json"
echo
echo "Keel's /archive at the end: $body"
left=$(pids_of_run)
if [[ -n $left ]]; then
    say "still running after the stop (cleanup ends them): $(echo $left)"
fi
