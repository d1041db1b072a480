#!/usr/bin/env bash
# ops/bench/pooling.sh: transactions per second through a database's PgBouncer against direct
# connections, with pgbench, in one run.
#
# One Keel (ops/bench/lib/keel.sh), one standard-0 database (max_connections 120), attached to an
# app through its pooler (transaction pooling, 90 server connections). pgbench -i -s SCALE, then
# pgbench's TPC-B-like transaction for DURATION seconds (TLS on every connection, -M simple):
#   direct  @ 500 clients   straight to the server: more clients than max_connections, so it is
#                           refused (reported as such: this is why pooling exists)
#   direct  @ 100 clients   the most the plan lets in directly (the anchor)
#   pooled  @ 100 clients   the same through the pooler
#   pooled  @ 500 clients   through the pooler, which holds at most 90 server connections
# and prints each TPS and pooled/direct.
#
#   ops/bench/pooling.sh
#   DURATION=60 SCALE=50 ops/bench/pooling.sh
set -euo pipefail
DURATION=${DURATION:-30}
SCALE=${SCALE:-10}
source "$(dirname "$0")/lib/keel.sh"
command -v pgbench >/dev/null || die "pgbench is required (apt-get install postgresql-15, or postgresql-contrib)"
keel_bench

DB=$(provision '{"plan":"standard-0","name":"bench"}')
curl -sf "${AUTH[@]}" -d '{"name":"bench"}' "$API/v1/apps" >/dev/null
curl -sf "${AUTH[@]}" -d "{\"database\":\"$DB\",\"pooled\":true}" "$API/v1/apps/bench/attachments" >/dev/null
curl -sf "${AUTH[@]}" -d "{\"database\":\"$DB\"}" "$API/v1/apps/bench/attachments" >/dev/null
VARS=$(curl -sf "${AUTH[@]}" "$API/v1/apps/bench/config-vars")
DIRECT="$(echo "$VARS" | json 'd["DATABASE_URL"]')&sslrootcert=$WORK/ca.pem"
POOLED="$(echo "$VARS" | json 'd["DATABASE_CONNECTION_POOL_URL"]')&sslrootcert=$WORK/ca.pem"
echo "pgbench -i -s $SCALE ..." >&2
pgbench -q -i -s "$SCALE" "$DIRECT" >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log" >&2; die "pgbench -i failed"; }

run() {  # run URL CLIENTS -> tps, or "refused: <reason>"
    local out
    if out=$(pgbench -n -M simple -T "$DURATION" -c "$2" -j 2 "$1" 2>&1); then
        echo "$out" | awk '/^tps = / {print $3; exit}'
    else
        echo "refused: $(echo "$out" | grep -m1 -E 'FATAL|error' | cut -c1-120)"
    fi
}
echo "direct @500 ..." >&2
DIRECT_500=$(run "$DIRECT" 500)
echo "direct @100 ..." >&2
DIRECT_100=$(run "$DIRECT" 100)
echo "pooled @100 ..." >&2
POOLED_100=$(run "$POOLED" 100)
echo "pooled @500 ..." >&2
POOLED_500=$(run "$POOLED" 500)
bench_py pooling "$DIRECT_500" "$DIRECT_100" "$POOLED_100" "$POOLED_500" "$DURATION" "$SCALE" "$(nproc)" "$(load_avg)"
