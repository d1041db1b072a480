#!/usr/bin/env bash
# ops/bench/nodes.sh: Keel's API latency with 3 nodes against 1 node, on one external catalog and
# one S3-compatible store, in one run (issue 14's "API latency with 3 nodes against 1").
#
# Set up (not measured): a catalog Postgres made by hand with Keel's own binaries (17.11.0,
# unpacked under KEEL_POSTGRES_INSTALL_DIR; the system's newest /usr/lib/postgresql/*/bin when Keel
# has not unpacked them yet), listening on 127.0.0.1 with a password; one S3Proxy 2.6.0 (HTTP);
# one shared KEEL_SECRET_KEY. Node node-a starts on them as the README's "Nodes and upgrading
# Keel" says (KEEL_CATALOG_URL, KEEL_S3_*, KEEL_SECRET_KEY, its own KEEL_NODE_NAME, KEEL_BIND,
# KEEL_PUBLIC_HOST, API port, instance and pooler port ranges, KEEL_NODES_NETWORK), no warm pool;
# DBS (3) essential-0 databases are provisioned through it (so node-a hosts them all) and their
# first base backups awaited. Then, with the same client and the same requests:
#   1 node    node-a alone (the anchor): WARMUP (600) unmeasured rounds, then N (200) rounds.
#   3 nodes   node-b and node-c started on the same catalog, store and key (node-a's admin key
#             file copied to them, as an operator would), each checked to list all three nodes
#             as active and the databases; then WARMUP rounds through each node, then N rounds
#             through each node (node-b and node-c host nothing).
#   1 node, after (AFTER=1, the default; AFTER=0 skips it): node-b and node-c stopped, N rounds
#             through node-a again: a check of how much the machine drifted during the run (the
#             other nodes' rows stay in the catalog, shown lost, so GET /v1/nodes lists three).
# A round sends, to each node of the phase in turn (the first node rotating each round), one
# request of each call, one at a time, over one keep-alive HTTP connection per node:
#   GET /v1/databases                 the list (DBS databases)
#   GET /v1/databases/{id}            one database, the next one each round
#   GET /v1/nodes                     the nodes, admin key
#   POST /v1/dataclips                a clip `select 1 as one` on the round's database: a catalog
#                                     write, and a run (as the database's read-only role) on the
#                                     server node-a hosts, whichever node was asked
#   DELETE /v1/dataclips/{id}         that clip
# (Every node runs with KEEL_DATACLIPS_TEAM_RUNS_PER_MINUTE=1000000: the default 60 a minute per
# team, kept by each node on its own, would answer 429 within a phase.)
# Latency is the client's wall time from sending the request to the end of the answer. Before
# each phase's measured rounds, IDLE (10) s without requests give each node's background CPU.
# Prints p50/p99 per call for 1 node and for 3 nodes (all nodes pooled, then per node) and the
# ratios 3 nodes / 1 node, the drift check, CPU per process and phase, answers other than the
# expected status, and Keel's WARN/ERROR lines.
#
# All nodes run on 127.0.0.1 on different ports (no network namespaces: the nodes reach each
# other and the catalog over loopback, and all three JVMs share this machine's CPUs, which
# separate hosts would not). The report says so.
#
#   ops/bench/nodes.sh                          # N=200, WARMUP=600: ~6-7 minutes on 2 vCPUs
#   N=500 WARMUP=200 AFTER=0 ops/bench/nodes.sh
# The warm-up is long because node-b and node-c are fresh JVMs: with WARMUP=200 (~4.5 minutes)
# they still answered 0.2-1.2 ms (the POST 6-7 ms) slower than node-a in the same phase; with 600,
# at most 0.6 ms (the POST 3-4 ms).
# Environment:
#   N, WARMUP, DBS, IDLE, AFTER   see above
#   KEEL_BENCH_PORTS              the run's port block (31200): catalog +0, S3Proxy +1 (HTTP),
#                                 node i (0, 1, 2): API +10+i, downloads +13+i, poolers
#                                 +20+10i..+29+10i, instances +50+50i..+99+50i, and (unused with an
#                                 external catalog and store) embedded catalog +200+10i..+204+10i,
#                                 embedded S3 +205+10i..+209+10i. 31200-31429: below the ephemeral
#                                 range, clear of the tests (20000-30000), of rpo.sh's 31000-31104
#                                 and of a Keel on its defaults.
#   KEEL_JAR, BUILD, KEEL_POSTGRES_INSTALL_DIR, S3PROXY_JAR, KEEL_BENCH_LOG_DIR: as lib/keel.sh says
#                                 (KEEL_BENCH_LOG_DIR keeps the three nodes' logs, the catalog's, S3Proxy's
#                                 and the raw results).
# Set-up and cleanup are ops/bench/lib/keel.sh's (its exit trap, plus a hook here that stops the
# three nodes, `keel.jar stop` on each data directory and the catalog); the client and the report
# are ops/bench/py/nodes.py. Everything lives in a temporary directory under /tmp, removed on exit.
set -euo pipefail

