package dev.keel.instances;

import dev.keel.Network;
import dev.keel.catalog.AdvisoryLock;
import dev.keel.catalog.InstallationIdentity;
import dev.keel.credentials.Secrets;
import dev.keel.nodes.ThisNode;
import dev.keel.postgres.PortRange;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.context.annotation.Value;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Record;
import org.jooq.impl.DSL;

import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.UUID;

import static dev.keel.catalog.schema.Tables.INSTANCES;

/**
 * Instance rows. {@link #reserve} writes the row (and so reserves the port) before anything is
 * made, so that every crash leaves a record of what to clean up.
 */
@Singleton
public final class InstanceRepository {

    private final DSLContext dsl;
    private final Secrets secrets;
    private final PortRange ports;
    private final String listenAddress;
    private final ThisNode node;

    InstanceRepository(DSLContext dsl, Secrets secrets, Network network, ThisNode node, @Value("${keel.instances.ports}") String ports) {
        this.dsl = dsl;
        this.node = node;
        this.secrets = secrets;
        this.ports = PortRange.parse(ports);
        this.listenAddress = network.bind().equals("*") ? "0.0.0.0" : network.bind();
    }

    /**
     * Reserves the lowest free port on {@code host} and records a new instance in state
     * {@code creating}, for {@code databaseId} or (null) for the warm pool, hosted by this node.
     */
    public Instance reserve(@Nullable UUID databaseId, InstanceRole role, int major, String host, String superuserPassword) {
        UUID id = UUID.randomUUID();
        return dsl.transactionResult(tx -> {
            DSLContext sql = tx.dsl();
            AdvisoryLock.INSTANCE_PORTS.acquire(sql);
            Set<Integer> reserved = new HashSet<>(sql.select(INSTANCES.PORT).from(INSTANCES).where(INSTANCES.HOST.eq(host)).fetch(INSTANCES.PORT));
            // Tested where the server will listen: with a wildcard bind, a port taken on any interface is taken.
            OptionalInt port = ports.firstFree(reserved, p -> PortRange.bindable(listenAddress, p));
            if (port.isEmpty()) {
                throw new KeelException(ProblemType.NO_CAPACITY, "No free port is left in the instance port range " + ports
                        + " on " + host + "; widen KEEL_INSTANCES_PORTS or delete unused databases.");
            }
            sql.insertInto(INSTANCES)
                    .set(INSTANCES.ID, id)
                    .set(INSTANCES.DATABASE_ID, databaseId)
                    .set(INSTANCES.ROLE, role.value())
                    .set(INSTANCES.STATE, InstanceState.CREATING.value())
                    .set(INSTANCES.MAJOR_VERSION, major)
                    .set(INSTANCES.HOST, host)
                    .set(INSTANCES.PORT, port.getAsInt())
                    .set(INSTANCES.NODE, node.name())
                    .set(INSTANCES.SUPERUSER_PASSWORD, secrets.seal(superuserPassword, context(id)))
                    .execute();
            return new Instance(id, databaseId, role, InstanceState.CREATING, major, host, port.getAsInt(), node.name());
        });
    }

    /**
     * Hands this node's oldest pooled instance of {@code major} to {@code databaseId} (state
     * {@code creating}); empty when the pool has none. Concurrent claims get different instances.
     */
    public Optional<Instance> claimPooled(UUID databaseId, int major) {
        return dsl.transactionResult(tx -> tx.dsl().update(INSTANCES)
                .set(INSTANCES.DATABASE_ID, databaseId)
                .set(INSTANCES.STATE, InstanceState.CREATING.value())
                .set(INSTANCES.UPDATED_AT, DSL.currentOffsetDateTime())
                .where(INSTANCES.ID.eq(DSL.field(tx.dsl().select(INSTANCES.ID).from(INSTANCES)
                        .where(INSTANCES.DATABASE_ID.isNull())
                        .and(INSTANCES.NODE.eq(node.name()))
                        .and(INSTANCES.STATE.eq(InstanceState.POOLED.value()))
                        .and(INSTANCES.MAJOR_VERSION.eq(major))
                        .orderBy(INSTANCES.CREATED_AT)
                        .limit(1)
                        .forUpdate()
                        .skipLocked())))
                .returning()
                .fetchOptional(InstanceRepository::toInstance));
    }

    /** Ports of the instance range that no instance on {@code host} has reserved, read in transaction {@code tx}. */
    int unreservedPorts(DSLContext tx, String host) {
        return Math.max(0, ports.size() - tx.fetchCount(INSTANCES, INSTANCES.HOST.eq(host)));
    }

