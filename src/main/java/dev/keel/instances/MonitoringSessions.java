package dev.keel.instances;

import io.micronaut.context.annotation.Value;
import jakarta.annotation.PreDestroy;
import jakarta.inject.Singleton;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.keel.postgres.ServerSession;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One kept connection per instance (to its {@code postgres} database, through
 * {@link InstanceConnections}) for the small read-only questions Keel asks over and over: the
 * metrics collector's statistics and {@code /archive}'s WAL position. Without it each scrape and
 * each {@code /archive} call paid a TLS handshake and a SCRAM login per database, and the server
 * a backend fork. A session is used by one caller at a time; one that fails is closed and the
 * next use opens a new one; one left unused for {@code keel.metrics.session-idle} is closed, so
 * that nothing is held open for an installation nobody watches.
 */
@Singleton
public final class MonitoringSessions {
    private static final Logger LOG = LoggerFactory.getLogger(MonitoringSessions.class);
    private static final int ANSWER_SECONDS = 10;

    /** Work done with a kept session; its SQL must be read-only and leave no session state behind. */
    @FunctionalInterface
    public interface Use<T> {
        T apply(ServerSession session) throws SQLException;
    }

    private static final class Kept {
        final ReentrantLock lock = new ReentrantLock();
        ServerSession session;
        Instant usedAt = Instant.now();
    }

    private final InstanceConnections connections;
    private final Duration idle;
    private final Map<UUID, Kept> kept = new ConcurrentHashMap<>();

    MonitoringSessions(InstanceConnections connections, @Value("${keel.metrics.session-idle:5m}") Duration idle) {
        this.connections = connections;
        this.idle = idle;
    }

    /**
     * Runs {@code use} on the kept session of {@code instance}, opening one when there is none.
     * A caller that finds the session busy for longer than a login takes waits; an
     * {@link SQLException} closes the session and is passed on.
     */
    public <T> T with(Instance instance, Use<T> use) throws SQLException {
        Kept entry = kept.computeIfAbsent(instance.id(), id -> new Kept());
        try {
            if (!entry.lock.tryLock(ANSWER_SECONDS, TimeUnit.SECONDS)) {
                throw new SQLException("the monitoring session of instance " + instance.id() + " is busy", "08000");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted", "08000", e);
        }
        try {
            if (entry.session == null) {
                entry.session = connections.probe(instance, ANSWER_SECONDS);
            }
            entry.usedAt = Instant.now();
            return use.apply(entry.session);
        } catch (SQLException | RuntimeException e) {
            close(entry);
            throw e;
        } finally {
            entry.lock.unlock();
        }
    }

    /** Closes the sessions of instances not in {@code live}, and those unused for longer than the idle limit. */
    public void sweep(Set<UUID> live) {
        Instant stale = Instant.now().minus(idle);
        kept.forEach((id, entry) -> {
            if ((!live.contains(id) || entry.usedAt.isBefore(stale)) && entry.lock.tryLock()) {
                try {
                    close(entry);
                    kept.remove(id, entry);
                } finally {
                    entry.lock.unlock();
                }
            }
        });
    }

    /** How many sessions are open now. */
    public int open() {
        return (int) kept.values().stream().filter(k -> k.session != null).count();
    }

    private static void close(Kept entry) {
        if (entry.session != null) {
            try {
                entry.session.close();
            } catch (SQLException e) {
                LOG.debug("Closing a monitoring session failed", e);
            }
            entry.session = null;
        }
    }

    @PreDestroy
    void closeAll() {
        kept.values().forEach(MonitoringSessions::close);
        kept.clear();
    }
}
