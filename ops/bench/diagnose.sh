#!/usr/bin/env bash
# ops/bench/diagnose.sh: how long `heroku pg:diagnose` takes on a database with many tables.
#
# One Keel, started from target/keel.jar on the bench ports, two standard-0 databases of the
# default major attached to one app: `big`, with TABLES tables (each a serial primary key, a
# text column with its own index, ROWS rows, analyzed, so every check has statistics to read),
# and `empty` (the anchor: the same checks with nothing to look at). Then, alternating, N times:
#   api    POST /reports (what the CLI posts; Keel runs every check and stores the report) on big
#   empty  the same on empty
#   cli    `heroku pg:diagnose -a bench` end to end on big (the genuine CLI: its node start, its
#          requests, Keel's checks), when heroku@11.10.0 is installed where the tests put it
# and prints the medians and big/empty.
#
#   ops/bench/diagnose.sh
#   N=5 TABLES=1000 ROWS=100 ops/bench/diagnose.sh
# Environment:
#   N, TABLES, ROWS             samples (3), tables (1000), rows per table (100)
#   KEEL_JAR                    the jar to run (default <repo>/target/keel.jar, built when missing)
#   HEROKU_BIN                  the heroku CLI (default ~/.cache/keel-test/heroku-cli-11.10.0/node_modules/.bin/heroku)
#   KEEL_POSTGRES_INSTALL_DIR   where Keel unpacks Postgres, shared across runs
#                               (/var/cache/keel-bench/postgres as root, else ~/.cache/keel-bench/postgres)
#   KEEL_BENCH_API_PORT (5494), KEEL_BENCH_CATALOG_PORTS (24300-24304), KEEL_BENCH_S3_PORTS
#   (24305-24309), KEEL_BENCH_INSTANCE_PORTS (24310-24399): below Linux's ephemeral range, clear of
#   Keel's defaults, the tests and the other benchmarks.
# Everything lives in a temporary directory under /tmp, removed on exit after every Postgres
# server the run started has been stopped.
set -euo pipefail

N=${N:-3}
TABLES=${TABLES:-1000}
ROWS=${ROWS:-100}
API_PORT=${KEEL_BENCH_API_PORT:-5494}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-24300-24304}
S3_PORTS=${KEEL_BENCH_S3_PORTS:-24305-24309}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-24310-24399}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
JAR_SRC=${KEEL_JAR:-$REPO/target/keel.jar}
HEROKU=${HEROKU_BIN:-$HOME/.cache/keel-test/heroku-cli-11.10.0/node_modules/.bin/heroku}
if [[ $(id -u) -eq 0 ]]; then
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-/var/cache/keel-bench/postgres}
else
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-$HOME/.cache/keel-bench/postgres}
fi
API=http://127.0.0.1:$API_PORT

