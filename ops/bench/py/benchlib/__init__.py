"""What the benchmarks' Python shares: see core (logging, percentiles, results), pg (psql, settings,
data directories), keel (Keel's API, backups), pgbr (pgBackRest), cpu (cgroups and /proc)."""
