package dev.keel.maintenance;

import dev.keel.credentials.Credential;
import dev.keel.credentials.Credentials;
import dev.keel.databases.Database;
import dev.keel.instances.InstanceConfig;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.exception.DataAccessException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * {@code heroku pg:reset}: every object in the database goes (its extensions, every schema with
 * all in it, publications, large objects, settings made on the database), and it is left as Keel
 * provisions it (an empty {@code public} owned by the default credential, statement statistics),
 * with the extensions asked for. Credentials and attachments stay. Each schema goes in its own
 * transaction (a very large one relation by relation), so a reset that stops half way is finished
 * by running it again; the new {@code public} is made in one transaction.
 */
@Singleton
public final class Reset {
    private static final Logger LOG = LoggerFactory.getLogger(Reset.class);
    private static final int LOCK_SECONDS = 30;
    private static final int RELATIONS_PER_TRANSACTION = 500;
    private static final String OUT_OF_SHARED_MEMORY = "53200";
    private static final String LOCK_NOT_AVAILABLE = "55P03";

    private final Servers servers;
    private final Credentials credentials;

    Reset(Servers servers, Credentials credentials) {
        this.servers = servers;
        this.credentials = credentials;
    }

    /** Resets {@code database} and creates {@code extensions} (trusted ones: those its owner could create) in the new {@code public}. */
    public void reset(Database database, List<String> extensions) {
        Servers.requireWritable(database, "reset");
        List<Credential> roles = credentials.list(database.id());
        String owner = roles.stream().filter(c -> c.name().equals(Credential.DEFAULT)).findFirst().map(Credential::username)
                .orElseThrow(() -> new KeelException(ProblemType.CONFLICT, database.name() + " has no default credential yet."));
        if (extensions.stream().anyMatch(Objects::isNull)) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "\"extensions\" is a list of extension names, such as [\"hstore\"];"
                    + " null is not one. Nothing was reset.");
        }
        List<String> wanted = extensions.stream().map(e -> e.strip().toLowerCase(Locale.ROOT)).filter(e -> !e.isEmpty()).distinct().toList();
        try (Connection connection = servers.open(database, database.pgDatabase())) {
            List<String> trusted = MaintenanceSql.trustedExtensions(connection, wanted);
            List<String> refused = wanted.stream().filter(e -> !trusted.contains(e)).toList();
            if (!refused.isEmpty()) {
                throw new KeelException(ProblemType.INVALID_REQUEST, "Keel pre-installs only extensions the database's owner could create"
                        + " itself (trusted ones, such as pgcrypto, hstore, citext or pg_trgm); " + String.join(", ", refused)
                        + (refused.size() == 1 ? " is" : " are") + " not one. Nothing was reset.").with("refused", refused);
            }
            MaintenanceSql.limitLockWaits(connection, LOCK_SECONDS);
            int ended = MaintenanceSql.terminateAllSessions(connection, database.pgDatabase(), InstanceConfig.SUPERUSER);
            for (String extension : MaintenanceSql.extensions(connection)) {
                MaintenanceSql.dropExtension(connection, extension);
            }
            for (String schema : MaintenanceSql.tenantSchemas(connection)) {
                dropSchema(connection, schema);
            }
            MaintenanceSql.dropDatabaseWide(connection, database.pgDatabase(), roles.stream().map(Credential::username).toList());
            connection.setAutoCommit(false);
            MaintenanceSql.recreatePublic(connection, owner);
            for (String extension : trusted) {
                MaintenanceSql.createExtensionAs(connection, owner, extension);
            }
            connection.commit();
            LOG.info("Reset database {}: ended {} sessions, created extensions {}", database.name(), ended, trusted);
        } catch (DataAccessException e) {
            throw failed(database, e.sqlState(), e);
        } catch (SQLException e) {
            throw failed(database, e.getSQLState(), e);
        }
    }

    /** Drops a schema; one whose objects need more locks than a transaction may take goes relation by relation first. */
    private static void dropSchema(Connection connection, String schema) {
        try {
            MaintenanceSql.dropSchema(connection, schema);
        } catch (DataAccessException e) {
            if (!OUT_OF_SHARED_MEMORY.equals(e.sqlState())) {
                throw e;
            }
            List<String> batch;
            while (!(batch = MaintenanceSql.relations(connection, schema, RELATIONS_PER_TRANSACTION)).isEmpty()) {
                inOneTransaction(connection, new ArrayList<>(batch), schema);
            }
            MaintenanceSql.dropSchema(connection, schema);
        }
    }

    private static void inOneTransaction(Connection connection, List<String> relations, String schema) {
        try {
            connection.setAutoCommit(false);
            for (String relation : relations) {
                MaintenanceSql.dropRelation(connection, schema, relation);
            }
            connection.commit();
            connection.setAutoCommit(true);
        } catch (SQLException e) {
            throw new DataAccessException("could not drop relations of schema " + schema, e);
        }
    }

    private static KeelException failed(Database database, String sqlState, Exception cause) {
        if (LOCK_NOT_AVAILABLE.equals(sqlState)) {
            return new KeelException(ProblemType.CONFLICT, "A session held a lock in " + database.name() + " for over "
                    + LOCK_SECONDS + " s, so the reset stopped; run it again to finish it.");
        }
        LOG.error("Could not reset database {}", database.name(), cause);
        return new KeelException(ProblemType.UNAVAILABLE, database.name() + " could not be reset (SQLSTATE " + sqlState
                + "); run the reset again to finish it.");
    }
}