N=${N:-200}
WARMUP=${WARMUP:-600}
DBS=${DBS:-3}
IDLE=${IDLE:-10}
AFTER=${AFTER:-1}
BASE=${KEEL_BENCH_PORTS:-31200}
CATALOG_PORT=$BASE
S3_HTTP=$((BASE + 1))
CATALOG_PORTS=unused   # lib/keel.sh's single-Keel ports are not used: each node gets its own below
source "$(dirname "$0")/lib/keel.sh"
positive N WARMUP DBS IDLE
[[ $BASE =~ ^[1-9][0-9]*$ ]] || die "KEEL_BENCH_PORTS must be a port number, not '$BASE'"

NODES=(node-a node-b node-c)
node_api_port() { echo $((BASE + 10 + $1)); }
node_ports() {  # node_ports I: the KEEL_* port settings of node I
    local i=$1
    printf '%s\n' "KEEL_PORT=$((BASE + 10 + i))" "KEEL_BACKUPS_DOWNLOAD_PORT=$((BASE + 13 + i))" \
        "KEEL_POOLING_PORTS=$((BASE + 20 + 10 * i))-$((BASE + 29 + 10 * i))" \
        "KEEL_INSTANCES_PORTS=$((BASE + 50 + 50 * i))-$((BASE + 99 + 50 * i))" \
        "KEEL_CATALOG_PORTS=$((BASE + 200 + 10 * i))-$((BASE + 204 + 10 * i))" \
        "KEEL_S3_EMBEDDED_PORTS=$((BASE + 205 + 10 * i))-$((BASE + 209 + 10 * i))"
}

server_user
for port in "$CATALOG_PORT" "$S3_HTTP" "$((BASE + 2))" $(node_api_port 0) $(node_api_port 1) $(node_api_port 2); do
    port_free "$port" || die "port $port is taken (set KEEL_BENCH_PORTS to another block)"
done
bench_init keytool
KEEP=('node-*.log' catalog/postgresql.log s3/s3proxy.log results)
warn_ephemeral "$BASE-$((BASE + 229))"
keel_jar

# --- cleanup: the nodes, their servers, the catalog -----------------------------------------------

NODE_PIDS=()     # by index into NODES
CATALOG_DATA=
stop_nodes() {  # stop_nodes I...: SIGTERM to those nodes at once, then waits for each
    local i
    for i in "$@"; do
        [[ -n ${NODE_PIDS[i]:-} ]] && kill "${NODE_PIDS[i]}" 2>/dev/null || true
    done
    for i in "$@"; do
        [[ -n ${NODE_PIDS[i]:-} ]] && wait "${NODE_PIDS[i]}" 2>/dev/null || true
        NODE_PIDS[i]=
    done
}
node_dir() { echo "$WORK/${NODES[$1]}"; }
node_servers() { if [[ $(id -u) -eq 0 ]]; then echo "$(node_dir "$1")-servers"; else node_dir "$1"; fi; }
stop_everything() {
    stop_nodes 0 1 2
    local i
    for i in 0 1 2; do
        [[ -d $(node_dir "$i") ]] || continue
        "${KEEL_ENV[@]}" KEEL_DATA_DIR="$(node_dir "$i")" KEEL_SERVER_DIR="$(node_servers "$i")" java -jar "$WORK/keel.jar" stop \
            >/dev/null 2>&1 || say "'keel.jar stop' failed for ${NODES[i]}; check for servers under $(node_servers "$i")"
    done
    [[ -z $CATALOG_DATA ]] || stop_cluster "$CATALOG_DATA"
}
at_exit stop_everything

