"""provision.sh's report: cold, warm and floor provisioning latency, their ratios, every sample, and
where the time goes (the poller's steps, Keel's log, the floor's steps).

  provision.py WORK N WARMUP POLL_SECONDS
"""
import re
import sys

from benchlib.core import pct, ratio, rows, time_of_day

MODES = ("cold", "warm")


def measured(rs):
    return [r for r in rs if r[0].startswith("s")]


def report(work, n, warmup, poll):
    keel_rows = {m: rows(f"{work}/{m}.samples") for m in MODES}
    floor_rows = {m: rows(f"{work}/floor-{m}.samples") for m in MODES}
    keel = {m: [int(r[1]) for r in measured(keel_rows[m])] for m in MODES}
    floor_by_run = {m: [int(r[1]) for r in measured(floor_rows[m])] for m in MODES}
    floor = floor_by_run["cold"] + floor_by_run["warm"]
    warm_claimed = sum(1 for r in measured(keel_rows["warm"]) if r[3] == r[4])

    def stats(v):
        return f"p50 {pct(v, 50):5.0f} ms  p90 {pct(v, 90):5.0f} ms  (min {min(v)} .. max {max(v)} ms)"

    print("Provisioning latency, plan standard-0: POST /v1/databases -> first successful `select 1`")
    print("  cold   KEEL_INSTANCES_POOL_SIZE=0: every provision makes its instance (initdb, start, ...)")
    print("  warm   KEEL_INSTANCES_POOL_SIZE=1, measured only when a pooled instance was ready: before each")
    print("         sample the script waited (untimed) for the pool to refill. A provision arriving while")
    print(f"         the pool refills takes the cold path. Claimed the pooled instance: {warm_claimed}/{len(keel['warm'])}")
    print("  floor  initdb + pg_ctl start -w + first query, same binaries; one after each cold and warm sample")
    print()
    print(f"cold  N={len(keel['cold']):<3}  {stats(keel['cold'])}")
    print(f"warm  N={len(keel['warm']):<3}  {stats(keel['warm'])}   (a pooled instance was ready)")
    print(f"floor N={len(floor):<3}  {stats(floor)}")
    for m in MODES:
        v = floor_by_run[m]
        print(f"      floor during the {m} run: p50 {pct(v, 50):.0f} ms  p90 {pct(v, 90):.0f} ms")
    for m in MODES:
        print(f"ratio {m}/floor: p50 {ratio(pct(keel[m], 50), pct(floor, 50))}  p90 {ratio(pct(keel[m], 90), pct(floor, 90))}")
    print()
    for m in MODES:
        print(f"samples {m:5s} (ms): " + " ".join(str(x) for x in keel[m]))
        print("  floor after each: " + " ".join(str(x) for x in floor_by_run[m]))
    if warmup:
        for m in MODES:
            pairs = [f"keel {k[1]} ms, floor {f[1]} ms" for k, f in zip(keel_rows[m], floor_rows[m])
                     if k[0].startswith("warmup")]
            print(f"warm-up, {m} run (not counted): " + "; ".join(pairs))

    # Steps as seen by the poller. Events are "POST->202 <when the 202 came>", then "<step> <when the
    # step was first seen>" for each step, "available->first_query <when available was seen>" and
    # "end <t1>". A phase runs from its start to the next one's; the first step starts at the 202.
    ORDER = ["POST->202", "preparing_Postgres_binaries", "reserving_a_port", "initializing", "starting",
             "creating_credentials", "available->first_query"]  # DatabaseCreate's steps, in order
    print()
    print(f"keel steps, p50 ms (p90), seen by polling every ~{poll * 1000:.0f} ms: a step shorter than a poll may go unseen, its time")
    print("  counted in the step seen before it (or, before the first step seen, in that one)")
    print("  (warm path: 'initializing' rewrites the pooled instance's config, 'starting' reloads it)")
    phases = {m: {} for m in MODES}
    order = list(ORDER)
    for m in MODES:
        for r in measured(rows(f"{work}/{m}.events")):
            events = list(zip(r[2::2], map(int, r[3::2])))
            starts = [("POST->202", int(r[1]))]
            for i, (label, t) in enumerate(events[1:], start=1):
                starts.append((label, events[0][1] if i == 1 else t))
            for (label, start), (_, end) in zip(starts, starts[1:]):
                phases[m].setdefault(label, []).append(end - start)
                if label not in order:
                    order.append(label)
    print(f"  {'':30s} {'cold':>13s} {'warm':>13s}")
    for label in order:
        cells = []
        for m in MODES:
            if label in phases[m]:
                v = phases[m][label] + [0] * (len(keel[m]) - len(phases[m][label]))
                cells.append(f"{pct(v, 50):5.0f} ({pct(v, 90):4.0f})")
            else:
                cells.append("-")
        if any(c != "-" for c in cells):
            print(f"  {label.replace('_', ' '):30s} {cells[0]:>13s} {cells[1]:>13s}")

    # Keel's log: "Operation provision started/succeeded", with the database id after the message (as
    # " database=<id>", or glued to it as this logback pattern currently renders it). Its time of day
    # (the JVM's local time, ms) is set against the script's clock: POST -> started is the request and
    # the wait for an operation thread, started -> succeeded is Keel's work, succeeded -> first query
    # is noticing "available" by polling plus psql's first connection.
    stamp = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) .*Operation provision (started|succeeded)\s*(?:database=)?"
                       r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")

    print()
    print("keel per its log, p50 ms (p90):")
    print(f"  {'':30s} {'cold':>13s} {'warm':>13s}")
    split = {m: {"POST -> operation started": [], "operation started -> succeeded": [],
                 "succeeded -> first query": []} for m in MODES}
    for m in MODES:
        samples = {r[2]: (int(r[5]), int(r[1])) for r in measured(keel_rows[m])}
        marks = {}
        with open(f"{work}/keel-{m}.log", errors="replace") as f:
            for text in f:
                s = stamp.match(text)
                if s and s.group(6) in samples:
                    h, mi, sec, ms = map(int, s.groups()[:4])
                    marks.setdefault(s.group(6), {})[s.group(5)] = ((h * 60 + mi) * 60 + sec) * 1000 + ms
        for db, mk in marks.items():
            if "started" not in mk or "succeeded" not in mk:
                continue
            t0, total = samples[db]
            to_start = (mk["started"] - time_of_day(t0)) % 86400000
            work_ms = (mk["succeeded"] - mk["started"]) % 86400000
            if to_start > total:   # the clocks do not line up (another time zone?): skip the split
                continue
            split[m]["POST -> operation started"].append(to_start)
            split[m]["operation started -> succeeded"].append(work_ms)
            split[m]["succeeded -> first query"].append(total - to_start - work_ms)
    for label in split["cold"]:
        cells = [f"{pct(v, 50):5.0f} ({pct(v, 90):4.0f})" if v else "-" for v in (split[m][label] for m in MODES)]
        print(f"  {label:30s} {cells[0]:>13s} {cells[1]:>13s}")

    print("floor steps, p50 ms (p90):")
    all_floor = measured(floor_rows["cold"]) + measured(floor_rows["warm"])
    for i, label in enumerate(["initdb", "pg_ctl start -w", "first query"], start=2):
        v = [int(r[i]) for r in all_floor]
        print(f"  {label:30s} {pct(v, 50):5.0f} ({pct(v, 90):4.0f})")


if __name__ == "__main__":
    report(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
