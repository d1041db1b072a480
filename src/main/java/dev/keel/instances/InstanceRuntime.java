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
     * Creates the instance's storage from files instead of initdb: {@code fill} writes the data
     * directory; then configuration and TLS as for {@link #create}, a restore exchange that
     * {@code restore_command} asks through ({@link #wantedWal}), and {@code signal}, so that the
     * server recovers when it starts. Replaces whatever an earlier attempt left. Does not start it.
     */
    void restore(InstanceSpec spec, RecoverySignal signal, Fill fill) throws IOException;

    /** Writes a data directory into a {@link DataDirectorySink}. */
    @FunctionalInterface
    interface Fill {
        void into(DataDirectorySink sink) throws IOException;
    }

    /** What a restored server does at start: recover from the archive and promote, or keep following as a standby. */
    enum RecoverySignal {
        RECOVERY("recovery.signal"), STANDBY("standby.signal");

        private final String file;

        RecoverySignal(String file) {
            this.file = file;
        }

        /** The file's name in a data directory. */
        public String file() {
            return file;
        }
    }

    /** The WAL files (segments, {@code .history}) the recovering server asked for and has no answer to yet. */
    List<String> wantedWal(Instance instance);

    /** Hands the server a WAL file, complete and checked (it may not have asked yet). */
    void offerWal(Instance instance, String name, byte[] bytes) throws IOException;

    /** Tells the server the archive has no {@code name}. */
    void refuseWal(Instance instance, String name) throws IOException;

    /** Makes the server's recovery stop with FATAL at its next request, saying {@code reason}; it must not promote. */
    void abortRecovery(Instance instance, String reason) throws IOException;

    /** Removes the restore exchange once recovery is over; {@link #configure} then no longer sets {@code restore_command}. */
    void endRecovery(Instance instance);

    /**
     * Starts the server without waiting for connections (a recovering server takes them only once
     * consistent), with {@code options} as settings of this start only (recovery targets).
     */
    void startRecovering(Instance instance, Map<String, String> options);

    /** The server log's last {@code lines} lines (empty if there is none). */
    List<String> logTail(Instance instance, int lines);

    /**
     * At most {@code length} bytes of the server log from byte {@code offset} on, and the log's
     * size now (0 and nothing when there is no log). {@link ServerLog} reads it this way, from
     * the end backwards or from where a follower stopped, never the whole file.
     */
    LogBytes readLog(Instance instance, long offset, int length);

    /** Bytes of a server log from some offset, and the log's whole size when they were read. */
    record LogBytes(byte[] bytes, long size) {
    }

    /**
     * Replaces the instance's server settings and pg_hba rules. Takes effect on the next reload
     * ({@code pg_reload_conf()}) or, for settings such as {@code max_connections}, restart. Keeps
     * the files the server last accepted until {@link #acceptConfiguration} or
     * {@link #restoreConfiguration}; a second configure before either keeps those, not the ones
     * the first wrote, which the server never accepted.
     */
    void configure(Instance instance, Map<String, String> settings, List<HbaRule> hba);

    /**
     * Puts back the settings and pg_hba rules the server last accepted: called when it refuses the
     * new pg_hba, before it reads any of the new files (it would not start again from them), or
     * when it does not start from the new files. Returns whether {@link #configure} had kept any
     * (false: the files in place are the last the server accepted, or the only ones it has).
     */
    boolean restoreConfiguration(Instance instance);

    /**
     * For a running server beside files a change Keel stopped during left kept: drops them when the
     * server started from the files in place, else puts them back. Returns whether there were any.
     */
    boolean settleConfiguration(Instance instance);

    /** Drops what {@link #configure} kept: the server accepts the new files, which are now the ones to go back to. */
    void acceptConfiguration(Instance instance);

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

    /**
     * Fences the instance: kills its server and every process of it at once, hung or not, and
     * leaves it unable to start as a primary again (its data directory says standby). Nothing if
     * there is nothing.
     */
    void fence(Instance instance);

    /**
     * Restarts a new server (one that has served nobody) on a timeline above {@code after}: it
     * recovers its own WAL and promotes onto the next timeline, then starts as usual. Its WAL
     * files then never bear a name an earlier server of the same database archived. Returns once
     * it accepts connections on the new timeline.
     */
    void startOnTimelineAfter(Instance instance, int after);

    /** Whether the instance's storage is there and sound enough to start its server on it again. */
    boolean intact(Instance instance);

    /** Whether the server process of the instance is alive. */
    boolean isRunning(Instance instance);

    /** Where the instance's server keeps its files on this machine, for the fence guard, which fences it when Keel cannot. */
    ServerFence.Target fenceTarget(Instance instance);

    /** The instances this runtime holds anything for, known to the catalog or not (for the orphan sweep). */
    Set<UUID> held();

    /** Removes what the runtime still keeps for instances it holds nothing else of (their OS accounts); for the orphan sweep. */
    void sweepLeftovers();
}
