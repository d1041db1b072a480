package dev.keel.instances;

import dev.keel.RandomStrings;
import dev.keel.credentials.Secrets;
import dev.keel.postgres.ServerFiles;
import dev.keel.postgres.ServerSession;
import dev.keel.postgres.WalSegmentName;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;

import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.REPLICATION_SLOTS;

/**
 * What a downstream server (a follower's primary) needs on its upstream to stream from it: a
 * physical replication slot, so that the upstream keeps the WAL the downstream has not received
 * (up to {@code max_slot_wal_keep_size}), and a login role with the replication attribute only,
 * both of one name. The role's password is kept sealed in the catalog, because the downstream's
 * {@code primary_conninfo} is written again whenever its configuration is.
 */
@Singleton
public final class ReplicationSlots {
    private static final int PASSWORD_LENGTH = 32;
    private static final int DROP_ATTEMPTS = 50;

    private final DSLContext dsl;
    private final Secrets secrets;
    private final InstanceConnections connections;

    ReplicationSlots(DSLContext dsl, Secrets secrets, InstanceConnections connections) {
        this.dsl = dsl;
        this.secrets = secrets;
        this.connections = connections;
    }

    /** The slot (and role) name of a database's HA standby, on its primary. */
    public static String forStandby(UUID databaseId) {
        return "standby_" + databaseId.toString().replace("-", "");
    }

    /** The slot (and role) name of a follower database. */
    public static String forFollower(UUID databaseId) {
        return "follower_" + databaseId.toString().replace("-", "");
    }

    /**
     * The slot on the upstream, made now or earlier: the server settings that make a standby
     * stream from it, and the first WAL segment the slot keeps (everything before it must come
     * from the archive).
     */
    public record Stream(Map<String, String> settings, WalSegmentName firstKept) {
        /** A standby's settings: its own ({@code own}), at least {@code connections}, and these. */
        public Map<String, String> over(Map<String, String> own, int connections) {
            Map<String, String> all = new LinkedHashMap<>(own);
            all.put("max_connections", Integer.toString(connections));
            all.putAll(settings);
            return all;
        }

        @Override
        public String toString() {
            return "Stream[firstKept=" + firstKept + ", settings hidden]";
        }
    }

    /**
     * Makes (or keeps) slot and role {@code name} on {@code upstream} for {@code databaseId}'s
     * server, with a new password; may run again after a crash.
     */
    public Stream ensure(Instance upstream, UUID databaseId, String name) throws SQLException {
        return ensure(upstream, databaseId, name, false);
    }

    /**
     * As {@link #ensure(Instance, UUID, String)}, for a server about to be made from a backup and
     * the archive: a slot the upstream invalidated is made anew rather than kept.
     */
    public Stream ensureForNewServer(Instance upstream, UUID databaseId, String name) throws SQLException {
        return ensure(upstream, databaseId, name, true);
    }

    private Stream ensure(Instance upstream, UUID databaseId, String name, boolean renewLost) throws SQLException {
        String password = RandomStrings.alphanumeric(PASSWORD_LENGTH);
        dsl.insertInto(REPLICATION_SLOTS)
                .set(REPLICATION_SLOTS.NAME, name)
                .set(REPLICATION_SLOTS.DATABASE_ID, databaseId)
                .set(REPLICATION_SLOTS.PASSWORD, secrets.seal(password, context(name)))
                .onConflict(REPLICATION_SLOTS.NAME).doUpdate()
                .set(REPLICATION_SLOTS.PASSWORD, secrets.seal(password, context(name)))
                .execute();
        try (ServerSession session = connections.open(upstream, "postgres")) {
            session.ensureReplicationRole(name, password);
            if (renewLost) {
                session.dropLostSlot(name);
            }
            return new Stream(settings(upstream, name, password), session.ensurePhysicalSlot(name));
        }
    }

    /** The settings that make a standby stream from {@code upstream} through slot {@code name}, as recorded. */
    public Optional<Map<String, String>> settings(Instance upstream, String name) {
        return dsl.select(REPLICATION_SLOTS.PASSWORD).from(REPLICATION_SLOTS).where(REPLICATION_SLOTS.NAME.eq(name))
                .fetchOptional(REPLICATION_SLOTS.PASSWORD)
                .map(sealed -> settings(upstream, name, secrets.open(sealed, context(name))));
    }

    private static Map<String, String> settings(Instance upstream, String name, String password) {
        Map<String, String> settings = new LinkedHashMap<>();
        // verify-full against the installation CA, whose certificate the runtime puts beside the server's own.
        settings.put("primary_conninfo", address(upstream.host()) + " port=" + upstream.port() + " user=" + name
                + " password=" + quote(password) + " application_name=" + name + " sslmode=verify-full sslrootcert="
                + quote(ServerFiles.CA_CERT) + " connect_timeout=5 options=" + quote("-csearch_path=pg_catalog,pg_temp"));
        settings.put("primary_slot_name", name);
        // A reply every second, even while idle, so that the upstream tells a hung receiver from a quiet one within a
        // second or two (the HA monitor's synchronous commit reads its reply_time).
        settings.put("wal_receiver_status_interval", "1s");
        return settings;
    }

    /**
     * Drops slot and role {@code name} on {@code upstream} (ending a walsender still using it) and
     * forgets it; nothing of it need exist.
     */
    public void drop(Instance upstream, String name) throws SQLException {
        try (ServerSession session = connections.open(upstream, "postgres")) {
            for (int attempt = 1; ; attempt++) {
                try {
                    session.dropSlot(name);
                    break;
                } catch (SQLException e) {
                    // "is active for PID": the walsender is still on its way out
                    if (attempt == DROP_ATTEMPTS || !"55006".equals(e.getSQLState())) {
                        throw e;
                    }
                    sleep(100);
                }
            }
            session.dropRoleIfExists(name);
        }
        forget(name);
    }

    /** Forgets slot {@code name} without touching its upstream (which is gone). */
    public void forget(String name) {
        dsl.deleteFrom(REPLICATION_SLOTS).where(REPLICATION_SLOTS.NAME.eq(name)).execute();
    }

    /**
     * Where to connect, as libpq takes it. Before Postgres 15, libpq matches only DNS names of a
     * certificate, never its IP addresses: an upstream reached by IP is named by "localhost",
     * which every instance certificate carries, and reached at {@code hostaddr}.
     */
    private static String address(String host) {
        boolean literal = host.contains(":") || host.matches("[0-9.]+");
        return literal ? "host=localhost hostaddr=" + quote(host) : "host=" + quote(host);
    }

    private static String quote(String value) {
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    private static String context(String name) {
        return "replication-slot:" + name.toLowerCase(Locale.ROOT);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while dropping a replication slot", e);
        }
    }
}
