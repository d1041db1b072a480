#!/usr/bin/env bash
# ops/bench/dataclips.sh: how fast a shared dataclip serves its result, against psql, in one run.
#
# One Keel, started from target/keel.jar on the bench ports with a row limit of 1,000,000 and a
# freshness age of an hour (so every download below is served from the stored result; the run
# itself is timed separately). One standard-0 database with a table of 1,000,000 rows
# (id, md5 text, timestamptz, numeric), then:
#   csv     GET <share url>.csv of `select * from bench order by id` (1,000,000 rows), N times,
#           each beside `psql -c "\copy (same query) to stdout csv header"` on the same database
#           (the anchor), alternating; prints the medians and psql_time / keel_time (the issue's
#           target: at least 0.8). The two outputs are checked to hold the same rows (Keel ends
#           lines with CRLF, as RFC 4180 says; psql with LF).
#   run     the clip's refresh (run as the read-only role, rows stored), once, beside psql's time.
#   json    requests per second of GET <share url>.json of a stored 100-row result, with wrk
#           (Debian's wrk: apt-get install wrk) for DURATION seconds at CONNECTIONS connections,
#           beside GET /health (the cheapest request Keel answers) as the anchor.
#   caps    Keel's resident memory around clips that return about 1 GB (20 cells of 51 MB) and
#           2 GB (200,000 rows of 10 kB), each on a Keel restarted with one setting of the caps
#           (KEEL_DATACLIPS_CELL_BYTES, ..._RESULT_BYTES) and the JVM's default heap: VmRSS
#           before the run, VmHWM (peak) after it, the run's time and how the result was cut.
#           CAPS=0 skips it.
#
#   ops/bench/dataclips.sh
#   N=5 DURATION=20 ops/bench/dataclips.sh
# Environment:
#   N                           csv samples of each (3)
#   DURATION, CONNECTIONS       wrk's run (10 s, 16 connections, 2 threads)
#   KEEL_JAR                    the jar to run (default <repo>/target/keel.jar, built when missing)
#   KEEL_POSTGRES_INSTALL_DIR   where Keel unpacks Postgres, shared across runs
#                               (/var/cache/keel-bench/postgres as root, else ~/.cache/keel-bench/postgres)
#   KEEL_BENCH_API_PORT (5493), KEEL_BENCH_CATALOG_PORTS (24400-24404), KEEL_BENCH_S3_PORTS
#   (24405-24409), KEEL_BENCH_INSTANCE_PORTS (24410-24499): below Linux's ephemeral range, clear of
#   Keel's defaults, the tests (26000+) and the other benchmarks.
# The Keel it runs is ops/bench/lib/keel.sh's (restarted with each caps setting, its servers left
# running); the report is ops/bench/py/dataclips.py. Everything lives in a temporary directory under
# /tmp, removed on exit after every Postgres server the run started has been stopped.
set -euo pipefail

N=${N:-3}
CAPS=${CAPS:-1}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
API_PORT=${KEEL_BENCH_API_PORT:-5493}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-24400-24404}
S3_EMBEDDED_PORTS=${KEEL_BENCH_S3_PORTS:-24405-24409}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-24410-24499}
QUERY="select * from bench order by id"
source "$(dirname "$0")/lib/keel.sh"
positive N
bench_init
keel_jar

start_keel() {  # start_keel [VAR=value ...]: Keel on the bench's data directory, with the bench's settings and these
    keel_start "$WORK/data" "$WORK/keel.log" KEEL_DATACLIPS_ROW_LIMIT=1000000 KEEL_DATACLIPS_FRESH_FOR=1h \
        KEEL_DATACLIPS_WAIT=5m "$@"
}
stop_keel() { keel_kill; }   # Keel only: the Postgres servers keep running, as after an operator's restart
start_keel
DB=$(provision '{"plan":"standard-0","name":"bench"}')
URL="$(db_field "$DB" 'd["url"]')&sslrootcert=$CA"
echo "filling the table (1,000,000 rows) ..." >&2
psql "$URL" -q -c "create table bench as select g as id, md5(g::text) as body,
    timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' as at, (g * 0.25)::numeric(12,2) as amount
    from generate_series(1, 1000000) g" -c "alter table bench add primary key (id)" -c "vacuum analyze bench"

