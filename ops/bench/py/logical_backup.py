"""logical-backup.sh's report: Keel's capture against pg_dump -Fc by hand (the floor), in MB/s of the database.

  logical_backup.py KEEL_MS FLOOR_MS DB_BYTES DUMP_BYTES N CPUS LOAD
"""
import sys

from benchlib.core import ratio

keel, floor, db, dump, n, cpus, load = sys.argv[1:]
keel, floor, db, dump = float(keel), float(floor), int(db), int(dump)
print("logical-backup.sh: database %.0f MB, dump %.0f MB; median of %s samples; %s CPUs, load %s" % (db / 1e6, dump / 1e6, n, cpus, load))
print("  keel capture (pg_dump -Fc -> sha256 -> S3)   %7.0f ms   %6.1f MB/s of the database" % (keel, db / 1e3 / keel))
print("  pg_dump -Fc by hand -> /dev/null (floor)     %7.0f ms   %6.1f MB/s" % (floor, db / 1e3 / floor))
print("  throughput ratio keel/floor                  %s" % ratio(floor, keel, suffix=""))
