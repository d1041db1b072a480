#!/usr/bin/env bash
# ops/bench/upgrade.sh: the write pause of online major-version upgrades, p50 and max over N, in
# one run, against the downtime of an offline upgrade by dump and restore of the same database.
#
# One Keel (ops/bench/lib/keel.sh). N times: a standard-0 database of major FROM (15) holding
# SIZE_MB of rows in keyed tables, a writer inserting one row a transaction as fast as it can
# (psql, a connection per row, asking for the database's current URL after a failed one), and
# POST /v1/databases/{id}/upgrade {"version": TO} (18). For each upgrade it prints the pause Keel
# measured (write_pause_ms: from closing the old server to the catalog naming the new one), the
# longest gap between two acknowledged inserts the writer saw (which adds noticing the new URL and
# connecting to it), and the whole upgrade's duration. The anchor, measured once on the same data: pg_dump -Fc
# of the old database plus pg_restore into an empty database of major TO, the writes an offline
# upgrade would stop for.
#
#   ops/bench/upgrade.sh
#   N=5 SIZE_MB=200 ops/bench/upgrade.sh
#   KEEL_BENCH_LOG_DIR=/tmp/upgrade-logs ops/bench/upgrade.sh    # keeps the writer's and Keel's logs
set -euo pipefail
N=${N:-3}
SIZE_MB=${SIZE_MB:-100}
FROM=${FROM:-15}
TO=${TO:-18}
source "$(dirname "$0")/lib/keel.sh"
positive N
command -v pg_dump >/dev/null || die "pg_dump is required (apt-get install postgresql-client)"
keel_bench

ROWS=$(( SIZE_MB * 5000 ))   # ~200 bytes a row
fill() {  # fill URL
    psql "$1" -q -c "create table numbered (n bigint primary key, at timestamptz not null default now())" \
        -c "create table payload (id bigserial primary key, body text)" \
        -c "insert into payload (body) select repeat(md5(g::text), 5) from generate_series(1, $ROWS) g" -c "vacuum analyze"
}

writer() {  # writer DB_ID LOG: inserts numbered rows until killed, one connection each, logging "<n> <epoch ms>" per acknowledged row
    local n=0 url out
    url="$(db_field "$1" 'd["url"]')&sslmode=verify-full&sslrootcert=$WORK/ca.pem"
    while true; do
        n=$((n + 1))
        if out=$(PGCONNECT_TIMEOUT=2 psql "$url" -XAtqc "insert into numbered (n) values ($n) returning n" 2>/dev/null) \
                && [[ $out == "$n" ]]; then
            echo "$n $(now_ms)" >>"$2"
        else
            url="$(db_field "$1" 'd["url"]')&sslmode=verify-full&sslrootcert=$WORK/ca.pem"   # the database may have moved
        fi
    done
}

PAUSES=()
GAPS=()
TOTALS=()
WRITER=
stop_writer() { [[ -z $WRITER ]] || { kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null; }; }
at_exit stop_writer
for i in $(seq 1 "$N"); do
    DB=$(provision "{\"plan\":\"standard-0\",\"version\":\"$FROM\"}")
    URL="$(db_field "$DB" 'd["url"]')&sslmode=verify-full&sslrootcert=$WORK/ca.pem"
    echo "upgrade $i: filling ~$SIZE_MB MB ..." >&2
    fill "$URL"
    if [[ $i -eq 1 ]]; then
        ANCHOR=$(provision "{\"plan\":\"standard-0\",\"version\":\"$TO\"}")
        ANCHOR_URL="$(db_field "$ANCHOR" 'd["url"]')&sslmode=verify-full&sslrootcert=$WORK/ca.pem"
        T0=$(now_ms)
        pg_dump -Fc "$URL" | pg_restore --no-owner --no-acl -d "$ANCHOR_URL" 2>/dev/null || true
        OFFLINE_MS=$(( $(now_ms) - T0 ))
        curl -sf "${AUTH[@]}" -X DELETE "$API/v1/databases/$ANCHOR" >/dev/null
    fi
    LOG=$WORK/writer-$i.log
    : >"$LOG"
    writer "$DB" "$LOG" &
    WRITER=$!
    sleep 3
    T0=$(now_ms)
    OP=$(curl -sf "${AUTH[@]}" -d "{\"version\":$TO}" "$API/v1/databases/$DB/upgrade" | json 'd["operation_id"]')
    STATE=$(wait_op "$OP")
    TOTALS+=($(( $(now_ms) - T0 )))
    sleep 3
    stop_writer || true
    WRITER=
    [[ $STATE == succeeded ]] || die "upgrade $i ended $STATE: $(curl -sf "${AUTH[@]}" "$API/v1/operations/$OP")"
    PAUSES+=($(curl -sf "${AUTH[@]}" "$API/v1/databases/$DB/upgrade" | json 'd["write_pause_ms"]'))
    GAPS+=($(awk 'NR > 1 && $2 - last > max {max = $2 - last} {last = $2} END {print max + 0}' "$LOG"))
    if [[ -n ${KEEL_BENCH_LOG_DIR:-} ]]; then
        mkdir -p "$KEEL_BENCH_LOG_DIR" && cp "$LOG" "$WORK/keel.log" "$KEEL_BENCH_LOG_DIR/"
    fi
    echo "  upgrade $i: pause ${PAUSES[-1]} ms (Keel), longest gap between acknowledged writes ${GAPS[-1]} ms, upgrade ${TOTALS[-1]} ms" >&2
    curl -sf "${AUTH[@]}" -X DELETE "$API/v1/databases/$DB" >/dev/null
done
bench_py upgrade "$N" "$FROM" "$TO" "$SIZE_MB" "$OFFLINE_MS" "$(nproc)" "$(load_avg)" \
    "${PAUSES[*]}" "${GAPS[*]}" "${TOTALS[*]}"
