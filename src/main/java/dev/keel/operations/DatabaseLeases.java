package dev.keel.operations;

import dev.keel.DaemonThreads;
import dev.keel.jobs.Loops;
import dev.keel.nodes.ThisNode;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.impl.DSL;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static dev.keel.catalog.schema.Tables.DATABASE_LEASES;

/**
 * One actor per database. Every change to a database's instances (an operation, the HA monitor's
 * restart in place, failover or promotion) is made while holding the database's lease, a catalog
 * row naming this node and the actor, so that two actors, on one node or on several, never act
 * on one database at once. A lease is renewed every third of {@code keel.operations.lease-ttl}
 * while held; a holder that dies without releasing it (its node killed) gives it up when it
 * expires. The catalog decides who holds it, in one statement, so the race has one winner.
 */
@Singleton
public final class DatabaseLeases {
    private static final Logger LOG = LoggerFactory.getLogger(DatabaseLeases.class);

    private static final Duration REQUEST_PATIENCE = Duration.ofSeconds(10);

    private final DSLContext dsl;
    private final String node;
    private final Duration ttl;
    private final Set<Lease> held = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService renewer;

    DatabaseLeases(DSLContext dsl, ThisNode node, @Value("${keel.operations.lease-ttl:30s}") Duration ttl) {
        this.dsl = dsl;
        this.node = node.name();
        this.ttl = ttl;
        this.renewer = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("keel-lease-renewer"));
        long every = Math.max(1, ttl.toMillis() / 3);
        renewer.scheduleAtFixedRate(() -> Loops.round("Renewing database leases", this::renew), every, every, TimeUnit.MILLISECONDS);
    }

    /** A database's lease as held by one actor; release it when the work is done. */
    public final class Lease implements AutoCloseable {
        private final UUID databaseId;
        private final String holder;

        private Lease(UUID databaseId, String holder) {
            this.databaseId = databaseId;
            this.holder = holder;
        }

        public UUID databaseId() {
            return databaseId;
        }

        /** "node/actor", as {@link #holder(UUID)} names it. */
        public String holder() {
            return holder;
        }

        /** Gives the lease up (only if this actor still holds it). */
        @Override
        public void close() {
            held.remove(this);
            dsl.deleteFrom(DATABASE_LEASES).where(DATABASE_LEASES.DATABASE_ID.eq(databaseId))
                    .and(DATABASE_LEASES.HOLDER.eq(holder)).execute();
        }

        @Override
        public String toString() {
            return holder + " on database " + databaseId;
        }
    }

    /**
     * Takes {@code databaseId}'s lease for {@code actor} ("operation 1234...", "the HA monitor") if
     * nobody holds it, its holder let it expire, or this very actor holds it already.
     */
    public Optional<Lease> tryAcquire(UUID databaseId, String actor) {
        String holder = node + "/" + actor;
        int taken = dsl.insertInto(DATABASE_LEASES)
                .set(DATABASE_LEASES.DATABASE_ID, databaseId)
                .set(DATABASE_LEASES.HOLDER, holder)
                .set(DATABASE_LEASES.EXPIRES_AT, expiry())
                .onConflict(DATABASE_LEASES.DATABASE_ID)
                .doUpdate()
                .set(DATABASE_LEASES.HOLDER, holder)
                .set(DATABASE_LEASES.ACQUIRED_AT, DSL.currentOffsetDateTime())
                .set(DATABASE_LEASES.EXPIRES_AT, expiry())
                .where(DATABASE_LEASES.EXPIRES_AT.lt(DSL.currentOffsetDateTime()).or(DATABASE_LEASES.HOLDER.eq(holder)))
                .execute();
        if (taken == 0) {
            return Optional.empty();
        }
        Lease lease = new Lease(databaseId, holder);
        held.add(lease);
        return Optional.of(lease);
    }

    /**
     * {@link #tryAcquire}, waiting up to {@code patience} for another holder to finish (the HA
     * monitor holds a lease for a moment; a plan change for minutes): for a change a client asked
     * for and waits on. Empty when the lease is still held by another at the end.
     */
    public Optional<Lease> acquire(UUID databaseId, String actor, Duration patience) throws InterruptedException {
        return acquire(databaseId, actor, patience, () -> true);
    }

    /** {@link #acquire(UUID, String, Duration)}, giving up (empty) as soon as {@code wanted} says the lease is no longer wanted. */
    public Optional<Lease> acquire(UUID databaseId, String actor, Duration patience, BooleanSupplier wanted) throws InterruptedException {
        long deadline = System.nanoTime() + patience.toNanos();
        while (true) {
            Optional<Lease> lease = tryAcquire(databaseId, actor);
            if (lease.isPresent() || System.nanoTime() >= deadline || !wanted.getAsBoolean()) {
                return lease;
            }
            Thread.sleep(200);
        }
    }

    /**
     * The lease for one change a client asked for and waits on, as an actor of its own (two such
     * changes at once neither share nor release one lease), waited for up to ten seconds (the HA
     * monitor holds a lease for a moment); a 409 naming the holder when another keeps it longer. Take it before changing anything, so
     * that the refusal can say that nothing was changed.
     */
    public Lease acquireForRequest(UUID databaseId, String databaseName, String change) {
        try {
            return acquire(databaseId, change + " " + UUID.randomUUID(), REQUEST_PATIENCE).orElseThrow(() -> new KeelException(
                    ProblemType.NOT_AVAILABLE, databaseName + " is busy: " + holder(databaseId).orElse("another actor")
                    + " is changing its servers. Try again once it is done; nothing was changed."));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the lease of " + databaseName, e);
        }
    }

    /** Who holds {@code databaseId}'s lease now ("node/actor"), if anyone does and it has not expired. */
    public Optional<String> holder(UUID databaseId) {
        return dsl.select(DATABASE_LEASES.HOLDER).from(DATABASE_LEASES).where(DATABASE_LEASES.DATABASE_ID.eq(databaseId))
                .and(DATABASE_LEASES.EXPIRES_AT.ge(DSL.currentOffsetDateTime())).fetchOptional(DATABASE_LEASES.HOLDER);
    }

    /**
     * Gives up every lease this node held before it stopped: on a start nothing of this node acts
     * yet, so whatever its last run held is over (the reconciler resumes that work under new leases).
     */
    public int releaseThisNodes() {
        return dsl.deleteFrom(DATABASE_LEASES).where(DATABASE_LEASES.HOLDER.startsWith(node + "/")).execute();
    }

    /** Extends every lease held here; one found taken by another holder meanwhile is logged, not extended. */
    void renew() {
        for (Lease lease : held) {
            int renewed = dsl.update(DATABASE_LEASES).set(DATABASE_LEASES.EXPIRES_AT, expiry())
                    .where(DATABASE_LEASES.DATABASE_ID.eq(lease.databaseId)).and(DATABASE_LEASES.HOLDER.eq(lease.holder)).execute();
            if (renewed == 0 && held.contains(lease)) {
                LOG.error("Lost the lease of {}: another actor took it after it expired (was the catalog out of reach longer than {}?)",
                        lease, ttl);
                held.remove(lease);
            }
        }
    }

    private Field<OffsetDateTime> expiry() {
        return DSL.field("now() + make_interval(secs => {0})", OffsetDateTime.class, DSL.val(ttl.toMillis() / 1000.0));
    }

    @PreDestroy
    void stop() {
        renewer.shutdownNow();
    }
}
