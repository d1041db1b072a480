package dev.keel.metrics;

import io.micronaut.core.annotation.Nullable;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The statistics the collector asks a managed server for, on a session to its {@code postgres}
 * database. Every name is schema-qualified (operators too), every value a bind parameter, so no
 * object a tenant creates is ever resolved.
 */
final class ServerStatsSql {
    private ServerStatsSql() {
    }

    /** One replica streaming from the server: its slot (which names it), and how far behind it replays. */
    record Replica(@Nullable String slot, @Nullable Long lagBytes, @Nullable Double lagSeconds) {
    }

    record Stats(Map<String, Long> connectionsByState, long sizeBytes, long xidAge, @Nullable Instant lastArchivedAt,
                 @Nullable Instant lastFailedAt, List<Replica> replicas) {
    }

    static Stats read(Connection connection, String pgDatabase, boolean primary) throws SQLException {
        Map<String, Long> byState = new LinkedHashMap<>();
        try (PreparedStatement sql = connection.prepareStatement(
                "select coalesce(s.state, 'unknown'), pg_catalog.count(*) from pg_catalog.pg_stat_activity s"
                        + " where s.datname OPERATOR(pg_catalog.=) ? and s.backend_type OPERATOR(pg_catalog.=) 'client backend'"
                        + " group by 1")) {
            sql.setString(1, pgDatabase);
            try (ResultSet rs = sql.executeQuery()) {
                while (rs.next()) {
                    byState.put(rs.getString(1), rs.getLong(2));
                }
            }
        }
        long size;
        long xidAge;
        try (PreparedStatement sql = connection.prepareStatement(
                "select pg_catalog.pg_database_size(d.oid), pg_catalog.age(d.datfrozenxid) from pg_catalog.pg_database d"
                        + " where d.datname OPERATOR(pg_catalog.=) ?")) {
            sql.setString(1, pgDatabase);
            try (ResultSet rs = sql.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("database " + pgDatabase + " is not on its server", "3D000");
                }
                size = rs.getLong(1);
                xidAge = rs.getLong(2);
            }
        }
        Instant archived;
        Instant failed;
        try (PreparedStatement sql = connection.prepareStatement(
                "select a.last_archived_time, a.last_failed_time from pg_catalog.pg_stat_archiver a");
             ResultSet rs = sql.executeQuery()) {
            rs.next();
            archived = instant(rs.getTimestamp(1));
            failed = instant(rs.getTimestamp(2));
        }
        List<Replica> replicas = new ArrayList<>();
        if (primary) {
            try (PreparedStatement sql = connection.prepareStatement(
                    "select sl.slot_name, pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), r.replay_lsn)::pg_catalog.int8,"
                            + " pg_catalog.date_part('epoch', r.replay_lag) from pg_catalog.pg_stat_replication r"
                            + " left join pg_catalog.pg_replication_slots sl on sl.active_pid OPERATOR(pg_catalog.=) r.pid");
                 ResultSet rs = sql.executeQuery()) {
                while (rs.next()) {
                    long bytes = rs.getLong(2);
                    Long lagBytes = rs.wasNull() ? null : bytes;
                    double seconds = rs.getDouble(3);
                    // No replay_lag means nothing was replayed lately: an idle primary's replica has caught up.
                    replicas.add(new Replica(rs.getString(1), lagBytes, rs.wasNull() ? 0.0 : seconds));
                }
            }
        }
        return new Stats(byState, size, xidAge, archived, failed, replicas);
    }

    private static Instant instant(@Nullable Timestamp time) {
        return time == null ? null : time.toInstant();
    }
}
