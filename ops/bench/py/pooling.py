"""pooling.sh's report: pgbench's TPS direct and through the pooler, against direct at 100 clients (the anchor).

  pooling.py DIRECT_500 DIRECT_100 POOLED_100 POOLED_500 DURATION SCALE CPUS LOAD
"""
import sys

from benchlib.core import ratio

d500, d100, p100, p500, duration, scale, cpus, load = sys.argv[1:]
print("pooling.sh: pgbench TPC-B-like, scale %s, %s s a run, TLS; standard-0 (max_connections 120, pool 90); %s CPUs, load %s"
      % (scale, duration, cpus, load))


def tps(v):
    try:
        return "%8.0f tps" % float(v)
    except ValueError:
        return v


print("  direct @500 clients   %s" % tps(d500))
print("  direct @100 clients   %s   (anchor)" % tps(d100))
print("  pooled @100 clients   %s" % tps(p100))
print("  pooled @500 clients   %s" % tps(p500))
try:
    print("  ratio pooled@100/direct@100 %s   pooled@500/direct@100 %s"
          % (ratio(float(p100), float(d100), suffix=""), ratio(float(p500), float(d100), suffix="")))
except ValueError:
    pass
