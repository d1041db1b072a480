package dev.keel.dataclips;

import dev.keel.RandomStrings;
import dev.keel.credentials.Secrets;
import dev.keel.databases.Database;
import dev.keel.databases.DatabaseLookup;
import dev.keel.instances.Instance;
import dev.keel.instances.InstanceConnections;
import dev.keel.instances.InstanceRepository;
import dev.keel.postgres.ServerSession;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.SQLException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import static dev.keel.catalog.schema.Tables.DATACLIP_ROLES;

/**
 * The read-only role dataclips of a database run as, made once per database on its writable
 * primary (a follower's is its leader's, and reaches the follower by replication), and reshaped
 * there before a run when Keel would make it otherwise now (see {@link ServerSession.DataclipShape}): a role
 * made before this version, a member of pg_read_all_data, loses that at its next run.
 */
@Singleton
final class DataclipRoles {
    private static final Logger LOG = LoggerFactory.getLogger(DataclipRoles.class);
    private static final Pattern MEMORY = Pattern.compile("[0-9]+(kB|MB|GB|TB)?");

    /** A role's login. */
    record Login(String username, String password) {
    }

    private final DSLContext dsl;
    private final Secrets secrets;
    private final DatabaseLookup databases;
    private final InstanceRepository instances;
    private final InstanceConnections connections;
    private final ServerSession.DataclipShape shape;
    /** One making or reshaping at a time per database; other databases' runs do not wait for it. */
    private final Map<UUID, Object> locks = new ConcurrentHashMap<>();

    DataclipRoles(DSLContext dsl, Secrets secrets, DatabaseLookup databases, InstanceRepository instances, InstanceConnections connections,
                  @Value("${keel.dataclips.max-timeout}") Duration maxTimeout, @Value("${keel.dataclips.runners}") int runners,
                  @Value("${keel.dataclips.temp-file-limit}") String tempFileLimit, @Value("${keel.dataclips.work-mem}") String workMem) {
        this.dsl = dsl;
        this.secrets = secrets;
        this.databases = databases;
        this.instances = instances;
        this.connections = connections;
        for (String[] setting : new String[][] {{"keel.dataclips.temp-file-limit", tempFileLimit}, {"keel.dataclips.work-mem", workMem}}) {
            if (!MEMORY.matcher(setting[1]).matches()) {
                throw new IllegalArgumentException(setting[0] + " is a Postgres memory setting such as 1GB or 16MB, not '" + setting[1] + "'");
            }
        }
        this.shape = new ServerSession.DataclipShape((int) maxTimeout.toSeconds(), runners + 1, tempFileLimit, workMem);
    }

    /**
     * The login of {@code database}'s dataclip role, made now on its (or its leader's) primary if
     * it has none, and given the current shape there first if it was made otherwise.
     */
    Login loginFor(Database database) {
        Database home = database.following() ? databases.find(database.leaderId()).orElse(database) : database;
        synchronized (locks.computeIfAbsent(home.id(), id -> new Object())) {
            var row = dsl.selectFrom(DATACLIP_ROLES).where(DATACLIP_ROLES.DATABASE_ID.eq(home.id())).fetchOptional();
            if (row.isPresent()) {
                String username = row.get().getUsername();
                if (!shape.fingerprint().equals(row.get().getShape())) {
                    onPrimary(home, superuser -> superuser.reshapeDataclipRole(username, home.pgDatabase(), shape), "reshape");
                    dsl.update(DATACLIP_ROLES).set(DATACLIP_ROLES.SHAPE, shape.fingerprint())
                            .where(DATACLIP_ROLES.DATABASE_ID.eq(home.id())).execute();
                    LOG.info("Reshaped the dataclip role {} on database {} ({}, was {})", username, home.id(), shape.fingerprint(),
                            row.get().getShape());
                }
                return new Login(username, secrets.open(row.get().getPassword(), context(home.id())));
            }
            String username = "dataclips_" + RandomStrings.lowerAlphanumeric(10);
            String password = RandomStrings.alphanumeric(48);
            onPrimary(home, superuser -> superuser.createDataclipRole(username, password, home.pgDatabase(), shape), "create");
            dsl.insertInto(DATACLIP_ROLES)
                    .set(DATACLIP_ROLES.DATABASE_ID, home.id())
                    .set(DATACLIP_ROLES.USERNAME, username)
                    .set(DATACLIP_ROLES.PASSWORD, secrets.seal(password, context(home.id())))
                    .set(DATACLIP_ROLES.SHAPE, shape.fingerprint())
                    .execute();
            LOG.info("Created the dataclip role {} on database {}", username, home.id());
            return new Login(username, password);
        }
    }

    private interface SuperuserWork {
        void run(ServerSession superuser) throws SQLException;
    }

    private void onPrimary(Database home, SuperuserWork work, String what) {
        Instance primary = instances.primary(home.id()).orElseThrow(() -> new KeelException(ProblemType.NOT_AVAILABLE,
                "Database " + home.name() + " has no running primary; wait until it is available."));
        try (ServerSession superuser = connections.open(primary, home.pgDatabase())) {
            work.run(superuser);
        } catch (SQLException e) {
            LOG.warn("Could not {} the dataclip role on database {}", what, home.id(), e);
            throw new KeelException(ProblemType.UNAVAILABLE, "Keel could not " + what + " the dataclip role on the database's primary ("
                    + e.getMessage() + "); try again once the database is available.", e);
        }
    }

    private static String context(UUID databaseId) {
        return "dataclip-role:" + databaseId;
    }
}
