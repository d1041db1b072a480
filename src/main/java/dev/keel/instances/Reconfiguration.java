package dev.keel.instances;

import dev.keel.postgres.ServerSession;
import dev.keel.postgres.HbaRule;
import jakarta.inject.Singleton;

import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Gives a running instance new settings and pg_hba rules: written, checked (a pg_hba the server
 * refuses puts the old files back before it reads any of the new ones), then applied by a reload,
 * or by a restart when a setting that needs one (such as {@code max_connections}) differs from the
 * running value ({@link #reload}: never a restart; {@link #restart}: always). Returns once the
 * server runs with them, so that what pg_hba now allows or refuses holds for whoever connects next.
 * A server that does not start from the new files starts again from the old, put back
 * ({@link #startOrGoBack}): a setting can fail a start that a reload only logs (a library that
 * is not there, shared memory beyond the machine's, a value out of range).
 */
@Singleton
public final class Reconfiguration {
    private static final Duration RELOAD_PATIENCE = Duration.ofSeconds(10);
    private static final Set<String> RESTART_SETTINGS = Set.of("max_connections", "shared_buffers", "shared_preload_libraries");

    /**
     * What a server says when its settings or rules keep it from starting: a value or a file it
     * refuses, a library it cannot load, more shared memory than the host gives.
     */
    private static final Pattern BECAUSE_OF_FILES = Pattern.compile("invalid value for parameter|configuration file|pg_hba\\.conf"
            + "|could not access file|could not load library|could not create shared memory segment|could not map anonymous shared memory"
            + "|unrecognized configuration parameter|parameter \"[^\"]+\" cannot be changed");

    /** At most this much of one log entry, and of all of them, goes into the error of a start that failed ({@link #said}). */
    private static final int SAID_ENTRY = 500;
    private static final int SAID_ALL = 2_000;

    private final InstanceRuntime runtime;
    private final InstanceConnections connections;
    private final ServerLog log;

    Reconfiguration(InstanceRuntime runtime, InstanceConnections connections, ServerLog log) {
        this.runtime = runtime;
        this.connections = connections;
        this.log = log;
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
                runtime.acceptConfiguration(instance);
                awaitReload(instance, session, session.reloadConfiguration());
                return;
            }
        }
        restartFromNewFiles(instance);
    }

    /**
     * Gives a running instance new settings and pg_hba rules by a reload only, never a restart: a
     * setting that needs one waits for the next. Returns once the server runs with the rules; throws
     * when its pg_hba has an error (the server then keeps the settings and rules it had, and so do its files).
     */
    public void reload(Instance instance, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        try (ServerSession session = connections.open(instance, "postgres")) {
            write(instance, session, settings, hba);
            runtime.acceptConfiguration(instance);
            awaitReload(instance, session, session.reloadConfiguration());
        }
    }

    /**
     * Restarts a running instance with new settings and pg_hba rules, whether a setting needs it or
     * not ({@code wal_level}, {@code archive_mode}: {@link #apply} leaves them for the next
     * restart); throws, not restarting, when its pg_hba has an error (the server then keeps the
     * settings and rules it had, and so do its files), and when it does not start from the new
     * files ({@link #startOrGoBack}).
     */
    public void restart(Instance instance, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        try (ServerSession session = connections.open(instance, "postgres")) {
            write(instance, session, settings, hba);
        }
        restartFromNewFiles(instance);
    }

    /**
     * Writes the instance's files, the old kept until the caller accepts the new (after a reload,
     * or a start from them), once the server reads the new pg_hba without error; before the server
     * reads any of them (no reload, no restart yet). Otherwise throws, the old files back: a reload
     * would keep the old rules, but take the new settings, and a start from the refused pg_hba
     * would fail. A check that fails, or a write that fails half done (a full disk), puts the old
     * files back too.
     */
    private void write(Instance instance, ServerSession session, Map<String, String> settings, List<HbaRule> hba) throws SQLException {
        List<String> errors;
        try {
            runtime.configure(instance, settings, hba);
            errors = session.hbaErrors();
        } catch (SQLException | RuntimeException e) {
            // Not written whole, or not checked (the server went away, say): the old files back, as for a refusal.
            try {
                runtime.restoreConfiguration(instance);
            } catch (RuntimeException restoring) {
                e.addSuppressed(restoring);
            }
            throw e;
        }
        if (!errors.isEmpty()) {
            runtime.restoreConfiguration(instance);
            throw new IllegalStateException("instance " + instance.id() + " refused its new pg_hba and keeps the settings and rules it had: "
                    + String.join("; ", errors));
        }
    }

    private void restartFromNewFiles(Instance instance) {
        runtime.stop(instance);
        startOrGoBack(instance);
    }

    /**
     * Starts a stopped server from its files. When it does not start and a configure kept the files
     * it last accepted (a change Keel restarts it for now, or one Keel stopped during, whose files
     * nobody accepted or put back), puts those back and starts it from them, then throws saying what
     * the server said of the new ones: the server runs, with the settings and rules it had. Throws
     * too, saying so, when it does not start from those either, or there were none. A server pg_ctl
     * gave up waiting for that still runs read its files: it is left to start. Once it starts from
     * the files in place, they are the ones to go back to. Goes back only when the server's words
     * blame its files ({@link #BECAUSE_OF_FILES}): a start that failed for another reason (a port
     * taken, a full disk) leaves them.
     */
    public void startOrGoBack(Instance instance) {
        long logged = logSize(instance);
        try {
            runtime.start(instance);
        } catch (RuntimeException refused) {
            if (runtime.isRunning(instance)) {
                // pg_ctl gave up waiting on a server still starting (a long crash recovery): it read its files, which are the
                // ones to go back to from now on (kept copies left behind would be put back over a later change).
                runtime.acceptConfiguration(instance);
                throw refused;
            }
            List<ServerLog.Entry> failure = startFailure(instance, logged);
            String said = said(failure);
            if (failure.stream().noneMatch(entry -> BECAUSE_OF_FILES.matcher(entry.message()).find())) {
                // A port taken, a shared memory block a killed postmaster's children still hold, a full disk: not the files',
                // which stay (with the copies kept), for the next start to take or refuse.
                throw new IllegalStateException("instance " + instance.id() + " did not start, for a reason that is not its new settings"
                        + " or rules, which stay: " + said, refused);
            }
            long loggedAgain = logSize(instance);
            if (!runtime.restoreConfiguration(instance)) {
                throw new IllegalStateException("instance " + instance.id() + " did not start: " + said, refused);
            }
            try {
                runtime.start(instance);
            } catch (RuntimeException again) {
                again.addSuppressed(refused);
                throw new IllegalStateException("instance " + instance.id() + " did not start from its new settings and rules (" + said
                        + "), nor from the ones it had, put back, and is down: " + said(startFailure(instance, loggedAgain)), again);
            }
            throw new IllegalStateException("instance " + instance.id() + " did not start from its new settings and rules and runs again"
                    + " with the ones it had: " + said, refused);
        }
        runtime.acceptConfiguration(instance);
    }

    private long logSize(Instance instance) {
        return runtime.readLog(instance, 0, 0).size();
    }

    /**
     * What the server said, in its log after {@code logged}, of why it did not start: the entries of
     * the postmaster that wrote its first FATAL or PANIC there, up to that one, which follows the
     * lines that name the setting (Postgres logs an invalid value, then that the configuration file
     * has errors); the server's last three entries when it wrote neither.
     */
    private List<ServerLog.Entry> startFailure(Instance instance, long logged) {
        List<ServerLog.Entry> said = new ArrayList<>();
        for (ServerLog.Entry entry : log.after(log.local(instance), logged, new ServerLog.Filter(null, null)).entries()) {
            if (entry.user() != null) {
                continue; // a session's
            }
            said.add(entry);
            if (entry.level().equals(ServerLog.Level.FATAL.name()) || entry.level().equals(ServerLog.Level.PANIC.name())) {
                return said.stream().filter(e -> Objects.equals(e.pid(), entry.pid())).toList();
            }
        }
        return said.subList(Math.max(0, said.size() - 3), said.size());
    }

    /**
     * The entries as one line for an operation's error, each message cut at {@link #SAID_ENTRY} characters, and the earliest
     * left out while all of them pass {@link #SAID_ALL}, the last (the FATAL, which says why) always kept: a postmaster's own
     * lines before its FATAL can be many (a long list of settings it warns about), and the server's log, in full, stays where
     * it is.
     */
    static String said(List<ServerLog.Entry> entries) {
        if (entries.isEmpty()) {
            return "its log says nothing of why";
        }
        List<String> lines = entries.stream().map(e -> e.level() + ":  " + cut(e.message().replace('\n', ' '))).toList();
        int first = 0;
        int length = lines.stream().mapToInt(line -> line.length() + 2).sum();
        while (length > SAID_ALL && first < lines.size() - 1) {
            length -= lines.get(first).length() + 2;
            first++;
        }
        String kept = String.join("; ", lines.subList(first, lines.size()));
        return first == 0 ? kept : "[" + first + " earlier lines left out; the server's log has them] " + kept;
    }

    private static String cut(String text) {
        return text.length() <= SAID_ENTRY ? text : text.substring(0, SAID_ENTRY) + " [cut; the server's log has the rest]";
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
