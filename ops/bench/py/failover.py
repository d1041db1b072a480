"""failover.sh's report: keel's failovers against the floor, the target and the quoted figures,
where keel's time goes, every sample and the monitor's decisions; the follower's lag; Keel's ERRORs.

  failover.py WORK PG_VERSION TARGET_MS POLL_S CHECK_INTERVAL MISSES PROBE_TIMEOUT LAG_SAMPLE RUN_S
"""
import json
import re
import sys

from benchlib.core import KEEL_STAMP, pct, ratio, rows, time_of_day


def ms(v):
    return f"{v:6.0f} ms"


def failovers(work, keel_rows, floor_rows, pg_version, target_ms, poll, check_interval, misses, probe_timeout):
    ok = [r for r in keel_rows if r[1] != "-"]
    failed = [r for r in keel_rows if r[1] == "-"]
    keel = [int(r[1]) for r in ok]
    floor = [int(r[1]) for r in floor_rows]
    print("Failover: kill -STOP of the primary's postmaster -> first successful insert through the database's url")
    print(f"  keel   plan premium-0, Postgres {pg_version}; failover monitor: a login every {check_interval}, login timeout"
          f" {probe_timeout} s, fails over after {misses} missed checks; url polled every {poll * 1000:.0f} ms")
    print(f"  floor  by hand, Postgres {pg_version} (the same binaries): a primary and a streaming standby, kill -STOP the"
          f" primary,")
    print("         pg_ctl promote -w the standby at once, insert on it until that works: no detection, no TLS")
    print()
    if keel:
        print(f"keel   N={len(keel):<2}  p50 {ms(pct(keel, 50))}  max {ms(max(keel))}  (min {min(keel)} ms)"
              + (f"   FAILED: {len(failed)} more sample(s) did not fail over" if failed else ""))
    else:
        print(f"keel   no sample failed over ({len(failed)} failed)")
    print(f"floor  N={len(floor):<2}  p50 {ms(pct(floor, 50))}  max {ms(max(floor))}  (min {min(floor)} ms)")
    if keel:
        print(f"ratio keel/floor: p50 {ratio(pct(keel, 50), pct(floor, 50), 1)}  max {ratio(max(keel), max(floor), 1)}")
        met = sum(1 for v in keel if v < target_ms)
        verdict = "met" if met == len(keel_rows) else "MISSED"
        print(f"target: under {target_ms / 1000:.0f} s: keel p50 {pct(keel, 50) / 1000:.1f} s ({pct(keel, 50) / target_ms:.2f}x the"
              f" target), max {max(keel) / 1000:.1f} s ({max(keel) / target_ms:.2f}x): {verdict},"
              f" {met}/{len(keel_rows)} runs under {target_ms / 1000:.0f} s")
        print("quoted, not measured here: RDS Multi-AZ 60-120 s, Heroku confirms a failure over ~2 min (120 s),"
              " Patroni's defaults ~30 s,")
        print(f"  CloudNativePG's e2e budget 10 s; each over keel's max ({max(keel) / 1000:.1f} s):"
              f" RDS {60000 / max(keel):.0f}-{120000 / max(keel):.0f}x, Heroku {120000 / max(keel):.0f}x,"
              f" Patroni {30000 / max(keel):.1f}x, CloudNativePG {10000 / max(keel):.1f}x")

    # Where keel's time goes: Keel's log (time of day, the JVM's local time, ms) set against the
    # script's clock for the first missed check and the decision; the poller for the url.
    log = []
    with open(f"{work}/keel.log", errors="replace") as f:
        for text in f:
            s = KEEL_STAMP.match(text)
            if s:
                h, mi, sec, milli = map(int, s.groups())
                log.append((((h * 60 + mi) * 60 + sec) * 1000 + milli, text.rstrip("\n")))
    phases = {"kill -STOP -> 1st missed check logged": [], "1st miss -> fail_over decision logged": [],
              "decision -> url names the standby": [], "url changed -> first write": []}
    done_after = []
    for r in ok:
        name, t0 = r[4], int(r[5])
        total, t_url = int(r[1]), int(r[2])
        day0 = time_of_day(t0)
        def first(pattern):
            for at, text in log:
                if f"Database {name}: " in text and pattern in text:
                    d = (at - day0) % 86400000
                    if d < 3600000:
                        return d
            return None
        miss, decided, completed = first("missed 1 of"), first("failing over because"), first("failed over:")
        if miss is None or decided is None or decided > t_url:
            continue
        phases["kill -STOP -> 1st missed check logged"].append(miss)
        phases["1st miss -> fail_over decision logged"].append(decided - miss)
        phases["decision -> url names the standby"].append(t_url - decided)
        phases["url changed -> first write"].append(total - t_url)
        if completed is not None:
            done_after.append(completed - decided)
    if any(phases.values()):
        print()
        print(f"keel, where the time goes, p50 (max) ms, {len(phases['url changed -> first write'])} samples"
              f" (Keel's log against the poller's clock):")
        for label, v in phases.items():
            if v:
                print(f"  {label:40s} {pct(v, 50):6.0f} ({max(v):6.0f})")
        if done_after:
            print(f"  (decision -> 'failed over' logged, after followers and the new timeline's backup are started:"
                  f" p50 {pct(done_after, 50):.0f} ms)")
    if floor_rows:
        promote = [int(r[2]) for r in floor_rows]
        write = [int(r[1]) - int(r[2]) for r in floor_rows]
        print("floor, p50 (max) ms:")
        print(f"  {'kill -STOP -> pg_ctl promote -w returned':40s} {pct(promote, 50):6.0f} ({max(promote):6.0f})")
        print(f"  {'-> first write':40s} {pct(write, 50):6.0f} ({max(write):6.0f})")

    print()
    print("samples (ms):")
    for r, f in zip(keel_rows, floor_rows + [None] * len(keel_rows)):
        keel_text = "FAILED (no write through a new url)" if r[1] == "-" else f"keel {r[1]:>6s}"
        kept = "" if r[1] == "-" else (f"   port {r[6]} -> {r[7]}, row written before the stop kept: {'yes' if r[8] == '1' else r[8]},"
                                       f" stopped postmaster gone (fenced): {r[9]}")
        print(f"  {r[0]:4s} {keel_text}   floor {f[1] if f else '-':>5s}{kept}")
        attempts = rows(f"{work}/attempts-{r[0]}.log")
        if attempts:
            print(f"       {len(attempts)} failed write(s) through the new url, from {attempts[0][0]} ms;"
                  f" the first: {' '.join(attempts[0][1:])[:200]}")

    # The monitor's decisions, per sample, oldest first.
    sentence = None
    odd = []
    print("the failover monitor's decisions (GET .../ha, oldest first):")
    for r in keel_rows:
        try:
            with open(f"{work}/ha-{r[0]}.json") as f:
                ha = json.load(f)
        except (OSError, ValueError):
            print(f"  {r[0]}: (no /ha answer)")
            continue
        decisions = list(reversed(ha.get("decisions") or []))
        kinds = [d.get("kind") for d in decisions]
        print(f"  {r[0]}: {', '.join(kinds) or '(none)'}; HA status now: {ha.get('status')}")
        for d in decisions:
            if d.get("kind") == "fail_over" and sentence is None:
                sentence = d.get("sentence")
            if d.get("kind") not in ("watching", "fail_over"):
                odd.append(f"{r[0]}: {d.get('kind')}: {d.get('sentence')}")
        if kinds.count("fail_over") != 1:
            odd.append(f"{r[0]}: {kinds.count('fail_over')} fail_over decisions")
        if r[1] != "-" and r[9] != "yes":
            odd.append(f"{r[0]}: the stopped postmaster (old primary) was still alive 5 s after the failover; continued")
    if sentence:
        print(f"fail_over sentence (first sample): {sentence}")
    for line in odd:
        print(f"  ODD: {line}")



