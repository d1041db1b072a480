"""upgrade.sh's report: the write pause of each upgrade (Keel's figure and the writer's), against an
offline dump and restore of the same data (the anchor).

  upgrade.py N FROM TO SIZE_MB OFFLINE_MS CPUS LOAD "PAUSES" "GAPS" "TOTALS"
"""
import statistics
import sys

from benchlib.core import ratio

n, frm, to, size, offline, cpus, load = sys.argv[1:8]
pauses, gaps, totals = ([float(x) for x in a.split()] for a in sys.argv[8:11])
print("upgrade.sh: %s upgrades %s -> %s of ~%s MB under a writer; %s CPUs, load %s" % (n, frm, to, size, cpus, load))
print("  write pause (Keel)              p50 %6.0f ms   max %6.0f ms   (%s)" % (statistics.median(pauses), max(pauses), " ".join("%.0f" % p for p in pauses)))
print("  longest gap the writer saw      p50 %6.0f ms   max %6.0f ms" % (statistics.median(gaps), max(gaps)))
print("  whole upgrade                   p50 %6.0f ms" % statistics.median(totals))
print("  offline dump + restore (anchor)     %6.0f ms   ratio pause p50 / offline %s"
      % (float(offline), ratio(statistics.median(pauses), float(offline), 3, suffix="")))