    public PortRange portRange() {
        return ports;
    }

    /** Pooled instances of {@code major} on this node ready to be claimed, read in transaction {@code tx}. */
    int pooled(DSLContext tx, int major) {
        return tx.fetchCount(INSTANCES, INSTANCES.DATABASE_ID.isNull().and(INSTANCES.NODE.eq(node.name())).and(INSTANCES.MAJOR_VERSION.eq(major))
                .and(INSTANCES.STATE.eq(InstanceState.POOLED.value())));
    }

    /** Instances of {@code major} on this node that belong to no database: pooled, or being made for the pool. */
    public int poolSize(int major) {
        return dsl.fetchCount(INSTANCES, INSTANCES.DATABASE_ID.isNull().and(INSTANCES.NODE.eq(node.name())).and(INSTANCES.MAJOR_VERSION.eq(major))
                .and(INSTANCES.STATE.in(InstanceState.CREATING.value(), InstanceState.POOLED.value())));
    }

    public String superuserPassword(Instance instance) {
        byte[] sealed = dsl.select(INSTANCES.SUPERUSER_PASSWORD).from(INSTANCES).where(INSTANCES.ID.eq(instance.id()))
                .fetchOptional(INSTANCES.SUPERUSER_PASSWORD)
                .orElseThrow(() -> new IllegalStateException("instance " + instance.id() + " has no catalog row"));
        return secrets.open(sealed, context(instance.id()));
    }

    public void replaceSuperuserPassword(Instance instance, String password) {
        dsl.update(INSTANCES)
                .set(INSTANCES.SUPERUSER_PASSWORD, secrets.seal(password, context(instance.id())))
                .set(INSTANCES.UPDATED_AT, DSL.currentOffsetDateTime())
                .where(INSTANCES.ID.eq(instance.id()))
                .execute();
    }

    /** Moves an instance to {@code target}, checked against {@link InstanceState} under a row lock. */
    public Instance transition(UUID id, InstanceState target) {
        return transitionIfPresent(id, target).orElseThrow(() -> new IllegalStateException("instance " + id + " has no catalog row"));
    }

    /** As {@link #transition}; empty when the instance's row is gone (another actor removed it meanwhile). */
    public Optional<Instance> transitionIfPresent(UUID id, InstanceState target) {
        return dsl.transactionResult(tx -> {
            var found = tx.dsl().selectFrom(INSTANCES).where(INSTANCES.ID.eq(id)).forUpdate().fetchOptional();
            if (found.isEmpty()) {
                return Optional.empty();
            }
            Record row = found.get();
            InstanceState current = InstanceState.of(row.get(INSTANCES.STATE));
            if (current == target) {
                return Optional.of(toInstance(row));
            }
            if (!current.canBecome(target)) {
                throw new IllegalStateException("instance " + id + " cannot go from " + current.value() + " to " + target.value());
            }
            tx.dsl().update(INSTANCES)
                    .set(INSTANCES.STATE, target.value())
                    .set(INSTANCES.UPDATED_AT, DSL.currentOffsetDateTime())
                    .where(INSTANCES.ID.eq(id))
                    .execute();
            return Optional.of(toInstance(tx.dsl().selectFrom(INSTANCES).where(INSTANCES.ID.eq(id)).fetchSingle()));
        });
    }

    public List<Instance> forDatabase(UUID databaseId) {
        return dsl.selectFrom(INSTANCES).where(INSTANCES.DATABASE_ID.eq(databaseId)).orderBy(INSTANCES.CREATED_AT)
                .fetch(InstanceRepository::toInstance);
    }

    /** The database's primary: the one instance of that role that is neither fenced nor being deleted. */
    public Optional<Instance> primary(UUID databaseId) {
        return live(databaseId, InstanceRole.PRIMARY);
    }

    /** The database's new server while a major-version upgrade fills it, if one does. */
    public Optional<Instance> upgrading(UUID databaseId) {
        return live(databaseId, InstanceRole.UPGRADE);
    }

    /** The database's HA standby, if it has one (being made or running). */
    public Optional<Instance> standby(UUID databaseId) {
        return live(databaseId, InstanceRole.STANDBY);
    }

    private Optional<Instance> live(UUID databaseId, InstanceRole role) {
        return dsl.selectFrom(INSTANCES)
                .where(INSTANCES.DATABASE_ID.eq(databaseId))
                .and(INSTANCES.ROLE.eq(role.value()))
                .and(INSTANCES.STATE.notIn(InstanceState.DELETING.value(), InstanceState.FENCED.value()))
                .orderBy(INSTANCES.CREATED_AT.desc())
                .limit(1)
                .fetchOptional(InstanceRepository::toInstance);
    }

