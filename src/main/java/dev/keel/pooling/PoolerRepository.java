package dev.keel.pooling;

import dev.keel.credentials.Secrets;
import dev.keel.postgres.PortRange;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.exception.IntegrityConstraintViolationException;

import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.POOLERS;

/**
 * Pooler rows: a database's PgBouncer, its port (unique on its host, so two poolers never take one
 * port: a lost race retries with the next) and its two sealed passwords.
 */
@Singleton
final class PoolerRepository {
    private static final int ATTEMPTS = 5;

    private final DSLContext dsl;
    private final Secrets secrets;

    PoolerRepository(DSLContext dsl, Secrets secrets) {
        this.dsl = dsl;
        this.secrets = secrets;
    }

    Optional<Pooler> find(UUID database) {
        return dsl.selectFrom(POOLERS).where(POOLERS.DATABASE_ID.eq(database)).fetchOptional(PoolerRepository::toPooler);
    }

    List<Pooler> all() {
        return dsl.selectFrom(POOLERS).fetch(PoolerRepository::toPooler);
    }

    /**
     * Records a pooler of {@code database} on {@code host} at the lowest free port of {@code ports}
     * that {@code bind} can listen on (any free one when {@code bind} is null: the host is another
     * node's, which checks as it starts it).
     */
    Pooler create(UUID database, String host, PortRange ports, @Nullable String bind, String authPassword, String adminPassword) {
        for (int attempt = 1; ; attempt++) {
            OptionalInt port = freePort(host, ports, bind);
            try {
                dsl.insertInto(POOLERS)
                        .set(POOLERS.DATABASE_ID, database)
                        .set(POOLERS.HOST, host)
                        .set(POOLERS.PORT, port.getAsInt())
                        .set(POOLERS.AUTH_PASSWORD, secrets.seal(authPassword, context("auth", database)))
                        .set(POOLERS.ADMIN_PASSWORD, secrets.seal(adminPassword, context("admin", database)))
                        .execute();
                return new Pooler(database, host, port.getAsInt());
            } catch (IntegrityConstraintViolationException e) {
                Optional<Pooler> made = find(database);
                if (made.isPresent()) {
                    return made.get(); // another request made it meanwhile
                }
                if (attempt == ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    /**
     * Moves the pooler of {@code database} to {@code host} (its primary moved to another node): its
     * port there is the one it had when free, else the lowest free one {@code bind} can listen on.
     */
    Pooler move(UUID database, String host, PortRange ports, String bind) {
        for (int attempt = 1; ; attempt++) {
            Pooler was = find(database).orElseThrow();
            Set<Integer> taken = taken(host);
            int port = !taken.contains(was.port()) && ports.contains(was.port()) && PortRange.bindable(bind, was.port()) ? was.port()
                    : freePort(host, ports, bind).getAsInt();
            try {
                dsl.update(POOLERS).set(POOLERS.HOST, host).set(POOLERS.PORT, port).where(POOLERS.DATABASE_ID.eq(database)).execute();
                return new Pooler(database, host, port);
            } catch (IntegrityConstraintViolationException e) {
                if (attempt == ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    private Set<Integer> taken(String host) {
        return new HashSet<>(dsl.select(POOLERS.PORT).from(POOLERS).where(POOLERS.HOST.eq(host)).fetch(POOLERS.PORT));
    }

    private OptionalInt freePort(String host, PortRange ports, @Nullable String bind) {
        OptionalInt port = ports.firstFree(taken(host), p -> bind == null || PortRange.bindable(bind, p));
        if (port.isEmpty()) {
            throw new KeelException(ProblemType.UNAVAILABLE, "No free port is left in the pooler port range " + ports + " on " + host
                    + "; widen KEEL_POOLING_PORTS or detach unused poolers.");
        }
        return port;
    }

    String authPassword(Pooler pooler) {
        return secrets.open(dsl.select(POOLERS.AUTH_PASSWORD).from(POOLERS).where(POOLERS.DATABASE_ID.eq(pooler.databaseId()))
                .fetchSingle(POOLERS.AUTH_PASSWORD), context("auth", pooler.databaseId()));
    }

    String adminPassword(Pooler pooler) {
        return secrets.open(dsl.select(POOLERS.ADMIN_PASSWORD).from(POOLERS).where(POOLERS.DATABASE_ID.eq(pooler.databaseId()))
                .fetchSingle(POOLERS.ADMIN_PASSWORD), context("admin", pooler.databaseId()));
    }

    void delete(UUID database) {
        dsl.deleteFrom(POOLERS).where(POOLERS.DATABASE_ID.eq(database)).execute();
    }

    private static Pooler toPooler(Record r) {
        return new Pooler(r.get(POOLERS.DATABASE_ID), r.get(POOLERS.HOST), r.get(POOLERS.PORT));
    }

    private static String context(String which, UUID database) {
        return "pooler-" + which + ":" + database;
    }
}
