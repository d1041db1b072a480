package dev.keel.instances;

import dev.keel.postgres.ServerSession;
import dev.keel.postgres.HbaRule;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Gives a running instance new settings and pg_hba rules: written, then applied by a reload, or
 * by a restart when a setting that needs one (such as {@code max_connections}) differs from the
 * running value ({@link #reload}: never a restart; {@link #restart}: always). Returns once the
 * server runs with them, so that what pg_hba now allows or refuses holds for whoever connects next.
 */
@Singleton
public final class Reconfiguration {
    private static final Duration RELOAD_PATIENCE = Duration.ofSeconds(10);
    private static final Set<String> RESTART_SETTINGS = Set.of("max_connections", "shared_buffers", "shared_preload_libraries");

    private final InstanceRuntime runtime;
    private final InstanceConnections connections;

    Reconfiguration(InstanceRuntime runtime, InstanceConnections connections) {
        this.runtime = runtime;
        this.connections = connections;
    }

    public void apply(Instance instance, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        runtime.configure(instance, settings, hba);
        try (ServerSession session = connections.open(instance, "postgres")) {
            boolean restart = false;
            for (Map.Entry<String, String> setting : settings.entrySet()) {
                if (RESTART_SETTINGS.contains(setting.getKey()) && !setting.getValue().equals(session.setting(setting.getKey()))) {
                    restart = true;
                }
            }
            if (!restart) {
                awaitReload(instance, session, session.reloadConfiguration());
                return;
            }
            refuseHbaErrors(instance, session); // a server does not start from a pg_hba it refuses
        }
        runtime.stop(instance);
        runtime.start(instance);
    }

    /**
     * Gives a running instance new settings and pg_hba rules by a reload only, never a restart: a
     * setting that needs one waits for the next. Returns once the server runs with the rules; throws
     * when its pg_hba has an error (the server then keeps the rules it had, and so does its pg_hba file).
     */
    public void reload(Instance instance, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        runtime.configure(instance, settings, hba);
        try (ServerSession session = connections.open(instance, "postgres")) {
            awaitReload(instance, session, session.reloadConfiguration());
        }
    }

    /**
     * Restarts a running instance with new settings and pg_hba rules, whether a setting needs it or
     * not ({@code wal_level}, {@code archive_mode}: {@link #apply} leaves them for the next
     * restart); throws, not restarting, when its pg_hba has an error (the server then keeps the
     * rules it had, and so does its pg_hba file).
     */
    public void restart(Instance instance, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        runtime.configure(instance, settings, hba);
        try (ServerSession session = connections.open(instance, "postgres")) {
            refuseHbaErrors(instance, session);
        }
        runtime.stop(instance);
        runtime.start(instance);
    }

    /**
     * Throws when the server refuses the instance's pg_hba file as it reads it now, once the file
     * has its old rules back: a reload keeps the rules it had, but a start from the refused file
     * would fail.
     */
    private void refuseHbaErrors(Instance instance, ServerSession session) throws SQLException {
        List<String> errors = session.hbaErrors();
        if (!errors.isEmpty()) {
            runtime.restoreHba(instance);
            throw new IllegalStateException("instance " + instance.id() + " refused its new pg_hba and keeps the rules it had: "
                    + String.join("; ", errors));
        }
    }

    /**
     * Waits until the reload has reached this session's backend. The postmaster rereads the files
     * (pg_hba among them) before it passes the signal on to its backends, so a backend that has
     * reloaded proves that every new connection gets the new rules; asking on the same session
     * spares a TLS handshake and a SCRAM exchange per look.
     */
    private void awaitReload(Instance instance, ServerSession session, OffsetDateTime since) throws SQLException {
        Instant deadline = Instant.now().plus(RELOAD_PATIENCE);
        refuseHbaErrors(instance, session);
        while (!session.configurationLoadedSince(since)) {
            if (Instant.now().isAfter(deadline)) {
                throw new IllegalStateException("instance " + instance.id() + " did not reload its configuration within " + RELOAD_PATIENCE);
            }
            try {
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }
}
