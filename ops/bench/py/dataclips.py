"""dataclips.sh's report: the shared clip's CSV against psql's \\copy (the anchor), the clip's run, and
the stored .json's requests per second against /health.

  dataclips.py KEEL_MS PSQL_MS RUN_MS PSQL_RUN_MS CSV_BYTES SAME JSON_RPS HEALTH_RPS N DURATION CONNECTIONS
"""
import sys

from benchlib.core import ratio

keel, psql, run, psql_run, size, same, json_rps, health_rps, n, duration, connections = sys.argv[1:]
keel, psql, run, psql_run = float(keel), float(psql), float(run), float(psql_run)
print("dataclips.sh: 1,000,000 rows, %.1f MB of CSV; median of %s samples" % (int(size) / 1e6, n))
print("  csv download (stored result)   keel %6.0f ms   psql \\copy %6.0f ms   speed ratio (psql/keel) %s   (target >= 0.8)"
      % (keel, psql, ratio(psql, keel, suffix="")))
print("  same rows as psql               %s" % same)
print("  save and run (read-only role)   keel %6.0f ms   psql \\copy %6.0f ms   ratio %s" % (run, psql_run, ratio(psql_run, run, suffix="")))
try:
    print("  stored .json (100 rows), wrk    %.0f req/s   /health %.0f req/s   ratio %s   (%s s, %s connections)"
          % (float(json_rps), float(health_rps), ratio(float(json_rps), float(health_rps), suffix=""), duration, connections))
except ValueError:
    print("  stored .json (100 rows)         %s" % json_rps)
