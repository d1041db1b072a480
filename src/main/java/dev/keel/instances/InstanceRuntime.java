package dev.keel.instances;

import dev.keel.postgres.HbaRule;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Where instances run: local processes now, containers or Kubernetes pods later. Nothing outside
 * this package may assume an instance's data directory is on Keel's own disk; callers reach
 * instances only through {@code host:port} and these calls.
 */
public interface InstanceRuntime {
    /**
     * Creates the instance's storage: initdb, configuration, TLS files. Replaces whatever an
     * earlier, interrupted attempt left for the same instance. Does not start it.
     */
    void create(InstanceSpec spec);

    /**
     * Replaces the instance's server settings and pg_hba rules. Takes effect on the next reload
     * ({@code pg_reload_conf()}) or, for settings such as {@code max_connections}, restart.
     */
    void configure(Instance instance, Map<String, String> settings, List<HbaRule> hba);

    /** Starts the server; returns once it accepts connections. The server outlives Keel. */
    void start(Instance instance);

    /** Stops the server (fast shutdown); nothing if it is not running. */
    void stop(Instance instance);

    /** Stops the server if it runs and removes everything the instance had; nothing if there is nothing. */
    void destroy(UUID instanceId);

    /**
     * Stops the server of an instance the catalog does not know and moves everything it had out
     * of the runtime's view, for an operator to inspect or remove; returns where it went.
     */
    String setAside(UUID instanceId);

    /** Whether the server process of the instance is alive. */
    boolean isRunning(Instance instance);

    /** The instances this runtime holds anything for, known to the catalog or not (for the orphan sweep). */
    Set<UUID> held();
}
