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
# Everything lives in a temporary directory under /tmp, removed on exit after every Postgres
# server the run started has been stopped.
set -euo pipefail

N=${N:-3}
CAPS=${CAPS:-1}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
API_PORT=${KEEL_BENCH_API_PORT:-5493}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-24400-24404}
S3_PORTS=${KEEL_BENCH_S3_PORTS:-24405-24409}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-24410-24499}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
JAR_SRC=${KEEL_JAR:-$REPO/target/keel.jar}
if [[ $(id -u) -eq 0 ]]; then
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-/var/cache/keel-bench/postgres}
else
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-$HOME/.cache/keel-bench/postgres}
fi
API=http://127.0.0.1:$API_PORT
QUERY="select * from bench order by id"

die() { echo "dataclips.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {'d': d}))" "$1"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, not '$N'"
for tool in curl java python3 psql; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

WORK=$(mktemp -d /tmp/keel-bench.XXXXXX)
chmod 755 "$WORK"
DATA=$WORK/data
KEEL_PID=
# Keel runs with none of the caller's KEEL_* variables, only the ones set here.
KEEL_ENV=(env)
while IFS= read -r name; do KEEL_ENV+=(-u "$name"); done < <(compgen -e | grep '^KEEL_' || true)
KEEL_ENV+=("KEEL_POSTGRES_INSTALL_DIR=$INSTALL_DIR")

cleanup() {
    if [[ -n $KEEL_PID ]] && kill -0 "$KEEL_PID" 2>/dev/null; then
        kill "$KEEL_PID"
        wait "$KEEL_PID" 2>/dev/null || true
    fi
    if [[ -d $DATA ]]; then
        "${KEEL_ENV[@]}" KEEL_DATA_DIR="$DATA" java -jar "$WORK/keel.jar" stop >/dev/null 2>&1 \
            || echo "dataclips.sh: 'keel.jar stop' failed; check for servers under $DATA" >&2
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ ! -f $JAR_SRC ]]; then
    [[ -z ${KEEL_JAR:-} ]] || die "$JAR_SRC does not exist"
    echo "building $JAR_SRC ..." >&2
    (cd "$REPO" && mvn -q -DskipTests package) >&2
fi
cp "$JAR_SRC" "$WORK/keel.jar"
mkdir -p "$INSTALL_DIR"
curl -s -o /dev/null "$API/health" && die "port $API_PORT is taken; set KEEL_BENCH_API_PORT"

start_keel() {  # start_keel [VAR=value ...]: Keel on the bench's data directory, with the bench's settings and these
    echo "starting Keel on $API (data under $DATA) $* ..." >&2
    "${KEEL_ENV[@]}" KEEL_DATA_DIR="$DATA" KEEL_PORT="$API_PORT" KEEL_CATALOG_PORTS="$CATALOG_PORTS" \
        KEEL_S3_EMBEDDED_PORTS="$S3_PORTS" KEEL_INSTANCES_PORTS="$INSTANCE_PORTS" KEEL_INSTANCES_POOL_SIZE=0 \
        KEEL_DATACLIPS_ROW_LIMIT=1000000 KEEL_DATACLIPS_FRESH_FOR=1h KEEL_DATACLIPS_WAIT=5m "$@" \
        java -jar "$WORK/keel.jar" >>"$WORK/keel.log" 2>&1 &
    KEEL_PID=$!
    for _ in $(seq 1 600); do
        curl -sf -o /dev/null "$API/health" && return 0
        kill -0 "$KEEL_PID" 2>/dev/null || { cat "$WORK/keel.log" >&2; die "Keel exited during startup"; }
        sleep 0.2
    done
    die "Keel did not answer /health"
}
stop_keel() {  # Keel only: the Postgres servers keep running, as after an operator's restart
    kill "$KEEL_PID"
    wait "$KEEL_PID" 2>/dev/null || true
    KEEL_PID=
}
start_keel
KEY=$(cat "$DATA/admin-api-key")
AUTH=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")

DB=$(curl -sf "${AUTH[@]}" -d '{"plan":"standard-0","name":"bench"}' "$API/v1/databases" | json 'd["id"]')
for _ in $(seq 1 600); do
    STATE=$(curl -sf "${AUTH[@]}" "$API/v1/databases/$DB" | json 'd["state"]')
    [[ $STATE == available ]] && break
    [[ $STATE == failed ]] && die "the database failed to provision"
    sleep 0.2
done
[[ $STATE == available ]] || die "the database did not become available"
curl -sf "$API/v1/ca.pem" -o "$WORK/ca.pem"
URL="$(curl -sf "${AUTH[@]}" "$API/v1/databases/$DB" | json 'd["url"]')&sslrootcert=$WORK/ca.pem"
echo "filling the table (1,000,000 rows) ..." >&2
psql "$URL" -q -c "create table bench as select g as id, md5(g::text) as body,
    timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second' as at, (g * 0.25)::numeric(12,2) as amount
    from generate_series(1, 1000000) g" -c "alter table bench add primary key (id)" -c "vacuum analyze bench"

clip() {  # clip TITLE SQL -> id of a new clip, run once
    curl -sf "${AUTH[@]}" -d "$(python3 -c 'import json,sys; print(json.dumps({"title": sys.argv[1], "database": "bench", "sql": sys.argv[2]}))' "$1" "$2")" \
        "$API/v1/dataclips"
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

python3 - "$KEEL_MED" "$PSQL_MED" "$RUN_MS" "$PSQL_RUN_MS" "$BYTES" "$SAME" "$JSON_RPS" "$HEALTH_RPS" "$N" "$DURATION" "$CONNECTIONS" <<'PY'
import sys
keel, psql, run, psql_run, size, same, json_rps, health_rps, n, duration, connections = sys.argv[1:]
keel, psql, run, psql_run = float(keel), float(psql), float(run), float(psql_run)
print("dataclips.sh: 1,000,000 rows, %.1f MB of CSV; median of %s samples" % (int(size) / 1e6, n))
print("  csv download (stored result)   keel %6.0f ms   psql \\copy %6.0f ms   speed ratio (psql/keel) %.2f   (target >= 0.8)"
      % (keel, psql, psql / keel))
print("  same rows as psql               %s" % same)
print("  save and run (read-only role)   keel %6.0f ms   psql \\copy %6.0f ms   ratio %.2f" % (run, psql_run, psql_run / run))
try:
    print("  stored .json (100 rows), wrk    %.0f req/s   /health %.0f req/s   ratio %.2f   (%s s, %s connections)"
          % (float(json_rps), float(health_rps), float(json_rps) / float(health_rps), duration, connections))
except ValueError:
    print("  stored .json (100 rows)         %s" % json_rps)
PY
if [[ ${#CAPS_LINES[@]} -gt 0 ]]; then
    echo "  Keel's memory around clips of ~1 GB (cells: 20 x 51 MB) and ~2 GB (rows: 200,000 x 10 kB), a Keel per setting:"
    printf '    %s\n' "${CAPS_LINES[@]}"
fi
