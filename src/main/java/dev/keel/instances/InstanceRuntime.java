package dev.keel.instances;

import dev.keel.postgres.HbaRule;

import java.io.IOException;
import java.io.InputStream;
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

    /** WAL files the server handed off through {@code archive_command} and nobody removed yet, oldest first. */
    List<SpooledWal> spooledWal(Instance instance);

    /** The bytes of a spooled WAL file; the caller closes the stream. */
    InputStream openSpooledWal(Instance instance, String name) throws IOException;

    /** Removes a spooled WAL file once it is safe elsewhere; nothing if it is gone already. */
    void removeSpooledWal(Instance instance, String name);

    /** Every directory and file of the instance's data directory, with sizes as of now, in path order. */
    List<DataFile> dataFiles(Instance instance);

    /** A data directory file's bytes (it may have grown or shrunk since it was listed, or vanished: NoSuchFileException). */
    InputStream openDataFile(Instance instance, String path) throws IOException;

    /** Whether the server process of the instance is alive. */
    boolean isRunning(Instance instance);

    /** The instances this runtime holds anything for, known to the catalog or not (for the orphan sweep). */
    Set<UUID> held();
}
