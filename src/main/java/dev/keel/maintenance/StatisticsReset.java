package dev.keel.maintenance;

import dev.keel.databases.Database;
import jakarta.inject.Singleton;
import org.jooq.exception.DataAccessException;

import java.sql.Connection;
import java.sql.SQLException;

/** {@code heroku pg:stats-reset}: the database's statistics and its statement statistics (pg_stat_statements) start again. */
@Singleton
public final class StatisticsReset {
    private final Servers servers;

    StatisticsReset(Servers servers) {
        this.servers = servers;
    }

    public void reset(Database database) {
        try (Connection connection = servers.open(database, database.pgDatabase())) {
            MaintenanceSql.resetDatabaseStatistics(connection);
        } catch (SQLException | DataAccessException e) {
            throw Servers.unavailable(database);
        }
        try (Connection postgres = servers.open(database, "postgres")) {
            MaintenanceSql.resetStatementStatistics(postgres, database.pgDatabase());
        } catch (SQLException | DataAccessException e) {
            throw Servers.unavailable(database);
        }
    }
}
