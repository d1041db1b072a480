package dev.keel.maintenance;

import java.util.List;

/**
 * Every threshold {@code pg:diagnose} grades with, in one table, with where it comes from. A check
 * is yellow from {@code yellow} and red from {@code red} (in {@code unit}); {@code NaN} means the
 * check has no such grade. The heroku/pgdiagnose ones are the values of Heroku's open-source
 * diagnosis service (checks.go, load_checks.go; read in a public fork, github.com/joshrendek/pgdiagnose),
 * which Keel keeps; the others are Keel's, with the reason.
 */
final class DiagnoseThresholds {
    static final String PGDIAGNOSE = "heroku/pgdiagnose";

    /** One row of the table. */
    record Threshold(String check, double yellow, double red, String unit, String source) {
        /** The grade of {@code value}: green below yellow, yellow below red, red from red. */
        String grade(double value) {
            if (!Double.isNaN(red) && value >= red) {
                return "red";
            }
            return !Double.isNaN(yellow) && value >= yellow ? "yellow" : "green";
        }
    }

    private static final double NONE = Double.NaN;
    private static final double MB64 = 64 * 1024 * 1024;
    /** Transaction IDs before wraparound: Postgres compares them modulo 2^32, so half of that is the horizon. */
    static final double XID_HORIZON = Math.pow(2, 31);

    static final Threshold CONNECTIONS = new Threshold("Connection Count", 0.75, 0.90,
            "share of the plan's max_connections in use", PGDIAGNOSE);
    static final Threshold LONG_QUERIES = new Threshold("Long Queries", NONE, 60,
            "seconds a query has been running", PGDIAGNOSE);
    static final Threshold LONG_TRANSACTIONS = new Threshold("Long Transactions", 300, 3600,
            "seconds a transaction has been open", "Keel: an open transaction holds back vacuum for every table; five minutes is"
                    + " long for a web app, an hour keeps bloat growing");
    static final Threshold IDLE_IN_TRANSACTION = new Threshold("Idle in Transaction", NONE, 60,
            "seconds a session has sat idle inside a transaction", PGDIAGNOSE + " (it counts from the query's start; Keel from the"
                    + " session going idle)");
    static final Threshold INDEX_SIZE = new Threshold("Indexes", 0, NONE,
            "indexes of over 64 MB on tables of over 64 MB never used or seldom used (the query's rules); any is yellow", PGDIAGNOSE);
    static final double INDEX_MIN_BYTES = MB64;
    static final double INDEX_LARGE_BYTES = 100_000_000;
    static final Threshold BLOAT = new Threshold("Bloat", NONE, 10,
            "times the expected size, for tables and indexes wasting over 64 MB; any is red", PGDIAGNOSE);
    static final double BLOAT_MIN_WASTE_BYTES = MB64;
    static final Threshold HIT_RATE = new Threshold("Hit Rate", NONE, 0.99,
            "cache hit rate (overall), or share of index scans (tables over 64 MB), below which it is red", PGDIAGNOSE);
    static final double HIT_RATE_MIN_TABLE_BYTES = MB64;
    static final Threshold BLOCKING = new Threshold("Blocking Queries", NONE, 1,
            "sessions waiting for a lock another session holds", PGDIAGNOSE);
    static final Threshold SEQUENCES = new Threshold("Sequences", 75, 90,
            "percent of a sequence's range used (bounded by its owning integer column)", "Keel: room to change the column to bigint"
                    + " before inserts fail");
    static final Threshold UNLOGGED = new Threshold("Unlogged Tables", 1, NONE,
            "unlogged tables: emptied by a crash, absent on followers and the HA standby, and after a failover or restore",
            "Keel, after PostgreSQL's CREATE UNLOGGED TABLE documentation");
    static final Threshold TABLE_WRAPAROUND = new Threshold("Table Transaction ID Wraparound", 0.5 * XID_HORIZON, 0.75 * XID_HORIZON,
            "transactions since a table was last frozen (wraparound at 2^31)", "Keel, after PostgreSQL's routine vacuuming"
                    + " documentation (autovacuum freezes from 200 million; Postgres refuses writes near 2^31)");
    static final Threshold DATABASE_WRAPAROUND = new Threshold("Database Transaction ID Wraparound", 0.5 * XID_HORIZON, 0.75 * XID_HORIZON,
            "transactions since the database was last frozen (wraparound at 2^31)", TABLE_WRAPAROUND.source());
    static final Threshold SCHEMA_COUNT = new Threshold("Schema Count", 50, 200,
            "schemas in the database", "Keel: catalog size, dumps and restores slow down with many schemas");
    static final Threshold LOAD = new Threshold("Load", 1, 2,
            "1-minute load average of the host per CPU", PGDIAGNOSE + " (it grades a dedicated server's load average; Keel's servers"
                    + " share their host, so per CPU)");

    /** The table, in report order. */
    static final List<Threshold> ALL = List.of(CONNECTIONS, LONG_QUERIES, LONG_TRANSACTIONS, IDLE_IN_TRANSACTION, INDEX_SIZE, BLOAT,
            HIT_RATE, BLOCKING, SEQUENCES, UNLOGGED, TABLE_WRAPAROUND, DATABASE_WRAPAROUND, SCHEMA_COUNT, LOAD);

    private DiagnoseThresholds() {
    }
}
