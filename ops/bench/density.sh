#!/usr/bin/env bash
# ops/bench/density.sh: how Keel's costs grow with the number of databases on one node.
#
# Starts one Keel (no warm pool) on a fresh data directory and provisions essential-0 databases
# one at a time; at each step of STEPS (default "10 50 100 200", as far as the machine goes) it
# records, with the machine otherwise as it is:
#   idle CPU     Keel's JVM CPU seconds over IDLE seconds (default 30) of no requests, as % of a core
#   rss          the JVM's RSS, and the RSS of every process under the data directory (Postgres
#                servers, catalog, S3Proxy) per database
#   list p50/99  GET /v1/databases, REQUESTS times (default 50)
#   show p50/99  GET /v1/databases/{id} of the newest database, REQUESTS times
#   provision    seconds to provision the step's last database (POST to available)
#   scrape       seconds of one GET /metrics that reads every database (a fresh reading), and the
#                JVM CPU seconds it took
#   ha/archive   the mean/max milliseconds of the HA monitor's checks and the WAL scanner's rounds since the
#                last step (keel_loop_round_seconds{loop="ha-check"|"wal-scan"} of /metrics; essential
#                plans have no HA check, so that column stays "-" unless premium databases are added)
# The anchor is the first step: every column is also printed as a ratio to its value at the first
# step divided by the ratio of databases, so 1.0 means "grows linearly" and more means faster.
#
#   ops/bench/density.sh                       # STEPS="10 50 100 200"
#   STEPS="5 10 20" IDLE=10 ops/bench/density.sh
# Environment: KEEL_JAR (default <repo>/target/keel.jar), KEEL_BENCH_API_PORT (5491),
# KEEL_BENCH_INSTANCE_PORTS (23000-23999: below the ephemeral range, clear of defaults and tests),
# KEEL_BENCH_CATALOG_PORTS (22990-22994), KEEL_BENCH_S3_PORTS (22995-22999),
# KEEL_POSTGRES_INSTALL_DIR (shared unpacked binaries, /var/cache/keel-bench/postgres as root).
# The Keel is ops/bench/lib/keel.sh's. Everything lives in a temporary directory removed at exit,
# after every server was stopped.
set -euo pipefail

STEPS=${STEPS:-"10 50 100 200"}
IDLE=${IDLE:-30}
REQUESTS=${REQUESTS:-50}
API_PORT=${KEEL_BENCH_API_PORT:-5491}
INSTANCE_PORTS=${KEEL_BENCH_INSTANCE_PORTS:-23000-23999}
CATALOG_PORTS=${KEEL_BENCH_CATALOG_PORTS:-22990-22994}
S3_EMBEDDED_PORTS=${KEEL_BENCH_S3_PORTS:-22995-22999}
source "$(dirname "$0")/lib/keel.sh"
CLK=$(getconf CLK_TCK)
keel_bench bc
DATA=$KEEL_DATA
auth=(-H "Authorization: Bearer $KEY")

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# RSS of every process whose working directory or command line is under the data directory.
servers_rss_kb() {
  local total=0 pid
  for pid in $(pgrep -f "$DATA" || true); do
    [ "$pid" = "$KEEL_PID" ] && continue
    total=$((total + $(rss_kb "$pid")))
  done
  echo "$total"
}
percentiles() { sort -n | awk '{v[NR]=$1} END {p50=v[int((NR+1)*0.5)]; p99=v[int(NR*0.99)>0?int(NR*0.99):NR]; printf "%.1f %.1f", p50*1000, p99*1000}'; }
timed_get() { for _ in $(seq "$REQUESTS"); do curl -s -o /dev/null -w '%{time_total}\n' "${auth[@]}" "$1"; done | percentiles; }

