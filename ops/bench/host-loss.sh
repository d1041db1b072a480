#!/usr/bin/env bash
# ops/bench/host-loss.sh: HA across hosts (issue 15), the faults of HostLossIT measured N times,
# against the same measure for the fault on one host as today, in one run.
#
# Measures, N times (default 5), each a fresh run of HostLossIT (two Keel nodes on two network
# namespaces, the catalog and S3Proxy on two more; a premium database on node-a, its synchronous
# standby on node-b; a writer inserting a numbered row every 10 ms through the database's url,
# asked again of a live node after each failure, giving up on a host that does not accept a TCP
# connection within 100 ms; see the test's javadoc):
#   catalog   the catalog's host cut off for CATALOG_OUTAGE seconds (default 120, the issue's two
#             minutes; the suite's HostLossIT cuts it for 15): the longest pause between acknowledged writes
#   fence     the partition (node-a's link cut, its processes alive): from the cut to node-a
#             killing its primary (T_fence, KEEL_HA_FENCE_AFTER, 2 s)
#   partition the same partition: from the last write acknowledged on node-a to the first on
#             node-b (CloudNativePG's e2e measure)
#   hostloss  every process on the new primary's host killed and its link cut: from the last write
#             acknowledged there to the first on the other host
#   lost      acknowledged writes missing afterwards (the test fails on any)
#   rpo       a standard database (no standby) on the lost host, its WAL receiver on the other: a
#             rollback to now restores it there; writes of the last 250 ms before the loss missing
#             (the test fails on any older one missing)
# Then, as the anchor measured in the same run, `ONLY=failover N=$N ops/bench/failover.sh`: Keel's
# failover of a hung primary with its standby on the same host (SIGSTOP to the first write through
# the url) and its floor, a failover by hand with the same binaries.
# Prints p50/max/min of each, and the ratios of partition and hostloss to the one-host failover.
#
# Needs root (network namespaces, as the test) and the Maven build of this checkout; each run
# builds the jar anew (mvn verify) and takes ~4-4.5 minutes on 2 vCPUs with the two-minute outage:
#   ops/bench/host-loss.sh                 # N=5: ~25 minutes with the anchor
#   N=3 CATALOG_OUTAGE=15 ops/bench/host-loss.sh
# Environment: N, CATALOG_OUTAGE (seconds); KEEL_BENCH_LOG_DIR keeps each run's Maven log and
# HostLossIT output there.
set -euo pipefail
N=${N:-5}
CATALOG_OUTAGE=${CATALOG_OUTAGE:-120}
NAME=host-loss.sh
die() { echo "$NAME: $*" >&2; exit 1; }
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, not '$N'"
[[ $CATALOG_OUTAGE =~ ^[1-9][0-9]*$ ]] || die "CATALOG_OUTAGE must be a positive number of seconds, not '$CATALOG_OUTAGE'"
[[ $(id -u) -eq 0 ]] || die "needs root: the test makes network namespaces"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/keel-host-loss.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"
for i in $(seq 1 "$N"); do
    echo "run $i of $N: HostLossIT"
    if ! mvn -B -q -Dkeel.test.require-cli=true -Dkeel.test.catalog-outage-seconds="$CATALOG_OUTAGE" -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false -Dit.test=HostLossIT \
            -Dfailsafe.failIfNoSpecifiedTests=false verify >"$WORK/mvn-$i.log" 2>&1; then
        echo "  run $i failed:"; sed -n '4,8p' target/failsafe-reports/dev.keel.nodes.HostLossIT.txt | cut -c1-300
    fi
    cp target/failsafe-reports/dev.keel.nodes.HostLossIT-output.txt "$WORK/output-$i.txt" 2>/dev/null || : >"$WORK/output-$i.txt"
    { sed -n '/HostLossIT observed/,/^[^ ]/p' "$WORK/output-$i.txt" | sed 's/^/  /' | head -14; } || true
done
[[ -z ${KEEL_BENCH_LOG_DIR:-} ]] || { mkdir -p "$KEEL_BENCH_LOG_DIR"; cp "$WORK"/* "$KEEL_BENCH_LOG_DIR"/; }
echo "anchor: ONLY=failover N=$N ops/bench/failover.sh"
# A failed anchor (its Keel could not start, say) still leaves the runs' summary below.
ONLY=failover N=$N "$ROOT/ops/bench/failover.sh" | tee "$WORK/failover.txt" || echo "the anchor failed; see its output above"
[[ -z ${KEEL_BENCH_LOG_DIR:-} ]] || cp "$WORK/failover.txt" "$KEEL_BENCH_LOG_DIR"/
python3 - "$WORK" "$N" <<'PY'
import glob, re, statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
pat = {
    "catalog": r"catalog cut for \d+ s: .* the longest pause (\d+) ms",
    "fence": r"partition: node-a killed its primary (\d+) ms after the cut",
    "partition": r"partition: last write on node-a to first on node-b: (\d+) ms",
    "hostloss": r"host lost: last write on node-b to first on node-a: (\d+) ms",
}
got = {k: [] for k in pat}
lost = []
rpo = []
for f in sorted(glob.glob(f"{work}/output-*.txt")):
    text = open(f).read()
    for k, p in pat.items():
        m = re.search(p, text)
        if m:
            got[k].append(int(m.group(1)))
    m = re.search(r"acknowledged in all: (\d+), none missing", text)
    lost.append("0 of " + m.group(1) if m else "run failed")
    m = re.search(r"host lost, standard database .*: (\d+) writes acknowledged, .* of the last 250 ms's, (\d+) missing", text)
    if m:
        rpo.append(f"{m.group(2)} of {m.group(1)}")
def p50(v): return statistics.median(v)
failed = sum(1 for l in lost if l == "run failed")
print(f"\nacross hosts, {n} runs, {failed} failed (a failed run's figures are left out; see its output above) (ms):")
for k, v in got.items():
    if v:
        print(f"  {k:<9} N={len(v)}  p50 {p50(v):7.0f}  max {max(v):6d}  min {min(v):6d}")
    else:
        print(f"  {k:<9} no sample")
print(f"  lost      {', '.join(lost)}")
print(f"  standard database lost with its host, WAL received on the other: of the last 250 ms's writes, missing after a"
      f" rollback to now: {', '.join(rpo) or 'no sample'} (none older may be missing: the test fails on any)")
anchor = open(f"{work}/failover.txt").read()
m = re.search(r"keel\s+N=\s*\d+\s+p50\s+([\d.]+)\s*(ms|s)", anchor)
if m:
    one = float(m.group(1)) * (1000 if m.group(2) == "s" else 1)
    print(f"one host (failover.sh keel p50): {one:.0f} ms")
    for k in ("partition", "hostloss"):
        if got[k]:
            print(f"  ratio {k}/one-host p50: {p50(got[k]) / one:.2f}x")
    print("  targets: hostloss p50 < 5000 ms; partition < T_fence + 5 s = 7000 ms")
else:
    print("failover.sh printed no keel p50; see its output above")
PY
