"""Logging, percentiles, ratios, the run's results directory, the machine, Keel's log times."""
import json
import os
import re
import sys
import time

NAME = os.environ.get("BENCH_NAME") or os.path.basename(sys.argv[0])
WORK = os.environ.get("BENCH_WORK", "")
RESULTS = os.path.join(WORK, "results")
MB = 1024 * 1024


def log(msg):
    print(f"{NAME}: {msg}", file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


def lsn(text):
    hi, lo = text.strip().split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def pct(values, p):
    """Linear interpolation between closest ranks (numpy's default); nan for no values."""
    v = sorted(values)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def ratio(k, p, digits=2, suffix="x"):
    """k / p as '1.23x' (every ratio a report prints against its anchor); '-' where either is missing
    (None or nan), or p is 0 and k too; 'inf' for k / 0."""
    if k is None or p is None or k != k or p != p:
        return "-"
    if p == 0:
        return "-" if k == 0 else "inf"
    return f"{k / p:.{digits}f}{suffix}"


def save(name, data):
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump(data, f, indent=1)


def load_result(name):
    path = os.path.join(RESULTS, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def machine():
    """cpus, cpu_model, started: what every report's header says about the run."""
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return dict(cpus=os.cpu_count(), cpu_model=model, started=time.strftime("%Y-%m-%d %H:%M:%S %Z"))


# Keel's log lines start with the time of day, the JVM's local time, to the millisecond.
KEEL_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) ")
DAY_MS = 86400000


def time_of_day(epoch_ms):
    """The local time of day of an epoch time, in ms, to set Keel's log against the script's clock."""
    t = time.localtime(epoch_ms // 1000)
    return ((t.tm_hour * 60 + t.tm_min) * 60 + t.tm_sec) * 1000 + epoch_ms % 1000


def stamp_ms(match):
    h, mi, sec, ms = map(int, match.groups()[:4])
    return ((h * 60 + mi) * 60 + sec) * 1000 + ms


def clean(values):
    """The values that are numbers (not None, not nan)."""
    return [x for x in values if x is not None and x == x]


def mean(values):
    v = clean(values)
    return sum(v) / len(v) if v else None


def fmt(v, d=1):
    return "-" if v is None or v != v else f"{v:.{d}f}"


def utc(epoch, fmt):
    return time.strftime(fmt, time.gmtime(epoch))


def rfc3339(epoch):          # Keel's "to"
    return utc(epoch, "%Y-%m-%dT%H:%M:%SZ")


def pg_time(epoch):          # pgBackRest's --target (and Postgres' recovery_target_time)
    return utc(epoch, "%Y-%m-%d %H:%M:%S+00")


def rows(path):
    """The whitespace-separated fields of each non-empty line of a file ([] when it does not exist)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [line.split() for line in f if line.strip()]


def run(commands):
    """Calls commands[argv[1]] with the other arguments; a command given "--" gets what follows it as one list."""
    command, args = sys.argv[1], sys.argv[2:]
    if command not in commands:
        die(f"unknown command {command}")
    if "--" in args:
        sep = args.index("--")
        args = args[:sep] + [args[sep + 1:]]
    commands[command](*args)
