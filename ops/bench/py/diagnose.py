"""diagnose.sh's report: POST /reports on many tables against the same on none (the anchor), and the CLI.

  diagnose.py API_MS EMPTY_MS CLI_MS|- TABLES N LOAD CPUS
"""
import sys

from benchlib.core import ratio

api, empty, cli, count, n, load, cpus = sys.argv[1:]
api, empty = float(api), float(empty)
print("diagnose.sh: pg:diagnose on a database of %s tables; median of %s samples; load average %s on %s CPUs" % (count, n, load, cpus))
print("  POST /reports, %s tables   %6.0f ms" % (count, api))
print("  POST /reports, empty        %6.0f ms   (anchor)   ratio %s" % (empty, ratio(api, empty, suffix="")))
print("  heroku pg:diagnose (CLI)    %s" % ("%6.0f ms" % float(cli) if cli != "-" else "(heroku CLI not installed)"))
