package dev.keel.dataclips;

import dev.keel.postgres.ServerSession;
import dev.keel.credentials.RandomStrings;
import dev.keel.credentials.Secrets;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.DATACLIP_ROLES;

/**
 * The read-only role dataclips of a database run as, made once per database on its writable
 * primary (a follower's is its leader's, and reaches the follower by replication).
 */
@Singleton
final class DataclipRoles {
    private static final Logger LOG = LoggerFactory.getLogger(DataclipRoles.class);

    /** A role's login. */
    record Login(String username, String password) {
    }

    private final DSLContext dsl;
    private final Secrets secrets;
    private final DatabaseLookup databases;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final int maxTimeoutSeconds;
    private final int maxConnections;

    DataclipRoles(DSLContext dsl, Secrets secrets, DatabaseLookup databases, InstanceRepository instances, InstanceConnections connections,
                  @Value("${keel.dataclips.max-timeout}") java.time.Duration maxTimeout, @Value("${keel.dataclips.runners}") int runners) {
        this.dsl = dsl;
        this.secrets = secrets;
        this.databases = databases;
        this.instances = instances;
        this.connections = connections;
        this.maxTimeoutSeconds = (int) maxTimeout.toSeconds();
        this.maxConnections = runners + 1;
    }

    /** The login of {@code database}'s dataclip role, made now on its (or its leader's) primary if it has none. */
    synchronized Login loginFor(Database database) {
        Database home = database.following() ? databases.find(database.leaderId()).orElse(database) : database;
        var row = dsl.selectFrom(DATACLIP_ROLES).where(DATACLIP_ROLES.DATABASE_ID.eq(home.id())).fetchOptional();
        if (row.isPresent()) {
            return new Login(row.get().getUsername(), secrets.open(row.get().getPassword(), context(home.id())));
        }
        Instance primary = instances.primary(home.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                "Database " + home.name() + " has no running primary; wait until it is available."));
        String username = "dataclips_" + RandomStrings.lowerAlphanumeric(10);
        String password = RandomStrings.alphanumeric(48);
        try (ServerSession superuser = connections.open(primary, home.pgDatabase())) {
            superuser.createDataclipRole(username, password, home.pgDatabase(), maxTimeoutSeconds, maxConnections);
        } catch (SQLException e) {
            throw new IllegalStateException("could not create the dataclip role on database " + home.id() + ": " + e.getMessage(), e);
        }
        dsl.insertInto(DATACLIP_ROLES)
                .set(DATACLIP_ROLES.DATABASE_ID, home.id())
                .set(DATACLIP_ROLES.USERNAME, username)
                .set(DATACLIP_ROLES.PASSWORD, secrets.seal(password, context(home.id())))
                .execute();
        LOG.info("Created the dataclip role {} on database {}", username, home.id());
        return new Login(username, password);
    }

    private static String context(UUID databaseId) {
        return "dataclip-role:" + databaseId;
    }
}
