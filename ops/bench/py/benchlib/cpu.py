"""CPU seconds: of cpuacct cgroups (v1; a component and every child it ever had), of a process and
its reaped children (/proc/PID/stat), and of a process's threads by name (/proc/PID/task)."""
import os

CG = os.environ.get("BENCH_CG", "")
TICK = os.sysconf("SC_CLK_TCK")


def cgroups(groups):
    """{group: CPU seconds so far} of this run's cgroups (none without cgroups)."""
    snap = {}
    if CG:
        for g in groups:
            try:
                with open(f"{CG}/{g}/cpuacct.usage") as f:
                    snap[g] = int(f.read()) / 1e9
            except OSError:
                pass
    return snap


def stat(pid, task=None):
    """(comm, ppid, utime + stime, cutime + cstime) in seconds, or None when it is gone."""
    path = f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat"
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    try:
        return comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, (int(fields[13]) + int(fields[14])) / TICK
    except (IndexError, ValueError):
        return None


def process(pid):
    """CPU seconds of a process (all its threads), or None."""
    s = stat(pid)
    return s[2] if s else None


def threads(pid):
    """{thread id: (name, CPU seconds)} of a process's threads (names as the kernel keeps them: 15 characters)."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        s = stat(pid, tid)
        if s:
            out[tid] = (s[0], s[2])
    return out


def children(pid):
    """{pid: command line} of a process's children."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = stat(entry)
            if s and s[1] == int(pid):
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        out[int(entry)] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                except OSError:
                    pass
    return out