def follower_lag(work, lag, pg_version, lag_sample):
    with open(f"{work}/lag.meta") as f:
        pgbench, version, rate, seconds, elapsed, wal, leader, follower = f.read().strip().split("|")
    done = None
    try:
        with open(f"{work}/pgbench.log") as f:
            text = f.read()
        m = re.search(r"number of transactions actually processed: (\d+)", text)
        done = int(m.group(1)) if m else None
        m = re.search(r"latency average = ([\d.]+) ms", text)
        latency = m.group(1) if m else "?"
    except OSError:
        latency = "?"
    wal = int(wal)
    def num(v):
        try:
            return float(v)
        except ValueError:
            return None
    answered = [r for r in lag if r[1] == "200"]
    failed_gets = [r for r in lag if r[1] != "200"]
    lb = [num(r[2]) for r in answered if num(r[2]) is not None]
    ls = [num(r[3]) for r in answered if num(r[3]) is not None]
    states = {}
    for r in answered:
        states[r[4]] = states.get(r[4], 0) + 1
    print()
    print(f"Follower lag: a standard-0 leader ({leader}) and its standard-0 follower ({follower}), Postgres {pg_version}")
    print(f"  load: {pgbench} ({version}), 1 client, --rate {rate}/s for {seconds} s, one insert of a 512-character row"
          f" per transaction, over verify-full TLS")
    tps = f"{done / (int(elapsed) / 1000):.1f}" if done else "?"
    print(f"  achieved: {done if done is not None else '?'} transactions ({tps}/s), latency average {latency} ms;"
          f" WAL {wal / 1048576:.1f} MiB, {wal / 1024 / (int(elapsed) / 1000):.0f} KiB/s")
    print(f"  GET /v1/databases/{{follower}} every {lag_sample} s during the load: {len(lag)} samples, {len(answered)} answered"
          f" 200; replication: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))
    if failed_gets:
        codes = {}
        for r in failed_gets:
            codes[r[1]] = codes.get(r[1], 0) + 1
        print("  FAILED GETs (left out below): " + ", ".join(f"{v} x HTTP {k}" for k, v in sorted(codes.items()))
              + " (Keel's log says why)")
    if lb:
        print(f"lag_bytes    p50 {pct(lb, 50):9.0f}  p95 {pct(lb, 95):9.0f}  max {max(lb):9.0f}   ({len(answered) - len(lb)} null)")
    if ls:
        print(f"lag_seconds  p50 {pct(ls, 50):9.3f}  p95 {pct(ls, 95):9.3f}  max {max(ls):9.3f}   ({len(answered) - len(ls)} null)")


def keel_errors(work):
    # Keel's ERROR lines, each with the exception line after it, distinct ones counted.
    errors = {}
    with open(f"{work}/keel.log", errors="replace") as f:
        lines = f.read().splitlines()
    for i, text in enumerate(lines):
        if re.match(r"^\d\d:\d\d:\d\d\.\d{3} ERROR ", text):
            what = re.sub(r"^\S+ ERROR\s+", "", text)
            what = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", what)
            if i + 1 < len(lines) and not KEEL_STAMP.match(lines[i + 1]):
                what += " | " + lines[i + 1].strip()
                if i + 2 < len(lines) and lines[i + 2].strip().startswith("at "):
                    what += " " + lines[i + 2].strip()
            errors[what] = errors.get(what, 0) + 1
    if errors:
        print()
        print(f"Keel logged {sum(errors.values())} ERROR line(s):")
        for what, count in errors.items():
            print(f"  {count} x {what[:400]}")



if __name__ == "__main__":
    work, pg_version, target_ms, poll = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    check_interval, misses, probe_timeout, lag_sample, run_s = sys.argv[5:9] + [int(sys.argv[9])]
    keel_rows = rows(f"{work}/keel.samples")
    if keel_rows:
        failovers(work, keel_rows, rows(f"{work}/floor.samples"), pg_version, target_ms, poll, check_interval, misses,
                  probe_timeout)
    lag = rows(f"{work}/lag.samples")
    if lag:
        follower_lag(work, lag, pg_version, lag_sample)
    keel_errors(work)
    print()
    print(f"run took {run_s} s")
