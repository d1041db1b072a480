#!/usr/bin/env bash
# ops/bench/logical-backup.sh: a logical backup's throughput against pg_dump -Fc run by hand on the
# same database (the floor), in one run.
#
# One Keel (ops/bench/lib/keel.sh), one standard-0 database of major 15 (what Debian bookworm's
# pg_dump dumps) holding SIZE_MB of rows: half md5 text (compressible, as real tables are), half
# random bytea (incompressible, which shows the transfer's own cost). Then N times, alternating:
#   keel    POST .../logical-backups until completed: pg_dump -Fc run by Keel as the server user,
#           streamed through sha256 into a multipart upload of the embedded S3 store
#   floor   pg_dump -Fc of the same database by hand, as its owner over TLS, to /dev/null
# and prints both medians in MB/s of the database's size, the dump's size, and floor/keel.
#
#   ops/bench/logical-backup.sh
#   N=5 SIZE_MB=1000 ops/bench/logical-backup.sh
set -euo pipefail
N=${N:-3}
SIZE_MB=${SIZE_MB:-400}
source "$(dirname "$0")/lib/keel.sh"
positive N
command -v pg_dump >/dev/null || die "pg_dump is required (apt-get install postgresql-client)"
keel_bench

DB=$(provision '{"plan":"standard-0","version":"15"}')
URL="$(db_field "$DB" 'd["url"]')&sslmode=verify-full&sslrootcert=$WORK/ca.pem"
ROWS=$(( SIZE_MB * 1000 ))   # ~1 kB a row
echo "filling the database (~$SIZE_MB MB) ..." >&2
psql "$URL" -q -c "create table text_rows as select g as id, repeat(md5(g::text), 16) as body from generate_series(1, $ROWS / 2) g" \
    -c "create table random_rows as select g as id, decode(string_agg(lpad(to_hex((random() * 4294967295)::bigint), 8, '0'), ''), 'hex') as body
        from generate_series(1, $ROWS / 2) g, generate_series(1, 128) k group by g" \
    -c "vacuum analyze"
DB_BYTES=$(psql "$URL" -Atc "select pg_database_size(current_database())")

KEEL_TIMES=()
FLOOR_TIMES=()
for i in $(seq 1 "$N"); do
    T0=$(now_ms)
    BACKUP=$(curl -sf "${AUTH[@]}" -X POST "$API/v1/databases/$DB/logical-backups" | json 'd["id"]')
    while true; do
        STATE=$(curl -sf "${AUTH[@]}" "$API/v1/databases/$DB/logical-backups/$BACKUP" | json 'd["state"]')
        [[ $STATE != running ]] && break
        sleep 0.05
    done
    KEEL_TIMES+=($(( $(now_ms) - T0 )))
    [[ $STATE == completed ]] || die "backup $BACKUP ended $STATE"
    DUMP_BYTES=$(curl -sf "${AUTH[@]}" "$API/v1/databases/$DB/logical-backups/$BACKUP" | json 'd["processed_bytes"]')
    curl -sf "${AUTH[@]}" -X DELETE "$API/v1/databases/$DB/logical-backups/$BACKUP" >/dev/null
    T0=$(now_ms)
    pg_dump -Fc "$URL" >/dev/null
    FLOOR_TIMES+=($(( $(now_ms) - T0 )))
    echo "  sample $i: keel ${KEEL_TIMES[-1]} ms, pg_dump by hand ${FLOOR_TIMES[-1]} ms" >&2
done
KEEL_MED=$(printf '%s\n' "${KEEL_TIMES[@]}" | median)
FLOOR_MED=$(printf '%s\n' "${FLOOR_TIMES[@]}" | median)
bench_py logical_backup "$KEEL_MED" "$FLOOR_MED" "$DB_BYTES" "$DUMP_BYTES" "$N" "$(nproc)" "$(load_avg)"
