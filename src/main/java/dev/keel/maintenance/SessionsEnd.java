package dev.keel.maintenance;

import dev.keel.credentials.Credential;
import dev.keel.credentials.Credentials;
import dev.keel.databases.Database;
import org.jooq.exception.DataAccessException;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/**
 * {@code heroku pg:killall}: ends every session of the database's credentials on its server (a
 * follower's on its own). Keel's own sessions (its superuser, replication, dataclip runs) go on.
 */
@Singleton
public final class SessionsEnd {
    private final Servers servers;
    private final Credentials credentials;

    SessionsEnd(Servers servers, Credentials credentials) {
        this.servers = servers;
        this.credentials = credentials;
    }

    /** Returns how many sessions were ended. */
    public int endAll(Database database) {
        List<String> roles = credentials.list(database.credentialsOwner()).stream().map(Credential::username).toList();
        try (Connection connection = servers.open(database, "postgres")) {
            return MaintenanceSql.terminateSessions(connection, database.pgDatabase(), roles);
        } catch (SQLException | DataAccessException e) {
            throw Servers.unavailable(database);
        }
    }
}