clip() {  # clip TITLE SQL -> id of a new clip, run once
    curl -sf "${AUTH[@]}" -d "$(bench_py tool object title "$1" database bench sql "$2")" "$API/v1/dataclips"
}
echo "saving and running the 1,000,000-row clip ..." >&2
T0=$(now_ms)
CREATED=$(clip "Bench" "$QUERY")
RUN_MS=$(( $(now_ms) - T0 ))
[[ $(echo "$CREATED" | json 'd["result"]["row_count"]') == 1000000 ]] || die "the clip did not keep 1,000,000 rows: $CREATED"
CLIP=$(echo "$CREATED" | json 'd["id"]')
SHARE=$(curl -sf "${AUTH[@]}" -X POST "$API/v1/dataclips/$CLIP/share" | json 'd["url"]')
T0=$(now_ms)
psql "$URL" -q -c "\\copy ($QUERY) to stdout csv header" >"$WORK/psql.csv"
PSQL_RUN_MS=$(( $(now_ms) - T0 ))

KEEL_TIMES=()
PSQL_TIMES=()
for i in $(seq 1 "$N"); do
    T0=$(now_ms)
    curl -sf -o "$WORK/keel.csv" "$SHARE.csv"
    KEEL_TIMES+=($(( $(now_ms) - T0 )))
    T0=$(now_ms)
    psql "$URL" -q -c "\\copy ($QUERY) to stdout csv header" >"$WORK/psql.csv"
    PSQL_TIMES+=($(( $(now_ms) - T0 )))
    echo "  sample $i: keel ${KEEL_TIMES[-1]} ms, psql ${PSQL_TIMES[-1]} ms" >&2
done
if tr -d '\r' <"$WORK/keel.csv" | cmp -s - "$WORK/psql.csv"; then SAME=yes; else SAME=NO; fi
KEEL_MED=$(printf '%s\n' "${KEEL_TIMES[@]}" | median)
PSQL_MED=$(printf '%s\n' "${PSQL_TIMES[@]}" | median)
BYTES=$(stat -c %s "$WORK/keel.csv")

SMALL=$(clip "Small" "select id, body, at, amount from bench order by id limit 100" | json 'd["id"]')
SMALL_URL=$(curl -sf "${AUTH[@]}" -X POST "$API/v1/dataclips/$SMALL/share" | json 'd["url"]')
curl -sf -o /dev/null "$SMALL_URL.json"
if command -v wrk >/dev/null; then
    rps() { wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
    JSON_RPS=$(rps "$SMALL_URL.json")
    HEALTH_RPS=$(rps "$API/health")
else
    JSON_RPS="(wrk missing: apt-get install wrk)"
    HEALTH_RPS="-"
fi

CAPS_LINES=()
if [[ $CAPS == 1 ]]; then
    rss_mb() { awk -v f="$2:" '$1 == f {printf "%d", $2 / 1024}' "/proc/$1/status"; }
    CELLS="select g, repeat(md5(g::text), 1600000) as body from generate_series(1, 20) g"
    ROWS="select g, repeat('x', 10000) as body from generate_series(1, 200000) g"
    for setting in "KEEL_DATACLIPS_CELL_BYTES=1MB:cells" "KEEL_DATACLIPS_CELL_BYTES=16MB:cells" \
                   "KEEL_DATACLIPS_CELL_BYTES=64MB KEEL_DATACLIPS_RESULT_BYTES=2GB:cells" \
                   "KEEL_DATACLIPS_RESULT_BYTES=100MB:rows" "KEEL_DATACLIPS_RESULT_BYTES=1GB:rows"; do
        vars=${setting%:*}
        which=${setting##*:}
        stop_keel
        # shellcheck disable=SC2086  # the settings are words
        start_keel $vars
        [[ $which == cells ]] && sql=$CELLS || sql=$ROWS
        clip "Warm-up" "select 1" >/dev/null
        before=$(rss_mb "$KEEL_PID" VmRSS)
        T0=$(now_ms)
        ran=$(clip "Caps" "$sql")
        ms=$(( $(now_ms) - T0 ))
        line=$(printf '%-62s %-5s rss %5s MB before, peak %5s MB   %6s ms   %s rows, %s' "$vars" "$which" "$before" \
            "$(rss_mb "$KEEL_PID" VmHWM)" "$ms" "$(echo "$ran" | json 'd["result"].get("row_count")')" \
            "$(echo "$ran" | json 'd["result"]["state"] + " " + str(d["result"].get("truncated_reason"))')")
        echo "  caps: $line" >&2
        CAPS_LINES+=("$line")
    done
fi

bench_py dataclips "$KEEL_MED" "$PSQL_MED" "$RUN_MS" "$PSQL_RUN_MS" "$BYTES" "$SAME" "$JSON_RPS" "$HEALTH_RPS" "$N" "$DURATION" "$CONNECTIONS"
if [[ ${#CAPS_LINES[@]} -gt 0 ]]; then
    echo "  Keel's memory around clips of ~1 GB (cells: 20 x 51 MB) and ~2 GB (rows: 200,000 x 10 kB), a Keel per setting:"
    printf '    %s\n' "${CAPS_LINES[@]}"
fi
