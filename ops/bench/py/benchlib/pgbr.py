"""pgBackRest through the wrapper lib/servers.sh writes (pgbackrest as the server user, the run's configuration)."""
import json
import subprocess
import time

from benchlib.core import die


def backup(wrapper, log_path):
    """A full backup, its console log (info) kept in log_path. Returns (t0, t1, console output)."""
    t0 = time.time()
    p = subprocess.run([wrapper, "--type=full", "--log-level-console=info", "backup"], capture_output=True, text=True)
    t1 = time.time()
    with open(log_path, "w") as f:
        f.write(p.stdout + p.stderr)
    if p.returncode != 0:
        die(f"pgbackrest backup failed ({p.returncode}): {(p.stdout + p.stderr)[-2000:]}")
    return t0, t1, p.stdout


def latest(wrapper):
    """The newest backup of `pgbackrest info`."""
    info = json.loads(subprocess.run([wrapper, "--output=json", "info"], capture_output=True, text=True, check=True).stdout)
    return info[0]["backup"][-1]