# --- the catalog: a Postgres made by hand, as an operator's external one --------------------------

catalog_binaries() {  # sets PGBIN: Keel's default major as Keel unpacked it, else the system's newest
    local dir
    if [[ -x $INSTALL_DIR/17.11.0/bin/postgres ]]; then
        pgbin_of 17.11.0
        return
    fi
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]]; then
            PGBIN=$dir
            say "Keel has not unpacked Postgres 17.11.0 into $INSTALL_DIR yet: the catalog runs $PGBIN"
            return
        fi
    done
    die "no Postgres binaries for the catalog: run another benchmark once (Keel unpacks 17.11.0 into $INSTALL_DIR), or install postgresql"
}
catalog_binaries
mkdir -p "$WORK/catalog"
chmod 700 "$WORK/catalog"
CATALOG_PASSWORD=$(floor_password "$WORK/catalog")
floor_initdb "$WORK/catalog" data
CATALOG_DATA=$WORK/catalog/data
floor_listen "$CATALOG_DATA" "$CATALOG_PORT"
echo "max_connections = 100" >>"$CATALOG_DATA/postgresql.conf"
rm -f "$WORK/catalog/pwfile"
say "starting the catalog ($PGBIN/postgres) on 127.0.0.1:$CATALOG_PORT ..."
as_server "$PGBIN/pg_ctl" start -w -D "$CATALOG_DATA" -l "$WORK/catalog/postgresql.log" >/dev/null \
    || die "the catalog did not start: $(tail -n 5 "$WORK/catalog/postgresql.log")"
PGPASSWORD=$CATALOG_PASSWORD "$PSQL" -X -q -h 127.0.0.1 -p "$CATALOG_PORT" -U keel -d postgres -v ON_ERROR_STOP=1 \
    -c "create database keel" || die "could not create the catalog database"
CATALOG_URL="postgres://keel:$CATALOG_PASSWORD@127.0.0.1:$CATALOG_PORT/keel"
CATALOG_PID=$(head -n1 "$CATALOG_DATA/postmaster.pid")

# --- the object store and the key the nodes share ------------------------------------------------

s3proxy_start "$S3_HTTP" "$((BASE + 2))" keel-nodes http
SECRET_KEY=$(head -c 32 /dev/urandom | base64)