provision_timed() {  # provisions one essential-0 database: LAST_ID, LAST_PROVISION (seconds)
  local started id state
  started=$(date +%s.%N)
  id=$(curl -s "${auth[@]}" -H 'Content-Type: application/json' -d '{"plan":"essential-0"}' "$API/v1/databases" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p' | head -n 1)
  for _ in $(seq 3000); do
    state=$(curl -s "${auth[@]}" "$API/v1/databases/$id" | sed -n 's/.*"state":"\([a-z]*\)".*/\1/p')
    [ "$state" = available ] && break
    [ "$state" = failed ] && { echo "provisioning failed: $(curl -s "${auth[@]}" "$API/v1/databases/$id")" >&2; exit 1; }
    sleep 0.05
  done
  LAST_ID=$id
  LAST_PROVISION=$(echo "$(date +%s.%N) - $started" | bc)
}

# The mean and max of a loop's rounds since the last step, in ms, from keel_loop_round_seconds{loop} of a scrape.
declare -A LOOP_COUNT LOOP_SUM
loop_cycle() {
  local loop=$1 count sum max mean
  count=$(sed -n "s/^keel_loop_round_seconds_count{loop=\"$loop\"} //p" "$WORK/metrics.txt" | head -n 1)
  sum=$(sed -n "s/^keel_loop_round_seconds_sum{loop=\"$loop\"} //p" "$WORK/metrics.txt" | head -n 1)
  max=$(sed -n "s/^keel_loop_round_seconds_max{loop=\"$loop\"} //p" "$WORK/metrics.txt" | head -n 1)
  if [ -z "$count" ]; then echo "-"; return; fi
  mean=$(echo "scale=6; d = $count - ${LOOP_COUNT[$loop]:-0}; if (d > 0) ($sum - ${LOOP_SUM[$loop]:-0}) * 1000 / d else 0" | bc)
  LOOP_COUNT[$loop]=$count
  LOOP_SUM[$loop]=$sum
  printf '%.1f/%.1f' "$mean" "$(echo "$max * 1000" | bc)"
}

printf '%-5s %8s %9s %12s %15s %15s %10s %9s %9s %14s %14s\n' dbs idle-cpu% keel-mb servers-mb/db list-p50/p99ms show-p50/p99ms \
  provision-s scrape-s scrape-cpu ha-check-ms wal-scan-ms
count=0
first=""
for step in $STEPS; do
  while [ "$count" -lt "$step" ]; do provision_timed; count=$((count + 1)); done
  before=$(cpu_ticks "$KEEL_PID"); sleep "$IDLE"; after=$(cpu_ticks "$KEEL_PID")
  idle=$(echo "scale=1; ($after - $before) * 100 / $CLK / $IDLE" | bc)
  keel_mb=$(( $(rss_kb "$KEEL_PID") / 1024 ))
  per_db=$(echo "scale=1; $(servers_rss_kb) / 1024 / $count" | bc)
  list=$(timed_get "$API/v1/databases")
  show=$(timed_get "$API/v1/databases/$LAST_ID")
  sleep 11 # past keel.metrics.refresh, so the scrape reads every database afresh
  c0=$(cpu_ticks "$KEEL_PID")
  scrape=$(curl -s -o "$WORK/metrics.txt" -w '%{time_total}' "$API/metrics")
  c1=$(cpu_ticks "$KEEL_PID")
  scrape_cpu=$(echo "scale=2; ($c1 - $c0) / $CLK" | bc)
  ha=$(loop_cycle ha-check)
  scan=$(loop_cycle wal-scan)
  printf '%-5s %8s %9s %12s %15s %15s %10.1f %9s %9s %14s %14s\n' "$count" "$idle" "$keel_mb" "$per_db" "${list/ //}" "${show/ //}" \
    "$LAST_PROVISION" "$scrape" "$scrape_cpu" "$ha" "$scan"
  # Growth against the first step per database: 1.0 is linear, more is faster than linear.
  row="$count $idle $keel_mb ${list%% *} ${show%% *} $scrape $scrape_cpu"
  if [ -z "$first" ]; then
    first=$row
  else
    echo "$first $row" | awk '{n = NF / 2; r = $(n + 1) / $1; printf "      growth/linear: idle-cpu %.2f  keel-mb %.2f  list-p50 %.2f  show-p50 %.2f  scrape-s %.2f  scrape-cpu %.2f\n",
      ($(n + 2) / $2) / r, ($(n + 3) / $3) / r, ($(n + 4) / $4) / r, ($(n + 5) / $5) / r, ($(n + 6) / $6) / r, ($(n + 7) / $7) / r}'
  fi
done
echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"
grep -E '^keel_metrics_scrape_seconds_(count|sum)|^keel_operations_queued' "$WORK/metrics.txt" || true
