# ops/bench/lib/keel.sh: what the issue-19 benchmarks share (sourced, not run): one Keel started
# from target/keel.jar on the bench ports with a fresh data directory under a temporary
# directory, stopped (with every server and pooler it started) and removed on exit.
#
# Environment:
#   KEEL_JAR                    the jar to run (default <repo>/target/keel.jar, built when missing)
#   KEEL_POSTGRES_INSTALL_DIR   where Keel unpacks Postgres, shared across runs
#   KEEL_BENCH_API_PORT (5495), KEEL_BENCH_PORTS (24200: catalog +0..4, S3 +5..9, poolers +10..19,
#   instances +20..99, downloads +100): below Linux's ephemeral range, clear of Keel's defaults,
#   the tests (26000+) and the other benchmarks.
# Sets WORK, API, AUTH (curl arguments), KEY; defines die, now_ms, json, median, percentile,
# provision (plan, version -> id once available), db_field, wait_op.

API_PORT=${KEEL_BENCH_API_PORT:-5495}
BASE=${KEEL_BENCH_PORTS:-24200}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
JAR_SRC=${KEEL_JAR:-$REPO/target/keel.jar}
if [[ $(id -u) -eq 0 ]]; then
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-/var/cache/keel-bench/postgres}
else
    INSTALL_DIR=${KEEL_POSTGRES_INSTALL_DIR:-$HOME/.cache/keel-bench/postgres}
fi
API=http://127.0.0.1:$API_PORT
NAME=$(basename "$0")

die() { echo "$NAME: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {'d': d}))" "$1"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

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
            || echo "$NAME: 'keel.jar stop' failed; check for servers under $DATA" >&2
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
"${KEEL_ENV[@]}" KEEL_DATA_DIR="$DATA" KEEL_PORT="$API_PORT" KEEL_CATALOG_PORTS="$BASE-$((BASE + 4))" \
    KEEL_S3_EMBEDDED_PORTS="$((BASE + 5))-$((BASE + 9))" KEEL_POOLING_PORTS="$((BASE + 10))-$((BASE + 19))" \
    KEEL_INSTANCES_PORTS="$((BASE + 20))-$((BASE + 99))" KEEL_BACKUPS_DOWNLOAD_PORT="$((BASE + 100))" KEEL_INSTANCES_POOL_SIZE=0 \
    java -jar "$WORK/keel.jar" >"$WORK/keel.log" 2>&1 &
KEEL_PID=$!
for _ in $(seq 1 600); do
    curl -sf -o /dev/null "$API/health" && break
    kill -0 "$KEEL_PID" 2>/dev/null || { cat "$WORK/keel.log" >&2; die "Keel exited during startup"; }
    sleep 0.2
done
KEY=$(cat "$DATA/admin-api-key")
AUTH=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")
curl -sf "$API/v1/ca.pem" -o "$WORK/ca.pem"

db_field() {  # db_field ID EXPR
    curl -sf "${AUTH[@]}" "$API/v1/databases/$1" | json "$2"
}

provision() {  # provision BODY -> id, once available
    local id state
    id=$(curl -sf "${AUTH[@]}" -d "$1" "$API/v1/databases" | json 'd["id"]')
    for _ in $(seq 1 1500); do
        state=$(db_field "$id" 'd["state"]')
        [[ $state == available ]] && { echo "$id"; return; }
        [[ $state == failed ]] && die "database $id failed to provision"
        sleep 0.2
    done
    die "database $id did not become available"
}

wait_op() {  # wait_op OPERATION_ID -> final state
    local state
    for _ in $(seq 1 36000); do
        state=$(curl -sf "${AUTH[@]}" "$API/v1/operations/$1" | json 'd["state"]')
        [[ $state != running ]] && { echo "$state"; return; }
        sleep 0.1
    done
    die "operation $1 did not finish"
}