die() { echo "diagnose.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {'d': d}))" "$1"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for v in N TABLES ROWS; do [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"; done
for tool in curl java python3 psql; do
    command -v "$tool" >/dev/null || die "$tool is required"
done

WORK=$(mktemp -d /tmp/keel-bench.XXXXXX)
chmod 755 "$WORK"
DATA=$WORK/data
KEEL_PID=
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
            || echo "diagnose.sh: 'keel.jar stop' failed; check for servers under $DATA" >&2
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

echo "starting Keel on $API (data under $DATA) ..." >&2
"${KEEL_ENV[@]}" KEEL_DATA_DIR="$DATA" KEEL_PORT="$API_PORT" KEEL_CATALOG_PORTS="$CATALOG_PORTS" \
    KEEL_S3_EMBEDDED_PORTS="$S3_PORTS" KEEL_INSTANCES_PORTS="$INSTANCE_PORTS" KEEL_INSTANCES_POOL_SIZE=0 \
    java -jar "$WORK/keel.jar" >"$WORK/keel.log" 2>&1 &
KEEL_PID=$!
for _ in $(seq 1 600); do
    curl -sf -o /dev/null "$API/health" && break
    kill -0 "$KEEL_PID" 2>/dev/null || { cat "$WORK/keel.log" >&2; die "Keel exited during startup"; }
    sleep 0.2
done
KEY=$(cat "$DATA/admin-api-key")
AUTH=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")
curl -sf "${AUTH[@]}" -d '{"name":"bench"}' "$API/v1/apps" >/dev/null

provision() {  # provision NAME AS -> waits until available and attached to app bench as AS
    local id state
    id=$(curl -sf "${AUTH[@]}" -d "{\"plan\":\"standard-0\",\"name\":\"$1\"}" "$API/v1/databases" | json 'd["id"]')
    for _ in $(seq 1 900); do
        state=$(curl -sf "${AUTH[@]}" "$API/v1/databases/$id" | json 'd["state"]')
        [[ $state == available ]] && break
        [[ $state == failed ]] && die "database $1 failed to provision"
        sleep 0.2
    done
    [[ $state == available ]] || die "database $1 did not become available"
    curl -sf "${AUTH[@]}" -d "{\"database\":\"$1\",\"as\":\"$2\"}" "$API/v1/apps/bench/attachments" >/dev/null
}
provision big DATABASE
provision empty EMPTY
curl -sf "$API/v1/ca.pem" -o "$WORK/ca.pem"
URL="$(curl -sf "${AUTH[@]}" "$API/v1/databases/big" | json 'd["url"]')&sslrootcert=$WORK/ca.pem"
echo "making $TABLES tables of $ROWS rows ..." >&2
psql "$URL" -q -v ON_ERROR_STOP=1 <<SQL
do \$\$ begin
  for i in 1..$TABLES loop
    execute format('create table t%s (id serial primary key, body text)', i);
    execute format('create index on t%s (body)', i);
    execute format('insert into t%s (body) select md5(g::text) from generate_series(1, $ROWS) g', i);
  end loop;
end \$\$;
SQL
psql "$URL" -q -c "analyze"
COUNT=$(psql "$URL" -Atc "select count(*) from pg_tables where schemaname = 'public'")

report() {  # report CONFIG_VAR -> milliseconds of POST /reports
    local t0 body
    t0=$(now_ms)
    body=$(curl -sf "${AUTH[@]}" -d "{\"app\":\"bench\",\"database\":\"$1\"}" "$API/reports") || die "POST /reports failed"
    echo $(( $(now_ms) - t0 ))
    echo "$body" | json 'len(d["checks"])' >"$WORK/checks"
}
API_TIMES=()
EMPTY_TIMES=()
CLI_TIMES=()
HOME_DIR=$WORK/home
mkdir -p "$HOME_DIR/.cache/heroku" && touch "$HOME_DIR/.cache/heroku/terms-of-service"
for i in $(seq 1 "$N"); do
    API_TIMES+=($(report DATABASE_URL | head -1))
    EMPTY_TIMES+=($(report EMPTY_URL | head -1))
    if [[ -x $HEROKU ]]; then
        T0=$(now_ms)
        (cd "$HOME_DIR" && HOME=$HOME_DIR GIT_CONFIG_GLOBAL=$HOME_DIR/.gitconfig HEROKU_HOST=$API HEROKU_DATA_HOST=localhost \
            PGDIAGNOSE_URL=localhost HEROKU_PARTICLEBOARD_URL=$API HEROKU_API_KEY=$KEY DISABLE_TELEMETRY=true \
            HEROKU_SKIP_NEW_VERSION_CHECK=true HEROKU_DISABLE_AUTOUPDATE=true HEROKU_NOTIFICATIONS=0 \
            "$HEROKU" pg:diagnose -a bench </dev/null >"$WORK/cli.out" 2>&1) || { cat "$WORK/cli.out" >&2; die "heroku pg:diagnose failed"; }
        CLI_TIMES+=($(( $(now_ms) - T0 )))
    fi
    echo "  sample $i: api ${API_TIMES[-1]} ms, empty ${EMPTY_TIMES[-1]} ms${CLI_TIMES:+, cli ${CLI_TIMES[-1]} ms}" >&2
done
API_MED=$(printf '%s\n' "${API_TIMES[@]}" | median)
EMPTY_MED=$(printf '%s\n' "${EMPTY_TIMES[@]}" | median)
CLI_MED=$( ((${#CLI_TIMES[@]})) && printf '%s\n' "${CLI_TIMES[@]}" | median || echo "-")
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$API_MED" "$EMPTY_MED" "$CLI_MED" "$COUNT" "$N" "$LOAD" "$(nproc)" <<'PY'
import sys
api, empty, cli, count, n, load, cpus = sys.argv[1:]
api, empty = float(api), float(empty)
print("diagnose.sh: pg:diagnose on a database of %s tables; median of %s samples; load average %s on %s CPUs" % (count, n, load, cpus))
print("  POST /reports, %s tables   %6.0f ms" % (count, api))
print("  POST /reports, empty        %6.0f ms   (anchor)   ratio %.2f" % (empty, api / empty))
print("  heroku pg:diagnose (CLI)    %s" % ("%6.0f ms" % float(cli) if cli != "-" else "(heroku CLI not installed)"))
PY
grep -h "GREEN\|YELLOW\|RED\|SKIPPED" "$WORK/cli.out" 2>/dev/null | sed 's/^/    /' || true
