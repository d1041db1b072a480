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
#   HEROKU_BIN                  the heroku CLI (default ~/.cache/keel-test/heroku-cli-11.10.0-node-22.23.2/node_modules/.bin/heroku,
#                               as the tests install it: run on the Node beside it, with the tests' compile cache)
#   KEEL_POSTGRES_INSTALL_DIR   where Keel unpacks Postgres, shared across runs
#                               (/var/cache/keel-bench/postgres as root, else ~/.cache/keel-bench/postgres)
#   KEEL_BENCH_API_PORT (5494), KEEL_BENCH_PORTS (24400, the block ops/bench/lib/keel.sh lays out):
#   below Linux's ephemeral range, clear of Keel's defaults, the tests and the other benchmarks.
# The Keel it runs is ops/bench/lib/keel.sh's.
# Everything lives in a temporary directory under /tmp, removed on exit after every Postgres
# server the run started has been stopped.
set -euo pipefail

N=${N:-3}
TABLES=${TABLES:-1000}
ROWS=${ROWS:-100}
HEROKU=${HEROKU_BIN:-$HOME/.cache/keel-test/heroku-cli-11.10.0-node-22.23.2/node_modules/.bin/heroku}
CLI_NODE_ENV=(env)  # installed as the tests install it: the Node beside it, and their compile cache
if [[ -x $(dirname "$HEROKU")/node ]]; then
    CLI_NODE_ENV=(env PATH="$(dirname "$HEROKU"):$PATH" NODE_COMPILE_CACHE="$(dirname "$HEROKU")/../../compile-cache")
fi
KEEL_BENCH_API_PORT=${KEEL_BENCH_API_PORT:-5494}
KEEL_BENCH_PORTS=${KEEL_BENCH_PORTS:-24400}
source "$(dirname "$0")/lib/keel.sh"
positive N TABLES ROWS
keel_bench
curl -sf "${AUTH[@]}" -d '{"name":"bench"}' "$API/v1/apps" >/dev/null

attach() {  # attach NAME AS: a standard-0 database NAME, once available, attached to app bench as AS
    provision "{\"plan\":\"standard-0\",\"name\":\"$1\"}" >/dev/null
    curl -sf "${AUTH[@]}" -d "{\"database\":\"$1\",\"as\":\"$2\"}" "$API/v1/apps/bench/attachments" >/dev/null
}
attach big DATABASE
attach empty EMPTY
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
            "${CLI_NODE_ENV[@]}" "$HEROKU" pg:diagnose -a bench </dev/null >"$WORK/cli.out" 2>&1) || { cat "$WORK/cli.out" >&2; die "heroku pg:diagnose failed"; }
        CLI_TIMES+=($(( $(now_ms) - T0 )))
    fi
    echo "  sample $i: api ${API_TIMES[-1]} ms, empty ${EMPTY_TIMES[-1]} ms${CLI_TIMES:+, cli ${CLI_TIMES[-1]} ms}" >&2
done
API_MED=$(printf '%s\n' "${API_TIMES[@]}" | median)
EMPTY_MED=$(printf '%s\n' "${EMPTY_TIMES[@]}" | median)
CLI_MED=$( ((${#CLI_TIMES[@]})) && printf '%s\n' "${CLI_TIMES[@]}" | median || echo "-")
LOAD=$(load_avg)

bench_py diagnose "$API_MED" "$EMPTY_MED" "$CLI_MED" "$COUNT" "$N" "$LOAD" "$(nproc)"
grep -h "GREEN\|YELLOW\|RED\|SKIPPED" "$WORK/cli.out" 2>/dev/null | sed 's/^/    /' || true
