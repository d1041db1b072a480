package dev.keel.maintenance;

import dev.keel.credentials.Credential;
import dev.keel.credentials.Credentials;
import dev.keel.databases.Database;
import dev.keel.databases.Plans;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import jakarta.inject.Singleton;
import org.jooq.exception.DataAccessException;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;

/**
 * {@code heroku pg:credentials:repair-default}: the default credential owns the database and
 * {@code public} again, what the other credentials own in it becomes its, and it may grant each
 * of them (admin option), as Heroku's repair does. Not on essential plans (one credential only).
 */
@Singleton
public final class DefaultCredentialRepair {
    private final Servers servers;
    private final Credentials credentials;
    private final Plans plans;

    DefaultCredentialRepair(Servers servers, Credentials credentials, Plans plans) {
        this.servers = servers;
        this.credentials = credentials;
        this.plans = plans;
    }

    public void repair(Database database) {
        if (!plans.require(database.plan()).namedCredentials()) {
            throw new KeelException(ProblemType.INVALID_REQUEST, "You can't perform this operation on Essential-tier databases.");
        }
        Servers.requireWritable(database, "repair the default credential of");
        List<Credential> all = credentials.list(database.id());
        String owner = all.stream().filter(c -> c.name().equals(Credential.DEFAULT)).findFirst().map(Credential::username)
                .orElseThrow(() -> new KeelException(ProblemType.CONFLICT, database.name() + " has no default credential yet."));
        List<String> others = all.stream().filter(c -> !c.name().equals(Credential.DEFAULT)).map(Credential::username).toList();
        try (Connection connection = servers.open(database, database.pgDatabase())) {
            connection.setAutoCommit(false);
            MaintenanceSql.repairDefault(connection, database.pgDatabase(), owner, others);
            connection.commit();
        } catch (SQLException | DataAccessException e) {
            throw Servers.unavailable(database);
        }
    }
}