# start_node I: node I on the shared catalog, store and key; waits until it answers /health.
start_node() {
    local i=$1 dir port deadline ports
    dir=$(node_dir "$i")
    port=$(node_api_port "$i")
    mkdir -p "$dir"
    mapfile -t ports < <(node_ports "$i")
    if (( i > 0 )); then   # the first node made the admin key; the others are given it
        cp "$(node_dir 0)/admin-api-key" "$dir/admin-api-key"
        chmod 600 "$dir/admin-api-key"
    fi
    say "starting ${NODES[i]} on http://127.0.0.1:$port (data under $dir) ..."
    "${KEEL_ENV[@]}" KEEL_DATA_DIR="$dir" KEEL_SERVER_DIR="$(node_servers "$i")" "${ports[@]}" \
        KEEL_BIND=127.0.0.1 KEEL_PUBLIC_HOST=127.0.0.1 KEEL_NODE_NAME="${NODES[i]}" KEEL_NODES_NETWORK=127.0.0.0/8 \
        KEEL_CATALOG_URL="$CATALOG_URL" KEEL_SECRET_KEY="$SECRET_KEY" KEEL_INSTANCES_POOL_SIZE=0 "${KEEL_S3_ENV[@]}" \
        KEEL_DATACLIPS_TEAM_RUNS_PER_MINUTE=1000000 \
        java -XX:+ExitOnOutOfMemoryError "${KEEL_JAVA_OPTS[@]}" -jar "$WORK/keel.jar" >>"$WORK/${NODES[i]}.log" 2>&1 &
    NODE_PIDS[i]=$!
    KEEL_LOG=$WORK/${NODES[i]}.log   # the lib prints its last lines when the run fails
    deadline=$(( $(now_ms) + 900000 ))   # the first start may download and unpack Postgres
    until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" 2>/dev/null) == 200 ]]; do
        kill -0 "${NODE_PIDS[i]}" 2>/dev/null || die "${NODES[i]} exited during startup: $(tail -n 5 "$WORK/${NODES[i]}.log")"
        (( $(now_ms) < deadline )) || die "${NODES[i]} did not become healthy within 15 minutes"
        sleep 0.2
    done
}

# The node's API for lib/keel.sh's helpers (api, provision, ...).
use_node() {
    API=http://127.0.0.1:$(node_api_port "$1")
    KEY=$(<"$(node_dir 0)/admin-api-key")
    export BENCH_AUTH=$KEY
    AUTH=(-H "Authorization: Bearer $KEY" -H "Content-Type: application/json")
}

# nodes_json I...: writes $WORK/nodes.json, what nodes.py measures: those nodes, the databases, the pids.
nodes_json() {
    local i list=()
    for i in "$@"; do list+=("${NODES[i]}" "http://127.0.0.1:$(node_api_port "$i")" "${NODE_PIDS[i]}"); done
    python3 - "$WORK/nodes.json" "$CATALOG_PID" "$S3_PID" "${DB_IDS[*]}" "${list[@]}" <<'EOF'
import json, sys
out, catalog, s3, dbs, rest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(), sys.argv[5:]
nodes = [dict(name=rest[i], api=rest[i + 1], pid=int(rest[i + 2])) for i in range(0, len(rest), 3)]
json.dump(dict(nodes=nodes, databases=dbs, catalog_pid=catalog, s3_pid=s3), open(out, "w"))
EOF
}

# --- 1 node: node-a alone, hosting the databases --------------------------------------------------

start_node 0
use_node 0
DB_IDS=()
for ((d = 1; d <= DBS; d++)); do
    say "provisioning essential-0 database $d of $DBS through node-a ..."
    DB_IDS+=("$(provision '{"plan":"essential-0"}')")
done
for db in "${DB_IDS[@]}"; do
    say "waiting for the first base backup of $db ..."
    bench_py tool first-backup "$API" "$db"
done
bench_py tool meta "$WORK/results/meta.json" n="$N" warmup="$WARMUP" dbs="$DBS" idle="$IDLE" \
    keel="$KEEL_VERSION" catalog_bin="$PGBIN" base="$BASE"

nodes_json 0
bench_py nodes check 1-node "$WORK/nodes.json" node-a
bench_py nodes measure 1-node "$WORK/nodes.json" "$N" "$WARMUP" "$IDLE"

# --- 3 nodes: node-b and node-c join the same catalog and store -----------------------------------

start_node 1
start_node 2
use_node 0
nodes_json 0 1 2
bench_py nodes check 3-nodes "$WORK/nodes.json" node-a node-b node-c
bench_py nodes measure 3-nodes "$WORK/nodes.json" "$N" "$WARMUP" "$IDLE"

# --- 1 node again: node-b and node-c stopped (the drift check) ------------------------------------

if [[ $AFTER == 1 ]]; then
    say "stopping node-b and node-c ..."
    stop_nodes 1 2
    nodes_json 0
    bench_py nodes measure 1-node-after "$WORK/nodes.json" "$N" 0 "$IDLE"
fi

bench_py nodes report "$WORK"