    /**
     * Makes a promoted standby its database's primary (its old primary fenced before); from here
     * on the database's URL names this instance's port.
     */
    public Instance makePrimary(UUID standby) {
        return dsl.update(INSTANCES).set(INSTANCES.ROLE, InstanceRole.PRIMARY.value())
                .set(INSTANCES.UPDATED_AT, DSL.currentOffsetDateTime())
                .where(INSTANCES.ID.eq(standby)).returning().fetchSingle(InstanceRepository::toInstance);
    }

    /** The database's fenced primaries, oldest first: those a failover or a forgotten node left. */
    public List<Instance> fencedPrimaries(UUID databaseId) {
        return dsl.selectFrom(INSTANCES).where(INSTANCES.DATABASE_ID.eq(databaseId)).and(INSTANCES.ROLE.eq(InstanceRole.PRIMARY.value()))
                .and(INSTANCES.STATE.eq(InstanceState.FENCED.value())).orderBy(INSTANCES.CREATED_AT)
                .fetch(InstanceRepository::toInstance);
    }

    /** The database's instance fenced last (by a failover, which fences its old primary), if it has one. */
    public Optional<UUID> fencedLast(UUID databaseId) {
        return dsl.select(INSTANCES.ID).from(INSTANCES).where(INSTANCES.DATABASE_ID.eq(databaseId))
                .and(INSTANCES.STATE.eq(InstanceState.FENCED.value())).orderBy(INSTANCES.UPDATED_AT.desc()).limit(1)
                .fetchOptional(INSTANCES.ID);
    }

    /** Whether the database has a fenced instance: an old primary a failover left. */
    public boolean hasFenced(UUID databaseId) {
        return dsl.fetchExists(INSTANCES, INSTANCES.DATABASE_ID.eq(databaseId).and(INSTANCES.STATE.eq(InstanceState.FENCED.value())));
    }

    public List<Instance> all() {
        return dsl.selectFrom(INSTANCES).fetch(InstanceRepository::toInstance);
    }

    /**
     * Every instance's id, read on the same connection as a check that the catalog is still this
     * data directory's ({@link InstallationIdentity#matches}); empty when it is not.
     */
    public Optional<Set<UUID>> allIds(InstallationIdentity identity) {
        return dsl.transactionResult(tx -> identity.matches(tx.dsl())
                ? Optional.of(Set.copyOf(tx.dsl().select(INSTANCES.ID).from(INSTANCES).fetch(INSTANCES.ID)))
                : Optional.<Set<UUID>>empty());
    }

    /**
     * The instances this node hosts: the ones its loops (the sweep, the archiver, the WAL
     * receivers) look after. Another node's servers run, and are looked after, on that node.
     */
    public List<Instance> hostedHere() {
        return dsl.selectFrom(INSTANCES).where(INSTANCES.NODE.eq(node.name())).fetch(InstanceRepository::toInstance);
    }

    /** Every running primary of a database, on whichever node: those whose WAL the receivers stream (from any node). */
    public List<Instance> runningPrimaries() {
        return dsl.selectFrom(INSTANCES).where(INSTANCES.DATABASE_ID.isNotNull()).and(INSTANCES.ROLE.eq(InstanceRole.PRIMARY.value()))
                .and(INSTANCES.STATE.eq(InstanceState.RUNNING.value())).fetch(InstanceRepository::toInstance);
    }

    /** The instances this node hosts that the catalog says are fenced. */
    public List<Instance> fencedHere() {
        return dsl.selectFrom(INSTANCES).where(INSTANCES.NODE.eq(node.name())).and(INSTANCES.STATE.eq(InstanceState.FENCED.value()))
                .fetch(InstanceRepository::toInstance);
    }

    public void delete(UUID id) {
        dsl.deleteFrom(INSTANCES).where(INSTANCES.ID.eq(id)).execute();
    }

    private static Instance toInstance(Record r) {
        return new Instance(r.get(INSTANCES.ID), r.get(INSTANCES.DATABASE_ID), InstanceRole.of(r.get(INSTANCES.ROLE)),
                InstanceState.of(r.get(INSTANCES.STATE)), r.get(INSTANCES.MAJOR_VERSION), r.get(INSTANCES.HOST), r.get(INSTANCES.PORT),
                r.get(INSTANCES.NODE));
    }

    private static String context(UUID id) {
        return "instance:" + id;
    }
}
