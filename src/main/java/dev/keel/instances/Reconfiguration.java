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
 * Gives a running instance new settings and pg_hba rules: written, checked (a pg_hba the server
 * refuses puts the old files back before it reads any of the new ones), then applied by a reload,
 * or by a restart when a setting that needs one (such as {@code max_connections}) differs from the
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
        try (ServerSession session = connections.open(instance, "postgres")) {
            write(instance, session, settings, hba);
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
        }
        runtime.stop(instance);
        runtime.start(instance);
    }

    /**
     * Gives a running instance new settings and pg_hba rules by a reload only, never a restart: a
     * setting that needs one waits for the next. Returns once the server runs with the rules; throws
     * when its pg_hba has an error (the server then keeps the settings and rules it had, and so do its files).
     */
    public void reload(Instance instance, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        try (ServerSession session = connections.open(instance, "postgres")) {
            write(instance, session, settings, hba);
            awaitReload(instance, session, session.reloadConfiguration());
        }
    }

    /**
     * Restarts a running instance with new settings and pg_hba rules, whether a setting needs it or
     * not ({@code wal_level}, {@code archive_mode}: {@link #apply} leaves them for the next
     * restart); throws, not restarting, when its pg_hba has an error (the server then keeps the
     * settings and rules it had, and so do its files).
     */
    public void restart(Instance instance, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        try (ServerSession session = connections.open(instance, "postgres")) {
            write(instance, session, settings, hba);
        }
        runtime.stop(instance);
        runtime.start(instance);
    }

    /**
     * Writes the instance's files, and keeps them only once the server reads the new pg_hba
     * without error; before the server reads any of them (no reload, no restart yet). Otherwise
     * throws, the old files back: a reload would keep the old rules, but take the new settings,
     * and a start from the refused pg_hba would fail.
     */
    private void write(Instance instance, ServerSession session, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        runtime.configure(instance, settings, hba);
        List<String> errors = session.hbaErrors();
        if (!errors.isEmpty()) {
            runtime.restoreConfiguration(instance);
            throw new IllegalStateException("instance " + instance.id() + " refused its new pg_hba and keeps the settings and rules it had: "
                    + String.join("; ", errors));
        }
        runtime.acceptConfiguration(instance);
    }

    /**
     * Waits until the reload has reached this session's backend. The postmaster rereads the files
     * (pg_hba among them) before it passes the signal on to its backends, so a backend that has
     * reloaded proves that every new connection gets the new rules; asking on the same session
     * spares a TLS handshake and a SCRAM exchange per look.
     */
    private void awaitReload(Instance instance, ServerSession session, OffsetDateTime since) throws SQLException {
        Instant deadline = Instant.now().plus(RELOAD_PATIENCE);
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
